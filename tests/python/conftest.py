"""Shared fixtures of the Python test suite (helpers live in mgtest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import cymongoose as mg
import pytest


@pytest.fixture
def mgr() -> Iterator[mg.Manager]:
    """A Manager closed after the test."""
    m = mg.Manager()
    yield m
    m.close()
