"""HTTP server over loopback against real clients: http.client, curl, requests,
httpx and raw sockets (docs/api-contract.md#connection, 2.3, C-14, C-20..C-27, D-1, D-6, D-7)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, HttpMessage
from httpsrv import HttpServer, curl, raw_exchange

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


def echo_handler(conn: Any, ev: int, hm: Any) -> None:
    """Replies with a JSON summary of the request."""
    if ev == MG_EV_HTTP_MSG:
        conn.reply_json({
            "method": hm.method, "uri": hm.uri, "query": hm.query, "proto": hm.proto,
            "body": hm.body_text, "x": hm.query_var("x"), "status": hm.status(),
            "agent": hm.header("USER-AGENT"), "n_headers": len(hm.headers()),
        })


def test_request_view_and_reply_json() -> None:
    with HttpServer(echo_handler) as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("POST", "/a/b%20c?x=1+2%21&y=", body=b"hello",
                  headers={"User-Agent": "t1"})
        r = c.getresponse()
        body = json.loads(r.read())
        assert r.status == 200 and r.reason == "OK"
        assert r.getheader("Content-Type") == "application/json"
        assert body == {"method": "POST", "uri": "/a/b%20c", "query": "x=1+2%21&y=",
                        "proto": "HTTP/1.1", "body": "hello", "x": "1 2!", "status": 0,
                        "agent": "t1", "n_headers": body["n_headers"]}
        assert body["n_headers"] >= 3
        c.close()


def test_reply_wire_format_and_nul_body() -> None:
    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            code = int(hm.query_var("code") or 200)
            if hm.uri == "/nul":
                conn.reply(200, b"ab\x00cd")
            elif hm.uri == "/hdr":
                conn.reply(code, "x", {"X-One": 1, "content-type": "text/html"})
            else:
                conn.reply(code)

    with HttpServer(h) as srv:
        out = raw_exchange(srv.port, b"GET /nul HTTP/1.1\r\nHost: x\r\n\r\n", until=b"cd")
        assert out == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: 5\r\n\r\nab\x00cd")
        out = raw_exchange(srv.port, b"GET /x?code=299 HTTP/1.1\r\nHost: x\r\n\r\n",
                           until=b"\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 299 \r\n")
        for code, reason in ((201, b"Created"), (404, b"Not Found")):
            out = raw_exchange(srv.port, f"GET /?code={code} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                               until=b"\r\n\r\n")
            assert out.startswith(b"HTTP/1.1 %d %s\r\n" % (code, reason))
        out = raw_exchange(srv.port, b"GET /hdr HTTP/1.1\r\nHost: x\r\n\r\n", until=b"\r\n\r\nx")
        assert out == (b"HTTP/1.1 200 OK\r\nX-One: 1\r\ncontent-type: text/html\r\n"
                       b"Content-Length: 1\r\n\r\nx")


def test_header_validation_sends_nothing() -> None:
    results: list[str] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            for bad in ({"X\r\nA": "1"}, {"X": "a\nb"}, {"X": "a\0b"}):
                try:
                    conn.reply(200, "", bad)
                except ValueError as e:
                    results.append(str(e))
            try:
                conn.reply_json({}, headers={"Y": "\r"})
            except ValueError as e:
                results.append(str(e))
            results.append(repr(conn.send_data()))
            conn.reply(204)

    with HttpServer(h) as srv:
        out = raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", until=b"\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert len(results) == 5
    assert results[0].startswith("Header name contains illegal character")
    assert all(r.startswith("Header value contains illegal character") for r in results[1:4])
    assert results[4] == "b''"
    with pytest.raises(ValueError, match="Header name.*illegal character"):
        mg._mongoose._validate_header("a\0", "b")


def test_chunked_and_sse_responses() -> None:
    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            conn.reply(200, "", {"Transfer-Encoding": "chunked",
                                 "Content-Type": "text/event-stream"})
            conn.http_chunk("first;")
            conn.http_sse("tick", "42")
            conn.http_chunk(b"")

    with HttpServer(h) as srv:
        raw = raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", until=b"0\r\n\r\n")
        head, _, body = raw.partition(b"\r\n\r\n")
        assert b"Content-Length" not in head  # D-7
        assert body == (b"6\r\nfirst;\r\n16\r\nevent: tick\ndata: 42\n\n\r\n0\r\n\r\n")
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/")
        assert c.getresponse().read() == b"first;event: tick\ndata: 42\n\n"


def test_keep_alive_and_pipelining() -> None:
    with HttpServer(echo_handler) as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        for i in range(5):
            c.request("GET", f"/k?x={i}")
            assert json.loads(c.getresponse().read())["x"] == str(i)
        c.close()
        reqs = b"".join(b"GET /p?x=%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(10))
        out = raw_exchange(srv.port, reqs, until=b'"x": "9"')
        xs = [int(p.split(b'"x": "')[1].split(b'"')[0]) for p in out.split(b"HTTP/1.1 200")[1:]]
        assert xs == list(range(10))


def test_chunked_request_body_decoded() -> None:
    with HttpServer(echo_handler) as srv:
        body = b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n"
        out = raw_exchange(srv.port, b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           + body, until=b"}")
        assert b'"body": "wikipedia"' in out


@needs_curl
def test_curl_chunked_upload_and_expect_continue(tmp_path: Any) -> None:
    sizes: list[int] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            sizes.append(len(hm.body_bytes))
            conn.reply(200, hm.body_bytes[-16:])

    data = bytes(range(256)) * 1000
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    with HttpServer(h) as srv:
        r = curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{f}", srv.url + "/up")
        assert r.returncode == 0, r.stderr
        assert r.stdout == data[-16:]
        r = curl("-H", "Expect: 100-continue", "--data-binary", f"@{f}", srv.url + "/up")
        assert r.returncode == 0 and r.stdout == data[-16:]
    assert sizes == [len(data), len(data)]


def test_requests_and_httpx_clients() -> None:
    requests = pytest.importorskip("requests")
    httpx = pytest.importorskip("httpx")
    with HttpServer(echo_handler) as srv:
        with requests.Session() as s:
            for i in range(3):
                r = s.post(srv.url + "/r", params={"x": f"v {i}"}, data=b"q" * i)
                assert r.status_code == 200 and r.json()["x"] == f"v {i}"
                assert r.json()["body"] == "q" * i
        with httpx.Client() as c:
            r = c.get(srv.url + "/h?x=%C3%A9")
            assert r.json()["x"] == "é"


def test_hdrs_event_then_msg_and_view_invalidation() -> None:
    kept: list[Any] = []
    seen: list[tuple[int, bytes]] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev in (MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG):
            assert isinstance(hm, HttpMessage) and bool(hm)
            seen.append((ev, hm.body_bytes))
            kept.append(hm)
            if ev == MG_EV_HTTP_MSG:
                conn.reply(200, "ok")

    with HttpServer(h) as srv:
        out = raw_exchange(srv.port, b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nA: b\r\n\r\nxyz",
                           until=b"ok")
        assert out.endswith(b"ok")
    assert seen == [(MG_EV_HTTP_HDRS, b""), (MG_EV_HTTP_MSG, b"xyz")]
    for m in kept:
        assert not m and m.method == "" and m.uri == "" and m.body_bytes == b""
        assert m.header("A", "dflt") == "dflt" and m.headers() == []
        assert m.query_var("x") is None and m.status() is None
        assert m.header_var("A", "b") is None
    bare = HttpMessage.__new__(HttpMessage)
    assert not bare and bare.proto == "" and bare.body_text == ""


def test_serve_with_invalid_view_raises() -> None:
    kept: list[Any] = []
    errors: list[BaseException] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            if kept:
                for call in (lambda: conn.serve_dir(kept[0], "."),
                             lambda: conn.serve_file(kept[0], "x"),
                             lambda: conn.serve_dir("nope", ".")):
                    try:
                        call()
                    except (TypeError, ValueError) as e:
                        errors.append(e)
            kept.append(hm)
            conn.reply(200, "ok")

    with HttpServer(h) as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        for _ in range(2):
            c.request("GET", "/")
            assert c.getresponse().read() == b"ok"
    assert [type(e) for e in errors] == [ValueError, ValueError, TypeError]
    assert str(errors[0]) == "HttpMessage is not valid for this event"


def test_query_var_limit_and_header_var() -> None:
    got: dict[str, Any] = {}

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            got["ok"] = hm.query_var("a")
            got["empty"] = hm.query_var("e")
            try:
                hm.query_var("big")
            except ValueError as e:
                got["err"] = str(e)
            got["boundary"] = hm.header_var("Content-Type", "boundary")
            got["charset"] = hm.header_var("content-type", "charset")
            got["missing"] = hm.header_var("Content-Type", "nope")
            conn.reply(200)

    big = "%41" * 2048
    req = (f"GET /?a={'b' * 2047}&e=&big={big} HTTP/1.1\r\nHost: x\r\n"
           'Content-Type: multipart/form-data; boundary="q q"; charset=utf-8\r\n\r\n')
    with HttpServer(h) as srv:
        raw_exchange(srv.port, req.encode(), until=b"\r\n\r\n")
    assert got["ok"] == "b" * 2047 and got["empty"] is None
    assert got["err"] == "Query parameter 'big' value exceeds 2048-byte buffer limit"
    assert (got["boundary"], got["charset"], got["missing"]) == ("q q", "utf-8", None)


def test_many_and_huge_headers_are_served() -> None:
    counts: list[int] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            counts.append(len(hm.headers()))
            conn.reply(200, str(len(hm.header("Big", ""))))

    def fields(n: int) -> bytes:
        return b"".join(b"H%d: %d\r\n" % (i, i) for i in range(n))

    with HttpServer(h) as srv:
        # 100 fields (MG_MAX_HTTP_HEADERS on hosts): served, every one exposed.
        out = raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields(99) + b"\r\n",
                           until=b"\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200")
        # More: 431 and close, never a silent cut (D-15, issue #22).
        out = raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields(500) + b"\r\n")
        assert out.startswith(b"HTTP/1.1 431 ")
        out = raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\nBig: " + b"a" * 100_000
                           + b"\r\n\r\n", until=b"100000")
        assert out.endswith(b"100000")
        # Past the head limit: 431 and close.
        out = raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\nBig: " + b"a" * 300_000
                           + b"\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 431 ")
    assert counts == [100, 2]


@pytest.mark.parametrize("req", [
    b"GARBAGE\r\n\r\n",
    b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
])
def test_bad_requests_rejected_and_server_survives(req: bytes) -> None:
    with HttpServer(echo_handler) as srv:
        out = raw_exchange(srv.port, req)
        assert out == b"" or out.startswith(b"HTTP/1.1 4"), out[:60]
        assert srv.errors, "MG_EV_ERROR with a reason"
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/after?x=1")
        assert json.loads(c.getresponse().read())["x"] == "1"


def test_slow_sender_idle_sockets_and_abrupt_disconnects() -> None:
    with HttpServer(echo_handler) as srv:
        idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(50)]
        half = socket.create_connection(("127.0.0.1", srv.port))
        half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        half.close()  # vanishes mid-body
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            for b in b"GET /slow?x=7 HTTP/1.1\r\nHost: x\r\n\r\n":
                s.sendall(bytes([b]))
            data = b""
            while b"}" not in data:
                chunk = s.recv(4096)
                assert chunk
                data += chunk
            assert b'"x": "7"' in data
        for s in idle:
            s.close()
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/?x=2")
        assert json.loads(c.getresponse().read())["x"] == "2"


@pytest.mark.parametrize("where", ["hdrs", "msg"])
def test_close_inside_handlers_is_safe(where: str) -> None:
    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_HDRS and where == "hdrs" and hm.uri == "/close":
            conn.close()
        if ev == MG_EV_HTTP_MSG:
            conn.reply(200, "bye")
            if hm.uri == "/close":
                conn.close()

    with HttpServer(h) as srv:
        for _ in range(3):
            raw_exchange(srv.port, b"GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /close HTTP/1.1\r\nHost: x\r\n\r\n")
        out = raw_exchange(srv.port, b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n", until=b"bye")
        assert out.endswith(b"bye")


def test_http_false_and_tcp_do_not_parse() -> None:
    events: list[int] = []
    with mg.Manager(lambda c, ev, d: events.append(ev)) as m:
        lst = m.listen("http://127.0.0.1:0", http=False)
        port = lst.local_addr[1]
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(50):
            m.poll(10)
            if mg.MG_EV_READ in events:
                break
        s.close()
    assert mg.MG_EV_READ in events and MG_EV_HTTP_MSG not in events


def test_basic_auth_header_bytes() -> None:
    got: list[bytes] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            conn.http_basic_auth("user", "pässword")
            got.append(conn.send_data())
            conn.reply(200, hm.header("Authorization", ""))

    with HttpServer(h) as srv:
        raw_exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", until=b"\r\n\r\n")
    assert got == [b"Authorization: Basic dXNlcjpww6Rzc3dvcmQ=\r\n"]


def test_parse_multipart() -> None:
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"f1\"\r\n\r\nvalue1\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n\x00\x01--XyZ-\r\n\r\n--XyZ--\r\n")
    ofs, part = mg.http_parse_multipart(body)
    assert part == {"name": "f1", "filename": "", "body": b"value1"}
    ofs, part = mg.http_parse_multipart(body, ofs)
    assert part == {"name": "up", "filename": "a.bin", "body": b"\x00\x01--XyZ-\r\n"}
    assert mg.http_parse_multipart(body, ofs) == (0, None)
    assert mg.http_parse_multipart(b"junk") == (0, None)
    assert mg.http_parse_multipart(body, 10_000) == (0, None)


def test_large_body_and_413() -> None:
    sizes: list[int] = []

    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            sizes.append(len(hm.body_bytes))
            conn.reply(200, str(sum(hm.body_bytes[::4096])))

    body = bytes(range(256)) * 8192  # 2 MiB
    with HttpServer(h) as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        for _ in range(2):  # twice on one connection
            c.request("POST", "/big", body=body)
            assert c.getresponse().read() == str(sum(body[::4096])).encode()
        out = raw_exchange(srv.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\nab")
        assert out.startswith(b"HTTP/1.1 413 ")
    assert sizes == [len(body), len(body)]


def test_http_methods_on_detached_connection() -> None:
    c = mg.Connection()
    for call in (lambda: c.reply(200, "x"), lambda: c.reply_json({}),
                 lambda: c.http_chunk("a"), lambda: c.http_sse("t", "d"),
                 lambda: c.http_basic_auth("u", "p")):
        with pytest.raises(RuntimeError, match="Connection has been closed"):
            call()
    # Argument validation comes before the closed check.
    with pytest.raises(ValueError, match="Header value.*illegal character"):
        c.reply(200, "", {"X": "a\r\nb"})
    with pytest.raises(TypeError):
        c.serve_dir(object(), ".")
    with pytest.raises(ValueError, match="not valid for this event"):
        c.serve_file(HttpMessage(), "x")
    with pytest.raises(AttributeError):
        c.reply(200, "", [("X", "1")])
