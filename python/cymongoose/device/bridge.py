"""Bridges from an emulated board's Ethernet to the host.

The board's NIC is on QEMU's stream netdev (4-byte length + frame over a
socket, :mod:`~cymongoose.device.frames`). Two ways on from there:

* :class:`StackBridge` (no root): the frames end in *this process's* built-in
  TCP/IP stack (``StackInterface.stream``; or, for a board whose firmware runs the
  SLIP driver on a UART, ``serial=`` and ``StackInterface.serial``), so a ``Manager`` attached to it
  connects to ``http://<device ip>/``, opens WebSockets, MQTT ... to the
  firmware with the same event API as anywhere else. Our own DHCP server
  leases the board its address. With ``pcap=`` every frame is recorded.
* :class:`TapBridge` (root): each frame is copied to a TAP interface and back,
  so the host's own tools (ping, curl, wireshark) reach the firmware.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from . import hostos
from .defaults import DEFAULT_BAUDRATE
from .errors import DeviceError, NotAvailableError, PortNotFoundError
from .frames import LEN_PREFIX, FrameLink, LengthPrefixedFramer, PcapWriter
from .impair import Network, parse_spec

TUNSETIFF = 0x400454CA  # _IOW('T', 202, int), linux/if_tun.h
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_TAP_FRAME = 65536


class TapDevice:
    """A Linux TAP interface opened through /dev/net/tun (created if missing; root only)."""

    def __init__(self, name: str) -> None:
        if len(name.encode()) >= 16:
            raise DeviceError(f"TAP name {name!r} is longer than 15 bytes")
        if hostos.system_of() != "linux":
            raise NotAvailableError("a TAP bridge needs Linux TAP devices; use the root-free "
                                    "bridge (StackBridge, cymongoose bridge --forward)")
        import fcntl  # POSIX only: imported here so that the module loads on Windows

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
                r, _, _ = select.select([sock.fileno(), self.tap.fd], [], [], 0.1)
                if sock.fileno() in r:
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


# ---- root-free bridge: the device's frames end in this process's built-in stack ----------------
HOST_IP = "10.0.2.2"      # the host's address on the bridge (QEMU's user-net convention)
DEVICE_IP = "10.0.2.15"   # first address our DHCP server leases
RELAY_HIGH_WATER = 1 << 20  # bytes queued towards one side before we stop reading the other


def connect_netdev(address: str | socket.socket, timeout: float = 5.0) -> socket.socket:
    """A connected stream socket to a QEMU stream netdev that listens.

    ``address``: a unix socket path (``/tmp/x/net.sock`` or ``unix:PATH``),
    ``HOST:PORT`` / ``tcp:HOST:PORT``, or an already connected socket.
    Retries while the emulator is still creating the socket.
    """
    if isinstance(address, socket.socket):
        return address
    text = str(address)
    text = text.removeprefix("unix:")
    if text.startswith("tcp:"):
        text = text[4:]
        unix = False
    else:
        unix = "/" in text or ":" not in text
    deadline = time.monotonic() + timeout
    while True:
        try:
            if unix:
                try:
                    s = hostos.unix_socket()
                except OSError as exc:
                    raise DeviceError(f"netdev address {address!r}: {exc.strerror}") from None
                target: Any = text
            else:
                host, _, port = text.rpartition(":")
                if not port.isdigit():
                    raise DeviceError(f"netdev address {address!r}: want PATH or HOST:PORT")
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                target = (host or "127.0.0.1", int(port))
            try:
                s.connect(target)
                return s
            except OSError:
                s.close()
                raise
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            if time.monotonic() >= deadline:
                raise PortNotFoundError(f"no frame socket at {address}: {exc.strerror}") from None
            time.sleep(0.02)


def open_raw_serial(path: str, baudrate: int = DEFAULT_BAUDRATE) -> int:
    """Open a serial device (or pty) raw: 8N1, no echo, no translation, at ``baudrate``."""
    if not hostos.has_pty():
        raise NotAvailableError(f"{path}: the SLIP bridge on a serial port needs termios "
                                "and a file descriptor (POSIX); Windows has neither")
    import termios
    import tty

    speed = getattr(termios, f"B{baudrate}", None)
    if speed is None:
        raise DeviceError(f"{path}: unsupported baud rate {baudrate}")
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise PortNotFoundError(f"cannot open serial port {path}: {exc.strerror}") from None
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[4] = attrs[5] = speed
        attrs[2] |= termios.CLOCAL | termios.CREAD
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except termios.error as exc:
        os.close(fd)
        raise DeviceError(f"{path} is not a serial port: {exc}") from None
    return fd


class FrameRelay:
    """Copies length-prefixed frames between two stream sockets on a thread,
    writing each one to a pcap file. Non-blocking both ways with bounded queues,
    so neither side can wedge the other.

    ``network`` (:class:`~cymongoose.device.impair.Network`) impairs the frames on the
    way: ``a`` is the device side, so frames read from ``b`` go *to* the device. The
    pcap holds what was delivered, when it was delivered (after delays, with
    corruption, without the dropped)."""

    def __init__(self, a: socket.socket, b: socket.socket, pcap: PcapWriter | None,
                 network: Network | None = None,
                 offered_pcap: str | None = None) -> None:
        self.socks = (a, b)
        self.pcap = pcap
        # Every frame as it arrived, before the impairment: opened once something is set.
        self.offered_path = offered_pcap
        self.offered: PcapWriter | None = None
        self.frames = [0, 0]  # read from a (device), from b (host)
        self.error: str | None = None
        for s in self.socks:
            s.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.network = network or Network(time.monotonic, wake=self.wake)
        self.network._wake = self.wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frame-relay", daemon=True)

    def start(self) -> FrameRelay:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Make the relay look at its schedule now (the impairment changed)."""
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # already woken (buffer full) or closed

    def _run(self) -> None:
        framers = (LengthPrefixedFramer(), LengthPrefixedFramer())
        out = (bytearray(), bytearray())  # out[i]: bytes waiting to be written to socks[i]
        net = self.network
        core = net.core
        try:
            while not self._stop.is_set():
                rd = [s for i, s in enumerate(self.socks) if len(out[1 - i]) < RELAY_HIGH_WATER]
                wr = [s for i, s in enumerate(self.socks) if out[i]]
                with net.lock:
                    due = core.next_due()
                wait = 0.1 if due is None else min(0.1, max(0.0, due - net.clock()))
                r, w, _ = select.select([*rd, self._wake_r], wr, [], wait)
                if self._wake_r in r:
                    try:
                        self._wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                for i, s in enumerate(self.socks):
                    side = "device" if i == 0 else "host"
                    if s in r:
                        try:
                            data = s.recv(65536)
                        except OSError as exc:
                            self.error = f"{side} side failed: {exc.strerror or exc}"
                            return
                        if not data:
                            self.error = f"{side} side closed"
                            return
                        frames = framers[i].feed(data)
                        self.frames[i] += len(frames)
                        # read from the device (0): FROM_DEVICE (1); from the host: TO_DEVICE
                        if self.offered is None and self.offered_path and net.touched:
                            self.offered = PcapWriter(self.offered_path)
                        with net.lock:
                            now = net.clock()
                            for f in frames:
                                if self.offered is not None:
                                    self.offered.write(f)
                                core.push(1 - i, f, now)
                with net.lock:
                    deliver = core.pop_due(net.clock())
                for d, f in deliver:  # direction d goes to socks[d]
                    if self.pcap:
                        self.pcap.write(f)
                    out[d].extend(LEN_PREFIX.pack(len(f)))
                    out[d].extend(f)
                for i, s in enumerate(self.socks):
                    if out[i] and (s in w or deliver):
                        try:
                            n = s.send(out[i])
                        except BlockingIOError:
                            continue
                        except OSError as exc:  # e.g. EPIPE: the peer went while we wrote
                            side = "device" if i == 0 else "host"
                            self.error = f"{side} side failed: {exc.strerror or exc}"
                            return
                        del out[i][:n]
        except (OSError, DeviceError) as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a drop_next(match=...) raised: report it
            self.error = f"impairment failed: {exc!r}"

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        self._thread.join(timeout=2)
        self._wake_r.close()
        self._wake_w.close()
        if self.offered is not None:
            self.offered.close()


