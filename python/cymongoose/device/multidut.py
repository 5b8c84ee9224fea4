"""Several emulated boards on one Ethernet segment, without root.

:class:`Switch` is a learning Ethernet switch between length-prefixed frame sockets
(a thread). :class:`Segment` puts N QEMU boards (``nic="stream"``) and this process's
built-in stack (the host, with its DHCP server: one address per board) on one switch;
each board's port has its own :class:`~cymongoose.device.bridge.FrameRelay`, so its own
pcap and its own ``network`` impairing that port alone. ``segment.port(i)`` is a
:class:`~cymongoose.device.bridge.StackBridge` for board *i* (``http``, ``url``,
``pump``, ``network``, ``dhcp``), all sharing the segment's manager.

pytest: ``@pytest.mark.duts(count=2)`` and the ``duts`` fixture give a list of ``Dut``
(each with its console, log, pcap and ``network``); boards get distinct MAC addresses
(``52:54:00:12:35:<i>``).
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .bridge import DEVICE_IP, HOST_IP, FrameRelay, StackBridge
from .errors import DeviceError
from .frames import LengthPrefixedFramer, PcapWriter
from .impair import Network

MAC_BASE = "52:54:00:12:35:"
PORT_QUEUE = 1 << 20  # bytes a port may hold for a slow reader before frames are dropped


def board_mac(i: int) -> str:
    """The MAC address the segment gives board ``i``."""
    return f"{MAC_BASE}{0x10 + i:02x}"


class Switch:
    """Forwards length-prefixed Ethernet frames between sockets: learns which port each
    source MAC lives behind, sends a frame for a known unicast MAC to its port only and
    floods the others (broadcast, multicast, unknown). A port whose reader lags more
    than ``PORT_QUEUE`` bytes loses frames (``dropped``), like a switch's full queue."""

    def __init__(self, ports: Sequence[socket.socket]) -> None:
        self.ports = list(ports)
        for s in self.ports:
            s.setblocking(False)
        self.table: dict[bytes, int] = {}
        self.forwarded = 0
        self.flooded = 0
        self.dropped = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eth-switch", daemon=True)

    def start(self) -> Switch:
        self._thread.start()
        return self

    def _run(self) -> None:
        framers = [LengthPrefixedFramer() for _ in self.ports]
        out = [bytearray() for _ in self.ports]
        try:
            while not self._stop.is_set():
                want_w = [s for s, o in zip(self.ports, out) if o]
                r, w, _ = select.select(self.ports, want_w, [], 0.05)
                for s in r:
                    i = self.ports.index(s)
                    data = s.recv(65536)
                    if not data:
                        self.error = f"port {i} closed"
                        return
                    for frame in framers[i].feed(data):
                        self._forward(i, frame, framers[i], out)
                for s in w:
                    i = self.ports.index(s)
                    try:
                        n = s.send(out[i])
                    except BlockingIOError:
                        continue
                    del out[i][:n]
        except OSError as exc:
            if not self._stop.is_set():
                self.error = str(exc)

    def _forward(self, src: int, frame: bytes, framer: LengthPrefixedFramer,
                 out: list[bytearray]) -> None:
        if len(frame) < 14:
            return
        dst_mac, src_mac = frame[0:6], frame[6:12]
        if not src_mac[0] & 1:
            self.table[src_mac] = src
        dst = self.table.get(dst_mac) if not dst_mac[0] & 1 else None
        if dst is not None:
            targets = [dst] if dst != src else []
            self.forwarded += 1
        else:
            targets = [i for i in range(len(self.ports)) if i != src]
            self.flooded += 1
        data = framer.encode(frame)
        for t in targets:
            if len(out[t]) + len(data) > PORT_QUEUE:
                self.dropped += 1
            else:
                out[t] += data

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class _PortBridge(StackBridge):
    """One board's view of a segment: StackBridge's helpers on the shared stack; closing
    it closes only the port's relay (the segment owns the manager)."""

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        if self.relay is not None:
            self.relay.stop()
            if self.relay.pcap:
                self.relay.pcap.close()
            self.relay.network.close()
        for s in self._socks:
            s.close()


