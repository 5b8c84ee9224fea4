"""Shared fixtures of the Python test suite (helpers live in mgtest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import cymongoose as mg


@pytest.fixture
def mgr() -> Iterator[mg.Manager]:
    """A Manager closed after the test."""
    m = mg.Manager()
    yield m
    m.close()
