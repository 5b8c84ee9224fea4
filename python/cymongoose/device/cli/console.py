"""``cymongoose console``."""

from __future__ import annotations

import argparse
import sys
import time

from .. import hostos
from ..boards import BoardMap
from ..cliutil import existing_file, seconds
from ..console import Console
from ..errors import ExpectTimeoutError
from .common import EXIT_FAIL, EXIT_OK, SubParsers, formatter, open_target, target_args


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser(
        "console", help="open a device console (boot QEMU or attach to a serial port)",
        description="Attach to a device console. Interactive by default (type lines, Ctrl-C or "
                    "Ctrl-D to quit); with --expect it waits for a pattern and exits 0 when it "
                    "appears, 1 on timeout - handy in scripts.",
        formatter_class=formatter,
        epilog="examples:\n  cymongoose console --board mps2-an385 --firmware build/fw/hello_fw.elf\n"
               "  cymongoose console --port socket://127.0.0.1:7000\n"
               "  cymongoose console --port rfc2217://rack1.lab:4001 --log session.log\n"
               "  cymongoose console --board mps2-an385 --firmware fw.elf \\\n"
               "      --send 'echo hi' --expect 'echo: hi' --timeout 10")
    target_args(s)
    s.add_argument("--log", help="write a timestamped session log to this file")
    s.add_argument("--send", action="append", default=[], metavar="LINE",
                   help="send LINE after attaching (may be repeated)")
    s.add_argument("--expect", metavar="REGEX",
                   help="wait for a line matching REGEX, print it, then exit")
    s.add_argument("--timeout", type=seconds, default=10.0,
                   help="seconds for --expect (default 10)")
    s.add_argument("--elf", type=existing_file,
                   help="firmware ELF to decode a crash record against (default: --firmware)")
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    target = open_target(args, bmap, args.log)
    with target:
        con = target.console
        elf = args.elf or getattr(args, "firmware", None)
        if elf:
            con.crash_elf = elf  # a crash record is decoded against it (DeviceCrashed)
        for line in args.send:
            con.send_line(line)
        if args.expect:
            try:
                m = con.expect_line(args.expect, timeout=args.timeout)
            except ExpectTimeoutError as exc:
                print(f"cymongoose: {exc}", file=sys.stderr)
                return EXIT_FAIL
            print(m.group(0))
            return EXIT_OK
        return _interactive(con)


def _interactive(con: Console) -> int:
    """Copy console output to stdout and stdin lines to the console until EOF or Ctrl-C."""
    print("[cymongoose console: Ctrl-C or Ctrl-D to quit]", file=sys.stderr, flush=True)
    out = sys.stdout
    stdin_open = True
    lines = hostos.StdinLines(sys.stdin)  # a reader thread on Windows (no select on stdin)
    try:
        while True:
            text = con.read_available()
            if text:
                out.write(text.replace("\r\n", "\n"))
                out.flush()
            if con.crash_text is not None and con.raise_on_crash:
                print(f"cymongoose: device crashed: {con.crash}", file=sys.stderr, flush=True)
                con.raise_on_crash = False  # said once; a board that halts stays attached
            if con.closed:
                con.expect("\\Z.", timeout=0)  # raises with the reason the console closed
            if stdin_open:
                line = lines.get(0.05)
                if line is not None:
                    if not line:
                        stdin_open = False
                        if not sys.stdin.isatty():
                            time.sleep(0.5)  # let the device answer piped input
                            out.write(con.read_available().replace("\r\n", "\n"))
                            return EXIT_OK
                        return EXIT_OK
                    con.send_line(line.rstrip("\n"))
            else:
                time.sleep(0.05)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_OK
