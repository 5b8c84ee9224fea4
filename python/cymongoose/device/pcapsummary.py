"""A few numbers about a per-test pcap, for the device report (issue 18 §3).

Reads the classic pcap files the bridge writes (Ethernet link type, either byte
order) and counts: frames and bytes each way (the device is the DHCP client,
else the sender of the first frame), TCP retransmissions (a segment carrying
data, SYN or FIN whose sequence number a sender already used on that
connection), TCP resets and the DHCP messages in order. Standard library only.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

from .errors import DeviceError

DHCP_TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
              7: "RELEASE", 8: "INFORM"}
MAX_FRAMES = 1_000_000  # a bound on what one summary reads


@dataclass
class PcapSummary:
    frames: int = 0
    bytes_from_device: int = 0
    bytes_to_device: int = 0
    frames_from_device: int = 0
    frames_to_device: int = 0
    tcp_segments: int = 0
    tcp_retransmissions: int = 0
    tcp_resets: int = 0
    dhcp: list[str] = field(default_factory=list)  # "DISCOVER", "OFFER" ... in order
    device_mac: str | None = None
    truncated: bool = False  # the file ends inside a record

    def __str__(self) -> str:
        dhcp = " ".join(self.dhcp) if self.dhcp else "none"
        text = (f"{self.frames} frames; device -> {self.frames_from_device} frames "
                f"{self.bytes_from_device} bytes, -> device {self.frames_to_device} frames "
                f"{self.bytes_to_device} bytes; TCP {self.tcp_segments} segments, "
                f"{self.tcp_retransmissions} retransmissions, {self.tcp_resets} resets; "
                f"DHCP: {dhcp}")
        return text + (" (file truncated)" if self.truncated else "")


def _frames(data: bytes) -> tuple[list[bytes], bool]:
    if len(data) < 24:
        raise DeviceError("not a pcap file: shorter than its 24-byte header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise DeviceError("not a classic pcap file (bad magic)")
    (linktype,) = struct.unpack(endian + "I", data[20:24])
    if linktype != 1:
        raise DeviceError(f"pcap link type {linktype} is not Ethernet")
    out: list[bytes] = []
    pos = 24
    while pos < len(data) and len(out) < MAX_FRAMES:
        if pos + 16 > len(data):
            return out, True
        incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        if pos + 16 + incl > len(data):
            return out, True
        out.append(data[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    return out, False


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _ipv4(frame: bytes) -> tuple[int, bytes, bytes, bytes] | None:
    """(protocol, src, dst, payload) of an IPv4 frame, or None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    total = int.from_bytes(ip[2:4], "big")
    if ip[0] >> 4 != 4 or ihl < 20 or len(ip) < ihl:
        return None
    end = min(len(ip), total) if total >= ihl else len(ip)
    return ip[9], ip[12:16], ip[16:20], ip[ihl:end]


def _dhcp_type(udp: bytes) -> tuple[str, bool] | None:
    """(message type, sent by the client) of a DHCP message in a UDP datagram."""
    if len(udp) < 8 + 240:
        return None
    sport, dport = struct.unpack("!HH", udp[:4])
    if {sport, dport} != {67, 68}:
        return None
    msg = udp[8:]
    if msg[236:240] != b"\x63\x82\x53\x63":  # the options' magic cookie
        return None
    i = 240
    while i + 1 < len(msg) and msg[i] != 255:
        if msg[i] == 0:
            i += 1
            continue
        code, length = msg[i], msg[i + 1]
        if code == 53 and length >= 1 and i + 2 < len(msg):
            return DHCP_TYPES.get(msg[i + 2], f"type {msg[i + 2]}"), sport == 68
        i += 2 + length
    return None


def summarize(path: str | os.PathLike[str]) -> PcapSummary:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise DeviceError(f"cannot read {path}: {exc.strerror}") from None
    frames, truncated = _frames(data)
    s = PcapSummary(frames=len(frames), truncated=truncated)
    device: bytes | None = None
    for fr in frames:  # the device: the DHCP client, else the first sender
        ip = _ipv4(fr)
        if ip is not None and ip[0] == 17:
            d = _dhcp_type(ip[3])
            if d is not None and d[1]:
                device = fr[6:12]
                break
    if device is None and frames:
        device = frames[0][6:12]
    s.device_mac = _mac(device) if device else None
    seen: set[tuple[bytes, bytes, bytes, int]] = set()
    for fr in frames:
        if device is not None and fr[6:12] == device:
            s.frames_from_device += 1
            s.bytes_from_device += len(fr)
        else:
            s.frames_to_device += 1
            s.bytes_to_device += len(fr)
        ip = _ipv4(fr)
        if ip is None:
            continue
        proto, src, dst, payload = ip
        if proto == 17:
            d = _dhcp_type(payload)
            if d is not None:
                s.dhcp.append(d[0])
        elif proto == 6 and len(payload) >= 20:
            s.tcp_segments += 1
            seq = int.from_bytes(payload[4:8], "big")
            flags = payload[13]
            data_len = len(payload) - (payload[12] >> 4) * 4
            if flags & 0x04:
                s.tcp_resets += 1
            if data_len > 0 or flags & 0x03:  # data, SYN or FIN use sequence space
                key = (src + payload[0:2], dst + payload[2:4], bytes([flags & 0x03]), seq)
                if key in seen:
                    s.tcp_retransmissions += 1
                seen.add(key)
    return s
