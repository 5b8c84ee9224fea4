#!/usr/bin/env python3
"""Boots hello_fw.elf in QEMU (mps2-an385), shows its banner and a few timer
ticks, then stops it through the console's `exit 0` command (semihosting).

Used by `make demo`:  python examples/demo_firmware.py --firmware build/fw
Exits 0 on success, non-zero with a message on failure.
"""

from __future__ import annotations

import argparse
import re
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path

BOARD = "mps2-an385"
TICKS_TO_SHOW = 5
BOOT_TIMEOUT_S = 15.0
EXIT_TIMEOUT_S = 10.0


def fail(msg: str) -> int:
    print(f"demo_firmware: {msg}", file=sys.stderr)
    return 1


def read_until(proc: subprocess.Popen[bytes], pattern: re.Pattern[bytes], buf: bytearray,
               start: int, deadline: float) -> re.Match[bytes] | None:
    """Reads QEMU's console into buf until pattern matches after start."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while True:
            m = pattern.search(buf, start)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if sel.select(left):
                chunk = proc.stdout.read1(4096)
                if not chunk:
                    return pattern.search(buf, start)
                buf += chunk
    finally:
        sel.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firmware", default="build/fw", type=Path,
                    help="directory with hello_fw.elf (default: build/fw)")
    ap.add_argument("--ticks", type=int, default=TICKS_TO_SHOW,
                    help=f"timer ticks to show (default {TICKS_TO_SHOW})")
    args = ap.parse_args()

    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        return fail("qemu-system-arm not found (Debian package qemu-system-arm; `make setup`)")
    elf = args.firmware / "hello_fw.elf"
    if not elf.is_file():
        return fail(f"{elf} not found: build it with `make fw`")

    cmd = [qemu, "-M", BOARD, "-display", "none", "-monitor", "none", "-serial", "stdio",
           "-semihosting", "-kernel", str(elf)]
    print(f"== booting {elf} on QEMU {BOARD}")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    buf = bytearray()
    try:
        banner = read_until(proc, re.compile(rb"cymongoose \S+ on \S+\r?\n"), buf, 0,
                            t0 + BOOT_TIMEOUT_S)
        if banner is None:
            return fail(f"no banner within {BOOT_TIMEOUT_S:.0f}s; console: {bytes(buf)!r}")
        print(f"   {banner.group(0).decode().strip()}   "
              f"(banner {1000 * (time.monotonic() - t0):.0f} ms after QEMU start)")
        tick = re.compile(rb"tick (\d+) t=(\d+)\r?\n")
        pos, last = banner.end(), -1
        for _ in range(args.ticks):
            m = read_until(proc, tick, buf, pos, time.monotonic() + BOOT_TIMEOUT_S)
            if m is None:
                return fail(f"ticks stopped; console: {bytes(buf[-500:])!r}")
            pos = m.end()
            n = int(m.group(1))
            if n <= last:
                return fail(f"tick numbers do not advance ({last} then {n})")
            last = n
            print(f"   {m.group(0).decode().strip()}")
        assert proc.stdin is not None
        proc.stdin.write(b"exit 0\r")
        proc.stdin.flush()
        rc = proc.wait(EXIT_TIMEOUT_S)
        if rc != 0:
            return fail(f"firmware exited with status {rc}")
        print("== firmware exited cleanly (semihosting status 0)")
        return 0
    except subprocess.TimeoutExpired:
        return fail("firmware did not exit after `exit 0`")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


if __name__ == "__main__":
    sys.exit(main())
