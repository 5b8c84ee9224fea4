"""The reference firmware (examples/device_app) in QEMU behind an impaired bridge
(dut.network, @pytest.mark.dut(impair=...)): HTTP and a WebSocket echo complete intact
through 10 % loss both ways with 50 ms ± 20 ms delay, the pcap shows the TCP
retransmissions that took, and the device answers again after the link was pulled."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import struct
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device.errors import DeviceError
from cymongoose.device.pytest_plugin import Dut, _impair_spec
from fwimages import built_image

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]

import cymongoose as mg

SPEC = "loss=10%,delay=50ms±20ms,seed=1"


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    return built_image("device_app.elf")


def read_pcap_timed(path: Path) -> list[tuple[float, bytes]]:
    data = path.read_bytes()
    frames, pos = [], 24
    while pos < len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        frames.append((sec + usec / 1e6, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return frames


def read_pcap(path: Path) -> list[bytes]:
    return [f for _, f in read_pcap_timed(path)]


def tcp_segments(frames: list[bytes]) -> list[tuple[tuple[int, int], int, int]]:
    """((src port, dst port), seq, payload length) of every IPv4 TCP segment."""
    return [seg for _, seg in tcp_segments_timed([(0.0, f) for f in frames])]


def tcp_segments_timed(frames: list[tuple[float, bytes]]
                       ) -> list[tuple[float, tuple[tuple[int, int], int, int]]]:
    out = []
    for t, f in frames:
        if f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 0x0F) * 4
        total = struct.unpack_from(">H", f, 16)[0]
        tcp = 14 + ihl
        sport, dport, seq = struct.unpack_from(">HHI", f, tcp)
        doff = (f[tcp + 12] >> 4) * 4
        out.append((t, ((sport, dport), seq, total - ihl - doff)))
    return out


def retransmissions(segs: list[tuple[tuple[int, int], int, int]]
                    ) -> list[tuple[tuple[int, int], int]]:
    """(flow, seq) of each data segment starting below the flow's highest end so far."""
    top: dict[tuple[int, int], int] = {}
    out = []
    for ports, seq, n in segs:
        if n <= 0:
            continue
        end = top.get(ports)
        if end is not None and ((end - seq) & 0xFFFFFFFF) < 0x80000000 and end != seq:
            out.append((ports, seq))
        if end is None or ((seq + n - end) & 0xFFFFFFFF) < 0x80000000:
            top[ports] = (seq + n) & 0xFFFFFFFF
    return out


def ws_echo(dut: Dut, messages: list[bytes], timeout: float) -> list[bytes]:
    """Send each message after the previous one's echo came back; return the echoes."""
    got: list[bytes] = []
    sent = [0]

    def fn(c: Any, ev: int, msg: Any) -> None:
        if ev == mg.MG_EV_WS_MSG:
            got.append(bytes(msg.data))
        if ev in (mg.MG_EV_WS_OPEN, mg.MG_EV_WS_MSG) and len(got) == sent[0] < len(messages):
            c.ws_send(messages[sent[0]], mg.WEBSOCKET_OP_BINARY)
            sent[0] += 1

    dut.mgr.ws_connect(dut.url("/ws", scheme="ws"), fn)
    ok = dut.bridge.pump(lambda: len(got) >= len(messages), timeout)
    assert ok, (f"{len(got)}/{len(messages)} echoes in {timeout} s", dut.network.stats)
    return got


