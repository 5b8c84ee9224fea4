"""Hangs located through the gdbstub (issue 18 §1): a device that goes silent
(debug.hang masks interrupts and spins) makes a timed-out wait say "device
hung: no output for N s; pc at debug_hang_spin (examples/device_app/rpc.c:L)"
instead of a bare time-out, on every emulated board."""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from cymongoose.device import QemuTarget
from cymongoose.device.crash import load_elf
from cymongoose.device.errors import DeviceHung, ExpectTimeoutError
from cymongoose.device.hang import locate
from cymongoose.device.rpc import RpcClient, RpcTimeoutError
from mgtest import REPO, board_image, emulated_boards

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_device_plugin import run_pytest

BOARDS = sorted(b.name for b in emulated_boards())
ARCH = {b.name: b.arch for b in emulated_boards()}
ARTIFACTS = REPO / "artifacts" / "hang"
RPC_C = "examples/device_app/rpc.c"


def function_start(elf: Path, name: str) -> int:
    info = load_elf(elf)
    return next(f[0] for f in info._funcs if f[2] == name)


def test_locate_against_the_reference_elf() -> None:
    """Registers and a stack copy -> the function and line of pc, then the callers."""
    elf = board_image("mps2-an385", "device_app")
    info = load_elf(elf)
    pc = function_start(elf, "debug_hang_spin") + 4
    hang = locate(pc, 0xFFFFFFF9, 0x20001000, [0x12345678, 0x20001000], silence=3.25,
                  arch="arm", elf=info)
    assert hang.location.function == "debug_hang_spin"
    assert hang.location.file == RPC_C and hang.location.line
    assert hang.summary() == (f"no output for 3.2 s; pc at debug_hang_spin "
                              f"({RPC_C}:{hang.location.line})")
    assert len(hang.backtrace) == 1  # an EXC_RETURN lr and junk on the stack: no frames
    # Without an ELF: the address, and a note saying why.
    bare = locate(0x1234, None, None, [], silence=2.0, arch="arm", elf=None)
    assert bare.summary() == "no output for 2.0 s; pc at 0x00001234 (no function)"
    assert "no firmware ELF" in str(bare)


def need_emulator(board: str) -> None:
    from cymongoose.device import load_boards

    qemu = str(load_boards(include_user=False).get(board).qemu.get("binary", "qemu-system-arm"))
    if shutil.which(qemu) is None:
        pytest.skip(f"{qemu} is not installed")


def boot(board: str, name: str, gdb: str | None = "unix") -> QemuTarget:
    return QemuTarget(board_image(board, "device_app"), board, nic="user", gdb=gdb,
                      log_path=ARTIFACTS / board / f"{name}.log")


@pytest.mark.qemu
@pytest.mark.parametrize("board", BOARDS)
def test_debug_hang_is_located(board: str) -> None:
    """The RPC that never answers fails with where the CPU spins; the CPU runs on
    after the probe (detached), and a console wait says the same."""
    need_emulator(board)
    with boot(board, "hang") as t:
        rpc = RpcClient(t.console, timeout=20)
        rpc.wait_notification("ready", timeout=15)
        t.console.hang_after = 1.0
        with pytest.raises(RpcTimeoutError) as exc:
            rpc.request("debug.hang", timeout=3.0)
        hang = exc.value.hang
        assert hang is not None and hang is t.console.hang, str(exc.value)
        assert hang.silence >= 1.0 and hang.pc == hang.location.address
        assert hang.location.function == "debug_hang_spin", str(hang)
        assert hang.location.file == RPC_C and hang.location.line, str(hang)
        assert re.match(rf"device hung: no output for \d+\.\d s; pc at debug_hang_spin "
                        rf"\({re.escape(RPC_C)}:\d+\)", str(exc.value)), str(exc.value)
        assert "m_debug_hang" in [f.function for f in hang.backtrace], str(hang)
        # The probe detached: the emulator still runs, and a second wait probes again.
        assert t.returncode is None
        with pytest.raises(DeviceHung) as again:
            t.console.expect("never printed", timeout=1.5)
        assert again.value.hang.location.function == "debug_hang_spin"
        assert isinstance(again.value, ExpectTimeoutError)


@pytest.mark.qemu
def test_short_silence_or_no_gdbstub_is_a_plain_timeout() -> None:
    """Below hang_after, or with no gdbstub, a time-out stays a time-out."""
    need_emulator("mps2-an385")
    with boot("mps2-an385", "no_stub", gdb=None) as t:
        RpcClient(t.console).wait_notification("ready", timeout=15)
        assert t.console.hang_probe is None
        time.sleep(1.2)
        t.console.hang_after = 1.0
        with pytest.raises(ExpectTimeoutError) as exc:
            t.console.expect("never printed", timeout=0.5)
        assert not isinstance(exc.value, DeviceHung)
    with boot("mps2-an385", "short") as t:
        RpcClient(t.console).wait_notification("ready", timeout=15)
        t.console.hang_after = 60.0
        with pytest.raises(ExpectTimeoutError) as exc:
            t.console.expect("never printed", timeout=0.5)
        assert not isinstance(exc.value, DeviceHung) and t.console.hang is None


@pytest.mark.qemu
def test_pytest_reports_the_hang(tmp_path: Path) -> None:
    """In a test run the dut has a gdbstub by default: the failure names the spin."""
    need_emulator("mps2-an385")
    elf = board_image("mps2-an385", "device_app")
    out = run_pytest(tmp_path, """
        def test_hangs(dut):
            dut.rpc.wait_notification("ready", timeout=15)
            dut.rpc.notify("debug.hang")
            try:
                dut.expect_line("never printed", timeout=3)
            finally:
                assert dut.hang is not None
        """, "--firmware", str(elf), "--basetemp", str(tmp_path / "bt"), timeout=120)
    text = out.stdout + out.stderr
    assert "1 failed" in out.stdout, text
    assert re.search(r"device hung: no output for \d+\.\d s; pc at debug_hang_spin "
                     r"\(examples/device_app/rpc\.c:\d+\)", text), text
