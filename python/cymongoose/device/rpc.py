"""JSON-RPC 2.0 over a device console (the framing of ``docs/device-rpc.md``).

The console carries both human-readable log lines and RPC traffic. An RPC
frame is one line that starts with the ASCII Record Separator (``0x1E``)::

    frame = RS json-object LF

:class:`RpcFramer` is the sans-IO codec (text in, frames and log lines out).
:class:`RpcClient` runs it over a :class:`~cymongoose.device.console.Console`:
``call(method, **params)`` sends one request and waits for its response,
taking only the response frame out of the console's buffer, so log lines the
device printed meanwhile stay available to ``expect`` and are all in the
session log.

Errors: a JSON-RPC error object becomes :class:`RpcError` (``.code``,
``.message``, ``.data``); no response in time is :class:`RpcTimeoutError`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import DeviceError, ExpectTimeoutError

if TYPE_CHECKING:
    from .console import Console

RS = "\x1e"
MAX_FRAME = 2048  # bytes between RS and LF, both ways (docs/device-rpc.md)
DEFAULT_TIMEOUT = 5.0

# JSON-RPC 2.0 and device-specific error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
OTA_NOT_STARTED = -32000
OTA_TOO_LARGE = -32001
OTA_OUT_OF_ORDER = -32002
OTA_SHA_MISMATCH = -32003
OTA_INCOMPLETE = -32004
OTA_NO_MEMORY = -32005
CONSOLE_OVERRUN = -32010  # the device lost console input: requests may be missing

# call_many() pacing: requests outstanding at once, and their bytes. The
# reference boards buffer 512 received bytes while they write an answer.
DEFAULT_WINDOW = 8
DEFAULT_WINDOW_BYTES = 384

# One frame: RS up to the end of its line. A new RS inside restarts the frame
# (the device drops a partial frame followed by RS; so do we).
_FRAME_RX = re.compile(RS + r"([^\r\n" + RS + r"]*)\r?\n")


class RpcError(DeviceError):
    """The device answered a request with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None, method: str = "") -> None:
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        where = f"{method}: " if method else ""
        extra = f" ({json.dumps(data)})" if data is not None else ""
        super().__init__(f"{where}JSON-RPC error {code}: {message}{extra}")


class RpcTimeoutError(DeviceError, TimeoutError):
    """No response to a request within its timeout."""

    def __init__(self, method: str, req_id: int | None, timeout: float, tail: str,
                 hang: object | None = None) -> None:
        self.method = method
        self.id = req_id
        self.timeout = timeout
        self.hang = hang  # where a silent device's CPU was (cymongoose.device.hang.Hang)
        lines = tail.splitlines()[-10:]
        shown = "\n".join("  | " + ln for ln in lines) if lines else "  (nothing received)"
        what = (f"no {method!r} notification" if req_id is None
                else f"no response to {method!r} (id {req_id})")
        hung = f"device hung: {hang}\n" if hang is not None else ""
        super().__init__(f"{hung}{what} within {timeout:g} s; last console lines:\n{shown}")


class RpcProtocolError(DeviceError):
    """A frame from the device is not a JSON-RPC 2.0 object (or a request is unsendable)."""


