"""MQTT flow control, acknowledgements, sessions and deadlines through the
Python API: raw TCP brokers that decide what to acknowledge, mosquitto and
paho-mqtt as real peers, raw sockets as silent or half-talking clients."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_CLOSE, MG_EV_ERROR, MG_EV_MQTT_CMD, MG_EV_MQTT_OPEN
from mgtest import poll_until
from mqttpeers import Paho, mosquitto


class RawBroker:
    """A TCP listener that answers CONNECT with `connack` and records every
    other packet as (first byte, packet id); acknowledges nothing itself."""

    def __init__(self, mgr: mg.Manager, connack: bytes = b"\x20\x02\x00\x00") -> None:
        self.connack = connack
        self.seen: list[tuple[int, int]] = []
        self.conn: mg.Connection | None = None
        self.lst = mgr.listen("tcp://127.0.0.1:0", self)
        self.url = f"mqtt://127.0.0.1:{self.lst.local_addr[1]}"

    def __call__(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_ACCEPT:
            self.conn = conn
        elif ev == mg.MG_EV_READ:
            buf = conn.recv_data()
            while len(buf) >= 2:
                n = 2 + buf[1]  # short packets only (remaining length < 128)
                if buf[0] == 0x10:
                    conn.send(self.connack)
                else:
                    pid = int.from_bytes(buf[5:7] if buf[0] & 0xF0 == 0x30 else buf[2:4],
                                         "big")
                    self.seen.append((buf[0], pid))
                buf = buf[n:]

    def ack(self, cmd: int, pid: int, reason: int | None = None) -> None:
        assert self.conn is not None
        body = pid.to_bytes(2, "big") + (b"" if reason is None else bytes([reason]))
        self.conn.send(bytes([cmd << 4, len(body)]) + body)


class Client:
    """Records MQTT_OPEN, errors, closes and (cmd, id, ack) of PUBACK..PUBCOMP."""

    def __init__(self) -> None:
        self.events: list[tuple[int, Any]] = []
        self.acks: list[tuple[int, int, int]] = []

    def __call__(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev in (MG_EV_MQTT_OPEN, MG_EV_ERROR, MG_EV_CLOSE):
            self.events.append((ev, data))
        elif ev == MG_EV_MQTT_CMD and 4 <= data.cmd <= 7:
            self.acks.append((data.cmd, data.id, data.ack))

    def count(self, ev: int) -> int:
        return sum(1 for e, _ in self.events if e == ev)


def settle(mgr: mg.Manager, ms: int = 150) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        mgr.poll(5)


def test_receive_maximum_and_refused_pubrec(mgr: mg.Manager) -> None:
    # v5 CONNACK with Receive Maximum 2.
    b = RawBroker(mgr, b"\x20\x06\x00\x00\x03\x21\x00\x02")
    cl = Client()
    c = mgr.mqtt_connect(b.url, cl, client_id="rm", version=5)
    ids = [c.mqtt_pub("t", f"m{i}", 2) for i in range(5)]  # wait for CONNACK
    assert poll_until(mgr, lambda: cl.count(MG_EV_MQTT_OPEN) == 1)
    settle(mgr)
    assert b.seen == [(0x34, ids[0]), (0x34, ids[1])]
    b.ack(5, ids[0], 0x97)  # PUBREC "quota exceeded": refused, no PUBREL
    b.ack(5, ids[1], 0x00)  # accepted: PUBREL
    settle(mgr)
    assert b.seen[2:] == [(0x34, ids[2]), (0x62, ids[1])]
    assert (5, ids[0], 0x97) in cl.acks and (5, ids[1], 0) in cl.acks
    b.ack(7, ids[1])  # PUBCOMP, v5 short form (reason 0 implied)
    settle(mgr)
    assert b.seen[4:] == [(0x34, ids[3])]
    assert (7, ids[1], 0) in cl.acks
    assert not [e for e in cl.events if e[0] == MG_EV_ERROR]


def test_pub_refused_when_queue_full(mgr: mg.Manager) -> None:
    b = RawBroker(mgr)
    c = mgr.mqtt_connect(b.url, Client(), client_id="full")
    # Before CONNACK every publish waits; 1000 (MG_MQTT_QUEUE_MAX) may.
    ids = [c.mqtt_pub("t", "x", 1) for _ in range(1000)]
    assert all(ids) and len(set(ids)) == 1000
    with pytest.raises(RuntimeError, match="publish refused"):
        c.mqtt_pub("t", "one too many", 1)
    assert c.mqtt_pub("t", "qos 0 is dropped quietly", 0) == 0
    assert poll_until(mgr, lambda: len(b.seen) >= 20)
    settle(mgr)
    assert len(b.seen) == 20  # MG_MQTT_INFLIGHT_MAX, 3.1.1 has no Receive Maximum
    assert [pid for _, pid in b.seen] == ids[:20]


def test_publish_before_connack_goes_after_connect(mgr: mg.Manager) -> None:
    """Publishes made right after mqtt_connect wait for CONNACK instead of
    reaching the broker before CONNECT."""
    stream = bytearray()

    def broker(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_READ:
            buf = conn.recv_data()
            if not stream:
                conn.send(b"\x20\x02\x00\x00")
            stream.extend(buf)

    lst = mgr.listen("tcp://127.0.0.1:0", broker)
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{lst.local_addr[1]}", Client(), client_id="early")
    c.mqtt_pub("t", "q0", 0)
    pid = c.mqtt_pub("t", "q1", 1)
    assert poll_until(mgr, lambda: b"q1" in stream)
    assert stream[0] == 0x10  # CONNECT first
    rest = stream[2 + stream[1]:]
    assert rest == b"\x30\x05\x00\x01tq0" + b"\x32\x07\x00\x01t" + pid.to_bytes(2, "big") + b"q1"


def test_session_resent_with_dup_on_reconnect(mgr: mg.Manager) -> None:
    """clean_session=False: what the first connection left unacknowledged goes
    out again on the next mqtt_connect of that client id (Session Present 1:
    PUBLISH with DUP, and PUBREL for a QoS 2 past PUBREC)."""
    b = RawBroker(mgr, b"\x20\x02\x01\x00")  # session present
    cl = Client()
    c = mgr.mqtt_connect(b.url, cl, client_id="keep", clean_session=False)
    assert poll_until(mgr, lambda: cl.count(MG_EV_MQTT_OPEN) == 1)
    a, q2 = c.mqtt_pub("t", "a", 1), c.mqtt_pub("t", "b", 2)
    assert poll_until(mgr, lambda: len(b.seen) == 2)
    b.ack(5, q2)
    assert poll_until(mgr, lambda: len(b.seen) == 3)
    c.close()
    assert poll_until(mgr, lambda: cl.count(MG_EV_CLOSE) == 1)
    b.seen.clear()
    c2 = mgr.mqtt_connect(b.url, cl, client_id="keep", clean_session=False)
    assert poll_until(mgr, lambda: len(b.seen) == 2)
    settle(mgr)
    assert b.seen == [(0x3A, a), (0x62, q2)]
    c2.close()
    # A clean session forgets them.
    assert poll_until(mgr, lambda: cl.count(MG_EV_CLOSE) == 2)
    b.seen.clear()
    mgr.mqtt_connect(b.url, cl, client_id="keep", clean_session=True)
    assert poll_until(mgr, lambda: cl.count(MG_EV_MQTT_OPEN) == 3)
    settle(mgr)
    assert b.seen == []


def test_unacknowledged_messages_reach_mosquitto_after_reconnect() -> None:
    """The first connection's broker never acknowledges; reconnecting (same
    client id, clean_session=False) to mosquitto, which has no session for it
    (Session Present 0), publishes them anew: a subscriber gets each once."""
    with mosquitto() as port:
        sub = Paho(port, "watch")
        sub.sub("resume/#", 2)
        m = mg.Manager()
        b = RawBroker(m)
        cl = Client()
        c = m.mqtt_connect(b.url, cl, client_id="resumer", clean_session=False)
        assert poll_until(m, lambda: cl.count(MG_EV_MQTT_OPEN) == 1)
        for i in range(5):
            c.mqtt_pub(f"resume/{i}", f"q1-{i}", 1)
            c.mqtt_pub(f"resume/{i}", f"q2-{i}", 2)
        assert poll_until(m, lambda: len(b.seen) == 10)
        c.close()
        assert poll_until(m, lambda: cl.count(MG_EV_CLOSE) == 1)
        m.mqtt_connect(f"mqtt://127.0.0.1:{port}", cl, client_id="resumer",
                       clean_session=False)
        assert poll_until(m, lambda: sum(1 for a in cl.acks if a[0] in (4, 7)) == 10)
        got = sorted(p.decode() for _, p, _, _ in sub.wait_msgs(10))
        time.sleep(0.2)
        m.close()
        sub.close()
    assert got == sorted([f"q1-{i}" for i in range(5)] + [f"q2-{i}" for i in range(5)])
    assert len(sub.msgs) == 10


# ---- Deadlines of the server side (mqtt_listen) and of the client ----

class Server:
    def __init__(self, mgr: mg.Manager, connect_ms: int = 300) -> None:
        self.connect_ms = connect_ms
        self.errors: list[str] = []
        self.closed: list[float] = []
        self.lst = mgr.mqtt_listen("mqtt://127.0.0.1:0", self)
        self.port = self.lst.local_addr[1]

    def __call__(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_ACCEPT:
            conn.mqtt_set_connect_timeout(self.connect_ms)
        elif ev == MG_EV_MQTT_CMD and data.cmd == 1:
            conn.send(b"\x20\x02\x00\x00")
        elif ev == MG_EV_MQTT_CMD and data.cmd == 12:
            pass  # PINGRESP is sent by the core
        elif ev == MG_EV_ERROR:
            self.errors.append(data)
        elif ev == MG_EV_CLOSE and not conn.is_listening:
            self.closed.append(time.monotonic())


def peer_closed(s: socket.socket) -> bool:
    try:
        return s.recv(64, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


@pytest.mark.parametrize("sent", [b"", b"\x10\x0d\x00\x04MQ"], ids=["silent", "half"])
def test_connect_deadline(mgr: mg.Manager, sent: bytes) -> None:
    srv = Server(mgr)
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    if sent:
        s.sendall(sent)
    assert poll_until(mgr, lambda: len(srv.closed) == 1, 5)
    assert srv.closed[0] - t0 >= 0.3
    assert srv.errors == ["MQTT CONNECT timeout"]
    assert poll_until(mgr, lambda: peer_closed(s), 2)
    s.close()


def test_keepalive_deadline_on_server(mgr: mg.Manager) -> None:
    """CONNECT with keep-alive 1 s, then silence: closed after 1.5 s."""
    srv = Server(mgr)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x01\x00\x01k")
    t0 = time.monotonic()
    assert poll_until(mgr, lambda: len(srv.closed) == 1, 5)
    assert srv.closed[0] - t0 >= 1.45
    assert srv.errors == ["MQTT keep-alive timeout"]
    s.close()


def test_healthy_paho_with_keepalive_stays(mgr: mg.Manager) -> None:
    srv = Server(mgr)
    out: dict[str, Any] = {}

    def client() -> None:
        p = Paho(srv.port, "alive", keepalive=1)
        time.sleep(3.2)  # pings keep it open (paho pings every second)
        out["connected"] = p.c.is_connected()
        p.close()

    t = threading.Thread(target=client, daemon=True)
    t.start()
    assert poll_until(mgr, lambda: not t.is_alive(), 10)
    assert out == {"connected": True}
    assert srv.errors == []


def test_connack_deadline_on_client(mgr: mg.Manager) -> None:
    lst = mgr.listen("tcp://127.0.0.1:0")  # accepts, never answers
    cl = Client()
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{lst.local_addr[1]}", cl)
    c.mqtt_set_connect_timeout(300)
    t0 = time.monotonic()
    assert poll_until(mgr, lambda: cl.count(MG_EV_CLOSE) == 1, 5)
    assert time.monotonic() - t0 >= 0.3
    assert (MG_EV_ERROR, "MQTT CONNACK timeout") in cl.events
    with pytest.raises(ValueError, match="needs an MQTT client"):
        lst.mqtt_set_connect_timeout(100)
