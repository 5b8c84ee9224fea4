"""The reference firmware's DHCP client against the bridge's DHCP server with faults
(``dut.bridge.dhcp``): a short lease is renewed; with the server silent the board
keeps its address to the end of the lease, then drops it and asks again (the console
says ``net: link up``: up, no address) until the server is back; a moved address is
taken at the next renewal and reported (``net: ready ip=...``); a NAK makes it start
over; after a network outage longer than the lease it gets a lease again.

The lease is set before the bridge's stack reads its first frame, so the boot's own
lease is the short one."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from cymongoose.device.pytest_duts import expect_line_pumping as expect_line
from cymongoose.device.pytest_plugin import Dut

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]
LEASE = 4  # s: renewal at 2 s, rebinding at 3.5 s

try:
    from cymongoose.stack import StackInterface

    HAVE_STREAM = hasattr(StackInterface, "dhcp_server_nak")
except ImportError:
    HAVE_STREAM = False


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    if not HAVE_STREAM:
        pytest.skip("the installed extension has no DHCP server faults (run `make ext`)")
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "device_app.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return str(elf)


def acks(dut: Dut) -> int:
    return dut.bridge.dhcp.stats["acks"]


def info_ip(dut: Dut, timeout: float = 10) -> str:
    status, _, body = dut.bridge.http("GET", "/api/info", timeout=timeout)
    assert status == 200
    return str(json.loads(body)["ip"])


@pytest.mark.dut(nic="stream")
def test_short_lease_renews_and_outlives_a_silent_server(dut: Dut) -> None:
    br = dut.bridge
    br.dhcp.lease_s = LEASE
    ip = br.wait_ready(timeout=30)
    expect_line(dut, rf"net: ready ip={ip} ", timeout=10)
    assert br.pump(lambda: acks(dut) >= 2, LEASE), br.dhcp.stats  # renewed at T1
    assert info_ip(dut) == ip
    # The server goes silent right after a renewal: the board keeps using its address
    # while it renews (T1) and rebinds (T2) in vain, and drops it only at the lease end.
    assert br.pump(lambda: acks(dut) >= 3, LEASE), br.dhcp.stats
    last_ack = time.monotonic()
    br.dhcp.paused = True
    assert br.pump(lambda: br.dhcp.stats["ignored"] >= 1, LEASE)
    assert info_ip(dut, timeout=1.2) == ip  # past T1, unanswered, still served
    expect_line(dut, r"net: link up$", timeout=LEASE + 2)  # the lease ran out
    held = time.monotonic() - last_ack
    assert held > LEASE - 1.5, f"address dropped {held:.1f} s after the last ACK"
    # It goes on DISCOVERing, unanswered. The client backs off (DISCOVERs 1, 3, 7 and 15 s
    # after the drop), and under load the console line above can reach us seconds late,
    # so the window is longer than the largest gap (8 s) that may lie ahead.
    ignored = br.dhcp.stats["ignored"]
    assert br.pump(lambda: br.dhcp.stats["ignored"] > ignored, 10), br.dhcp.stats
    assert br.dhcp.stats["acks"] == 3
    br.dhcp.paused = False
    expect_line(dut, rf"net: ready ip={ip} ", timeout=20)  # its next DISCOVER is answered
    assert info_ip(dut) == ip


@pytest.mark.dut(nic="stream")
def test_moved_address_is_taken_and_reported(dut: Dut) -> None:
    br = dut.bridge
    br.dhcp.lease_s = LEASE
    old = br.wait_ready(timeout=30)
    new = old.rsplit(".", 1)[0] + ".42"
    br.dhcp.move(new)
    assert br.device_ip == new and br.dhcp.address == new
    expect_line(dut, rf"net: ready ip={new} ", timeout=LEASE + 5)
    assert br.dhcp.stats["naks"] == 1  # the renewal of the old address was refused
    assert info_ip(dut) == new


@pytest.mark.dut(nic="stream")
def test_nak_makes_the_board_start_over(dut: Dut) -> None:
    br = dut.bridge
    br.dhcp.lease_s = LEASE
    ip = br.wait_ready(timeout=30)
    expect_line(dut, rf"net: ready ip={ip} ", timeout=10)
    br.dhcp.nak()
    expect_line(dut, r"net: link up$", timeout=LEASE)  # NAK at the renewal: address gone
    expect_line(dut, rf"net: ready ip={ip} ", timeout=10)
    assert br.dhcp.stats["naks"] == 1
    assert info_ip(dut) == ip


@pytest.mark.dut(nic="stream")
def test_lease_again_after_an_outage_longer_than_the_lease(dut: Dut) -> None:
    """Every frame lost both ways (a cut further up the network: the board's NIC keeps
    its carrier) for longer than the lease: the board drops its address at the lease
    end and gets one again once frames pass."""
    br = dut.bridge
    br.dhcp.lease_s = LEASE
    ip = br.wait_ready(port=80, timeout=30)
    before = acks(dut)
    dut.network.impair(loss=1.0)
    expect_line(dut, r"net: link up$", timeout=LEASE + 2)
    br.pump(lambda: False, 1.0)
    dut.network.clear()
    assert br.pump(lambda: acks(dut) > before, 20), (br.dhcp.stats, dut.network.stats)
    expect_line(dut, rf"net: ready ip={ip} ", timeout=5)
    assert info_ip(dut) == ip


def test_dhcp_controls_check_their_input() -> None:
    if not HAVE_STREAM:
        pytest.skip("the installed extension has no DHCP server faults (run `make ext`)")
    import socket

    a, b = socket.socketpair()
    with a, b:
        iface = StackInterface.stream(a, ip="10.0.2.2", dhcp_server="10.0.2.15")
        assert iface.dhcp_server_pool == "10.0.2.15" and iface.dhcp_server_lease == 0
        with pytest.raises(ValueError, match="own address"):
            iface.dhcp_server_pool = "10.0.2.2"
        with pytest.raises(ValueError, match="dhcp_server_lease"):
            iface.dhcp_server_lease = -1
        iface.dhcp_server_lease = 7
        iface.dhcp_server_paused = True
        assert iface.dhcp_server_lease == 7 and iface.dhcp_server_paused
        plain = StackInterface.stream(b, ip="10.0.2.3")
        with pytest.raises(RuntimeError, match="no DHCP server"):
            plain.dhcp_server_nak()
        assert plain.dhcp_server_pool == ""