class Segment:
    """N boards' NICs (QEMU ``netdev_socket()`` connections) and the host's stack on one
    switch. ``pcaps[i]``: where board *i*'s port records its frames (None: no pcap).
    ``health[i]``: called while pumping (``QemuTarget.check``)."""

    def __init__(self, netdevs: Sequence[socket.socket], *,
                 pcaps: Sequence[str | os.PathLike[str] | None] | None = None,
                 health: Sequence[Callable[[], None] | None] | None = None,
                 host_ip: str = HOST_IP, device_ip: str = DEVICE_IP,
                 mask: str = "255.255.255.0") -> None:
        import cymongoose as mg
        from cymongoose.stack import StackInterface

        n = len(netdevs)
        if n < 1:
            raise ValueError("a segment needs at least one board")
        self.mgr: Any = None
        self.switch: Switch | None = None
        self._socks: list[socket.socket] = []
        self.ports: list[StackBridge] = []
        pcaps = list(pcaps) if pcaps is not None else [None] * n
        health = list(health) if health is not None else [None] * n
        try:
            switch_ends = []
            for i, dev in enumerate(netdevs):
                ours, theirs = self._pair()
                switch_ends.append(ours)
                pcap = pcaps[i]
                offered = None
                log = None
                if pcap:
                    os.makedirs(os.path.dirname(os.path.abspath(pcap)), exist_ok=True)
                    stem = os.path.splitext(str(pcap))[0]
                    offered, log = stem + ".offered.pcap", stem + ".impair.log"
                relay = FrameRelay(dev, theirs, PcapWriter(str(pcap)) if pcap else None,
                                   Network(time.monotonic, log), offered).start()
                port = _PortBridge.__new__(_PortBridge)
                port.__dict__.update(
                    _mg=mg, host_ip=host_ip, device_ip="", dhcp_server=True,
                    health=health[i], pcap_path=str(pcap) if pcap else None, relay=relay,
                    _dhcp=None, _socks=[dev, theirs], _fds=[], _closed=False)
                self.ports.append(port)
            host_end, stack_end = self._pair()
            switch_ends.append(host_end)
            self.iface = StackInterface.stream(stack_end, ip=host_ip, mask=mask,
                                               dhcp_server=device_ip)
            self.mgr = mg.Manager()
            self.iface.attach(self.mgr)
            for p in self.ports:
                p.iface = self.iface
                p.mgr = self.mgr
            self.switch = Switch(switch_ends).start()
        except BaseException:
            self.close()
            raise

    def _pair(self) -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair()
        for end in (a, b):
            for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                end.setsockopt(socket.SOL_SOCKET, opt, 1 << 20)
        self._socks += [a, b]
        return a, b

    def port(self, i: int) -> StackBridge:
        return self.ports[i]

    def pump(self, until: Callable[[], bool], timeout: float) -> bool:
        """Poll the shared stack until ``until()`` or ``timeout`` s (checks every port)."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() >= deadline:
                return False
            self.check()
            self.mgr.poll(5)
        return True

    def check(self) -> None:
        """Raise when a board's emulator died (its ``health``), or a relay or the switch
        stopped."""
        for p in self.ports:
            p.check()
        if self.switch is not None and self.switch.error:
            raise DeviceError(f"segment switch stopped: {self.switch.error}")

    def close(self) -> None:
        if self.switch is not None:
            self.switch.stop()
            self.switch = None
        for p in self.ports:
            p.close()
        if self.mgr is not None:
            self.mgr.close()
            self.mgr = None
        for s in self._socks:
            s.close()
        self._socks = []

    def __enter__(self) -> Segment:  # noqa: PYI034 - final class in practice
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Segment", "Switch", "board_mac"]
