"""``cymongoose decode``."""

from __future__ import annotations

import argparse
import sys

from ..boards import BoardMap
from ..cliutil import existing_file
from .common import EXIT_FAIL, EXIT_OK, SubParsers, formatter


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser(
        "decode", help="decode the crash records of a saved console log",
        description="Find the firmware's crash records (*** crash ... ***) in a console log and "
                    "decode them against the firmware ELF: the reason, the function and "
                    "file:line of pc and lr, a backtrace. Exit 1 when the log holds none.",
        formatter_class=formatter,
        epilog="example:\n  cymongoose decode --elf build/fw/device_app.elf device/test_x.log")
    s.add_argument("--elf", type=existing_file, help="the firmware ELF the log came from")
    s.add_argument("log", help="console log file ('-': standard input)")
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    from ..crash import decode_log, read_log

    text = sys.stdin.read() if args.log == "-" else read_log(args.log)
    crashes = decode_log(text, args.elf)
    if not crashes:
        print(f"cymongoose decode: no crash record in {args.log}", file=sys.stderr)
        return EXIT_FAIL
    print("\n\n".join(str(c) for c in crashes))
    return EXIT_OK
