"""Careless and hostile HTTP peers against the server over raw sockets (issue #22:
no smuggling past the header limit, a minimum body rate, junk refused at once;
issue #21 section 2: the Host and version MUSTs of RFC 9112)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_ACCEPT, MG_EV_HTTP_MSG
from httpsrv import HttpServer, raw_exchange

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


class Recorder:
    """Answers every request with "<uri>:<body length>" and remembers the URIs.
    Accepted connections get the request timeout and body rate in `settings`."""

    def __init__(self, **settings: int) -> None:
        self.uris: list[str] = []
        self.settings = settings

    def __call__(self, conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_ACCEPT:
            if "timeout" in self.settings:
                conn.http_set_request_timeout(self.settings["timeout"])
            if "rate" in self.settings:
                conn.http_set_body_min_rate(self.settings["rate"])
        elif ev == MG_EV_HTTP_MSG:
            self.uris.append(hm.uri)
            conn.reply(200, f"{hm.uri}:{len(hm.body_bytes)}")


@contextmanager
def serving(**settings: int) -> Iterator[tuple[HttpServer, Recorder]]:
    rec = Recorder(**settings)
    with HttpServer(rec) as srv:
        yield srv, rec


def until_closed(s: socket.socket) -> bytes:
    """Everything the server sends until it closes (socket timeout: an error)."""
    got = b""
    while chunk := s.recv(65536):
        got += chunk
    return got


def exchange_closed(port: int, data: bytes, timeout: float = 2.0) -> bytes:
    """Sends data and returns the answer, asserting the server closed the
    connection within the socket timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return until_closed(s)


# ---- No smuggling past the header limit ----

def many_fields_request(fillers: int, framing: bytes, body: bytes) -> bytes:
    return (b"POST /first HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Filler-%d: v\r\n" % i for i in range(fillers))
            + framing + b"\r\n" + body)


@pytest.mark.parametrize("framing,body", [
    (b"Content-Length: %d\r\n" % len(SMUGGLED), SMUGGLED),
    (b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
])
def test_framing_field_past_the_header_limit_gets_431(framing: bytes, body: bytes) -> None:
    """Past MG_MAX_HTTP_HEADERS the framing field used to be ignored, so the body
    was served as a second request."""
    with serving() as (srv, rec):
        out = exchange_closed(srv.port, many_fields_request(250, framing, body))
        assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), out[:80]
        assert b"Connection: close" in out
        assert rec.uris == []  # neither /first nor /smuggled
        assert "HTTP 431 Request Header Fields Too Large" in srv.errors


def test_framing_field_after_the_30th_is_honoured() -> None:
    """The 31st+ field is within the host limit: it frames the body."""
    with serving() as (srv, rec):
        req = many_fields_request(31, b"Content-Length: %d\r\n" % len(SMUGGLED), SMUGGLED)
        out = raw_exchange(srv.port, req, until=b"/first:%d" % len(SMUGGLED))
        assert out.startswith(b"HTTP/1.1 200 OK\r\n")
        time.sleep(0.1)
        assert rec.uris == ["/first"]


