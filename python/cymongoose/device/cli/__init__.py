# PYTHON_ARGCOMPLETE_OK  (shell completion with the optional argcomplete package)
"""The ``cymongoose`` command: boards, ports, build, flash, console, bridge, rpc, test.

Every subcommand has ``--help`` with examples. Exit codes: 0 success, 1 the
device or tool failed (timeout, verify mismatch, missing port), 2 bad usage: an
unknown board or command, a missing option or file, a bad value (one line on
stderr, with a close match when there is one), or a missing tool or extension.

The package holds one module per subcommand; each has ``add_parser(subparsers)``, which
adds its parser, and ``run(args, board_map) -> exit code`` (or sets another ``handler`` with
``set_defaults``). :data:`SUBCOMMANDS` lists them in the order ``--help`` shows: adding a
subcommand is one module plus one entry there.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .. import hostos
from ..boards import load_boards
from ..cliutil import CliParser, UsageError, check_board_name, existing_file
from ..errors import DeviceError, NotAvailableError
from .common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, formatter

if TYPE_CHECKING:
    from ..boards import BoardMap

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "SUBCOMMANDS", "build_parser", "main"]

# The single registration point: modules of this package (".name") or elsewhere ("pkg.mod"),
# each with add_parser(subparsers).
SUBCOMMANDS = (".boards", ".ports", ".doctor", ".build", ".flash", ".console", ".decode",
               ".test", ".bridge", ".rpc", ".image")

DESCRIPTION = """\
Build, flash, talk to and test devices running cymongoose firmware.

A *board* (see `cymongoose boards`) says what a device is: CPU, memory map,
how to boot it (QEMU, a serial port, a host process), how to flash it and
where its console is. The reference board, mps2-an385, runs in QEMU, so
everything below works without hardware.
"""

EPILOG = """\
examples:
  cymongoose boards                              list the known boards
  cymongoose ports                               list this machine's serial ports
  cymongoose doctor                              what this machine has, how to get the rest
  cymongoose build --board mps2-an385            build the firmware (build/fw-mps2-an385)
  cymongoose console --board mps2-an385 --firmware build/fw/hello_fw.elf
                                                 boot it in QEMU and attach to UART0
  cymongoose console --port /dev/ttyACM0         talk to a real board's console
  cymongoose flash --board nucleo-f746zg fw.elf  flash and verify with OpenOCD
  cymongoose flash --board mps2-an385 --gdb 127.0.0.1:1234 fw.elf
                                                 write+verify through a running gdbstub
  cymongoose bridge --firmware build/fw/net_fw.elf --forward 8080:80
                                                 the board's port 80 on 127.0.0.1:8080, no root
  cymongoose rpc --firmware build/fw/device_app.elf led.set on=true
                                                 JSON-RPC over the console
  cymongoose test --board mps2-an385 --firmware build/fw/hello_fw.elf tests/device
  cymongoose decode --elf build/fw/device_app.elf console.log
                                                 decode the crash records of a saved log

Your own boards and lab serial ports go in ~/.config/cymongoose/boards.toml
or files listed in $CYMONGOOSE_BOARDS. Run `cymongoose COMMAND --help` for details.
"""




def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="cymongoose", description=DESCRIPTION, epilog=EPILOG,
                  formatter_class=formatter)
    p.add_argument("-V", "--version", action="version", version=_version_text(),
                   help="print the version and exit")
    p.add_argument("--boards-file", action="append", default=[], metavar="TOML", type=existing_file,
                   help="extra board map file (may be repeated)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(name, __name__)
        before = set(sub.choices)
        module.add_parser(sub)
        for command in set(sub.choices) - before:  # a module may leave the handler to us
            if sub.choices[command].get_default("handler") is None:
                sub.choices[command].set_defaults(handler=module.run)
    return p


def _version_text() -> str:
    from ... import __version__

    py = ".".join(map(str, sys.version_info[:3]))
    return f"cymongoose {__version__} (distribution cymongoose-sdk, Python {py})"


def _failed(args: argparse.Namespace, code: int, line: str, exc: Exception) -> int:
    """Report a failure: the line on stderr, and with --json also a JSON object on stdout."""
    print(line, file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "exit_code": code, "error": str(exc),
                          "error_type": type(exc).__name__}))
    return code


def _complete_boards(prefix: str, parsed_args: argparse.Namespace | None = None,
                     **_: object) -> list[str]:
    """Board names for tab completion (argcomplete calls this while completing)."""
    try:
        bmap = load_boards(getattr(parsed_args, "boards_file", None) or [])
    except DeviceError:
        return []
    return [name for name in sorted(bmap.boards) if name.startswith(prefix)]


def _enable_completion(parser: argparse.ArgumentParser) -> None:
    """Tab completion when argcomplete is installed: commands, options, board names.
    Without it (an optional dependency) nothing happens."""
    try:
        import argcomplete
    except ImportError:
        return
    stack = [parser]
    while stack:
        for action in stack.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
            elif action.dest == "board" or action.metavar is None and action.dest == "name":
                setattr(action, "completer", _complete_boards)  # noqa: B010 - argcomplete's hook
    argcomplete.autocomplete(parser)


def _exit_on_signal(signum: int, frame: object) -> None:
    # SystemExit unwinds the command: targets stop, emulators and temporary files go.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    for sig in hostos.termination_signals():  # SIGTERM, and SIGHUP or (Windows) SIGBREAK
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _exit_on_signal)
    parser = build_parser()
    _enable_completion(parser)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        bmap = load_boards(args.boards_file)
        for name in (getattr(args, "board", None), getattr(args, "name", None)):
            check_board_name(name, bmap)  # an unknown --board is a usage error, with a hint
        handler: Callable[[argparse.Namespace, BoardMap], int] = args.handler
        return handler(args, bmap)
    except UsageError as exc:
        return _failed(args, EXIT_USAGE, f"cymongoose {args.command}: error: {exc}", exc)
    except NotAvailableError as exc:
        return _failed(args, EXIT_USAGE, f"cymongoose: {exc}", exc)
    except DeviceError as exc:
        return _failed(args, EXIT_FAIL, f"cymongoose: error: {exc}", exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cymongoose boards | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAIL

