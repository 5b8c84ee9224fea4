"""The firmware images `make fw` builds, for the tests that boot them on the bridge."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def have_stream() -> bool:
    """The installed extension can carry the board's frames in-process (the bridge)."""
    try:
        from cymongoose.stack import StackInterface
    except ImportError:
        return False
    return hasattr(StackInterface, "stream")


def built_image(name: str = "device_app.elf", *, bridged: bool = True) -> str:
    """Path of ``name`` in $MG_FW_DIR (default build/fw, the reference board); skips,
    naming what is missing, when it is not built or (``bridged``) the extension cannot
    bridge it."""
    if bridged and not have_stream():
        pytest.skip("the installed extension has no StackInterface.stream (run `make ext`)")
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / name
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return str(elf)
