"""Helpers of the HTTP tests: a cymongoose HTTP server polled by a background
thread, so blocking real clients (curl, http.client, requests) can talk to it
from the test thread."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cymongoose as mg

if TYPE_CHECKING:
    from typing_extensions import Self

Handler = Callable[[Any, int, Any], None]


class HttpServer:
    """Runs `handler` for an http:// listener on 127.0.0.1 (ephemeral port)."""

    def __init__(self, handler: Handler) -> None:
        self.events: list[int] = []
        self.errors: list[str] = []
        self._user = handler
        self.mgr = mg.Manager(self._handle)
        self.listener = self.mgr.listen("http://127.0.0.1:0")
        self.port: int = self.listener.local_addr[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _handle(self, conn: Any, ev: int, data: Any) -> None:
        self.events.append(ev)
        if ev == mg.MG_EV_ERROR:
            self.errors.append(data)
        self._user(conn, ev, data)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.mgr.poll(10)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.mgr.close()


def raw_exchange(port: int, data: bytes, timeout: float = 3.0,
                 until: bytes | None = None) -> bytes:
    """Sends data on a fresh TCP connection and returns everything received
    until the server closes, `until` shows up, or timeout passes."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
            if until is not None and until in out:
                break
    return out


def curl(*args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[bytes]:
    """Runs curl quietly with a bounded time; returns the completed process.
    A sanitizer runtime preloaded for the extension is not passed on to curl."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return subprocess.run(["curl", "-s", "-S", "--max-time", str(int(timeout)), *args],
                          capture_output=True, timeout=timeout + 5, check=False, env=env)
