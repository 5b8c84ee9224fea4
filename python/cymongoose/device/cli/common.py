"""What the subcommands share: exit codes, the help formatter, the target options and the
one way from those options to a target (:mod:`cymongoose.device.factory`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..boards import DEFAULT_BOARD
from ..cliutil import existing_file, positive_int
from ..defaults import LABGRID_WAIT
from ..factory import TargetSpec, build_target

if TYPE_CHECKING:
    from ..boards import BoardMap
    from ..targets import Target

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = Any

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def labgrid_args(parser: argparse.ArgumentParser) -> None:
    """``--lg-place/--lg-tags/--lg-coordinator/--lg-wait``: a leased labgrid place."""
    parser.add_argument("--lg-place", metavar="NAME", help="lease this labgrid place")
    parser.add_argument("--lg-tags", metavar="K=V,...",
                        help="lease a labgrid place whose tags match (e.g. board=qemu-mps2)")
    parser.add_argument("--lg-coordinator", metavar="HOST:PORT",
                        help="labgrid coordinator (default $LG_COORDINATOR or 127.0.0.1:20408)")
    parser.add_argument("--lg-wait", type=float, default=LABGRID_WAIT, metavar="SECONDS",
                        help=f"wait this long for a free labgrid place (default {LABGRID_WAIT:g})")


def target_args(s: argparse.ArgumentParser, *, many_firmware: bool = False) -> None:
    """The options that say which device: board, port, firmware, baud rate, labgrid place.
    ``many_firmware``: --firmware may be repeated (a list, one image per board)."""
    s.add_argument("--board", help=f"board name (default: {DEFAULT_BOARD} unless --port is given)")
    s.add_argument("--port", help="serial port: a path, socket://HOST:PORT, rfc2217://HOST:PORT "
                                  "or a lab port name from the board map")
    if many_firmware:
        s.add_argument("--firmware", type=existing_file, action="append",
                       help="image to boot (emulated boards); repeat it for several boards "
                            "on one segment")
    else:
        s.add_argument("--firmware", type=existing_file,
                       help="image to boot (emulated and host boards)")
    s.add_argument("--baudrate", type=positive_int,
                   help="serial baud rate (default: from the board)")
    labgrid_args(s)  # a labgrid place instead of --port


def spec_from_args(args: argparse.Namespace, *, log: str | None = None,
                   **overrides: Any) -> TargetSpec:
    """The TargetSpec the parsed options describe (``overrides`` win)."""
    fields: dict[str, Any] = {
        "board": getattr(args, "board", None), "firmware": getattr(args, "firmware", None),
        "port": getattr(args, "port", None), "baudrate": getattr(args, "baudrate", None),
        "log_path": log, "lg_place": getattr(args, "lg_place", None),
        "lg_tags": getattr(args, "lg_tags", None),
        "lg_coordinator": getattr(args, "lg_coordinator", None),
        "lg_wait": float(getattr(args, "lg_wait", None) or LABGRID_WAIT),
    }
    fields.update(overrides)
    return TargetSpec(**fields)


def open_target(args: argparse.Namespace, bmap: BoardMap, log: str | None) -> Target:
    """The target of the options (not started)."""
    return build_target(spec_from_args(args, log=log), bmap)


def copy_console(target: Target) -> None:
    """Whatever the console has, to stdout."""
    text = target.console.read_available()
    if text:
        sys.stdout.write(text.replace("\r\n", "\n"))
        sys.stdout.flush()
