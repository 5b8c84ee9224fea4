"""cymongoose.device.hostos: the per-OS branches (serial port names, the QEMU program, the frame
socket, no orphans), each selected explicitly so the Windows ones run here on Linux."""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import pytest
from cymongoose.device import hostos


def test_system_of_maps_sys_platform_values() -> None:
    assert hostos.system_of("win32") == "windows"
    assert hostos.system_of("windows") == "windows"
    assert hostos.system_of("darwin") == "darwin"
    assert hostos.system_of("linux") == "linux"
    assert hostos.system_of("freebsd14") == "linux"  # the POSIX branch
    assert hostos.system_of(None) == hostos.system_of(sys.platform)


def test_serial_port_names_on_windows() -> None:
    assert hostos.serial_port_name("COM3", "windows") == "COM3"
    assert hostos.serial_port_name("com3", "windows") == "COM3"
    # From COM10 on the Win32 API needs the device namespace prefix.
    assert hostos.serial_port_name("COM10", "windows") == "\\\\.\\COM10"
    assert hostos.serial_port_name("\\\\.\\com12", "windows") == "\\\\.\\COM12"
    assert hostos.serial_port_name("socket://127.0.0.1:5000", "windows") == \
        "socket://127.0.0.1:5000"
    for bad in ("/dev/ttyACM0", "COM0", "COM", "COM3x", "LPT1"):
        with pytest.raises(ValueError, match="COMn"):
            hostos.serial_port_name(bad, "windows")


def test_serial_port_names_on_posix() -> None:
    assert hostos.serial_port_name("/dev/ttyACM0", "linux") == "/dev/ttyACM0"
    assert hostos.serial_port_name("rfc2217://h:1", "darwin") == "rfc2217://h:1"
    with pytest.raises(ValueError, match="/dev/ttyACM0"):
        hostos.serial_port_name("COM3", "linux")
    assert hostos.is_com_port("com7") and not hostos.is_com_port("/dev/ttyS0")


def test_qemu_program_name_and_search_path() -> None:
    assert hostos.qemu_executable("qemu-system-arm", "windows") == "qemu-system-arm.exe"
    assert hostos.qemu_executable("qemu-system-arm.EXE", "windows") == "qemu-system-arm.EXE"
    assert hostos.qemu_executable("qemu-system-arm", "linux") == "qemu-system-arm"
    env = {"PATH": "C:\\tools", "ProgramFiles": "D:\\Apps"}
    assert hostos.qemu_search_path("windows", env) == "C:\\tools;D:\\Apps\\qemu"
    assert hostos.qemu_search_path("windows", {}) == "C:\\Program Files\\qemu"
    assert hostos.qemu_search_path("linux", {"PATH": "/usr/bin"}) == "/usr/bin"


def test_find_qemu_on_this_host(tmp_path: Any) -> None:
    prog = tmp_path / "qemu-system-fake"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o755)
    env = {"PATH": str(tmp_path)}
    assert hostos.find_qemu("qemu-system-fake", None, env) == str(prog)
    assert hostos.find_qemu("qemu-system-missing", None, env) is None
    # Windows' rules (.exe, ProgramFiles) cannot be tried on Linux: no false hit.
    assert hostos.find_qemu("qemu-system-fake", "windows", env) is None


def _frame_roundtrip(listener: socket.socket, family: int, addr: Any) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as c:
        c.connect(addr)
        conn, _ = listener.accept()
        with conn:
            c.sendall(b"\x00\x00\x00\x02hi")
            assert conn.recv(16) == b"\x00\x00\x00\x02hi"


def test_frame_socket_is_tcp_loopback_on_windows() -> None:
    assert hostos.frame_socket_kind("windows") == "tcp"
    with tempfile.TemporaryDirectory() as d:
        listener, opts = hostos.frame_listener(d, "windows")
        with listener:
            host, port = listener.getsockname()
            assert host == "127.0.0.1" and port > 0
            assert opts == f"addr.type=inet,addr.host=127.0.0.1,addr.port={port}"
            _frame_roundtrip(listener, socket.AF_INET, ("127.0.0.1", port))
        assert os.listdir(d) == []  # nothing left in the socket directory


def test_frame_socket_is_unix_on_linux() -> None:
    assert hostos.frame_socket_kind("linux") == "unix"
    with tempfile.TemporaryDirectory() as d:
        listener, opts = hostos.frame_listener(d, "linux")
        with listener:
            path = os.path.join(d, "netdev.sock")
            assert opts == f"addr.type=unix,addr.path={path}"
            _frame_roundtrip(listener, socket.AF_UNIX, path)


