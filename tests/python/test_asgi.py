"""cymongoose.asgi (docs/api-contract.md#asgi): a real Starlette app and raw ASGI apps behind
ASGIServer, driven by httpx, raw sockets and the websockets client."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import cymongoose as mg
import httpx
import pytest
from cymongoose import asgi
from cymongoose.asgi import ASGIServer, _http_scope
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket


def run(coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[tuple[ASGIServer, str]]:
    server = ASGIServer(app)
    lst = await server.start("http://127.0.0.1:0")
    try:
        yield server, f"http://127.0.0.1:{lst.local_addr[1]}"
    finally:
        await server.stop()


def make_starlette_app(events: list[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hi from lifespan"}
        events.append("shutdown")

    async def hello(request: Request) -> Response:
        return PlainTextResponse(f"hello {request.query_params.get('name', 'world')}")

    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse({"json": await request.json() if body else None,
                             "method": request.method, "ctype": request.headers.get("content-type")})

    async def state(request: Request) -> Response:
        return PlainTextResponse(request.state.greeting)

    async def word(request: Request) -> Response:
        return PlainTextResponse(f"got {request.path_params['w']} {request.scope['raw_path']!r}")

    async def cookies(request: Request) -> Response:
        r = PlainTextResponse("c")
        for i in range(3):
            r.set_cookie(f"k{i}", f"v{i}")
        return r

    async def stream(request: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(64):
                yield bytes([65 + i % 26]) * 65536  # 4 MiB
        return StreamingResponse(gen(), media_type="application/octet-stream")

    async def boom(request: Request) -> Response:
        raise RuntimeError("starlette view failed")

    async def ws_echo(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") == "bye":
                await ws.close(code=4001, reason="done")
                return
            if msg.get("bytes") is not None:
                await ws.send_bytes(msg["bytes"][::-1])
            else:
                await ws.send_text(msg["text"].upper())

    return Starlette(routes=[
        Route("/hello", hello), Route("/echo", echo, methods=["POST"]), Route("/state", state),
        Route("/w/{w}", word), Route("/cookies", cookies), Route("/stream", stream),
        Route("/boom", boom), WebSocketRoute("/ws", ws_echo),
    ], lifespan=lifespan)


# ---- scope builder and constructor ----

class FakeMsg:
    method, uri, query, proto = "GET", "/a%20b", "x=1", "HTTP/1.0"
    body_bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        return {"sec-websocket-protocol": "chat, superchat"}.get(name.lower(), default)

    def headers(self) -> list[tuple[str, str]]:
        return [("Host", "h"), ("X-Two", "1"), ("x-two", "2")]


class FakeConn:
    is_tls = True
    remote_addr = ("10.0.0.9", 4321, False)


def test_http_scope_builder() -> None:
    scope = _http_scope(FakeMsg(), FakeConn(), ("srv", 80), "http")
    assert scope == {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.0", "method": "GET", "path": "/a b", "raw_path": b"/a%20b",
        "query_string": b"x=1", "root_path": "", "scheme": "https", "server": ["srv", 80],
        "client": ["10.0.0.9", 4321],
        "headers": [[b"host", b"h"], [b"x-two", b"1"], [b"x-two", b"2"]],
    }
    ws = _http_scope(FakeMsg(), FakeConn(), ("srv", 80), "websocket")
    assert ws["type"] == "websocket" and ws["scheme"] == "wss"
    assert ws["subprotocols"] == ["chat", "superchat"]
    assert "method" not in ws


def test_not_started_and_bad_app() -> None:
    server = ASGIServer(lambda s, r, se: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.manager
    with pytest.raises(TypeError, match="app"):
        ASGIServer(None)  # type: ignore[arg-type]
    run(server.stop())  # safe when never started


# ---- Starlette ----

def test_starlette_http_and_lifespan() -> None:
    events: list[str] = []

    async def main() -> None:
        async with serving(make_starlette_app(events)) as (server, url):
            assert events == ["startup"]
            assert isinstance(server.manager, mg.Manager)
            async with httpx.AsyncClient(base_url=url) as c:
                r = await c.get("/hello", params={"name": "a b"})
                assert (r.status_code, r.text) == (200, "hello a b")
                assert r.headers["content-length"] == "9"
                r = await c.post("/echo", json={"k": [1, 2]})
                assert r.json() == {"json": {"k": [1, 2]}, "method": "POST",
                                    "ctype": "application/json"}
                assert (await c.get("/state")).text == "hi from lifespan"
                r = await c.get("/w/w%C3%B6rd")
                assert r.text == "got wörd b'/w/w%C3%B6rd'"
                assert (await c.get("/nope")).status_code == 404
                r = await c.get("/cookies")
                cookies = [v.split(";")[0] for k, v in r.headers.multi_items()
                           if k == "set-cookie"]
                assert cookies == ["k0=v0", "k1=v1", "k2=v2"]
                r = await c.get("/boom")
                assert r.status_code == 500
                assert (await c.get("/hello")).status_code == 200
        assert events == ["startup", "shutdown"]

    run(main())


def test_starlette_streaming_response_is_chunked() -> None:
    async def main() -> None:
        async with serving(make_starlette_app([])) as (server, url):
            async with httpx.AsyncClient(base_url=url) as c:
                r = await c.get("/stream")
                assert r.headers["transfer-encoding"] == "chunked"
                assert len(r.content) == 64 * 65536
                assert all(r.content[i * 65536] == 65 + i % 26 for i in range(64))
            for _ in range(100):
                if not server._conns and not server._tasks:
                    break
                await asyncio.sleep(0.02)
            assert server._conns == {}

    run(main())


def test_starlette_websocket() -> None:
    if not hasattr(mg.Connection, "ws_upgrade"):
        pytest.xfail("Connection.ws_upgrade (WebSocket server) lands with issue 5")
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def main() -> None:
        async with serving(make_starlette_app([])) as (_, url), \
                connect(url.replace("http", "ws") + "/ws") as ws:
            await ws.send("hello")
            assert await ws.recv() == "HELLO"
            await ws.send(b"\x01\x02\x03")
            assert await ws.recv() == b"\x03\x02\x01"
            await ws.send("bye")
            with pytest.raises(ConnectionClosed) as exc:
                await ws.recv()
            assert exc.value.rcvd is not None
            assert (exc.value.rcvd.code, exc.value.rcvd.reason) == (4001, "done")

    run(main())


# ---- raw ASGI apps ----

def test_lifespan_failure_and_unsupported() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        assert scope["asgi"] == {"version": "3.0", "spec_version": "2.0"}
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "db down"})

    async def no_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise ValueError("lifespan not supported")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    async def main() -> None:
        server = ASGIServer(failing)
        with pytest.raises(RuntimeError, match="ASGI lifespan startup failed: db down"):
            await server.start("http://127.0.0.1:0")
        await server.stop()  # safe after a failed start
        with pytest.raises(RuntimeError, match="not started"):
            _ = server.manager
        async with serving(no_lifespan) as (_, url), httpx.AsyncClient() as c:
            r = await c.get(url + "/")
            assert r.text == "plain"
            assert r.headers["content-type"] == "text/plain"
            assert r.headers["content-length"] == "5"

    run(main())


def test_raw_app_streaming_disconnect_and_500() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        req = await receive()
        seen.append((path, req))
        if path == "/fail":
            raise ValueError("app failed before start")
        if path == "/stream":
            await send({"type": "http.response.start", "status": 202,
                        "headers": [(b"x-a", b"1"), (b"x-a", b"2")]})
            for part in (b"one-", b"two-", b"three"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            seen.append(await receive())  # after the response: http.disconnect
            return
        await send({"type": "http.response.start", "status": 299,
                    "headers": [(b"content-type", b"application/x-test")]})
        await send({"type": "http.response.body", "body": req["body"]})

    async def main() -> None:
        async with serving(app) as (_, url), httpx.AsyncClient(base_url=url) as c:
            r = await c.get("/stream")
            assert r.status_code == 202 and r.text == "one-two-three"
            assert r.headers["transfer-encoding"] == "chunked"
            assert r.headers.get_list("x-a") == ["1", "2"]
            r = await c.post("/echo", content=b"body-bytes")
            assert r.status_code == 299 and r.content == b"body-bytes"
            assert r.headers["content-type"] == "application/x-test"
            r = await c.get("/fail")
            assert r.status_code == 500 and "Internal Server Error" in r.text

    run(main())
    assert seen[0] == ("/stream", {"type": "http.request", "body": b"", "more_body": False})
    assert seen[1] == {"type": "http.disconnect"}
    assert seen[2] == ("/echo", {"type": "http.request", "body": b"body-bytes",
                                 "more_body": False})


def test_back_pressure_and_client_disconnect() -> None:
    outcome: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"z" * 65536,
                            "more_body": True})
        except OSError:
            outcome.append("send raised OSError")
            raise

    async def main() -> None:
        async with serving(app) as (server, url):
            port = int(url.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(0.5)  # the client stops reading: the app must stall
            states = list(server._conns.values())
            assert len(states) == 1
            assert len(states[0].outbox) <= asgi._MAX_INFLIGHT
            writer.close()
            for _ in range(250):
                if outcome and not server._conns:
                    break
                await asyncio.sleep(0.02)
            assert outcome == ["send raised OSError"]
            assert server._conns == {}

    run(main())


def test_pipelined_requests_answered_in_order() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(0.3)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    async def main() -> bytes:
        async with serving(app) as (_, url):
            port = int(url.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\n"
                         b"Host: x\r\n\r\n")
            data = b""
            while not data.endswith(b"/fast"):
                chunk = await asyncio.wait_for(reader.read(65536), 5)
                assert chunk, data
                data += chunk
            writer.close()
            return data

    data = run(main())
    assert data.count(b"HTTP/1.1 200") == 2
    assert data.index(b"/slow") < data.index(b"/fast")


def test_serve_banner_and_sigint() -> None:
    code = (
        "from cymongoose import asgi\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'served'})\n"
        "asgi.serve(app, 'http://127.0.0.1:0')\n"
        "print('stopped', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        banner = p.stdout.readline()
        port = int(banner.split("http://127.0.0.1:")[1].split("/")[0])
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text == "served"
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=10)
        assert p.returncode == 0 and "stopped" in out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_raw_asgi_websocket_keeps_binary_and_text() -> None:
    """A message sent as bytes goes out as a binary frame and arrives as bytes (also when
    empty); text stays text. Raw ASGI app, `websockets` client."""
    from websockets.asyncio.client import connect

    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:
            m = await receive()
            if m["type"] == "websocket.disconnect":
                return
            seen.append(m)
            await send({"type": "websocket.send", "bytes": m.get("bytes"), "text": m.get("text")})

    async def main() -> None:
        async with serving(app) as (_, url), connect(url.replace("http", "ws") + "/") as ws:
            await ws.send(b"\x00\x01binary\xff")
            assert await ws.recv() == b"\x00\x01binary\xff"
            await ws.send("text \u00e9")
            assert await ws.recv() == "text \u00e9"
            await ws.send(b"")
            assert await ws.recv() == b""

    run(main())
    assert [(m.get("bytes"), m.get("text")) for m in seen] == [
        (b"\x00\x01binary\xff", None), (None, "text \u00e9"), (b"", None)]
