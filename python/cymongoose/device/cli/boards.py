"""``cymongoose boards``."""

from __future__ import annotations

import argparse
import json

from ..boards import Board, BoardMap
from .common import EXIT_OK, SubParsers, formatter


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser("boards", help="list boards, or show one board in detail",
                       description="List the known boards, or show everything about one.",
                       formatter_class=formatter,
                       epilog="examples:\n  cymongoose boards\n  cymongoose boards mps2-an385\n"
                              "  cymongoose boards --json")
    s.add_argument("name", nargs="?", help="board to show")
    s.add_argument("--json", action="store_true",
                   help="one JSON object on stdout instead of the table")
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    if args.name:
        b = bmap.get(args.name)
        if args.json:
            print(json.dumps(_board_dict(b), indent=2))
            return EXIT_OK
        print(f"{b.name}: {b.description}")
        print(f"  cpu        {b.cpu} ({b.arch})")
        print(f"  boot       {b.boot}" + ("   (build only: no runner here)" if b.build_only else ""))
        print(f"  flash      {', '.join(b.flash) or '-'}")
        print(f"  images     {', '.join(b.image_formats)}")
        for r in b.memory:
            print(f"  memory     {r.name:8s} {r.kind:5s} 0x{r.start:08x}..0x{r.end:08x} "
                  f"({r.size // 1024} KiB)")
        print("  console    " + ", ".join(f"{k}={v}" for k, v in b.console.items()))
        print("  network    " + ", ".join(f"{k}={v}" for k, v in b.network.items()))
        if b.qemu:
            print(f"  qemu       {b.qemu.get('binary', 'qemu-system-arm')} -M {b.qemu['machine']}")
        print(f"  defined in {b.source}")
        return EXIT_OK
    if args.json:
        print(json.dumps({"boards": [_board_dict(b) for b in bmap],
                          "ports": {n: vars(p) for n, p in bmap.ports.items()}}, indent=2))
        return EXIT_OK
    width = max(len(b.name) for b in bmap)
    for b in bmap:
        tag = "build-only" if b.build_only else b.boot
        print(f"{b.name:{width}s}  {b.cpu:14s} {tag:10s} {b.description}")
    if bmap.ports:
        print("\nlab ports:")
        for p in bmap.ports.values():
            print(f"  {p.name:{width}s} {p.url}" + (f"  ({p.board})" if p.board else ""))
    return EXIT_OK

def _board_dict(b: Board) -> dict[str, object]:
    return {
        "name": b.name, "description": b.description, "cpu": b.cpu, "arch": b.arch,
        "boot": b.boot, "flash": list(b.flash), "image_formats": list(b.image_formats),
        "build_only": b.build_only,
        "memory": [vars(r) for r in b.memory], "console": dict(b.console),
        "network": dict(b.network), "qemu": dict(b.qemu), "source": b.source,
    }
