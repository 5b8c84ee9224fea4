"""The project's net_fw (built-in TCP/IP stack on the LAN9118) reached through the dut fixture:
QEMU user networking, DHCP from QEMU, HTTP and TCP echo through 127.0.0.1 port forwards."""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path

import pytest
from cymongoose.device.pytest_plugin import Dut

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "net_fw.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return str(elf)


@pytest.mark.dut(nic="user", hostfwd=[80, 7])
def test_http_and_echo_through_port_forwards(dut: Dut) -> None:
    ready = dut.expect_line(r"^net: ready ip=(\S+) gw=(\S+)$", timeout=20)
    # QEMU's DHCP server answered (with restrict=on it offers no router: gw may be 0.0.0.0).
    assert ready.group(1) == "10.0.2.15"
    conn = http.client.HTTPConnection("127.0.0.1", dut.forwarded[80], timeout=10)
    conn.request("GET", "/api/info")
    resp = conn.getresponse()
    assert resp.status == 200
    info = json.loads(resp.read())
    assert isinstance(info, dict) and info
    conn.request("GET", "/no/such/page")
    resp = conn.getresponse()
    assert resp.status == 404
    resp.read()
    conn.close()
    assert dut.url("/api/info").endswith(f":{dut.forwarded[80]}/api/info")
    with socket.create_connection(("127.0.0.1", dut.forwarded[7]), timeout=10) as s:
        payload = os.urandom(3000)
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = s.recv(65536)
            assert chunk, "echo connection closed early"
            got += chunk
        assert got == payload