def test_popen_kwargs_and_orphan_guard() -> None:
    assert hostos.popen_kwargs("windows") == {"creationflags": 0x200}
    assert hostos.popen_kwargs("linux") == {"start_new_session": True}
    cmd = ["qemu-system-arm", "-M", "mps2-an385"]
    assert hostos.orphan_guard_command(cmd, "windows", setpriv="/usr/bin/setpriv") == cmd
    assert hostos.orphan_guard_command(cmd, "darwin", setpriv="/usr/bin/setpriv") == cmd
    assert hostos.orphan_guard_command(cmd, "linux", setpriv="/usr/bin/setpriv") == [
        "/usr/bin/setpriv", "--pdeathsig", "KILL", "--", *cmd]


class FakeKernel32:
    """Records the Job Object calls; fails the one named in ``fail``."""

    def __init__(self, fail: str = "") -> None:
        self.fail = fail
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.limit_flags = -1
        self.info_size = 0

    def _call(self, name: str, args: tuple[Any, ...], ok: int) -> int:
        self.calls.append((name, args))
        return 0 if self.fail == name else ok

    def CreateJobObjectW(self, *args: Any) -> int:
        return self._call("CreateJobObjectW", args, 100)

    def SetInformationJobObject(self, job: int, cls: int, ref: Any,
                                size: int) -> int:
        self.limit_flags = ref._obj.BasicLimitInformation.LimitFlags
        self.info_size = size
        return self._call("SetInformationJobObject", (job, cls), 1)

    def OpenProcess(self, *args: Any) -> int:
        return self._call("OpenProcess", args, 200)

    def AssignProcessToJobObject(self, *args: Any) -> int:
        return self._call("AssignProcessToJobObject", args, 1)

    def CloseHandle(self, *args: Any) -> int:
        return self._call("CloseHandle", args, 1)


def test_kill_on_close_job_sets_the_limit_and_assigns_the_child() -> None:
    k = FakeKernel32()
    assert hostos.kill_on_close_job(4242, k) == 100
    names = [n for n, _ in k.calls]
    assert names == ["CreateJobObjectW", "SetInformationJobObject", "OpenProcess",
                     "AssignProcessToJobObject", "CloseHandle"]
    assert k.limit_flags == 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    assert k.calls[1][1] == (100, 9)  # JobObjectExtendedLimitInformation
    # JOBOBJECT_EXTENDED_LIMIT_INFORMATION is 144 bytes on 64-bit Windows.
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert k.info_size == 144
    assert k.calls[2][1] == (0x0101, False, 4242)
    assert k.calls[3][1] == (100, 200)
    assert k.calls[4][1] == (200,)  # the process handle; the job handle stays open


@pytest.mark.parametrize("fail", ["CreateJobObjectW", "SetInformationJobObject",
                                  "OpenProcess", "AssignProcessToJobObject"])
def test_kill_on_close_job_failures_raise_and_close_the_job(fail: str) -> None:
    k = FakeKernel32(fail)
    with pytest.raises(OSError):
        hostos.kill_on_close_job(1, k)
    if fail != "CreateJobObjectW":
        assert ("CloseHandle", (100,)) in k.calls  # no leaked job handle


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_kill_tree_posix_kills_the_group_and_windows_the_child() -> None:
    # POSIX: the child's own child (same group) dies with it.
    p = subprocess.Popen(["sh", "-c", "sleep 30 & echo $!; wait"], stdout=subprocess.PIPE,
                         **hostos.popen_kwargs("linux"))
    assert p.stdout is not None
    grandchild = int(p.stdout.readline())
    hostos.kill_tree(p, "linux")
    assert p.wait(timeout=5) != 0
    p.stdout.close()
    deadline = time.monotonic() + 5
    while _alive(grandchild):
        assert time.monotonic() < deadline, "the grandchild survived kill_tree"
        time.sleep(0.05)
    # Windows branch: Popen.kill (TerminateProcess there), no killpg.
    q = subprocess.Popen(["sleep", "30"], start_new_session=True)
    hostos.kill_tree(q, "windows")
    assert q.wait(timeout=5) != 0
    hostos.kill_tree(q, "windows")  # already gone: nothing happens
