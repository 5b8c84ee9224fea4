"""A few silent peers must not make the firmware's HTTP server unavailable (issue 22).

The reference firmware has a few TCP connection slots (MG_TCPIP_MAX_TCP, 5 in device_app;
`net.status` reports it). That many host sockets connect to its HTTP port through QEMU's
port forward and never send a whole request; one more client still gets `GET /api/info`
answered, because when every slot is taken the least recently active quiet connection is
reset to make room (docs/stack.md). The old firmware dropped the new SYN until the silent
peers left.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from pathlib import Path

import pytest
from cymongoose.device import QemuTarget
from cymongoose.device.rpc import RpcClient

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def device(qemu: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "device_app.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    with QemuTarget(elf, nic="user", hostfwd=[80], log_path=tmp_path / "console.log") as t:
        t.console.expect_line(r"^net: ready ip=", timeout=15)
        t.console.expect_line(r"^http: listening on ", timeout=15)
        yield t


def get_info(port: int, timeout: float) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/api/info")
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def closed_by_peer(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(100) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_silent_peers_do_not_lock_the_http_server_out(device: QemuTarget) -> None:
    port = device.forwarded[80]
    rpc = RpcClient(device.console, timeout=5)
    slots = rpc.call("net.status")["tcp_max"]
    assert slots >= 2
    silent = []
    try:
        for _ in range(slots):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /api/info HTTP/1.1\r\n")  # a request that never completes
            silent.append(s)
            time.sleep(0.1)  # distinct ages; QEMU connects to the guest meanwhile
        deadline = time.monotonic() + 5
        while rpc.call("net.status")["tcp_used"] < slots and time.monotonic() < deadline:
            time.sleep(0.05)
        st = rpc.call("net.status")
        assert st["tcp_used"] == slots and st["tcp_yielded"] == 0
        status, info = get_info(port, 10)
        assert status == 200 and info["app"] == "device_app"
        assert rpc.call("net.status")["tcp_yielded"] == 1
        # The oldest silent peer made room: the device reset it, and only it.
        deadline = time.monotonic() + 5
        while not closed_by_peer(silent[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert closed_by_peer(silent[0])
        assert [closed_by_peer(s) for s in silent[1:]] == [False] * (slots - 1)
    finally:
        for s in silent:
            s.close()
