"""Console over a socket pair: expect/read_until/expect_line, logs, timeouts, EOF, garbage."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cymongoose.device.console import MAX_BUFFER, Console
from cymongoose.device.errors import ExpectTimeoutError, TargetExitedError
from cymongoose.device.transport import SocketTransport


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Console, socket.socket]]:
    a, b = socket.socketpair()
    con = Console(SocketTransport(a, "pair"), log_path=tmp_path / "logs" / "con.log", name="t")
    b.settimeout(5)
    yield con, b
    con.close()
    b.close()


def test_expect_returns_groups_and_consumes(pair: tuple[Console, socket.socket]) -> None:
    con, dev = pair
    dev.sendall(b"boot\r\nip=10.0.2.15 mask=24\r\nready\r\n")
    m = con.expect(r"ip=(\d+\.\d+\.\d+\.\d+) mask=(\d+)", timeout=2)
    assert m.groups() == ("10.0.2.15", "24")
    # What was matched is consumed: the same pattern is not seen twice.
    with pytest.raises(ExpectTimeoutError):
        con.expect(r"ip=", timeout=0.2)
    assert con.read_until("ready", timeout=2).endswith("ready")


def test_send_line_reaches_the_device(pair: tuple[Console, socket.socket]) -> None:
    con, dev = pair
    con.send_line("echo hi")
    con.write(b"\x03")
    got = b""
    while len(got) < 9:
        got += dev.recv(100)
    assert got == b"echo hi\n\x03"


def test_expect_line_waits_for_the_whole_number(pair: tuple[Console, socket.socket]) -> None:
    con, dev = pair
    dev.sendall(b"sum=12")
    time.sleep(0.1)
    # expect() would match "12" now; expect_line waits for the end of the line.
    with pytest.raises(ExpectTimeoutError):
        con.expect_line(r"sum=(\d+)", timeout=0.2)
    dev.sendall(b"345\r\n")
    assert con.expect_line(r"sum=(\d+)", timeout=2).group(1) == "12345"


def test_timeout_error_shows_the_last_lines(pair: tuple[Console, socket.socket]) -> None:
    con, dev = pair
    dev.sendall(b"".join(b"line %d\r\n" % i for i in range(30)))
    con.expect("line 29", timeout=2)
    t0 = time.monotonic()
    with pytest.raises(ExpectTimeoutError) as info:
        con.expect(r"never(\d)", timeout=0.3)
    assert 0.25 <= time.monotonic() - t0 < 3
    text = str(info.value)
    assert "'never(\\\\d)'" in text or "never(\\d)" in text
    assert "line 29" in text and "line 20" in text and "line 5\n" not in text


def test_eof_raises_target_exited_not_timeout(pair: tuple[Console, socket.socket]) -> None:
    con, dev = pair
    dev.sendall(b"panic: oops\r\n")
    dev.close()
    t0 = time.monotonic()
    with pytest.raises(TargetExitedError, match="closed") as info:
        con.expect("ready", timeout=10)
    assert time.monotonic() - t0 < 5
    assert "panic: oops" in str(info.value)
    assert con.closed


def test_health_check_explains_a_dead_target(tmp_path: Path) -> None:
    a, b = socket.socketpair()

    def health(wait: float) -> None:
        raise TargetExitedError("emulator died", returncode=-9, stderr="segfault in device model")

    con = Console(SocketTransport(a, "pair"), health=health)
    b.close()
    with pytest.raises(TargetExitedError, match="segfault in device model"):
        con.expect("x", timeout=5)
    con.close()


def test_garbage_and_split_utf8_do_not_break_matching(pair: tuple[Console, socket.socket]) -> None:
    con, dev = pair
    dev.sendall(bytes(range(0x80, 0x100)) + b"\r\n")
    snow = "température ☃ ok\r\n".encode()
    i = snow.index(b"\xe2") + 1  # cut inside the 3-byte snowman
    dev.sendall(snow[:i])
    time.sleep(0.1)
    dev.sendall(snow[i:])
    m = con.expect(r"temp\w+ (.) ok", timeout=2)
    assert m.group(1) == "☃"


def test_log_is_timestamped_and_complete(tmp_path: Path) -> None:
    a, b = socket.socketpair()
    log = tmp_path / "session.log"
    con = Console(SocketTransport(a, "pair"), log_path=log, name="dut")
    b.sendall(b"first\r\nsecond\r\npartial")
    con.expect("partial", timeout=2)
    con.send_line("cmd 1")
    b.sendall(b" tail\n")
    con.expect("tail", timeout=2)
    b.close()
    with pytest.raises(TargetExitedError):
        con.expect("x", timeout=2)
    con.close()
    lines = log.read_text().splitlines()
    assert lines[0].startswith("# console dut via pair")
    stamped = [ln for ln in lines[1:] if re.match(r"\[\s*\d+\.\d{6}\] ", ln)]
    assert len(stamped) == len(lines) - 1
    body = [ln.split("] ", 1)[1] for ln in stamped]
    assert body[:2] == ["first", "second"]
    assert ">>> 'cmd 1\\n'" in body
    assert "partial tail" in body
    assert body[-1] == "[console closed]"
    times = [float(ln[1:ln.index("]")]) for ln in stamped]
    assert times == sorted(times)


def test_unread_output_is_bounded() -> None:
    a, b = socket.socketpair()
    con = Console(SocketTransport(a, "pair"))
    chunk = b"x" * 65536
    for _ in range(MAX_BUFFER // len(chunk) * 3):
        b.sendall(chunk)
    b.sendall(b"END\n")
    con.expect("END", timeout=10)
    assert len(con._buf) < MAX_BUFFER
    con.close()
    b.close()
