"""Prints the emulated boards of the SDK's board map, one per line:
`<board> <toolchain file>`, for `make fw` (which builds each into build/fw-<board>).

Emulated = `boot = "qemu"` and not `build_only`. The toolchain file is the board's
`toolchain` key (a path relative to the repository) when it has one, else the one
for its architecture: boards/toolchain-riscv-none-elf.cmake for riscv*,
boards/toolchain-arm-none-eabi.cmake for the rest. A toolchain file that does not
exist is an error (exit 1), so a board is never left out silently.

    python3 scripts/fw_boards.py [--only NAME[,NAME...]]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: the backport the SDK also uses
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
BOARD_MAP = REPO / "python" / "cymongoose" / "device" / "boards.toml"


def toolchain_for(name: str, board: dict[str, object]) -> Path:
    explicit = board.get("toolchain")
    if explicit:
        return REPO / str(explicit)
    if str(board.get("arch", "")).startswith("riscv"):
        return REPO / "boards" / "toolchain-riscv-none-elf.cmake"
    return REPO / "boards" / "toolchain-arm-none-eabi.cmake"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated board names to keep")
    args = ap.parse_args()
    boards = tomllib.loads(BOARD_MAP.read_text())["boards"]
    emulated = {n: b for n, b in boards.items()
                if b.get("boot") == "qemu" and not b.get("build_only", False)}
    only = [n for n in args.only.replace(",", " ").split() if n]
    for n in only:
        if n not in emulated:
            print(f"fw_boards: {n!r} is not an emulated board of {BOARD_MAP.name} "
                  f"(emulated: {', '.join(sorted(emulated))})", file=sys.stderr)
            return 1
    status = 0
    for name, board in emulated.items():
        if only and name not in only:
            continue
        tc = toolchain_for(name, board)
        if not tc.is_file():
            print(f"fw_boards: board {name}: toolchain file {tc} does not exist", file=sys.stderr)
            status = 1
            continue
        print(name, tc)
    return status


if __name__ == "__main__":
    sys.exit(main())
