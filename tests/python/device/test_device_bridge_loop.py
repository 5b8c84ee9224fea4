"""The root-free bridge without an emulator: the "board" is a second built-in stack in
this process (StackInterface.stream on the other end of a socketpair, DHCP client, an
HTTP server polled on its own thread). Exercises StackBridge (DHCP lease, wait_ready,
http(), pcap relay), PortForwarder (kernel 127.0.0.1 port -> board port) and
connect_netdev's address forms and errors."""

from __future__ import annotations

import http.client
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device.bridge import PortForwarder, StackBridge, connect_netdev
from cymongoose.device.errors import DeviceError, PortNotFoundError

mg = pytest.importorskip("cymongoose")
try:
    from cymongoose.stack import StackInterface
except ImportError:
    pytest.skip("the installed extension predates StackInterface (run `make ext`)",
                allow_module_level=True)
if not hasattr(StackInterface, "stream"):
    pytest.skip("the installed extension has no StackInterface.stream (run `make ext`)",
                allow_module_level=True)


class FakeBoard:
    """A board made of our own stack: DHCP client, HTTP on 80, TCP echo on 7, and on 9
    a service that answers only after the client ended its stream (the whole request
    reversed); its wire a stream socket, or with serial=True a SLIP serial line."""

    def __init__(self, sock: Any, serial: bool = False) -> None:
        if serial:
            self.iface = StackInterface.serial(sock, dhcp=True)
        else:
            self.iface = StackInterface.stream(sock, dhcp=True)
        self.mgr = mg.Manager()
        self.iface.attach(self.mgr)
        self.requests = 0

        def http(c: Any, ev: int, data: Any) -> None:
            if ev == mg.MG_EV_HTTP_MSG:
                self.requests += 1
                c.reply(200, f"board {self.iface.ip} #{self.requests} {data.uri}".encode())

        def echo(c: Any, ev: int, data: Any) -> None:
            if ev == mg.MG_EV_READ:
                c.send(c.recv_data())

        def reverse(c: Any, ev: int, data: Any) -> None:
            if ev == mg.MG_EV_ACCEPT:
                c.half_close = True
                c.userdata = b""
            elif ev == mg.MG_EV_READ:
                c.userdata += c.recv_data()
            elif ev == mg.MG_EV_POLL and c.is_eof and c.userdata is not None:
                c.send(c.userdata[::-1])
                c.userdata = None
                c.shutdown()

        self.mgr.listen("http://0.0.0.0:80", http)
        self.mgr.listen("tcp://0.0.0.0:7", echo)
        self.mgr.listen("tcp://0.0.0.0:9", reverse)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.mgr.poll(5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.mgr.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[StackBridge, FakeBoard]]:
    host_end, board_end = socket.socketpair()
    board = FakeBoard(board_end)
    br = StackBridge(host_end, host_ip="192.168.50.1", device_ip="192.168.50.20",
                     pcap=tmp_path / "loop.pcap")
    try:
        yield br, board
    finally:
        br.close()
        board.close()
        board_end.close()


def test_lease_http_and_pcap(pair: tuple[StackBridge, FakeBoard], tmp_path: Path) -> None:
    br, board = pair
    assert br.wait_ready(port=80, timeout=20) == "192.168.50.20"
    assert board.iface.ip == "192.168.50.20" and board.iface.gateway == "192.168.50.1"
    assert br.url("/x") == "http://192.168.50.20/x"
    assert br.url("/y", port=8080, scheme="ws") == "ws://192.168.50.20:8080/y"
    for i in range(50):
        status, _, body = br.http("GET", f"/n{i}")
        assert status == 200 and body.endswith(f" /n{i}".encode())
    with pytest.raises(DeviceError, match=r"GET http://192\.168\.50\.20:81/: \w"):
        br.http("GET", "/", port=81, timeout=5)  # nothing listens there: RST
    assert br.relay is not None and br.relay.error is None
    frames = list(br.relay.frames)
    br.close()
    data = (tmp_path / "loop.pcap").read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    count, pos = 0, 24
    while pos < len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        pos += 16 + incl
        count += 1
    assert pos == len(data) and count == sum(frames) > 100


def _drive(fwd: PortForwarder, client: Callable[[dict[str, Any]], None],
           timeout: float = 60) -> dict[str, Any]:
    """Runs client(results) in a thread while this thread polls the forwarder (both
    managers live here); an exception of the client lands in results["error"]."""
    results: dict[str, Any] = {}
    stop = threading.Event()

    def run() -> None:
        try:
            client(results)
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            results["error"] = repr(exc)
        finally:
            stop.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        fwd.poll(5)
    t.join(5)
    return results


