"""What differs between host operating systems for the device SDK, one small function per
difference, each taking the platform explicitly (``"linux"``, ``"darwin"``, ``"windows"``; ``None``
means this host) so that every branch is unit-tested on Linux.

* serial ports: ``COMn`` on Windows (``\\\\.\\COMn`` from COM10 on), device paths elsewhere;
* QEMU: ``qemu-system-arm.exe`` on Windows, also looked up in the installer's folder;
* the bridge's frame socket: a unix socket where the OS has them, TCP on 127.0.0.1 otherwise,
  with the matching QEMU ``-netdev stream`` address;
* "no orphans": Linux's parent-death signal and a process group killed whole on POSIX, a Job
  Object that kills its processes when its last handle closes on Windows (no ``os.killpg``);
* the other local sockets QEMU offers (console, gdbstub, QMP): unix sockets or TCP loopback;
* signals that end a run (no SIGHUP on Windows), ptys and termios (POSIX only), stdin lines
  without ``select`` (Windows selects sockets only).

The rest of :mod:`cymongoose.device` asks this module instead of testing the OS itself.
:data:`PLATFORM` is the ``sys.platform`` value the functions assume when given None: tests set it
to ``"win32"`` or ``"darwin"`` to drive the callers through another OS's branch on Linux."""

from __future__ import annotations

import errno
import os
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PureWindowsPath
from typing import IO, Any

WINDOWS = "windows"

# The platform every function assumes when given None (tests monkeypatch it).
PLATFORM: str = sys.platform

# Win32 constants (winbase.h / winnt.h).
CREATE_NEW_PROCESS_GROUP = 0x00000200
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9
PROCESS_SET_QUOTA = 0x0100
PROCESS_TERMINATE = 0x0001

_COM_RE = re.compile(r"^(?:\\\\\.\\)?com([1-9][0-9]{0,2})$", re.IGNORECASE)


def system_of(platform: str | None = None) -> str:
    """``"windows"``, ``"darwin"`` or ``"linux"`` (any other POSIX counts as linux) for a
    ``sys.platform`` value, :data:`PLATFORM`'s when None."""
    p = PLATFORM if platform is None else platform
    if p in ("win32", "cygwin", WINDOWS):
        return WINDOWS
    return "darwin" if p == "darwin" else "linux"


# ---- serial ports -------------------------------------------------------------------------------
def is_com_port(port: str) -> bool:
    """True for a Windows serial port name: ``COM3``, ``com12``, ``\\\\.\\COM12``."""
    return _COM_RE.match(port) is not None


def serial_port_name(port: str, system: str | None = None) -> str:
    """The name to open ``port`` by. On Windows ``COMn`` is upper-cased, and from COM10 on it gets
    the ``\\\\.\\`` device prefix (plain ``COM10`` is a file name to the Win32 API). URLs
    (``socket://``, ``rfc2217://``) and POSIX paths pass unchanged. A device path such as
    ``/dev/ttyACM0`` on Windows, or ``COM3`` elsewhere, is a ValueError naming the right form."""
    if "://" in port:
        return port
    m = _COM_RE.match(port)
    if system_of(system) == WINDOWS:
        if m is None:
            raise ValueError(f"serial port {port!r}: on Windows a port is COMn (e.g. COM3)")
        n = int(m.group(1))
        return f"COM{n}" if n < 10 else f"\\\\.\\COM{n}"
    if m is not None:
        raise ValueError(f"serial port {port!r} is a Windows name; here use a device path "
                         "such as /dev/ttyACM0")
    return port


# ---- QEMU ---------------------------------------------------------------------------------------
def qemu_executable(binary: str, system: str | None = None) -> str:
    """``qemu-system-arm`` as this OS names the program: with ``.exe`` on Windows."""
    if system_of(system) == WINDOWS and not binary.lower().endswith(".exe"):
        return binary + ".exe"
    return binary


