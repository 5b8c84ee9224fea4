"""``cymongoose test``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from ..boards import BoardMap
from .common import SubParsers, formatter, target_args


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser(
        "test", help="run pytest with the dut fixture bound to a board",
        description="Run pytest with the cymongoose plugin options set. Everything after the "
                    "options is passed to pytest.",
        formatter_class=formatter,
        epilog="example:\n  cymongoose test --board mps2-an385 --firmware build/fw/hello_fw.elf "
               "tests/device -x")
    target_args(s)
    s.add_argument("--artifacts", help="directory for per-test console logs")
    s.add_argument("--json", action="store_true",
                   help="print a JSON summary (counts, exit code) on stdout; pytest's own "
                        "output goes to stderr")
    s.add_argument("pytest_args", nargs=argparse.REMAINDER, help="arguments for pytest")
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    from ..pytest_plugin import plugin_args

    argv = [sys.executable, "-m", "pytest", *plugin_args()]
    for opt in ("board", "port", "firmware", "baudrate"):
        value = getattr(args, opt)
        if value is not None:
            argv += [f"--{opt}", str(value)]
    if args.artifacts:
        argv += ["--device-artifacts", args.artifacts]
    for opt in ("lg_place", "lg_tags", "lg_coordinator"):  # labgrid: the plugin leases
        if getattr(args, opt, None):
            argv += [f"--{opt.replace('_', '-').replace('lg-coordinator', 'dut-lg-coordinator')}",
                     str(getattr(args, opt))]
    if getattr(args, "lg_place", None) or getattr(args, "lg_tags", None):
        argv += ["--lg-wait", str(args.lg_wait)]
    rest = list(args.pytest_args)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    argv += rest
    if not args.json:
        print("+ " + " ".join(argv), file=sys.stderr, flush=True)
        return subprocess.call(argv)
    import tempfile

    from ..cliutil import junit_summary

    with tempfile.TemporaryDirectory(prefix="cymongoose-test-") as tmp:
        # pytest's report goes to stderr; our summary comes from its JUnit XML.
        junit = next((a.split("=", 1)[1] for a in rest if a.startswith("--junitxml=")), None)
        mine = junit is None
        if junit is None:
            junit = str(Path(tmp) / "junit.xml")
            argv.append(f"--junitxml={junit}")
        print("+ " + " ".join(argv), file=sys.stderr, flush=True)
        rc = subprocess.call(argv, stdout=sys.stderr)
        summary = junit_summary(junit)
        if mine:
            summary["report"] = None  # a temporary file, gone with this directory
    print(json.dumps({"ok": rc == 0, "exit_code": rc, **summary}, indent=2))
    return rc
