"""``cymongoose doctor``."""

from __future__ import annotations

import argparse
import json

from ..boards import BoardMap
from .common import EXIT_FAIL, EXIT_OK, SubParsers, formatter


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser("doctor", help="check QEMU, toolchains, serial ports, TUN, ...",
                       description="Check what the device features need on this machine: the "
                                   "compiled extension, QEMU and its version, the arm toolchain, "
                                   "cmake, OpenOCD, pyOCD, pyserial, labgrid, serial port access "
                                   "and TUN. One line each: ok, missing (the reference board needs "
                                   "it) or - (optional), with how to get it. Exit status 1 when "
                                   "something the reference board needs is missing.",
                       formatter_class=formatter,
                       epilog="examples:\n  cymongoose doctor\n  cymongoose doctor --json")
    s.add_argument("--json", action="store_true",
                   help="one JSON object on stdout instead of the table")
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    from ..doctor import MISSING, run_checks

    checks = run_checks(bmap)
    healthy = not any(c.status == MISSING for c in checks)
    if args.json:
        print(json.dumps({"ok": healthy, "checks": [c.to_dict() for c in checks]}, indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(c.line(width))
    return EXIT_OK if healthy else EXIT_FAIL