def qemu_search_path(system: str | None = None, environ: dict[str, str] | None = None) -> str:
    """The PATH to look QEMU up in: PATH itself, and on Windows also the folder the QEMU
    installer uses (``%ProgramFiles%\\qemu``), which it does not add to PATH."""
    env = os.environ if environ is None else environ
    path = env.get("PATH", "")
    if system_of(system) != WINDOWS:
        return path
    extra = str(PureWindowsPath(env.get("ProgramFiles", "C:\\Program Files"), "qemu"))
    return f"{path};{extra}" if path else extra


def find_qemu(binary: str, system: str | None = None,
              environ: dict[str, str] | None = None) -> str | None:
    """Full path of the QEMU program ``binary`` (e.g. ``qemu-system-arm``), or None."""
    if system_of(system) != system_of(sys.platform):
        # Another OS's search rules cannot be tried on this one: only the name is computed.
        return None
    return shutil.which(qemu_executable(binary, system), path=qemu_search_path(system, environ))


def qemu_install_hint(binary: str, system: str | None = None) -> str:
    """How to get QEMU's ``binary`` on this OS."""
    sysname = system_of(system)
    if sysname == WINDOWS:
        return (f"install QEMU for Windows (qemu.org) and put {qemu_executable(binary, sysname)} "
                "on PATH or in %ProgramFiles%\\qemu")
    if sysname == "darwin":
        return "brew install qemu"
    package = "qemu-system-arm" if binary == "qemu-system-arm" else "qemu-system-misc"
    return f"apt-get install {package}"


# ---- local sockets: the bridge's frame socket, QEMU's console, gdbstub and QMP ------------------
def local_socket_kind(system: str | None = None) -> str:
    """``"unix"`` where the OS and Python offer unix sockets to QEMU, else ``"tcp"``. Windows 10
    has AF_UNIX but Python's socket module does not expose it there, and QEMU for Windows
    takes inet sockets, so Windows uses TCP on 127.0.0.1."""
    if system_of(system) == WINDOWS or not hasattr(socket, "AF_UNIX"):
        return "tcp"
    return "unix"


def frame_socket_kind(system: str | None = None) -> str:
    """The kind of the bridge's frame socket: :func:`local_socket_kind`."""
    return local_socket_kind(system)


def unix_socket(system: str | None = None) -> socket.socket:
    """A new unix stream socket; OSError (EAFNOSUPPORT) saying to use TCP where there are none."""
    if local_socket_kind(system) != "unix":
        raise OSError(errno.EAFNOSUPPORT,
                      "unix sockets are not available on this system: use a TCP address")
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)


@dataclass(frozen=True)
class Endpoint:
    """Where a local QEMU server socket listens: a unix socket ``path`` or 127.0.0.1:``port``."""

    path: str | None = None
    port: int | None = None
    host: str = "127.0.0.1"

    @property
    def chardev(self) -> str:
        """The address options of a ``-chardev socket``."""
        return f"path={self.path}" if self.path else f"host={self.host},port={self.port}"

    @property
    def uri(self) -> str:
        """The address as ``-gdb``/``-qmp`` take it: ``unix:PATH`` or ``tcp:HOST:PORT``."""
        return f"unix:{self.path}" if self.path else f"tcp:{self.host}:{self.port}"

    def connect(self, timeout: float | None = None) -> socket.socket:
        """A connected socket (OSError when nothing listens)."""
        if self.path:
            s = unix_socket()
            try:
                s.settimeout(timeout)
                s.connect(self.path)
            except OSError:
                s.close()
                raise
            return s
        return socket.create_connection((self.host, int(self.port or 0)), timeout=timeout)


def local_endpoint(sockdir: str, name: str, free_port: Any, system: str | None = None) -> Endpoint:
    """A place for a QEMU server socket: ``sockdir/name`` where unix sockets exist, else a TCP
    port on 127.0.0.1 from ``free_port()``."""
    if local_socket_kind(system) == "unix":
        return Endpoint(path=os.path.join(sockdir, name))
    return Endpoint(port=int(free_port()))


