"""QEMU mps2-an385 target: console over unix/tcp/pty chardevs, exits, crashes, port forwards."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from cymongoose.device.errors import DeviceError, ImageError, TargetExitedError
from cymongoose.device.targets import QemuTarget

pytestmark = pytest.mark.qemu


@pytest.mark.parametrize("serial", ["unix", "tcp", "pty"])
def test_console_round_trip(qemu: str, testfw: Path, tmp_path: Path, serial: str) -> None:
    log = tmp_path / f"{serial}.log"
    with QemuTarget(testfw, serial=serial, log_path=log) as t:
        if serial != "pty":  # with a pty, output before we attach may be lost
            t.console.expect_line(r"^testfw 1\.0 ready$", timeout=10)
        t.console.send_line("add 19 23")
        assert t.console.expect_line(r"sum=(\d+)", timeout=10).group(1) == "42"
        tick = t.console.expect_line(r"tick (\d+) t=(\d+)", timeout=10)
        assert int(tick.group(2)) == (int(tick.group(1)) + 1) * 100
        t.console.send_line("echo hello device")
        t.console.expect_line(r"^echo: hello device$", timeout=10)
    text = log.read_text()
    assert "sum=42" in text and ">>> 'add 19 23\\n'" in text


def test_semihosting_exit_code_and_clear_error_after_exit(qemu: str, testfw: Path) -> None:
    with QemuTarget(testfw) as t:
        t.console.expect_line("ready", timeout=10)
        t.console.send_line("exit 7")
        assert t.wait(timeout=10) == 7
        with pytest.raises(TargetExitedError, match=r"QEMU \(mps2-an385\) exited \(exit code 7\)"):
            t.console.expect("anything", timeout=5)


def test_qemu_crash_mid_test_names_the_exit_and_stderr(qemu: str, testfw: Path) -> None:
    with QemuTarget(testfw) as t:
        t.console.expect_line("ready", timeout=10)
        assert t.proc is not None
        os.kill(t.proc.pid, signal.SIGKILL)  # the emulator "crashes"
        t0 = time.monotonic()
        with pytest.raises(TargetExitedError) as info:
            t.console.expect("tick 99", timeout=30)
        assert time.monotonic() - t0 < 10
        msg = str(info.value)
        assert "exit code -9" in msg and "target stderr" in msg and "waiting for connection" in msg


def test_qemu_refusing_to_start_reports_its_stderr(qemu: str, testfw: Path) -> None:
    t = QemuTarget(testfw, extra_args=["-no-such-option"])
    with pytest.raises(TargetExitedError, match="no-such-option"):
        t.start()
    t.stop()


def test_wrong_image_is_refused_before_booting(qemu: str) -> None:
    host_elf = Path(sys.executable).resolve()  # an ELF for the host CPU, not a Cortex-M3
    t = QemuTarget(host_elf)
    with pytest.raises(ImageError, match=r"built for .*, but board mps2-an385 has a cortex-m3"):
        t.start()
    assert t.proc is None


def test_user_networking_forwards_only_loopback_ports(qemu: str, testfw: Path) -> None:
    with QemuTarget(testfw, nic="user", hostfwd=[80, 1883]) as t:
        # No wait for the banner: start() returns once the forwards listen.
        assert set(t.forwarded) == {80, 1883}
        cmd = (t.workdir / "qemu.cmdline").read_text() if t.workdir else ""
        assert "restrict=on" in cmd and "model=lan9118" in cmd
        for guest, host in t.forwarded.items():
            assert f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" in cmd
            # QEMU itself listens on the host side of each forward.
            with socket.create_connection(("127.0.0.1", host), timeout=5):
                pass


def test_stop_kills_qemu_and_removes_sockets(qemu: str, testfw: Path) -> None:
    t = QemuTarget(testfw, gdb="unix").start()
    assert t.proc is not None and t.gdb is not None and t.gdb.path
    pid, sockdir = t.proc.pid, os.path.dirname(t.gdb.path)
    assert os.path.exists(t.gdb.path)
    t.stop()
    t.stop()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(sockdir)


def test_console_garbage_from_the_device(qemu: str, testfw: Path, tmp_path: Path) -> None:
    with QemuTarget(testfw, log_path=tmp_path / "g.log") as t:
        t.console.expect_line("ready", timeout=10)
        t.console.send_line("garbage")  # 64 bytes that are not UTF-8
        t.console.send_line("echo still fine")
        assert t.console.expect_line(r"^echo: (.*)$", timeout=10).group(1) == "still fine"
    assert "\ufffd" in (tmp_path / "g.log").read_text()


def test_bad_qemu_options_fail_before_starting() -> None:
    with pytest.raises(ValueError, match="serial must be"):
        QemuTarget(None, serial="usb")
    with pytest.raises(ValueError, match="nic must be"):
        QemuTarget(None, nic="tap")
    with pytest.raises(ValueError, match="hostfwd needs nic='user'"):
        QemuTarget(None, hostfwd=[80])
    with pytest.raises(DeviceError, match="not emulated"):
        QemuTarget(None, "nucleo-f746zg")
