"""A peer that sends but stops reading, against the reference firmware's server:
the device's send buffer fills, it stops reading (backpressure) and closes its
window, which the peer's stack probes (visible in the pcap); the device neither
crashes nor hangs, serves other clients meanwhile, and once the peer reads again
every byte arrives intact."""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device.pytest_plugin import Dut
from fwimages import built_image
from test_device_netem import read_pcap_timed

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]

import cymongoose as mg


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    return built_image("device_app.elf")


def tcp_headers(frames: list[tuple[float, bytes]]) -> list[tuple[float, int, int, int, int, int]]:
    """(time, src port, dst port, seq, window field, payload length) of each TCP segment."""
    out = []
    for t, f in frames:
        if f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 0x0F) * 4
        total = struct.unpack_from(">H", f, 16)[0]
        tcp = 14 + ihl
        sport, dport, seq, _ack = struct.unpack_from(">HHII", f, tcp)
        doff = (f[tcp + 12] >> 4) * 4
        win = struct.unpack_from(">H", f, tcp + 14)[0]
        out.append((t, sport, dport, seq, win, total - ihl - doff))
    return out


@pytest.mark.dut(nic="stream")
def test_zero_window_reader_does_not_stall_the_device(dut: Dut) -> None:
    br = dut.bridge
    br.wait_ready(port=80, timeout=30)
    messages = [os.urandom(4096) for _ in range(100)]  # 400 KiB each way
    got: list[bytes] = []
    conn: list[Any] = []

    def fn(c: Any, ev: int, m: Any) -> None:
        if ev == mg.MG_EV_WS_OPEN:
            # Reading pauses while anything is unsent (high-water mark 1 byte, resume
            # at 0): the echoes pile up in our stack until its window is zero, the
            # device's send buffer fills, it stops reading, our requests stall.
            c.set_send_marks(1, 0)
            for msg in messages:
                c.ws_send(msg, mg.WEBSOCKET_OP_BINARY)
            conn.append(c)
        elif ev == mg.MG_EV_WS_MSG:
            got.append(bytes(m.data))

    dut.mgr.ws_connect(dut.url("/ws", scheme="ws"), fn)
    assert br.pump(lambda: bool(conn), 10)
    br.pump(lambda: False, 3.0)  # stalled: the device probes our zero window
    stalled = len(got)
    assert conn[0].is_throttled and stalled < len(messages), (conn[0].send_len, stalled)
    # Meanwhile the device still serves other clients.
    for _ in range(3):
        status, _, body = br.http("GET", "/api/info", timeout=10)
        assert status == 200 and b'"app":"device_app"' in body
    # The peer reads again: every echo arrives, in order, intact.
    conn[0].set_send_marks(0, 0)
    assert br.pump(lambda: len(got) == len(messages), 30), (len(got), br.stats)
    assert [hashlib.sha256(g).digest() for g in got] == \
        [hashlib.sha256(m).digest() for m in messages]
    br.close()
    segs = tcp_headers(read_pcap_timed(dut.pcap_path))
    ws_port = next(s for _, s, d, _, _, n in segs if s != 80 and d == 80 and n > 0)
    # The device, its send buffer full (backpressure), stopped reading: it advertised
    # a zero window ...
    closed = [t for t, s, d, _, w, _ in segs if s == 80 and d == ws_port and w == 0]
    assert closed, "the device never closed its window"
    # ... and our stack probed it: empty segments one below what it had sent, at
    # growing intervals (its persist timer backs off), answered with the window.
    sent_end = 0
    probes = []
    for t, s, d, seq, _, n in segs:
        if s == ws_port and d == 80:
            if n > 0:
                sent_end = max(sent_end, seq + n)
            elif seq == (sent_end - 1) & 0xFFFFFFFF:
                probes.append(t)
    assert len(probes) >= 2, f"{len(probes)} window probes to the device"
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert all(b > a for a, b in itertools.pairwise(gaps)), gaps
    print(f"stalled at {stalled}/{len(messages)} echoes; {len(closed)} zero-window ACKs from the device, "
          f"probes {[round(g, 2) for g in gaps]} s apart")
