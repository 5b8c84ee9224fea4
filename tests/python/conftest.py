"""Shared fixtures of the Python test suite."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

import cymongoose as mg


@pytest.fixture
def mgr() -> Iterator[mg.Manager]:
    """A Manager closed after the test."""
    m = mg.Manager()
    yield m
    m.close()


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
