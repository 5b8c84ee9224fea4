"""The C example broker (examples/mqtt_broker/) against the MQTT 3.1.1 / 5
rules of issue #21, with raw-socket clients (exact bytes) and paho-mqtt:
QoS 2, persistent sessions (offline queue, resend on resume, session present,
takeover, expiry), wills (delay, DISCONNECT 0x04), retained messages and
Retain Handling, No Local, Retain As Published, subscription identifiers,
$share groups, topic aliases, maximum packet size, assigned client ids,
message expiry, forwarded v5 properties, and the rejections."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from mqttpeers import Paho, broker

pytest.importorskip("paho.mqtt.client")


@pytest.fixture
def port() -> Iterator[int]:
    with broker("c") as p:
        yield p


# ---- raw packets ----

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def s16(b: bytes) -> bytes:
    return len(b).to_bytes(2, "big") + b


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def props(*items: bytes) -> bytes:
    p = b"".join(items)
    return varint(len(p)) + p


def p_u8(pid: int, v: int) -> bytes:
    return bytes([pid, v])


def p_u16(pid: int, v: int) -> bytes:
    return bytes([pid]) + v.to_bytes(2, "big")


def p_u32(pid: int, v: int) -> bytes:
    return bytes([pid]) + v.to_bytes(4, "big")


def p_str(pid: int, v: bytes) -> bytes:
    return bytes([pid]) + s16(v)


def p_pair(k: bytes, v: bytes) -> bytes:
    return b"\x26" + s16(k) + s16(v)


def connect_pkt(cid: bytes, v: int = 4, clean: bool = True, cprops: bytes = b"",
                will: tuple[bytes, bytes, int, bytes] | None = None, flags: int = 0,
                tail: bytes = b"", keepalive: int = 60) -> bytes:
    name = b"MQIsdp" if v == 3 else b"MQTT"
    f = flags | (0x02 if clean else 0)
    if will:
        f |= 0x04 | (will[2] << 3)
    body = s16(name) + bytes([v, f]) + keepalive.to_bytes(2, "big")
    if v == 5:
        body += props() if not cprops else cprops
    body += s16(cid)
    if will:
        if v == 5:
            body += will[3] or props()
        body += s16(will[0]) + s16(will[1])
    return packet(0x10, body + tail)


def publish_pkt(topic: bytes, payload: bytes, qos: int = 0, mid: int = 0, v: int = 4,
                pprops: bytes = b"", retain: bool = False, dup: bool = False) -> bytes:
    body = s16(topic) + (mid.to_bytes(2, "big") if qos else b"")
    if v == 5:
        body += pprops or props()
    return packet(0x30 | (8 if dup else 0) | qos << 1 | (1 if retain else 0), body + payload)


def subscribe_pkt(mid: int, filters: list[tuple[bytes, int]], v: int = 4,
                  sprops: bytes = b"") -> bytes:
    body = mid.to_bytes(2, "big") + ((sprops or props()) if v == 5 else b"")
    for f, o in filters:
        body += s16(f) + bytes([o])
    return packet(0x82, body)


class Raw:
    """A client speaking raw MQTT over a socket."""

    def __init__(self, port: int, cid: bytes = b"", v: int = 4, clean: bool = True,
                 cprops: bytes = b"", will: tuple[bytes, bytes, int, bytes] | None = None,
                 raw: bytes | None = None) -> None:
        self.v = v
        self.buf = bytearray()
        self.s = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.s.sendall(raw if raw is not None else connect_pkt(cid, v, clean, cprops, will))

    def connack(self) -> tuple[int, int, bytes]:
        first, body = self.read()
        assert first == 0x20, (first, body)
        return body[0], body[1], body[2:]

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def read(self, timeout: float = 3) -> tuple[int, bytes]:
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                n, mult, i = 0, 1, 1
                while i < len(self.buf):
                    n += (self.buf[i] & 0x7F) * mult
                    mult *= 128
                    if not self.buf[i] & 0x80:
                        break
                    i += 1
                if i < len(self.buf) and len(self.buf) >= i + 1 + n:
                    first, body = self.buf[0], bytes(self.buf[i + 1:i + 1 + n])
                    del self.buf[:i + 1 + n]
                    return first, body
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def closed(self, timeout: float = 3) -> bool:
        """True when the broker closes the connection (after at most a DISCONNECT)."""
        try:
            first, _ = self.read(timeout)
        except (ConnectionError, OSError):
            return True
        if first >> 4 != 14:
            return False
        try:
            self.read(timeout)
        except (ConnectionError, OSError):
            return True
        return False

    def nothing(self, timeout: float = 0.3) -> bool:
        try:
            self.read(timeout)
        except TimeoutError:
            return True
        return False

    def ping(self) -> None:
        """PINGREQ/PINGRESP: everything sent before it has arrived."""
        self.send(b"\xc0\x00")
        assert self.read() == (0xD0, b"")

    def sub(self, mid: int, filters: list[tuple[bytes, int]], sprops: bytes = b"") -> bytes:
        self.send(subscribe_pkt(mid, filters, self.v, sprops))
        first, body = self.read()
        assert first == 0x90 and body[:2] == mid.to_bytes(2, "big")
        return body[3:] if self.v == 5 else body[2:]

    def close(self) -> None:
        self.s.close()


def parse_publish(first: int, body: bytes, v: int) -> tuple[bytes, int, int, bytes, bytes]:
    """(topic, qos, mid, properties, payload) of a PUBLISH."""
    assert first >> 4 == 3, (first, body)
    n = int.from_bytes(body[:2], "big")
    topic, rest, qos = body[2:2 + n], body[2 + n:], (first >> 1) & 3
    mid = 0
    if qos:
        mid, rest = int.from_bytes(rest[:2], "big"), rest[2:]
    p = b""
    if v == 5:
        plen, i = 0, 0
        while True:
            plen |= (rest[i] & 0x7F) << (7 * i)
            i += 1
            if not rest[i - 1] & 0x80:
                break
        p, rest = rest[i:i + plen], rest[i + plen:]
    return topic, qos, mid, p, rest


# ---- QoS 2 ----

@pytest.mark.parametrize("v", [4, 5])
def test_qos2_granted_and_exactly_once(port: int, v: int) -> None:
    sub = Raw(port, b"q2-sub", v)
    sub.connack()
    assert sub.sub(1, [(b"q2/#", 2)]) == b"\x02"  # was capped at 1
    pub = Raw(port, b"q2-pub", v)
    pub.connack()
    pub.send(publish_pkt(b"q2/a", b"once", 2, 7, v))
    assert pub.read() == (0x50, b"\x00\x07")  # PUBREC
    pub.send(publish_pkt(b"q2/a", b"once", 2, 7, v, dup=True))  # resent before PUBREL
    assert pub.read() == (0x50, b"\x00\x07")
    pub.send(b"\x62\x02\x00\x07")  # PUBREL
    assert pub.read() == (0x70, b"\x00\x07")  # PUBCOMP
    first, body = sub.read()
    topic, qos, mid, _, payload = parse_publish(first, body, v)
    assert (topic, qos, payload) == (b"q2/a", 2, b"once")
    sub.send(bytes([0x50, 2]) + mid.to_bytes(2, "big"))  # PUBREC
    assert sub.read() == (0x62, mid.to_bytes(2, "big"))  # PUBREL
    sub.send(bytes([0x70, 2]) + mid.to_bytes(2, "big"))  # PUBCOMP
    assert sub.nothing()  # the duplicate PUBLISH was not delivered again
    sub.close()
    pub.close()


@pytest.mark.parametrize("v", [4, 5])
def test_qos2_resent_twice_on_one_connection_is_a_protocol_error(port: int, v: int) -> None:
    # Resending is for a new connection; one resend is forgiven, the second is not.
    pub = Raw(port, b"q2-dup", v)
    pub.connack()
    for _ in range(2):
        pub.send(publish_pkt(b"q2/d", b"m", 2, 9, v, dup=True))
        assert pub.read() == (0x50, b"\x00\x09")
    pub.send(publish_pkt(b"q2/d", b"m", 2, 9, v, dup=True))
    if v == 5:
        assert pub.read() == (0xE0, b"\x82")  # DISCONNECT, protocol error
    assert pub.closed()
    # A new connection of the same client may resend it again (session kept).
    again = Raw(port, b"q2-dup", v, clean=False)
    again.connack()
    again.send(publish_pkt(b"q2/d", b"m", 2, 9, v, dup=True))
    assert again.read()[0] == 0x50
    again.close()
    pub.close()


def test_qos2_paho_end_to_end(port: int) -> None:
    sub = Paho(port, "q2p-sub", v5=True)
    sub.sub("q2p", 2)
    pub = Paho(port, "q2p-pub")
    for i in range(30):
        pub.pub("q2p", str(i).encode(), 2)
    got = sub.wait_msgs(30)
    time.sleep(0.2)
    assert [m[1] for m in sub.msgs] == [str(i).encode() for i in range(30)]
    assert all(m[2] == 2 for m in got)
    pub.close()
    sub.close()


# ---- persistent sessions ----

@pytest.mark.parametrize("v", [4, 5])
def test_persistent_session_queues_and_resends(port: int, v: int) -> None:
    cprops = props(p_u32(0x11, 60)) if v == 5 else b""
    sub = Raw(port, b"ps", v, clean=False, cprops=cprops)
    assert sub.connack()[:2] == (0, 0)
    sub.sub(1, [(b"ps/#", 2)])
    pub = Raw(port, b"ps-pub", v)
    pub.connack()
    pub.send(publish_pkt(b"ps/1", b"unacked", 1, 1, v))
    pub.read()
    first, body = sub.read()
    _, _, mid1, _, payload = parse_publish(first, body, v)
    assert payload == b"unacked"
    sub.close()  # gone without acknowledging
    time.sleep(0.2)
    pub.send(publish_pkt(b"ps/2", b"while away q1", 1, 2, v))
    pub.read()
    pub.send(publish_pkt(b"ps/3", b"while away q2", 2, 3, v))
    pub.read()
    pub.send(publish_pkt(b"ps/4", b"q0 is not kept", 0, 0, v))
    pub.ping()
    sub = Raw(port, b"ps", v, clean=False, cprops=cprops)
    assert sub.connack()[:2] == (1, 0)  # session present
    first, body = sub.read()
    assert first & 0x08  # the unacknowledged one again, with DUP
    topic, _, mid, _, payload = parse_publish(first, body, v)
    assert (topic, mid, payload) == (b"ps/1", mid1, b"unacked")
    got = []
    for _ in range(2):
        first, body = sub.read()
        topic, qos, _, _, payload = parse_publish(first, body, v)
        got.append((topic, qos, payload))
    assert got == [(b"ps/2", 1, b"while away q1"), (b"ps/3", 2, b"while away q2")]
    assert sub.nothing()
    sub.close()
    pub.close()


def test_resend_pubrel_on_resume(port: int) -> None:
    sub = Raw(port, b"rel", 4, clean=False)
    sub.connack()
    sub.sub(1, [(b"rel", 2)])
    pub = Raw(port, b"rel-pub")
    pub.connack()
    pub.send(publish_pkt(b"rel", b"x", 2, 1))
    first, body = sub.read()
    mid = parse_publish(first, body, 4)[2]
    sub.send(bytes([0x50, 2]) + mid.to_bytes(2, "big"))  # PUBREC
    assert sub.read() == (0x62, mid.to_bytes(2, "big"))
    sub.close()  # before PUBCOMP
    sub = Raw(port, b"rel", 4, clean=False)
    assert sub.connack()[:2] == (1, 0)
    assert sub.read() == (0x62, mid.to_bytes(2, "big"))  # PUBREL again
    pub.close()
    sub.close()


def test_takeover_of_clean_session_is_not_present(port: int) -> None:
    first = Raw(port, b"tk", 4, clean=True)
    first.connack()
    first.sub(1, [(b"tk", 1)])
    second = Raw(port, b"tk", 4, clean=False)
    assert second.connack()[:2] == (0, 0)  # the clean session ended with its connection
    assert first.closed()
    third = Raw(port, b"tk", 5, clean=False, cprops=props(p_u32(0x11, 30)))
    assert third.connack()[:2] == (1, 0)  # a persistent one goes on
    assert second.closed()
    third.close()


def test_session_expiry(port: int) -> None:
    cp = props(p_u32(0x11, 1))
    a = Raw(port, b"exp", 5, clean=True, cprops=cp)
    a.connack()
    a.close()
    b = Raw(port, b"exp", 5, clean=False, cprops=cp)
    assert b.connack()[0] == 1  # within its expiry
    b.close()
    time.sleep(1.6)
    c = Raw(port, b"exp", 5, clean=False, cprops=cp)
    assert c.connack()[0] == 0  # expired
    c.close()


def test_offline_queue_is_bounded(port: int) -> None:
    sub = Raw(port, b"bound", 4, clean=False)
    sub.connack()
    sub.sub(1, [(b"bound", 1)])
    sub.close()
    pub = Raw(port, b"bound-pub")
    pub.connack()
    pub.send(b"".join(publish_pkt(b"bound", str(i).encode(), 1, i + 1) for i in range(1010)))
    for _ in range(1010):
        pub.read()
    sub = Raw(port, b"bound", 4, clean=False)
    sub.connack()
    n = 0
    while True:
        try:
            first, body = sub.read(0.5)
        except TimeoutError:
            break
        mid = parse_publish(first, body, 4)[2]
        sub.send(bytes([0x40, 2]) + mid.to_bytes(2, "big"))
        n += 1
    assert n == 1000  # BROKER_QUEUE_MAX; the rest were dropped, not grown
    sub.close()
    pub.close()


# ---- wills ----

def test_will_delay_and_cancel(port: int) -> None:
    watch = Raw(port, b"w-watch", 5)
    watch.connack()
    watch.sub(1, [(b"will/#", 0)])
    wprops = props(p_u32(0x18, 1))
    cp = props(p_u32(0x11, 30))
    a = Raw(port, b"w-a", 5, cprops=cp, will=(b"will/a", b"late", 0, wprops))
    a.connack()
    a.close()
    assert watch.nothing(0.5)  # not before its delay
    first, body = watch.read(2)
    assert parse_publish(first, body, 5)[4] == b"late"
    b = Raw(port, b"w-b", 5, cprops=cp, will=(b"will/b", b"never", 0, wprops))
    b.connack()
    b.close()
    b = Raw(port, b"w-b", 5, clean=False, cprops=cp)  # back in time: cancelled
    b.connack()
    assert watch.nothing(1.5)
    b.close()
    watch.close()


def test_disconnect_with_will(port: int) -> None:
    watch = Raw(port, b"dw-watch", 5)
    watch.connack()
    watch.sub(1, [(b"dw/#", 0)])
    a = Raw(port, b"dw-a", 5, will=(b"dw/a", b"sent", 0, b""))
    a.connack()
    a.send(b"\xe0\x01\x04")  # DISCONNECT 0x04: with will
    first, body = watch.read()
    assert parse_publish(first, body, 5)[4] == b"sent"
    b = Raw(port, b"dw-b", 5, will=(b"dw/b", b"not sent", 0, b""))
    b.connack()
    b.send(b"\xe0\x00")  # normal DISCONNECT
    assert watch.nothing(0.5)
    watch.close()


# ---- subscriptions ----

def test_retain_handling_and_retain_as_published(port: int) -> None:
    pub = Raw(port, b"rh-pub", 5)
    pub.connack()
    pub.send(publish_pkt(b"rh/t", b"kept", 1, 1, 5, retain=True))
    pub.read()
    s = Raw(port, b"rh-sub", 5)
    s.connack()
    s.sub(1, [(b"rh/t", 0x20)])  # Retain Handling 2: none
    assert s.nothing()
    s.sub(2, [(b"rh/+", 0x10)])  # 1: new subscription: sent
    first, _ = s.read()
    assert first & 1
    s.sub(3, [(b"rh/+", 0x10)])  # 1: existing: not again
    assert s.nothing()
    s.sub(4, [(b"rh/t", 0x08)])  # Retain As Published, RH 0
    assert s.read()[0] & 1
    pub.send(publish_pkt(b"rh/t", b"live", 0, 0, 5, retain=True))
    first, _ = s.read()
    assert first & 1  # the live message keeps RETAIN through the RAP filter
    s.close()
    pub.close()


def test_no_local_and_subscription_ids(port: int) -> None:
    s = Raw(port, b"nl", 5)
    s.connack()
    s.sub(1, [(b"nl/a", 0x04)])  # No Local
    s.sub(2, [(b"nl/#", 0)], props(b"\x0b" + varint(300)))  # subscription id 300
    s.send(publish_pkt(b"nl/a", b"mine", 0, 0, 5))
    first, body = s.read()
    _, _, _, p, payload = parse_publish(first, body, 5)
    assert payload == b"mine" and p == b"\x0b" + varint(300)  # via nl/# only
    assert s.nothing()
    s.close()


def test_shared_subscriptions_take_turns(port: int) -> None:
    members = [Raw(port, f"sh{i}".encode(), 5) for i in range(2)]
    for m in members:
        m.connack()
        m.sub(1, [(b"$share/g/sh/t", 0)])
    pub = Raw(port, b"sh-pub", 5)
    pub.connack()
    for i in range(4):
        pub.send(publish_pkt(b"sh/t", str(i).encode(), 0, 0, 5))
    pub.ping()
    got = [[parse_publish(*m.read(), 5)[4] for _ in range(2)] for m in members]
    assert sorted(got) == [[b"0", b"2"], [b"1", b"3"]]
    assert all(m.nothing() for m in members)
    pub.close()


def test_many_filters_each_get_a_code(port: int) -> None:
    s = Raw(port, b"many", 5)
    s.connack()
    codes = s.sub(1, [(f"m/{i}".encode(), i % 3) for i in range(100)])
    assert codes == bytes(i % 3 for i in range(100))
    s.close()


# ---- MQTT 5 features ----

def test_properties_forwarded(port: int) -> None:
    s = Raw(port, b"pf", 5)
    s.connack()
    s.sub(1, [(b"pf", 1)])
    sent = (p_u8(0x01, 1) + p_str(0x03, b"text/plain") + p_str(0x08, b"reply/here")
            + p_str(0x09, b"\x01\x02corr") + p_pair(b"k", b"v") + p_pair(b"k", b"v2"))
    s.send(publish_pkt(b"pf", b"hi", 1, 5, 5, props(sent)))
    got = {}
    for _ in range(2):
        first, body = s.read()
        got[first >> 4] = (first, body)
    assert got[4][1] == b"\x00\x05"
    _, _, _, p, payload = parse_publish(*got[3], 5)
    assert payload == b"hi" and p == sent
    s.close()


def test_topic_alias_inbound(port: int) -> None:
    s = Raw(port, b"ta", 5)
    _, _, cp = s.connack()
    assert b"\x22\x00\x0a" in cp  # Topic Alias Maximum 10
    s.sub(1, [(b"ta/#", 0)])
    s.send(publish_pkt(b"ta/long/name", b"1", 0, 0, 5, props(p_u16(0x23, 3))))
    s.send(publish_pkt(b"", b"2", 0, 0, 5, props(p_u16(0x23, 3))))
    assert [parse_publish(*s.read(), 5)[::4] for _ in range(2)] == [
        (b"ta/long/name", b"1"), (b"ta/long/name", b"2")]
    s.send(publish_pkt(b"ta/x", b"3", 0, 0, 5, props(p_u16(0x23, 11))))  # above the maximum
    assert s.read() == (0xE0, b"\x94")
    s.close()


@pytest.mark.parametrize(("topic", "alias", "reason"), [
    (b"ta/x", 0, b"\x94"),   # alias 0 is never valid
    (b"", 4, b"\x82"),       # an alias never set: no topic to use
])
def test_topic_alias_invalid(port: int, topic: bytes, alias: int, reason: bytes) -> None:
    s = Raw(port, b"tai", 5)
    s.connack()
    s.sub(1, [(b"#", 0)])
    s.send(publish_pkt(topic, b"x", 0, 0, 5, props(p_u16(0x23, alias))))
    assert s.read() == (0xE0, reason)
    assert s.closed()


def test_maximum_packet_size(port: int) -> None:
    s = Raw(port, b"mps", 5, cprops=props(p_u32(0x27, 30)))
    s.connack()
    s.sub(1, [(b"mps", 1)])
    s.send(publish_pkt(b"mps", b"x" * 40, 1, 1, 5))
    assert s.read() == (0x40, b"\x00\x01")
    s.send(publish_pkt(b"mps", b"small", 1, 2, 5))
    got = [s.read(), s.read()]
    payloads = [parse_publish(*g, 5)[4] for g in got if g[0] >> 4 == 3]
    assert payloads == [b"small"]  # the large one was not sent to it
    s.close()


def test_assigned_client_identifier(port: int) -> None:
    s = Raw(port, b"", 5)
    _, rc, cp = s.connack()
    assert rc == 0 and b"\x12\x00" in cp and b"auto-" in cp
    s.close()


def test_message_expiry(port: int) -> None:
    sub = Raw(port, b"me", 5, clean=False, cprops=props(p_u32(0x11, 60)))
    sub.connack()
    sub.sub(1, [(b"me/#", 1)])
    sub.close()
    pub = Raw(port, b"me-pub", 5)
    pub.connack()
    pub.send(publish_pkt(b"me/short", b"gone", 1, 1, 5, props(p_u32(0x02, 1))))
    pub.send(publish_pkt(b"me/long", b"kept", 1, 2, 5, props(p_u32(0x02, 100))))
    pub.read()
    pub.read()
    time.sleep(1.5)
    sub = Raw(port, b"me", 5, clean=False, cprops=props(p_u32(0x11, 60)))
    sub.connack()
    topic, _, _, p, payload = parse_publish(*sub.read(), 5)
    assert (topic, payload) == (b"me/long", b"kept")
    left = int.from_bytes(p[1:5], "big")
    assert p[0] == 0x02 and 90 <= left < 100  # what is left of its lifetime
    assert sub.nothing()
    sub.close()
    pub.close()


def test_no_matching_subscribers_reason(port: int) -> None:
    s = Raw(port, b"nms", 5)
    s.connack()
    s.send(publish_pkt(b"nobody/here", b"x", 1, 9, 5))
    assert s.read() == (0x40, b"\x00\x09\x10")
    s.close()


# ---- rejections ----

@pytest.mark.parametrize(("raw", "expect"), [
    (connect_pkt(b"lvl", 6), b"\x20\x02\x00\x01"),            # unknown protocol level
    (connect_pkt(b"", 3), b"\x20\x02\x00\x02"),               # empty client id on 3.1
    (connect_pkt(b"", 4, clean=False), b"\x20\x02\x00\x02"),  # ... or without clean session
])
def test_connect_refused_with_code(port: int, raw: bytes, expect: bytes) -> None:
    s = Raw(port, raw=raw)
    assert s.s.recv(10) == expect
    assert s.closed()


@pytest.mark.parametrize("raw", [
    connect_pkt(b"bad\xff"),                                  # ill-formed UTF-8 client id
    connect_pkt(b"nul\x00"),                                  # U+0000 in client id
    connect_pkt(b"wt", will=(b"", b"m", 0, b"")),             # zero-length will topic
    connect_pkt(b"wt", will=(b"a/+", b"m", 0, b"")),          # wildcard will topic
    connect_pkt(b"up", flags=0x40, tail=s16(b"pw")),          # password without user name
    connect_pkt(b"un", tail=s16(b"user")),                    # user name bytes without flag
    connect_pkt(b"uu", flags=0x80, tail=s16(b"us\xc3er")),     # ill-formed UTF-8 user name
    connect_pkt(b"uz", flags=0x80, tail=s16(b"u\x00")),        # U+0000 in user name
    connect_pkt(b"wr", flags=0x20),                           # will retain without will
    connect_pkt(b"wq", flags=0x08),                           # will QoS without will
    connect_pkt(b"am", 5, cprops=props(p_str(0x15, b"SCRAM"))),  # unsupported auth method
])
def test_connect_rejected(port: int, raw: bytes) -> None:
    s = Raw(port, raw=raw)
    try:
        first, body = s.read()
    except (ConnectionError, OSError):
        return
    assert first == 0x20 and body[1] >= 0x80  # refused (v5 reason code)
    assert s.closed()


@pytest.mark.parametrize("v", [4, 5])
@pytest.mark.parametrize("pkt", [
    publish_pkt(b"a/+", b"x"), publish_pkt(b"a/#", b"x"), publish_pkt(b"", b"x"),
    publish_pkt(b"a\x00b", b"x"), publish_pkt(b"a\xc0\x80", b"x"),
    publish_pkt(b"qos1", b"x", 1, 0),                         # packet id 0
])
def test_bad_publish_closes_and_is_not_forwarded(port: int, v: int, pkt: bytes) -> None:
    watch = Raw(port, b"bp-watch", v)
    watch.connack()
    watch.sub(1, [(b"#", 0)])
    s = Raw(port, b"bp", v)
    s.connack()
    if v == 5:  # the same packets with an empty property list
        pkt = publish_pkt(*_unpack_publish(pkt), v=5)
    s.send(pkt)
    assert s.closed()
    assert watch.nothing(0.3)
    watch.close()


def _unpack_publish(pkt: bytes) -> tuple[bytes, bytes, int, int]:
    first, body = pkt[0], pkt[2:]
    n = int.from_bytes(body[:2], "big")
    qos = (first >> 1) & 3
    rest = body[2 + n:]
    mid = int.from_bytes(rest[:2], "big") if qos else 0
    return body[2:2 + n], rest[2:] if qos else rest, qos, mid


@pytest.mark.parametrize("v", [4, 5])
@pytest.mark.parametrize(("qos", "ack"), [(1, 0x50), (1, 0x70), (2, 0x40)],
                         ids=["pubrec-for-qos1", "pubcomp-for-qos1", "puback-for-qos2"])
def test_wrong_acknowledgement_kind_closes(port: int, v: int, qos: int, ack: int) -> None:
    s = Raw(port, b"wa", v)
    s.connack()
    s.sub(1, [(b"wa", qos)])
    s.send(publish_pkt(b"wa", b"x", qos, 1, v))
    got = {}
    for _ in range(2):
        first, body = s.read()
        got[first >> 4] = (first, body)
    mid = parse_publish(*got[3], v)[2]
    s.send(bytes([ack, 2]) + mid.to_bytes(2, "big"))  # the wrong kind for its QoS
    assert s.closed()


@pytest.mark.parametrize("v", [4, 5])
@pytest.mark.parametrize("filt", [b"a/#/b", b"a+", b"bad\xff", b"", b"$share/g+/x", b"$share/g"])
def test_bad_filter_rejected(port: int, filt: bytes, v: int) -> None:
    s = Raw(port, b"bf", v)
    s.connack()
    s.send(subscribe_pkt(1, [(b"ok", 0), (filt, 0)], v))
    if v == 5:
        assert s.read() == (0xE0, b"\x81")  # DISCONNECT: malformed
    assert s.closed()  # 3.1.1: closed without SUBACK


def test_topic_alias_outbound(port: int) -> None:
    s = Raw(port, b"tao", 5, cprops=props(p_u16(0x22, 1)))  # the client takes 1 alias
    s.connack()
    s.sub(1, [(b"tao/#", 0)])
    for topic in (b"tao/first", b"tao/first", b"tao/other"):
        s.send(publish_pkt(topic, b"m", 0, 0, 5))
    got = [parse_publish(*s.read(), 5) for _ in range(3)]
    assert [(g[0], g[3]) for g in got] == [
        (b"tao/first", p_u16(0x23, 1)),  # topic and its new alias
        (b"", p_u16(0x23, 1)),           # the alias alone
        (b"tao/other", b""),             # no alias left: the topic alone
    ]
    s.close()


def test_packet_too_large(port: int) -> None:
    s = Raw(port, b"big", 5)
    s.connack()
    # The header announces more than MG_MQTT_MAX_PACKET (1 MiB); the broker
    # decides from it, so only the start is sent.
    s.send(publish_pkt(b"big", b"x" * (1024 * 1024 + 10), 0, 0, 5)[:1000])
    assert s.read() == (0xE0, b"\x95")
    assert s.closed()


@pytest.mark.parametrize("v", [4, 5])
def test_inbound_receive_maximum(port: int, v: int) -> None:
    s = Raw(port, b"rm", v)
    _, _, cp = s.connack()
    if v == 5:
        assert b"\x21\x00\x14" in cp  # Receive Maximum 20 announced
    # 30 QoS 2 publishes, none released, in one write (the broker may close
    # after the 21st while more would still be on their way)
    s.send(b"".join(publish_pkt(b"rm", b"x", 2, mid, v) for mid in range(1, 31)))
    answers = []
    while True:
        try:
            answers.append(s.read(1))
        except (ConnectionError, TimeoutError, OSError):
            break
    if v == 5:  # 20 PUBRECs, then the 21st breaks the announced limit
        assert answers[:20] == [(0x50, mid.to_bytes(2, "big")) for mid in range(1, 21)]
        assert answers[20:] == [(0xE0, b"\x93")]
    else:  # 3.1.1 cannot be told a limit: up to 100 are taken
        assert answers == [(0x50, mid.to_bytes(2, "big")) for mid in range(1, 31)]
    s.close()


# ---- what the Eclipse Paho interoperability suites check (issue #21) ----

@pytest.mark.parametrize("v5", [False, True], ids=["v311", "v5"])
def test_overlapping_subscriptions_one_copy_at_the_highest_qos(port: int, v5: bool) -> None:
    sub = Paho(port, "ov-sub", v5=v5)
    sub.sub("ov/#", 2)
    sub.sub("ov/+", 1)
    pub = Paho(port, "ov-pub", v5=v5)
    pub.pub("ov/a", b"both", 2)
    sub.wait_msgs(1)
    pub.pub("ov/a", b"end", 1)  # published after: once it is in, so is any copy
    sub.wait(lambda: any(m[1] == b"end" for m in sub.msgs))
    got = [m for m in sub.msgs if m[1] == b"both"]
    assert got == [("ov/a", b"both", 2, False)]  # one copy, at the QoS of ov/#
    pub.close()
    sub.close()


@pytest.mark.parametrize("v", [4, 5])
def test_dollar_topics_are_not_matched_by_leading_wildcards(port: int, v: int) -> None:
    s = Raw(port, b"dl", v)
    s.connack()
    s.sub(1, [(b"#", 0), (b"+/x", 0), (b"+/broker/connection/+/state", 0)])
    s.sub(2, [(b"$test/#", 0)])
    s.send(publish_pkt(b"$test/x", b"dollar", 0, 0, v))
    s.send(publish_pkt(b"$SYS/broker/connection/br/state", b"1", 0, 0, v))
    s.send(publish_pkt(b"a/x", b"plain", 0, 0, v))
    got = [parse_publish(*s.read(), v) for _ in range(2)]
    # "$test/x" once, through "$test/#" only; the $SYS one through none;
    # "a/x" once (through "#" and "+/x": one copy)
    assert sorted((g[0], g[4]) for g in got) == [(b"$test/x", b"dollar"), (b"a/x", b"plain")]
    assert s.nothing()
    s.close()


def test_zero_length_client_id_with_clean_session(port: int) -> None:
    a = Raw(port, b"", 4)
    b = Raw(port, b"", 4)
    assert a.connack()[:2] == (0, 0) and b.connack()[:2] == (0, 0)
    # Each has a session of its own: neither took the other over.
    a.sub(1, [(b"zl", 0)])
    b.sub(1, [(b"zl", 0)])
    a.send(publish_pkt(b"zl", b"x"))
    assert parse_publish(*a.read(), 4)[4] == b"x"
    assert parse_publish(*b.read(), 4)[4] == b"x"
    a.close()
    b.close()


def test_takeover_disconnects_the_old_connection_with_its_reason(port: int) -> None:
    old = Raw(port, b"tko", 5)
    old.connack()
    new = Raw(port, b"tko", 5)
    new.connack()
    assert old.read() == (0xE0, b"\x8e")  # DISCONNECT "session taken over"
    assert old.closed()
    new.ping()  # the new one stays
    new.close()


def test_outbound_flow_control_honours_client_receive_maximum(port: int) -> None:
    s = Raw(port, b"ofc", 5, cprops=props(p_u16(0x21, 2)))  # Receive Maximum 2
    s.connack()
    s.sub(1, [(b"ofc", 1)])
    pub = Raw(port, b"ofc-pub", 5)
    pub.connack()
    for i in range(5):
        pub.send(publish_pkt(b"ofc", str(i).encode(), 1, i + 1, 5))
        pub.read()
    got = [parse_publish(*s.read(), 5) for _ in range(2)]
    assert [g[4] for g in got] == [b"0", b"1"]
    assert s.nothing(0.5)  # no third one while two are unacknowledged
    s.send(bytes([0x40, 2]) + got[0][2].to_bytes(2, "big"))
    third = parse_publish(*s.read(), 5)
    assert third[4] == b"2"
    assert s.nothing()
    for mid in (got[1][2], third[2]):
        s.send(bytes([0x40, 2]) + mid.to_bytes(2, "big"))
    assert [parse_publish(*s.read(), 5)[4] for _ in range(2)] == [b"3", b"4"]
    s.close()
    pub.close()


@pytest.mark.parametrize(("limit", "delivered"), [(21, True), (20, False)])
def test_maximum_packet_size_counts_the_whole_packet(port: int, limit: int,
                                                     delivered: bool) -> None:
    # The packet of mosquitto's 12-prop-maximum-packet-size-publish-qos1:
    # 1 (type) + 1 (remaining length 19) + 12 (topic) + 2 (id) + 1 (no
    # properties) + 4 (payload) = 21 bytes.
    s = Raw(port, b"mps21", 5, cprops=props(p_u32(0x27, limit)))
    s.connack()
    s.sub(1, [(b"test/topic", 1)])
    pub = Raw(port, b"mps21-pub", 5)
    pub.connack()
    pub.send(publish_pkt(b"test/topic", b"7890", 1, 2, 5))
    pub.read()
    if delivered:
        first, body = s.read()
        assert len(packet(first, body)) == 21
        assert parse_publish(first, body, 5)[4] == b"7890"
    else:
        assert s.nothing()
    s.close()
    pub.close()


def test_request_response_properties_reach_the_responder(port: int) -> None:
    """The MQTT 5 request/response pattern through the broker: the responder
    gets the response topic and correlation data, its answer reaches the
    requester with the correlation data intact."""
    req = Raw(port, b"rr-req", 5)
    req.connack()
    req.sub(1, [(b"rr/reply/req", 1)])
    resp = Raw(port, b"rr-resp", 5)
    resp.connack()
    resp.sub(1, [(b"rr/service", 1)])
    ask = p_str(0x08, b"rr/reply/req") + p_str(0x09, b"\x00id-42")
    req.send(publish_pkt(b"rr/service", b"question", 1, 1, 5, props(ask)))
    assert req.read() == (0x40, b"\x00\x01")
    _, _, mid, p, payload = parse_publish(*resp.read(), 5)
    assert payload == b"question" and p == ask
    resp.send(bytes([0x40, 2]) + mid.to_bytes(2, "big"))
    resp.send(publish_pkt(b"rr/reply/req", b"answer", 1, 1, 5, props(p_str(0x09, b"\x00id-42"))))
    assert resp.read() == (0x40, b"\x00\x01")
    _, _, _, p, payload = parse_publish(*req.read(), 5)
    assert payload == b"answer" and p == p_str(0x09, b"\x00id-42")
    req.close()
    resp.close()


@pytest.mark.parametrize("fmt", [0, 1])
def test_payload_format_indicator_forwarded(port: int, fmt: int) -> None:
    s = Raw(port, b"pfi", 5)
    s.connack()
    s.sub(1, [(b"pfi", 0)])
    s.send(publish_pkt(b"pfi", b"\xff\xfe" if fmt == 0 else b"text", 0, 0, 5,
                       props(p_u8(0x01, fmt))))
    assert parse_publish(*s.read(), 5)[3] == p_u8(0x01, fmt)
    s.close()


def test_unsuback_reason_codes(port: int) -> None:
    s = Raw(port, b"unsub", 5)
    s.connack()
    s.sub(1, [(b"us/a", 0)])
    body = (2).to_bytes(2, "big") + props() + s16(b"us/a") + s16(b"us/never")
    s.send(packet(0xA2, body))
    # one code per filter: success, then "no subscription existed"
    assert s.read() == (0xB0, b"\x00\x02\x00\x00\x11")
    s.send(publish_pkt(b"us/a", b"x", 0, 0, 5))
    assert s.nothing()  # really unsubscribed
    s.close()
