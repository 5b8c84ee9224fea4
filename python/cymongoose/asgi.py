"""Serve an ASGI 3 application with cymongoose (docs/api-contract.md#asgi).

The Manager is polled by a daemon thread; the application runs as asyncio
tasks on the loop that called :meth:`ASGIServer.start`. The poll thread builds
each request's scope while the HTTP view is valid and hands it to the loop
(``call_soon_threadsafe``). The application's output goes into a per-connection
outbox that only the poll thread drains into the connection (after a
``Manager.wakeup`` nudge), at most ``_MAX_INFLIGHT`` chunks ahead of the socket,
so a slow client slows a streaming application down.

Requests pipelined on one connection are answered in order (one application
call per connection at a time). WebSocket upgrades happen on the poll thread
while the request view is still valid.
"""

from __future__ import annotations

import asyncio
import http
import signal
import struct
import sys
import threading
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from ._mongoose import (
    MG_EV_CLOSE,
    MG_EV_HTTP_MSG,
    MG_EV_POLL,
    MG_EV_WAKEUP,
    MG_EV_WRITE,
    MG_EV_WS_MSG,
    WEBSOCKET_OP_BINARY,
    WEBSOCKET_OP_TEXT,
    Connection,
    Manager,
    _validate_header,
    url_host,
)

__all__ = ["ASGIApp", "ASGIServer", "serve"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NOT_STARTED = "ASGIServer is not started"
_MAX_INFLIGHT = 16           # chunks queued ahead of the socket per connection
_SEND_MARK = 262144          # refill the send buffer while it holds less than this
_POLL_MS = 100
_WS_OP_CLOSE = 8             # no exported constant for the close opcode (docs/api-contract.md#exported-names)
_ERROR_500 = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
              b"Content-Length: 21\r\n\r\nInternal Server Error")


class ClientDisconnected(OSError):
    """send() after the peer went away (ASGI asks for an OSError subclass)."""


def _raw(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _http_scope(hm: Any, conn: Any, server: tuple[str, int], kind: str) -> dict[str, Any]:
    """ASGI scope of one request (kind "http" or "websocket")."""
    uri = hm.uri or "/"
    query = hm.query or ""
    if "?" in uri:
        uri, query = uri.split("?", 1)
    proto = hm.proto or "HTTP/1.1"
    headers = [[_raw(k.lower()), _raw(v)] for k, v in hm.headers()]
    addr = conn.remote_addr
    tls = bool(conn.is_tls)
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": proto[5:] if proto.startswith("HTTP/") else "1.1",
        "path": unquote(uri),
        "raw_path": _raw(uri),
        "query_string": _raw(query),
        "root_path": "",
        "scheme": ("wss" if tls else "ws") if kind == "websocket" else ("https" if tls else "http"),
        "server": [server[0], server[1]],
        "client": [addr[0], addr[1]] if addr else None,
        "headers": headers,
    }
    if kind == "http":
        scope["method"] = hm.method
    else:
        proto_hdr = hm.header("Sec-WebSocket-Protocol")
        scope["subprotocols"] = ([p.strip() for p in proto_hdr.split(",") if p.strip()]
                                 if proto_hdr else [])
    return scope


class _Conn:
    """Per-connection state shared by the poll thread and the loop."""

    def __init__(self, server: ASGIServer, cid: int, websocket: bool) -> None:
        self.server = server
        self.cid = cid
        self.websocket = websocket
        self.outbox: deque[tuple[Any, ...]] = deque()   # poll thread drains it
        self.closed = False                             # set on the loop
        self.slots = asyncio.Semaphore(_MAX_INFLIGHT)
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()   # websocket messages
        self.disconnected = asyncio.Event()

    # ---- loop side ----
    async def post(self, *item: Any, counted: bool = True) -> None:
        if self.closed:
            raise ClientDisconnected(f"connection {self.cid} is closed")
        if counted:
            await self.slots.acquire()
            if self.closed:
                raise ClientDisconnected(f"connection {self.cid} is closed")
        self.outbox.append((item[0], counted, *item[1:]))
        self.server._nudge(self.cid)

    def on_close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.disconnected.set()
        for _ in range(_MAX_INFLIGHT):
            self.slots.release()  # wake senders blocked on back pressure
        if self.websocket:
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})