def frame_listener(sockdir: str, system: str | None = None,
                   name: str = "netdev.sock") -> tuple[socket.socket, str]:
    """A listening socket for QEMU's ``-netdev stream`` client, and the netdev's address
    options. unix: ``sockdir/name``; tcp: 127.0.0.1 on a free port (loopback only:
    the frames are the device's whole Ethernet)."""
    if frame_socket_kind(system) == "unix":
        path = os.path.join(sockdir, name)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(path)
            s.listen(1)
        except OSError:
            s.close()
            raise
        return s, f"addr.type=unix,addr.path={path}"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
    except OSError:
        s.close()
        raise
    return s, f"addr.type=inet,addr.host=127.0.0.1,addr.port={s.getsockname()[1]}"


def listening_tcp_ports(system: str | None = None,
                        tables: Sequence[str] = ("/proc/net/tcp", "/proc/net/tcp6")
                        ) -> set[int] | None:
    """Local TCP ports in LISTEN state, from Linux's ``/proc/net/tcp``; None where the OS
    cannot tell (not Linux, or no /proc): the caller then does not wait for a port."""
    if system_of(system) != "linux":
        return None
    ports: set[int] = set()
    found = False
    for name in tables:
        try:
            with open(name, encoding="ascii") as f:
                found = True
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports if found else None


# ---- child processes: no orphans ----------------------------------------------------------------
def popen_kwargs(system: str | None = None) -> dict[str, Any]:
    """Popen options that let :func:`kill_tree` end the child and what it started: a session
    (process group) of its own on POSIX, a process group of its own on Windows."""
    if system_of(system) == WINDOWS:
        return {"creationflags": CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def orphan_guard_command(cmd: Sequence[str], system: str | None = None,
                         setpriv: str | None = None) -> list[str]:
    """``cmd`` wrapped so that the child dies with us where the OS does it at exec time: Linux's
    parent-death signal through util-linux ``setpriv`` (path ``setpriv``, looked up when None).
    macOS has no such signal and Windows uses a Job Object instead (:func:`kill_on_close_job`):
    ``cmd`` unchanged."""
    if system_of(system) != "linux":
        return list(cmd)
    tool = setpriv if setpriv is not None else shutil.which("setpriv")
    return list(cmd) if tool is None else [tool, "--pdeathsig", "KILL", "--", *cmd]


def kill_on_close_job(pid: int, kernel32: Any = None) -> int:
    """Windows: puts process ``pid`` into a new Job Object that kills every process in it when
    its last handle closes, which Windows does when this process exits however it exits. Returns
    the job handle (keep it open for the child's lifetime). ``kernel32`` is the ``ctypes``
    library (tests pass a fake). Raises OSError when a call fails."""
    import ctypes

    win: Any = ctypes  # windll exists on Windows only
    k32 = kernel32 if kernel32 is not None else win.windll.kernel32

    class _Basic(ctypes.Structure):
        _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64),
                    ("PerJobUserTimeLimit", ctypes.c_int64),
                    ("LimitFlags", ctypes.c_uint32),
                    ("MinimumWorkingSetSize", ctypes.c_size_t),
                    ("MaximumWorkingSetSize", ctypes.c_size_t),
                    ("ActiveProcessLimit", ctypes.c_uint32),
                    ("Affinity", ctypes.c_size_t),
                    ("PriorityClass", ctypes.c_uint32),
                    ("SchedulingClass", ctypes.c_uint32)]

    class _Extended(ctypes.Structure):
        _fields_ = [("BasicLimitInformation", _Basic),
                    ("IoInfo", ctypes.c_uint64 * 6),
                    ("ProcessMemoryLimit", ctypes.c_size_t),
                    ("JobMemoryLimit", ctypes.c_size_t),
                    ("PeakProcessMemoryUsed", ctypes.c_size_t),
                    ("PeakJobMemoryUsed", ctypes.c_size_t)]

    job = k32.CreateJobObjectW(None, None)
    if not job:
        raise OSError("CreateJobObjectW failed")
    info = _Extended()
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    ok = k32.SetInformationJobObject(job, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
                                     ctypes.byref(info), ctypes.sizeof(info))
    proc = k32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid) if ok else 0
    assigned = bool(proc) and k32.AssignProcessToJobObject(job, proc)
    if proc:
        k32.CloseHandle(proc)
    if not assigned:
        k32.CloseHandle(job)
        raise OSError(f"cannot put process {pid} into a kill-on-close job")
    return int(job)


