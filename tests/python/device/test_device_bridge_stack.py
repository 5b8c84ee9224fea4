"""The root-free bridge through the dut fixture: net_fw in QEMU with its NIC on a stream
netdev, the frames ending in this process's built-in TCP/IP stack (dut.mgr). Our DHCP
server leases the board its address; 1,000 HTTP requests and 1 MiB of TCP echo go
through both stacks intact, and every frame lands in the per-test pcap artifact."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device.pytest_plugin import Dut
from fwimages import built_image

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]

import cymongoose as mg


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    return built_image("net_fw.elf")


def read_pcap(path: Path) -> list[bytes]:
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and linktype == 1
    frames, pos = [], 24
    while pos < len(data):
        _, _, incl, orig = struct.unpack_from("<IIII", data, pos)
        assert incl == orig
        frames.append(data[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    assert pos == len(data)
    return frames


@pytest.mark.dut(nic="stream")
def test_1000_http_requests_through_the_bridge(dut: Dut) -> None:
    br = dut.bridge
    ip = br.wait_ready(port=80, timeout=30)
    assert dut.url("/api/info") == f"http://{ip}/api/info"
    status, _, body = br.http("GET", "/api/info")
    assert status == 200 and json.loads(body)["ip"] == ip
    banner = dut.expect_line(r"^net: ready ip=(\S+) gw=(\S+)$", timeout=10)
    assert banner.groups() == (ip, br.host_ip)

    # 10 keep-alive connections x 100 requests, each answer checked as it comes.
    expected_prefix = b"hello from cymongoose "
    per_conn, conns = 100, 10
    answers: list[tuple[int, bytes]] = []
    closed: list[int] = []

    def handler(c: Any, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_CONNECT:
            c.send(b"GET / HTTP/1.1\r\nHost: dev\r\n\r\n")
            c.userdata = 1
        elif ev == mg.MG_EV_HTTP_MSG:
            answers.append((data.status(), data.body_bytes))
            if c.userdata < per_conn:
                c.userdata += 1
                c.send(b"GET / HTTP/1.1\r\nHost: dev\r\n\r\n")
            else:
                c.close()
        elif ev == mg.MG_EV_CLOSE:
            closed.append(1)

    for _ in range(conns):
        dut.mgr.connect(dut.url("/"), handler)
    assert br.pump(lambda: len(closed) >= conns, 120), (len(answers), br.stats)
    assert len(answers) == per_conn * conns
    assert all(st == 200 and b.startswith(expected_prefix) for st, b in answers)
    assert len({b for _, b in answers}) == 1
    assert br.relay is not None and br.relay.error is None

    br.close()  # flushes the pcap artifact
    frames = read_pcap(dut.pcap_path)
    assert len(frames) == sum(br.relay.frames) > 2000
    # DHCP (UDP 67/68) and HTTP (TCP 80) are both in the capture.
    def l4(f: bytes) -> tuple[int, int, int]:
        ihl = (f[14] & 0x0F) * 4
        sport, dport = struct.unpack_from(">HH", f, 14 + ihl)
        return f[23], sport, dport
    ip_frames = [l4(f) for f in frames if f[12:14] == b"\x08\x00"]
    assert any(p == 17 and {s, d} == {67, 68} for p, s, d in ip_frames)
    assert sum(1 for p, s, d in ip_frames if p == 6 and 80 in (s, d)) > 2000


@pytest.mark.dut(nic="stream")
def test_1mib_tcp_echo_through_the_bridge(dut: Dut) -> None:
    br = dut.bridge
    ip = br.wait_ready(port=7, timeout=30)
    data = os.urandom(1 << 20)
    got = bytearray()
    sent = [0]

    def echo(c: Any, ev: int, ev_data: Any) -> None:
        # Feed in 16 KiB slices so neither send queue grows without bound.
        if ev in (mg.MG_EV_CONNECT, mg.MG_EV_WRITE, mg.MG_EV_POLL) and sent[0] < len(data):
            if ev == mg.MG_EV_CONNECT or c.send_len < 32768:
                n = min(16384, len(data) - sent[0])
                c.send(data[sent[0]:sent[0] + n])
                sent[0] += n
        elif ev == mg.MG_EV_READ:
            got.extend(c.recv_data())

    dut.mgr.connect(f"tcp://{ip}:7", echo)
    assert br.pump(lambda: len(got) >= len(data), 120), (len(got), br.stats)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert br.relay is not None and br.relay.error is None


@pytest.mark.dut(nic="stream")
def test_emulator_crash_mid_test_is_reported(dut: Dut) -> None:
    from cymongoose.device.errors import DeviceError, TargetExitedError

    br = dut.bridge
    br.wait_ready(port=80, timeout=30)
    proc = dut.target.proc  # type: ignore[attr-defined]
    proc.kill()
    replies: list[object] = []
    dut.mgr.connect(dut.url("/"), lambda c, ev, data: replies.append(ev))
    with pytest.raises(TargetExitedError, match=r"QEMU \(mps2-an385\) exited"):
        br.pump(lambda: False, 10)
    with pytest.raises(DeviceError):
        br.http("GET", "/", timeout=5)


def test_failing_bridged_test_names_its_pcap(dut_firmware: str, tmp_path: Path) -> None:
    """A failing test on the bridge: the report names the pcap next to the console log,
    the JUnit XML carries it, and the capture holds the test's traffic."""
    import subprocess
    import sys
    import textwrap
    import xml.etree.ElementTree as ET

    from cymongoose.device.pytest_plugin import plugin_args

    (tmp_path / "test_gen.py").write_text(textwrap.dedent(f"""
        import pytest

        @pytest.fixture
        def dut_firmware():
            return {dut_firmware!r}

        @pytest.mark.dut(nic="stream")
        def test_fails(dut):
            dut.bridge.wait_ready(port=80, timeout=30)
            assert dut.bridge.http("GET", "/")[0] == 404
        """))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS"))}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", "-o",
         "addopts=", "--rootdir", str(tmp_path), "-q", "--junitxml", "j.xml",
         "-o", "junit_family=xunit1", "--device-log-dir", str(tmp_path / "logs"),
         "test_gen.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert "1 failed" in out.stdout, out.stdout + out.stderr
    pcap = tmp_path / "logs" / "test_gen.py_test_fails.pcap"
    assert f"bridged frames: {pcap}" in out.stdout
    props = {p.get("name"): p.get("value")
             for p in ET.parse(tmp_path / "j.xml").iter("property")}
    assert props["dut_pcap"] == str(pcap)
    frames = read_pcap(pcap)
    assert any(f[12:14] == b"\x08\x00" and f[23] == 6 for f in frames)  # TCP to port 80
