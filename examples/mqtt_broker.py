"""A small MQTT broker on the cymongoose Python API (MQTT 3.1.1 and 5).

The core frames packets and reports each as MG_EV_MQTT_CMD (it also answers
PINGREQ and acknowledges inbound QoS 1/2 publishes); this file does the broker
logic: sessions (clean and persistent, with queued QoS 1 messages), `+`/`#`
wildcards, retained messages, QoS 0/1 delivery, keep-alive expiry and will
messages.

    python examples/mqtt_broker.py [mqtt://0.0.0.0:1883]

During an MG_EV_MQTT_CMD event the packet is at the front of the
connection's receive buffer, so `conn.recv_data()` gives its raw bytes for
the fields MqttMessage does not expose (CONNECT payload, topic filters),
followed by whatever the peer pipelined after it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import cymongoose as mg

MAX_QUEUED = 1000  # QoS 1 messages kept for an offline persistent session
# A subscriber whose send buffer holds more than this many times its high-water
# mark (Connection.send_high_water) is disconnected; see Broker.slow_subscriber.
SLOW_DISCONNECT_FACTOR = 4


def topic_matches(filt: str, topic: str) -> bool:
    """MQTT topic filter match: `+` one level, `#` this level and below;
    wildcards do not match topics starting with `$` at the first level."""
    if topic.startswith("$") and filt[:1] in ("+", "#"):
        return False
    f = filt.split("/")
    t = topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t):
            return False
        if part != "+" and part != t[i]:
            return False
    return len(f) == len(t)


def valid_filter(filt: str) -> bool:
    if not filt or "\0" in filt:
        return False
    parts = filt.split("/")
    for i, p in enumerate(parts):
        if "#" in p and (p != "#" or i != len(parts) - 1):
            return False
        if "+" in p and p != "+":
            return False
    return True


class Reader:
    """Big-endian reader over one packet's bytes (raises ValueError when short)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated packet")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def varint(self) -> int:
        v = 0
        for i in range(4):
            b = self.u8()
            v |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                return v
        raise ValueError("bad variable integer")

    def string(self) -> bytes:
        return self.take(self.u16())

    def skip_props(self, v5: bool) -> None:
        if v5:
            self.take(self.varint())

    def body_start(self) -> None:
        """Skip the fixed header and end the data at the end of this packet: the
        receive buffer may already hold the packets that follow it."""
        self.pos = 1
        length = self.varint()
        self.data = self.data[:self.pos + length]


@dataclass
class Session:
    client_id: str
    subs: dict[str, int] = field(default_factory=dict)  # filter -> granted QoS
    queue: list[tuple[str, bytes, int]] = field(default_factory=list)
    conn: mg.Connection | None = None
    clean: bool = True


@dataclass
class Client:
    session: Session
    version: int
    keepalive: int
    last_seen: float
    will: tuple[str, bytes, int, bool] | None = None
    dropped: int = 0  # QoS 0 deliveries dropped on this connection


