"""Crash records: find them in console output and decode them against the ELF.

The firmware's fault handler (boards/common/cortex_m_startup.c; on RISC-V the
trap handler of boards/common/riscv/riscv_startup.c) prints one line when it
faults, a failed ``MG_ASSERT`` trips or the stack overflows::

    *** crash 00000001 00000000 00000003 fffffff9 ... 2c23ed67 ***

Every field is an 8-digit hex word: version (1), kind (0 fault, 1 assert,
2 stack guard; +0x100 when the stack pointer was not in RAM), the active
exception number, EXC_RETURN, the stacked r0 r1 r2 r3 r12 lr pc xpsr, the stack
pointer before the exception, CFSR HFSR DFSR MMFAR BFAR SFSR, a count n, n
words of stack, and a checksum (``sum = rotl(sum, 5) ^ word`` over every word
before it, starting at 0). Version 2 is RV32: kind, mcause, mepc, mtval,
mstatus, the interrupted sp, the 16 registers the trap entry saved (ra t0-t2
a0-a7 t3-t6), n and the stack words, then the checksum.

:func:`find_records` parses that text (no ELF needed); :func:`decode` turns a
record into a :class:`Crash`: the reason in words (from the fault status
bits), the function and ``file:line`` of pc and lr (ELF symbols and DWARF line
information, read with pyelftools) and a best-effort backtrace from the stack
copy (words that are return addresses just after a call instruction).
"""

from __future__ import annotations

import bisect
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DeviceError, NotAvailableError

RECORD_RE = re.compile(r"\*\*\* crash((?: [0-9a-fA-F]{8})+) \*\*\*")
VERSION = 1  # Cortex-M
VERSION_RV32 = 2
KIND_FAULT, KIND_ASSERT, KIND_STACK = 0, 1, 2
KIND_NO_FRAME = 0x100
# Words up to and including the stack word count, per layout version.
HEADER = {VERSION: 4 + 8 + 1 + 6 + 1, VERSION_RV32: 7 + 16 + 1}
HEADER_WORDS = HEADER[VERSION]
RV_SAVED_NAMES = ("ra", "t0", "t1", "t2", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
                  "t3", "t4", "t5", "t6")
RV_CAUSES = {0: "instruction address misaligned", 1: "instruction access fault",
             2: "illegal instruction", 3: "breakpoint", 4: "load address misaligned",
             5: "load access fault", 6: "store address misaligned", 7: "store access fault",
             8: "ecall from U-mode", 9: "ecall from S-mode", 11: "ecall from M-mode",
             12: "instruction page fault", 13: "load page fault", 15: "store page fault"}
RV_INTERRUPTS = {3: "machine software interrupt", 7: "machine timer interrupt",
                 11: "machine external interrupt"}
REGISTER_NAMES = ("r0", "r1", "r2", "r3", "r12", "lr", "pc", "xpsr")
STATUS_NAMES = ("cfsr", "hfsr", "dfsr", "mmfar", "bfar", "sfsr")

EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault",
              7: "SecureFault", 11: "SVCall", 12: "DebugMonitor", 14: "PendSV", 15: "SysTick"}
# CFSR bit -> words (ARMv7-M/ARMv8-M Architecture Reference Manual, B3.2.15).
CFSR_BITS = {
    0: "instruction access violation (MPU)", 1: "data access violation (MPU)",
    3: "MemManage fault on exception return", 4: "MemManage fault on exception entry",
    5: "MemManage fault in lazy FP state preservation",
    8: "instruction bus error", 9: "precise data bus error", 10: "imprecise data bus error",
    11: "bus error on exception return", 12: "bus error on exception entry",
    13: "bus error in lazy FP state preservation",
    16: "undefined instruction",
    17: "invalid state (a jump to an address without the Thumb bit, e.g. a null "
        "function pointer)",
    18: "invalid exception return", 19: "no coprocessor", 20: "stack overflow (stack limit)",
    24: "unaligned access", 25: "divide by zero",
}
CFSR_MMARVALID, CFSR_BFARVALID, CFSR_STKOF = 1 << 7, 1 << 15, 1 << 20
HFSR_BITS = {1: "vector table read error", 30: "escalated", 31: "debug event"}
SFSR_BITS = {0: "invalid Secure entry point", 1: "invalid integrity signature",
             2: "invalid exception return", 3: "attribution unit violation",
             4: "invalid transition", 5: "lazy state preservation error",
             7: "lazy state error"}
