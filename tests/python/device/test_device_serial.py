"""Serial targets: a pty pair, pyserial socket://, missing ports."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import tty
from pathlib import Path

import pytest
from cymongoose.device.errors import PortBusyError, PortNotFoundError, TargetExitedError
from cymongoose.device.targets import SerialTarget, free_tcp_port


def test_pty_pair_console(tmp_path: Path) -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        with SerialTarget(path, log_path=tmp_path / "pty.log") as t:
            os.write(master, b"hello from the board\r\n")
            assert t.console.expect(r"hello from the (\w+)", timeout=3).group(1) == "board"
            t.console.send_line("status")
            got = b""
            while b"\n" not in got:
                got += os.read(master, 100)
            assert got.replace(b"\r", b"") == b"status\n"
        assert "hello from the board" in (tmp_path / "pty.log").read_text()
    finally:
        os.close(master)
        os.close(slave)


def test_socket_url_console_and_peer_disconnect() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    conns: list[socket.socket] = []

    def board() -> None:
        c, _ = srv.accept()
        conns.append(c)
        c.sendall(b"tick 1\r\n")
        data = c.recv(100)
        c.sendall(b"got " + data.strip() + b"\r\n")

    th = threading.Thread(target=board, daemon=True)
    th.start()
    with SerialTarget(f"socket://127.0.0.1:{port}") as t:
        t.console.expect("tick 1", timeout=3)
        t.console.send_line("ping")
        t.console.expect_line(r"^got ping$", timeout=3)
        th.join(3)
        conns[0].close()
        with pytest.raises(TargetExitedError, match="closed"):
            t.console.expect("more", timeout=5)
    srv.close()


def test_missing_ports_are_clear_errors() -> None:
    with pytest.raises(PortNotFoundError, match="/dev/ttyDOESNOTEXIST"):
        SerialTarget("/dev/ttyDOESNOTEXIST").start()
    port = free_tcp_port()
    with pytest.raises(PortNotFoundError, match=f"socket://127.0.0.1:{port}"):
        SerialTarget(f"socket://127.0.0.1:{port}").start()
    with pytest.raises(PortNotFoundError, match="cannot open serial port"):
        SerialTarget("nosuchscheme://x").start()


class Rfc2217Server:
    """pyserial's own RFC 2217 port manager serving one pty on 127.0.0.1 (the real peer)."""

    def __init__(self, tty_path: str) -> None:
        import serial
        import serial.rfc2217

        class PtySerial(serial.Serial):
            """A pty has no modem lines: accept the RFC 2217 control requests, keep no state."""

            def _update_dtr_state(self) -> None:
                pass

            def _update_rts_state(self) -> None:
                pass

            cts = dsr = ri = cd = property(lambda self: False)

        self.ser = PtySerial(tty_path, 115200, timeout=0.05)
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.stop = threading.Event()
        self._rfc2217 = serial.rfc2217
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.srv.accept()

        class Writer:
            def write(self, data: bytes) -> None:
                conn.sendall(data)

        pm = self._rfc2217.PortManager(self.ser, Writer())

        def to_net() -> None:
            while not self.stop.is_set():
                data = self.ser.read(self.ser.in_waiting or 1)
                if data:
                    conn.sendall(b"".join(pm.escape(data)))

        threading.Thread(target=to_net, daemon=True).start()
        conn.settimeout(0.1)
        while not self.stop.is_set():
            try:
                data = conn.recv(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.ser.write(b"".join(pm.filter(data)))
        conn.close()

    def close(self) -> None:
        self.stop.set()
        self.srv.close()
        time.sleep(0.1)
        self.ser.close()


# pyserial's RFC 2217 module still calls Thread.setDaemon/setName.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")
def test_rfc2217_url_console(tmp_path: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    server = Rfc2217Server(os.ttyname(slave))
    try:
        with SerialTarget(f"rfc2217://127.0.0.1:{server.port}", baudrate=115200,
                          log_path=tmp_path / "rfc.log") as t:
            os.write(master, b"board over rfc2217 ready\r\n")
            t.console.expect_line(r"^board over (\w+) ready$", timeout=10)
            t.console.send_line("ping")
            got = b""
            deadline = time.monotonic() + 10
            while b"\n" not in got and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    got += os.read(master, 100)
            assert got.replace(b"\r", b"") == b"ping\n"
    finally:
        server.close()
        os.close(master)
        os.close(slave)


def test_unplugged_port_mid_session_is_an_error_not_a_hang() -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    t = SerialTarget(path).start()
    try:
        os.write(master, b"before unplug\r\n")
        t.console.expect_line("before unplug", timeout=5)
        os.close(master)  # the USB adapter goes away
        t0 = time.monotonic()
        with pytest.raises(TargetExitedError, match="closed"):
            t.console.expect_line("after", timeout=30)
        assert time.monotonic() - t0 < 10
        with pytest.raises(TargetExitedError):
            t.console.send_line("anyone?")
    finally:
        t.stop()


def test_a_local_port_is_opened_exclusively() -> None:
    """A device path held by one console is refused at once to a second opener, with a
    message saying why (not a later time-out); once closed it opens again."""
    pytest.importorskip("serial")
    from cymongoose.device.transport import SerialTransport

    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        first = SerialTransport(path)
        t0 = time.monotonic()
        with pytest.raises(PortBusyError, match=f"port {path} is busy"):
            SerialTransport(path)
        assert time.monotonic() - t0 < 2
        first.close()
        SerialTransport(path).close()
    finally:
        os.close(master)
        os.close(slave)