class ASGIServer:
    """HTTP and WebSocket server running an ASGI 3 application."""

    def __init__(self, app: ASGIApp, error_handler: Callable[[Exception], Any] | None = None
                 ) -> None:
        if not callable(app):
            raise TypeError("app must be an ASGI callable")
        self._app = app
        self._error_handler = error_handler
        self._manager: Manager | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._server = ("127.0.0.1", 0)
        self._conns: dict[int, _Conn] = {}
        self._busy: set[int] = set()
        self._pending: dict[int, deque[tuple[dict[str, Any], bytes]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lifespan_supported = False
        self._lifespan_task: asyncio.Task[Any] | None = None
        self._lifespan_in: asyncio.Queue[Message] | None = None
        self._lifespan_out: asyncio.Queue[Message] | None = None
        self._state: dict[str, Any] = {}

    @property
    def manager(self) -> Manager:
        if self._manager is None:
            raise RuntimeError(_NOT_STARTED)
        return self._manager

    # ---- start / stop ----
    async def start(self, url: str = "http://127.0.0.1:8000") -> Connection:
        """Run lifespan startup, listen on url and start the poll thread."""
        self._loop = asyncio.get_running_loop()
        await self._lifespan_startup()
        mgr = Manager(self._handle, enable_wakeup=True, error_handler=self._error_handler)
        try:
            lst = mgr.listen(url, http=True)
        except BaseException:
            mgr.close()
            raise
        self._manager = mgr
        host = url_host(url).strip("[]") or "127.0.0.1"
        addr = lst.local_addr
        self._server = ("127.0.0.1" if host in ("0.0.0.0", "::") else host,
                        addr[1] if addr else 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll_loop, args=(mgr, self._stop),
                                        name="cymongoose-asgi-poll", daemon=True)
        self._thread.start()
        return lst

    async def stop(self) -> None:
        """Stop polling, cancel application tasks, close, run lifespan shutdown."""
        self._stop.set()
        self._nudge(0)
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 5.0)
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        mgr, self._manager = self._manager, None
        if mgr is not None and (thread is None or not thread.is_alive()):
            mgr.close()
        self._conns.clear()
        await self._lifespan_shutdown()

    def _poll_loop(self, mgr: Manager, stop: threading.Event) -> None:
        while not stop.is_set():
            mgr.poll(_POLL_MS)

    def _nudge(self, cid: int) -> None:
        """Wake the poll thread so it flushes cid's outbox (0: just wake)."""
        mgr = self._manager
        if mgr is None:
            return
        try:
            mgr.wakeup(cid if cid else mgr.wakeup_id, b"")
        except RuntimeError:
            pass  # manager already closed

    # ---- lifespan ----
    async def _lifespan_startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._lifespan_in = asyncio.Queue()
        self._lifespan_out = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self._state}
        self._lifespan_in.put_nowait({"type": "lifespan.startup"})
        self._lifespan_task = loop.create_task(self._lifespan_run(scope))
        reply = await self._lifespan_reply()
        if reply is None:
            return  # the app does not speak lifespan
        if reply["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"ASGI lifespan startup failed: {reply.get('message', '')}")
        self._lifespan_supported = True

    async def _lifespan_run(self, scope: Scope) -> None:
        assert self._lifespan_in is not None and self._lifespan_out is not None
        inq, outq = self._lifespan_in, self._lifespan_out

        async def send(message: Message) -> None:
            await outq.put(message)

        try:
            await self._app(scope, inq.get, send)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - an app without lifespan support may raise
            if self._lifespan_supported:
                traceback.print_exc()

    async def _lifespan_reply(self) -> Message | None:
        """Next lifespan message of the app, or None when the app ended without one."""
        assert self._lifespan_out is not None and self._lifespan_task is not None
        getter = asyncio.ensure_future(self._lifespan_out.get())
        done, _ = await asyncio.wait({getter, self._lifespan_task},
                                     return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        return None

    async def _lifespan_shutdown(self) -> None:
        task = self._lifespan_task
        if task is None or task.done():
            return
        if not self._lifespan_supported:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return
        assert self._lifespan_in is not None
        self._lifespan_supported = False
        self._lifespan_in.put_nowait({"type": "lifespan.shutdown"})
        try:
            reply = await asyncio.wait_for(self._lifespan_reply(), 5.0)
        except asyncio.TimeoutError:
            reply = None
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            print(f"ASGI lifespan shutdown failed: {reply.get('message', '')}", file=sys.stderr)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ---- poll thread ----
    def _handle(self, conn: Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            self._on_request(conn, data)
        elif ev in (MG_EV_WAKEUP, MG_EV_WRITE, MG_EV_POLL):
            state = self._conns.get(conn.id)
            if state is not None and state.outbox:
                self._pump(conn, state)
        elif ev == MG_EV_WS_MSG:
            state = self._conns.get(conn.id)
            if state is not None:
                if data.flags & WEBSOCKET_OP_BINARY:
                    msg = {"type": "websocket.receive", "bytes": data.data, "text": None}
                else:
                    msg = {"type": "websocket.receive", "bytes": None, "text": data.text}
                self._call_soon(state.inbox.put_nowait, msg)
        elif ev == MG_EV_CLOSE:
            cid = conn.id
            self._busy.discard(cid)
            self._pending.pop(cid, None)
            state = self._conns.pop(cid, None)
            if state is not None:
                self._call_soon(state.on_close)

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def _on_request(self, conn: Connection, hm: Any) -> None:
        cid = conn.id
        upgrade = (hm.header("Upgrade") or "").lower() == "websocket"
        if upgrade and hasattr(conn, "ws_upgrade") and cid not in self._busy:
            scope = _http_scope(hm, conn, self._server, "websocket")
            conn.ws_upgrade(hm)  # needs the view: do it now, on the poll thread
            self._busy.add(cid)
            self._call_soon(self._spawn, cid, scope, b"", True)
            return
        scope = _http_scope(hm, conn, self._server, "http")
        body = hm.body_bytes
        if cid in self._busy:
            self._pending.setdefault(cid, deque()).append((scope, body))
        else:
            self._busy.add(cid)
            self._call_soon(self._spawn, cid, scope, body, False)

    def _pump(self, conn: Connection, state: _Conn) -> None:
        while state.outbox and conn.send_len < _SEND_MARK:
            kind, counted, *args = state.outbox.popleft()
            if kind == "data":
                conn.send(args[0])
            elif kind == "ws":
                conn.ws_send(args[0], args[1])
            elif kind == "end":
                self._request_done(conn, close_after=args[0])
                self._call_soon(state.disconnected.set)  # later receive(): http.disconnect
            elif kind == "abort":
                conn.close()
                return
            if counted:
                self._call_soon(state.slots.release)

    def _request_done(self, conn: Connection, close_after: bool) -> None:
        cid = conn.id
        self._conns.pop(cid, None)
        if close_after:
            self._pending.pop(cid, None)
            conn.drain()
            return
        pending = self._pending.get(cid)
        if pending:
            scope, body = pending.popleft()
            if not pending:
                del self._pending[cid]
            self._call_soon(self._spawn, cid, scope, body, False)
        else:
            self._busy.discard(cid)

    # ---- loop side ----
    def _spawn(self, cid: int, scope: dict[str, Any], body: bytes, websocket: bool) -> None:
        state = _Conn(self, cid, websocket)
        self._conns[cid] = state
        if cid not in self._busy:
            # The connection closed before its request reached the loop (the
            # poll thread drops cid from _busy before it looks at _conns).
            self._conns.pop(cid, None)
            return
        if self._state:
            scope["state"] = dict(self._state)
        coro = self._run_ws(state, scope) if websocket else self._run_http(state, scope, body)
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_http(self, state: _Conn, scope: Scope, body: bytes) -> None:
        resp = _HttpResponse(state, scope)
        sent_request = False

        async def receive() -> Message:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": body, "more_body": False}
            if not resp.finished:
                await state.disconnected.wait()
            return {"type": "http.disconnect"}

        try:
            await self._app(scope, receive, resp.send)
            if not resp.finished:
                if resp.started:
                    await state.post("abort", counted=False)
                else:
                    raise RuntimeError("ASGI app returned without a complete response")
        except asyncio.CancelledError:
            raise
        except ClientDisconnected:
            pass
        except Exception:  # noqa: BLE001 - any app error becomes a 500 (or an abort)
            traceback.print_exc()
            if state.closed:
                return
            if not resp.started:
                await state.post("data", _ERROR_500, counted=False)
                await state.post("end", True, counted=False)
            elif not resp.finished:
                await state.post("abort", counted=False)

    async def _run_ws(self, state: _Conn, scope: Scope) -> None:
        state.inbox.put_nowait({"type": "websocket.connect"})

        async def receive() -> Message:
            return await state.inbox.get()

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                return  # the upgrade already happened on the poll thread
            if kind == "websocket.send":
                if message.get("bytes") is not None:
                    await state.post("ws", bytes(message["bytes"]), WEBSOCKET_OP_BINARY)
                else:
                    await state.post("ws", message.get("text") or "", WEBSOCKET_OP_TEXT)
            elif kind == "websocket.close":
                payload = (struct.pack("!H", int(message.get("code") or 1000))
                           + (message.get("reason") or "").encode("utf-8"))
                await state.post("ws", payload, _WS_OP_CLOSE)
            else:
                raise ValueError(f"unexpected ASGI message type {kind!r} on a websocket")

        try:
            await self._app(scope, receive, send)
        except asyncio.CancelledError:
            raise
        except ClientDisconnected:
            pass
        except Exception:  # noqa: BLE001 - report and close the socket
            traceback.print_exc()
            if not state.closed:
                await state.post("abort", counted=False)


class _HttpResponse:
    """Turns http.response.* messages into bytes for one request."""

    def __init__(self, state: _Conn, scope: Scope) -> None:
        self.state = state
        self.started = False     # headers are on their way
        self.finished = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunked = False
        conn_hdr = b""
        for k, v in scope["headers"]:
            if k == b"connection":
                conn_hdr = v.lower()
        if scope.get("http_version") == "1.0":
            self.close_after = b"keep-alive" not in conn_hdr
        else:
            self.close_after = b"close" in conn_hdr
        self.method = scope.get("method", "GET")

    def _head(self, extra: list[bytes]) -> bytes:
        try:
            reason = http.HTTPStatus(self.status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {self.status} {reason}\r\n".encode("latin-1")]
        names = {k.lower() for k, _ in self.headers}
        if b"content-type" not in names:
            lines.append(b"Content-Type: text/plain\r\n")
        for k, v in self.headers:
            lines.append(k + b": " + v + b"\r\n")
            if k.lower() == b"connection" and b"close" in v.lower():
                self.close_after = True
        lines.extend(extra)
        lines.append(b"\r\n")
        return b"".join(lines)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.status:
                raise RuntimeError("http.response.start sent twice")
            headers = []
            for k, v in message.get("headers", []):
                kb, vb = bytes(k), bytes(v)
                _validate_header(kb.decode("latin-1"), vb.decode("latin-1"))
                headers.append((kb, vb))
            self.status = int(message["status"])
            self.headers = headers
            return
        if kind != "http.response.body":
            raise ValueError(f"unexpected ASGI message type {kind!r}")
        if not self.status:
            raise RuntimeError("http.response.body before http.response.start")
        if self.finished:
            raise RuntimeError("response already complete")
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        state = self.state
        if not self.started:
            names = {k.lower() for k, _ in self.headers}
            if not more:  # one buffered response
                extra = [] if b"content-length" in names else [
                    b"Content-Length: %d\r\n" % len(body)]
                self.started = self.finished = True
                await state.post("data", self._head(extra) + body)
                await state.post("end", self.close_after, counted=False)
                return
            # Streaming: chunked unless the app framed the body itself.
            self.chunked = b"content-length" not in names
            extra = ([b"Transfer-Encoding: chunked\r\n"]
                     if self.chunked and b"transfer-encoding" not in names else [])
            self.started = True
            await state.post("data", self._head(extra))
        if body:
            await state.post("data", b"%x\r\n%s\r\n" % (len(body), body) if self.chunked
                             else body)
        if not more:
            self.finished = True
            if self.chunked:
                await state.post("data", b"0\r\n\r\n")
            await state.post("end", self.close_after, counted=False)


def serve(app: ASGIApp, url: str = "http://127.0.0.1:8000") -> None:
    """Serve app on url until SIGINT/SIGTERM."""

    async def main() -> None:
        server = ASGIServer(app)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            lst = await server.start(url)
            port = lst.local_addr[1] if lst.local_addr else 0
            print(f"cymongoose ASGI server on http://{server._server[0]}:{port}/ "
                  "(Ctrl+C to stop)", flush=True)
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await server.stop()

    asyncio.run(main())