CODE_SECTION_FLAGS = 0x4  # SHF_EXECINSTR


class CrashRecordError(DeviceError):
    """A crash record is malformed: wrong checksum, version or length."""


@dataclass(frozen=True)
class CrashRecord:
    """The words of one crash record, checked but not decoded."""

    words: tuple[int, ...]
    text: str  # the line as received

    @property
    def version(self) -> int:
        return self.words[0]

    @property
    def arch(self) -> str:
        """``"cortex-m"`` or ``"rv32"``."""
        return "rv32" if self.version == VERSION_RV32 else "cortex-m"

    @property
    def kind(self) -> int:
        return self.words[1] & 0xFF

    @property
    def frame_valid(self) -> bool:
        return not self.words[1] & KIND_NO_FRAME

    @property
    def exception(self) -> int:
        """Cortex-M: the active exception number; RV32: mcause."""
        return self.words[2]

    @property
    def exc_return(self) -> int:
        return self.words[3]

    @property
    def registers(self) -> dict[str, int]:
        w = self.words
        if self.version == VERSION_RV32:
            regs = dict(zip(("mcause", "mepc", "mtval", "mstatus", "sp"), w[2:7], strict=True))
            regs.update(zip(RV_SAVED_NAMES, w[7:23], strict=True))
            regs["pc"], regs["lr"] = regs["mepc"], regs["ra"]
            return regs
        regs = dict(zip(REGISTER_NAMES, w[4:12], strict=True))
        regs["sp"] = w[12]
        regs.update(zip(STATUS_NAMES, w[13:19], strict=True))
        regs["exc_return"] = self.exc_return
        return regs

    @property
    def stack(self) -> list[int]:
        return list(self.words[HEADER[self.version]:-1])


def checksum(words: list[int] | tuple[int, ...]) -> int:
    s = 0
    for w in words:
        s = (((s << 5) | (s >> 27)) & 0xFFFFFFFF) ^ w
    return s


def parse_record(text: str) -> CrashRecord:
    """Parse one ``*** crash ... ***`` line (raises :class:`CrashRecordError`)."""
    m = RECORD_RE.search(text)
    if m is None:
        raise CrashRecordError("no crash record in the text")
    words = tuple(int(w, 16) for w in m.group(1).split())
    if words[0] not in HEADER:
        raise CrashRecordError(f"crash record version {words[0]} (this SDK reads "
                               f"{', '.join(map(str, HEADER))})")
    head = HEADER[words[0]]
    if len(words) < head + 1:
        raise CrashRecordError(f"crash record too short: {len(words)} words")
    if len(words) != head + words[head - 1] + 1:
        raise CrashRecordError(f"crash record length: {len(words)} words, the header "
                               f"announces {head + words[head - 1] + 1}")
    if checksum(words[:-1]) != words[-1]:
        raise CrashRecordError("crash record checksum mismatch (garbled console line?)")
    return CrashRecord(words, m.group(0))


def find_records(text: str) -> list[CrashRecord]:
    """Every well-formed crash record in ``text`` (a console log), in order;
    garbled ones (bad checksum or length) are skipped."""
    found = []
    for m in RECORD_RE.finditer(text):
        try:
            found.append(parse_record(m.group(0)))
        except CrashRecordError:
            continue
    return found


