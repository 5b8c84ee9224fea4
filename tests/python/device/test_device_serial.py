"""Serial targets: a pty pair, pyserial socket://, missing ports."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from cymongoose.device.errors import PortNotFoundError, TargetExitedError
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
