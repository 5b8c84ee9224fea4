"""Our two HTTP extensions of Connection: http_upload (chunked file upload at
an offset, curl as the client, SHA-256 checked, traversal refused) and
http_set_request_timeout (a half-sent request gets 408 after the chosen time
while other clients are served) and http_set_keepalive_timeout (idle connections
closed after the chosen time, busy ones kept)."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_ACCEPT, MG_EV_HTTP_MSG
from httpsrv import HttpServer, curl, raw_exchange

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


def upload_server(updir: Path, max_size: int, results: list[int]) -> HttpServer:
    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            results.append(conn.http_upload(hm, str(updir), max_size))
    return HttpServer(h)


@needs_curl
def test_curl_uploads_in_chunks(tmp_path: Path) -> None:
    updir = tmp_path / "up"
    updir.mkdir()
    data = os.urandom(700_001)
    cuts = [0, 250_000, 500_000, len(data)]
    args: list[str] = []
    for i in range(3):
        part = tmp_path / f"part{i}"
        part.write_bytes(data[cuts[i]:cuts[i + 1]])
        if i:
            args.append("--next")
        args += ["-sS", "--data-binary", f"@{part}"]
        args.append(f"URL/upload?file=image.bin&offset={cuts[i]}")
    results: list[int] = []
    with upload_server(updir, 800_000, results) as srv:
        r = curl(*[a.replace("URL", srv.url) for a in args], timeout=20)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"250000\n500000\n700001\n"  # each answer: the new size
        assert results == [250_000, 500_000, 700_001]
        got = (updir / "image.bin").read_bytes()
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
        # A chunk at the wrong offset is refused and leaves the file alone.
        r = curl("--data-binary", "xx", "-w", " %{http_code}",
                 srv.url + "/upload?file=image.bin&offset=5")
        assert r.stdout == b"Offset does not match the file size\n 400"
        assert results[-1] == -1 and (updir / "image.bin").stat().st_size == 700_001
        # Past max_size: 413, nothing written.
        r = curl("--data-binary", f"@{tmp_path / 'part0'}", "-w", " %{http_code}",
                 srv.url + "/upload?file=image.bin&offset=700001")
        assert r.stdout.endswith(b" 413") and results[-1] == -1
        assert (updir / "image.bin").stat().st_size == 700_001
        # offset=0 starts the file afresh.
        r = curl("--data-binary", "fresh", srv.url + "/upload?file=image.bin&offset=0")
        assert r.stdout == b"5\n" and (updir / "image.bin").read_bytes() == b"fresh"


@needs_curl
@pytest.mark.parametrize("name", ["../escape.txt", "..%2Fescape.txt", "sub/escape.txt",
                                  "%2Ftmp%2Fescape.txt", "..", "x%00y", "a%5Cb", ""])
def test_upload_traversal_refused(tmp_path: Path, name: str) -> None:
    updir = tmp_path / "up"
    (updir / "sub").mkdir(parents=True)
    results: list[int] = []
    with upload_server(updir, 1000, results) as srv:
        r = curl("--data-binary", "evil", "-w", " %{http_code}",
                 srv.url + f"/upload?file={name}&offset=0")
        assert r.stdout == b"Bad file name\n 400"
        assert results == [-1]
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert found == ["up", "up/sub"]  # nothing written anywhere


def test_upload_argument_errors(tmp_path: Path) -> None:
    seen: list[str] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev != MG_EV_HTTP_MSG:
            return
        for call in (lambda: conn.http_upload(hm, str(tmp_path), -1),
                     lambda: conn.http_upload(hm, str(tmp_path), "10"),
                     lambda: conn.http_upload(hm, "", 10),
                     lambda: conn.http_upload(hm, "a\0b", 10),
                     lambda: conn.http_upload("not a message", str(tmp_path), 10)):
            try:
                call()
            except (TypeError, ValueError) as e:
                seen.append(f"{type(e).__name__}: {e}")
        conn.reply(200, "checked")

    with HttpServer(h) as srv:
        out = raw_exchange(srv.port, b"POST /?file=a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
                           until=b"checked")
        assert out.startswith(b"HTTP/1.1 200 OK")
    assert seen == [
        "ValueError: http_upload() argument 'max_size' must be >= 0, not -1",
        "TypeError: http_upload() argument 'max_size' must be int, not str",
        "ValueError: http_upload() argument 'upload_dir' must be a non-empty path without NUL",
        "ValueError: http_upload() argument 'upload_dir' must be a non-empty path without NUL",
        "TypeError: message must be an HttpMessage, not str",
    ]
    assert list(tmp_path.iterdir()) == []


def timeout_server(ms: int) -> HttpServer:
    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_ACCEPT:
            conn.http_set_request_timeout(ms)
        elif ev == MG_EV_HTTP_MSG:
            conn.reply(200, "served")
    return HttpServer(h)


@pytest.mark.parametrize("partial", [b"GET /slow HTTP/1.1\r\nHost: x\r\n",
                                     b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"])
def test_request_timeout_answers_slow_client(partial: bytes) -> None:
    with timeout_server(400) as srv:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        t0 = time.monotonic()
        s.sendall(partial)
        # Meanwhile others are served at once.
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/fast")
        assert c.getresponse().read() == b"served"
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break  # the server closed after answering
            got += chunk
        waited = time.monotonic() - t0
        s.close()
        assert got.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert 0.3 <= waited < 10  # our 400 ms, not the 30 s default
        assert "HTTP request timeout" in srv.errors
        c.request("GET", "/again")  # the keep-alive client is still fine
        assert c.getresponse().read() == b"served"
        c.close()


def test_request_timeout_argument_errors() -> None:
    seen: list[str] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_ACCEPT:
            for bad in (-1, 2**32, "5", None):
                try:
                    conn.http_set_request_timeout(bad)
                except (TypeError, ValueError) as e:
                    seen.append(type(e).__name__)
            conn.http_set_request_timeout(2.9)  # truncated to 2, like other int args
            conn.http_set_request_timeout(0)  # back to the default
        elif ev == MG_EV_HTTP_MSG:
            conn.reply(200, "ok")

    with HttpServer(h) as srv:
        with pytest.raises(ValueError, match="accepted HTTP connection"):
            srv.listener.http_set_request_timeout(100)
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/")
        assert c.getresponse().read() == b"ok"
        c.close()
    assert seen == ["ValueError", "ValueError", "TypeError", "TypeError"]
    with mg.Manager() as mgr:
        tcp = mgr.listen("tcp://127.0.0.1:0")
        with pytest.raises(ValueError, match="accepted HTTP connection"):
            tcp.http_set_request_timeout(100)


def test_keepalive_timeout_closes_idle_connections() -> None:
    """A client that never sends and a keep-alive client after its response are
    closed after 300 ms without traffic; a request answered late is not cut off."""
    late: list[Any] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_ACCEPT:
            conn.http_set_keepalive_timeout(300)
        elif ev == MG_EV_HTTP_MSG and hm.uri == "/late":
            late.append((conn, time.monotonic() + 1.0))  # answered in a second
        elif ev == MG_EV_HTTP_MSG:
            conn.reply(200, "served")
        elif ev == mg.MG_EV_POLL and late and late[0][0] is conn and time.monotonic() > late[0][1]:
            late.pop()
            conn.reply(200, "late")

    def closed_after(s: socket.socket) -> tuple[bytes, float]:
        t0, got = time.monotonic(), b""
        while chunk := s.recv(4096):
            got += chunk
        return got, time.monotonic() - t0

    with HttpServer(h) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as silent:
            got, waited = closed_after(silent)
        assert got == b"" and 0.25 <= waited < 5  # ours, not the 60 s default

        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as ka:
            ka.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got, waited = closed_after(ka)
        assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"served")
        assert 0.25 <= waited < 5

        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as slow:
            slow.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
            got, waited = closed_after(slow)
        assert got.endswith(b"late") and waited >= 1.0 + 0.25
        assert srv.errors == []  # an idle close is no error


def test_keepalive_timeout_argument_errors() -> None:
    with mg.Manager() as mgr:
        lc = mgr.listen("http://127.0.0.1:0")
        with pytest.raises(ValueError, match="http_set_keepalive_timeout.*accepted HTTP"):
            lc.http_set_keepalive_timeout(100)
        seen: list[str] = []

        def h(conn: Any, ev: int, hm: Any) -> None:
            if ev == MG_EV_ACCEPT:
                for bad in (-1, 2**32, "5", None):
                    try:
                        conn.http_set_keepalive_timeout(bad)
                    except (TypeError, ValueError) as e:
                        seen.append(str(e))
                conn.http_set_keepalive_timeout(0)

        lc2 = mgr.listen("http://127.0.0.1:0", h)
        with socket.create_connection(("127.0.0.1", lc2.local_addr[1]), timeout=5):
            deadline = time.monotonic() + 5
            while len(seen) < 4 and time.monotonic() < deadline:
                mgr.poll(20)
    assert seen[0] == ("http_set_keepalive_timeout() argument 'milliseconds' must be "
                       "0..4294967295, not -1")
    assert len(seen) == 4 and "must be int" in seen[2]
