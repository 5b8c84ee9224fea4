"""Targets: something that runs firmware and exposes its console.

* :class:`QemuTarget` starts ``qemu-system-arm`` for an emulated board (no root),
  with the console on a unix/TCP socket chardev or a pty, optional gdbstub and
  user networking with port forwards bound to 127.0.0.1. Where the OS has no unix
  sockets (Windows) every "unix" socket is a TCP port on 127.0.0.1 instead
  (:mod:`~cymongoose.device.hostos` decides).
* :class:`SerialTarget` attaches to a real board through any pyserial URL.
* :class:`HostProcessTarget` runs the host build of a firmware app on a pty.

Every target is a context manager; ``stop()`` is idempotent and also runs from
a finalizer, so an emulator never outlives the Python process that started it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import hostos
from .boards import DEFAULT_BOARD, Board, load_boards
from .console import Console
from .defaults import DEFAULT_BAUDRATE
from .errors import DeviceError, NotAvailableError, PortNotFoundError, TargetExitedError
from .transport import FdTransport, SerialTransport, SocketTransport, Transport, open_transport

if TYPE_CHECKING:
    from typing_extensions import Self

    from .frames import FrameLink

STOP_GRACE = 3.0


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the caller retries on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _read_text(path: Path, limit: int = 16384) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", errors="replace")


def dies_with_us(cmd: Sequence[str]) -> list[str]:
    """``cmd`` so that the child is killed when this process dies, even by SIGKILL
    (when finalizers cannot run): Linux's parent-death signal, set by util-linux
    ``setpriv`` before it executes the command (:func:`hostos.orphan_guard_command`;
    Windows uses a Job Object after the start instead, :func:`hostos.guard_child`).
    The kernel ties that signal to the thread that started the child, so it is used
    only from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return list(cmd)
    return hostos.orphan_guard_command(cmd)


def _start_guarded(cmd: Sequence[str], **kwargs: Any) -> tuple[subprocess.Popen[bytes], int | None]:
    """Popen ``cmd`` so that it does not outlive us: its own process group/session and
    the parent-death signal (POSIX), a kill-on-close Job Object (Windows). Returns the
    process and the job handle (None on POSIX)."""
    proc = subprocess.Popen(dies_with_us(cmd), **hostos.popen_kwargs(), **kwargs)
    try:
        return proc, hostos.guard_child(proc)
    except OSError as exc:
        hostos.kill_tree(proc)
        proc.wait()
        raise DeviceError(f"cannot guard {cmd[0]} against outliving us: {exc}") from None


def _kill_process(proc: subprocess.Popen[bytes] | None, grace: float = STOP_GRACE) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


def _exit_status(proc: subprocess.Popen[bytes], wait: float) -> int | None:
    if wait <= 0:
        return proc.poll()
    try:
        return proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        return None


class Target:
    """Base class: a running firmware with a console."""

    board: Board | None = None

    def __init__(self, *, log_path: str | os.PathLike[str] | None = None) -> None:
        self.log_path = Path(log_path) if log_path else None
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            raise DeviceError(f"{type(self).__name__} is not started")
        return self._console

    def start(self) -> Target:
        raise NotImplementedError

    def stop(self) -> None:
        if self._console is not None:
            self._console.close()

    def check(self, wait: float = 0.0) -> None:
        """Raise :class:`TargetExitedError` if the target is gone.

        ``wait``: give a dying process that long to be reaped (the console can
        see EOF a moment before the exit status exists).
        """

    def __enter__(self) -> Self:
        return self.start()  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class GdbAddress:
    """Where a gdbstub listens: a unix socket path or a TCP host/port."""

    path: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"tcp:{self.host}:{self.port}"


