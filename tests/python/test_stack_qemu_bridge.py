"""A Python Manager on the built-in stack, wired straight to an emulated board.

QEMU runs net_fw (the built-in stack on the board's LAN9118) with its NIC on
a `-netdev stream` Unix socket; this process accepts that socket and makes it
a StackInterface. No TAP device, no root: our DHCP server hands the board its
address, then ordinary Manager connections reach the board's HTTP server and
TCP echo through two built-in stacks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cymongoose as mg
import pytest

try:
    from cymongoose.stack import StackInterface
except ImportError:
    pytest.skip("the installed extension predates StackInterface (run `make ext`)",
                allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
FW = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "net_fw.elf"
QEMU = shutil.which("qemu-system-arm")
HOST_IP, BOARD_IP = "10.0.2.2", "10.0.2.15"

pytestmark = pytest.mark.qemu


def _pump(m: mg.Manager, cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        m.poll(5)
    return cond()


@pytest.fixture
def bridged() -> Iterator[tuple[mg.Manager, StackInterface]]:
    if QEMU is None:
        pytest.skip("needs qemu-system-arm")
    if not FW.is_file():
        pytest.skip(f"needs {FW} (run `make fw`)")
    tmp = tempfile.mkdtemp(prefix="mgbr", dir="/tmp")  # unix socket paths are short
    path = os.path.join(tmp, "eth.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(1)
    ls.settimeout(15)
    q = subprocess.Popen(
        [QEMU, "-M", "mps2-an385", "-display", "none", "-monitor", "none", "-serial", "null",
         "-semihosting", "-kernel", str(FW),
         "-netdev", f"stream,id=n0,server=off,addr.type=unix,addr.path={path}",
         "-net", "nic,model=lan9118,netdev=n0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = None
    m = None
    try:
        conn, _ = ls.accept()
        iface = StackInterface.stream(conn, ip=HOST_IP, dhcp_server=BOARD_IP)
        m = mg.Manager()
        iface.attach(m)
        yield m, iface
    finally:
        if m is not None:
            m.close()
        q.kill()
        q.wait(10)
        if conn is not None:
            conn.close()
        ls.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_board_reached_through_two_built_in_stacks(
        bridged: tuple[mg.Manager, StackInterface]) -> None:
    m, iface = bridged
    # The board asks for an address; our DHCP server leases it BOARD_IP.
    assert _pump(m, lambda: iface.stats["dhcps_acks"] >= 1, 30), iface.stats

    replies: list[bytes] = []

    def http(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            c.send(b"GET /api/info HTTP/1.1\r\nHost: board\r\n\r\n")
        elif ev == mg.MG_EV_HTTP_MSG:
            assert isinstance(data, mg.HttpMessage)
            replies.append(data.body_bytes)
            c.close()

    # The board may take a moment to finish its own bring-up after the ACK.
    for _ in range(3):
        m.connect(f"http://{BOARD_IP}/api/info", http)
        if _pump(m, lambda: bool(replies), 10):
            break
    assert replies, iface.stats
    info = json.loads(replies[0])
    assert info["ip"] == BOARD_IP and info["rx_frames"] > 0

    # Bulk TCP echo through both stacks.
    data = os.urandom(100_000)
    got = bytearray()

    def echo(c: mg.Connection, ev: int, ev_data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            c.send(data)
        elif ev == mg.MG_EV_READ:
            got.extend(c.recv_data())

    m.connect(f"tcp://{BOARD_IP}:7", echo)
    assert _pump(m, lambda: len(got) >= len(data), 60), len(got)
    assert bytes(got) == data
    assert iface.state == "ready" and iface.ip == HOST_IP
