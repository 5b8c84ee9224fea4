"""The device SDK's callers of cymongoose.device.hostos, driven through the Windows (and macOS)
branches on Linux by setting ``hostos.PLATFORM``: what QEMU is asked for, how the console, frame
socket and QMP are reached over TCP loopback, how the emulator is started and killed (process
group flags and a Job Object instead of setsid/killpg), which signals end a run, which serial
port names are accepted, and that nothing POSIX-only is needed to import the package."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device import bridge, doctor, hostos, targets
from cymongoose.device.errors import DeviceError, NotAvailableError, PortNotFoundError
from cymongoose.device.targets import HostProcessTarget, QemuTarget
from cymongoose.device.transport import SerialTransport, SocketTransport


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostos, "PLATFORM", "win32")


def _opt(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_qemu_argv_on_windows_uses_tcp_loopback_everywhere(windows: None, tmp_path: Path) -> None:
    t = QemuTarget(None, "mps2-an385", nic="stream", gdb="unix")
    t._sockdir = str(tmp_path)
    try:
        cmd = t.command()
        assert cmd[0] == "qemu-system-arm.exe"
        assert re.fullmatch(r"socket,id=con0,host=127\.0\.0\.1,port=\d+,server=on,wait=on",
                            _opt(cmd, "-chardev"))
        assert t.gdb is not None and t.gdb.path is None and t.gdb.port
        assert _opt(cmd, "-gdb") == f"tcp:127.0.0.1:{t.gdb.port}"
        assert t._netdev_listener is not None
        port = t._netdev_listener.getsockname()[1]
        assert _opt(cmd, "-netdev") == (
            f"stream,id=net0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port}")
        assert t.netdev_path is None and t.netdev_address == f"tcp:127.0.0.1:{port}"
        assert re.fullmatch(r"tcp:127\.0\.0\.1:\d+,server=on,wait=off", _opt(cmd, "-qmp"))
        assert t.qmp_path is None
        assert not any(str(tmp_path) in a for a in cmd)  # no unix socket anywhere
        assert os.listdir(tmp_path) == []
    finally:
        t.stop()


def test_qemu_argv_on_linux_keeps_unix_sockets(tmp_path: Path) -> None:
    t = QemuTarget(None, "mps2-an385", nic="stream", gdb="unix")
    t._sockdir = str(tmp_path)
    try:
        cmd = t.command()
        assert cmd[0] == "qemu-system-arm"
        assert _opt(cmd, "-chardev") == (
            f"socket,id=con0,path={tmp_path}/console.sock,server=on,wait=on")
        assert _opt(cmd, "-gdb") == f"unix:{tmp_path}/gdb.sock,server=on,wait=off"
        assert t.netdev_path == f"{tmp_path}/net.sock"
        assert _opt(cmd, "-netdev") == (
            f"stream,id=net0,server=off,addr.type=unix,addr.path={t.netdev_path}")
        assert _opt(cmd, "-qmp") == f"unix:{tmp_path}/qmp.sock,server=on,wait=off"
    finally:
        t.stop()


# A stand-in for QEMU for Windows: serves the console chardev and QMP on the TCP ports of its
# command line, connects to the frame socket and sends one frame, then runs until killed.
FAKE_QEMU = """\
import json, re, socket, struct, sys, threading, time
args = sys.argv[1:]
opt = lambda flag: args[args.index(flag) + 1]
con = dict(kv.split("=", 1) for kv in opt("-chardev").split(",")[1:])
net = dict(kv.split("=", 1) for kv in opt("-netdev").split(",")[1:])
qmp = re.match(r"tcp:([0-9.]+):(\\d+),", opt("-qmp"))
def listen(host, port):
    s = socket.socket(); s.bind((host, int(port))); s.listen(1); return s
qmp_l = listen(qmp.group(1), qmp.group(2))
con_l = listen(con["host"], con["port"])
def serve_qmp():
    c, _ = qmp_l.accept(); f = c.makefile("rwb")
    f.write(b'{"QMP": {}}\\n'); f.flush()
    for line in f:
        cmd = json.loads(line)
        if cmd.get("execute") == "set_link":
            print("set_link", cmd["arguments"], file=sys.stderr, flush=True)
        f.write(b'{"return": {}}\\n'); f.flush()
