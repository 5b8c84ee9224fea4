"""Bridge an emulated board's Ethernet to a Linux TAP interface (needs root).

The board's NIC is on QEMU's stream netdev (:class:`~cymongoose.device.frames.FrameLink`);
each frame is copied to a TAP interface and back, so the host's own tools
(ping, curl, wireshark) reach the firmware. The root-free variant, which ends
the frames in the host process's built-in TCP/IP stack, comes with the
extension's stream driver.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import threading
import time

from .errors import DeviceError, NotAvailableError
from .frames import FrameLink, PcapWriter

TUNSETIFF = 0x400454CA  # _IOW('T', 202, int), linux/if_tun.h
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_TAP_FRAME = 65536


class TapDevice:
    """A Linux TAP interface opened through /dev/net/tun (created if missing; root only)."""

    def __init__(self, name: str) -> None:
        if len(name.encode()) >= 16:
            raise DeviceError(f"TAP name {name!r} is longer than 15 bytes")
        try:
            self.fd = os.open("/dev/net/tun", os.O_RDWR)
        except OSError as exc:
            raise NotAvailableError(
                f"cannot open /dev/net/tun ({exc.strerror}): a TAP bridge needs root "
                "and the tun driver") from None
        try:
            fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
        except OSError as exc:
            os.close(self.fd)
            raise NotAvailableError(f"cannot attach TAP {name}: {exc.strerror}") from None
        self.name = name

    def read(self) -> bytes:
        return os.read(self.fd, MAX_TAP_FRAME)

    def write(self, frame: bytes) -> None:
        os.write(self.fd, frame)

    def close(self) -> None:
        os.close(self.fd)


class TapBridge:
    """Copy frames between a FrameLink and a TapDevice on a background thread."""

    def __init__(self, link: FrameLink, tap: TapDevice, pcap: PcapWriter | None = None) -> None:
        self.link = link
        self.tap = tap
        self.pcap = pcap
        self.to_tap = 0
        self.to_device = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tap-bridge", daemon=True)

    def start(self) -> TapBridge:
        self._thread.start()
        return self

    def _run(self) -> None:
        sock = self.link.sock
        try:
            while not self._stop.is_set():
                r, _, _ = select.select([sock, self.tap.fd], [], [], 0.1)
                if sock in r:
                    # Drain every complete frame the emulator sent.
                    frame = self.link.recv(timeout=0)
                    while frame is not None:
                        self.tap.write(frame)
                        self.to_tap += 1
                        if self.pcap:
                            self.pcap.write(frame)
                        frame = self.link.recv(timeout=0)
                if self.tap.fd in r:
                    frame = self.tap.read()
                    if len(frame) >= 14:
                        self.link.send(frame)
                        self.to_device += 1
                        if self.pcap:
                            self.pcap.write(frame)
        except (OSError, DeviceError) as exc:
            self.error = str(exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self.pcap:
            self.pcap.close()

    def wait(self, seconds: float) -> None:
        """Run for ``seconds`` (or until the link fails)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.05)
