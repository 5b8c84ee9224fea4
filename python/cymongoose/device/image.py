"""Firmware images: ELF program headers parsed with :mod:`struct`, raw BIN files.

An :class:`Image` is a list of ``(address, bytes)`` segments in load-address
order, which is what every flash backend writes and verifies.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from .boards import Board
from .errors import ImageError

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1
EM_ARM = 40
EM_RISCV = 243
# e_machine values we name in error messages (ELF gABI / processor supplements).
MACHINE_NAMES = {3: "x86", 40: "ARM", 62: "x86-64", 183: "AArch64", 243: "RISC-V"}
ARM_CPUS_PREFIX = ("cortex-m", "cortex-a", "cortex-r", "arm")
MAX_IMAGE_BYTES = 256 * 1024 * 1024  # refuse absurd sizes from corrupt headers


@dataclass(frozen=True)
class Segment:
    address: int
    data: bytes

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class Image:
    path: str
    format: str
    segments: tuple[Segment, ...]
    entry: int | None = None
    machine: int | None = None

    @property
    def size(self) -> int:
        return sum(len(s.data) for s in self.segments)

    def sha256(self) -> str:
        h = hashlib.sha256()
        for seg in self.segments:
            h.update(struct.pack("<II", seg.address, len(seg.data)))
            h.update(seg.data)
        return h.hexdigest()

    def check_board(self, board: Board) -> None:
        """Raise :class:`ImageError` when the image cannot run on ``board``."""
        if self.format not in board.image_formats:
            raise ImageError(
                f"{self.path}: {self.format} images are not accepted by board {board.name} "
                f"(accepts {', '.join(board.image_formats)})"
            )
        arm_board = board.cpu.startswith(ARM_CPUS_PREFIX)
        riscv_board = board.arch.startswith("riscv")
        if self.machine is not None and ((arm_board and self.machine != EM_ARM)
                                         or (riscv_board and self.machine != EM_RISCV)):
            name = MACHINE_NAMES.get(self.machine, f"machine {self.machine}")
            raise ImageError(
                f"{self.path}: built for {name}, but board {board.name} has a {board.cpu}"
            )
        if not board.memory:
            return
        for seg in self.segments:
            if board.region_of(seg.address, max(len(seg.data), 1)) is None:
                raise ImageError(
                    f"{self.path}: segment 0x{seg.address:08x}..0x{seg.end:08x} lies outside "
                    f"the memory of board {board.name} (wrong image for the board?)"
                )


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read image {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{path}: {len(data)} bytes is too large for a firmware image")
    return data


def parse_elf(data: bytes, path: str = "<elf>") -> Image:
    """Loadable segments of an ELF file (32/64-bit, either byte order).

    Segments are placed at their physical (load) address, which is where a
    flash programmer must write them; zero-size file images (.bss) are skipped.
    """
    if len(data) < 16 or data[:4] != ELF_MAGIC:
        raise ImageError(f"{path}: not an ELF file")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise ImageError(f"{path}: bad ELF class/encoding bytes {ei_class}/{ei_data}")
    bo = "<" if ei_data == 1 else ">"
    is64 = ei_class == 2
    hdr_fmt = bo + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH")
    hdr_size = struct.calcsize(hdr_fmt)
    if len(data) < 16 + hdr_size:
        raise ImageError(f"{path}: truncated ELF header")
    (_type, machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum,
     _shentsize, _shnum, _shstrndx) = struct.unpack_from(hdr_fmt, data, 16)
    ph_fmt = bo + ("IIQQQQQQ" if is64 else "IIIIIIII")
    ph_size = struct.calcsize(ph_fmt)
    if phnum == 0:
        raise ImageError(f"{path}: ELF has no program headers (not a linked executable?)")
    if phentsize < ph_size or phoff + phnum * phentsize > len(data):
        raise ImageError(f"{path}: program header table out of bounds")
    segments: list[Segment] = []
    for i in range(phnum):
        fields = struct.unpack_from(ph_fmt, data, phoff + i * phentsize)
        if is64:
            p_type, _pflags, p_offset, _vaddr, p_paddr, p_filesz, _memsz, _align = fields
        else:
            p_type, p_offset, _vaddr, p_paddr, p_filesz, _memsz, _pflags, _align = fields
        if p_type != PT_LOAD or p_filesz == 0:
            continue
        if p_offset + p_filesz > len(data):
            raise ImageError(f"{path}: segment {i} data lies beyond the end of the file")
        segments.append(Segment(p_paddr, bytes(data[p_offset:p_offset + p_filesz])))
    if not segments:
        raise ImageError(f"{path}: ELF has no loadable segments")
    segments.sort(key=lambda s: s.address)
    for a, b in itertools.pairwise(segments):
        if b.address < a.end:
            raise ImageError(
                f"{path}: loadable segments overlap at 0x{b.address:08x}"
            )
    return Image(path=path, format="elf", segments=tuple(segments), entry=entry, machine=machine)


def load_image(
    path: str | os.PathLike[str], *, base: int | None = None, board: Board | None = None
) -> Image:
    """Load an ELF (detected by its magic) or a raw binary placed at ``base``.

    For a BIN without ``base``, the first flash region of ``board`` is used.
    """
    data = _read(path)
    spath = str(path)
    if data[:4] == ELF_MAGIC:
        return parse_elf(data, spath)
    if spath.endswith(".elf"):
        raise ImageError(f"{spath}: named .elf but has no ELF header")
    if not data:
        raise ImageError(f"{spath}: empty image")
    if base is None:
        flash = [r for r in (board.memory if board else ()) if r.kind == "flash"]
        if not flash:
            raise ImageError(f"{spath}: a raw binary needs a load address (--base)")
        base = flash[0].start
    return Image(path=spath, format="bin", segments=(Segment(base, data),))


def load_image_for(
    path: str | os.PathLike[str], board: Board, *, base: int | None = None
) -> Image:
    """:func:`load_image` for ``board``, refused with :class:`ImageError` when the image
    cannot run on it (:meth:`Image.check_board`): what every flash path wants."""
    image = load_image(path, base=base, board=board)
    image.check_board(board)
    return image