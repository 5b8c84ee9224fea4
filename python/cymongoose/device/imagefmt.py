"""cymongoose firmware images: pack, parse and verify (docs/image-format.md).

An image is ``header + payload + trailer``, little-endian, laid out by
``src/include/mg_image.h`` (the constants below are the same numbers; a test reads
the C header to check that they agree):

* header (``header_size`` bytes, 64 + zero padding): magic ``CMGI``, format version,
  header size, board id, flags, version, load address, entry address, payload size;
* payload: the board's flash bytes of the ELF's loadable segments, contiguous from
  the load address, gaps filled with ``0xff``;
* trailer (96 bytes): SHA-256 of header + payload, then the Ed25519 signature of
  that digest (64 zero bytes and the ``unsigned`` flag when unsigned).

Everything here works on bytes (sans-IO); the ``cymongoose image`` command reads and
writes the files. Signing and signature checks need the ``cryptography`` package
(the ``device`` extra); packing unsigned images, parsing and hash checks do not.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import ImageError, NotAvailableError
from .image import ELF_MAGIC, Image

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from .boards import Board

# ---- the layout: the numbers of src/include/mg_image.h -------------------------------------
MAGIC = 0x49474D43             # MG_IMAGE_MAGIC, the bytes b"CMGI"
FORMAT_VERSION = 1             # MG_IMAGE_FORMAT_VERSION
HEADER_SIZE = 64               # MG_IMAGE_HEADER_SIZE
HEADER_MAX = 1024              # MG_IMAGE_HEADER_MAX
HASH_SIZE = 32                 # MG_IMAGE_HASH_SIZE
SIG_SIZE = 64                  # MG_IMAGE_SIG_SIZE
TRAILER_SIZE = 96              # MG_IMAGE_TRAILER_SIZE
OFFSETS = {                    # MG_IMAGE_OFS_*
    "MAGIC": 0, "FORMAT": 4, "HEADER_SIZE": 6, "BOARD_ID": 8, "FLAGS": 12, "VERSION": 16,
    "LOAD_ADDR": 24, "ENTRY_ADDR": 28, "PAYLOAD_SIZE": 32, "RESERVED": 36,
}
TRAILER_OFFSETS = {"HASH": 0, "SIG": 32}  # MG_IMAGE_TRAILER_OFS_*
F_ALLOW_DOWNGRADE = 0x1        # MG_IMAGE_F_ALLOW_DOWNGRADE
F_UNSIGNED = 0x2               # MG_IMAGE_F_UNSIGNED
F_KNOWN = 0x3                  # MG_IMAGE_F_KNOWN
PAYLOAD_FILL = 0xFF            # MG_IMAGE_PAYLOAD_FILL
# The fixed fields in the order of OFFSETS, then the 28 reserved bytes.
_HEADER = struct.Struct("<IHHIIQIII28s")
assert _HEADER.size == HEADER_SIZE

PACK_HINT = "pack it first: cymongoose image pack --board BOARD FIRMWARE.elf -o FIRMWARE.img"


class ImageFormatError(ImageError):
    """The bytes are not a well-formed image (magic, header fields, size)."""


class ImageVerifyError(ImageError):
    """A well-formed image that fails a check: hash, signature, board."""


def board_id(name: str) -> int:
    """The board id of ``name``: CRC-32 (IEEE, as zlib) of its UTF-8 bytes."""
    return zlib.crc32(name.encode("utf-8"))


_VERSION_LIMITS = (0xFF, 0xFF, 0xFFFF, 0xFFFFFFFF)


class Version(NamedTuple):
    """``major.minor.patch+build``; packed so that a newer version is a larger number."""

    major: int = 0
    minor: int = 0
    patch: int = 0
    build: int = 0

    @classmethod
    def parse(cls, text: str) -> Version:
        """``1``, ``1.2``, ``1.2.3``, ``1.2.3+45`` (a leading ``v`` is allowed)."""
        m = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\+(\d+))?", text.strip())
        if not m:
            raise ValueError(f"version {text!r}: want MAJOR.MINOR.PATCH[+BUILD] with numbers, "
                             "e.g. 1.4.2+17")
        parts = [int(g) if g else 0 for g in m.groups()]
        for name, value, limit in zip(("major", "minor", "patch", "build"), parts, _VERSION_LIMITS,
                                      strict=True):
            if value > limit:
                raise ValueError(f"version {text!r}: {name} {value} is above {limit}")
        return cls(*parts)

    @classmethod
    def unpack(cls, value: int) -> Version:
        return cls(value >> 56, (value >> 48) & 0xFF, (value >> 32) & 0xFFFF, value & 0xFFFFFFFF)

    def pack(self) -> int:
        return self.major << 56 | self.minor << 48 | self.patch << 32 | self.build

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}+{self.build}"


@dataclass(frozen=True)
class Header:
    format: int
    header_size: int
    board_id: int
    flags: int
    version: Version
    load_addr: int
    entry_addr: int
    payload_size: int

    @property
    def total_size(self) -> int:
        return self.header_size + self.payload_size + TRAILER_SIZE

    def pack(self) -> bytes:
        fixed = _HEADER.pack(MAGIC, self.format, self.header_size, self.board_id, self.flags,
                             self.version.pack(), self.load_addr, self.entry_addr,
                             self.payload_size, bytes(28))
        return fixed + bytes(self.header_size - HEADER_SIZE)


@dataclass(frozen=True)
class FirmwareImage:
    """A parsed image: ``data`` is the whole file."""

    header: Header
    data: bytes

    @property
    def payload(self) -> bytes:
        h = self.header
        return self.data[h.header_size:h.header_size + h.payload_size]

    @property
    def signed_part(self) -> bytes:
        """Header + payload: what the hash covers."""
        return self.data[:self.header.header_size + self.header.payload_size]

    @property
    def sha256(self) -> bytes:
        """The hash the trailer carries."""
        at = len(self.signed_part) + TRAILER_OFFSETS["HASH"]
        return self.data[at:at + HASH_SIZE]

    @property
    def signature(self) -> bytes:
        at = len(self.signed_part) + TRAILER_OFFSETS["SIG"]
        return self.data[at:at + SIG_SIZE]

    @property
    def signed(self) -> bool:
        return not self.header.flags & F_UNSIGNED

    @property
    def allow_downgrade(self) -> bool:
        return bool(self.header.flags & F_ALLOW_DOWNGRADE)

    def hash_ok(self) -> bool:
        return hashlib.sha256(self.signed_part).digest() == self.sha256

    def to_dict(self, board_names: dict[int, str] | None = None) -> dict[str, Any]:
        """The fields for ``cymongoose image show --json``; ``board_names`` maps ids to
        the names of known boards."""
        h = self.header
        return {
            "format": h.format, "header_size": h.header_size, "board_id": f"0x{h.board_id:08x}",
            "board": (board_names or {}).get(h.board_id), "version": str(h.version),
            "load_addr": f"0x{h.load_addr:08x}", "entry_addr": f"0x{h.entry_addr:08x}",
            "payload_size": h.payload_size, "size": len(self.data), "flags": h.flags,
            "allow_downgrade": self.allow_downgrade, "signed": self.signed,
            "sha256": self.sha256.hex(), "hash_ok": self.hash_ok(),
        }


def is_image(data: bytes) -> bool:
    """True when ``data`` starts with the image magic."""
    return len(data) >= 4 and struct.unpack_from("<I", data)[0] == MAGIC


def parse_header(data: bytes, what: str = "image") -> Header:
    """Decode and check the fixed header (the rules of ``mg_image_parse``)."""
    if len(data) >= 4 and data[:4] == ELF_MAGIC:
        raise ImageFormatError(f"{what} is an ELF file, not a cymongoose image; {PACK_HINT}")
    if len(data) >= 4 and not is_image(data):
        raise ImageFormatError(f"{what} is not a cymongoose image (bad magic "
                               f"{data[:4].hex()}, want {struct.pack('<I', MAGIC).hex()})")
    if len(data) < HEADER_SIZE:
        raise ImageFormatError(f"{what} is truncated: {len(data)} bytes, shorter than the "
                               f"{HEADER_SIZE}-byte header")
    (_, fmt, hsize, bid, flags, version, load, entry, psize,
     reserved) = _HEADER.unpack_from(data)
    if fmt != FORMAT_VERSION:
        raise ImageFormatError(f"{what}: format version {fmt} is not supported "
                               f"(this tool reads {FORMAT_VERSION})")
    if not HEADER_SIZE <= hsize <= HEADER_MAX or hsize % 4:
        raise ImageFormatError(f"{what}: header size {hsize} is not a multiple of 4 in "
                               f"{HEADER_SIZE}..{HEADER_MAX}")
    if flags & ~F_KNOWN:
        raise ImageFormatError(f"{what}: unknown flags 0x{flags & ~F_KNOWN:x}")
    if reserved != bytes(28):
        raise ImageFormatError(f"{what}: reserved header bytes are not zero")
    if psize == 0 or load + psize > 1 << 32:
        raise ImageFormatError(f"{what}: payload of {psize} bytes at 0x{load:08x} does not fit "
                               "the 32-bit address space")
    if not load <= entry & ~1 < load + psize:
        raise ImageFormatError(f"{what}: entry 0x{entry:08x} lies outside the payload "
                               f"0x{load:08x}..0x{load + psize:08x}")
    return Header(fmt, hsize, bid, flags, Version.unpack(version), load, entry, psize)


def parse(data: bytes, what: str = "image") -> FirmwareImage:
    """A whole image: header checks, and exactly the announced size (the hash and the
    signature are :func:`verify`'s business)."""
    header = parse_header(data, what)
    if len(data) < header.total_size:
        raise ImageFormatError(f"{what} is truncated: {len(data)} bytes, the header announces "
                               f"{header.total_size}")
    if len(data) > header.total_size:
        raise ImageFormatError(f"{what} has {len(data) - header.total_size} bytes after its "
                               f"trailer (the header announces {header.total_size})")
    return FirmwareImage(header, bytes(data))


def _need_crypto() -> None:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise NotAvailableError("signing and signature checks need the 'cryptography' package "
                                "(pip install 'cymongoose-sdk[device]')") from None


def verify(data: bytes | FirmwareImage, *, public_key: Ed25519PublicKey | None = None,
           board: str | None = None, what: str = "image") -> FirmwareImage:
    """Parse ``data`` and check its hash; with ``board`` its board id; with ``public_key``
    its signature (an unsigned image then fails). Raises :class:`ImageFormatError` or
    :class:`ImageVerifyError` with the reason."""
    img = data if isinstance(data, FirmwareImage) else parse(data, what)
    if board is not None and img.header.board_id != board_id(board):
        raise ImageVerifyError(f"{what} is for board id 0x{img.header.board_id:08x}, not "
                               f"{board} (0x{board_id(board):08x})")
    if not img.hash_ok():
        raise ImageVerifyError(f"{what}: SHA-256 mismatch: header + payload hash to "
                               f"{hashlib.sha256(img.signed_part).hexdigest()[:16]}..., the "
                               f"trailer says {img.sha256.hex()[:16]}...")
    if public_key is not None:
        if not img.signed:
            raise ImageVerifyError(f"{what} is unsigned")
        from cryptography.exceptions import InvalidSignature

        try:
            public_key.verify(img.signature, img.sha256)
        except InvalidSignature:
            raise ImageVerifyError(f"{what}: bad signature (not signed by this key, or "
                                   "tampered with)") from None
    elif not img.signed and any(img.signature):
        raise ImageVerifyError(f"{what}: flagged unsigned but carries a signature")
    return img


def pack(payload: bytes, *, board: str, load_addr: int, entry_addr: int,
         version: Version | str = "0.0.0", allow_downgrade: bool = False,
         key: Ed25519PrivateKey | None = None, header_size: int = HEADER_SIZE) -> bytes:
    """An image of ``payload`` (the flash bytes at ``load_addr``) for ``board``; signed
    with ``key`` (an Ed25519 private key) or unsigned."""
    if isinstance(version, str):
        version = Version.parse(version)
    flags = (F_ALLOW_DOWNGRADE if allow_downgrade else 0) | (0 if key else F_UNSIGNED)
    for name, value in (("load_addr", load_addr), ("entry_addr", entry_addr)):
        if not 0 <= value < 1 << 32:
            raise ValueError(f"{name} 0x{value:x} is not a 32-bit address")
    if not HEADER_SIZE <= header_size <= HEADER_MAX or header_size % 4:
        raise ValueError(f"header_size {header_size}: want a multiple of 4 in "
                         f"{HEADER_SIZE}..{HEADER_MAX}")
    header = Header(FORMAT_VERSION, header_size, board_id(board), flags, version, load_addr,
                    entry_addr, len(payload))
    head = header.pack()
    parse_header(head, f"the image for {board}")  # the same rules as the reader
    body = head + bytes(payload)
    digest = hashlib.sha256(body).digest()
    signature = key.sign(digest) if key is not None else bytes(SIG_SIZE)
    return body + digest + signature


def elf_payload(image: Image, board: Board) -> tuple[int, int, bytes]:
    """``(load_addr, entry_addr, payload)`` of a parsed ELF for ``board``: the segments
    in its flash (all of them for an image that runs from RAM: a board without flash, or
    one like riscv32-virt whose plain images have no byte in its flash), one region,
    contiguous, gaps filled with 0xff."""
    image.check_board(board)
    if not board.memory:
        raise ImageError(f"board {board.name} has no memory map: images are for boards "
                         "with one")
    flash = [r for r in board.memory if r.kind == "flash"]
    segments = list(image.segments)
    # link without a code region: the board's plain images run from RAM.
    ram_board = bool(board.link) and "code" not in board.link
    in_flash = any((r := board.region_of(s.address, max(len(s.data), 1))) and r.kind == "flash"
                   for s in segments)
    if flash and (in_flash or not ram_board):
        for seg in segments:
            region = board.region_of(seg.address, max(len(seg.data), 1))
            if region is None or region.kind != "flash":
                where = f"in {region.name} ({region.kind})" if region else "outside its memory"
                raise ImageError(f"{image.path}: segment at 0x{seg.address:08x} lies {where}: "
                                 f"an image for {board.name} carries flash contents only")
    first, last = segments[0], segments[-1]
    region = board.region_of(first.address)
    assert region is not None  # check_board placed every segment
    if board.region_of(last.address, max(len(last.data), 1)) != region:
        raise ImageError(f"{image.path}: segments span more than one memory region of "
                         f"{board.name} ({region.name} and beyond)")
    load = first.address
    payload = bytearray([PAYLOAD_FILL]) * (last.end - load)
    for seg in segments:
        payload[seg.address - load:seg.end - load] = seg.data
    if image.entry is None or not load <= image.entry & ~1 < load + len(payload):
        raise ImageError(f"{image.path}: entry point "
                         f"{'none' if image.entry is None else hex(image.entry)} is not in "
                         f"the loaded bytes 0x{load:08x}..0x{load + len(payload):08x}")
    return load, image.entry, bytes(payload)


def pack_elf(image: Image, board: Board, **kwargs: Any) -> bytes:
    """:func:`pack` of an ELF's :func:`elf_payload` for ``board``; ``kwargs``: version,
    allow_downgrade, key, header_size. An ELF linked for an update slot of the board
    (docs/updates.md) gets the slot's header room as header_size, so that the header
    starts the slot and the payload lands where it was linked."""
    load, entry, payload = elf_payload(image, board)
    if "header_size" not in kwargs and board.slot_of(load) is not None:
        kwargs["header_size"] = int(board.slots["header_room"])
    return pack(payload, board=board.name, load_addr=load, entry_addr=entry, **kwargs)


# ---- keys (PEM: PKCS#8 private, SubjectPublicKeyInfo public) ---------------------------------

def generate_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as ``(private PEM, public PEM)``."""
    _need_crypto()
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ed25519 as ed

    key = ed.Ed25519PrivateKey.generate()
    private = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    public = key.public_key().public_bytes(ser.Encoding.PEM,
                                           ser.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def load_private_key(pem: bytes, what: str = "key") -> Ed25519PrivateKey:
    _need_crypto()
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ed25519 as ed

    try:
        key = ser.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ImageError(f"{what} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ed.Ed25519PrivateKey):
        raise ImageError(f"{what} is a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(pem: bytes, what: str = "key") -> Ed25519PublicKey:
    """A public key PEM; a private key PEM gives its public half."""
    _need_crypto()
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ed25519 as ed

    if b"PRIVATE KEY" in pem:
        return load_private_key(pem, what).public_key()
    try:
        key = ser.load_pem_public_key(pem)
    except ValueError as exc:
        raise ImageError(f"{what} is not a PEM public key: {exc}") from None
    if not isinstance(key, ed.Ed25519PublicKey):
        raise ImageError(f"{what} is a {type(key).__name__}, not an Ed25519 public key")
    return key
