"""Helpers shared by the Python tests (importable as `mgtest`)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cymongoose as mg

if TYPE_CHECKING:
    from cymongoose.device import Board

REPO = Path(__file__).resolve().parents[2]
REFERENCE_BOARD = "mps2-an385"


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


def emulated_boards() -> list[Board]:
    """The boards of the SDK's packaged board map that QEMU runs here (boot = "qemu",
    not build_only): the boards of the device-suite matrix. User board files are left
    out, so a developer's lab config does not change what the suite runs."""
    from cymongoose.device import load_boards

    return [b for b in load_boards(include_user=False)
            if b.boot == "qemu" and not b.build_only]


def board_fw_dir(board: str) -> Path:
    """Where `make fw` puts a board's images: build/fw-<board>, or
    $MG_FW_DIR_<BOARD> (upper case, "-" as "_"); the reference board keeps build/fw
    (or $MG_FW_DIR)."""
    env = "MG_FW_DIR_" + board.upper().replace("-", "_")
    if os.environ.get(env):
        return Path(os.environ[env])
    if board == REFERENCE_BOARD:
        return Path(os.environ.get("MG_FW_DIR", REPO / "build" / "fw"))
    return REPO / "build" / f"fw-{board}"


def board_image(board: str, name: str) -> Path:
    """A board's firmware image <name>.elf; a missing one fails the test (never a
    skip: CI must not pass a board it did not run)."""
    import pytest

    d = board_fw_dir(board)
    if not d.is_dir():
        pytest.fail(f"no image directory {d} for board {board}: build every emulated "
                    "board with `make fw`")
    elf = d / f"{name}.elf"
    if not elf.is_file():
        pytest.fail(f"{elf} is missing: build the firmware first with `make fw`")
    return elf
