"""A burst of JSON-RPC requests on the reference firmware's console (QEMU): every request
is answered, or lost input is reported, never dropped silently (docs/device-rpc.md).

The console is a pty that the test stops reading for a while, as a slow host (or a real
UART at 115200 baud, whose answers take longer to send than the requests to arrive) does:
the firmware's answers back up, it blocks writing them, and the requests keep coming. The
old firmware dropped what did not fit its 512-byte receive ring (124 of 300 answered);
now the UART holds off the sender until the ring has room again.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import threading
import time
import tty
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device.pytest_plugin import Dut

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]
N = 300
FRAME_RX = re.compile(rb"\x1e(\{[^\r\n\x1e]*\})\r?\n")


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "device_app.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return str(elf)


def read_for(fd: int, seconds: float, until: bytes | None = None) -> bytes:
    """What the console says within `seconds`, or up to the end of the line holding `until`."""
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end and (until is None or until not in out
                                      or b"\n" not in out[out.index(until):]):
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def frames(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(m.group(1)) for m in FRAME_RX.finditer(data)]


def test_burst_with_a_slow_reader_loses_nothing(dut_firmware: str) -> None:
    proc = subprocess.Popen(
        ["qemu-system-arm", "-M", "mps2-an385", "-display", "none", "-monitor", "none",
         "-semihosting", "-nic", "none", "-kernel", dut_firmware, "-serial", "pty"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        path = None
        for _ in range(20):
            m = re.search(rb"(/dev/pts/\d+)", proc.stdout.readline())
            if m:
                path = m.group(1).decode()
                break
        assert path, "QEMU did not report its pty"
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            boot = read_for(fd, 15, until=b'"method":"ready"')
            assert b'"method":"ready"' in boot, boot[-300:]
            # `info` answers (~220 bytes) are larger than the requests (~45): the pty fills.
            burst = b"".join(
                b'\x1e{"jsonrpc":"2.0","id":%d,"method":"info"}\n' % i for i in range(1, N + 1))
            writer = threading.Thread(target=os.write, args=(fd, burst), daemon=True)
            writer.start()
            time.sleep(2.0)  # nobody reads the console meanwhile
            got = frames(read_for(fd, 30, until=b'"id":%d,' % N))
            writer.join(5)
            answered = [f["id"] for f in got if "result" in f]
            errors = [f for f in got if "error" in f]
            assert errors == []
            assert answered == list(range(1, N + 1))
            assert all(f["result"]["app"] == "device_app" for f in got if "result" in f)
            os.write(fd, b'\x1e{"jsonrpc":"2.0","id":"x","method":"info"}\n')
            last = [f for f in frames(read_for(fd, 5, until=b'"id":"x"')) if f.get("id") == "x"]
            assert last and last[0]["result"]["console_dropped"] == 0
        finally:
            os.close(fd)
    finally:
        proc.kill()
        proc.wait()


def test_call_many_300_through_the_sdk(dut: Dut) -> None:
    dut.rpc.wait_notification("ready", timeout=20)
    results = dut.rpc.call_many([("led.set", {"on": i % 2 == 0}) for i in range(N)])
    assert results == [{"on": i % 2 == 0} for i in range(N)]
    assert dut.rpc.call("info")["console_dropped"] == 0
