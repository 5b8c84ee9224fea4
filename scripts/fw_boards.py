"""Prints the emulated boards of boards/*/board.toml, one per line:
`<board> <toolchain file>`, for `make fw` (which builds each into build/fw-<board>).

Emulated = `boot = "qemu"` and not `build_only`. The toolchain file is
boards/toolchain-<toolchain>.cmake for the board's `toolchain` key. A board without one,
or whose toolchain file does not exist, is an error (exit 1), so a board is never left
out silently.

    python3 scripts/fw_boards.py [--only NAME[,NAME...]]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from board_facts import FactError, read_board

REPO = Path(__file__).resolve().parents[1]
BOARDS = REPO / "boards"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated board names to keep")
    args = ap.parse_args()
    boards: dict[str, dict[str, object]] = {}
    try:
        for toml in sorted(BOARDS.glob("*/board.toml")):
            boards[toml.parent.name] = read_board(toml.parent)
    except FactError as exc:
        print(f"fw_boards: {exc}", file=sys.stderr)
        return 1
    emulated = {n: b for n, b in boards.items()
                if b.get("boot") == "qemu" and not b.get("build_only", False)}
    only = [n for n in args.only.replace(",", " ").split() if n]
    for n in only:
        if n not in emulated:
            print(f"fw_boards: {n!r} is not an emulated board of {BOARDS}/ "
                  f"(emulated: {', '.join(sorted(emulated))})", file=sys.stderr)
            return 1
    status = 0
    for name, board in emulated.items():
        if only and name not in only:
            continue
        tc = BOARDS / f"toolchain-{board.get('toolchain', '')}.cmake"
        if not board.get("toolchain") or not tc.is_file():
            print(f"fw_boards: board {name}: no toolchain file {tc} (board.toml toolchain key)",
                  file=sys.stderr)
            status = 1
            continue
        print(name, tc)
    return status


if __name__ == "__main__":
    sys.exit(main())