def test_client_refuses_response_with_too_many_fields() -> None:
    resp = (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(250))
            + b"Content-Length: 2\r\n\r\nok")
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def peer() -> None:
        conn, _ = lsock.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(resp)
            conn.settimeout(5)
            try:
                conn.recv(1)  # until the client closes
            except OSError:
                pass

    t = threading.Thread(target=peer, daemon=True)
    t.start()
    seen: list[tuple[int, Any]] = []

    def client(conn: Any, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_CONNECT:
            conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        elif ev in (MG_EV_HTTP_MSG, mg.MG_EV_ERROR):
            seen.append((ev, str(data) if ev == mg.MG_EV_ERROR else data.status()))

    with mg.Manager() as mgr:
        mgr.connect(f"http://127.0.0.1:{port}", client)
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            mgr.poll(10)
    t.join(5)
    lsock.close()
    assert seen == [(mg.MG_EV_ERROR, "bad HTTP response: too many header fields")]


# ---- A minimum rate for request bodies ----

def trickle(port: int, head: bytes, step: bytes, every: float, total: int,
            limit: float, until: bytes = b"\0") -> tuple[bytes, float]:
    """Sends head, then `step` every `every` seconds (at most `total` body
    bytes) until the server closes or `until` arrives; returns the answer and
    the time taken."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
        s.sendall(head)
        t0 = time.monotonic()
        s.settimeout(every)
        got, sent = b"", 0
        while time.monotonic() - t0 < limit:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                if sent < total:
                    try:
                        s.sendall(step[:total - sent])
                    except OSError:
                        break  # the server closed while we were sending
                    sent += len(step)
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
            if until in got:
                break
        return got, time.monotonic() - t0


BIG_POST = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"


def test_trickling_body_is_cut_at_the_default_rate() -> None:
    """1 byte per 20 ms against the default 1024 B/s: 408 after one window of the
    (shortened) request timeout, although every read used to re-arm it."""
    with serving(timeout=400) as (srv, rec):
        got, took = trickle(srv.port, BIG_POST, b"x", 0.02, 1_000_000, limit=5.0)
        assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), got[:60]
        assert took < 5.0  # cut, not still waiting
        assert "HTTP body too slow" in srv.errors
        assert rec.uris == []


def test_body_rate_per_connection_and_off() -> None:
    """200 B/s: cut under a 2000 B/s minimum, served with the check off (0)."""
    head = b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 120\r\n\r\n"
    with serving(timeout=300, rate=2000) as (srv, rec):
        got, _ = trickle(srv.port, head, b"y" * 4, 0.02, 120, limit=5.0)
        assert got.startswith(b"HTTP/1.1 408 "), got[:60]
        assert "HTTP body too slow" in srv.errors
    with serving(timeout=300, rate=0) as (srv, rec):
        got, _ = trickle(srv.port, head, b"y" * 4, 0.02, 120, limit=5.0, until=b"/slow:120")
        assert got.endswith(b"/slow:120"), got[:60]
        assert rec.uris == ["/slow"] and srv.errors == []


def test_fast_large_upload_passes_the_rate_check() -> None:
    body = bytes(range(256)) * 8192  # 2 MiB
    with serving(timeout=1000) as (srv, _rec):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        for _ in range(2):
            c.request("POST", "/big", body=body)
            assert c.getresponse().read() == b"/big:%d" % len(body)
        c.close()
        assert srv.errors == []


def test_body_min_rate_argument_errors() -> None:
    seen: list[str] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_ACCEPT:
            for bad in (-1, 2**32, "5", None):
                try:
                    conn.http_set_body_min_rate(bad)
                except (TypeError, ValueError) as e:
                    seen.append(str(e))
            conn.http_set_body_min_rate(1024)
        elif ev == MG_EV_HTTP_MSG:
            conn.reply(200, "ok")

    with HttpServer(h) as srv:
        with pytest.raises(ValueError, match="http_set_body_min_rate.*accepted HTTP"):
            srv.listener.http_set_body_min_rate(100)
        assert raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                            until=b"ok").endswith(b"ok")
    assert seen[0] == ("http_set_body_min_rate() argument 'bytes_per_second' must be "
                       "0..4294967295, not -1")
    assert len(seen) == 4 and "must be int" in seen[2]


# ---- Junk is refused at once ----

CLIENT_HELLO = (b"\x16\x03\x01\x01\x00\x01\x00\x00\xfc\x03\x03" + bytes(range(32))
                + b"\x00\x02\x13\x01\x01\x00" + b"\x00" * 200)


@pytest.mark.parametrize("junk", [
    CLIENT_HELLO,
    b"\x00" * 64,
    b"\xff\xfe binary \x01\x02",
    b"G(T / HTTP/1.1\r\n",
    b"GET / HTTP/1.1 extra\r\n",
    b"GET /a b HTTP/1.1\r\nHost: x\r\n",
    b"GET / FTP/1.1\r\n",
    b"SSH-2.0-OpenSSH_9.2p1\r\n",
    b"GET / HTTP/1.1\r\nBad Name: v\r\n",
    b"GET /" + b"a" * 3000 + b" HTTP/1.1 junk\r\n",
], ids=["tls-hello", "nul", "binary", "method", "extra", "space-in-target", "ftp",
        "ssh-banner", "bad-field", "long-line"])
def test_junk_gets_400_at_once(junk: bytes) -> None:
    """The default 30 s request timeout is in force: only an early refusal
    answers within the 2 s socket timeout."""
    with serving() as (srv, rec):
        out = exchange_closed(srv.port, junk, timeout=2.0)
        assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out[:60]
        assert rec.uris == []


FULL = b"GET /pa HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("part,full", [
    (b"GE", FULL), (b"GET /pa", FULL), (b"GET /pa HTTP/1.", FULL), (b"GET /pa HTTP/1.1\r", FULL),
    (b"GET /pa HTTP/1.1\r\nHo", FULL), (b"\r\nGET /", b"\r\n" + FULL),
    (b"OPTIONS * HTTP/1.1\r\n", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
])
def test_partial_requests_are_waited_for(part: bytes, full: bytes) -> None:
    with serving() as (srv, _rec), \
            socket.create_connection(("127.0.0.1", srv.port), timeout=0.3) as s:
        s.sendall(part)
        with pytest.raises(TimeoutError):
            s.recv(100)  # no early answer
        s.settimeout(3)
        s.sendall(full[len(part):])
        got = b""
        while b":0" not in got:
            chunk = s.recv(4096)
            assert chunk
            got += chunk
        assert got.startswith(b"HTTP/1.1 200 OK\r\n")


# ---- RFC 9112: Host and version ----

@pytest.mark.parametrize("req,status", [
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    (b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: %zz\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET / HTTP/3.1\r\nHost: a\r\n\r\n", 505),
    (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
], ids=["no-host", "two-hosts", "two-hosts-1.0", "host-space", "host-slash", "host-at",
        "host-port", "host-bracket", "host-pct", "v2.0", "v3.1", "v0.9", "h2-preface"])
def test_host_and_version_musts(req: bytes, status: int) -> None:
    with serving() as (srv, rec):
        out = exchange_closed(srv.port, req)
        assert out.startswith(b"HTTP/1.1 %d " % status), out[:60]
        assert rec.uris == []


@pytest.mark.parametrize("req", [
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a%41b.example\r\n\r\n",
    b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    b"GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
])
def test_valid_hosts_and_versions_are_served(req: bytes) -> None:
    with serving() as (srv, _rec):
        out = raw_exchange(srv.port, req, until=b"/:0")
        assert out.startswith(b"HTTP/1.1 200 OK\r\n"), out[:60]