def test_port_forwarder_tunnels_kernel_connections(
        pair: tuple[StackBridge, FakeBoard]) -> None:
    br, _ = pair
    br.wait_ready(port=7, timeout=20)
    fwd = PortForwarder(br)
    http_port = fwd.add(0, 80)
    echo_port = fwd.add(0, 7)

    def client(results: dict[str, Any]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        for i in range(5):
            conn.request("GET", f"/via-forward/{i}")
            r = conn.getresponse()
            results.setdefault("http", []).append((r.status, r.read()))
        conn.close()
        payload = os.urandom(300_000)
        with socket.create_connection(("127.0.0.1", echo_port), timeout=10) as s:
            s.sendall(payload)
            got = bytearray()
            while len(got) < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        results["echo"] = bytes(got) == payload

    results = _drive(fwd, client)
    fwd.close()
    assert "error" not in results, results.get("error")
    assert [s for s, _ in results["http"]] == [200] * 5
    assert results["http"][4][1].endswith(b" /via-forward/4")
    assert results["echo"] is True and fwd.tunnels == 2


def test_port_forwarder_half_close(pair: tuple[StackBridge, FakeBoard]) -> None:
    """A client that ends its stream right after its request (nc -N) still gets the
    answer: the end is passed on as a FIN, and the answer flows back."""
    br, _ = pair
    br.wait_ready(port=9, timeout=20)
    fwd = PortForwarder(br)
    echo_port = fwd.add(0, 7)
    rev_port = fwd.add(0, 9)

    def client(results: dict[str, Any]) -> None:
        # A real peer: OpenBSD netcat, which shuts its sending side down at EOF of
        # its input (-N) and then prints what comes back until the far end closes.
        for name, port, want in (("echo", echo_port, b"hello"),
                                 ("reverse", rev_port, b"olleh")):
            r = subprocess.run(["nc", "-N", "127.0.0.1", str(port)], input=b"hello",
                               capture_output=True, timeout=20, check=False)
            results[name] = (r.returncode, r.stdout, want)
        # The same with a socket: 200 kB up, then the end; 200 kB reversed back.
        payload = os.urandom(200_000)
        with socket.create_connection(("127.0.0.1", rev_port), timeout=20) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while chunk := s.recv(65536):
                got += chunk
        results["big"] = bytes(got) == payload[::-1]

    results = _drive(fwd, client)
    for _ in range(20):  # let both sides finish closing
        fwd.poll(5)
    assert "error" not in results, results.get("error")
    for name in ("echo", "reverse"):
        rc, out, want = results[name]
        assert (rc, out) == (0, want), name
    assert results["big"] is True
    # Every tunnel closed once both directions ended: no TCP connection is left.
    assert [c for c in br.mgr.connections if not (c.is_listening or c.is_udp)] == []
    assert [c for c in fwd.kmgr.connections if not c.is_listening] == []
    fwd.close()


def test_connect_netdev_addresses_and_errors(tmp_path: Path) -> None:
    with pytest.raises(PortNotFoundError, match="no frame socket"):
        connect_netdev(str(tmp_path / "missing.sock"), timeout=0.2)
    with pytest.raises(PortNotFoundError):
        connect_netdev("unix:" + str(tmp_path / "missing.sock"), timeout=0.2)
    with pytest.raises(DeviceError, match="want PATH or HOST:PORT"):
        connect_netdev("tcp:localhost:http", timeout=0.2)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    s = connect_netdev(f"127.0.0.1:{port}", timeout=2)
    s2 = connect_netdev(f"tcp:127.0.0.1:{port}", timeout=2)
    assert s.getpeername()[1] == port == s2.getpeername()[1]
    s.close()
    s2.close()
    ls.close()
    path = str(tmp_path / "n.sock")
    us = socket.socket(socket.AF_UNIX)
    us.bind(path)
    us.listen(1)
    c = connect_netdev(path, timeout=2)
    assert c.family == socket.AF_UNIX
    c.close()
    us.close()


@pytest.mark.parametrize("pcap", [True, False])
def test_peer_gone_is_reported(tmp_path: Path, pcap: bool) -> None:
    host_end, board_end = socket.socketpair()
    with StackBridge(host_end, pcap=tmp_path / "x.pcap" if pcap else None) as br:
        board_end.close()
        want = "relay stopped: device side" if pcap else "link is down"
        with pytest.raises(DeviceError, match=want):
            br.pump(lambda: False, 5)
    host_end.close()


def test_serial_bridge_over_a_pty() -> None:
    """A board on a SLIP serial line: the host end opens the pty's path raw itself."""
    import tty

    master, slave = os.openpty()
    tty.setraw(master)
    board = FakeBoard(master, serial=True)
    path = os.ttyname(slave)
    try:
        with StackBridge(serial=path, baudrate=921600, host_ip="192.168.60.1",
                         device_ip="192.168.60.9") as br:
            assert br.wait_ready(port=80, timeout=20) == "192.168.60.9"
            for i in range(10):
                status, _, body = br.http("GET", f"/s{i}")
                assert status == 200 and body.endswith(f" /s{i}".encode())
            got = bytearray()
            payload = bytes(range(256)) * 400  # SLIP END/ESC bytes included

            def echo(c: Any, ev: int, data: Any) -> None:
                if ev == mg.MG_EV_CONNECT:
                    c.send(payload)
                elif ev == mg.MG_EV_READ:
                    got.extend(c.recv_data())

            br.mgr.connect(br.url("", port=7, scheme="tcp"), echo)
            assert br.pump(lambda: len(got) >= len(payload), 30), br.stats
            assert bytes(got) == payload
    finally:
        board.close()
        os.close(master)
        os.close(slave)
    with pytest.raises(ValueError, match="netdev .* or serial="):
        StackBridge()
    with pytest.raises(ValueError, match="pcap"):
        StackBridge(serial=0, pcap="x.pcap")
    with pytest.raises(PortNotFoundError, match="cannot open serial port"):
        StackBridge(serial="/dev/no-such-tty")
