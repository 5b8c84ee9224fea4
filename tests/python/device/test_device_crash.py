"""Crash records (issue 18 §1): the firmware's fault handler prints one framed
record for a fault, a failed MG_ASSERT and a stack overflow; the SDK finds it on
the console, decodes it against the ELF (reason from the fault status bits,
function and file:line from symbols and DWARF, a backtrace from the stack copy)
and fails a waiting test with DeviceCrashed at once instead of a time-out.

QEMU part: every debug.fault kind of the reference firmware on every emulated
board (images from `make fw`). The parser and decoder are also tested alone
on records built here against the reference ELF."""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from cymongoose.device import QemuTarget
from cymongoose.device.crash import (
    CrashRecordError,
    checksum,
    decode,
    decode_log,
    find_records,
    load_elf,
    parse_record,
)
from cymongoose.device.errors import DeviceCrashed, ExpectTimeoutError
from cymongoose.device.rpc import RpcClient
from mgtest import REPO, board_image, emulated_boards

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_device_cli import cli
from test_device_plugin import run_pytest

BOARDS = sorted(b.name for b in emulated_boards())
ARTIFACTS = REPO / "artifacts" / "crash"
BOOT_TIMEOUT = 15.0
RPC_C = "examples/device_app/rpc.c"

# kind -> (words the reason must contain, decoded kind)
EXPECTED = {
    "nullptr": ("invalid state", "fault"),
    "divzero": ("divide by zero", "fault"),
    "stack": ("stack overflow", "stack overflow"),
    "assert": ("assertion failed", "assert"),
}
# RV32: a call to 0 is an instruction access fault; division by zero does not
# trap at all (the ISA defines its result), so that kind returns.
EXPECTED_RV32 = dict(EXPECTED, nullptr=("instruction access fault (address 0x00000000)",
                                        "fault"))
ARCH = {b.name: b.arch for b in emulated_boards()}


def record_text(words: list[int]) -> str:
    body = [1, *words]
    body.append(checksum(body))
    return "*** crash " + " ".join(f"{w:08x}" for w in body) + " ***"


def make_record(kind: int = 0, exc: int = 3, pc: int = 0, lr: int = 0xFFFFFFF9,
                cfsr: int = 0, hfsr: int = 0, stack: list[int] | None = None,
                sp: int = 0x203FFD20) -> str:
    stack = stack or []
    return record_text([kind, exc, 0xFFFFFFF9, 1, 2, 3, 4, 12, lr, pc, 0x61000000, sp,
                        cfsr, hfsr, 0, 0, 0, 0, len(stack), *stack])


# ---- parser and decoder, no emulator ------------------------------------------------------
def test_parser_checks_checksum_length_and_version() -> None:
    text = make_record(pc=0x1234, cfsr=1 << 25, stack=[5, 6, 7])
    rec = parse_record(f"[  1.0] boot\n[  2.0] {text}\n")
    assert rec.registers["pc"] == 0x1234 and rec.stack == [5, 6, 7]
    bad = text.replace(" 00001234 ", " 00001235 ")  # one flipped nibble
    with pytest.raises(CrashRecordError, match="checksum"):
        parse_record(bad)
    short = text.replace(" 00000003 00000005", " 00000004 00000005")  # count 4, 3 words
    with pytest.raises(CrashRecordError, match="length|checksum"):
        parse_record(short)
    with pytest.raises(CrashRecordError, match="version"):
        parse_record(text.replace("*** crash 00000001", "*** crash 00000007", 1))
    # In a log, garbled records are skipped and good ones kept in order.
    log = f"x\n{bad}\n{text}\n{make_record(kind=1)}\n"
    assert [r.kind for r in find_records(log)] == [0, 1]


def test_reason_in_words_from_the_status_bits() -> None:
    assert decode(make_record(cfsr=1 << 25, hfsr=1 << 30)).reason == \
        "HardFault (divide by zero, escalated)"
    assert "imprecise data bus error" in decode(make_record(exc=5, cfsr=1 << 10)).reason
    c = decode(make_record(exc=4, cfsr=(1 << 1) | (1 << 7)))
    assert c.reason.startswith("MemManage (data access violation")
    assert decode(make_record(cfsr=1 << 20)).kind == "stack overflow"
    assert decode(make_record(kind=1)).kind == "assert"
    assert decode(make_record(kind=2, exc=15)).kind == "stack overflow"
    assert decode(make_record(exc=16 + 13)).reason == "unexpected exception: IRQ 13"
    # Without an ELF the frames carry addresses only.
    assert decode(make_record(pc=0x100)).backtrace[0].function is None


