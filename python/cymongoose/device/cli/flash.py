"""``cymongoose flash``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..boards import BoardMap
from ..cliutil import RateProgress, UsageError, address, existing_file, positive_int
from ..errors import DeviceError
from ..factory import TargetSpec, build_target, labgrid_spec_of, make_flasher
from .common import EXIT_OK, SubParsers, formatter, labgrid_args, spec_from_args

if TYPE_CHECKING:
    from ..flash import FlashResult
    from ..targets import Target


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser(
        "flash", help="write an image to a board and verify it",
        description="Write IMAGE (ELF, or BIN at the board's flash base) and verify it by "
                    "read-back or checksum. Verify is on by default; a mismatch names the "
                    "first differing address.\n\nBackends: qemu (boot the emulator with the "
                    "image and check the loaded memory), gdb (any gdbstub: QEMU -gdb, OpenOCD, "
                    "a probe), openocd, pyocd, ota (the reference firmware's update bank "
                    "over HTTP --url and/or its console --port; it takes firmware images, see "
                    "'cymongoose image pack', and an ELF is packed for --board on the way).",
        formatter_class=formatter,
        epilog="examples:\n  cymongoose flash --board nucleo-f746zg build/fw-nucleo/hello_fw.elf\n"
               "  cymongoose flash --board mps2-an385 --gdb 127.0.0.1:1234 hello_fw.elf\n"
               "  cymongoose flash --board nucleo-f746zg --backend pyocd --no-verify fw.bin\n"
               "  cymongoose flash --board mps2-an385 --backend ota --url "
               "http://127.0.0.1:8080/api/ota fw.img\n"
               "  cymongoose flash --board mps2-an385 --backend ota --port /dev/ttyACM0 fw.img\n"
               "  cymongoose flash --lg-place rack3-an385 --board mps2-an385 fw.elf\n"
               "      lease a labgrid place, flash+verify through its exported gdbstub\n"
               "  cymongoose flash --lg-tags board=mps2-an385 --backend ota fw.img\n"
               "      lease a place, OTA over its exported console")
    s.add_argument("image", type=existing_file, help="firmware (.elf or .bin; .img for --backend ota)")
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
    labgrid_args(s)  # flash a leased labgrid place (its gdbstub, or OTA over its console)
    s.set_defaults(handler=run)


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    from ..gdbremote import GdbClient
    from ..image import load_image_for

    spec = spec_from_args(args)
    if labgrid_spec_of(spec, bmap) is not None:  # a leased place: its gdbstub or console
        return _flash_leased(args, bmap, build_target(spec, bmap))
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
            result = make_flasher("gdb", board, client=client, run=not args.no_run).flash(
                image, verify=args.verify, progress=progress)
    elif backend == "qemu":
        target = build_target(TargetSpec(board=board.name, flash="qemu"), bmap)
        try:
            result = make_flasher("qemu", board, target=target).flash(
                image, verify=args.verify, progress=progress)
        finally:
            target.stop()
    else:
        result = make_flasher(backend, board).flash(image, verify=args.verify, progress=progress)
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
    from ..image import Image
    from ..ota import OtaFlasher
    from ..rpc import RpcClient

    if not args.url and not args.port and target is None:
        raise UsageError("the ota backend needs --url http://DEVICE/api/ota and/or --port "
                          "CONSOLE")
    if not Path(args.image).is_file():
        raise DeviceError(f"image {args.image} does not exist")
    image = Image(str(args.image), "bin", (), None)
    if target is None and args.port:
        target = build_target(TargetSpec(port=args.port, baudrate=args.baudrate), bmap)
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


def _flash_leased(args: argparse.Namespace, bmap: BoardMap, target: Target) -> int:
    """Flash a leased labgrid place: through its exported gdbstub (default; written,
    verified, reset into the new image) or, with --backend ota, over its console."""
    from ..image import load_image_for
    from ..labgrid import flash_place, lease_board

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
    from ..labgrid import LabgridTarget

    assert isinstance(target, LabgridTarget)
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
