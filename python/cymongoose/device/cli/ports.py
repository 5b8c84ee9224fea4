"""``cymongoose ports``."""

from __future__ import annotations

import argparse
import json
import sys

from ..boards import BoardMap
from ..cliutil import list_ports
from .common import EXIT_OK, SubParsers, formatter


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser("ports", help="list this machine's serial ports",
                       description="List the serial ports of this machine (pyserial): device, "
                                   "USB VID:PID, serial number, description, and the lab ports "
                                   "or board consoles of the board map that name each one.",
                       formatter_class=formatter,
                       epilog="examples:\n  cymongoose ports\n  cymongoose ports --json")
    s.add_argument("--json", action="store_true",
                   help="one JSON object on stdout instead of the table")
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    ports = list_ports(bmap)
    if args.json:
        print(json.dumps({"ports": [p.to_dict() for p in ports]}, indent=2))
        return EXIT_OK
    if not ports:
        print("no serial ports found", file=sys.stderr)
        return EXIT_OK
    rows = [(p.device, p.vid_pid or "-", p.serial_number or "-", p.description or "-",
             "; ".join(p.matches)) for p in ports]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        line = "  ".join(f"{r[i]:{widths[i]}s}" for i in range(4))
        print((line + ("  = " + r[4] if r[4] else "")).rstrip())
    return EXIT_OK
