"""`make demo`'s device suite stays green: flash + verify over QEMU's gdbstub, the root-free
bridge, HTTP, WebSocket, MQTT, JSON-RPC and OTA against the reference firmware."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FW = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw"))

pytestmark = pytest.mark.qemu


def test_device_demo_passes_every_step() -> None:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed (Debian package qemu-system-arm)")
    if not (FW / "device_app.elf").is_file():
        pytest.skip(f"{FW / 'device_app.elf'} is not built (make fw)")
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "demo_device.py"),
                        "--firmware", str(FW)], capture_output=True, text=True, timeout=180,
                       check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    table = r.stdout[r.stdout.index("| step |"):]
    steps = [line.split("|")[1:3] for line in table.splitlines()[2:]]
    assert len(steps) == 8
    assert all(result.strip() == "ok" for _, result in steps), table