@dataclass(frozen=True)
class Frame:
    """One place in the code: an address and, where the ELF knows it, its
    function and source line."""

    address: int
    function: str | None = None
    file: str | None = None
    line: int | None = None

    def where(self) -> str:
        if self.function is None:
            return "(no function)"
        src = f" ({self.file}:{self.line})" if self.file else ""
        return f"{self.function}{src}"

    def __str__(self) -> str:
        return f"0x{self.address:08x} {self.where()}"


@dataclass
class Crash:
    """A decoded crash record (``dut.crash``, :class:`DeviceCrashed`)."""

    reason: str  # e.g. "HardFault (divide by zero, escalated)"
    kind: str  # "fault", "assert" or "stack overflow"
    exception: str  # the active exception: HardFault, SysTick, IRQ 13 ...
    pc: int
    lr: int
    registers: dict[str, int]
    backtrace: list[Frame]  # innermost first: pc, lr, then return addresses on the stack
    record: CrashRecord
    elf: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def location(self) -> Frame | None:
        """The innermost frame with a known function (what the crash is "at")."""
        return next((f for f in self.backtrace if f.function), None)

    def summary(self) -> str:
        loc = self.location
        return f"{self.reason} at {loc.where()}" if loc else self.reason

    def __str__(self) -> str:
        lines = [self.summary()]
        r = self.registers
        if self.record.arch == "rv32":
            rows: tuple[tuple[str, ...], ...] = (
                ("mcause", "mepc", "mtval", "mstatus"), ("ra", "sp", "t0", "t1", "t2"),
                RV_SAVED_NAMES[4:12], RV_SAVED_NAMES[12:])
        else:
            rows = (REGISTER_NAMES[:5], ("lr", "pc", "xpsr", "sp"), STATUS_NAMES)
        for row in rows:
            lines.append("  " + " ".join(f"{n}={r[n]:08x}" for n in row))
        lines.extend("  " + n for n in self.notes)
        if self.backtrace:
            lines.append("backtrace:")
            lines.extend(f"  #{i} {f}" for i, f in enumerate(self.backtrace))
        return "\n".join(lines)


def _bits(value: int, table: dict[int, str]) -> list[str]:
    return [text for bit, text in sorted(table.items()) if value & (1 << bit)]


def exception_name(number: int) -> str:
    if number >= 16:
        return f"IRQ {number - 16}"
    return EXCEPTIONS.get(number, f"exception {number}")


def reason_of(record: CrashRecord) -> tuple[str, str, list[str]]:
    """(reason, kind, notes) of a record, from its kind and fault status bits."""
    if record.arch == "rv32":
        return _rv_reason(record)
    r = record.registers
    exc = exception_name(record.exception)
    notes = []
    if r["cfsr"] & CFSR_MMARVALID:
        notes.append(f"MemManage fault address: 0x{r['mmfar']:08x}")
    if r["cfsr"] & CFSR_BFARVALID:
        notes.append(f"bus fault address: 0x{r['bfar']:08x}")
    if not record.frame_valid:
        notes.append("the stack pointer was not in RAM: the registers are not the crash's")
    if record.kind == KIND_ASSERT:
        return "assertion failed (MG_ASSERT)", "assert", notes
    if record.kind == KIND_STACK:
        return ("stack overflow (the guard word at the bottom of the stack was "
                f"overwritten; seen in {exc})"), "stack overflow", notes
    details = _bits(r["cfsr"], CFSR_BITS) + _bits(r["sfsr"], SFSR_BITS)
    details += _bits(r["hfsr"], HFSR_BITS)
    if record.exception < 2 or record.exception in (11, 12, 14, 15) or record.exception >= 16:
        return f"unexpected exception: {exc}", "fault", notes
    kind = "stack overflow" if r["cfsr"] & CFSR_STKOF else "fault"
    return (f"{exc} ({', '.join(details)})" if details else exc), kind, notes