def test_rv32_record() -> None:
    """Layout 2 (RISC-V): mcause/mepc/mtval, the saved registers, the stack."""
    def rv(kind: int, mcause: int, mepc: int, mtval: int = 0) -> str:
        saved = [0x80002450] + list(range(1, 16))  # ra first
        body = [2, kind, mcause, mepc, mtval, 0x1880, 0x807FFD00, *saved, 2, 7, 8]
        return "*** crash " + " ".join(f"{w:08x}" for w in [*body, checksum(body)]) + " ***"

    c = decode(rv(0, 5, 0x80001000, 0x4))
    assert c.reason == "load access fault (address 0x00000004)" and c.kind == "fault"
    assert c.pc == 0x80001000 and c.lr == 0x80002450 and c.registers["a0"] == 4
    assert c.record.stack == [7, 8] and "mcause=00000005" in str(c)
    assert decode(rv(1, 3, 0x80001000)).kind == "assert"
    assert decode(rv(2, 0x80000007, 0x80001000)).kind == "stack overflow"
    assert decode(rv(0, 0x8000000B, 0)).reason.startswith("unexpected interrupt")


def call_sites(elf_path: Path, function: str) -> list[int]:
    """Return addresses of the calls inside ``function`` (read from the ELF's code)."""
    info = load_elf(elf_path)
    start, end, _ = next(f for f in info._funcs if f[2] == function)
    return [a for a in range(start + 4, end + 2, 2) if info.follows_call(a)]


def test_decoder_against_the_reference_elf() -> None:
    elf = board_image("mps2-an385", "device_app")
    info = load_elf(elf)
    start = next(f[0] for f in info._funcs if f[2] == "debug_fault_divzero")
    ret = call_sites(elf, "m_debug_fault")[0]
    deeper = call_sites(elf, "rpc_call")[-1]
    # The stack holds junk, a data pointer, an odd word that is no return address
    # (not after a call), and two real return addresses.
    stack = [0x12345678, 0x20001000, start | 1, (ret | 1), 0, deeper | 1]
    text = make_record(pc=start + 2, lr=ret | 1, cfsr=1 << 25, hfsr=1 << 30, stack=stack)
    crashes = decode_log(f"[ 0.1] booting\n[ 0.2] {text}\n[ 0.3] [console closed]\n", elf)
    assert len(crashes) == 1
    c = crashes[0]
    assert c.pc == start + 2 and c.lr == ret | 1
    assert c.location is not None and c.location.function == "debug_fault_divzero"
    assert c.location.file == RPC_C and (c.location.line or 0) > 0
    names = [f.function for f in c.backtrace]
    assert names == ["debug_fault_divzero", "m_debug_fault", "m_debug_fault", "rpc_call"]
    assert all(f.file and f.line for f in c.backtrace)
    text_out = str(c)
    assert text_out.startswith("HardFault (divide by zero, escalated) at debug_fault_divzero "
                               f"({RPC_C}:")
    assert "backtrace:" in text_out and "#3 " in text_out


def test_elf_that_is_not_one(tmp_path: Path) -> None:
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"\x7fELF" + b"\0" * 10)
    with pytest.raises(Exception, match="not a readable ELF"):
        decode(make_record(), junk)


# ---- on the emulated boards ---------------------------------------------------------------
def boot(board: str, name: str) -> QemuTarget:
    # A NIC: the RISC-V board's app stops without its virtio-net device.
    return QemuTarget(board_image(board, "device_app"), board, nic="user",
                      log_path=ARTIFACTS / board / f"{name}.log")


@pytest.fixture(scope="module", autouse=False)
def need_qemu() -> None:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")


def need_emulator(board: str) -> None:
    from cymongoose.device import load_boards

    qemu = str(load_boards(include_user=False).get(board).qemu.get("binary", "qemu-system-arm"))
    if shutil.which(qemu) is None:
        pytest.skip(f"{qemu} is not installed")


@pytest.mark.qemu
@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("board", BOARDS)
def test_debug_fault_is_decoded(board: str, kind: str) -> None:
    """The RPC call that crashes the board raises DeviceCrashed at once (not
    RpcTimeoutError after 20 s) naming the reason and debug_fault_<kind>."""
    need_emulator(board)
    rv = ARCH[board].startswith("riscv")
    words, want_kind = (EXPECTED_RV32 if rv else EXPECTED)[kind]
    with boot(board, kind) as t:
        rpc = RpcClient(t.console, timeout=20)
        rpc.wait_notification("ready", timeout=BOOT_TIMEOUT)
        if rv and kind == "divzero":  # no trap on RISC-V: the method returns
            assert rpc.call("debug.fault", kind=kind) is False
            assert rpc.call("info")["board"] == board and t.console.crash is None
            return
        t0 = time.monotonic()
        with pytest.raises(DeviceCrashed) as exc:
            rpc.call("debug.fault", kind=kind)
        assert time.monotonic() - t0 < 10  # the record, not the RPC time-out
        crash = exc.value.crash
        assert crash is not None and crash is t.console.crash
        assert words in crash.reason and crash.kind == want_kind, str(crash)
        loc = crash.location
        assert loc is not None and loc.function == f"debug_fault_{kind}", str(crash)
        assert loc.file == RPC_C and loc.line, str(crash)
        assert str(exc.value).startswith(f"device crashed: {crash.reason} at "
                                         f"debug_fault_{kind} ({RPC_C}:{loc.line})")
        if kind != "stack":  # the caller is on the stack copy (or in lr)
            assert "m_debug_fault" in [f.function for f in crash.backtrace], str(crash)
        assert t.wait(10) == 125  # the board stopped: nothing runs on broken