@dataclass
class RpcFramer:
    """Sans-IO codec. ``encode`` makes a frame; ``feed`` takes console text and
    returns the parsed frames (dicts); log lines are collected in ``log_lines``."""

    max_frame: int = MAX_FRAME
    bad_frames: int = 0
    log_lines: deque[str] = field(default_factory=lambda: deque(maxlen=1000))
    _buf: str = ""

    def encode(self, obj: dict[str, Any]) -> bytes:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
        if len(text) > self.max_frame:
            raise RpcProtocolError(f"request of {len(text)} bytes exceeds the device's "
                                   f"frame limit of {self.max_frame} bytes")
        return (RS + text + "\n").encode("ascii")

    def parse(self, text: str) -> dict[str, Any]:
        """One frame's JSON text -> the message; RpcProtocolError when it is not an object."""
        if len(text.encode("utf-8", errors="replace")) > self.max_frame:
            self.bad_frames += 1
            raise RpcProtocolError(f"frame of {len(text)} bytes exceeds {self.max_frame}")
        try:
            msg = json.loads(text)
        except ValueError as exc:
            self.bad_frames += 1
            raise RpcProtocolError(f"frame is not JSON ({exc}): {text[:80]!r}") from None
        if not isinstance(msg, dict):
            self.bad_frames += 1
            raise RpcProtocolError(f"frame is not a JSON object: {text[:80]!r}")
        return msg

    def feed(self, text: str) -> list[dict[str, Any]]:
        """Add console text; return the complete, well-formed frames in it."""
        self._buf += text
        out: list[dict[str, Any]] = []
        while True:
            nl = self._buf.find("\n")
            if nl < 0:
                # Bound an endless line: keep only what could still be a frame start.
                if len(self._buf) > 4 * self.max_frame:
                    rs = self._buf.rfind(RS)
                    self._buf = self._buf[rs:] if rs >= 0 else ""
                    if rs < 0 or len(self._buf) > self.max_frame + 2:
                        self._buf = ""
                        self.bad_frames += 1
                return out
            line, self._buf = self._buf[:nl].rstrip("\r"), self._buf[nl + 1:]
            first = line.find(RS)
            if first < 0:
                self.log_lines.append(line)
                continue
            if first > 0:  # text before a frame: not expected, but keep it as log
                self.log_lines.append(line[:first])
            # A later RS restarts the frame: the partial one before it is dropped.
            try:
                out.append(self.parse(line[line.rfind(RS) + 1:]))
            except RpcProtocolError:
                continue


def _check_response(msg: dict[str, Any]) -> None:
    if msg.get("jsonrpc") != "2.0":
        raise RpcProtocolError(f"not a JSON-RPC 2.0 message: {json.dumps(msg)[:120]}")
    if ("result" in msg) == ("error" in msg):
        raise RpcProtocolError(f"a response needs exactly one of result/error: "
                               f"{json.dumps(msg)[:120]}")