class QemuTarget(Target):
    """An emulated board started with ``qemu-system-*`` (``-kernel`` loads the image).

    ``serial``: "unix" (default; the emulator waits for us, so no output is
    lost; a TCP socket chardev on 127.0.0.1 where there are no unix sockets),
    "tcp" (a 127.0.0.1 port opened with pyserial ``socket://``) or "pty" (POSIX).
    ``gdb``: None, "unix" or "tcp"; ``halted=True`` adds ``-S`` so the CPU waits
    for the debugger. ``hostfwd``: guest TCP ports to forward from 127.0.0.1;
    ``target.forwarded[guest_port]`` is the host port chosen. ``nic``: "none",
    "user" (restricted to the port forwards unless ``restrict=False``),
    "stream" (the NIC's frames on a unix socket, TCP on 127.0.0.1 on Windows: we
    listen at ``target.netdev_path`` (``target.netdev_address``) and QEMU connects; ``target.netdev_socket()`` is the
    connection, ``target.frame_link()`` a :class:`~cymongoose.device.frames.FrameLink`
    on it, and :class:`~cymongoose.device.bridge.StackBridge` ends it in the host's
    built-in stack) or a list of raw QEMU arguments for another netdev.
    """

    def __init__(
        self,
        firmware: str | os.PathLike[str] | None,
        board: Board | str = DEFAULT_BOARD,
        *,
        serial: str = "unix",
        gdb: str | None = None,
        halted: bool = False,
        hostfwd: Sequence[int] = (),
        nic: str | Sequence[str] = "none",
        restrict: bool = True,
        extra_args: Sequence[str] = (),
        log_path: str | os.PathLike[str] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        start_timeout: float = 10.0,
        qemu: str | None = None,
        mac: str | None = None,
        flash_image: str | os.PathLike[str] | None = None,
        flash_readonly: bool = False,
    ) -> None:
        super().__init__(log_path=log_path)
        if mac is not None and not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac):
            raise ValueError(f"mac: want six hex bytes like 52:54:00:12:34:57, not {mac!r}")
        self.mac = mac  # the NIC's address (user/stream NICs; QEMU's default otherwise)
        # The boot flash's drive ([qemu] boot_flash): this file instead of an erased one,
        # read-only (the chip then reports erase/program errors) with flash_readonly.
        self.flash_image = Path(flash_image) if flash_image else None
        self.flash_readonly = flash_readonly
        self.board = load_boards().get(board) if isinstance(board, str) else board
        if self.board.boot != "qemu":
            raise DeviceError(f"board {self.board.name} is not emulated (boot = {self.board.boot})")
        if serial not in ("unix", "tcp", "pty"):
            raise ValueError(f"serial must be unix, tcp or pty, not {serial!r}")
        if serial == "pty" and not hostos.has_pty():
            raise ValueError("serial='pty' needs pseudo-terminals, which Windows does not "
                             "have: use 'unix' (TCP there) or 'tcp'")
        if gdb not in (None, "unix", "tcp"):
            raise ValueError(f"gdb must be None, unix or tcp, not {gdb!r}")
        if isinstance(nic, str) and nic not in ("none", "user", "stream"):
            raise ValueError(
                f"nic must be 'none', 'user', 'stream' or a list of arguments, not {nic!r}")
        if hostfwd and nic != "user":
            raise ValueError("hostfwd needs nic='user'")
        self.firmware = Path(firmware) if firmware else None
        self.serial = serial
        self.gdb_mode = gdb
        self.halted = halted
        self.hostfwd = tuple(hostfwd)
        self.nic = nic
        self.restrict = restrict
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.qemu = qemu or str(self.board.qemu.get("binary", "qemu-system-arm"))
        self.forwarded: dict[int, int] = {}
        self.netdev_path: str | None = None  # nic="stream": our frame socket QEMU connects to
        self.netdev_address: str | None = None  # the same as unix:PATH or tcp:127.0.0.1:PORT
        self.qmp_path: str | None = None  # nic="stream": QEMU's QMP socket (set_link)
        self.qmp: hostos.Endpoint | None = None  # the same, or its TCP port
        self._console_at: hostos.Endpoint | None = None  # serial="unix": the chardev socket
        self._netdev_listener: socket.socket | None = None
        self._netdev_opts = ""  # the listener's -netdev address options
        self._netdev_conn: socket.socket | None = None
        self.gdb: GdbAddress | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._job: int | None = None  # Windows: the Job Object that kills QEMU with us
        self._qemu_exe: str | None = None  # the program found at start
        self._user_workdir = Path(workdir) if workdir else None
        self.workdir: Path | None = None
        self._sockdir: str | None = None
        self._finalizer: (weakref.finalize[[subprocess.Popen[bytes], str, int | None], QemuTarget]
                          | None) = None

    # ---- command line ------------------------------------------------------------------------
    def command(self) -> list[str]:
        """The QEMU command line for the current settings (ports already chosen)."""
        assert self.board is not None and self._sockdir is not None
        q = self.board.qemu
        cmd = [self._qemu_exe or hostos.qemu_executable(self.qemu), "-M", str(q["machine"])]
        cmd += [str(a) for a in q.get("args", [])]
        if self.firmware:
            cmd += ["-kernel", str(self.firmware)]
        cmd += self._boot_flash_args()
        if self.serial == "unix":
            self._console_at = hostos.local_endpoint(self._sockdir, "console.sock", free_tcp_port)
            cmd += ["-chardev", f"socket,id=con0,{self._console_at.chardev},server=on,wait=on",
                    "-serial", "chardev:con0"]
        elif self.serial == "tcp":
            cmd += ["-serial", f"tcp:127.0.0.1:{self._serial_port},server=on,wait=on"]
        else:
            cmd += ["-serial", "pty"]
        if self.gdb_mode == "unix" and hostos.local_socket_kind() == "unix":
            self.gdb = GdbAddress(path=os.path.join(self._sockdir, "gdb.sock"))
            cmd += ["-gdb", f"unix:{self.gdb.path},server=on,wait=off"]
        elif self.gdb_mode is not None:  # "tcp", or "unix" where there are no unix sockets
            self.gdb = GdbAddress(port=free_tcp_port())
            cmd += ["-gdb", f"tcp:127.0.0.1:{self.gdb.port}"]
        if self.halted:
            cmd.append("-S")
        # QEMU's NIC model: [qemu] nic_model when QEMU names it differently from
        # our driver (lm3s6965evb: "stellaris"), else the driver's name.
        model = str(q.get("nic_model") or self.board.network.get("driver", "")) or None
        # A NIC that is a plain device (virtio-net-device on a virtio-mmio slot)
        # is attached with -netdev + -device; -nic/-net nic cannot place it.
        nic_device = str(q.get("nic_device", "")) or None
        if isinstance(self.nic, str):
            if self.nic == "none":
                cmd += ["-nic", "none"]
            elif self.nic == "user":
                opts = []
                if self.restrict:
                    opts.append("restrict=on")
                self.forwarded = {g: free_tcp_port() for g in self.hostfwd}
                opts += [f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for g, h in self.forwarded.items()]
                if nic_device:
                    cmd += ["-netdev", ",".join(["user", "id=net0"] + opts),
                            "-device", f"{nic_device},netdev=net0"]
                else:
                    cmd += ["-nic", ",".join(["user"] + ([f"model={model}"] if model else [])
                                             + opts)]
            elif self.nic == "stream":
                # QEMU is the client: as a stream server (server=on) it crashes now and
                # then (SIGSEGV) when the board transmits while a client connects.
                # Our listener exists before QEMU starts (it connects at once).
                if self._netdev_listener is None:
                    self._netdev_listener, self._netdev_opts = hostos.frame_listener(
                        self._sockdir, name="net.sock")
                if hostos.frame_socket_kind() == "unix":
                    self.netdev_path = str(self._netdev_listener.getsockname())
                    self.netdev_address = f"unix:{self.netdev_path}"
                else:
                    host, port = self._netdev_listener.getsockname()[:2]
                    self.netdev_address = f"tcp:{host}:{port}"
                cmd += ["-netdev", f"stream,id=net0,server=off,{self._netdev_opts}"]
                if nic_device:
                    cmd += ["-device", f"{nic_device},netdev=net0"
                            + (f",mac={self.mac}" if self.mac else "")]
                else:
                    cmd += ["-net", f"nic,netdev=net0{',model=' + model if model else ''}"
                            + (f",macaddr={self.mac}" if self.mac else "")]
                self.qmp = hostos.local_endpoint(self._sockdir, "qmp.sock", free_tcp_port)
                self.qmp_path = self.qmp.path
                cmd += ["-qmp", f"{self.qmp.uri},server=on,wait=off"]
        else:
            cmd += [str(a) for a in self.nic]
        cmd += list(self.extra_args)
        return cmd

    def _boot_flash_args(self) -> list[str]:
        """``[qemu] boot_flash`` names a flash region that QEMU boots from only when it
        has a drive (riscv32-virt: pflash unit 0; without one the CPU starts in DRAM).
        An image whose entry lies in that region gets an erased (0xff) drive image of
        the region's size in the work directory, new at each start: what the CPU then
        programs there lasts across resets, like flash, for this run. ``flash_image``
        gives a file of that size instead (e.g. :func:`cymongoose.device.slots.flash_image`);
        QEMU writes into it unless ``flash_readonly``."""
        assert self.board is not None
        name = self.board.qemu.get("boot_flash")
        if not name or not self.firmware:
            if self.flash_image:
                raise DeviceError(f"board {self.board.name} has no qemu.boot_flash for "
                                  "flash_image")
            return []
        region = self.board.region_named(str(name))
        if region is None:
            raise DeviceError(f"board {self.board.name}: qemu.boot_flash names {name!r}, "
                              "which is not in its memory")
        from .image import load_image_for  # local: keeps import cost off the hot path

        entry = load_image_for(self.firmware, self.board).entry
        if entry is None or not region.contains(entry):
            if self.flash_image:
                raise DeviceError(f"{self.firmware} does not boot from {name}: "
                                  "flash_image is for an image linked there")
            return []
        if self.flash_image:
            drive = self.flash_image
            if not drive.is_file() or drive.stat().st_size != region.size:
                raise DeviceError(f"flash_image {drive} must be a file of {region.size} bytes "
                                  f"(the {name} region)")
        else:
            assert self.workdir is not None  # set by start() before command()
            drive = self.workdir / f"{name}.img"
            with open(drive, "wb") as f:
                f.write(b"\xff" * region.size)
        ro = ",readonly=on" if self.flash_readonly else ""
        return ["-drive", f"if=pflash,unit=0,format=raw{ro},file={drive}"]

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> QemuTarget:
        if self.proc is not None:
            return self
        self._qemu_exe = hostos.find_qemu(self.qemu)
        if self._qemu_exe is None:
            raise NotAvailableError(f"{hostos.qemu_executable(self.qemu)} not found on PATH "
                                    f"({hostos.qemu_install_hint(self.qemu)})")
        if self.firmware and not self.firmware.is_file():
            raise DeviceError(f"firmware image {self.firmware} does not exist")
        if self.firmware:
            from .image import load_image_for  # local: keeps import cost off the hot path

            assert self.board is not None
            load_image_for(self.firmware, self.board)
        last_error: Exception | None = None
        for _attempt in range(3):  # a lost race for a TCP port is retried with new ports
            try:
                self._start_once()
                return self
            except TargetExitedError as exc:
                last_error = exc
                self.stop()
                if "in use" not in exc.stderr and "forwarding rule" not in exc.stderr:
                    raise
        assert last_error is not None
        raise last_error

    def _start_once(self) -> None:
        self._sockdir = tempfile.mkdtemp(prefix="cmg-")  # short path: unix sockets max 107 bytes
        self.workdir = self._user_workdir or Path(self._sockdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._serial_port = free_tcp_port() if self.serial == "tcp" else 0
        cmd = self.command()  # (nic="stream": also opens our frame listener)
        self.stderr_path = self.workdir / "qemu.stderr"
        (self.workdir / "qemu.cmdline").write_text(" ".join(cmd) + "\n")
        with open(self.stderr_path, "wb") as err:
            self.proc, self._job = _start_guarded(
                cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        self._finalizer = weakref.finalize(self, _cleanup, self.proc, self._sockdir, self._job)
        transport = self._connect_console()
        assert self.board is not None
        self._console = Console(
            transport, log_path=self.log_path, name=f"qemu-{self.board.name}", health=self.check
        )
        self._console.crash_elf = self.firmware  # decodes a crash record, if one comes
        if self.gdb is not None:  # a silent console: ask the gdbstub where the CPU is
            from .hang import gdb_hang_probe

            self._console.hang_probe = gdb_hang_probe(self.gdb, self._console)
        if self.gdb and self.gdb.path:
            self._wait_until(lambda: os.path.exists(self.gdb.path or ""), "gdbstub socket")
        if self.forwarded and hostos.listening_tcp_ports() is not None:
            # QEMU sets up its netdevs only after the console client connected:
            # hand the target over once every forward is listening (where the OS
            # tells us; elsewhere the first connection may have to retry).
            want = set(self.forwarded.values())
            self._wait_until(lambda: want <= (hostos.listening_tcp_ports() or set()),
                             "port forwards")

    def _wait_until(self, ready, what: str):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + self.start_timeout
        while True:
            self.check()
            value = ready()
            if value:
                return value
            if time.monotonic() > deadline:
                self.stop()
                raise TargetExitedError(
                    f"QEMU did not provide its {what} within {self.start_timeout:g} s",
                    stderr=_read_text(self.stderr_path),
                )
            time.sleep(0.01)

    def _connect_console(self) -> Transport:
        assert self._sockdir is not None
        at = self._console_at
        if self.serial == "unix" and at is not None and at.port:
            def try_chardev_tcp() -> Transport | None:
                try:
                    return SocketTransport.connect_tcp(at.host, int(at.port or 0))
                except PortNotFoundError:
                    return None

            return self._wait_until(try_chardev_tcp, "console socket")  # type: ignore[no-any-return]
        if self.serial == "unix":
            path = os.path.join(self._sockdir, "console.sock")

            def try_unix() -> Transport | None:
                if not os.path.exists(path):
                    return None
                try:
                    return SocketTransport.connect_unix(path)
                except PortNotFoundError:
                    return None

            return self._wait_until(try_unix, "console socket")  # type: ignore[no-any-return]
        if self.serial == "tcp":
            def try_tcp() -> Transport | None:
                try:
                    return SocketTransport.connect_tcp("127.0.0.1", self._serial_port)
                except PortNotFoundError:
                    return None

            return self._wait_until(try_tcp, "console TCP port")  # type: ignore[no-any-return]

        def find_pty() -> str | None:
            m = re.search(r"char device redirected to (/dev/pts/\d+)", _read_text(self.stderr_path))
            return m.group(1) if m else None

        pty = self._wait_until(find_pty, "console pty")
        return SerialTransport(pty, baudrate=self.board.baudrate if self.board else DEFAULT_BAUDRATE)

    def netdev_socket(self, timeout: float | None = None) -> socket.socket:
        """nic="stream": the connection QEMU made to our frame socket (accepted once).

        Each Ethernet frame travels as a 4-byte big-endian length + the frame. The
        target closes it on stop."""
        if self._netdev_conn is not None:
            return self._netdev_conn
        if self._netdev_listener is None:
            raise DeviceError("this QEMU target has no stream NIC (use nic='stream')")
        listener = self._netdev_listener
        listener.setblocking(False)

        def try_accept() -> socket.socket | None:
            try:
                conn, _ = listener.accept()
            except BlockingIOError:
                return None
            conn.setblocking(True)
            return conn

        saved = self.start_timeout
        if timeout is not None:
            self.start_timeout = timeout
        try:
            self._netdev_conn = self._wait_until(try_accept, "frame socket connection")
        finally:
            self.start_timeout = saved
        listener.close()
        self._netdev_listener = None
        return self._netdev_conn

    def set_link(self, up: bool, timeout: float = 5.0) -> None:
        """nic="stream": the board's NIC loses (False) or regains (True) its carrier,
        through QEMU's ``set_link`` (QMP). Only NIC models that report link state show it
        to the firmware (QEMU's lan9118 does: PHY link bit and interrupt); frames are
        not stopped by this, the bridge does that (``Network.link_down``)."""
        import json

        if self.qmp is None or self.proc is None:
            raise DeviceError("set_link needs a started QEMU target with nic='stream'")
        deadline = time.monotonic() + timeout
        try:
            with self.qmp.connect(timeout) as s:
                s.settimeout(timeout)
                f = s.makefile("rwb")

                def reply() -> dict[str, Any]:
                    while time.monotonic() < deadline:
                        line = f.readline()
                        if not line:
                            break
                        msg = json.loads(line)
                        if "return" in msg or "error" in msg or "QMP" in msg:
                            return dict(msg)
                    raise DeviceError("QMP: no reply from QEMU")

                reply()  # the greeting
                for cmd in ({"execute": "qmp_capabilities"},
                            {"execute": "set_link", "arguments": {"name": "net0", "up": up}}):
                    f.write(json.dumps(cmd).encode() + b"\n")
                    f.flush()
                    msg = reply()
                    if "error" in msg:
                        raise DeviceError(f"QMP {cmd['execute']}: {msg['error'].get('desc')}")
        except (OSError, ValueError) as exc:
            raise DeviceError(f"QMP set_link: {exc}") from None

    def frame_link(self, timeout: float | None = None) -> FrameLink:
        """A :class:`~cymongoose.device.frames.FrameLink` on :meth:`netdev_socket`."""
        from .frames import FrameLink

        return FrameLink(self.netdev_socket(timeout), f"qemu-net:{self.netdev_address}")

    def check(self, wait: float = 0.0) -> None:
        if self.proc is None:
            raise DeviceError("QEMU target is not started")
        rc = _exit_status(self.proc, wait)
        if rc is not None:
            raise TargetExitedError(
                f"QEMU ({self.board.name if self.board else '?'}) exited",
                returncode=rc,
                stderr=_read_text(self.stderr_path),
            )

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def wait(self, timeout: float) -> int:
        """Wait for the emulator to exit (e.g. a semihosting exit); return its exit code."""
        if self.proc is None:
            raise DeviceError("QEMU target is not started")
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"QEMU still running after {timeout:g} s") from None

    def stop(self) -> None:
        super().stop()
        self._console = None
        _kill_process(self.proc)
        self._netdev_opts = ""
        for sock in (self._netdev_conn, self._netdev_listener):
            if sock is not None:
                sock.close()
        self._netdev_conn = self._netdev_listener = None
        if self._finalizer is not None:
            self._finalizer()  # removes the socket directory, closes the Job Object
            self._finalizer = None
        self.proc = None
        self._job = None

    def __enter__(self) -> Self:
        return self.start()  # type: ignore[return-value]


def _cleanup(proc: subprocess.Popen[bytes], sockdir: str, job: int | None = None) -> None:
    if proc.poll() is None:
        hostos.kill_tree(proc)  # its process group on POSIX, TerminateProcess on Windows
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            pass
    hostos.close_job(job)  # Windows: ends whatever QEMU started
    shutil.rmtree(sockdir, ignore_errors=True)


class SerialTarget(Target):
    """A board on a serial port: ``/dev/ttyACM0``, a pty path, ``socket://``, ``rfc2217://``."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = DEFAULT_BAUDRATE,
        board: Board | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(log_path=log_path)
        self.url = url
        self.baudrate = baudrate
        self.board = board

    def start(self) -> SerialTarget:
        if self._console is None:
            transport = open_transport(self.url, baudrate=self.baudrate)
            self._console = Console(transport, log_path=self.log_path, name=self.url)
        return self

    def stop(self) -> None:
        super().stop()
        self._console = None

    def __enter__(self) -> Self:
        return self.start()  # type: ignore[return-value]


class HostProcessTarget(Target):
    """The host build of a firmware app, its console on a pty (so stdio is line-buffered)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(log_path=log_path)
        self.argv = [str(a) for a in argv]
        self.cwd = cwd
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr_path: Path | None = None
        self._finalizer: (weakref.finalize[[subprocess.Popen[bytes] | None], HostProcessTarget]
                          | None) = None

    def start(self) -> HostProcessTarget:
        if self.proc is not None:
            return self
        exe = self.argv[0]
        if not hostos.has_pty():
            raise NotAvailableError("a host firmware runs on a pseudo-terminal, which Windows "
                                    "does not have: run the board under QEMU instead")
        if shutil.which(exe) is None and not os.access(exe, os.X_OK):
            raise DeviceError(f"host firmware {exe} does not exist or is not executable")
        import pty
        import termios
        import tty

        master, slave = pty.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: bytes as the app wrote them
        attrs = termios.tcgetattr(slave)
        attrs[1] |= termios.OPOST | termios.ONLCR  # but keep "\n" -> "\r\n" like a UART console
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        fd, name = tempfile.mkstemp(prefix="cmg-host-", suffix=".stderr")
        self._stderr_path = Path(name)
        try:
            self.proc = subprocess.Popen(
                dies_with_us(self.argv), stdin=slave, stdout=slave, stderr=fd, cwd=self.cwd,
                env=self.env, **hostos.popen_kwargs(),
            )
        except OSError as exc:
            os.close(master)
            raise DeviceError(f"cannot run {exe}: {exc.strerror}") from None
        finally:
            os.close(slave)
            os.close(fd)
        self._finalizer = weakref.finalize(self, _kill_process, self.proc)
        self._console = Console(
            FdTransport(master, master, f"pty:{exe}"), log_path=self.log_path,
            name=Path(exe).name, health=self.check,
        )
        return self

    def check(self, wait: float = 0.0) -> None:
        if self.proc is None:
            raise DeviceError("host target is not started")
        rc = _exit_status(self.proc, wait)
        if rc is not None:
            raise TargetExitedError(
                f"host firmware {self.argv[0]} exited", returncode=rc,
                stderr=_read_text(self._stderr_path) if self._stderr_path else "",
            )

    def wait(self, timeout: float) -> int:
        if self.proc is None:
            raise DeviceError("host target is not started")
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.argv[0]} still running after {timeout:g} s") from None

    def stop(self) -> None:
        super().stop()
        self._console = None
        _kill_process(self.proc)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._stderr_path:
            self._stderr_path.unlink(missing_ok=True)
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()  # type: ignore[return-value]