def kill_tree(proc: subprocess.Popen[bytes], system: str | None = None) -> None:
    """Kills ``proc`` and its process group at once: ``os.killpg`` on POSIX (the child leads
    its own group, see :func:`popen_kwargs`); on Windows, where there is no killpg,
    ``TerminateProcess`` of the child (a Job Object ends the rest)."""
    if proc.poll() is not None:
        return
    try:
        if system_of(system) == WINDOWS:
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass  # it exited meanwhile


def guard_child(proc: subprocess.Popen[bytes], system: str | None = None,
                kernel32: Any = None) -> int | None:
    """After starting ``proc``: on Windows its kill-on-close Job Object handle (see
    :func:`kill_on_close_job`; close it with :func:`close_job` once the child is gone), None
    elsewhere (the parent-death signal and the process group were set at start)."""
    if system_of(system) != WINDOWS:
        return None
    return kill_on_close_job(proc.pid, kernel32)


def close_job(job: int | None, kernel32: Any = None) -> None:
    """Closes a handle from :func:`guard_child` (None: nothing to do). Closing the last handle
    kills what is still in the job."""
    if not job:
        return
    if kernel32 is None:
        import ctypes

        win: Any = ctypes
        kernel32 = win.windll.kernel32
    kernel32.CloseHandle(job)


# ---- signals, terminals, stdin ------------------------------------------------------------------
def termination_signal_names(system: str | None = None) -> tuple[str, ...]:
    """The signals, besides Ctrl-C, that ask a run to end: SIGTERM and SIGHUP (the terminal
    closed) on POSIX; SIGTERM and SIGBREAK (Ctrl-Break) on Windows, which has no SIGHUP."""
    if system_of(system) == WINDOWS:
        return ("SIGTERM", "SIGBREAK")
    return ("SIGTERM", "SIGHUP")


def termination_signals(system: str | None = None) -> list[signal.Signals]:
    """:func:`termination_signal_names` that this Python's signal module has."""
    found = (getattr(signal, n, None) for n in termination_signal_names(system))
    return [s for s in found if s is not None]


def has_pty(system: str | None = None) -> bool:
    """Pseudo-terminals and termios exist (POSIX), not on Windows."""
    return system_of(system) != WINDOWS


class StdinLines:
    """Lines of a text stream (stdin) without blocking the caller: ``select`` on POSIX, a
    reader thread on Windows, where ``select`` takes sockets only."""

    def __init__(self, stream: IO[str], system: str | None = None) -> None:
        self.stream = stream
        self._queue: queue.Queue[str] | None = None
        if system_of(system) == WINDOWS:
            self._queue = queue.Queue()
            threading.Thread(target=self._reader, name="stdin-lines", daemon=True).start()

    def _reader(self) -> None:
        assert self._queue is not None
        while True:
            try:
                line = self.stream.readline()
            except (OSError, ValueError):
                line = ""
            self._queue.put(line)
            if not line:
                return

    def get(self, timeout: float) -> str | None:
        """The next line (with its newline), ``""`` at end of input, None if none came within
        ``timeout`` seconds."""
        if self._queue is not None:
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
        r, _, _ = select.select([self.stream], [], [], timeout)
        return self.stream.readline() if r else None
