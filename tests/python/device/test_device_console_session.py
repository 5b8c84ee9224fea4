"""One console kept across tests: the log file switches per test, the input buffer is
dropped between tests, and the session's serial targets reopen a console a test closed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cymongoose.device.console import Console
from cymongoose.device.errors import ExpectTimeoutError
from cymongoose.device.pytest_plugin import SerialConsoles
from cymongoose.device.transport import SocketTransport


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Console, socket.socket]]:
    a, b = socket.socketpair()
    con = Console(SocketTransport(a, "pair"), log_path=tmp_path / "first.log", name="t")
    b.settimeout(5)
    yield con, b
    con.close()
    b.close()


def _wait_tail(con: Console, text: str) -> None:
    deadline = time.monotonic() + 5
    while text not in con.tail:
        assert time.monotonic() < deadline, f"{text!r} never arrived"
        time.sleep(0.01)


def test_set_log_switches_the_file(pair: tuple[Console, socket.socket], tmp_path: Path) -> None:
    con, dev = pair
    dev.sendall(b"line A\npart")  # "part" is still an open line at the switch
    con.expect("part", timeout=2)
    con.send_line("to A")
    second = tmp_path / "sub" / "second.log"
    con.set_log(second)
    dev.sendall(b"line B\n")
    con.expect_line("line B", timeout=2)
    con.send_line("to B")
    con.set_log(None)  # between tests: nobody's log
    dev.sendall(b"line C\n")
    con.expect_line("line C", timeout=2)
    con.close()
    first = (tmp_path / "first.log").read_text()
    assert "line A" in first and "part" in first and "to A" in first
    assert "line B" not in first and "to B" not in first
    assert first.rstrip().endswith(f"[log continues in {second}]")
    text = second.read_text()
    assert text.startswith("# console t via pair, continued")
    assert "line B" in text and "to B" in text
    assert "line A" not in text and "line C" not in text
    assert text.rstrip().endswith("[log closed]")


def test_clear_drops_unconsumed_output(pair: tuple[Console, socket.socket]) -> None:
    con, dev = pair
    dev.sendall(b"from the previous test\n")
    _wait_tail(con, "previous test")
    con.clear()
    assert con.tail == ""
    with pytest.raises(ExpectTimeoutError):
        con.expect("previous", timeout=0.2)
    dev.sendall(b"fresh\n")
    assert con.expect_line("fresh", timeout=2)


@pytest.fixture
def device_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP 'device' on 127.0.0.1 that answers every line with 'ok N'."""
    srv = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []

    def serve(c: socket.socket) -> None:
        n = 0
        with c:
            while data := c.recv(4096):
                for _ in range(data.count(b"\n")):
                    n += 1
                    c.sendall(b"ok %d\n" % n)

    def accept() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield srv.getsockname()[1], conns
    srv.close()


def test_session_consoles_keep_and_reopen(device_server: tuple[int, list[socket.socket]]) -> None:
    port, conns = device_server
    url = f"socket://127.0.0.1:{port}"
    consoles = SerialConsoles()
    try:
        t1 = consoles.get(url, 115200, None)
        rpc1 = consoles.rpc(t1)
        t1.console.send_line("x")
        t1.console.expect_line("^ok 1$", timeout=5)
        t2 = consoles.get(url, 115200, None)  # the next test: the same open console
        assert t2 is t1 and consoles.rpc(t2) is rpc1 and len(conns) == 1
        t2.console.send_line("y")
        t2.console.expect_line("^ok 2$", timeout=5)  # the device saw one connection
        broken = t2.console
        broken.close()  # a test breaks it...
        t3 = consoles.get(url, 115200, None)  # ...the next one gets a fresh connection
        assert t3.console is not broken and not t3.console.closed
        assert consoles.rpc(t3) is not rpc1
        t3.console.send_line("z")
        t3.console.expect_line("^ok 1$", timeout=5)
        assert len(conns) == 2
    finally:
        consoles.close()
