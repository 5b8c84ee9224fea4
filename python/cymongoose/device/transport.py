"""Byte pipes to a device console: pyserial URLs, unix sockets, file descriptors.

A transport does blocking reads with a timeout and plain writes; the
:class:`~cymongoose.device.console.Console` runs one reader thread per
transport. ``read`` returns ``b""`` on timeout and raises :class:`EOFError`
when the other side is gone for good.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
from typing import Any, Protocol

from . import hostos
from .defaults import DEFAULT_BAUDRATE
from .errors import PortBusyError, PortNotFoundError


class Transport(Protocol):
    name: str

    def read(self, size: int, timeout: float) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SocketTransport:
    """A connected stream socket (unix or TCP)."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.name = name
        self._wlock = threading.Lock()

    @classmethod
    def connect_unix(cls, path: str) -> SocketTransport:
        try:
            s = hostos.unix_socket()
        except OSError as exc:
            raise PortNotFoundError(f"cannot connect to unix socket {path}: {exc.strerror}") from None
        try:
            s.connect(path)
        except OSError as exc:
            s.close()
            raise PortNotFoundError(f"cannot connect to unix socket {path}: {exc.strerror}") from None
        return cls(s, f"unix:{path}")

    @classmethod
    def connect_tcp(cls, host: str, port: int, timeout: float = 5.0) -> SocketTransport:
        try:
            s = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise PortNotFoundError(
                f"cannot connect to {host}:{port}: {exc.strerror or exc}"
            ) from None
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s, f"tcp:{host}:{port}")

    def read(self, size: int, timeout: float) -> bytes:
        try:
            r, _, _ = select.select([self.sock], [], [], timeout)
        except (OSError, ValueError):
            raise EOFError(f"{self.name} closed") from None
        if not r:
            return b""
        try:
            data = self.sock.recv(size)
        except OSError as exc:
            raise EOFError(f"{self.name}: {exc.strerror or exc}") from None
        if not data:
            raise EOFError(f"{self.name} closed by the other side")
        return data

    def write(self, data: bytes) -> None:
        with self._wlock:
            try:
                self.sock.sendall(data)
            except OSError as exc:
                raise EOFError(f"{self.name}: {exc.strerror or exc}") from None

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FdTransport:
    """A pair of file descriptors (a pty master, or pipes to a child process)."""

    def __init__(self, rfd: int, wfd: int, name: str, *, owns: bool = True) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self.name = name
        self._owns = owns
        self._closed = False

    def read(self, size: int, timeout: float) -> bytes:
        if self._closed:
            raise EOFError(f"{self.name} closed")
        try:
            r, _, _ = select.select([self.rfd], [], [], timeout)
        except (OSError, ValueError):
            raise EOFError(f"{self.name} closed") from None
        if not r:
            return b""
        try:
            data = os.read(self.rfd, size)
        except OSError as exc:
            # A pty master reports EIO once the slave side has no process left.
            if exc.errno in (errno.EIO, errno.EBADF):
                raise EOFError(f"{self.name} closed by the other side") from None
            raise
        if not data:
            raise EOFError(f"{self.name} closed by the other side")
        return data

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.wfd, view)
            except OSError as exc:
                raise EOFError(f"{self.name}: {exc.strerror}") from None
            view = view[n:]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns:
            for fd in {self.rfd, self.wfd}:
                try:
                    os.close(fd)
                except OSError:
                    pass


class SerialTransport:
    """Any pyserial URL or device path: ``/dev/ttyACM0``, ``socket://h:p``, ``rfc2217://h:p``."""

    def __init__(self, url: str, baudrate: int = DEFAULT_BAUDRATE, **kwargs: Any) -> None:
        try:
            import serial  # pyserial, optional dependency "device"
        except ImportError:
            raise PortNotFoundError(
                "serial ports need pyserial: pip install 'cymongoose-sdk[device]'"
            ) from None
        local = "://" not in url
        if local:
            try:
                url = hostos.serial_port_name(url)  # COMn on Windows, a device path elsewhere
            except ValueError as exc:
                raise PortNotFoundError(f"cannot open serial port {url}: {exc}") from None
        self.name = url
        self._serial_mod = serial
        if local:
            # A device path is opened exclusively (an advisory lock, as pyserial's
            # exclusive=True takes it): two programs reading one console each lose
            # half of its bytes, so the second one is refused at once.
            kwargs.setdefault("exclusive", True)
        try:
            self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, **kwargs)
        except (serial.SerialException, OSError, ValueError) as exc:
            # POSIX: pyserial's flock failed; Windows: a COM port open elsewhere is denied.
            if local and ("exclusively lock" in str(exc) or "Access is denied" in str(exc)):
                raise PortBusyError(f"port {url} is busy (already open, here or in another process)"
                                    ) from None
            raise PortNotFoundError(f"cannot open serial port {url}: {exc}") from None
        self._wlock = threading.Lock()
        self._is_socket = url.startswith("socket://")
        self._fd: int | None = None
        if not url.startswith(("rfc2217://", "loop://", "spy://")):
            try:
                self._fd = self.port.fileno()
                self.port.timeout = 0  # reads below never block: we select() first
            except (AttributeError, OSError, serial.SerialException):
                self._fd = None

    def read(self, size: int, timeout: float) -> bytes:
        serial = self._serial_mod
        if not self.port.is_open:
            raise EOFError(f"{self.name} closed")
        try:
            if self._fd is not None:
                # Wait on the descriptor ourselves, then take whatever is there
                # in one non-blocking read (pyserial's in_waiting is 0/1 for
                # socket:// and would force byte-by-byte reads).
                r, _, _ = select.select([self._fd], [], [], timeout)
                if not r:
                    return b""
                data = bytes(self.port.read(size))
                if not data and self._is_socket:
                    raise EOFError(f"{self.name} closed by the other side")
                return data
            if self.port.timeout != timeout:
                self.port.timeout = timeout
            data = bytes(self.port.read(1))
            waiting = self.port.in_waiting if data else 0
            if waiting:
                data += self.port.read(min(size - 1, waiting))
            return data
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            # pyserial reports a vanished socket:// peer or an unplugged
            # USB adapter as SerialException; TypeError/AttributeError come
            # from its internals after a concurrent close().
            raise EOFError(f"{self.name}: {exc}") from None

    def write(self, data: bytes) -> None:
        serial = self._serial_mod
        with self._wlock:
            try:
                self.port.write(data)
                self.port.flush()
            except (serial.SerialException, OSError) as exc:
                raise EOFError(f"{self.name}: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken port must not raise
            self.port.close()


def open_transport(url: str, baudrate: int = DEFAULT_BAUDRATE) -> Transport:
    """Open a console URL: ``socket://host:port``, ``unix:PATH`` or anything pyserial opens.

    ``socket://`` is handled here as a plain TCP connection rather than by
    pyserial, whose handler discards input that arrives while it connects, so
    a banner printed right after the connection would be lost.
    """
    if url.startswith("socket://"):
        rest = url[len("socket://"):].split("?", 1)[0].rstrip("/")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit():
            raise PortNotFoundError(f"cannot open serial port {url}: expected socket://HOST:PORT")
        try:
            t = SocketTransport.connect_tcp(host.strip("[]") or "127.0.0.1", int(port))
        except PortNotFoundError as exc:
            raise PortNotFoundError(f"cannot open serial port {url}: {exc}") from None
        t.name = url
        return t
    if url.startswith("unix:"):
        return SocketTransport.connect_unix(url[len("unix:"):])
    return SerialTransport(url, baudrate=baudrate)
