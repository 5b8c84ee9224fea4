#!/usr/bin/env python3
"""Numbers of the reference firmware examples/device_app on an emulated board
(mps2-an385 unless --board says otherwise):

* image sizes (text/data/bss) of the full image and of the HTTP-only image,
  against the issue's Cortex-M3 targets, and where the bytes go (per app
  file and per core feature, summed from the linker map);
* boot-to-ready under QEMU: process start until the device has its DHCP
  address, listens on HTTP and has sent the console's `ready` frame;
* HTTP requests/s with wrk (GET /api/info) through a user-networking port
  forward on 127.0.0.1.

    python bench/device_app_bench.py [--board mps2-an505] [--firmware build/fw-BOARD]
                                     [--runs 5] [--wrk-seconds 5]

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from cymongoose.device import Board, QemuTarget, load_boards

KIB = 1024
# Issue 8 targets on Cortex-M3 -Os: (flash, RAM) in bytes.
TARGETS = {"device_app_http": (48 * KIB, 24 * KIB), "device_app": (112 * KIB, 48 * KIB)}
TIMEOUT_S = 15.0


SIZE_TOOL = "arm-none-eabi-size"


def sizes(elf: Path) -> tuple[int, int, int]:
    out = subprocess.run([SIZE_TOOL, "-B", "-d", str(elf)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return text, data, bss


def feature_of(obj: str) -> str:
    """Groups a linker-map input (object or archive member) by feature."""
    m = re.search(r"examples/device_app/(\w+)\.c\.obj", obj)
    if m:
        return f"app {m.group(1)}.c"
    m = re.search(r"\((\w+)\.c\.obj\)$", obj)
    if m and "_core.a" in obj:
        name = m.group(1)
        for prefix, group in (("http", "core HTTP"), ("ws", "core WebSocket"),
                              ("mqtt", "core MQTT"), ("util_rpc", "core JSON-RPC"),
                              ("util_json", "core JSON"), ("util_sha", "core SHA-1/256")):
            if name.startswith(prefix):
                return group
        if (REPO / "src" / "net" / "stack" / f"{name}.c").exists():
            return "core TCP/IP stack"
        if (REPO / "src" / "drivers" / f"{name}.c").exists():
            return "core Ethernet driver"
        return "core (manager, buffers, other utils)"
    if "mg_board" in obj or "boards/" in obj:
        return "board (startup, console, clock)"
    if "libc" in obj or "libgcc" in obj or "libm" in obj or "libnosys" in obj:
        return "C library (newlib-nano, libgcc)"
    return "other"


def map_breakdown(map_path: Path) -> dict[str, list[int]]:
    """{feature: [flash bytes, RAM bytes]} from the 'Linker script and memory map' part."""
    text = map_path.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines()
    out: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    pending: str | None = None
    rx_full = re.compile(r"^ (\.(?:text|rodata|data|bss)\S*)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    rx_cont = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    for line in lines:
        m = rx_full.match(line)
        mc = rx_cont.match(line) if pending and not m else None
        if m:
            sec, addr, size, obj = m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4)
        elif mc and pending:
            sec, addr, size, obj = pending, int(mc.group(1), 16), int(mc.group(2), 16), mc.group(3)
        else:
            mp = re.match(r"^ (\.(?:text|rodata|data|bss)\S*)$", line)
            pending = mp.group(1) if mp else None
            continue
        pending = None
        if size == 0 or addr == 0:
            continue  # empty, or discarded / not placed
        g = feature_of(obj)
        if sec.startswith((".text", ".rodata")):
            out[g][0] += size
        elif sec.startswith(".data"):
            out[g][0] += size
            out[g][1] += size
        else:
            out[g][1] += size
    return dict(out)


def boot_to_ready_ms(elf: Path, board: Board) -> tuple[float, float]:
    """(from the QEMU process start, from the console attaching) to the ready frame.

    QEMU holds the CPU until the console client attaches; the console log stamps
    every line with the seconds since then, which gives the firmware's own part.
    """
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "console.log"
        t0 = time.perf_counter()
        with QemuTarget(elf, board, nic="user", hostfwd=[80], log_path=log) as t:
            t.console.expect_line(r"^net: ready ip=", timeout=TIMEOUT_S)
            t.console.expect_line(r"^\x1e\{\"jsonrpc\":\"2.0\",\"method\":\"ready\"",
                                  timeout=TIMEOUT_S)
            total = (time.perf_counter() - t0) * 1000.0
        m = re.search(r"^\[\s*([\d.]+)\] \x1e\{\"jsonrpc\":\"2.0\",\"method\":\"ready\"",
                      log.read_text(errors="replace"), re.MULTILINE)
        if m is None:
            raise RuntimeError("ready frame missing from the console log")
        return total, float(m.group(1)) * 1000.0


def wrk(elf: Path, board: Board, seconds: int) -> str:
    exe = shutil.which("wrk")
    if exe is None:
        return "wrk is not installed (Debian package wrk)"
    with QemuTarget(elf, board, nic="user", hostfwd=[80]) as t:
        t.console.expect_line(r"^http: listening on ", timeout=TIMEOUT_S)
        url = f"http://127.0.0.1:{t.forwarded[80]}/api/info"
        out = subprocess.run([exe, "-t1", "-c4", f"-d{seconds}s", url], capture_output=True,
                             text=True, timeout=seconds + 30, check=False).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = re.search(r"Latency\s+(\S+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return (f"{float(rps.group(1)) if rps else float('nan'):.0f} req/s, mean latency "
            f"{lat.group(1) if lat else '?'}, {'errors: ' + errs.group(0) if errs else 'no errors'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="mps2-an385", help="an emulated board of boards.toml")
    ap.add_argument("--firmware", type=Path,
                    help="image directory (default: build/fw for mps2-an385, else build/fw-BOARD)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    a = ap.parse_args()
    board = load_boards().get(a.board)
    if a.firmware is None:
        a.firmware = REPO / "build" / ("fw" if board.name == "mps2-an385" else f"fw-{board.name}")
    if board.arch.startswith("riscv"):
        global SIZE_TOOL  # one tool per run, chosen by the board
        SIZE_TOOL = "riscv64-unknown-elf-size"
    qemu_bin = str(board.qemu.get("binary", "qemu-system-arm"))
    qemu = subprocess.run([qemu_bin, "--version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]

    print(f"## Reference firmware device_app ({board.name})\n")
    print(f"{board.cpu} ({board.arch}), -Os, --gc-sections; flash = text + data, "
          "RAM = data + bss (heap and the 16 KiB stack come on top). `device_app_http` is HTTP + "
          "REST API only; `device_app` adds WebSocket, MQTT, SNTP, console JSON-RPC and OTA.\n")
    print("The targets are the issue's Cortex-M3 ones.\n")
    print("| image | text | data | bss | flash | RAM | target flash / RAM | met |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for name, (tf, tr) in TARGETS.items():
        text, data, bss = sizes(a.firmware / f"{name}.elf")
        flash, ram = text + data, data + bss
        ok = "yes" if flash <= tf and ram <= tr else "**no**"
        print(f"| {name} | {text} | {data} | {bss} | {flash} | {ram} | "
              f"{tf // KIB} / {tr // KIB} KiB | {ok} |")
    print()
    for name in TARGETS:
        br = map_breakdown(a.firmware / f"{name}.map")
        print(f"Where the bytes of `{name}` go (from `{name}.map`):\n")
        print("| part | flash | RAM |")
        print("|---|---:|---:|")
        for g, (f, r) in sorted(br.items(), key=lambda kv: -kv[1][0]):
            print(f"| {g} | {f} | {r} |")
        print()
    print("The RAM of `main.c` is `struct app`, which embeds the stack's interface with its fixed "
          "pools (examples/device_app/device_app.cmake): full image 5 TCP connections x "
          "(3 KiB rx + 3 KiB tx) + 2 UDP x 1.5 KiB, HTTP-only 3 x (2 + 2 KiB) + 1 x 1 KiB; "
          "plus three 1514-byte frame buffers and the 2 KiB console line buffer.\n")

    full = a.firmware / "device_app.elf"
    runs = [boot_to_ready_ms(full, board) for _ in range(a.runs)]
    total, fw = [r[0] for r in runs], [r[1] for r in runs]
    print(f"Boot to ready (DHCP done, HTTP listening, the console's `ready` frame received), "
          f"{a.runs} runs: from the QEMU process start median {statistics.median(total):.0f} ms "
          f"(min {min(total):.0f}, max {max(total):.0f}); from the console attaching (QEMU "
          f"starts the CPU then) median {statistics.median(fw):.0f} ms (min {min(fw):.0f}, "
          f"max {max(fw):.0f}).\n")
    print(f"HTTP GET /api/info with `wrk -t1 -c4 -d{a.wrk_seconds}s` through the 127.0.0.1 port "
          f"forward: {wrk(full, board, a.wrk_seconds)}.\n")
    print(f"Reproduce: `make fw && .venv/bin/python bench/device_app_bench.py --board {board.name}`. "
          f"{qemu}; {platform.machine()}, shared host (load average "
          f"{os.getloadavg()[0]:.1f} at the end), {time.strftime('%Y-%m-%d')}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