threading.Thread(target=serve_qmp, daemon=True).start()
c, _ = con_l.accept()
c.sendall(b"fake-qemu up\\r\\n")
n = socket.create_connection((net["addr.host"], int(net["addr.port"])))
frame = bytes(range(60))
n.sendall(struct.pack(">I", len(frame)) + frame)
time.sleep(60)
"""


def test_qemu_target_runs_the_windows_branch_end_to_end(
        windows: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "qemu-system-arm.exe"
    fake.write_text(f"#!{sys.executable}\n{FAKE_QEMU}")
    fake.chmod(0o755)
    looked_up: list[str] = []

    def find_qemu(binary: str, system: str | None = None, environ: Any = None) -> str:
        looked_up.append(binary)
        return str(fake)

    monkeypatch.setattr(hostos, "find_qemu", find_qemu)
    seen: list[tuple[list[str], dict[str, Any]]] = []
    real_popen = subprocess.Popen

    def popen(argv: list[str], **kw: Any) -> Any:
        seen.append((list(argv), dict(kw)))
        assert kw.pop("creationflags") == hostos.CREATE_NEW_PROCESS_GROUP
        kw["start_new_session"] = True  # what POSIX's Popen takes instead
        return real_popen(argv, **kw)

    monkeypatch.setattr(subprocess, "Popen", popen)
    jobs: list[tuple[str, int]] = []
    monkeypatch.setattr(hostos, "kill_on_close_job",
                        lambda pid, kernel32=None: jobs.append(("open", pid)) or 4242)
    monkeypatch.setattr(hostos, "close_job",
                        lambda job, kernel32=None: jobs.append(("close", job or 0)))

    def no_killpg(*a: Any) -> None:
        raise AssertionError("os.killpg on the Windows branch")

    monkeypatch.setattr(os, "killpg", no_killpg)

    t = QemuTarget(None, "mps2-an385", nic="stream", start_timeout=10)
    with t:
        assert looked_up == ["qemu-system-arm"]
        argv, kw = seen[0]
        assert argv[0] == str(fake)  # no setpriv wrapper: Windows guards with the job
        assert "start_new_session" not in kw
        assert t.proc is not None
        pid = t.proc.pid
        assert jobs == [("open", pid)]
        t.console.expect_line("fake-qemu up", timeout=10)
        link = t.frame_link(timeout=10)
        assert link.recv(timeout=10) == bytes(range(60))
        t.set_link(False)
        deadline = time.monotonic() + 10
        while b"set_link" not in Path(t.stderr_path).read_bytes():
            assert time.monotonic() < deadline, "QMP set_link never reached the fake QEMU"
            time.sleep(0.02)
        assert b"'up': False" in Path(t.stderr_path).read_bytes()
        sockdir = t._sockdir
    assert jobs == [("open", pid), ("close", 4242)]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sockdir is not None and not os.path.exists(sockdir)


def test_cleanup_on_windows_terminates_the_child_and_closes_the_job(
        windows: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)

    def no_killpg(*a: Any) -> None:
        raise AssertionError("os.killpg on the Windows branch")

    monkeypatch.setattr(os, "killpg", no_killpg)
    closed: list[int | None] = []
    monkeypatch.setattr(hostos, "close_job", lambda job, kernel32=None: closed.append(job))
    sockdir = tmp_path / "cmg-x"
    sockdir.mkdir()
    targets._cleanup(proc, str(sockdir), 77)
    assert proc.returncode == -signal.SIGKILL  # Popen.kill: TerminateProcess on Windows
    assert closed == [77] and not sockdir.exists()


def test_a_failed_job_object_kills_the_child_and_says_so(
        windows: None, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(argv: list[str], **kw: Any) -> Any:
        kw.pop("creationflags")
        p = real_popen(argv, start_new_session=True, **kw)
        started.append(p)
        return p

    def refuse(pid: int, kernel32: Any = None) -> int:
        raise OSError("cannot put process into a kill-on-close job")

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(hostos, "kill_on_close_job", refuse)
    with pytest.raises(DeviceError, match="outliving us"):
        targets._start_guarded(["sleep", "30"])
    assert started[0].poll() is not None  # not left running unguarded


def test_no_pty_on_windows(windows: None) -> None:
    with pytest.raises(ValueError, match="pseudo-terminals"):
        QemuTarget(None, "mps2-an385", serial="pty")
    with pytest.raises(NotAvailableError, match="pseudo-terminal"):
        HostProcessTarget(["/bin/true"]).start()


def test_unix_socket_callers_refuse_cleanly_on_windows(windows: None) -> None:
    with pytest.raises(PortNotFoundError, match="unix sockets are not available"):
        SocketTransport.connect_unix("/tmp/nowhere.sock")
    with pytest.raises(DeviceError, match="unix sockets are not available"):
        bridge.connect_netdev("unix:/tmp/nowhere.sock", timeout=0.1)
    with pytest.raises(NotAvailableError, match="TAP"):
        bridge.TapDevice("tap0")
    with pytest.raises(NotAvailableError, match="termios"):
        bridge.open_raw_serial("COM3")


def test_netdev_over_tcp_still_connects_on_windows(windows: None) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        s = bridge.connect_netdev(f"tcp:127.0.0.1:{srv.getsockname()[1]}", timeout=2)
        s.close()


def test_serial_port_names_reach_pyserial(monkeypatch: pytest.MonkeyPatch) -> None:
    serial = pytest.importorskip("serial")
    opened: list[str] = []

    def serial_for_url(url: str, **kw: Any) -> Any:
        opened.append(url)
        raise serial.SerialException(f"could not open port {url}")

    monkeypatch.setattr(serial, "serial_for_url", serial_for_url)
    with pytest.raises(PortNotFoundError, match="/dev/ttyACM0"):
        SerialTransport("COM3")  # a Windows name on Linux: refused before pyserial
    assert opened == []
    monkeypatch.setattr(hostos, "PLATFORM", "win32")
    with pytest.raises(PortNotFoundError, match="COMn"):
        SerialTransport("/dev/ttyACM0")
    with pytest.raises(PortNotFoundError):
        SerialTransport("com12")
    assert opened == ["\\\\.\\COM12"]


def test_termination_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    assert hostos.termination_signal_names("windows") == ("SIGTERM", "SIGBREAK")
    assert hostos.termination_signal_names("darwin") == ("SIGTERM", "SIGHUP")
    assert hostos.termination_signals("linux") == [signal.SIGTERM, signal.SIGHUP]
    # The CLI installs its handlers for exactly those (no SIGHUP on Windows).
    from cymongoose.device import cli

    installed: list[int] = []
    monkeypatch.setattr(signal, "getsignal", lambda sig: signal.SIG_DFL)
    monkeypatch.setattr(signal, "signal", lambda sig, h: installed.append(sig))
    monkeypatch.setattr(hostos, "PLATFORM", "win32")
    assert cli.main([]) != 0  # usage
    assert installed == [signal.SIGTERM]  # SIGBREAK exists on Windows only
    installed.clear()
    monkeypatch.setattr(hostos, "PLATFORM", "linux")
    cli.main([])
    assert installed == [signal.SIGTERM, signal.SIGHUP]


def test_listening_ports_and_doctor_outside_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        ports = hostos.listening_tcp_ports("linux")
        assert ports is not None and srv.getsockname()[1] in ports
    assert hostos.listening_tcp_ports("windows") is None
    assert hostos.listening_tcp_ports("darwin") is None
    monkeypatch.setattr(hostos, "PLATFORM", "win32")
    monkeypatch.delattr(os, "geteuid")  # as on Windows
    assert doctor._cap_net_admin() is False
    assert "qemu.org" in hostos.qemu_install_hint("qemu-system-arm")
    assert hostos.qemu_install_hint("qemu-system-riscv32", "darwin") == "brew install qemu"
    assert hostos.qemu_install_hint("qemu-system-riscv32", "linux") == (
        "apt-get install qemu-system-misc")


def test_stdin_lines_without_select_on_windows() -> None:
    r, w = os.pipe()
    with os.fdopen(r, "r") as rf, os.fdopen(w, "w") as wf:
        lines = hostos.StdinLines(rf, "windows")
        assert lines._queue is not None  # the reader thread, not select
        assert lines.get(0.05) is None
        wf.write("hello\n")
        wf.flush()
        assert lines.get(5) == "hello\n"
        wf.close()
        assert lines.get(5) == ""


def test_stdin_lines_with_select_on_posix() -> None:
    r, w = os.pipe()
    with os.fdopen(r, "r") as rf, os.fdopen(w, "w") as wf:
        lines = hostos.StdinLines(rf, "linux")
        assert lines._queue is None
        assert lines.get(0.01) is None
        wf.write("x\n")
        wf.flush()
        assert lines.get(5) == "x\n"


def test_the_sdk_imports_without_posix_only_modules() -> None:
    # As on Windows: fcntl, termios, tty, pty and resource do not exist.
    code = textwrap.dedent("""\
        import sys
        for m in ("fcntl", "termios", "tty", "pty", "resource"):
            sys.modules[m] = None
        import cymongoose.device.bridge, cymongoose.device.targets, cymongoose.device.cli
        import cymongoose.device.pytest_plugin, cymongoose.device.console
        import cymongoose.device.cli.console, cymongoose.device.doctor
        print("ok")
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