class RpcClient:
    """JSON-RPC client over a device console: ``rpc.call("led.set", on=True)``.

    One request at a time (the device answers in order); thread-safe. Device
    notifications (frames with a ``method`` and no ``id``, e.g. ``ready`` at boot)
    are kept in ``notifications``.
    """

    def __init__(self, console: Console, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.console = console
        self.timeout = timeout
        self.framer = RpcFramer()
        self.notifications: deque[dict[str, Any]] = deque(maxlen=100)
        self.stale_responses = 0  # responses to requests that had already timed out
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def call(self, method: str, /, **params: Any) -> Any:
        """Call ``method`` with keyword ``params``; return its result or raise RpcError."""
        return self.request(method, params or None)

    def request(self, method: str, params: dict[str, Any] | list[Any] | None = None, *,
                timeout: float | None = None) -> Any:
        """Like :meth:`call`, with params as a dict/list and a per-call ``timeout``."""
        if not isinstance(method, str) or not method:
            raise ValueError("method must be a non-empty string")
        wait = self.timeout if timeout is None else timeout
        with self._lock:
            req_id = next(self._ids)
            req: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
            if params is not None:
                req["params"] = params
            self.console.write(self.framer.encode(req))
            deadline = time.monotonic() + wait
            while True:
                msg = self._next_frame(deadline, method, req_id, wait)
                if msg is None:
                    continue
                if "method" in msg:  # the device's own notification (or request): keep it
                    self.notifications.append(msg)
                    continue
                _check_response(msg)
                rid = msg.get("id")
                # id null: the device could not read our request (one in flight: ours).
                if rid is not None and rid != req_id:
                    self.stale_responses += 1
                    continue
                if "error" in msg:
                    err = msg["error"]
                    if not isinstance(err, dict):
                        raise RpcProtocolError(f"error member is not an object: {err!r}")
                    raise RpcError(int(err.get("code", INTERNAL_ERROR)),
                                   str(err.get("message", "")), err.get("data"), method)
                return msg["result"]

    def call_many(
        self,
        calls: Iterable[tuple[str, dict[str, Any] | list[Any] | None] | str],
        *,
        window: int = DEFAULT_WINDOW,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
        timeout: float | None = None,
    ) -> list[Any]:
        """Pipelined calls: ``[(method, params), ...]`` (or bare method names).

        At most ``window`` requests, and at most ``window_bytes`` bytes of
        them, are outstanding at once (one request is always allowed), so a
        device that holds few received bytes while it writes an answer is
        never overrun. Returns one entry per call, in order: the result, or
        the :class:`RpcError` the device answered (not raised, so one failing
        call does not hide the others' results). Raises :class:`RpcError`
        with code ``CONSOLE_OVERRUN`` when the device reports lost input and
        :class:`RpcTimeoutError` when no answer comes for ``timeout`` seconds.
        """
        if window < 1 or window_bytes < 1:
            raise ValueError("window and window_bytes must be at least 1")
        wait = self.timeout if timeout is None else timeout
        todo: list[tuple[str, dict[str, Any] | list[Any] | None]] = [
            (c, None) if isinstance(c, str) else (c[0], c[1]) for c in calls]
        results: list[Any] = [None] * len(todo)
        with self._lock:
            frames: list[bytes] = []
            ids: list[int] = []
            for method, params in todo:
                if not isinstance(method, str) or not method:
                    raise ValueError("method must be a non-empty string")
                req_id = next(self._ids)
                req: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
                if params is not None:
                    req["params"] = params
                frames.append(self.framer.encode(req))
                ids.append(req_id)
            index = {rid: i for i, rid in enumerate(ids)}
            pending: dict[int, int] = {}  # id -> frame bytes outstanding
            sent = done = 0
            while done < len(todo):
                while sent < len(todo) and (not pending or (
                        len(pending) < window
                        and sum(pending.values()) + len(frames[sent]) <= window_bytes)):
                    self.console.write(frames[sent])
                    pending[ids[sent]] = len(frames[sent])
                    sent += 1
                first = min(pending)
                method = todo[index[first]][0]
                msg = self._next_frame(time.monotonic() + wait, method, first, wait)
                if msg is None:
                    continue
                if "method" in msg:
                    self.notifications.append(msg)
                    continue
                _check_response(msg)
                rid = msg.get("id")
                if rid is None:  # the device could not read (or lost) a request
                    err = msg.get("error") or {}
                    raise RpcError(int(err.get("code", INTERNAL_ERROR)),
                                   str(err.get("message", "")), err.get("data"), method)
                if rid not in pending:
                    self.stale_responses += 1
                    continue
                del pending[rid]
                done += 1
                i = index[rid]
                if "error" in msg:
                    err = msg["error"]
                    if not isinstance(err, dict):
                        raise RpcProtocolError(f"error member is not an object: {err!r}")
                    results[i] = RpcError(int(err.get("code", INTERNAL_ERROR)),
                                          str(err.get("message", "")), err.get("data"),
                                          todo[i][0])
                else:
                    results[i] = msg["result"]
        return results

    def notify(self, method: str, /, **params: Any) -> None:
        """Send a notification (no id: the device does not answer)."""
        req: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params:
            req["params"] = params
        with self._lock:
            self.console.write(self.framer.encode(req))

    def wait_notification(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait for a device notification named ``method`` (e.g. ``ready``); return it."""
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        with self._lock:
            while True:
                for n in list(self.notifications):
                    if n.get("method") == method:
                        self.notifications.remove(n)
                        return n
                msg = self._next_frame(deadline, method, None, wait)
                if msg is not None and "method" in msg:
                    self.notifications.append(msg)

    def _next_frame(self, deadline: float, method: str, req_id: int | None,
                    wait: float) -> dict[str, Any] | None:
        left = deadline - time.monotonic()
        try:
            m = self.console.extract(_FRAME_RX, timeout=max(0.0, left))
        except ExpectTimeoutError as exc:
            raise RpcTimeoutError(method, req_id, wait, exc.tail,
                                  getattr(exc, "hang", None)) from None
        try:
            return self.framer.parse(m.group(1))
        except RpcProtocolError:
            return None  # garbage between frames is skipped; the deadline still holds
