#!/usr/bin/env python3
"""Firmware numbers for mps2-an385: image sizes (text/data/bss) of every
*.elf in the firmware build directory, boot-to-banner time of hello_fw
under QEMU (process start until the banner line arrives on the console),
and for net_fw (built-in stack on the LAN9118): boot-to-ready time (until
DHCP finished) and HTTP requests/s with wrk through a user-networking port
forward on 127.0.0.1.

    python bench/firmware_qemu.py --firmware build/fw [--runs 10]

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import free_port

BOARD = "mps2-an385"
BANNER = re.compile(rb"cymongoose \S+ on \S+\r?\n")
TIMEOUT_S = 15.0


def sizes(elf: Path) -> tuple[int, int, int]:
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return text, data, bss


def boot_to_banner_ms(qemu: str, elf: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen([qemu, "-M", BOARD, "-display", "none", "-monitor", "none",
                             "-serial", "stdio", "-kernel", str(elf)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while not BANNER.search(buf):
            left = t0 + TIMEOUT_S - time.perf_counter()
            if left <= 0 or not sel.select(left):
                raise RuntimeError(f"no banner within {TIMEOUT_S}s: {buf!r}")
            chunk = proc.stdout.read1(4096)
            if not chunk:
                raise RuntimeError(f"QEMU exited before the banner: {buf!r}")
            buf += chunk
        return (time.perf_counter() - t0) * 1000.0
    finally:
        sel.close()
        proc.kill()
        proc.wait(5)


def idle_cpu_percent(qemu: str, elf: Path, seconds: float = 3.0) -> float:
    """QEMU's host CPU use while the firmware idles (ticks + WFI)."""
    proc = subprocess.Popen([qemu, "-M", BOARD, "-display", "none", "-monitor", "none",
                             "-serial", "null", "-kernel", str(elf)])
    try:
        time.sleep(1.0)  # past boot
        stat = Path(f"/proc/{proc.pid}/stat")
        tck = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tck  # utime + stime

        c0, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        return 100.0 * (cpu() - c0) / (time.monotonic() - t0)
    finally:
        proc.kill()
        proc.wait(5)


def net_numbers(qemu: str, elf: Path, wrk_seconds: int = 5) -> tuple[float, str]:
    """(boot-to-ready ms, wrk summary) for net_fw."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([qemu, "-M", BOARD, "-display", "none", "-monitor", "none",
                             "-serial", "stdio", "-kernel", str(elf), "-nic",
                             f"user,model=lan9118,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:80"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while b"net: ready" not in buf:
            left = t0 + TIMEOUT_S - time.perf_counter()
            if left <= 0 or not sel.select(left):
                raise RuntimeError(f"net_fw not ready within {TIMEOUT_S}s: {buf!r}")
            chunk = proc.stdout.read1(4096)
            if not chunk:
                raise RuntimeError(f"QEMU exited: {buf!r}")
            buf += chunk
        ready_ms = (time.perf_counter() - t0) * 1000.0
        if shutil.which("wrk") is None:
            return ready_ms, "wrk not installed"
        out = subprocess.run(["wrk", "-t1", "-c4", f"-d{wrk_seconds}s",
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                             check=True, timeout=wrk_seconds + 30).stdout
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        lat = re.search(r"Latency\s+(\S+)", out)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
        summary = (f"{float(rps.group(1)):.0f} req/s" if rps else "no result") + (
            f", mean latency {lat.group(1)}" if lat else "") + (
            f" ({errors.group(0)})" if errors else ", no errors")
        return ready_ms, summary
    finally:
        sel.close()
        proc.kill()
        proc.wait(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firmware", type=Path, default=Path("build/fw"))
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        print("qemu-system-arm not found", file=sys.stderr)
        return 1
    elfs = sorted(args.firmware.glob("*.elf"))
    if not elfs:
        print(f"no *.elf in {args.firmware}: run `make fw`", file=sys.stderr)
        return 1
    print(f"## Firmware ({BOARD})\n")
    print("Cortex-M3, arm-none-eabi-gcc -Os, newlib-nano, --gc-sections. flash = text + data, "
          "RAM = data + bss (heap and the 16 KiB stack come on top).\n")
    print("| image | text | data | bss | flash | RAM |")
    print("|---|---:|---:|---:|---:|---:|")
    for elf in elfs:
        t, d, b = sizes(elf)
        print(f"| {elf.stem} | {t} | {d} | {b} | {t + d} | {d + b} |")
    hello = args.firmware / "hello_fw.elf"
    runs = [boot_to_banner_ms(qemu, hello) for _ in range(args.runs)]
    qv = subprocess.run([qemu, "--version"], check=True, capture_output=True,
                        text=True).stdout.split("\n")[0]
    print(f"\nBoot to banner (hello_fw, QEMU process start until the banner line on the "
          f"console), {args.runs} runs: median {statistics.median(runs):.0f} ms, "
          f"min {min(runs):.0f} ms, max {max(runs):.0f} ms "
          f"({qv}; {platform.machine()}, shared noisy host).")
    print(f"\nHost CPU of QEMU while hello_fw idles (1 kHz SysTick, 10 Hz timer, WFI between): "
          f"{idle_cpu_percent(qemu, hello):.1f}% of one core.")
    net = args.firmware / "net_fw.elf"
    if net.is_file():
        ready_ms, http = net_numbers(qemu, net)
        print(f"\nnet_fw (built-in stack + LAN9118, QEMU user networking): boot to DHCP-ready "
              f"{ready_ms:.0f} ms; HTTP GET / with `wrk -t1 -c4 -d5s` through the "
              f"127.0.0.1 port forward: {http}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
