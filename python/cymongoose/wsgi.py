"""Serve a WSGI (PEP 3333) application with cymongoose (docs/api-contract.md#wsgi).

The Manager runs on one thread (the *poll thread*); applications run in a
thread pool. Everything that touches a connection happens on the poll thread:
a worker hands its output over with ``Manager.wakeup()`` (small payloads travel
inside the wakeup, larger ones are parked in ``_stash`` and only their key is
sent). Responses below ``_STREAM_THRESHOLD`` bytes are sent buffered with a
``Content-Length``; larger ones are streamed with chunked transfer encoding
through a bounded queue per connection, so a slow client throttles the app.

Requests that arrive pipelined on one connection are answered in order: a
connection runs at most one application call at a time.
"""

from __future__ import annotations

import io
import itertools
import queue
import signal
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

from ._mongoose import (
    MG_EV_CLOSE,
    MG_EV_HTTP_MSG,
    MG_EV_POLL,
    MG_EV_WAKEUP,
    MG_EV_WRITE,
    Connection,
    Manager,
    _validate_header,
    url_host,
)

__all__ = ["FileWrapper", "WSGIApp", "WSGIServer", "serve"]

WSGIApp = Callable[..., Iterable[bytes]]

_WAKEUP_MAX_BYTES = 8192        # larger worker->poll payloads go through _stash
_STREAM_THRESHOLD = 1048576     # bodies reaching this size are streamed (chunked)
_STREAM_QUEUE_SIZE = 16         # in-flight chunks per streaming connection
_STREAM_PUT_TIMEOUT = 5.0       # default for WSGIServer(stream_timeout=...)
_STREAM_BATCH_SIZE = 262144     # largest chunk; also the send-buffer refill mark

# Wakeup message opcodes (first byte); the second byte is 1 when the
# connection must be closed (drained) after the response.
_OP_DATA = b"D"      # response bytes follow; the response is complete
_OP_STASH = b"S"     # a _stash key follows; the response is complete
_OP_STREAM = b"Q"    # the connection's stream queue has items
_END = object()      # stream queue item: response complete
_ABORT = object()    # stream queue item: app failed mid-stream, close now

_ERROR_500 = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
              b"Content-Length: 21\r\n\r\nInternal Server Error")


class FileWrapper:
    """``wsgi.file_wrapper``: iterate a file-like object in ``blksize`` blocks."""

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self.filelike.read(self.blksize)
            if not block:
                return
            yield block.encode("utf-8") if isinstance(block, str) else block

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


def _native(s: str) -> str:
    """WSGI "native string": the wire bytes as latin-1 (PEP 3333)."""
    return s.encode("utf-8", "surrogateescape").decode("latin-1")


def _build_environ(hm: Any, conn: Any, server_name: str, server_port: int) -> dict[str, Any]:
    """The WSGI environ of one request (hm: HttpMessage-like, conn: Connection-like)."""
    uri = hm.uri or "/"
    if "?" in uri:
        path, query = uri.split("?", 1)
    else:
        path, query = uri, hm.query or ""
    body = hm.body_bytes or b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": hm.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path.encode("utf-8", "surrogateescape")).decode("latin-1"),
        "QUERY_STRING": _native(query),
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": hm.proto or "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if conn.is_tls else "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input_terminated": True,
    }
    ctype = hm.header("Content-Type")
    if ctype is not None:
        environ["CONTENT_TYPE"] = _native(ctype)
    clen = hm.header("Content-Length")
    if clen is not None:
        environ["CONTENT_LENGTH"] = _native(clen)
    elif body:
        environ["CONTENT_LENGTH"] = str(len(body))  # de-chunked request body
    addr = conn.remote_addr
    if addr:
        environ["REMOTE_ADDR"] = addr[0]
        environ["REMOTE_HOST"] = addr[0]
    for name, value in hm.headers():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            continue
        key = "HTTP_" + _native(key)
        value = _native(value)
        environ[key] = f"{environ[key]}, {value}" if key in environ else value
    return environ


def _wants_close(environ: dict[str, Any]) -> bool:
    conn_hdr = environ.get("HTTP_CONNECTION", "").lower()
    if environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
        return "keep-alive" not in conn_hdr
    return "close" in conn_hdr


class _StreamAborted(Exception):
    pass


