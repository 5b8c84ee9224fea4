"""Length-prefixed Ethernet frames (QEMU stream netdev): the codec, and a real exchange
with the project's eth_probe_fw (LAN9118 driver, no TCP/IP stack) inside QEMU."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from cymongoose.device.frames import FrameError, FrameLink, LengthPrefixedFramer
from cymongoose.device.targets import QemuTarget
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]
PROBE_ETHERTYPE = 0x88B5
HOST_MAC = bytes.fromhex("020000000002")


@given(st.lists(st.binary(min_size=14, max_size=1600), max_size=8), st.integers(1, 50))
def test_codec_round_trips_in_any_chunking(frames: list[bytes], step: int) -> None:
    enc = LengthPrefixedFramer()
    wire = b"".join(enc.encode(f) for f in frames)
    dec = LengthPrefixedFramer()
    out: list[bytes] = []
    for i in range(0, len(wire), step):
        out += dec.feed(wire[i:i + step])
    assert out == frames and dec.pending == 0


def test_codec_rejects_bad_lengths() -> None:
    f = LengthPrefixedFramer()
    with pytest.raises(FrameError, match="announced a frame of 5 bytes"):
        f.feed(struct.pack(">I", 5) + b"short")
    with pytest.raises(FrameError, match="4294967295"):
        LengthPrefixedFramer().feed(b"\xff\xff\xff\xff")
    with pytest.raises(FrameError, match="outside"):
        f.encode(b"x" * 10)
    assert LengthPrefixedFramer().feed(struct.pack(">I", 60) + b"x" * 59) == []  # incomplete


def eth_probe_fw() -> Path:
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "eth_probe_fw.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return elf


def next_of_type(link: FrameLink, ethertype: bytes) -> bytes:
    for _ in range(50):
        f = link.recv(timeout=5)
        assert f is not None, f"no frame of type {ethertype.hex()} from the firmware"
        if f[12:14] == ethertype:
            return f
    raise AssertionError(f"50 frames and none of type {ethertype.hex()}")


@pytest.mark.qemu
def test_frames_with_the_firmware_driver(qemu: str) -> None:
    probe = struct.pack(">H", PROBE_ETHERTYPE)
    with QemuTarget(eth_probe_fw(), nic="stream") as t:
        assert t.netdev_path is not None
        with t.frame_link() as link:
            # The firmware asks for its peer (10.0.2.2) by ARP until it gets an answer.
            arp = next_of_type(link, b"\x08\x06")
            assert arp[:6] == b"\xff" * 6
            fw_mac = arp[6:12]
            assert arp[14 + 24:14 + 28] == bytes([10, 0, 2, 2])  # target protocol address
            # Frames of the experimental EtherType come back with the addresses swapped.
            payload = os.urandom(200)
            link.send(fw_mac + HOST_MAC + probe + payload)
            echo = next_of_type(link, probe)
            assert echo[:6] == HOST_MAC and echo[6:12] == fw_mac and echo[14:] == payload
            link.send(fw_mac + HOST_MAC + probe + b"QUIT" + bytes(42))
            t.console.expect_line(r"^stats: echoed=1 ", timeout=10)
            assert t.wait(timeout=10) == 0
