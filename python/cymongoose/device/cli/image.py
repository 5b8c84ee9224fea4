"""``cymongoose image``: keygen, pack, verify and show firmware images (docs/image-format.md).

Registered in :data:`cymongoose.device.cli.SUBCOMMANDS`; :func:`run` is its handler.
Exit status: 0 done (``verify``: the image passed), 1 the image failed a check or could
not be made (the reason on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cliutil import UsageError, existing_file

if TYPE_CHECKING:
    from ..boards import BoardMap

EXIT_OK, EXIT_FAIL = 0, 1


def _version_arg(text: str) -> str:
    from ..imagefmt import Version

    try:
        Version.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``image`` and its actions to the subparsers ``sub`` of the main parser."""
    s: argparse.ArgumentParser = sub.add_parser(
        "image", help="make, sign, check and show firmware images for OTA updates",
        description="Firmware images (docs/image-format.md): a header naming the board, "
                    "version and load address, the flash bytes of an ELF, and a trailer with "
                    "their SHA-256 and an optional Ed25519 signature. OTA updates send images "
                    "only.",
        formatter_class=_formatter,
        epilog="examples:\n"
               "  cymongoose image keygen release.key      release.key + release.key.pub\n"
               "  cymongoose image pack --board mps2-an385 --key release.key --version 1.4.0+7 \\\n"
               "      build/fw/device_app.elf -o device_app.img\n"
               "  cymongoose image verify --key release.key.pub device_app.img\n"
               "  cymongoose image show device_app.img --json")
    actions = s.add_subparsers(dest="image_action", metavar="ACTION", required=True)

    a = actions.add_parser("keygen", help="make an Ed25519 key pair: KEY (private) + KEY.pub",
                           description="Write a new Ed25519 private key to KEY (PEM, PKCS#8, "
                                       "unencrypted, mode 0600) and its public key to KEY.pub. "
                                       "Existing files are not overwritten without --force.",
                           formatter_class=_formatter)
    a.add_argument("key", metavar="KEY", help="private key file to write")
    a.add_argument("--force", action="store_true", help="overwrite KEY and KEY.pub")

    a = actions.add_parser("pack", help="pack an ELF into an image for a board",
                           description="Pack the flash bytes of FIRMWARE (an ELF) for --board "
                                       "into an image, signed with --key or unsigned.",
                           formatter_class=_formatter,
                           epilog="example:\n  cymongoose image pack --board mps2-an385 "
                                  "--version 1.2.0 fw.elf -o fw.img")
    a.add_argument("firmware", metavar="FIRMWARE", type=existing_file, help="firmware ELF")
    a.add_argument("-o", "--output", required=True, metavar="IMAGE", help="image file to write")
    a.add_argument("--board", required=True, help="board the image is for")
    a.add_argument("--key", type=existing_file, metavar="KEY",
                   help="Ed25519 private key (PEM) to sign with (default: unsigned)")
    a.add_argument("--version", type=_version_arg, default="0.0.0",
                   help="image version MAJOR.MINOR.PATCH[+BUILD] (default 0.0.0)")
    a.add_argument("--allow-downgrade", action="store_true",
                   help="the image may replace a higher version")
    a.add_argument("--header-size", type=int, default=None, metavar="BYTES",
                   help="header size incl. zero padding, a multiple of 4 in 64..1024 "
                        "(default 64; an ELF linked for an update slot: the slot's "
                        "header room)")
    a.add_argument("--json", action="store_true", help="print the packed image's fields as JSON")

    a = actions.add_parser("verify", help="check an image's hash (and signature with --key)",
                           description="Check IMAGE: its header, size and SHA-256; with --key "
                                       "also its Ed25519 signature (an unsigned image fails); "
                                       "with --board that it is for that board. Exit 0 when it "
                                       "passes, 1 with the reason when not.",
                           formatter_class=_formatter)
    a.add_argument("image", metavar="IMAGE", type=existing_file, help="image file")
    a.add_argument("--key", type=existing_file, metavar="PUB",
                   help="Ed25519 public key (PEM; a private key works too)")
    a.add_argument("--board", help="also check that the image is for this board")

    a = actions.add_parser("show", help="print an image's header and trailer",
                           description="Print the fields of IMAGE (and whether its hash "
                                       "matches). Exit 1 when it is not a well-formed image.",
                           formatter_class=_formatter)
    a.add_argument("image", metavar="IMAGE", type=existing_file, help="image file")
    a.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return s