@pytest.mark.dut(nic="stream", impair=SPEC)
def test_http_and_websocket_through_loss_and_delay(dut: Dut) -> None:
    br = dut.bridge
    t0 = time.monotonic()
    ip = br.wait_ready(port=80, timeout=30)  # the DHCP lease went through the loss too
    status, _, body = br.http("GET", "/api/info", timeout=15)
    assert status == 200 and json.loads(body)["ip"] == ip
    messages = [os.urandom(16 * 1024) for _ in range(3)]
    echoes = ws_echo(dut, messages, timeout=45)
    assert [hashlib.sha256(m).digest() for m in echoes] == \
        [hashlib.sha256(m).digest() for m in messages]
    status, _, body = br.http("GET", "/api/info", timeout=15)
    assert status == 200 and json.loads(body)["app"] == "device_app"
    elapsed = time.monotonic() - t0

    br.close()  # flushes the pcaps and the log
    st = dut.network.stats
    assert dut.network.seed == 1
    assert st["dropped"] >= 5 and st["dropped"] == st["dropped_loss"]
    assert st["delayed"] == st["frames"] - st["dropped"]
    # The pcap is what was delivered: every frame the impairer let through, no other.
    frames = read_pcap(dut.pcap_path)
    assert len(frames) == st["delivered"]
    assert 0 <= st["frames"] - st["dropped"] - st["delivered"] <= 10  # some still in flight
    # Retransmissions, as Wireshark tells them: a data segment that starts below the
    # highest sequence number already delivered in its flow (its first copy was lost, or
    # delivered and the ACK lost). Without loss there are none (the bridge keeps order).
    again = retransmissions(tcp_segments(frames))
    assert again, f"no TCP retransmission in the pcap ({st})"
    assert any(80 in ports for ports, _ in again)
    # What the stacks offered, before the impairment: the same segment sent twice.
    offered = tcp_segments(read_pcap(dut.pcap_path.with_suffix(".offered.pcap")))
    assert len(read_pcap(dut.pcap_path.with_suffix(".offered.pcap"))) == st["frames"]
    sent = Counter((ports, seq) for ports, seq, n in offered if n > 0)
    assert any(n > 1 for n in sent.values())
    log = dut.pcap_path.with_suffix(".impair.log").read_text().splitlines()
    assert log[1].split(" ", 2)[2] == "set dir=to loss=10%,delay=50ms+-20ms seed=1"
    drops = [x for x in log if not x.startswith("#") and x.split()[3] == "drop"]
    assert len(drops) == st["dropped"]
    assert {x.split()[1] for x in drops} == {"to", "from"}
    print(f"impaired run: {elapsed:.1f} s, {st}, {len(again)} retransmitted segments")


@pytest.mark.dut(nic="stream")
def test_link_down_then_up(dut: Dut) -> None:
    br = dut.bridge
    br.wait_ready(port=80, timeout=30)
    assert br.http("GET", "/api/info", timeout=10)[0] == 200
    net = dut.network
    net.link_down()
    dut.expect_line(r"net: link down$", timeout=5)  # the lan9118 lost its carrier
    with pytest.raises(DeviceError, match="no response within"):
        br.http("GET", "/api/info", timeout=2)
    br.pump(lambda: False, 1.5)  # down for ~3.5 s in all
    down = net.stats
    assert down["dropped_link"] > 0 and down["delivered"] == down["frames"] - down["dropped"]
    net.link_up()
    dut.expect_line(r"net: link up$", timeout=5)
    t0 = time.monotonic()
    status, _, body = br.http("GET", "/api/info", timeout=15)
    assert status == 200 and json.loads(body)["app"] == "device_app"
    assert net.stats["delivered"] > down["delivered"]
    print(f"answered {time.monotonic() - t0:.2f} s after link up")


@pytest.mark.dut(nic="stream")
def test_impairment_changes_take_effect_at_once(dut: Dut) -> None:
    br = dut.bridge
    br.wait_ready(port=80, timeout=30)
    dut.network.impair(loss=1.0, direction="from")
    with pytest.raises(DeviceError, match="no response within"):
        br.http("GET", "/api/info", timeout=1.5)
    assert dut.network.stats_of("from")["dropped_loss"] > 0
    assert dut.network.stats_of("to")["dropped"] == 0
    dut.network.clear()
    assert br.http("GET", "/api/info", timeout=15)[0] == 200


def test_marker_spec_is_checked_before_boot() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"impair='loss=5': loss='5': more than 100 %"):
        _impair_spec("loss=5", "stream")
    with pytest.raises(pytest.fail.Exception, match="nic='stream'"):
        _impair_spec("loss=5%", "user")
    assert _impair_spec("loss=5%", "stream") == "loss=5%"
    assert _impair_spec(None, None) is None