class Broker:
    def __init__(self, mgr: mg.Manager, url: str = "mqtt://127.0.0.1:1883",
                 verbose: bool = False) -> None:
        self.mgr = mgr
        self.verbose = verbose
        self.sessions: dict[str, Session] = {}
        self.clients: dict[int, Client] = {}  # by connection id
        self.retained: dict[str, tuple[bytes, int]] = {}
        self.listener = mgr.mqtt_listen(url, self.handler)
        self.port = self.listener.local_addr[1]
        self.timer = mgr.timer_add(500, self.expire, repeat=True)
        self._anon = 0

    def log(self, *args: Any) -> None:
        if self.verbose:
            print("broker:", *args, file=sys.stderr)

    def warn(self, *args: Any) -> None:
        print("broker:", *args, file=sys.stderr)

    # ---- packet handlers ----
    def on_connect(self, conn: mg.Connection) -> None:
        r = Reader(conn.recv_data())
        r.body_start()
        proto = r.string()
        version = r.u8()
        flags = r.u8()
        keepalive = r.u16()
        if proto not in (b"MQTT", b"MQIsdp") or version not in (3, 4, 5) or flags & 1:
            conn.close()
            return
        v5 = version == 5
        r.skip_props(v5)
        client_id = r.string().decode("utf-8", "replace")
        will = None
        if flags & 0x04:
            r.skip_props(v5)
            wt = r.string().decode("utf-8", "replace")
            wm = r.string()
            will = (wt, wm, (flags >> 3) & 3, bool(flags & 0x20))
        clean = bool(flags & 0x02)
        if not client_id:
            if not clean and not v5:
                self.connack(conn, version, False, 2)  # identifier rejected
                conn.drain()
                return
            self._anon += 1
            client_id = f"auto-{self._anon}-{mg.random_str(8)}"
        sess = self.sessions.get(client_id)
        if sess is not None and sess.conn is not None and sess.conn.id in self.clients:
            # Session takeover: the old connection goes (its will is published).
            self.log("takeover", client_id)
            old = sess.conn
            self.drop(old, publish_will=True)
            old.close()
        present = sess is not None and not clean
        if sess is None or clean:
            sess = Session(client_id)
        self.sessions[client_id] = sess
        sess.clean = clean
        sess.conn = conn
        self.clients[conn.id] = Client(sess, version, keepalive, time.monotonic(), will)
        self.connack(conn, version, present, 0)
        self.log("connect", client_id, "v", version, "clean", clean)
        queued, sess.queue = sess.queue, []
        for topic, payload, qos in queued:
            self.publish(conn, topic, payload, qos)

    def connack(self, conn: mg.Connection, version: int, present: bool, rc: int) -> None:
        if version == 5:
            conn.send(bytes([0x20, 3, int(present), 0x85 if rc == 2 else rc, 0]))
        else:
            conn.send(bytes([0x20, 2, int(present), rc]))

    def on_publish(self, conn: mg.Connection, msg: mg.MqttMessage) -> None:
        retain = bool(conn.recv_data(1)[0] & 1)
        self.route(msg.topic, msg.data, msg.qos, retain)

    def route(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if retain:
            if payload:
                self.retained[topic] = (payload, qos)
            else:
                self.retained.pop(topic, None)
        for sess in list(self.sessions.values()):
            granted = max((q for f, q in sess.subs.items() if topic_matches(f, topic)),
                          default=-1)
            if granted < 0:
                continue
            q = min(granted, qos, 1)
            if sess.conn is not None:
                if not self.slow_subscriber(sess, sess.conn, q):
                    self.publish(sess.conn, topic, payload, q)
            elif q > 0 and len(sess.queue) < MAX_QUEUED:
                sess.queue.append((topic, payload, q))

    def publish(self, conn: mg.Connection, topic: str, payload: bytes, qos: int,
                retain: bool = False) -> None:
        """A QoS 1 message the core refuses (the connection's queue of unacknowledged
        messages is full: the client stopped acknowledging) closes the connection
        instead of being lost silently."""
        if conn.is_closing:
            return
        try:
            conn.mqtt_pub(topic, payload, qos, retain)
        except RuntimeError as e:
            self.warn(f"conn {conn.id}: {e}: disconnecting a subscriber that does not read")
            conn.close()

    def slow_subscriber(self, sess: Session, conn: mg.Connection, qos: int) -> bool:
        """Slow subscribers (docs/protocols/mqtt.md): a QoS 0 delivery to a
        connection whose send buffer reached its high-water mark is dropped
        (counted, logged once per connection); a QoS 1 one is queued (by the
        core, see publish), and a connection whose send buffer holds more than
        SLOW_DISCONNECT_FACTOR times the mark is closed. Returns True when the
        delivery is skipped."""
        if conn.is_closing:
            return True
        high, queued = conn.send_high_water, conn.send_len
        if high == 0 or queued < high:
            return False
        if queued > SLOW_DISCONNECT_FACTOR * high:
            self.warn(f"client {sess.client_id}: {queued} bytes queued, more than "
                      f"{SLOW_DISCONNECT_FACTOR} x its {high}-byte high-water mark: "
                      "disconnecting a subscriber that does not read")
            conn.close()
            return True
        if qos > 0:
            return False
        client = self.clients.get(conn.id)
        if client is not None:
            if client.dropped == 0:
                self.warn(f"client {sess.client_id}: send buffer at its high-water mark "
                          f"({high} bytes), dropping QoS 0 messages for it")
            client.dropped += 1
        return True

    def on_subscribe(self, conn: mg.Connection, msg: mg.MqttMessage, client: Client) -> None:
        v5 = client.version == 5
        r = Reader(conn.recv_data())
        r.body_start()
        pid = r.u16()
        r.skip_props(v5)
        codes = []
        new_filters = []
        while r.pos < len(r.data):
            filt = r.string().decode("utf-8", "replace")
            qos = r.u8() & 3
            if not valid_filter(filt) or qos == 3:
                codes.append(0x80)
                continue
            granted = min(qos, 1)
            client.session.subs[filt] = granted
            codes.append(granted)
            new_filters.append((filt, granted))
        body = pid.to_bytes(2, "big") + (b"\x00" if v5 else b"") + bytes(codes)
        conn.send(bytes([0x90]) + _varint(len(body)) + body)
        for filt, granted in new_filters:
            for topic, (payload, qos) in list(self.retained.items()):
                if topic_matches(filt, topic):
                    self.publish(conn, topic, payload, min(qos, granted), True)

    def on_unsubscribe(self, conn: mg.Connection, client: Client) -> None:
        v5 = client.version == 5
        r = Reader(conn.recv_data())
        r.body_start()
        pid = r.u16()
        r.skip_props(v5)
        codes = []
        while r.pos < len(r.data):
            filt = r.string().decode("utf-8", "replace")
            codes.append(0 if client.session.subs.pop(filt, None) is not None else 0x11)
        body = pid.to_bytes(2, "big") + ((b"\x00" + bytes(codes)) if v5 else b"")
        conn.send(bytes([0xB0]) + _varint(len(body)) + body)

    # ---- connection life ----
    def drop(self, conn: mg.Connection, publish_will: bool) -> None:
        client = self.clients.pop(conn.id, None)
        if client is None:
            return
        sess = client.session
        if client.dropped:
            self.warn(f"client {sess.client_id}: {client.dropped} QoS 0 messages were "
                      "dropped for it")
        if sess.conn is conn:
            sess.conn = None
            if sess.clean:
                self.sessions.pop(sess.client_id, None)
        if publish_will and client.will is not None:
            topic, payload, qos, retain = client.will
            self.log("will", topic)
            self.route(topic, payload, qos, retain)

    def expire(self) -> None:
        now = time.monotonic()
        for cid, client in list(self.clients.items()):
            if client.keepalive and now - client.last_seen > client.keepalive * 1.5:
                conn = client.session.conn
                self.log("keep-alive expired", client.session.client_id)
                if conn is not None:
                    self.drop(conn, publish_will=True)
                    conn.close()
                else:
                    self.clients.pop(cid, None)

    def handler(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_READ:
            client = self.clients.get(conn.id)
            if client is not None:
                client.last_seen = time.monotonic()
        elif ev == mg.MG_EV_MQTT_CMD:
            cmd = data.cmd
            client = self.clients.get(conn.id)
            try:
                if cmd == 1:
                    if client is not None:  # a second CONNECT is a protocol error
                        self.drop(conn, publish_will=True)
                        conn.close()
                    else:
                        self.on_connect(conn)
                elif client is None:
                    conn.close()  # anything before CONNECT
                elif cmd == 3:
                    self.on_publish(conn, data)
                elif cmd == 8:
                    self.on_subscribe(conn, data, client)
                elif cmd == 10:
                    self.on_unsubscribe(conn, client)
                elif cmd == 14:
                    self.drop(conn, publish_will=False)
                    conn.close()
            except ValueError as e:
                self.log("bad packet:", e)
                self.drop(conn, publish_will=True)
                conn.close()
        elif ev == mg.MG_EV_CLOSE:
            self.drop(conn, publish_will=True)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", nargs="?", default="mqtt://0.0.0.0:1883")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    mgr = mg.Manager()
    broker = Broker(mgr, args.url, verbose=args.verbose)
    print(f"MQTT broker listening on port {broker.port}", flush=True)
    mgr.run()


if __name__ == "__main__":
    main()