class DhcpServer:
    """The bridge's DHCP server, for tests of the board's DHCP client
    (``bridge.dhcp``). Changes apply to the next message the server answers::

        br.dhcp.lease_s = 4          # leases of 4 s: renewal at 2 s, rebinding at 3.5 s
        br.dhcp.paused = True        # silent: the board keeps its address to the lease end
        br.dhcp.nak()                # the next REQUEST is refused: the board starts over
        br.dhcp.move("10.0.2.30")    # the next renewal is refused, then the board gets .30

    ``stats``: ``acks``, ``naks`` and ``ignored`` (requests unanswered while paused).
    """

    def __init__(self, bridge: StackBridge) -> None:
        self._br = bridge
        self._iface = bridge.iface
        if not bridge.dhcp_server:
            raise DeviceError("this bridge runs no DHCP server (dhcp_server=False)")

    @property
    def lease_s(self) -> int:
        """Lease time handed out from now on, in seconds (default 3600)."""
        return int(self._iface.dhcp_server_lease) or DEFAULT_LEASE_S

    @lease_s.setter
    def lease_s(self, seconds: int) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 2:
            raise ValueError(f"lease_s: want whole seconds >= 2, not {seconds!r}")
        self._iface.dhcp_server_lease = seconds

    @property
    def paused(self) -> bool:
        return bool(self._iface.dhcp_server_paused)

    @paused.setter
    def paused(self, value: bool) -> None:
        self._iface.dhcp_server_paused = bool(value)

    def nak(self, count: int = 1) -> None:
        """Refuse the next ``count`` REQUESTs (a renewal, or the request after an offer)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count: want a number of requests >= 0, not {count!r}")
        self._iface.dhcp_server_nak(count)

    def move(self, ip: str) -> None:
        """Hand out ``ip`` from now on: the board's next renewal is refused, it asks
        again and gets ``ip``; ``bridge.device_ip`` (and ``url()``) follow at once."""
        self._iface.dhcp_server_pool = ip
        self._br.device_ip = ip

    @property
    def address(self) -> str:
        """The address the board is (or will be) given."""
        return str(self._iface.dhcp_server_pool)

    @property
    def stats(self) -> dict[str, int]:
        st = self._iface.stats
        return {"acks": st["dhcps_acks"], "naks": st["dhcps_naks"],
                "ignored": st["dhcps_ignored"]}


DEFAULT_LEASE_S = 3600  # MG_TCPIP_DHCPS_LEASE_S of the extension's build


class StackBridge:
    """An emulated board's Ethernet ending in this process's built-in TCP/IP stack.

    ::

        with QemuTarget("build/fw/net_fw.elf", nic="stream") as qemu:
            with StackBridge(qemu.netdev_socket(), pcap="br.pcap") as br:
                br.wait_ready(port=80)
                mgr = br.mgr             # a Manager whose connections go to the board
                mgr.connect(br.url("/api/info"), handler)

    The host is ``host_ip``; the board gets ``device_ip`` from our DHCP server
    (``dhcp_server=False`` when the firmware has a static address: then give that
    as ``device_ip``). No root and no TAP: the stack lives in this process, so
    only its managers reach the board. ``health`` (e.g. ``target.check``) is called
    while pumping, so a crashed emulator is reported as such. Needs the compiled extension.
    """

    def __init__(self, netdev: str | socket.socket | None = None, *,
                 serial: int | str | Any | None = None, baudrate: int = DEFAULT_BAUDRATE,
                 host_ip: str = HOST_IP,
                 device_ip: str = DEVICE_IP, mask: str = "255.255.255.0",
                 dhcp_server: bool = True, pcap: str | os.PathLike[str] | None = None,
                 connect_timeout: float = 5.0,
                 health: Callable[[], None] | None = None,
                 impair: str | None = None,
                 impair_log: str | os.PathLike[str] | None = None) -> None:
        try:
            import cymongoose as mg
            from cymongoose.stack import StackInterface
        except ImportError as exc:
            raise NotAvailableError(
                f"the root-free bridge needs the compiled extension with the built-in stack "
                f"({exc}); with root, use the TAP bridge") from None
        self._mg = mg
        self.host_ip = host_ip
        self.device_ip = device_ip
        self.dhcp_server = dhcp_server
        self.health = health  # e.g. QemuTarget.check: raises with the emulator's stderr
        self.pcap_path = str(pcap) if pcap else None
        self.relay: FrameRelay | None = None
        self._dhcp: DhcpServer | None = None
        self._socks: list[socket.socket] = []
        self._fds: list[int] = []
        if (netdev is None) == (serial is None):
            raise ValueError("give a netdev (QEMU stream socket) or serial= (a SLIP line)")
        spec = parse_spec(impair) if impair is not None else None  # bad spec: ValueError
        if serial is not None:
            if pcap or impair is not None:
                raise ValueError("pcap= and impair= work on the stream bridge; a serial "
                                 "bridge has neither")
            self._init_serial(serial, baudrate, mask, StackInterface, mg)
            return
        offered: str | None = None
        device = connect_netdev(netdev, connect_timeout)  # type: ignore[arg-type]
        self._socks.append(device)
        try:
            if pcap or impair is not None or impair_log:
                if pcap:
                    os.makedirs(os.path.dirname(os.path.abspath(pcap)), exist_ok=True)
                    stem = os.path.splitext(str(pcap))[0]
                    offered = stem + ".offered.pcap"
                    if impair_log is None:
                        impair_log = stem + ".impair.log"
                ours, theirs = socket.socketpair()
                self._socks += [ours, theirs]
                # The stack writes with the GIL held; a roomy pair lets it go on while
                # the relay thread waits for its turn.
                for end in (ours, theirs):
                    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                        end.setsockopt(socket.SOL_SOCKET, opt, 1 << 20)
                network = Network(time.monotonic, str(impair_log) if impair_log else None)
                if spec is not None:
                    network.apply(spec)
                self.relay = FrameRelay(device, theirs, PcapWriter(str(pcap)) if pcap else None,
                                        network, offered).start()
                stack_end = ours
            else:
                stack_end = device
            self.iface = StackInterface.stream(
                stack_end, ip=host_ip, mask=mask,
                dhcp_server=device_ip if dhcp_server else None)
            self.mgr = mg.Manager()
            self.iface.attach(self.mgr)
        except BaseException:
            self.close()
            raise
        self._closed = False

    def _init_serial(self, serial: int | str | Any, baudrate: int, mask: str,
                     stack_interface: Any, mg: Any) -> None:
        """The board's frames over a serial line: Ethernet + CRC-32, SLIP-escaped (the
        firmware's mg_driver_slip on a UART). ``serial``: a device path (opened raw at
        ``baudrate``), a file descriptor, or an object with ``fileno()`` (pyserial)."""
        if isinstance(serial, str):
            fd = open_raw_serial(serial, baudrate)
            self._fds.append(fd)
        else:
            fd = serial if isinstance(serial, int) else serial.fileno()
        try:
            self.iface = stack_interface.serial(
                fd, ip=self.host_ip, mask=mask,
                dhcp_server=self.device_ip if self.dhcp_server else None)
            self.mgr = mg.Manager()
            self.iface.attach(self.mgr)
        except BaseException:
            self.close()
            raise
        self._closed = False

    # ---- driving the stack -------------------------------------------------------------------------
    def pump(self, until: Callable[[], bool], timeout: float, step_ms: int = 5) -> bool:
        """Poll the manager until ``until()`` is true or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() >= deadline:
                return False
            self.check()
            self.mgr.poll(step_ms)
        return True

    def check(self) -> None:
        """Raise DeviceError when the link to the emulator is gone (TargetExitedError
        from ``health`` when the emulator itself died)."""
        if self.health is not None:
            self.health()
        if self.relay is not None and self.relay.error:
            if self.health is not None:
                # A dying emulator closes its socket a moment before it can be reaped:
                # give its exit status the chance to be the error reported.
                deadline = time.monotonic() + 0.5
                while time.monotonic() < deadline:
                    self.health()
                    time.sleep(0.02)
            raise DeviceError(f"bridge relay stopped: {self.relay.error}")
        if self.iface.state == "down":
            raise DeviceError("bridge link is down: the emulator closed the frame socket")

    @property
    def stats(self) -> dict[str, int]:
        return dict(self.iface.stats)

    @property
    def dhcp(self) -> DhcpServer:
        """Control of the bridge's DHCP server (lease time, silence, NAK, a new address)."""
        if self._dhcp is None:
            self._dhcp = DhcpServer(self)
        return self._dhcp

    @property
    def network(self) -> Network:
        """Impair the link while it runs (loss, delay, link down ...: see
        :class:`~cymongoose.device.impair.Network`). Needs the relay: ``pcap=``,
        ``impair=`` or ``impair_log=``."""
        if self.relay is None:
            raise DeviceError("this bridge has no frame relay to impair: open it with "
                              "pcap=, impair= or impair_log=")
        return self.relay.network

    def wait_ready(self, timeout: float = 30.0, port: int | None = None) -> str:
        """Wait until the board holds its address (our DHCP server acked it) and, with
        ``port``, accepts TCP connections there. Returns the board's address."""
        deadline = time.monotonic() + timeout
        if (self.dhcp_server and self.iface.stats.get("dhcps_acks", 0) == 0
                and not self.pump(lambda: self.iface.stats["dhcps_acks"] >= 1, timeout)):
                raise DeviceError(f"the board asked for no DHCP lease within {timeout:g} s "
                                  f"(bridge stats: {self._stats_brief()})")
        if port is not None:
            while not self._probe(port, max(0.1, min(3.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    raise DeviceError(f"{self.device_ip}:{port} accepted no TCP connection "
                                      f"within {timeout:g} s ({self._stats_brief()})")
        return self.device_ip

    def _stats_brief(self) -> str:
        st = self.iface.stats
        keys = ("rx_frames", "tx_frames", "arp_failed", "dhcps_acks", "tcp_rst_sent")
        return ", ".join(f"{k}={st.get(k, 0)}" for k in keys)

    def _probe(self, port: int, timeout: float) -> bool:
        mg = self._mg
        result: list[bool] = []

        def fn(c: Any, ev: int, data: object) -> None:
            if ev == mg.MG_EV_CONNECT and not result:
                result.append(True)
                c.close()
            elif ev in (mg.MG_EV_ERROR, mg.MG_EV_CLOSE) and not result:
                result.append(False)

        self.mgr.connect(f"tcp://{self.device_ip}:{port}", fn)
        self.pump(lambda: bool(result), timeout)
        return bool(result and result[0])

    def url(self, path: str = "/", port: int = 80, scheme: str = "http") -> str:
        """URL of a service on the board, for this bridge's manager."""
        if not path.startswith("/"):
            path = "/" + path
        default = {"http": 80, "ws": 80, "https": 443, "wss": 443, "mqtt": 1883}.get(scheme)
        hostport = self.device_ip if port == default else f"{self.device_ip}:{port}"
        return f"{scheme}://{hostport}{path}"

    def http(self, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None, port: int = 80,
             timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """One blocking HTTP request to the board over this bridge's manager:
        returns (status, headers, body)."""
        mg = self._mg
        result: list[Any] = []
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.device_ip}\r\nConnection: close\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        request = head.encode("latin-1") + bytes(body)

        def fn(c: Any, ev: int, data: Any) -> None:
            if ev == mg.MG_EV_CONNECT:
                c.send(request)
            elif ev == mg.MG_EV_HTTP_MSG and not result:
                result.append((data.status(), dict(data.headers()), data.body_bytes))
                c.close()
            elif ev == mg.MG_EV_ERROR and not result:
                result.append(DeviceError(f"{method} {url}: {data}"))
            elif ev == mg.MG_EV_CLOSE and not result:
                result.append(DeviceError(f"{method} {url}: connection closed without a "
                                          "response"))

        url = f"http://{self.device_ip}:{port}{path}"
        self.mgr.connect(url, fn)
        if not self.pump(lambda: bool(result), timeout):
            raise DeviceError(f"{method} {url}: no response within {timeout:g} s "
                              f"({self._stats_brief()})")
        if isinstance(result[0], Exception):
            raise result[0]
        return result[0]  # type: ignore[no-any-return]

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        mgr = getattr(self, "mgr", None)
        if mgr is not None:
            mgr.close()
        if self.relay is not None:
            self.relay.stop()
            if self.relay.pcap:
                self.relay.pcap.close()
            self.relay.network.close()
        for s in self._socks:
            s.close()
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def __enter__(self) -> StackBridge:  # noqa: PYI034 - final class in practice
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PortForwarder:
    """Tunnels TCP ports on 127.0.0.1 (kernel sockets) to ports of a bridged board, so
    tools outside this process (curl, a browser) reach the firmware without root.

    Two managers in one loop: one on kernel sockets accepts, one on the bridge's stack
    connects to the board; each pair of connections copies bytes both ways. Both ends
    are half-close aware: when one side ends its stream (``printf req | nc -N``), the
    other side gets a FIN after the bytes already forwarded, and the answer still flows
    back; a pair closes once both directions ended, or together (draining what is
    queued) on an error."""

    def __init__(self, bridge: StackBridge, bind: str = "127.0.0.1") -> None:
        self.bridge = bridge
        self.bind = bind
        self._mg = bridge._mg
        self.kmgr = self._mg.Manager()
        self.tunnels = 0

    def add(self, host_port: int, device_port: int, bridge: StackBridge | None = None) -> int:
        """Forward ``bind:host_port`` (0 = any free port) to the board's ``device_port``;
        returns the bound port. ``bridge``: another board's port on the same manager (a
        :class:`~cymongoose.device.multidut.Segment` port); its address is read at each
        connection, so it may be learnt after this call."""
        mg = self._mg
        board = bridge if bridge is not None else self.bridge
        if board.mgr is not self.bridge.mgr:
            raise ValueError("PortForwarder.add: that bridge runs on another manager")

        def close_peer(c: Any) -> None:
            peer = c.userdata
            c.userdata = None
            if peer is not None and not peer.is_closing:
                peer.userdata = None
                peer.drain()

        ended: set[int] = set()  # ids of connections whose peer got their FIN

        def pass_eof(c: Any) -> None:
            # c's peer ended its stream: end ours towards the other side too.
            if c.is_eof and id(c) not in ended and c.userdata is not None:
                ended.add(id(c))
                c.userdata.shutdown()

        def on_device(c: Any, ev: int, data: Any) -> None:
            if ev == mg.MG_EV_READ and c.userdata is not None:
                c.userdata.send(c.recv_data())
            elif ev == mg.MG_EV_POLL:
                pass_eof(c)
            elif ev == mg.MG_EV_CLOSE:
                ended.discard(id(c))
                close_peer(c)

        def on_host(c: Any, ev: int, data: Any) -> None:
            if ev == mg.MG_EV_ACCEPT:
                if not board.device_ip:  # a segment board without its lease yet
                    c.close()
                    return
                self.tunnels += 1
                c.half_close = True
                peer = self.bridge.mgr.connect(f"tcp://{board.device_ip}:{device_port}",
                                               on_device)
                peer.half_close = True
                c.userdata, peer.userdata = peer, c
            elif ev == mg.MG_EV_READ and c.userdata is not None:
                c.userdata.send(c.recv_data())  # queued until the board side connects
            elif ev == mg.MG_EV_POLL:
                pass_eof(c)
            elif ev == mg.MG_EV_CLOSE:
                ended.discard(id(c))
                close_peer(c)

        try:
            lc = self.kmgr.listen(f"tcp://{self.bind}:{host_port}", on_host)
        except RuntimeError as exc:
            raise DeviceError(f"cannot listen on {self.bind}:{host_port}: {exc}") from None
        return int(lc.local_addr[1])

    def poll(self, ms: int = 10) -> None:
        """One round of both loops (the stack side waits up to ``ms``)."""
        self.kmgr.poll(0)
        self.bridge.mgr.poll(ms)

    def close(self) -> None:
        self.kmgr.close()
