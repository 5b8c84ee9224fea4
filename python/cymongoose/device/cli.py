# PYTHON_ARGCOMPLETE_OK  (shell completion with the optional argcomplete package)
"""The ``cymongoose`` command: boards, ports, build, flash, console, bridge, rpc, test.

Every subcommand has ``--help`` with examples. Exit codes: 0 success, 1 the
device or tool failed (timeout, verify mismatch, missing port), 2 bad usage: an
unknown board or command, a missing option or file, a bad value (one line on
stderr, with a close match when there is one), or a missing tool or extension.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .boards import DEFAULT_BOARD, Board, BoardMap, load_boards
from .cli_image import add_parser as add_image_parser
from .cli_image import cmd_image
from .cliutil import (
    CliParser,
    RateProgress,
    UsageError,
    address,
    check_board_name,
    existing_file,
    list_ports,
    positive_int,
    seconds,
)
from .errors import DeviceError, ExpectTimeoutError, NotAvailableError

if TYPE_CHECKING:
    from .flash import FlashResult
    from .labgrid import LabgridTarget
    from .targets import Target

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

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


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="cymongoose", description=DESCRIPTION, epilog=EPILOG,
                  formatter_class=_formatter)
    p.add_argument("-V", "--version", action="version", version=_version_text(),
                   help="print the version and exit")
    p.add_argument("--boards-file", action="append", default=[], metavar="TOML", type=existing_file,
                   help="extra board map file (may be repeated)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("boards", help="list boards, or show one board in detail",
                       description="List the known boards, or show everything about one.",
                       formatter_class=_formatter,
                       epilog="examples:\n  cymongoose boards\n  cymongoose boards mps2-an385\n"
                              "  cymongoose boards --json")
    s.add_argument("name", nargs="?", help="board to show")
    s.add_argument("--json", action="store_true",
                   help="one JSON object on stdout instead of the table")

    s = sub.add_parser("ports", help="list this machine's serial ports",
                       description="List the serial ports of this machine (pyserial): device, "
                                   "USB VID:PID, serial number, description, and the lab ports "
                                   "or board consoles of the board map that name each one.",
                       formatter_class=_formatter,
                       epilog="examples:\n  cymongoose ports\n  cymongoose ports --json")
    s.add_argument("--json", action="store_true",
                   help="one JSON object on stdout instead of the table")

    s = sub.add_parser("doctor", help="check QEMU, toolchains, serial ports, TUN, ...",
                       description="Check what the device features need on this machine: the "
                                   "compiled extension, QEMU and its version, the arm toolchain, "
                                   "cmake, OpenOCD, pyOCD, pyserial, labgrid, serial port access "
                                   "and TUN. One line each: ok, missing (the reference board needs "
                                   "it) or - (optional), with how to get it. Exit status 1 when "
                                   "something the reference board needs is missing.",
                       formatter_class=_formatter,
                       epilog="examples:\n  cymongoose doctor\n  cymongoose doctor --json")
    s.add_argument("--json", action="store_true",
                   help="one JSON object on stdout instead of the table")

    s = sub.add_parser("build", help="build firmware for a board with CMake",
                       description="Configure and build the firmware apps for a board "
                                   "(runs cmake; needs the source tree).",
                       formatter_class=_formatter,
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

    s = sub.add_parser(
        "flash", help="write an image to a board and verify it",
        description="Write IMAGE (ELF, or BIN at the board's flash base) and verify it by "
                    "read-back or checksum. Verify is on by default; a mismatch names the "
                    "first differing address.\n\nBackends: qemu (boot the emulator with the "
                    "image and check the loaded memory), gdb (any gdbstub: QEMU -gdb, OpenOCD, "
                    "a probe), openocd, pyocd, ota (the reference firmware's update bank "
                    "over HTTP --url and/or its console --port; the device checks SHA-256).",
        formatter_class=_formatter,
        epilog="examples:\n  cymongoose flash --board nucleo-f746zg build/fw-nucleo/hello_fw.elf\n"
               "  cymongoose flash --board mps2-an385 --gdb 127.0.0.1:1234 hello_fw.elf\n"
               "  cymongoose flash --board nucleo-f746zg --backend pyocd --no-verify fw.bin\n"
               "  cymongoose flash --board mps2-an385 --backend ota --url "
               "http://127.0.0.1:8080/api/ota fw.bin\n"
               "  cymongoose flash --board mps2-an385 --backend ota --port /dev/ttyACM0 fw.bin\n"
               "  cymongoose flash --lg-place rack3-an385 --board mps2-an385 fw.elf\n"
               "      lease a labgrid place, flash+verify through its exported gdbstub\n"
               "  cymongoose flash --lg-tags board=mps2-an385 --backend ota fw.bin\n"
               "      lease a place, OTA over its exported console")
    s.add_argument("image", type=existing_file, help="firmware image (.elf or .bin)")
    s.add_argument("--board", help="board name (required, except that a labgrid place's "
                                    "'board' tag may name it)")
    s.add_argument("--backend", choices=["qemu", "gdb", "openocd", "pyocd", "ota"],
                   help="flash backend (default: the board's first one that applies)")
    s.add_argument("--gdb", metavar="HOST:PORT|unix:PATH", help="gdbstub to flash through")
    s.add_argument("--verify", dest="verify", action="store_true", default=True,
                   help="verify after writing (default)")
    s.add_argument("--no-verify", dest="verify", action="store_false", help="skip verification")
    s.add_argument("--base", type=address, help="load address of a .bin image")
    s.add_argument("--no-run", action="store_true",
                   help="gdb backend: leave the CPU halted after flashing")
    s.add_argument("--url", metavar="URL",
                   help="ota backend: POST the image to this URL (the reference firmware's "
                        "http://DEVICE/api/ota, with X-SHA256)")
    s.add_argument("--port", metavar="PORT",
                   help="ota backend: the device console (JSON-RPC): uploads over ota.* calls, "
                        "or with --url checks ota.status after the HTTP upload")
    s.add_argument("--baudrate", type=positive_int, help="ota backend: console baud rate")
    s.add_argument("--json", action="store_true",
                   help="one JSON object on stdout (human text goes to stderr)")
    from .labgrid import add_cli_args

    add_cli_args(s)  # flash a leased labgrid place (its gdbstub, or OTA over its console)

    s = sub.add_parser(
        "console", help="open a device console (boot QEMU or attach to a serial port)",
        description="Attach to a device console. Interactive by default (type lines, Ctrl-C or "
                    "Ctrl-D to quit); with --expect it waits for a pattern and exits 0 when it "
                    "appears, 1 on timeout - handy in scripts.",
        formatter_class=_formatter,
        epilog="examples:\n  cymongoose console --board mps2-an385 --firmware build/fw/hello_fw.elf\n"
               "  cymongoose console --port socket://127.0.0.1:7000\n"
               "  cymongoose console --port rfc2217://rack1.lab:4001 --log session.log\n"
               "  cymongoose console --board mps2-an385 --firmware fw.elf \\\n"
               "      --send 'echo hi' --expect 'echo: hi' --timeout 10")
    _target_args(s)
    s.add_argument("--log", help="write a timestamped session log to this file")
    s.add_argument("--send", action="append", default=[], metavar="LINE",
                   help="send LINE after attaching (may be repeated)")
    s.add_argument("--expect", metavar="REGEX",
                   help="wait for a line matching REGEX, print it, then exit")
    s.add_argument("--timeout", type=seconds, default=10.0,
                   help="seconds for --expect (default 10)")
    s.add_argument("--elf", type=existing_file,
                   help="firmware ELF to decode a crash record against (default: --firmware)")

    s = sub.add_parser(
        "decode", help="decode the crash records of a saved console log",
        description="Find the firmware's crash records (*** crash ... ***) in a console log and "
                    "decode them against the firmware ELF: the reason, the function and "
                    "file:line of pc and lr, a backtrace. Exit 1 when the log holds none.",
        formatter_class=_formatter,
        epilog="example:\n  cymongoose decode --elf build/fw/device_app.elf device/test_x.log")
    s.add_argument("--elf", type=existing_file, help="the firmware ELF the log came from")
    s.add_argument("log", help="console log file ('-': standard input)")

    s = sub.add_parser(
        "test", help="run pytest with the dut fixture bound to a board",
        description="Run pytest with the cymongoose plugin options set. Everything after the "
                    "options is passed to pytest.",
        formatter_class=_formatter,
        epilog="example:\n  cymongoose test --board mps2-an385 --firmware build/fw/hello_fw.elf "
               "tests/device -x")
    _target_args(s)
    s.add_argument("--artifacts", help="directory for per-test console logs")
    s.add_argument("--json", action="store_true",
                   help="print a JSON summary (counts, exit code) on stdout; pytest's own "
                        "output goes to stderr")
    s.add_argument("pytest_args", nargs=argparse.REMAINDER, help="arguments for pytest")

    s = sub.add_parser(
        "bridge", help="reach an emulated board's network: host ports (no root) or a TAP",
        description="Boot the board in QEMU with its NIC on a frame socket.\n\n"
                    "Without --tap (no root): the frames end in this process's built-in "
                    "TCP/IP stack, whose DHCP server leases the board its address; --forward "
                    "HOSTPORT:BOARDPORT then makes 127.0.0.1:HOSTPORT a tunnel to the board, so "
                    "curl, browsers and scripts reach the firmware.\n\n"
                    "With --tap IFACE (root): every Ethernet frame is copied to a TAP interface "
                    "and back, so ping, curl and wireshark on the host see the board directly.",
        formatter_class=_formatter,
        epilog="examples:\n"
               "  cymongoose bridge --firmware build/fw/net_fw.elf --forward 8080:80 "
               "--forward 7007:7\n"
               "      then: curl http://127.0.0.1:8080/api/info\n"
               "  cymongoose bridge --firmware build/fw/net_fw.elf --pcap br.pcap --duration 30\n"
               "  cymongoose bridge --serial /dev/ttyUSB1 --baudrate 921600 --forward 8080:80\n"
               "  (as root; the TAP is created if missing)\n"
               "  ip tuntap add dev tap0 mode tap && ip addr add 10.0.2.2/24 dev tap0 && "
               "ip link set tap0 up\n"
               "  cymongoose bridge --tap tap0 --firmware build/fw/net_fw.elf --pcap br.pcap")
    _target_args(s)
    s.add_argument("--tap", help="TAP interface to bridge to (root)")
    s.add_argument("--serial", metavar="PORT",
                   help="no QEMU: the board's frames come SLIP-framed over this serial port "
                        "(firmware with the SLIP driver on a UART); --baudrate sets its speed")
    s.add_argument("--forward", action="append", default=[], metavar="HOSTPORT:BOARDPORT",
                   help="without --tap: listen on 127.0.0.1:HOSTPORT and tunnel each "
                        "connection to the board's BOARDPORT (may be repeated)")
    s.add_argument("--host-ip", default="10.0.2.2",
                   help="without --tap: the host's address on the bridge (default 10.0.2.2)")
    s.add_argument("--device-ip", default="10.0.2.15",
                   help="without --tap: the address our DHCP server leases the board "
                        "(default 10.0.2.15)")
    s.add_argument("--pcap", help="also write every bridged frame to this pcap file")
    s.add_argument("--impair", metavar="SPEC", type=_impair_arg,
                   help="without --tap: impair the link, e.g. 'loss=5%%,delay=50ms±10ms,"
                        "seed=1' (docs/device.md: spec syntax); decisions go to "
                        "PCAP.impair.log with --pcap")
    s.add_argument("--duration", type=seconds,
                   help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--lease-timeout", type=seconds, default=5.0, metavar="SECONDS",
                   help="without --tap: warn when the board has no DHCP lease after this "
                        "long (default 5)")
    s.add_argument("--log", help="write the console session log to this file")

    s = sub.add_parser(
        "rpc", help="call a JSON-RPC method on the reference firmware over its console",
        description="Send one JSON-RPC 2.0 request over the device console (framing: "
                    "docs/device-rpc.md) and print the result as JSON. Parameters are "
                    "KEY=VALUE pairs (VALUE is parsed as JSON when it can be, else taken as "
                    "a string) or one --params JSON object. With --firmware the board is booted "
                    "in QEMU first and the call waits for the firmware's 'ready' notification.\n\n"
                    "Exit status: 0 result printed; 1 the device answered an error (code and "
                    "message on stderr) or did not answer in time.",
        formatter_class=_formatter,
        epilog="examples:\n"
               "  cymongoose rpc --firmware build/fw/device_app.elf info\n"
               "  cymongoose rpc --firmware build/fw/device_app.elf led.set on=true\n"
               "  cymongoose rpc --port /dev/ttyACM0 ota.status\n"
               "  cymongoose rpc --port socket://127.0.0.1:7000 reboot --params "
               "'{\"delay_ms\": 500}'")
    _target_args(s)
    s.add_argument("method", help="method name, e.g. info, led.set, ota.status")
    s.add_argument("params", nargs="*", metavar="KEY=VALUE", help="parameters")
    s.add_argument("--params", dest="params_json", metavar="JSON",
                   help="parameters as one JSON object (or array)")
    s.add_argument("--timeout", type=seconds, default=5.0,
                   help="seconds to wait for the response (default 5)")
    s.add_argument("--ready-timeout", type=seconds, default=20.0,
                   help="with --firmware: seconds to wait for the 'ready' notification")
    s.add_argument("--json", action="store_true",
                   help='print {"ok", "method", "result" or "error"} instead of the bare result')
    s.add_argument("--log", help="write the console session log to this file")
    add_image_parser(sub)  # cymongoose image ... (cli_image.py)
    return p


def _version_text() -> str:
    from .. import __version__

    py = ".".join(map(str, sys.version_info[:3]))
    return f"cymongoose {__version__} (distribution cymongoose-sdk, Python {py})"


def _target_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--board", help="board name (default: mps2-an385 unless --port is given)")
    s.add_argument("--port", help="serial port: a path, socket://HOST:PORT, rfc2217://HOST:PORT "
                                  "or a lab port name from the board map")
    s.add_argument("--firmware", type=existing_file,
                   help="image to boot (emulated and host boards)")
    s.add_argument("--baudrate", type=positive_int,
                   help="serial baud rate (default: from the board)")
    from .labgrid import add_cli_args

    add_cli_args(s)  # a labgrid place instead of --port


# ---- commands ------------------------------------------------------------------------------------------
def cmd_boards(args: argparse.Namespace, bmap: BoardMap) -> int:
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


def cmd_ports(args: argparse.Namespace, bmap: BoardMap) -> int:
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


def cmd_doctor(args: argparse.Namespace, bmap: BoardMap) -> int:
    from .doctor import MISSING, run_checks

    checks = run_checks(bmap)
    healthy = not any(c.status == MISSING for c in checks)
    if args.json:
        print(json.dumps({"ok": healthy, "checks": [c.to_dict() for c in checks]}, indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(c.line(width))
    return EXIT_OK if healthy else EXIT_FAIL


def _board_dict(b: Board) -> dict[str, object]:
    return {
        "name": b.name, "description": b.description, "cpu": b.cpu, "arch": b.arch,
        "boot": b.boot, "flash": list(b.flash), "image_formats": list(b.image_formats),
        "build_only": b.build_only,
        "memory": [vars(r) for r in b.memory], "console": dict(b.console),
        "network": dict(b.network), "qemu": dict(b.qemu), "source": b.source,
    }


def cmd_build(args: argparse.Namespace, bmap: BoardMap) -> int:
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


def cmd_flash(args: argparse.Namespace, bmap: BoardMap) -> int:
    from .flash import GdbFlasher, QemuLoader, get_flasher
    from .gdbremote import GdbClient
    from .image import load_image_for
    from .labgrid import target_from_cli_args
    from .targets import QemuTarget

    leased = target_from_cli_args(args, bmap, None)
    if leased is not None:
        return _flash_leased(args, bmap, leased)
    if args.backend == "ota" or (args.backend is None and (args.url or args.port)):
        return _flash_ota(args, bmap)
    if not args.board:
        raise UsageError("give --board NAME (see `cymongoose boards`)")
    board = bmap.get(args.board)
    image = load_image_for(args.image, board, base=args.base)
    backend = args.backend or ("gdb" if args.gdb else (board.flash[0] if board.flash else None))
    if backend is None:
        raise DeviceError(f"board {board.name} has no flash backend (flash = [])")
    progress = RateProgress()
    if backend == "gdb":
        if not args.gdb:
            raise UsageError("the gdb backend needs --gdb HOST:PORT or --gdb unix:PATH")
        with GdbClient.connect_address(args.gdb) as client:
            result = GdbFlasher(client, run=not args.no_run).flash(
                image, verify=args.verify, progress=progress)
    elif backend == "qemu":
        target = QemuTarget(None, board)
        try:
            result = QemuLoader(target).flash(image, verify=args.verify, progress=progress)
        finally:
            target.stop()
    else:
        result = get_flasher(backend, board).flash(image, verify=args.verify, progress=progress)
    return _flash_done(args, result)


def _flash_done(args: argparse.Namespace, result: FlashResult) -> int:
    if args.json:
        print(result.summary(), file=sys.stderr)
        print(json.dumps({"ok": True, **dataclasses.asdict(result)}, indent=2))
    else:
        print(result.summary())
    return EXIT_OK


def _flash_ota(args: argparse.Namespace, bmap: BoardMap, target: Target | None = None) -> int:
    """OTA into the reference firmware's update bank: the image file as it is, verified by
    the device's SHA-256 check (and ota.status when the console is given). ``target``:
    a console target to use instead of --port (a leased labgrid place)."""
    from .image import Image
    from .ota import OtaFlasher
    from .rpc import RpcClient
    from .targets import SerialTarget

    if not args.url and not args.port and target is None:
        raise UsageError("the ota backend needs --url http://DEVICE/api/ota and/or --port "
                          "CONSOLE")
    if not Path(args.image).is_file():
        raise DeviceError(f"image {args.image} does not exist")
    image = Image(str(args.image), "bin", (), None)
    if target is None and args.port:
        port = bmap.resolve_port(args.port)
        target = SerialTarget(port.url, baudrate=args.baudrate or port.baudrate or 115200)
    try:
        rpc = None
        if target is not None:
            target.start()
            rpc = RpcClient(target.console)
        board = bmap.get(args.board) if args.board else None  # an ELF is packed for it
        result = OtaFlasher(rpc, url=args.url, board=board).flash(
            image, verify=args.verify, progress=RateProgress())
    finally:
        if target is not None:
            target.stop()
    return _flash_done(args, result)


def _flash_leased(args: argparse.Namespace, bmap: BoardMap, target: LabgridTarget) -> int:
    """Flash a leased labgrid place: through its exported gdbstub (default; written,
    verified, reset into the new image) or, with --backend ota, over its console."""
    from .image import load_image_for
    from .labgrid import flash_place, lease_board

    backend = args.backend or "gdb"
    if backend not in ("gdb", "ota") or args.gdb:
        raise UsageError("a labgrid place is flashed through the gdbstub it exports "
                          "(--backend gdb, the default, without --gdb) or over its console "
                          f"(--backend ota), not {args.gdb or backend}")
    if backend == "ota":
        return _flash_ota(args, bmap, target)
    image = None
    if args.board:  # check the image before leasing anything
        board = bmap.get(args.board)
        image = load_image_for(args.image, board, base=args.base)
    lease = target.lease
    try:
        lease.acquire()
        if image is None:
            board = lease_board(lease, bmap, None)
            image = load_image_for(args.image, board, base=args.base)
        address = lease.require_gdb()
        print(f"[labgrid place {lease.place}: flashing through gdbstub {address}]",
              file=sys.stderr, flush=True)
        result = flash_place(lease, image, verify=args.verify, progress=RateProgress(),
                             run=not args.no_run)
    finally:
        lease.release()
    return _flash_done(args, result)


def _open_target(args: argparse.Namespace, bmap: BoardMap, log: str | None):  # type: ignore[no-untyped-def]
    from .labgrid import target_from_cli_args
    from .targets import HostProcessTarget, QemuTarget, SerialTarget

    leased = target_from_cli_args(args, bmap, log)
    if leased is not None:
        return leased
    if args.port:
        port = bmap.resolve_port(args.port)
        name: str | None = args.board or port.board
        board = bmap.get(name) if name else None
        baud = args.baudrate or port.baudrate or (board.baudrate if board else 115200)
        return SerialTarget(port.url, baudrate=baud, board=board, log_path=log)
    board = bmap.get(args.board or DEFAULT_BOARD)
    if board.boot == "serial":
        if not board.console_port:
            raise UsageError(f"board {board.name} is on a serial port: give --port "
                              "(or set console.port in your boards.toml)")
        return SerialTarget(board.console_port, baudrate=args.baudrate or board.baudrate,
                            board=board, log_path=log)
    if not args.firmware:
        raise UsageError(f"board {board.name} boots an image: give --firmware FILE")
    if board.boot == "host":
        return HostProcessTarget([args.firmware], log_path=log)
    return QemuTarget(args.firmware, board, log_path=log)


def cmd_console(args: argparse.Namespace, bmap: BoardMap) -> int:
    target = _open_target(args, bmap, args.log)
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


def _interactive(con) -> int:  # type: ignore[no-untyped-def]
    """Copy console output to stdout and stdin lines to the console until EOF or Ctrl-C."""
    print("[cymongoose console: Ctrl-C or Ctrl-D to quit]", file=sys.stderr, flush=True)
    out = sys.stdout
    stdin_open = True
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
                r, _, _ = select.select([sys.stdin], [], [], 0.05)
                if r:
                    line = sys.stdin.readline()
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


def cmd_decode(args: argparse.Namespace, bmap: BoardMap) -> int:
    from .crash import decode_log, read_log

    text = sys.stdin.read() if args.log == "-" else read_log(args.log)
    crashes = decode_log(text, args.elf)
    if not crashes:
        print(f"cymongoose decode: no crash record in {args.log}", file=sys.stderr)
        return EXIT_FAIL
    print("\n\n".join(str(c) for c in crashes))
    return EXIT_OK


def cmd_test(args: argparse.Namespace, bmap: BoardMap) -> int:
    from .pytest_plugin import plugin_args

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

    from .cliutil import junit_summary

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


def _impair_arg(text: str) -> str:
    """An impairment spec, checked at once (a bad field is a usage error naming it)."""
    from .impair import parse_spec

    try:
        parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def cmd_bridge(args: argparse.Namespace, bmap: BoardMap) -> int:
    if args.impair is not None and (args.serial or args.tap):
        raise UsageError("--impair works on the root-free QEMU bridge (no --serial, --tap)")
    if args.serial:
        if args.tap or args.pcap or args.firmware:
            raise UsageError("--serial bridges a board on a serial line: no --tap, --pcap "
                              "or --firmware")
        return _bridge_stack(args, None)
    board = bmap.get(args.board or DEFAULT_BOARD)
    if board.boot != "qemu":
        raise UsageError(f"bridge works with emulated boards; {board.name} boots by {board.boot}")
    if not args.firmware:
        raise UsageError("give --firmware FILE")
    if args.tap:
        if args.forward:
            raise UsageError("--forward is for the root-free bridge; with --tap use the "
                              "board's address directly")
        return _bridge_tap(args, board)
    return _bridge_stack(args, board)


def _bridge_tap(args: argparse.Namespace, board: Board) -> int:
    from .bridge import TapBridge, TapDevice
    from .frames import PcapWriter
    from .targets import QemuTarget

    tap = TapDevice(args.tap)
    try:
        with QemuTarget(args.firmware, board, nic="stream", log_path=args.log) as target:
            link = target.frame_link()
            bridge = TapBridge(link, tap, PcapWriter(args.pcap) if args.pcap else None).start()
            print(f"[bridging {board.name} <-> {tap.name}; Ctrl-C to stop]", file=sys.stderr,
                  flush=True)
            deadline = time.monotonic() + args.duration if args.duration else None
            try:
                while deadline is None or time.monotonic() < deadline:
                    _copy_console(target)
                    target.check()
                    if bridge.error:
                        raise DeviceError(f"bridge stopped: {bridge.error}")
                    time.sleep(0.05)
            except KeyboardInterrupt:
                pass
            finally:
                bridge.stop()
                link.close()
            print(f"[bridged {bridge.to_tap} frames to {tap.name}, {bridge.to_device} to the "
                  "device]", file=sys.stderr)
    finally:
        tap.close()
    return EXIT_OK


def _copy_console(target) -> None:  # type: ignore[no-untyped-def]
    text = target.console.read_available()
    if text:
        sys.stdout.write(text.replace("\r\n", "\n"))
        sys.stdout.flush()


def _parse_forwards(specs: Sequence[str]) -> list[tuple[int, int]]:
    out = []
    for spec in specs:
        host, sep, dev = spec.partition(":")
        if not sep or not host.isdigit() or not dev.isdigit() or not (
                0 <= int(host) < 65536 and 0 < int(dev) < 65536):
            raise UsageError(f"--forward {spec!r}: want HOSTPORT:BOARDPORT, e.g. 8080:80")
        out.append((int(host), int(dev)))
    return out


def _bridge_stack(args: argparse.Namespace, board: Board | None) -> int:
    import contextlib

    from .bridge import PortForwarder, StackBridge
    from .targets import QemuTarget

    forwards = _parse_forwards(args.forward)
    with contextlib.ExitStack() as stack:
        target = None
        if board is None:
            br = stack.enter_context(StackBridge(
                serial=args.serial, baudrate=args.baudrate or 115200, host_ip=args.host_ip,
                device_ip=args.device_ip))
            what = f"the board on {args.serial}"
        else:
            target = stack.enter_context(
                QemuTarget(args.firmware, board, nic="stream", log_path=args.log))
            br = stack.enter_context(StackBridge(
                target.netdev_socket(), host_ip=args.host_ip, device_ip=args.device_ip,
                pcap=args.pcap, health=target.check, impair=args.impair))
            if args.impair is not None:
                br.network.carrier = target.set_link
            what = board.name
        fwd = PortForwarder(br)
        stack.callback(fwd.close)
        for host_port, dev_port in forwards:
            bound = fwd.add(host_port, dev_port)
            print(f"[127.0.0.1:{bound} -> board {br.device_ip}:{dev_port}]",
                  file=sys.stderr, flush=True)
        print(f"[bridging {what} into this process's TCP/IP stack: host {br.host_ip}, "
              f"board {br.device_ip} (leased by our DHCP server); Ctrl-C to stop]",
              file=sys.stderr, flush=True)
        started = time.monotonic()
        deadline = started + args.duration if args.duration else None
        leased = warned = False
        try:
            while deadline is None or time.monotonic() < deadline:
                fwd.poll(20)
                if target is not None:
                    _copy_console(target)
                br.check()
                if not leased and br.stats.get("dhcps_acks", 0) > 0:
                    leased = True
                    print(f"[board {br.device_ip} has its lease]", file=sys.stderr,
                          flush=True)
                elif not leased and not warned and \
                        time.monotonic() - started >= args.lease_timeout:
                    warned = True
                    print(_no_lease_warning(br.stats, args.lease_timeout), file=sys.stderr,
                          flush=True)
        except KeyboardInterrupt:
            pass
        st = br.stats
        print(f"[bridged {st['rx_frames']} frames from the board, {st['tx_frames']} to "
              f"it; {fwd.tunnels} tunnelled connections]", file=sys.stderr)
        if args.impair is not None:
            ist = br.network.stats
            print("[impaired (seed " + str(br.network.seed) + "): "
                  + ", ".join(f"{k} {ist[k]}" for k in ("frames", "dropped", "delayed",
                              "duplicated", "reordered", "corrupted")) + "]", file=sys.stderr)
    return EXIT_OK


def _no_lease_warning(stats: dict[str, int], after: float) -> str:
    """Why a bridged board may have no address yet, from what the bridge saw of it."""
    if stats.get("rx_frames", 0) == 0:
        why = ("no frame came from the board at all: does this firmware bring up a network "
               "interface? (net_fw and device_app do, hello_fw does not)")
    else:
        why = (f"{stats['rx_frames']} frames came from the board, but no DHCP request we could "
               "answer: does its firmware use DHCP, or a static address outside the bridge's "
               "network?")
    return f"[warning: the board has no DHCP lease after {after:g} s; {why}]"


def _parse_params(args: argparse.Namespace) -> dict[str, object] | list[object] | None:
    if args.params_json is not None:
        if args.params:
            raise UsageError("give KEY=VALUE parameters or --params JSON, not both")
        try:
            value = json.loads(args.params_json)
        except ValueError as exc:
            raise UsageError(f"--params is not JSON: {exc}") from None
        if not isinstance(value, (dict, list)):
            raise UsageError("--params must be a JSON object or array")
        return value
    params: dict[str, object] = {}
    for item in args.params:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"parameter {item!r}: want KEY=VALUE")
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params or None


def cmd_rpc(args: argparse.Namespace, bmap: BoardMap) -> int:
    from .rpc import RpcClient, RpcError, RpcTimeoutError

    params = _parse_params(args)
    target = _open_target(args, bmap, args.log)
    with target:
        rpc = RpcClient(target.console, timeout=args.timeout)
        if args.firmware and not args.port:
            rpc.wait_notification("ready", timeout=args.ready_timeout)
        try:
            result = rpc.request(args.method, params)
        except RpcError as exc:
            print(f"cymongoose rpc: {args.method}: error {exc.code}: {exc.message}",
                  file=sys.stderr)
            if args.json:
                error = {"code": exc.code, "message": exc.message, "data": exc.data}
                print(json.dumps({"ok": False, "method": args.method, "error": error}))
            return EXIT_FAIL
        except RpcTimeoutError as exc:
            print(f"cymongoose rpc: {exc}", file=sys.stderr)
            if args.json:
                error = {"code": None, "message": f"no response within {args.timeout:g} s"}
                print(json.dumps({"ok": False, "method": args.method, "error": error}))
            return EXIT_FAIL
    if args.json:
        print(json.dumps({"ok": True, "method": args.method, "result": result}, indent=2))
    else:
        print(json.dumps(result, indent=2))
    return EXIT_OK


COMMANDS = {
    "boards": cmd_boards, "ports": cmd_ports, "doctor": cmd_doctor, "build": cmd_build, "flash": cmd_flash, "console": cmd_console,
    "decode": cmd_decode,
    "test": cmd_test, "bridge": cmd_bridge, "rpc": cmd_rpc, "image": cmd_image,
}


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
    for sig in (signal.SIGTERM, signal.SIGHUP):
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
        return COMMANDS[args.command](args, bmap)
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


if __name__ == "__main__":
    sys.exit(main())
