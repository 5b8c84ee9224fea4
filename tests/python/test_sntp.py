"""SNTP client (Manager.sntp_connect / Connection.sntp_request) against a
small SNTP responder started by the test on 127.0.0.1: the time it reports,
era wrap (2036+), kiss-o'-death, and replies that are not ours."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_CLOSE, MG_EV_ERROR, MG_EV_SNTP_TIME
from mgtest import poll_until

NTP_UNIX = 2208988800


def ntp_ts(unix: float) -> bytes:
    secs = int(unix) + NTP_UNIX
    frac = int((unix - int(unix)) * (1 << 32))
    return struct.pack("!II", secs & 0xFFFFFFFF, frac)


Reply = Callable[[bytes], "list[bytes]"]


class SntpServer:
    """Answers each request with the datagrams reply(request) returns."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                req, peer = self.sock.recvfrom(512)
            except (TimeoutError, OSError):
                continue
            self.requests.append(req)
            for d in self.reply(req):
                self.sock.sendto(d, peer)

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        self.sock.close()


def answer(req: bytes, unix: float | None = None, stratum: int = 2, li: int = 0,
           orig: bytes | None = None) -> bytes:
    t = time.time() if unix is None else unix
    head = bytes([(li << 6) | (4 << 3) | 4, stratum, 6, 0xEC]) + b"\x00" * 8 + b"LOCL"
    return (head + ntp_ts(t) + (orig if orig is not None else req[40:48]) + ntp_ts(t)
            + ntp_ts(t))


@pytest.fixture
def good() -> Iterator[SntpServer]:
    s = SntpServer(lambda req: [answer(req)])
    yield s
    s.close()


def collect(events: list[tuple[int, Any]]) -> Callable[[mg.Connection, int, Any], None]:
    def h(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev in (MG_EV_SNTP_TIME, MG_EV_ERROR, MG_EV_CLOSE):
            events.append((ev, data))
    return h


@pytest.mark.parametrize("scheme", ["udp", "sntp"])
def test_time(mgr: mg.Manager, good: SntpServer, scheme: str) -> None:
    events: list[tuple[int, Any]] = []
    c = mgr.sntp_connect(f"{scheme}://127.0.0.1:{good.port}", collect(events))
    assert c.id > 0 and c.is_udp
    c.sntp_request()
    before = time.time() * 1000
    assert poll_until(mgr, lambda: any(e == MG_EV_SNTP_TIME for e, _ in events))
    ms = next(d for e, d in events if e == MG_EV_SNTP_TIME)
    assert isinstance(ms, int)
    assert abs(ms - before) < 2000
    # Requests are version 4, client mode, with a transmit timestamp.
    req = good.requests[-1]
    assert len(req) == 48 and req[0] == 0x23 and req[40:48] != b"\x00" * 8
    # Two requests went out (one on connect, one asked for); only the reply
    # to the latest counts, so exactly one event.
    mgr.poll(100)
    assert sum(1 for e, _ in events if e == MG_EV_SNTP_TIME) == 1


def test_era_wrap(mgr: mg.Manager) -> None:
    when = 2145916800.25 + 86400 * 365 * 5  # 2043, after the 2036 NTP era rollover
    srv = SntpServer(lambda req: [answer(req, unix=when)])
    try:
        events: list[tuple[int, Any]] = []
        mgr.sntp_connect(f"udp://127.0.0.1:{srv.port}", collect(events))
        assert poll_until(mgr, lambda: any(e == MG_EV_SNTP_TIME for e, _ in events))
        ms = next(d for e, d in events if e == MG_EV_SNTP_TIME)
        assert abs(ms - int(when * 1000)) < 1000
    finally:
        srv.close()


def test_kiss_of_death(mgr: mg.Manager) -> None:
    srv = SntpServer(lambda req: [answer(req, stratum=0)])
    try:
        events: list[tuple[int, Any]] = []
        mgr.sntp_connect(f"udp://127.0.0.1:{srv.port}", collect(events))
        assert poll_until(mgr, lambda: any(e == MG_EV_CLOSE for e, _ in events))
        errs = [d for e, d in events if e == MG_EV_ERROR]
        assert errs and "SNTP" in errs[0]
        assert not any(e == MG_EV_SNTP_TIME for e, _ in events)
    finally:
        srv.close()


def test_foreign_and_garbage_replies_ignored(mgr: mg.Manager) -> None:
    srv = SntpServer(lambda req: [
        b"garbage",
        b"\x00" * 48,                                        # mode 0
        answer(req, unix=1000.0, orig=b"\x01" * 8),          # not our request
        answer(req, unix=1_700_000_000.0),                   # the real one
    ])
    try:
        events: list[tuple[int, Any]] = []
        mgr.sntp_connect(f"udp://127.0.0.1:{srv.port}", collect(events))
        assert poll_until(mgr, lambda: any(e == MG_EV_SNTP_TIME for e, _ in events))
        mgr.poll(50)
        times = [d for e, d in events if e == MG_EV_SNTP_TIME]
        assert len(times) == 1 and abs(times[0] - 1_700_000_000_000) < 1000
        assert not any(e == MG_EV_ERROR for e, _ in events)
    finally:
        srv.close()


def test_errors() -> None:
    m = mg.Manager()
    with pytest.raises(RuntimeError, match="Failed to connect to SNTP server ''"):
        m.sntp_connect("")
    m.close()
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        m.sntp_connect("udp://127.0.0.1:123")
