"""Two reference boards on one emulated Ethernet segment (``@pytest.mark.duts``): each
has its own DHCP address, console and pcap; board 0 fetches board 1's ``/api/info``
(``net.fetch``) through the bridge's switch, also while board 1's port loses frames,
and the host reaches both."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device.pytest_duts import expect_line_pumping
from fwimages import built_image

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]



@pytest.fixture
def dut_firmware(qemu: str) -> str:
    return built_image("device_app.elf")


def fetch(a: Any, url: str, timeout: float) -> dict[str, Any]:
    """Board ``a`` GETs ``url``; the result of its net.fetched notification."""
    assert a.rpc.call("net.fetch", url=url) == {"started": True}
    line = expect_line_pumping(a, r'"method":"net\.fetched","params":(\{.*\})\}$', timeout)
    return dict(json.loads(line.group(1)))


def ips_of(pcap: Path) -> set[tuple[str, str]]:
    """(source, destination) IPv4 addresses of the frames in a pcap."""
    data = pcap.read_bytes()
    out, pos = set(), 24
    while pos < len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        f = data[pos + 16:pos + 16 + incl]
        if f[12:14] == b"\x08\x00":
            out.add((socket.inet_ntoa(f[26:30]), socket.inet_ntoa(f[30:34])))
        pos += 16 + incl
    return out


@pytest.mark.duts(count=2)
def test_two_boards_find_each_other(duts: list[Any]) -> None:
    a, b = duts
    ip_a, ip_b = a.bridge.device_ip, b.bridge.device_ip
    assert ip_a != ip_b and {ip_a, ip_b} <= {"10.0.2.15", "10.0.2.16"}
    # The host reaches both (one stack, one manager).
    for d, ip in ((a, ip_a), (b, ip_b)):
        status, _, body = d.bridge.http("GET", "/api/info", timeout=10)
        assert status == 200 and json.loads(body)["ip"] == ip
    # Board 0 fetches board 1's /api/info through the switch.
    _, _, body_b = b.bridge.http("GET", "/api/info", timeout=10)
    res = fetch(a, f"http://{ip_b}/api/info", timeout=10)
    assert res.get("status") == 200 and res["length"] > 50, res
    # /api/info holds the uptime, so its bytes differ between two reads; its length is
    # stable to a digit or two.
    assert abs(res["length"] - len(body_b)) <= 3 and len(res["sha256"]) == 64
    # ... and the other way, while board 1's port loses a tenth of its frames.
    b.network.impair(loss=0.1, seed=3)
    t0 = time.monotonic()
    res = fetch(b, f"http://{ip_a}/api/info", timeout=20)
    assert res.get("status") == 200, res
    assert b.network.stats["dropped"] > 0 or time.monotonic() - t0 < 1
    assert a.network.stats["dropped"] == 0  # board 0's port was not impaired
    b.network.clear()
    # A fetch of something absent, and of an address nobody has, are answered too.
    assert fetch(a, f"http://{ip_b}/nope", timeout=10)["status"] == 404
    res = fetch(a, "http://10.0.2.99/api/info", timeout=15)
    assert "error" in res, res
    a.bridge.close()
    b.bridge.close()
    # Each board's pcap holds its own port's frames: the board-to-board traffic in both.
    for d in (a, b):
        assert (ip_a, ip_b) in ips_of(d.pcap_path) and (ip_b, ip_a) in ips_of(d.pcap_path)
    assert a.pcap_path != b.pcap_path
    digest = hashlib.sha256(body_b).hexdigest()
    print(f"board 0 {ip_a}, board 1 {ip_b}; /api/info of board 1 sha256 {digest[:12]}...")


AN505_ELF = Path(os.environ.get("MG_FW_DIR_AN505", ROOT / "build" / "fw-mps2-an505")) \
    / "device_app.elf"


@pytest.mark.skipif(not AN505_ELF.is_file(), reason=f"{AN505_ELF} is not built (make fw)")
@pytest.mark.duts(boards=["mps2-an385", "mps2-an505"],
                  firmware=[str(ROOT / "build" / "fw" / "device_app.elf"), str(AN505_ELF)])
def test_a_mix_of_boards_on_one_segment(duts: list[Any]) -> None:
    a, b = duts
    assert a.board.name == "mps2-an385" and b.board.name == "mps2-an505"
    assert b.rpc.call("net.status")["ip"] == b.bridge.device_ip
    res = fetch(a, f"http://{b.bridge.device_ip}/api/info", timeout=10)
    assert res.get("status") == 200, res
    res = fetch(b, f"http://{a.bridge.device_ip}/api/info", timeout=10)
    assert res.get("status") == 200, res


def test_switch_learns_and_floods() -> None:
    """The segment's switch without QEMU: a frame for an unknown or broadcast MAC goes to
    every other port, once a MAC was seen its frames go to its port only."""
    from cymongoose.device.frames import LengthPrefixedFramer
    from cymongoose.device.multidut import Switch

    pairs = [socket.socketpair() for _ in range(3)]
    sw = Switch([p[0] for p in pairs]).start()
    ends = [p[1] for p in pairs]
    for e in ends:
        e.settimeout(0.3)
    codec = LengthPrefixedFramer()

    def frame(dst: int, src: int, tag: bytes) -> bytes:
        mac = (lambda i: b"\xff" * 6 if i < 0 else bytes([2, 0, 0, 0, 0, i]))
        return mac(dst) + mac(src) + b"\x08\x00" + tag.ljust(46, b".")

    def received(i: int) -> list[bytes]:
        f = LengthPrefixedFramer()
        out: list[bytes] = []
        try:
            while True:
                out += f.feed(ends[i].recv(65536))
        except TimeoutError:
            return [x[14:14 + 2] for x in out]

    try:
        ends[0].sendall(codec.encode(frame(-1, 1, b"b0")))   # broadcast from MAC 1
        assert received(1) == [b"b0"] and received(2) == [b"b0"] and received(0) == []
        ends[1].sendall(codec.encode(frame(1, 2, b"u1")))    # to MAC 1: learnt on port 0
        assert received(0) == [b"u1"] and received(2) == []
        ends[0].sendall(codec.encode(frame(3, 1, b"x3")))    # unknown MAC 3: flooded
        assert received(1) == [b"x3"] and received(2) == [b"x3"]
        assert sw.forwarded == 1 and sw.flooded == 2 and sw.error is None
    finally:
        sw.stop()
        for a, b in pairs:
            a.close()
            b.close()
