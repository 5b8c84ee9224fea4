#!/usr/bin/env python3
"""Ed25519 on the device: code size of the verifier and verify time on each emulated board.

For every board `make fw` builds (scripts/fw_boards.py) whose build directory holds
examples/ed25519_bench (build/fw-<board>/ed25519_bench.elf):

- size: text of util_ed25519.c.obj and util_sha512.c.obj in build/fw-<board> (-Os, the
  board's size tool from its CMake cache), i.e. what mg_ed25519_verify adds to an image;
- time: the bench app run twice under QEMU (machine and arguments from the board map):
  plain, where mg_millis() is host wall-clock time (how fast QEMU emulates, not the chip),
  and with `-icount shift=0`, where each guest instruction takes 1 ns of virtual time, so
  the figure is millions of instructions per verification: deterministic, and a lower
  bound of cycles on the real core (it assumes one cycle per instruction).

    python bench/ed25519_bench.py [--boards mps2-an385,riscv32-virt] [--runs 1]

Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from cymongoose.device.boards import load_boards

ROOT = Path(__file__).resolve().parent.parent

VERIFY = re.compile(r"ed25519 verify: runs=(\d+) ms=(\d+)")
HASH = re.compile(r"(sha512|sha256): bytes=(\d+) ms=(\d+)")
OBJS = ("util_ed25519.c.obj", "util_sha512.c.obj")


def fw_boards() -> list[str]:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "fw_boards.py")],
                         capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def build_dir(board: str) -> Path:
    return ROOT / "build" / ("fw" if board == "mps2-an385" else f"fw-{board}")


def size_tool(bdir: Path) -> str:
    cache = (bdir / "CMakeCache.txt").read_text(encoding="utf-8")
    m = re.search(r"^CMAKE_SIZE:FILEPATH=(.+)$", cache, re.MULTILINE)
    return m.group(1) if m else "size"


def text_size(tool: str, obj: Path) -> int:
    out = subprocess.run([tool, "-B", "-d", str(obj)], capture_output=True, text=True,
                         check=True).stdout
    return int(out.splitlines()[1].split()[0])


def run_qemu(board: str, elf: Path, icount: bool) -> dict[str, float]:
    """Runs the bench app once; returns ms per verify and KiB/s per hash."""
    q = load_boards(include_user=False).get(board).qemu
    binary = str(q.get("binary", "qemu-system-arm"))
    if shutil.which(binary) is None:
        raise RuntimeError(f"{binary} not found")
    cmd = [binary, "-M", str(q["machine"]), *map(str, q.get("args", [])),
           "-serial", "stdio", "-nic", "none", "-kernel", str(elf)]
    if icount:
        cmd += ["-icount", "shift=0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout.replace("\r", "")
    if proc.returncode != 0 or "selftest: ok" not in out:
        raise RuntimeError(f"{board}: exit {proc.returncode}\n{out}{proc.stderr}")
    res: dict[str, float] = {}
    m = VERIFY.search(out)
    assert m, out
    res["verify_ms"] = int(m.group(2)) / int(m.group(1))
    for name, nbytes, ms in HASH.findall(out):
        res[name] = int(nbytes) / 1024 / (int(ms) / 1000)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default="", help="comma-separated boards (default: all of make fw)")
    ap.add_argument("--runs", type=int, default=1, help="QEMU runs per mode; the best is kept")
    args = ap.parse_args()
    boards = [b for b in args.boards.split(",") if b] or fw_boards()
    rows = []
    for board in boards:
        bdir = build_dir(board)
        elf = bdir / "ed25519_bench.elf"
        if not elf.exists():
            print(f"{board}: {elf} missing (make fw FW_BOARDS={board})", file=sys.stderr)
            continue
        tool = size_tool(bdir)
        objdir = bdir / "CMakeFiles" / "mg_core.dir" / "src" / "core"
        ed, sha = (text_size(tool, objdir / o) for o in OBJS)
        wall = min((run_qemu(board, elf, False) for _ in range(args.runs)),
                   key=lambda r: r["verify_ms"])
        virt = min((run_qemu(board, elf, True) for _ in range(args.runs)),
                   key=lambda r: r["verify_ms"])
        rows.append((board, ed, sha, virt["verify_ms"], wall["verify_ms"],
                     virt.get("sha512", 0.0), virt.get("sha256", 0.0)))
        print(f"{board}: verify {virt['verify_ms']:.2f} M instructions, "
              f"{wall['verify_ms']:.2f} ms wall-clock in QEMU", file=sys.stderr)
    print("| board | ed25519 code (B) | sha512 code (B) | verify: M instructions (-icount) "
          "| verify: ms in QEMU (wall) | SHA-512: instr/byte | SHA-256: instr/byte |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for board, ed, sha, mi, wall_ms, s512, s256 in rows:
        # Under -icount shift=0, KiB per virtual second -> instructions per byte.
        per512 = 1e9 / (s512 * 1024) if s512 else float("nan")
        per256 = 1e9 / (s256 * 1024) if s256 else float("nan")
        print(f"| {board} | {ed} | {sha} | {mi:.2f} | {wall_ms:.2f} | {per512:.0f} | {per256:.0f} |")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
