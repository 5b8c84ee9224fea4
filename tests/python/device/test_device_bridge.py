"""`cymongoose bridge --tap`: eth_probe_fw in QEMU bridged to a TAP interface inside a network
namespace this test creates; the namespace's kernel is the peer (ARP both ways), pcap checked."""

from __future__ import annotations

import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cymongoose.device
import pytest

pytestmark = [pytest.mark.qemu, pytest.mark.root]
ROOT = Path(__file__).resolve().parents[3]
PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]
FW_MAC = "52:54:00:12:34:56"  # QEMU's default LAN9118 address


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, TAP)")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 'ip' is not installed")
    name = f"cmgbr{os.getpid()}"
    try:
        for cmd in (["netns", "add", name],
                    ["-n", name, "link", "set", "lo", "up"],
                    ["-n", name, "tuntap", "add", "dev", "tap0", "mode", "tap"],
                    ["-n", name, "addr", "add", "10.0.2.2/24", "dev", "tap0"],
                    ["-n", name, "link", "set", "tap0", "up"]):
            out = ip(*cmd)
            assert out.returncode == 0, f"ip {' '.join(cmd)}: {out.stderr}"
        yield name
    finally:
        ip("netns", "del", name)


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float, seen: list[str]) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while needle not in "".join(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} not printed; got {''.join(seen)!r}"
        # Raw reads: a buffered readline() would hide data from select().
        r, _, _ = select.select([proc.stdout.fileno()], [], [], left)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096).decode(errors="replace")
            assert chunk, f"bridge exited: {''.join(seen)!r}"
            seen.append(chunk)


def pcap_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data)
    assert magic == 0xA1B2C3D4 and linktype == 1
    frames, off = [], 24
    while off < len(data):
        _, _, incl, orig = struct.unpack_from("<IIII", data, off)
        assert incl == orig
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def test_tap_bridge_in_a_namespace(netns: str, qemu: str, tmp_path: Path) -> None:
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "eth_probe_fw.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    pcap = tmp_path / "bridge.pcap"
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "cymongoose.device.cli", "bridge",
         "--tap", "tap0", "--firmware", str(elf), "--pcap", str(pcap), "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen: list[str] = []
    try:
        # device -> TAP: the firmware's ARP request; TAP -> device: the kernel's reply.
        read_until(proc, "arp: 10.0.2.2 is at", 20, seen)
        # The namespace asks for the firmware's address; the firmware answers over the bridge.
        # A UDP datagram to it makes the namespace's kernel resolve 10.0.2.15 by ARP first
        # (eth_probe_fw has no IP stack: the datagram is ignored, the ARP request answered).
        poke = ("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                ".sendto(b'x', ('10.0.2.15', 9))")
        for _ in range(5):
            subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", poke],
                           capture_output=True, timeout=30, check=False)
            if "arp: answered 10.0.2.2" in "".join(seen):
                break
            try:
                read_until(proc, "arp: answered 10.0.2.2", 2, seen)
            except AssertionError:
                continue
        read_until(proc, "arp: answered 10.0.2.2", 20, seen)
        neigh = ip("-n", netns, "neigh", "show", "10.0.2.15").stdout
        assert FW_MAC in neigh, neigh
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert "bridged" in err, f"stdout: {''.join(seen)!r}\nstderr: {err}"
    frames = pcap_frames(pcap)
    arps = [f for f in frames if f[12:14] == b"\x08\x06"]
    ops = {(f[6:12].hex(":"), struct.unpack(">H", f[20:22])[0]) for f in arps}
    assert (FW_MAC, 1) in ops and (FW_MAC, 2) in ops  # the firmware asked and answered
    assert any(src != FW_MAC for src, _ in ops)  # and the kernel's side is in the capture
