"""Helpers shared by the Python tests (importable as `mgtest`)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import cymongoose as mg


def poll_until(mgr: mg.Manager, cond: Callable[[], bool], timeout: float = 5.0,
               step_ms: int = 10) -> bool:
    """Poll until cond() is true or timeout seconds pass; returns cond()."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        mgr.poll(step_ms)
    return cond()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