class _StreamQueue(queue.Queue):  # type: ignore[type-arg]
    """Bounded queue of one streaming response; aborted once the peer is gone."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.aborted = False
        self.close_after = False


class WSGIServer:
    """HTTP server running a WSGI application in a thread pool."""

    def __init__(self, app: WSGIApp, workers: int = 4,
                 error_handler: Callable[[Exception], Any] | None = None,
                 stream_timeout: float = 5.0) -> None:
        if not callable(app):
            raise TypeError("app must be a WSGI callable")
        if int(workers) < 1:
            raise ValueError("workers must be >= 1")
        self._app = app
        self._pool = ThreadPoolExecutor(max_workers=int(workers),
                                        thread_name_prefix="cymongoose-wsgi")
        self._manager = Manager(self._handle, enable_wakeup=True, error_handler=error_handler)
        self._stream_timeout = float(stream_timeout)
        self._server_name = "127.0.0.1"
        self._server_port = 0
        self._stash: dict[int, tuple[int, bytes]] = {}
        self._stash_keys = itertools.count(1)
        self._streams: dict[int, _StreamQueue] = {}
        self._live: set[int] = set()          # connections with a request in progress
        self._pending: dict[int, deque[dict[str, Any]]] = {}
        self._closed = False
        self._stop = False

    @property
    def manager(self) -> Manager:
        return self._manager

    def listen(self, url: str = "http://127.0.0.1:8000") -> Connection:
        """Listen on url; returns the listening Connection."""
        lst = self._manager.listen(url, http=True)
        host = url_host(url).strip("[]") or "127.0.0.1"
        self._server_name = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        addr = lst.local_addr
        self._server_port = addr[1] if addr else 0
        return lst

    def run(self, poll_ms: int = 100) -> None:
        """Serve until SIGINT/SIGTERM, then close (main thread only)."""
        self._stop = False

        def on_signal(signum: int, frame: Any) -> None:
            self._stop = True

        old_int = signal.signal(signal.SIGINT, on_signal)
        old_term = signal.signal(signal.SIGTERM, on_signal)
        try:
            while not self._stop:
                self._manager.poll(poll_ms)
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
            self.close()

    def close(self) -> None:
        """Stop the workers (without waiting) and close the manager."""
        if self._closed:
            return
        self._closed = True
        for q in list(self._streams.values()):
            q.aborted = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._manager.close()
        self._streams.clear()
        self._stash.clear()

    # ---- poll thread ----
    def _handle(self, conn: Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            environ = _build_environ(data, conn, self._server_name, self._server_port)
            cid = conn.id
            if cid in self._live:
                self._pending.setdefault(cid, deque()).append(environ)
            else:
                self._start(cid, environ)
        elif ev == MG_EV_WAKEUP:
            self._on_wakeup(conn, data)
        elif ev in (MG_EV_WRITE, MG_EV_POLL):
            q = self._streams.get(conn.id)
            if q is not None:
                self._pump(conn, q)
        elif ev == MG_EV_CLOSE:
            cid = conn.id
            self._live.discard(cid)
            self._pending.pop(cid, None)
            q = self._streams.pop(cid, None)
            if q is not None:
                q.aborted = True
            for key in [k for k, (c, _) in list(self._stash.items()) if c == cid]:
                self._stash.pop(key, None)

    def _start(self, cid: int, environ: dict[str, Any]) -> None:
        self._live.add(cid)
        try:
            self._pool.submit(self._run_app, cid, environ)
        except RuntimeError:  # pool shut down
            self._live.discard(cid)

    def _finish(self, conn: Connection, close_after: bool) -> None:
        cid = conn.id
        if close_after:
            self._pending.pop(cid, None)
            conn.drain()
            return
        pending = self._pending.get(cid)
        if pending:
            environ = pending.popleft()
            if not pending:
                del self._pending[cid]
            self._start(cid, environ)
        else:
            self._live.discard(cid)

    def _on_wakeup(self, conn: Connection, msg: bytes) -> None:
        op, close_after, payload = msg[:1], msg[1:2] == b"\x01", msg[2:]
        if op == _OP_DATA:
            conn.send(payload)
            self._finish(conn, close_after)
        elif op == _OP_STASH:
            entry = self._stash.pop(int(payload), None)
            if entry is not None:
                conn.send(entry[1])
                self._finish(conn, close_after)
        elif op == _OP_STREAM:
            q = self._streams.get(conn.id)
            if q is not None:
                self._pump(conn, q)

    def _pump(self, conn: Connection, q: _StreamQueue) -> None:
        """Move queued chunks into the send buffer while it is below the mark."""
        while conn.send_len < _STREAM_BATCH_SIZE:
            try:
                item = q.get_nowait()
            except queue.Empty:
                return
            if item is _END or item is _ABORT:
                self._streams.pop(conn.id, None)
                if item is _ABORT:
                    conn.close()
                else:
                    self._finish(conn, q.close_after)
                return
            conn.send(item)

    # ---- worker threads ----
    def _post(self, cid: int, op: bytes, close_after: bool, payload: bytes = b"") -> None:
        head = op + (b"\x01" if close_after else b"\x00")
        if len(payload) + 2 <= _WAKEUP_MAX_BYTES:
            self._manager.wakeup(cid, head + payload)
            return
        if cid not in self._live:
            return  # the connection is gone
        key = next(self._stash_keys)
        self._stash[key] = (cid, payload)
        if cid not in self._live:  # closed meanwhile: MG_EV_CLOSE may have purged already
            self._stash.pop(key, None)
            return
        self._manager.wakeup(cid, _OP_STASH + head[1:] + str(key).encode())

    def _run_app(self, cid: int, environ: dict[str, Any]) -> None:
        resp = _Response(self, cid, _wants_close(environ))
        try:
            result = self._app(environ, resp.start_response)
            try:
                for chunk in result:
                    resp.write(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            resp.finish()
        except _StreamAborted:
            pass
        except Exception:  # noqa: BLE001 - any app error becomes a 500 (PEP 3333)
            traceback.print_exc()
            resp.fail()


class _Response:
    """State of one application call on a worker thread."""

    def __init__(self, server: WSGIServer, cid: int, close_after: bool) -> None:
        self.server = server
        self.cid = cid
        self.close_after = close_after
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.stream: _StreamQueue | None = None
        self.chunked = False

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.stream is not None:  # headers already on the wire
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called twice without exc_info")
        if not isinstance(status, str) or len(status) < 4 or not status[:3].isdigit():
            raise ValueError(f"invalid WSGI status {status!r}")
        for name, value in headers:
            _validate_header(name, value)
        self.status = status
        self.headers = list(headers)
        return self.write

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise AssertionError("write() before start_response()")
        if not data:
            return
        data = bytes(data)
        if self.stream is not None:
            self._put_chunk(data)
            return
        self.body.append(data)
        self.size += len(data)
        if self.size >= _STREAM_THRESHOLD:
            self._begin_stream()

    def _header_lines(self) -> list[str]:
        assert self.status is not None
        lines = [f"HTTP/1.1 {self.status}\r\n"]
        names = {n.lower() for n, _ in self.headers}
        if "content-type" not in names:
            lines.append("Content-Type: text/plain\r\n")
        lines.extend(f"{n}: {v}\r\n" for n, v in self.headers)
        if "connection" in names:
            for n, v in self.headers:
                if n.lower() == "connection" and "close" in v.lower():
                    self.close_after = True
        return lines

    def finish(self) -> None:
        if self.status is None:
            raise AssertionError("the application returned without calling start_response()")
        if self.stream is not None:
            if self.chunked:
                self._put(b"0\r\n\r\n")
            self.stream.close_after = self.close_after
            self._put(_END)
            return
        lines = self._header_lines()
        if not any(n.lower() == "content-length" for n, _ in self.headers):
            lines.append(f"Content-Length: {self.size}\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        self.server._post(self.cid, _OP_DATA, self.close_after, head + b"".join(self.body))

    def fail(self) -> None:
        if self.stream is None:
            self.server._post(self.cid, _OP_DATA, True, _ERROR_500)
        else:
            try:
                self._put(_ABORT)
            except _StreamAborted:
                pass

    # streaming
    def _begin_stream(self) -> None:
        srv = self.server
        self.stream = _StreamQueue(_STREAM_QUEUE_SIZE)
        srv._streams[self.cid] = self.stream
        lines = self._header_lines()
        names = {n.lower() for n, _ in self.headers}
        # An app that set Content-Length gets its body streamed as is.
        self.chunked = "content-length" not in names
        if self.chunked and "transfer-encoding" not in names:
            lines.append("Transfer-Encoding: chunked\r\n")
        lines.append("\r\n")
        self._put("".join(lines).encode("latin-1"))
        body, self.body = b"".join(self.body), []
        self._put_chunk(body)

    def _put_chunk(self, data: bytes) -> None:
        for i in range(0, len(data), _STREAM_BATCH_SIZE):
            part = data[i:i + _STREAM_BATCH_SIZE]
            self._put(b"%x\r\n%s\r\n" % (len(part), part) if self.chunked else part)

    def _put(self, item: object) -> None:
        srv, q = self.server, self.stream
        assert q is not None
        if q.aborted or srv._closed:
            raise _StreamAborted
        try:
            q.put(item, timeout=srv._stream_timeout)
        except queue.Full:
            q.aborted = True
            if srv._streams.get(self.cid) is q:
                srv._streams.pop(self.cid, None)
            raise _StreamAborted from None
        try:
            srv._manager.wakeup(self.cid, _OP_STREAM + b"\x00")
        except RuntimeError:
            raise _StreamAborted from None  # manager closed


def serve(app: WSGIApp, url: str = "http://127.0.0.1:8000", workers: int = 4,
          stream_timeout: float = 5.0) -> None:
    """Serve app on url until SIGINT/SIGTERM."""
    server = WSGIServer(app, workers=workers, stream_timeout=stream_timeout)
    lst = server.listen(url)
    port = lst.local_addr[1] if lst.local_addr else 0
    print(f"cymongoose WSGI server on http://{server._server_name}:{port}/ "
          f"({workers} workers, Ctrl+C to stop)", flush=True)
    server.run()