def _read(path: str, what: str) -> bytes:
    from ..errors import ImageError

    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _board_names(bmap: BoardMap) -> dict[int, str]:
    from ..imagefmt import board_id

    return {board_id(b.name): b.name for b in bmap}


def _show_lines(fields: dict[str, Any]) -> list[str]:
    board = fields["board"] or "unknown board"
    return [
        f"format      {fields['format']} (header {fields['header_size']} bytes)",
        f"board       {fields['board_id']} ({board})",
        f"version     {fields['version']}",
        f"load        {fields['load_addr']}   entry {fields['entry_addr']}",
        f"payload     {fields['payload_size']} bytes (image {fields['size']} bytes)",
        f"flags       0x{fields['flags']:x}" + (" allow-downgrade" if fields["allow_downgrade"]
                                               else "") + ("" if fields["signed"] else " unsigned"),
        f"sha256      {fields['sha256']} ({'ok' if fields['hash_ok'] else 'MISMATCH'})",
        f"signature   {'Ed25519' if fields['signed'] else 'none'}",
    ]


def cmd_image(args: argparse.Namespace, bmap: BoardMap) -> int:
    from .. import imagefmt
    from ..errors import DeviceError, ImageError
    from ..image import ELF_MAGIC, parse_elf

    if args.image_action == "keygen":
        pub = args.key + ".pub"
        for path in (args.key, pub):
            if os.path.exists(path) and not args.force:
                raise UsageError(f"{path} exists (give --force to overwrite it)")
        private, public = imagefmt.generate_key()
        try:
            fd = os.open(args.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(private)
            Path(pub).write_bytes(public)
        except OSError as exc:
            raise DeviceError(f"cannot write {exc.filename}: {exc.strerror}") from None
        print(f"wrote {args.key} (private, keep it secret) and {pub} (public)")
        return EXIT_OK

    if args.image_action == "pack":
        board = bmap.get(args.board)
        key = (imagefmt.load_private_key(_read(args.key, "key"), args.key)
               if args.key else None)
        if args.header_size is not None and not _header_size_ok(args.header_size):
            raise UsageError(f"--header-size {args.header_size}: want a multiple of 4 in "
                             f"{imagefmt.HEADER_SIZE}..{imagefmt.HEADER_MAX}")
        raw = _read(args.firmware, "firmware")
        if imagefmt.is_image(raw):
            raise ImageError(f"{args.firmware} is already a cymongoose image")
        if raw[:4] != ELF_MAGIC:
            raise ImageError(f"{args.firmware} is not an ELF file: image pack reads the "
                             "firmware ELF (its load addresses and entry point)")
        extra = {} if args.header_size is None else {"header_size": args.header_size}
        data = imagefmt.pack_elf(parse_elf(raw, args.firmware), board, version=args.version,
                                 allow_downgrade=args.allow_downgrade, key=key, **extra)
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise DeviceError(f"cannot write {args.output}: {exc.strerror}") from None
        img = imagefmt.parse(data)
        if args.json:
            print(json.dumps(img.to_dict(_board_names(bmap)), indent=2))
        else:
            print(f"packed {args.output}: {len(data)} bytes for {board.name}, version "
                  f"{img.header.version}, {'signed' if key else 'unsigned'}")
        return EXIT_OK

    data = _read(args.image, "image")
    if args.image_action == "verify":
        pub = imagefmt.load_public_key(_read(args.key, "key"), args.key) if args.key else None
        try:
            img = imagefmt.verify(data, public_key=pub, board=args.board, what=args.image)
        except ImageError as exc:
            print(f"cymongoose image verify: FAILED: {exc}", file=sys.stderr)
            return EXIT_FAIL
        how = "signature ok" if pub else ("signed, signature not checked (no --key)"
                                          if img.signed else "unsigned")
        print(f"{args.image}: ok (sha256 ok, {how})")
        return EXIT_OK

    img = imagefmt.parse(data, args.image)
    fields = img.to_dict(_board_names(bmap))
    if args.json:
        print(json.dumps(fields, indent=2))
    else:
        print("\n".join(_show_lines(fields)))
    return EXIT_OK


def _header_size_ok(size: int) -> bool:
    from ..imagefmt import HEADER_MAX, HEADER_SIZE

    return HEADER_SIZE <= size <= HEADER_MAX and size % 4 == 0


run = cmd_image
