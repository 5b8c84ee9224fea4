"""Shared fixtures of the Python test suite (helpers live in mgtest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import cymongoose as mg

# Property tests: no per-example deadline (the shared machine is noisy), and in CI a
# fixed example sequence, so a run is reproducible; local runs keep exploring.
try:
    from hypothesis import settings as _hyp_settings
except ImportError:  # hypothesis is a dev requirement; only its tests need it
    pass
else:
    _hyp_settings.register_profile("ci", derandomize=True, deadline=None)
    _hyp_settings.register_profile("dev", deadline=None)
    _hyp_settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Under scripts/test_asan_py.sh the sanitizer runtime is preloaded into this interpreter.
# Python children keep it (they import the instrumented extension); the other peers the
# tests start (curl, openssl, QEMU, ip netns exec ...) must not inherit it.
if os.environ.get("MG_ASAN_PRELOADED"):
    _popen_init = subprocess.Popen.__init__

    def _popen_without_preload(self, args, *rest, **kw):  # type: ignore[no-untyped-def]
        argv0 = args[0] if isinstance(args, (list, tuple)) else str(args).split()[0]
        if os.path.realpath(shutil.which(str(argv0)) or str(argv0)) != os.path.realpath(
                sys.executable):
            env = dict(kw.get("env") or os.environ)
            env.pop("LD_PRELOAD", None)
            kw["env"] = env
        _popen_init(self, args, *rest, **kw)

    subprocess.Popen.__init__ = _popen_without_preload  # type: ignore[method-assign]
import pytest


@pytest.fixture
def mgr() -> Iterator[mg.Manager]:
    """A Manager closed after the test."""
    m = mg.Manager()
    yield m
    m.close()
