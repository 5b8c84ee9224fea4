"""Hangs: where is a silent device? (issue 18 §1)

A firmware that spins with interrupts masked, or waits forever on a flag, prints
no crash record: its console simply goes quiet. When a console wait times out
after the device has been silent for a while, and the target has a gdbstub
(QEMU's ``-gdb``, an OpenOCD server), the SDK attaches, reads pc, the return
address register and the stack pointer, looks them up in the firmware ELF and
reports ``no output for 5.0 s; pc at debug_hang_spin (examples/device_app/rpc.c:275)``
with a best-effort backtrace from the stack (return addresses that follow a call,
as for crash records). Attaching stops the CPU; detaching lets it run on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .crash import ElfInfo, Frame, _is_code_return, load_elf
from .errors import DeviceError

if TYPE_CHECKING:
    from .console import Console

STACK_WORDS = 64  # words read above sp for the backtrace
PROBE_TIMEOUT = 2.0  # connecting to and talking with the gdbstub


@dataclass
class Hang:
    """Where a silent device was found (``dut.hang``, :class:`~cymongoose.device.errors.DeviceHung`)."""

    silence: float  # seconds without console output when it was probed
    pc: int
    lr: int | None  # lr (Arm) or ra (RISC-V)
    sp: int | None
    arch: str  # the stub's architecture ("arm", "riscv:rv32"), "" if unknown
    backtrace: list[Frame]  # innermost first: pc, the return address register, the stack
    elf: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def location(self) -> Frame:
        return self.backtrace[0]

    def summary(self) -> str:
        loc = self.location
        where = loc.where() if loc.function else f"0x{self.pc:08x} (no function)"
        return f"no output for {self.silence:.1f} s; pc at {where}"

    def __str__(self) -> str:
        lines = [self.summary()]
        regs = [f"pc={self.pc:08x}"]
        if self.lr is not None:
            regs.append(f"{'ra' if self.arch.startswith('riscv') else 'lr'}={self.lr:08x}")
        if self.sp is not None:
            regs.append(f"sp={self.sp:08x}")
        lines.append("  " + " ".join(regs))
        lines.extend("  " + n for n in self.notes)
        if len(self.backtrace) > 1:
            lines.append("backtrace:")
            lines.extend(f"  #{i} {f}" for i, f in enumerate(self.backtrace))
        return "\n".join(lines)


def locate(pc: int, lr: int | None, sp: int | None, stack: list[int], *, silence: float,
           arch: str, elf: ElfInfo | None, max_frames: int = 16) -> Hang:
    """Build a :class:`Hang` from registers and a stack copy (no I/O: testable alone)."""
    rv = arch.startswith("riscv")
    frames = [elf.frame(pc & ~1) if elf else Frame(pc & ~1)]
    notes: list[str] = []
    # An Arm lr of 0xFFxxxxxx is an EXC_RETURN value (in a handler), not an address.
    if lr and not (not rv and lr & 0xFF000000 == 0xFF000000):
        ret = lr & ~1
        frame = elf.frame(ret, lookup=ret - 2) if elf else Frame(ret)
        if frame.function != frames[0].function or frame.function is None:
            frames.append(frame)
    if elf is not None:
        for word in stack:
            if len(frames) >= max_frames:
                break
            if _is_code_return(elf, word, rv):
                ret = word & ~1
                frames.append(elf.frame(ret, lookup=ret - 2))
    else:
        notes.append("no firmware ELF given: addresses only")
    return Hang(silence=silence, pc=pc, lr=lr, sp=sp, arch=arch, backtrace=frames,
                elf=elf.path if elf else None, notes=notes)


def probe_gdb(address: object, elf: str | os.PathLike[str] | None, *, silence: float,
              timeout: float = PROBE_TIMEOUT) -> Hang:
    """Attach to the gdbstub at ``address``, read where the CPU is, detach.

    Raises :class:`~cymongoose.device.errors.DeviceError` (``GdbError``,
    ``PortNotFoundError``) when the stub cannot be reached or read.
    """
    from .gdbremote import GdbClient

    info: ElfInfo | None = None
    notes: list[str] = []
    if elf is not None and str(elf).endswith(".elf") and os.path.isfile(elf):
        try:
            info = load_elf(elf)
        except DeviceError as exc:
            notes.append(f"not decoded against {elf}: {exc}")
    with GdbClient.connect_address(address, timeout=timeout) as client:
        try:
            arch = client.architecture()
            rv = arch.startswith("riscv")
            pc = client.read_register_named("pc")
            lr = client.read_register_named("ra" if rv else "lr")
            sp = client.read_register_named("sp")
            stack: list[int] = []
            try:
                raw = client.read_memory(sp, STACK_WORDS * 4)
                stack = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw) - 3, 4)]
            except DeviceError as exc:  # sp outside memory: registers only
                notes.append(f"stack at 0x{sp:08x} not readable: {exc}")
        finally:
            client.detach()  # the CPU runs on
    hang = locate(pc, lr, sp, stack, silence=silence, arch=arch, elf=info)
    hang.notes[:0] = notes
    return hang


def gdb_hang_probe(address: object, console: Console) -> Callable[[float], Hang | None]:
    """A ``Console.hang_probe`` for a target whose gdbstub is at ``address``: decodes
    against the console's ``crash_elf`` (the firmware) as it is when a wait times out."""

    def probe(silence: float) -> Hang | None:
        try:
            return probe_gdb(address, console.crash_elf, silence=silence)
        except (DeviceError, OSError):
            return None  # no stub to ask (busy, gone): a plain time-out then

    return probe
