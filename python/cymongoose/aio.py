"""asyncio integration: a Manager driven by a daemon thread (docs/api-contract.md#aio).

The event loop of the core runs in its own thread so it never blocks asyncio.
Every Manager call made through ``AsyncManager`` takes an internal re-entrant
lock after waking the poll thread, so it is safe from any thread (including the
asyncio loop and handlers running on the poll thread). Handlers run on the poll
thread; ``schedule()`` hands work back to the asyncio loop.

Beyond the PyPI package: ``ws_connect()`` opens an outbound WebSocket and
``websocket()`` returns an awaitable client object (``AsyncWebSocket``) whose
``send``/``recv``/``close`` are coroutines.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ._mongoose import (
    MG_EV_CLOSE,
    MG_EV_ERROR,
    MG_EV_WS_MSG,
    MG_EV_WS_OPEN,
    WEBSOCKET_OP_BINARY,
    WEBSOCKET_OP_TEXT,
    Connection,
    Manager,
    Timer,
)

_T = TypeVar("_T")

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AsyncManager", "AsyncWebSocket"]

Handler = Callable[[Connection, int, Any], None]

_NOT_STARTED = "AsyncManager is not started"
_MAX_POLL_MS = 200  # upper bound of one poll so stop requests are seen promptly
_JOIN_SLICE_S = 5.0


class AsyncManager:
    """Runs a :class:`Manager` in a daemon thread for asyncio programs.

    ``async with AsyncManager(handler) as am:`` creates the manager (with the
    wakeup channel enabled) and starts polling; leaving the block stops the
    thread and closes the manager.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        poll_interval: int = 100,
        error_handler: Callable[[Exception], Any] | None = None,
        shutdown_timeout: float = 30,
    ) -> None:
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int):
            raise TypeError(f"poll_interval must be an int (milliseconds), "
                            f"not {type(poll_interval).__name__}")
        if poll_interval < 0:
            raise ValueError("poll_interval must be >= 0")
        if isinstance(shutdown_timeout, bool) or not isinstance(shutdown_timeout, (int, float)):
            raise TypeError(f"shutdown_timeout must be a number of seconds, "
                            f"not {type(shutdown_timeout).__name__}")
        if shutdown_timeout <= 0:
            raise ValueError("shutdown_timeout must be > 0")
        for name, fn in (("handler", handler), ("error_handler", error_handler)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None")
        self._handler = handler
        self._poll_interval = poll_interval
        self._error_handler = error_handler
        self._shutdown_timeout = shutdown_timeout
        self._manager: Manager | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle ----
    async def __aenter__(self) -> Self:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("AsyncManager is already started")
        self._loop = asyncio.get_running_loop()
        self._manager = Manager(self._handler, enable_wakeup=True,
                                error_handler=self._error_handler)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._poll_loop, args=(self._manager, self._stop),
            name="cymongoose-aio-poll", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> bool:
        self._stop.set()
        self._wake()
        thread = self._thread
        if thread is not None:
            loop = asyncio.get_running_loop()
            start = time.monotonic()
            while thread.is_alive():
                left = self._shutdown_timeout - (time.monotonic() - start)
                if left <= 0:
                    warnings.warn(
                        f"AsyncManager poll thread did not stop within "
                        f"{self._shutdown_timeout}s; abandoning thread. "
                        "A handler is likely blocked.",
                        RuntimeWarning, stacklevel=2)
                    self._thread = None
                    return False  # the manager stays open: its thread may still use it
                await loop.run_in_executor(None, thread.join, min(_JOIN_SLICE_S, left))
                if thread.is_alive() and time.monotonic() - start < self._shutdown_timeout:
                    warnings.warn(
                        f"AsyncManager poll thread has not stopped after "
                        f"{time.monotonic() - start:.1f}s; waking it again",
                        RuntimeWarning, stacklevel=2)
                    self._wake()
        self._thread = None
        mgr, self._manager = self._manager, None
        if mgr is not None:
            mgr.close()
        return False

    def _poll_loop(self, mgr: Manager, stop: threading.Event) -> None:
        timeout = max(0, min(int(self._poll_interval), _MAX_POLL_MS))
        while not stop.is_set():
            with self._lock:
                if stop.is_set():
                    break
                mgr.poll(timeout)
            # A short pause outside the lock lets other threads take it.
            stop.wait(0.001)

    def _wake(self) -> None:
        """Best effort: make a blocked poll() return so the lock frees quickly."""
        mgr = self._manager
        if mgr is None:
            return
        try:
            mgr.wakeup(mgr.wakeup_id, b"")
        except RuntimeError:
            pass  # manager already freed

    def _started(self) -> Manager:
        mgr = self._manager
        if mgr is None:
            raise RuntimeError(_NOT_STARTED)
        return mgr

    # ---- properties ----
    @property
    def manager(self) -> Manager:
        """The underlying Manager (RuntimeError when not started)."""
        return self._started()

    @property
    def running(self) -> bool:
        """True while the poll thread is alive and no stop was requested."""
        t = self._thread
        return t is not None and t.is_alive() and not self._stop.is_set()

    # ---- delegating methods (thread-safe) ----
    def _call_on(self, fn: Callable[[], _T]) -> _T:
        """Run fn() under the manager lock (after waking the poll thread)."""
        self._started()
        self._wake()
        with self._lock:
            return fn()


    def listen(self, url: str, handler: Handler | None = None, *,
               http: bool | None = None) -> Connection:
        """Manager.listen() under the lock."""
        m = self._started()
        return self._call_on(lambda: m.listen(url, handler, http=http))

    def connect(self, url: str, handler: Handler | None = None, *,
                http: bool | None = None) -> Connection:
        """Manager.connect() under the lock."""
        m = self._started()
        return self._call_on(lambda: m.connect(url, handler, http=http))

    def ws_connect(self, url: str, handler: Handler | None = None) -> Connection:
        """Outbound WebSocket (extension over the PyPI package)."""
        m = self._started()
        return self._call_on(lambda: m.ws_connect(url, handler))

    def mqtt_connect(self, url: str, **kwargs: Any) -> Connection:
        """Manager.mqtt_connect() under the lock."""
        m = self._started()
        return self._call_on(lambda: m.mqtt_connect(url, **kwargs))

    def mqtt_listen(self, url: str, handler: Handler | None = None) -> Connection:
        """Manager.mqtt_listen() under the lock."""
        m = self._started()
        return self._call_on(lambda: m.mqtt_listen(url, handler))

    def sntp_connect(self, url: str, handler: Handler | None = None) -> Connection:
        """Manager.sntp_connect() under the lock."""
        m = self._started()
        return self._call_on(lambda: m.sntp_connect(url, handler))

    def timer_add(self, ms: int, callback: Callable[[], Any], *, repeat: bool = False,
                  run_now: bool = False) -> Timer:
        """Manager.timer_add() under the lock (the callback runs on the poll thread)."""
        m = self._started()
        return self._call_on(lambda: m.timer_add(ms, callback, repeat=repeat, run_now=run_now))

    def wakeup(self, connection_id: int, data: bytes = b"") -> bool:
        """Thread-safe MG_EV_WAKEUP delivery (no lock needed)."""
        return self._started().wakeup(connection_id, data)

    def schedule(self, coro_or_callback: Coroutine[Any, Any, Any] | Callable[[], Any]) -> None:
        """Hand a coroutine or a plain callable over to the asyncio loop (thread-safe)."""
        loop = self._loop
        if self._manager is None or loop is None:
            raise RuntimeError(_NOT_STARTED)
        if asyncio.iscoroutine(coro_or_callback):
            asyncio.run_coroutine_threadsafe(coro_or_callback, loop)
        else:
            loop.call_soon_threadsafe(coro_or_callback)

    # ---- awaitable helpers ----
    def call(self, fn: Callable[[], Any]) -> Awaitable[Any]:
        """Run fn() under the manager lock on an executor thread; await its result."""
        self._started()
        return asyncio.get_running_loop().run_in_executor(None, self._call_on, fn)

    async def websocket(self, url: str, timeout: float = 10.0) -> AsyncWebSocket:
        """Open a WebSocket client connection and wait for the handshake."""
        ws = AsyncWebSocket(self, asyncio.get_running_loop())
        ws._conn = self.ws_connect(url, ws._on_event)
        try:
            await asyncio.wait_for(asyncio.shield(ws._opened), timeout)
        except asyncio.TimeoutError:
            await ws.close()
            raise TimeoutError(f"WebSocket handshake with '{url}' timed out") from None
        return ws


class AsyncWebSocket:
    """Awaitable WebSocket client created by :meth:`AsyncManager.websocket`.

    ``recv()`` returns ``str`` for text frames and ``bytes`` for binary ones and
    raises ``ConnectionError`` once the connection is closed.
    """

    def __init__(self, am: AsyncManager, loop: asyncio.AbstractEventLoop) -> None:
        self._am = am
        self._loop = loop
        self._conn: Connection | None = None
        self._opened: asyncio.Future[None] = loop.create_future()
        self._messages: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._error: str | None = None
        self.closed = False

    # Runs on the poll thread: copy what is needed, then hand it to the loop.
    def _on_event(self, conn: Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_WS_OPEN:
            self._loop.call_soon_threadsafe(self._set_open)
        elif ev == MG_EV_WS_MSG:
            opcode = data.flags & 0x0F
            item: str | bytes = data.data if opcode == WEBSOCKET_OP_BINARY else data.text
            self._loop.call_soon_threadsafe(self._messages.put_nowait, item)
        elif ev == MG_EV_ERROR:
            self._error = str(data)
        elif ev == MG_EV_CLOSE:
            self._loop.call_soon_threadsafe(self._set_closed)

    def _set_open(self) -> None:
        if not self._opened.done():
            self._opened.set_result(None)

    def _set_closed(self) -> None:
        self.closed = True
        if not self._opened.done():
            self._opened.set_exception(ConnectionError(
                f"WebSocket connection failed: {self._error or 'closed'}"))
        self._messages.put_nowait(None)

    @property
    def connection(self) -> Connection | None:
        """The underlying Connection."""
        return self._conn

    async def send(self, data: str | bytes) -> None:
        """Send one text (str) or binary (bytes) message."""
        if self.closed or self._conn is None:
            raise ConnectionError("WebSocket is closed")
        op = WEBSOCKET_OP_TEXT if isinstance(data, str) else WEBSOCKET_OP_BINARY
        conn = self._conn
        self._am._call_on(lambda: conn.ws_send(data, op))

    async def recv(self) -> str | bytes:
        """Next message; ConnectionError once the connection has closed."""
        item = await self._messages.get()
        if item is None:
            self._messages.put_nowait(None)  # keep reporting closure
            raise ConnectionError(f"WebSocket closed{': ' + self._error if self._error else ''}")
        return item

    async def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> None:
        """Send a close frame and wait (bounded) for the connection to close."""
        conn = self._conn
        if conn is None or self.closed:
            return
        payload = code.to_bytes(2, "big") + reason.encode("utf-8")
        try:
            self._am._call_on(lambda: conn.ws_send(payload, 8))
        except RuntimeError:
            return  # already detached
        deadline = self._loop.time() + timeout
        while not self.closed and self._loop.time() < deadline:
            await asyncio.sleep(0.01)
        if not self.closed:
            self._am._call_on(conn.close)

    def __aiter__(self) -> AsyncWebSocket:
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self.recv()
        except ConnectionError:
            raise StopAsyncIteration from None