def _rv_reason(record: CrashRecord) -> tuple[str, str, list[str]]:
    r = record.registers
    cause = r["mcause"]
    code = cause & 0x7FFFFFFF
    if cause & 0x80000000:
        what = RV_INTERRUPTS.get(code, f"interrupt {code}")
    else:
        what = RV_CAUSES.get(code, f"exception {code}")
    if record.kind == KIND_ASSERT:
        return "assertion failed (MG_ASSERT)", "assert", []
    if record.kind == KIND_STACK:
        return ("stack overflow (the guard word at the bottom of the stack was "
                f"overwritten; seen in the {what})"), "stack overflow", []
    if cause & 0x80000000:
        return f"unexpected interrupt: {what}", "fault", []
    if code in (0, 1, 4, 5, 6, 7, 12, 13, 15):
        return f"{what} (address 0x{r['mtval']:08x})", "fault", []
    if code == 2:
        return f"{what} (0x{r['mtval']:08x})", "fault", []
    return what, "fault", []


# ---- the ELF side ------------------------------------------------------------------------
def _elftools() -> Any:
    try:
        from elftools.elf import elffile
    except ImportError:  # pragma: no cover - depends on the environment
        raise NotAvailableError(
            "decoding crashes needs pyelftools: pip install 'cymongoose-sdk[device]' "
            "(or pip install pyelftools)") from None
    return elffile


