"""``cymongoose build``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from ..boards import BoardMap
from ..cliutil import UsageError, positive_int
from ..errors import DeviceError, NotAvailableError
from .common import EXIT_FAIL, EXIT_OK, SubParsers, formatter


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser("build", help="build firmware for a board with CMake",
                       description="Configure and build the firmware apps for a board "
                                   "(runs cmake; needs the source tree).",
                       formatter_class=formatter,
                       epilog="examples:\n  cymongoose build --board mps2-an385\n"
                              "  cymongoose build --board host --build-dir build/host-apps\n"
                              "  cymongoose build --board mps2-an385 --source ../cymongoose "
                              "--app my_app --target my_app")
    s.add_argument("--board", required=True, help="board name (see `cymongoose boards`)")
    s.add_argument("--source", default=".", help="source tree (default: current directory)")
    s.add_argument("--build-dir", help="build directory (default: build/fw-BOARD)")
    s.add_argument("--target", help="only build this CMake target, e.g. hello_fw")
    s.add_argument("--app", action="append", default=[], metavar="DIR",
                   help="also build the firmware app in DIR (a folder with a firmware.cmake, "
                        "see docs/own-firmware.md); repeatable")
    s.add_argument("-j", "--jobs", type=positive_int, default=2, help="parallel jobs (default 2)")
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    board = bmap.get(args.board)
    src = Path(args.source).resolve()
    if not (src / "CMakeLists.txt").is_file() or not (src / "boards").is_dir():
        raise DeviceError(f"{src} is not a cymongoose source tree (no CMakeLists.txt + boards/)")
    cmake = shutil.which("cmake")
    if cmake is None:
        raise NotAvailableError("cmake is not on PATH")
    build_dir = Path(args.build_dir or src / "build" / f"fw-{board.name}")
    apps = [Path(a).resolve() for a in args.app]
    for app in apps:
        if not (app / "firmware.cmake").is_file():
            raise UsageError(f"--app {app}: no firmware.cmake in that folder")
    configure = [cmake, "-S", str(src), "-B", str(build_dir), f"-DMG_BOARD={board.name}",
                 "-DCMAKE_BUILD_TYPE=MinSizeRel", "-DMG_APP_DIRS=" + ";".join(map(str, apps))]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    if board.boot != "host":
        family = "riscv-none-elf" if board.arch.startswith("riscv") else "arm-none-eabi"
        toolchain = src / "boards" / f"toolchain-{family}.cmake"
        configure.append(f"-DCMAKE_TOOLCHAIN_FILE={toolchain}")
    build = [cmake, "--build", str(build_dir), "-j", str(args.jobs)]
    if args.target:
        build += ["--target", args.target]
    for cmd in (configure, build):
        print("+ " + " ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            print(f"cymongoose: build failed (exit code {rc})", file=sys.stderr)
            return EXIT_FAIL
    elfs = sorted(build_dir.glob("*.elf"))
    for elf in elfs:
        print(f"built {elf}")
    return EXIT_OK
