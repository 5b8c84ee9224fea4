#!/usr/bin/env python3
"""Sizes and boot-to-ready time of the reference firmware on one emulated board.

* flash/RAM of `device_app` and `device_app_http` from `build/fw-<board>`
  (flash = text + data, RAM = data + bss; heap and stack come on top), against
  the Cortex-M3 targets of issue 8;
* boot to ready under QEMU with user networking: from the QEMU process start
  until the device has its DHCP lease and listens on HTTP, for each image
  (the full image also until its console `ready` frame).

    python bench/board_bench.py --board lm3s6965evb [--firmware build/fw-lm3s6965evb] [--runs 5]

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from cymongoose.device import QemuTarget

KIB = 1024
TARGETS = {"device_app_http": (48 * KIB, 24 * KIB), "device_app": (112 * KIB, 48 * KIB)}
TIMEOUT_S = 15.0


def sizes(elf: Path) -> tuple[int, int, int]:
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return text, data, bss


def boot_to_ready_ms(elf: Path, board: str, rpc: bool) -> float:
    t0 = time.perf_counter()
    with QemuTarget(elf, board, nic="user", hostfwd=[80]) as t:
        t.console.expect_line(r"^net: ready ip=", timeout=TIMEOUT_S)
        t.console.expect_line(r"^http: listening on ", timeout=TIMEOUT_S)
        if rpc:
            t.console.expect_line(r"^\x1e\{\"jsonrpc\":\"2.0\",\"method\":\"ready\"",
                                  timeout=TIMEOUT_S)
        return (time.perf_counter() - t0) * 1000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True)
    ap.add_argument("--firmware", type=Path, help="image folder (default build/fw-<board>)")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    fw = a.firmware or REPO / "build" / f"fw-{a.board}"
    qemu = subprocess.run(["qemu-system-arm", "--version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]

    print(f"## Reference firmware on {a.board}\n")
    print("| image | text | data | bss | flash | RAM | target flash / RAM | met | "
          "boot to ready (median, min-max) |")
    print("|---|---:|---:|---:|---:|---:|---|---|---|")
    for name, (tf, tr) in TARGETS.items():
        elf = fw / f"{name}.elf"
        text, data, bss = sizes(elf)
        flash, ram = text + data, data + bss
        ok = "yes" if flash <= tf and ram <= tr else "**no**"
        runs = [boot_to_ready_ms(elf, a.board, rpc=name == "device_app") for _ in range(a.runs)]
        print(f"| {name} | {text} | {data} | {bss} | {flash} | {ram} | {tf // KIB} / "
              f"{tr // KIB} KiB | {ok} | {statistics.median(runs):.0f} ms "
              f"({min(runs):.0f}-{max(runs):.0f}) |")
    print(f"\nBoot to ready: QEMU process start until DHCP is done and HTTP listens (the full "
          f"image: and its console `ready` frame arrived), {a.runs} runs each.\n")
    print(f"Reproduce: build `build/fw-{a.board}` (boards/README.md), then "
          f"`.venv/bin/python bench/board_bench.py --board {a.board}`. {qemu}; "
          f"{platform.machine()}, shared host (load average {os.getloadavg()[0]:.1f} at the end), "
          f"{time.strftime('%Y-%m-%d')}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
