"""Two-slot boards in QEMU: provisioning and reading the boot state (docs/updates.md).

QEMU rewrites the segments of its ``-kernel`` image at every system reset, and leaves
the rest of the board's memory alone. So a two-slot board boots with only the
*bootloader* as ``-kernel``, and the application image is written into slot A through the
gdbstub while the CPU waits (``-S``): from then on the slots and the boot state behave
like flash across ``system_reset`` and SYSRESETREQ, which is what an update and its
recovery need.

    with QemuTarget(bootloader_elf, board, gdb="unix", halted=True, nic="user",
                    hostfwd=[80]) as t:
        with GdbClient.connect_address(t.gdb) as gdb:
            provision(gdb, board, slot_image(app_slot_a_elf, board, "1.0.0"))
            gdb.cont()

A board that boots from a flash drive (riscv32-virt's pflash0, ``[qemu] boot_flash``) can
also be given the whole flash as a drive image, :func:`flash_image`, with
``QemuTarget(..., flash_image=path)``.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

from .boards import Board
from .errors import DeviceError
from .gdbremote import GdbClient
from .image import load_image_for
from .imagefmt import Version, pack_elf

STATE_SIZE = 32
STATE_MAGIC = b"CMBS"
STATUS_NAMES = ("empty", "confirmed", "test", "bad")


def slot_area(board: Board, slot: int | str) -> tuple[int, int]:
    """``(start, size)`` of slot 0/"a" or 1/"b" of ``board`` (board.toml ``[slots]``)."""
    key = {0: "a", 1: "b"}.get(slot, slot) if isinstance(slot, int) else slot
    area = board.slots.get(str(key)) if board.slots else None
    if not isinstance(area, dict):
        raise DeviceError(f"board {board.name} has no update slot {slot!r} "
                          "(board.toml [slots])")
    return int(area["start"]), int(area["size"])


def state_addresses(board: Board) -> tuple[int, int]:
    state = board.slots.get("state") if board.slots else None
    if not isinstance(state, list) or len(state) != 2:
        raise DeviceError(f"board {board.name} has no boot state copies (board.toml [slots])")
    return int(state[0]), int(state[1])


def slot_image(elf: str | os.PathLike[str], board: Board, version: str | Version,
               **kwargs: object) -> bytes:
    """The ELF linked for a slot of ``board``, packed as an image (header room as
    header size, so the header starts the slot)."""
    return pack_elf(load_image_for(elf, board), board, version=version, **kwargs)


def provision(gdb: GdbClient, board: Board, image: bytes, *, slot: int = 0,
              erase_state: bool = True) -> None:
    """Writes ``image`` at the start of ``slot`` and (``erase_state``) erases both boot
    state copies (0xff), as a factory would: the bootloader then adopts the image."""
    start, size = slot_area(board, slot)
    if len(image) > size:
        raise DeviceError(f"image of {len(image)} bytes does not fit slot {slot} ({size} bytes)")
    gdb.write_memory(start, image)
    if erase_state:
        for addr in state_addresses(board):
            gdb.write_memory(addr, b"\xff" * STATE_SIZE)


def flash_image(board: Board, slots: dict[int, bytes]) -> bytes:
    """The whole boot flash of ``board`` (``[qemu] boot_flash``, riscv32-virt's pflash0) as a
    drive image: erased (0xff), with ``slots[n]`` at the start of slot n and the boot state
    erased, a factory-fresh board; the bootloader comes from ``-kernel``. For
    ``QemuTarget(..., flash_image=path)`` (the other way to provision than :func:`provision`)."""
    name = board.qemu.get("boot_flash")
    region = board.region_named(str(name)) if name else None
    if region is None:
        raise DeviceError(f"board {board.name} has no boot flash (board.toml qemu.boot_flash)")
    data = bytearray(b"\xff" * region.size)
    for slot, image in slots.items():
        start, size = slot_area(board, slot)
        if len(image) > size:
            raise DeviceError(f"image of {len(image)} bytes does not fit slot {slot} "
                              f"({size} bytes)")
        data[start - region.start:start - region.start + len(image)] = image
    return bytes(data)


@dataclass(frozen=True)
class BootState:
    seq: int
    active: int
    status: tuple[str, str]
    attempts: tuple[int, int]


def decode_state(raw: bytes) -> BootState | None:
    """One state copy (src/include/mg_bootstate.h), or None when it is not valid."""
    if len(raw) != STATE_SIZE or raw[:4] != STATE_MAGIC:
        return None
    if struct.unpack_from("<I", raw, 28)[0] != zlib.crc32(raw[:28]) or any(raw[13:28]):
        return None
    seq, active = struct.unpack_from("<IB", raw, 4)
    if active > 1 or raw[9] > 3 or raw[10] > 3:
        return None
    return BootState(seq, active, (STATUS_NAMES[raw[9]], STATUS_NAMES[raw[10]]),
                     (raw[11], raw[12]))


def read_state(gdb: GdbClient, board: Board) -> BootState | None:
    """The boot state as the bootloader reads it: the valid copy with the highest
    sequence number (modulo 2^32), or None."""
    copies = [decode_state(gdb.read_memory(a, STATE_SIZE)) for a in state_addresses(board)]
    valid = [c for c in copies if c is not None]
    if not valid:
        return None
    if len(valid) == 2:
        a, b = valid
        return a if ((a.seq - b.seq) & 0xFFFFFFFF) < 0x80000000 and a.seq != b.seq else b
    return valid[0]
