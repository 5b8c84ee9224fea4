"""Our MQTT client (Manager.mqtt_connect) against a mosquitto broker started by
the test, protocol 3.1.1 and 5: CONNACK, subscribe, QoS 0/1/2 flows, retained
messages, will, v5 properties of every type, keep-alive pings, refused
logins; and the C-31 id semantics."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import (
    MG_EV_CLOSE,
    MG_EV_ERROR,
    MG_EV_MQTT_CMD,
    MG_EV_MQTT_MSG,
    MG_EV_MQTT_OPEN,
)
from mgtest import free_port, poll_until
from mqttpeers import Paho, mosquitto

pytest.importorskip("paho.mqtt.client")


@pytest.fixture(scope="module")
def mosq() -> Iterator[int]:
    with mosquitto() as port:
        yield port


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[int, Any]] = []
        self.msgs: list[tuple[str, bytes, int, list[dict[str, Any]]]] = []
        self.cmds: list[tuple[int, int, int]] = []
        self.stored: list[mg.MqttMessage] = []
        self.on_open: Any = None

    def __call__(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_MQTT_OPEN:
            self.events.append((ev, data))
            if self.on_open is not None:
                self.on_open(conn)
        elif ev == MG_EV_MQTT_MSG:
            self.msgs.append((data.topic, data.data, data.qos, data.properties()))
            self.stored.append(data)
        elif ev == MG_EV_MQTT_CMD:
            self.cmds.append((data.cmd, data.id, data.qos))
        elif ev in (MG_EV_ERROR, MG_EV_CLOSE):
            self.events.append((ev, data))

    def opened(self) -> bool:
        return any(e == MG_EV_MQTT_OPEN for e, _ in self.events)

    def closed(self) -> bool:
        return any(e == MG_EV_CLOSE for e, _ in self.events)


@pytest.mark.parametrize("version", [4, 5])
def test_pub_sub_qos_flows(mgr: mg.Manager, mosq: int, version: int) -> None:
    rec = Recorder()
    ids: list[int] = []
    rec.on_open = lambda c: ids.append(c.mqtt_sub("t/+/x", 2))
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosq}", rec, client_id=f"our-{version}",
                         version=version)
    assert poll_until(mgr, rec.opened)
    assert rec.events[0] == (MG_EV_MQTT_OPEN, 0)
    assert poll_until(mgr, lambda: any(cmd == 9 for cmd, _, _ in rec.cmds))  # SUBACK
    for qos in (0, 1, 2):
        pid = c.mqtt_pub(f"t/{qos}/x", f"payload {qos}", qos)
        assert (pid == 0) if qos == 0 else (pid > 0)
    c.mqtt_pub("t/none/y", "not subscribed")
    assert poll_until(mgr, lambda: len(rec.msgs) == 3)
    assert sorted((t, d, q) for t, d, q, _ in rec.msgs) == [
        ("t/0/x", b"payload 0", 0), ("t/1/x", b"payload 1", 1), ("t/2/x", b"payload 2", 2)]
    # Outgoing QoS 1: PUBACK; QoS 2: PUBREC then PUBCOMP. Inbound QoS 2: PUBREL.
    assert poll_until(mgr, lambda: {4, 5, 7, 6} <= {cmd for cmd, _, _ in rec.cmds})
    # Views die with the handler call.
    m = rec.stored[0]
    assert (m.topic, m.data, m.text, m.id, m.cmd, m.qos, m.ack, m.properties()) == \
        ("", b"", "", 0, 0, 0, 0, [])
    c.mqtt_unsub("t/+/x")
    assert poll_until(mgr, lambda: any(cmd == 11 for cmd, _, _ in rec.cmds))  # UNSUBACK
    c.mqtt_disconnect()
    assert poll_until(mgr, rec.closed)  # mosquitto closes after DISCONNECT
    assert not any(e == MG_EV_ERROR for e, _ in rec.events)


def test_v5_properties_roundtrip(mgr: mg.Manager, mosq: int) -> None:
    rec = Recorder()
    rec.on_open = lambda c: c.mqtt_sub("p/#", 1)
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosq}", rec, client_id="props", version=5)
    assert poll_until(mgr, lambda: any(cmd == 9 for cmd, _, _ in rec.cmds))
    props = [
        {"id": 0x01, "iv": 1},                                  # BYTE
        {"id": 0x02, "iv": 3600},                               # INT
        {"id": 0x03, "val": "text/plain"},                      # STRING
        {"id": 0x08, "val": "reply/here"},                      # STRING
        {"id": 0x09, "val": b"corr-\x01"},                      # BINARY_DATA
        {"id": 0x26, "key": "k1", "val": "v1"},                 # STRING_PAIR
        {"id": 0x26, "key": "k2", "val": "v2"},
    ]
    c.mqtt_pub("p/1", "with props", 1, properties=props)
    assert poll_until(mgr, lambda: len(rec.msgs) == 1)
    got = {(p["id"], p["key"]): p for p in rec.msgs[0][3]}
    assert got[(1, "")]["iv"] == 1
    assert 3590 <= got[(2, "")]["iv"] <= 3600
    assert got[(3, "")]["val"] == "text/plain"
    assert got[(8, "")]["val"] == "reply/here"
    assert got[(9, "")]["val"] == "corr-\x01"
    assert got[(0x26, "k1")]["val"] == "v1" and got[(0x26, "k2")]["val"] == "v2"
    # SHORT and VARIABLE_INT come from the broker: Topic Alias Maximum /
    # Receive Maximum in CONNACK, Subscription Identifier on delivery.
    c.mqtt_unsub("p/#")
    with pytest.raises(ValueError, match="unknown MQTT property"):
        c.mqtt_pub("p/1", "x", properties=[{"id": 0x7F}])


def test_v5_connack_and_subscription_identifier(mosq: int) -> None:
    """SHORT (Receive Maximum) in CONNACK; VARIABLE_INT (Subscription
    Identifier) on a delivered PUBLISH, subscribing with raw bytes."""
    m = mg.Manager()
    cmds: list[Any] = []
    msgs: list[Any] = []

    def h(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_MQTT_CMD:
            cmds.append((data.cmd, data.properties()))
        elif ev == MG_EV_MQTT_MSG:
            msgs.append(data.properties())
        elif ev == MG_EV_MQTT_OPEN:
            # SUBSCRIBE id 77, props: Subscription Identifier 300 (varint), topic "s/1" QoS 0.
            body = b"\x00\x4d" + b"\x03\x0b\xac\x02" + b"\x00\x03s/1" + b"\x00"
            conn.send(bytes([0x82, len(body)]) + body)

    c = m.mqtt_connect(f"mqtt://127.0.0.1:{mosq}", h, client_id="subid", version=5)
    assert poll_until(m, lambda: any(cmd == 9 for cmd, _ in cmds))
    connack = next(p for cmd, p in cmds if cmd == 2)
    assert any(p["id"] in (0x21, 0x22) and p["iv"] > 0 for p in connack)  # SHORT type
    c.mqtt_pub("s/1", "x")
    assert poll_until(m, lambda: len(msgs) == 1)
    assert {"id": 0x0B, "iv": 300, "key": "", "val": ""} in msgs[0]
    m.close()


def test_retained_and_will(mgr: mg.Manager, mosq: int) -> None:
    # A retained message reaches a later subscriber.
    pub = Recorder()
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosq}", pub, client_id="ret-pub")
    assert poll_until(mgr, pub.opened)
    c.mqtt_pub("r/state", "on", 1, True)
    assert poll_until(mgr, lambda: any(cmd == 4 for cmd, _, _ in pub.cmds))
    sub = Recorder()
    sub.on_open = lambda conn: conn.mqtt_sub("r/#", 1)
    mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosq}", sub, client_id="ret-sub")
    assert poll_until(mgr, lambda: len(sub.msgs) == 1)
    assert sub.msgs[0][:2] == ("r/state", b"on")
    c.mqtt_pub("r/state", b"", 1, True)  # clear it

    # Will: our client dies without DISCONNECT; a paho subscriber gets it.
    watcher = Paho(mosq, "will-watch")
    watcher.sub("wills/#", 1)
    rec = Recorder()
    w = mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosq}", rec, client_id="dying",
                         will_topic="wills/dying", will_message=b"gone", will_qos=1)
    assert poll_until(mgr, rec.opened)
    w.close()
    assert poll_until(mgr, rec.closed)
    got = watcher.wait_msgs(1)
    watcher.close()
    assert got[0][:3] == ("wills/dying", b"gone", 1)


def test_keepalive_pings(mgr: mg.Manager, mosq: int) -> None:
    rec = Recorder()
    mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosq}", rec, client_id="ka", keepalive=1)
    assert poll_until(mgr, lambda: sum(1 for cmd, _, _ in rec.cmds if cmd == 13) >= 2, 6)
    assert not rec.closed()


def test_refused_login() -> None:
    with mosquitto("allow_anonymous false\n") as port:
        m = mg.Manager()
        rec = Recorder()
        m.mqtt_connect(f"mqtt://127.0.0.1:{port}", rec, client_id="anon",
                       username="nobody", password="x")
        assert poll_until(m, rec.closed)
        assert rec.events[0] == (MG_EV_MQTT_OPEN, 5)  # not authorized
        errs = [d for e, d in rec.events if e == MG_EV_ERROR]
        assert errs and "refused" in errs[0]
        m.close()


def test_ids_and_non_mqtt_connections(mgr: mg.Manager) -> None:
    """C-31: ids come from one per-manager counter starting at 1, shared with
    sub/unsub; MQTT calls on a non-MQTT connection write bytes and do not raise."""
    lst = mgr.listen("tcp://127.0.0.1:0")
    c = mgr.connect(f"tcp://127.0.0.1:{lst.local_addr[1]}")
    assert c.mqtt_pub("a", "b", 0) == 0
    assert c.mqtt_pub("a", "b", 1) == 1
    c.mqtt_sub("x", 1)   # id 2
    c.mqtt_unsub("x")    # id 3
    assert c.mqtt_pub("a", "b", 2) == 4
    c.mqtt_ping()
    c.mqtt_pong()
    c.mqtt_disconnect()
    data = c.send_data()
    assert data.startswith(b"\x30\x04\x00\x01ab")  # QoS 0 PUBLISH "a" "b"
    assert data.endswith(b"\xc0\x00\xd0\x00\xe0\x00")
    with pytest.raises(RuntimeError, match="Failed to connect to MQTT broker ''"):
        mgr.mqtt_connect("")
    with pytest.raises(RuntimeError, match="Failed to listen for MQTT on"):
        mgr.mqtt_listen("mqtt://256.0.0.1:0")


def test_refused_tcp(mgr: mg.Manager) -> None:
    rec = Recorder()
    mgr.mqtt_connect(f"mqtt://127.0.0.1:{free_port()}", rec)
    assert poll_until(mgr, rec.closed)
    assert (MG_EV_ERROR, "socket error") in rec.events


def test_retransmission_with_dup(mgr: mg.Manager) -> None:
    """A QoS 1 PUBLISH left unacknowledged is sent again with DUP set."""
    seen: list[tuple[int, int, int]] = []

    def broker(conn: mg.Connection, ev: int, data: Any) -> None:
        # A raw TCP peer (no MQTT layer, so nothing is acknowledged for us).
        if ev == mg.MG_EV_READ:
            buf = conn.recv_data()
            if buf[0] == 0x10:
                conn.send(b"\x20\x02\x00\x00")
            elif buf[0] & 0xF0 == 0x30:
                seen.append((buf[0], int.from_bytes(buf[5:7], "big"), (buf[0] >> 1) & 3))

    lst = mgr.listen("tcp://127.0.0.1:0", broker)
    rec = Recorder()
    rec.on_open = lambda c: c.mqtt_pub("q", "once", 1)
    mgr.mqtt_connect(f"mqtt://127.0.0.1:{lst.local_addr[1]}", rec, client_id="rt")
    t0 = time.monotonic()
    assert poll_until(mgr, lambda: len(seen) >= 2, 12)
    assert time.monotonic() - t0 >= 4  # not before the retransmit interval
    assert seen[0] == (0x32, seen[0][1], 1)
    assert seen[1] == (0x3A, seen[0][1], 1)  # same id, DUP flag


def test_broker_side_commands_and_auto_ack(mgr: mg.Manager) -> None:
    """C-31: a mqtt_listen handler sees CONNECT, PUBLISH, SUBSCRIBE,
    UNSUBSCRIBE, PINGREQ, DISCONNECT from paho; QoS 1 is PUBACKed by the core."""
    cmds: list[int] = []
    msgs: list[tuple[str, bytes, int]] = []

    def broker(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_MQTT_CMD:
            cmds.append(data.cmd)
            if data.cmd == 1:
                conn.send(b"\x20\x02\x00\x00")
            elif data.cmd == 8:
                conn.send(bytes([0x90, 3]) + data.id.to_bytes(2, "big") + b"\x01")
            elif data.cmd == 10:
                conn.send(bytes([0xB0, 2]) + data.id.to_bytes(2, "big"))
        elif ev == MG_EV_MQTT_MSG:
            msgs.append((data.topic, data.data, data.qos))

    lst = mgr.mqtt_listen("mqtt://127.0.0.1:0", broker)
    port = lst.local_addr[1]
    import threading

    out: dict[str, Any] = {}

    def client() -> None:
        p = Paho(port, "cmds", keepalive=1)
        p.sub("a/b", 1)
        p.pub("a/b", b"q1", 1)  # waits for the PUBACK
        p.unsub("a/b")
        time.sleep(1.6)  # one keep-alive ping
        p.close()
        out["ok"] = True

    t = threading.Thread(target=client, daemon=True)
    t.start()
    assert poll_until(mgr, lambda: not t.is_alive(), 15)
    assert out.get("ok")
    assert poll_until(mgr, lambda: 14 in cmds)
    for cmd in (1, 3, 8, 10, 12, 14):
        assert cmd in cmds
    assert msgs == [("a/b", b"q1", 1)]


BAD_PACKETS = {
    "varint_5_bytes": b"\x10\xff\xff\xff\xff\x01",
    "type_zero": b"\x00\x00",
    "publish_qos3": b"\x36\x04\x00\x01ab",
    "short_topic": b"\x30\x02\x00\x09",
    "bad_protocol": b"\x10\x0c\x00\x04XXXX\x04\x02\x00\x3c\x00\x00",
    "subscribe_no_topic": b"\x82\x02\x00\x01",
}


@pytest.mark.parametrize("name", sorted(BAD_PACKETS))
def test_malformed_packets_close(mgr: mg.Manager, name: str) -> None:
    errors: list[str] = []
    closed: list[int] = []

    def broker(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_ERROR:
            errors.append(data)
        elif ev == MG_EV_CLOSE and not conn.is_listening:
            closed.append(conn.id)
        elif ev == MG_EV_MQTT_CMD and data.cmd == 1:
            conn.send(b"\x20\x02\x00\x00")

    lst = mgr.mqtt_listen("mqtt://127.0.0.1:0", broker)
    s = socket.create_connection(("127.0.0.1", lst.local_addr[1]), timeout=5)
    s.sendall(BAD_PACKETS[name])
    assert poll_until(mgr, lambda: len(closed) == 1)
    assert errors and "malformed" in errors[0]
    s.close()
    # Still serving: a real client connects fine.
    rec = Recorder()
    mgr.mqtt_connect(f"mqtt://127.0.0.1:{lst.local_addr[1]}", rec)
    assert poll_until(mgr, rec.opened)
    assert rec.events[0] == (MG_EV_MQTT_OPEN, 0)


def test_v5_every_property_type_through_our_codec(mgr: mg.Manager) -> None:
    """Encode (client) and decode (broker side) of one property of each
    MQTT_PROP_TYPE_* on a v5 PUBLISH between our own two ends."""
    got: list[list[dict[str, Any]]] = []

    def broker(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_MQTT_CMD and data.cmd == 1:
            conn.send(b"\x20\x03\x00\x00\x00")  # v5 CONNACK, no properties
        elif ev == MG_EV_MQTT_MSG:
            got.append(data.properties())

    lst = mgr.mqtt_listen("mqtt://127.0.0.1:0", broker)
    props = [
        {"id": 0x01, "iv": 1},                       # BYTE
        {"id": 0x03, "val": "application/json"},     # STRING
        {"id": 0x26, "key": "name", "val": "value"},  # STRING_PAIR
        {"id": 0x09, "val": b"\x00\xffbin"},         # BINARY_DATA
        {"id": 0x0B, "iv": 268435455},               # VARIABLE_INT (largest)
        {"id": 0x02, "iv": 4000000000},              # INT
        {"id": 0x23, "iv": 65535},                   # SHORT
    ]
    rec = Recorder()
    rec.on_open = lambda c: c.mqtt_pub("t", "p", 1, properties=props)
    mgr.mqtt_connect(f"mqtt://127.0.0.1:{lst.local_addr[1]}", rec, client_id="codec",
                     version=5)
    assert poll_until(mgr, lambda: len(got) == 1)
    assert [(p["id"], p["iv"], p["key"]) for p in got[0]] == [
        (1, 1, ""), (3, 0, ""), (0x26, 0, "name"), (9, 0, ""), (0x0B, 268435455, ""),
        (2, 4000000000, ""), (0x23, 65535, "")]
    vals = [p["val"] for p in got[0]]
    assert vals[1] == "application/json" and vals[2] == "value"
    assert vals[3] == b"\x00\xffbin".decode("utf-8", "surrogateescape")
    # The broker side's core acknowledged the QoS 1 publish.
    assert poll_until(mgr, lambda: any(cmd == 4 for cmd, _, _ in rec.cmds))


def test_qos2_duplicate_delivered_once_and_keepalive_timeout(mgr: mg.Manager) -> None:
    """A raw broker: CONNACKs, sends a QoS 2 PUBLISH twice (the second with
    DUP, before PUBREL) and then never answers PINGREQ. The client delivers
    the message once, PUBRECs both, and gives up after 1.5 keep-alives."""
    seen = bytearray()

    def broker(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_READ:
            buf = conn.recv_data()
            seen.extend(buf)
            if buf[0] == 0x10:
                pub = b"\x00\x01q\x00\x2aqos2"
                conn.send(b"\x20\x02\x00\x00" + bytes([0x34, len(pub)]) + pub
                          + bytes([0x3C, len(pub)]) + pub)

    lst = mgr.listen("tcp://127.0.0.1:0", broker)
    rec = Recorder()
    mgr.mqtt_connect(f"mqtt://127.0.0.1:{lst.local_addr[1]}", rec, client_id="q2", keepalive=1)
    t0 = time.monotonic()
    assert poll_until(mgr, rec.closed, 6)
    assert time.monotonic() - t0 >= 1.4
    assert [(t, d, q) for t, d, q, _ in rec.msgs] == [("q", b"qos2", 2)]
    errs = [d for e, d in rec.events if e == MG_EV_ERROR]
    assert errs == ["MQTT keep-alive timeout"]
    assert seen.count(b"\x50\x02\x00\x2a") == 2  # PUBREC for both copies
    assert b"\xc0\x00" in seen  # it did ping
