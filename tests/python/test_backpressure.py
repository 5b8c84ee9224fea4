"""Backpressure: peers that send but never read cannot grow a server without bound.

Each server runs in its own process with a Python handler (the binding's path); a raw
socket floods it for a few seconds without reading, and the server's resident memory
must stay under a stated bound. Then the peer reads, and every answer arrives.
Before backpressure these servers grew by hundreds of MB in the same time (issue #22).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import cymongoose as mg
import pytest
from mgtest import poll_until

# The marks in force (1 MiB by default) plus kernel-side slack and one burst of
# answers; without backpressure the same floods grew servers by > 500 MB.
RSS_GROWTH_LIMIT = 48 * 1024 * 1024
FLOOD_SECONDS = 3.0

SERVER = textwrap.dedent(
    """
    import sys
    import cymongoose as mg

    mode = sys.argv[1]
    body = b"x" * 1000

    def handler(conn, ev, data):
        if mode == "tcp" and ev == mg.MG_EV_READ:
            conn.send(conn.recv_data())
        elif mode == "http" and ev == mg.MG_EV_HTTP_MSG:
            if data.uri == "/ws":
                conn.ws_upgrade(data)
            else:
                conn.reply(200, body)
        elif mode == "http" and ev == mg.MG_EV_WS_MSG:
            conn.ws_send(data.data, mg.WEBSOCKET_OP_BINARY)

    with mg.Manager(handler) as mgr:
        url = "tcp://127.0.0.1:0" if mode == "tcp" else "http://127.0.0.1:0"
        lc = mgr.listen(url)
        print(lc.local_addr[1], flush=True)
        while True:
            mgr.poll(50)
    """
)


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Server:
    def __init__(self, mode: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, mode],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def flood(port: int, head: bytes, unit: bytes) -> tuple[socket.socket, int]:
    """Sends head, then unit repeatedly for FLOOD_SECONDS without reading."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.sendall(head)
    s.setblocking(False)
    chunk = memoryview(unit * (1 + 65536 // len(unit)))
    sent = 0
    deadline = time.monotonic() + FLOOD_SECONDS
    while time.monotonic() < deadline:
        try:  # the stream stays unit after unit, even after partial sends
            sent += s.send(chunk[sent % len(unit):])
        except BlockingIOError:
            time.sleep(0.01)
    return s, sent


def read_all(s: socket.socket, until: float) -> bytes:
    s.setblocking(True)
    s.settimeout(1.0)
    out = bytearray()
    while time.monotonic() < until:
        try:
            b = s.recv(1 << 20)
        except TimeoutError:
            break
        if not b:
            break
        out += b
    return bytes(out)


@pytest.fixture
def server(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    srv = Server(request.param)
    yield srv
    srv.close()


@pytest.mark.parametrize("server", ["tcp"], indirect=True)
def test_echo_peer_never_reads(server: Server) -> None:
    before = rss(server.proc.pid)
    s, sent = flood(server.port, b"", bytes(range(256)))
    growth = rss(server.proc.pid) - before
    assert growth < RSS_GROWTH_LIMIT, f"server grew {growth >> 20} MiB"
    # Then the peer reads: the echo is complete and in order.
    got = read_all(s, time.monotonic() + 30)
    s.close()
    assert len(got) == sent
    assert got == (bytes(range(256)) * (sent // 256 + 1))[:sent]


@pytest.mark.parametrize("server", ["http"], indirect=True)
def test_pipelined_gets_never_read(server: Server) -> None:
    before = rss(server.proc.pid)
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    s, sent = flood(server.port, b"", req)
    growth = rss(server.proc.pid) - before
    assert growth < RSS_GROWTH_LIMIT, f"server grew {growth >> 20} MiB"
    got = read_all(s, time.monotonic() + 60)
    s.close()
    # Every whole request got its answer.
    assert got.count(b"HTTP/1.1 200 OK") == sent // len(req)


@pytest.mark.parametrize("server", ["http"], indirect=True)
def test_websocket_echo_flood_never_read(server: Server) -> None:
    up = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    # Masked binary frames with a 100-byte payload and an all-zero key.
    frame = bytes([0x82, 0x80 | 100, 0, 0, 0, 0]) + b"m" * 100
    before = rss(server.proc.pid)
    s, sent = flood(server.port, up, frame)
    growth = rss(server.proc.pid) - before
    assert growth < RSS_GROWTH_LIMIT, f"server grew {growth >> 20} MiB"
    got = read_all(s, time.monotonic() + 60)
    s.close()
    echo = bytes([0x82, 100]) + b"m" * 100
    assert got.count(echo) == sent // len(frame)


def test_marks_api() -> None:
    with mg.Manager() as mgr:
        assert mgr.send_marks == (1024 * 1024, 256 * 1024)
        mgr.set_send_marks(4096, 1024)
        assert mgr.send_marks == (4096, 1024)
        with pytest.raises(ValueError):
            mgr.set_send_marks(10, 20)
        with pytest.raises(ValueError):
            mgr.set_send_marks(-1, 0)
        with pytest.raises(TypeError):
            mgr.set_send_marks("big", 0)
        conns: list[mg.Connection] = []

        def handler(conn: mg.Connection, ev: int, data: object) -> None:
            if ev == mg.MG_EV_ACCEPT:
                conns.append(conn)

        lc = mgr.listen("tcp://127.0.0.1:0", handler)
        peer = socket.create_connection(("127.0.0.1", lc.local_addr[1]))
        assert poll_until(mgr, lambda: len(conns) == 1)
        c = conns[0]
        assert (c.send_high_water, c.send_low_water) == (4096, 1024)
        c.set_send_marks(100, 10)
        assert (c.send_high_water, c.send_low_water) == (100, 10)
        assert not c.is_throttled
        c.send(b"x" * 100)
        c.set_send_marks(100, 10)  # re-evaluated at once
        assert c.is_throttled and c.is_full
        assert poll_until(mgr, lambda: not c.is_throttled)  # drained to the peer
        c.set_send_marks(0, 0)
        assert c.send_high_water == 4096
        peer.close()


def _mqtt_packet(b0: int, body: bytes) -> bytes:
    n, enc = len(body), bytearray()
    while True:
        byte, n = n % 128, n // 128
        enc.append(byte | (0x80 if n else 0))
        if not n:
            return bytes([b0]) + bytes(enc) + body


@pytest.mark.parametrize("kind", ["c", "python"])
def test_mqtt_subscriber_publishing_to_itself_never_reads(kind: str) -> None:
    """A client subscribed to the topic it floods, never reading: the broker stops reading
    from it (its deliveries pile up on that connection) instead of growing."""
    from mqttpeers import ROOT, free_port, wait_port

    port = free_port()
    if kind == "c":
        exe = ROOT / "build" / "host" / "mqtt_broker"
        if not exe.exists():
            pytest.skip(f"C example broker not built ({exe}; run `make host`)")
        argv = [str(exe), f"mqtt://127.0.0.1:{port}"]
    else:
        argv = [sys.executable, str(ROOT / "examples" / "mqtt_broker.py"),
                f"mqtt://127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        before = rss(proc.pid)
        connect = _mqtt_packet(0x10, b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x02bp")
        subscribe = _mqtt_packet(0x82, b"\x00\x01\x00\x01t\x00")
        publish = _mqtt_packet(0x30, b"\x00\x01t" + b"p" * 100)
        s, sent = flood(port, connect + subscribe, publish)
        growth = rss(proc.pid) - before
        assert growth < RSS_GROWTH_LIMIT, f"broker grew {growth >> 20} MiB"
        assert proc.poll() is None
        # Once the client reads, the broker serves it again: a PINGREQ (written while a
        # thread reads, since the broker first answers the flood) gets its PINGRESP.
        s.setblocking(True)
        s.settimeout(30)
        tail = bytearray()
        ponged = threading.Event()

        def read() -> None:
            deadline = time.monotonic() + 60
            while not ponged.is_set() and time.monotonic() < deadline:
                try:
                    b = s.recv(1 << 20)
                except OSError:
                    return
                if not b:
                    return
                tail[:] = (bytes(tail) + b)[-4:]
                if tail.endswith(b"\xd0\x00"):
                    ponged.set()

        reader = threading.Thread(target=read)
        reader.start()
        rest = publish[sent % len(publish):] if sent % len(publish) else b""
        s.sendall(rest + b"\xc0\x00")  # the flood's last PUBLISH completed, then PINGREQ
        reader.join(70)
        s.close()
        assert ponged.is_set()
    finally:
        proc.kill()
        proc.wait()
