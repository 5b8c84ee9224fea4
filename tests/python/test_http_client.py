"""Our HTTP client (Manager.connect("http://...")) against Python's http.server
started by the test: status and headers, Content-Length, chunked and
read-until-close bodies, keep-alive reuse, responses to HEAD (Content-Length
but no body) followed by more requests, and a refused connection."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_CLOSE, MG_EV_CONNECT, MG_EV_ERROR, MG_EV_HTTP_MSG
from mgtest import free_port, poll_until


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            # HTTP/1.0 style: no length, the body ends when the server closes.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True
        else:
            body = f"path={self.path} ua={self.headers.get('User-Agent')}".encode()
            self.send_response(201 if self.path == "/created" else 200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Test", "yes")
            self.end_headers()
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        # The length of the body a GET would get, and no body.
        self.send_response(200)
        self.send_header("Content-Length", "1234")
        self.send_header("X-Test", "head")
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 5))
        self.end_headers()
        self.wfile.write(b"echo:" + body)


@pytest.fixture
def peer() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


class Client:
    """Sends the given requests (one after another on one connection) and
    records each response."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = list(paths)
        self.responses: list[tuple[int | None, str, bytes, str | None]] = []
        self.events: list[int] = []
        self.errors: list[str] = []

    def _send_next(self, conn: Any) -> None:
        path = self.paths.pop(0)
        conn.send(f"GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: cym\r\n\r\n")

    def __call__(self, conn: Any, ev: int, data: Any) -> None:
        self.events.append(ev)
        if ev == MG_EV_CONNECT:
            self._send_next(conn)
        elif ev == MG_EV_HTTP_MSG:
            self.responses.append((data.status(), data.proto, data.body_bytes,
                                   data.header("x-test")))
            if self.paths:
                self._send_next(conn)
        elif ev == MG_EV_ERROR:
            self.errors.append(data)


def test_client_keep_alive_and_framings(peer: int) -> None:
    cl = Client(["/a?b=1", "/created", "/chunked", "/close"])
    with mg.Manager() as m:
        conn = m.connect(f"http://127.0.0.1:{peer}/", cl)
        assert conn.id > 0 and conn.is_client
        assert poll_until(m, lambda: MG_EV_CLOSE in cl.events)
    assert cl.responses == [
        (200, "OK", b"path=/a?b=1 ua=cym", "yes"),
        (201, "Created", b"path=/created ua=cym", "yes"),
        (200, "OK", b"hello chunked world", None),
        (200, "OK", b"until close", None),
    ]
    # One TCP connection served all four: a single CONNECT.
    assert cl.events.count(MG_EV_CONNECT) == 1


def test_client_head_then_get_keep_alive(peer: int) -> None:
    responses: list[tuple[int | None, bytes, str | None]] = []
    events: list[int] = []
    todo = ["HEAD /h", "GET /g", "HEAD /h2"]

    def handler(conn: Any, ev: int, data: Any) -> None:
        events.append(ev)
        if ev == MG_EV_HTTP_MSG:
            responses.append((data.status(), data.body_bytes, data.header("x-test")))
        if ev in (MG_EV_CONNECT, MG_EV_HTTP_MSG) and todo:
            conn.send(f"{todo.pop(0)} HTTP/1.1\r\nHost: x\r\n\r\n")

    with mg.Manager() as m:
        m.connect(f"http://127.0.0.1:{peer}/", handler)
        # Without knowing the HEAD, the client would wait for 1234 body bytes.
        assert poll_until(m, lambda: len(responses) == 3, timeout=5)
    assert responses == [(200, b"", "head"), (200, b"path=/g ua=None", "yes"),
                         (200, b"", "head")]
    assert events.count(MG_EV_CONNECT) == 1


def test_client_pipelined_head_get_post(peer: int) -> None:
    # A POST body that looks like a HEAD request must not count as one.
    fake = b"HEAD /fake HTTP/1.1\r\n\r\n"
    reqs = (b"HEAD /1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
            b"HEAD /4 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /5 HTTP/1.1\r\nHost: x\r\n\r\n") % (len(fake), fake)
    responses: list[tuple[int | None, bytes]] = []

    def handler(conn: Any, ev: int, data: Any) -> None:
        if ev == MG_EV_CONNECT:
            conn.send(reqs)
        elif ev == MG_EV_HTTP_MSG:
            responses.append((data.status(), data.body_bytes))

    with mg.Manager() as m:
        m.connect(f"http://127.0.0.1:{peer}/", handler)
        assert poll_until(m, lambda: len(responses) == 5, timeout=5)
    assert responses == [(200, b""), (200, b"path=/2 ua=None"), (200, b"echo:" + fake),
                         (200, b""), (200, b"path=/5 ua=None")]


def test_client_connection_refused() -> None:
    cl = Client(["/"])
    with mg.Manager() as m:
        m.connect(f"http://127.0.0.1:{free_port()}/", cl)
        assert poll_until(m, lambda: MG_EV_CLOSE in cl.events)
    assert cl.errors and cl.responses == []


def test_client_against_aiohttp_streaming() -> None:
    aiohttp_web = pytest.importorskip("aiohttp.web")
    import asyncio

    async def stream(request: Any) -> Any:
        resp = aiohttp_web.StreamResponse(headers={"X-Test": "aio"})
        await resp.prepare(request)  # no length: aiohttp sends chunks
        for i in range(50):
            await resp.write(b"part%02d;" % i)
        await resp.write_eof()
        return resp

    async def plain(request: Any) -> Any:
        return aiohttp_web.Response(body=await request.read() or b"empty")

    ready = threading.Event()
    box: dict[str, Any] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        app = aiohttp_web.Application()
        app.router.add_get("/stream", stream)
        app.router.add_route("*", "/plain", plain)
        runner = aiohttp_web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = aiohttp_web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        box["port"] = site._server.sockets[0].getsockname()[1]
        box["loop"], box["runner"] = loop, runner
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(10)
    try:
        cl = Client(["/stream", "/plain", "/stream"])
        with mg.Manager() as m:
            m.connect(f"http://127.0.0.1:{box['port']}/", cl)
            assert poll_until(m, lambda: len(cl.responses) == 3)
        body = b"".join(b"part%02d;" % i for i in range(50))
        assert cl.responses == [(200, "OK", body, "aio"), (200, "OK", b"empty", None),
                                (200, "OK", body, "aio")]
        assert cl.events.count(MG_EV_CONNECT) == 1
    finally:
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        t.join(10)
