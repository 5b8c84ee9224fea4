"""Ethernet frames to and from an emulated board's NIC, without root.

QEMU's ``-netdev stream`` (and ``-nic socket``) carries each Ethernet frame
as a 4-byte big-endian length followed by the frame (no FCS). This module has
the sans-IO codec for that framing and a small blocking link over a unix or
TCP socket. It is the device end of the future network bridge; tests use it
to talk to a firmware's Ethernet driver directly.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections import deque

from . import hostos
from .errors import DeviceError, PortNotFoundError

MIN_FRAME = 14  # an Ethernet header
MAX_FRAME = 65535  # QEMU accepts up to 64 KiB; Ethernet frames are far smaller
LEN_PREFIX = struct.Struct(">I")


class FrameError(DeviceError):
    """The peer broke the length-prefixed framing (a length out of bounds)."""


class LengthPrefixedFramer:
    """Sans-IO codec: bytes in, whole frames out; ``encode`` for the other way."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()

    def encode(self, frame: bytes) -> bytes:
        if not MIN_FRAME <= len(frame) <= self.max_frame:
            raise FrameError(f"frame of {len(frame)} bytes is outside {MIN_FRAME}..{self.max_frame}")
        return LEN_PREFIX.pack(len(frame)) + frame

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the frames completed by them."""
        self._buf += data
        frames = []
        while len(self._buf) >= LEN_PREFIX.size:
            (n,) = LEN_PREFIX.unpack_from(self._buf)
            if not MIN_FRAME <= n <= self.max_frame:
                raise FrameError(f"peer announced a frame of {n} bytes")
            if len(self._buf) < LEN_PREFIX.size + n:
                break
            frames.append(bytes(self._buf[LEN_PREFIX.size:LEN_PREFIX.size + n]))
            del self._buf[:LEN_PREFIX.size + n]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)


class FrameLink:
    """A blocking, length-prefixed frame link over a connected stream socket."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.name = name
        self.framer = LengthPrefixedFramer()
        self._frames: deque[bytes] = deque()
        self.rx_frames = 0
        self.tx_frames = 0

    @classmethod
    def connect_unix(cls, path: str, timeout: float = 5.0) -> FrameLink:
        """Connect to a listening netdev socket, retrying while it is being created."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = hostos.unix_socket()
            except OSError as exc:
                raise PortNotFoundError(f"no frame socket at {path}: {exc.strerror}") from None
            try:
                s.connect(path)
                return cls(s, f"unix:{path}")
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                s.close()
                if time.monotonic() >= deadline:
                    raise PortNotFoundError(f"no frame socket at {path}: {exc.strerror}") from None
                time.sleep(0.02)

    def send(self, frame: bytes) -> None:
        try:
            self.sock.sendall(self.framer.encode(frame))
        except OSError as exc:
            raise DeviceError(f"{self.name}: send failed: {exc.strerror or exc}") from None
        self.tx_frames += 1

    def recv(self, timeout: float) -> bytes | None:
        """The next frame, or None when none arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self._frames:
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            try:
                data = self.sock.recv(65536)
            except OSError as exc:
                raise DeviceError(f"{self.name}: receive failed: {exc.strerror or exc}") from None
            if not data:
                raise DeviceError(f"{self.name}: the emulator closed the frame socket")
            self._frames.extend(self.framer.feed(data))
        self.rx_frames += 1
        return self._frames.popleft()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> FrameLink:  # noqa: PYI034 - final class in practice
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapWriter:
    """Write frames to a classic pcap file (LINKTYPE_ETHERNET), e.g. a per-test artifact."""

    MAGIC = 0xA1B2C3D4
    LINKTYPE_ETHERNET = 1

    def __init__(self, path: str, snaplen: int = MAX_FRAME) -> None:
        self._f = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._f.write(struct.pack("<IHHiIII", self.MAGIC, 2, 4, 0, 0, snaplen,
                                  self.LINKTYPE_ETHERNET))
        self.count = 0

    def write(self, frame: bytes, when: float | None = None) -> None:
        t = time.time() if when is None else when
        sec = int(t)
        usec = int((t - sec) * 1_000_000)
        self._f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        self.count += 1

    def close(self) -> None:
        self._f.close()