class ElfInfo:
    """Functions, line table and code bytes of one ELF, read once."""

    def __init__(self, path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
                 ) -> None:
        elffile = _elftools()
        self.path = str(path)
        self.root = os.path.abspath(root) if root else ""  # set from the sources below
        self._funcs: list[tuple[int, int, str]] = []  # (start, end, name), sorted
        self._lines: list[tuple[int, str, int]] = []  # (address, file, line), sorted
        self._code: list[tuple[int, bytes]] = []  # (address, bytes) of executable sections
        self.machine = ""
        try:
            with open(self.path, "rb") as f:
                elf = elffile.ELFFile(f)
                self.machine = str(elf["e_machine"])  # EM_ARM, EM_RISCV ...
                self._read_symbols(elf)
                self._read_code(elf)
                if elf.has_dwarf_info():
                    self._read_lines(elf.get_dwarf_info())
        except OSError as exc:
            raise DeviceError(f"cannot read ELF {self.path}: {exc.strerror}") from None
        except Exception as exc:
            if isinstance(exc, DeviceError):
                raise
            raise DeviceError(f"{self.path} is not a readable ELF: {exc}") from None
        self._func_starts = [f[0] for f in self._funcs]
        self._line_addrs = [ln[0] for ln in self._lines]

    def _read_symbols(self, elf: Any) -> None:
        symtab = elf.get_section_by_name(".symtab")
        if symtab is None:
            return
        for sym in symtab.iter_symbols():
            if sym["st_info"]["type"] != "STT_FUNC" or sym["st_size"] == 0 or not sym.name:
                continue
            start = sym["st_value"] & ~1
            self._funcs.append((start, start + sym["st_size"], sym.name))
        self._funcs.sort()

    def _read_code(self, elf: Any) -> None:
        for sec in elf.iter_sections():
            if sec["sh_flags"] & CODE_SECTION_FLAGS and sec["sh_type"] == "SHT_PROGBITS":
                self._code.append((sec["sh_addr"], sec.data()))

    def _read_lines(self, dwarf: Any) -> None:
        rows: list[tuple[int, str, int]] = []
        sources: list[str] = []
        for cu in dwarf.iter_CUs():
            prog = dwarf.line_program_for_CU(cu)
            if prog is None:
                continue
            top = cu.get_top_DIE()
            comp_dir = top.attributes.get("DW_AT_comp_dir")
            base = comp_dir.value.decode(errors="replace") if comp_dir else ""
            cu_name = top.attributes.get("DW_AT_name")
            if cu_name:
                src = os.path.join(base, cu_name.value.decode(errors="replace"))
                # The firmware's own sources were compiled where the ELF was linked
                # (not the toolchain's libraries, built elsewhere).
                if base and os.path.realpath(self.path).startswith(base.rstrip("/") + "/"):
                    sources.append(os.path.normpath(src))
            files = prog["file_entry"]
            dirs = prog["include_directory"]
            v5 = prog["version"] >= 5
            names: dict[int, str] = {}

            def name_of(index: int, files: Any = files, dirs: Any = dirs, v5: bool = v5,
                        base: str = base, names: dict[int, str] = names) -> str:
                if index not in names:
                    i = index if v5 else index - 1  # DWARF 5 counts files from 0
                    if not 0 <= i < len(files):
                        names[index] = "?"
                        return "?"
                    entry = files[i]
                    d = entry.dir_index
                    if v5:
                        folder = dirs[d] if d < len(dirs) else b""
                    else:
                        folder = dirs[d - 1] if 0 < d <= len(dirs) else b""
                    path = os.path.join(base, folder.decode(errors="replace"),
                                        entry.name.decode(errors="replace"))
                    names[index] = os.path.normpath(path)
                return names[index]

            for entry in prog.get_entries():
                st = entry.state
                if st is None:
                    continue
                if st.end_sequence:
                    rows.append((st.address, "", 0))
                else:
                    rows.append((st.address, name_of(st.file), st.line))
        rows.sort(key=lambda r: r[0])
        if not self.root and sources:
            # The project: the folder all of the firmware's own sources are under.
            try:
                self.root = os.path.commonpath(sources)
            except ValueError:  # relative and absolute paths mixed
                self.root = ""
        short: dict[str, str] = {}
        for i, (addr, file, line) in enumerate(rows):
            if file and file not in short:
                short[file] = self._short(file)
            rows[i] = (addr, short.get(file, file), line)
        self._lines = rows

    def _short(self, path: str) -> str:
        if not self.root or not os.path.isabs(path):
            return path
        rel = os.path.relpath(path, self.root)
        return path if rel.startswith("..") else rel

    def function(self, address: int) -> str | None:
        i = bisect.bisect_right(self._func_starts, address) - 1
        if i >= 0 and self._funcs[i][0] <= address < self._funcs[i][1]:
            return self._funcs[i][2]
        return None

    def source(self, address: int) -> tuple[str | None, int | None]:
        i = bisect.bisect_right(self._line_addrs, address) - 1
        # An end of sequence and the start of the next may share an address:
        # a real row at the same address wins.
        j = i
        while j >= 0 and self._line_addrs[j] == self._line_addrs[i]:
            if self._lines[j][1]:
                return self._lines[j][1], self._lines[j][2]
            j -= 1
        return None, None

    def frame(self, address: int, *, lookup: int | None = None) -> Frame:
        """The frame of ``address``; ``lookup`` is the address to resolve (a return
        address resolves one instruction earlier: at its call)."""
        at = address if lookup is None else lookup
        fn = self.function(at)
        if fn is None:
            return Frame(address)
        file, line = self.source(at)
        return Frame(address, fn, file, line)

    def halfword(self, address: int) -> int | None:
        for start, data in self._code:
            if start <= address and address + 2 <= start + len(data):
                off = address - start
                return int.from_bytes(data[off:off + 2], "little")
        return None

    def follows_call(self, ret: int) -> bool:
        """True if the instruction just before ``ret`` is a call: Thumb BL or BLX;
        RISC-V jal/jalr linking ra, c.jal, c.jalr."""
        h2, h1 = self.halfword(ret - 2), self.halfword(ret - 4)
        if self.machine == "EM_RISCV":
            if h2 is not None and ((h2 & 0xE003) == 0x2001 or  # c.jal (RV32)
                                   ((h2 & 0xF07F) == 0x9002 and (h2 >> 7) & 0x1F)):  # c.jalr
                return True
            if h1 is None or h2 is None or h1 & 3 != 3:
                return False
            insn = h1 | (h2 << 16)
            return (insn & 0xFFF) == 0x0EF or (  # jal ra, imm
                (insn & 0x707F) == 0x0067 and (insn >> 7) & 0x1F == 1)  # jalr ra
        if h2 is not None and (h2 & 0xFF87) == 0x4780:  # BLX Rm
            return True
        return (h1 is not None and h2 is not None and (h1 & 0xF800) == 0xF000
                and (h2 & 0xD000) == 0xD000)  # BL <imm>