@pytest.mark.qemu
def test_no_crash_is_a_timeout_not_a_crash(need_qemu: None) -> None:
    with boot("mps2-an385", "no_crash") as t:
        RpcClient(t.console).wait_notification("ready", timeout=BOOT_TIMEOUT)
        with pytest.raises(ExpectTimeoutError):
            t.console.wait_crash(0.5)
        assert t.console.crash is None


@pytest.mark.qemu
def test_pytest_reports_the_crash(need_qemu: None, tmp_path: Path) -> None:
    """In a test run: an unexpected crash fails the test with the decoded crash
    (not a time-out), also when the test itself passed; expect_crash +
    dut.wait_crash lets a test assert on it."""
    elf = board_image("mps2-an385", "device_app")
    out = run_pytest(tmp_path, """
        import pytest

        def test_unexpected(dut):
            dut.rpc.wait_notification("ready", timeout=15)
            dut.rpc.call("debug.fault", kind="divzero")

        def test_passes_but_the_device_crashed(dut):
            dut.rpc.wait_notification("ready", timeout=15)
            dut.rpc.notify("debug.fault", kind="stack")
            assert dut.target.wait(10) == 125  # nothing here waits on the console

        @pytest.mark.dut(expect_crash=True)
        def test_expected(dut):
            dut.rpc.wait_notification("ready", timeout=15)
            dut.rpc.notify("debug.fault", kind="assert")
            crash = dut.wait_crash(10)
            assert crash is dut.crash and crash.kind == "assert"
            assert crash.location.function == "debug_fault_assert"
        """, "--firmware", str(elf), "--basetemp", str(tmp_path / "bt"), timeout=180)
    text = out.stdout + out.stderr
    assert "2 failed, 1 passed" in out.stdout, text
    assert "FAILED test_generated.py::test_passes_but_the_device_crashed" in text
    assert re.search(r"device crashed: stack overflow .* at debug_fault_stack", text), text
    assert re.search(r"device crashed: HardFault \(divide by zero, escalated\) at "
                     r"debug_fault_divzero \(examples/device_app/rpc\.c:\d+\)", text), text
    assert "backtrace:" in text and "m_debug_fault" in text
    assert "Timeout" not in text


# ---- the CLI --------------------------------------------------------------------------------
@pytest.mark.qemu
def test_cli_decode_and_console(need_qemu: None, tmp_path: Path) -> None:
    """`cymongoose console` names the crash instead of waiting out --timeout;
    `cymongoose decode` decodes the record in the session log it saved."""
    elf = board_image("mps2-an385", "device_app")
    log = tmp_path / "session.log"
    frame = '\x1e{"jsonrpc":"2.0","id":1,"method":"debug.fault","params":{"kind":"nullptr"}}'
    t0 = time.monotonic()
    out = cli("console", "--firmware", str(elf), "--log", str(log), "--send", frame,
              "--expect", "never printed", "--timeout", "30")
    assert time.monotonic() - t0 < 25, out.stderr  # the record, not the --timeout
    assert out.returncode == 1, out.stdout + out.stderr
    assert re.search(r"device crashed: HardFault \(invalid state .*\) at debug_fault_nullptr "
                     r"\(examples/device_app/rpc\.c:\d+\)", out.stderr), out.stderr
    # The saved log holds the record; decode finds it again.
    out = cli("decode", "--elf", str(elf), str(log))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HardFault (invalid state")
    assert "debug_fault_nullptr (examples/device_app/rpc.c:" in out.stdout
    assert "#1 " in out.stdout and "m_debug_fault" in out.stdout
    # A log without a record: exit 1 and say so.
    empty = tmp_path / "empty.log"
    empty.write_text("[  0.1] cymongoose booting\n")
    out = cli("decode", "--elf", str(elf), str(empty))
    assert out.returncode == 1 and "no crash record" in out.stderr