def data_to_or_from_port_80(f: bytes, source: bool) -> bool:
    """An IPv4 TCP segment with payload whose source (or destination) port is 80."""
    segs = tcp_segments([f])
    return bool(segs) and segs[0][2] > 0 and segs[0][0][0 if source else 1] == 80


@pytest.mark.parametrize("direction", ["to", "from"])
@pytest.mark.dut(nic="stream")
def test_tcp_retransmission_backs_off_and_recovers(dut: Dut, direction: str) -> None:
    """The data segments of one direction are dropped for 1.7 s (ACKs still pass) in the
    middle of a WebSocket echo: the sender (our host stack "to" the device, the firmware's
    stack "from" it) retransmits the same segment with doubling intervals (RTO backoff, in
    the offered pcap), and after the blackout the echo completes intact."""
    br = dut.bridge
    br.wait_ready(port=80, timeout=30)
    assert ws_echo(dut, [b"warm-up"], timeout=10) == [b"warm-up"]
    got: list[bytes] = []
    msg = os.urandom(2000)
    blackout = [True]
    from_device = direction == "from"

    def data(f: bytes) -> bool:
        return blackout[0] and data_to_or_from_port_80(f, source=from_device)

    def fn(c: Any, ev: int, m: Any) -> None:
        if ev == mg.MG_EV_WS_OPEN:
            dut.network.drop_next(direction, 1_000_000, match=data)
            c.ws_send(msg, mg.WEBSOCKET_OP_BINARY)
        elif ev == mg.MG_EV_WS_MSG:
            got.append(bytes(m.data))

    dut.mgr.ws_connect(dut.url("/ws", scheme="ws"), fn)
    assert not br.pump(lambda: bool(got), 1.7)
    blackout[0] = False
    dut.network.clear()
    assert br.pump(lambda: bool(got), 10), dut.network.stats
    assert got == [msg]
    assert dut.network.stats["dropped_match"] >= 4
    host_rtx = br.stats["tcp_retransmits"]
    br.close()
    segs = tcp_segments_timed(read_pcap_timed(dut.pcap_path.with_suffix(".offered.pcap")))
    times: dict[tuple[tuple[int, int], int], list[float]] = {}
    for t, (ports, seq, n) in segs:
        if n > 0 and ports[0 if from_device else 1] == 80:
            times.setdefault((ports, seq), []).append(t)
    worst = max(times.values(), key=len)
    gaps = [b - a for a, b in itertools.pairwise(worst)]
    assert len(worst) >= 4, times
    assert all(b > 1.5 * a for a, b in itertools.pairwise(gaps)), gaps  # each wait doubles
    # Our host stack's counter tells whose retransmissions these were.
    assert (host_rtx >= 3) if direction == "to" else (host_rtx == 0)
    print(f"{direction}: {len(worst)} sends, gaps {[round(g, 3) for g in gaps]}")


@pytest.mark.dut(nic="stream", impair=SPEC)
def test_ota_over_http_through_loss_and_delay(dut: Dut) -> None:
    """A 64 KiB OTA image (payload) POSTed through 10 % loss both ways + 50 ± 20 ms: the device
    verifies the SHA-256 of what it got (so nothing was lost or corrupted on the way)."""
    from cymongoose.device import imagefmt
    from cymongoose.device.ota import ota_http

    dut.rpc.wait_notification("ready", timeout=20)
    dut.bridge.wait_ready(port=80, timeout=30)
    base = dut.board.memory[0].start
    image = imagefmt.pack(os.urandom(64 * 1024), board=dut.board.name, load_addr=base,
                          entry_addr=base)
    before = dut.network.stats
    res = ota_http(image, bridge=dut.bridge, rpc=dut.rpc, timeout=40)
    assert res.status["state"] == "verified" and res.status["size"] == len(image)
    assert res.sha256 == hashlib.sha256(image).hexdigest()
    st = dut.network.stats
    assert st["dropped_loss"] - before["dropped_loss"] >= 3  # lost during the upload
    assert st["delayed"] - before["delayed"] > 50
    print(f"OTA through loss: {st}")