_CACHE: dict[tuple[str, float, str], ElfInfo] = {}
_CACHE_LOCK = threading.Lock()


def load_elf(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
             ) -> ElfInfo:
    """:class:`ElfInfo` of ``path``, cached while the file is unchanged."""
    p = os.path.abspath(path)
    try:
        key = (p, os.stat(p).st_mtime, str(root or ""))
    except OSError as exc:
        raise DeviceError(f"cannot read ELF {path}: {exc.strerror}") from None
    with _CACHE_LOCK:
        info = _CACHE.get(key)
        if info is None:
            info = _CACHE[key] = ElfInfo(p, root)
        return info


def _is_code_return(elf: ElfInfo, word: int, rv: bool) -> bool:
    """Thumb return addresses have bit 0 set; RISC-V ones are 2-byte aligned."""
    if rv == bool(word & 1):
        return False
    ret = word & ~1
    return elf.function(ret) is not None and elf.follows_call(ret)


def decode(record: CrashRecord | str, elf: str | os.PathLike[str] | ElfInfo | None = None,
           *, root: str | os.PathLike[str] | None = None, max_frames: int = 16) -> Crash:
    """Decode a record (or the first one in a text) against the firmware ELF.

    Without an ELF the reason and registers are still decoded; frames then carry
    addresses only. ``root``: file names under it are shown relative to it
    (default: the current directory).
    """
    if isinstance(record, str):
        record = parse_record(record)
    reason, kind, notes = reason_of(record)
    regs = record.registers
    info: ElfInfo | None
    if elf is None or isinstance(elf, ElfInfo):
        info = elf
    else:
        info = load_elf(elf, root)
    pc, lr = regs["pc"], regs["lr"]
    frames: list[Frame] = []
    # A stack-limit fault (STKOF) or a stack pointer outside RAM leaves no frame:
    # those words are just stack, scanned like the rest.
    trusted = record.frame_valid and not regs.get("cfsr", 0) & CFSR_STKOF
    scan = record.stack if trusted else list(record.words[4:12]) + record.stack
    if trusted:
        frames.append(info.frame(pc & ~1) if info else Frame(pc & ~1))
        if lr & 0xFF000000 != 0xFF000000 and lr:  # not an EXC_RETURN value
            ret = lr & ~1
            frames.append(info.frame(ret, lookup=ret - 2) if info else Frame(ret))
    if info is not None:
        for w in scan:
            if len(frames) >= max_frames:
                break
            if _is_code_return(info, w, record.arch == "rv32"):
                ret = w & ~1
                frames.append(info.frame(ret, lookup=ret - 2))
        if frames and frames[0].function is None and trusted:
            notes.append(f"pc 0x{pc:08x} is in no function: a call through a bad pointer? "
                         "lr shows the caller")
    exc = (exception_name(record.exception) if record.arch == "cortex-m"
           else f"mcause 0x{record.exception:08x}")
    return Crash(reason=reason, kind=kind, exception=exc,
                 pc=pc, lr=lr, registers=regs, backtrace=frames, record=record,
                 elf=info.path if info else None, notes=notes)


def decode_log(text: str, elf: str | os.PathLike[str] | None = None, *,
               root: str | os.PathLike[str] | None = None) -> list[Crash]:
    """Every crash record in a saved console log, decoded."""
    info = load_elf(elf, root) if elf is not None else None
    return [decode(r, info) for r in find_records(text)]


def read_log(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DeviceError(f"cannot read {path}: {exc.strerror}") from None


decode_crash = decode  # the names cymongoose.device exports
find_crash_records = find_records
