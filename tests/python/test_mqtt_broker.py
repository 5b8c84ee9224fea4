"""Our example brokers (examples/mqtt_broker.py and the C twin
examples/mqtt_broker/) against paho-mqtt clients (MQTT 3.1.1 and 5) and the
mosquitto_pub / mosquitto_sub tools: wildcards, QoS 0/1, retained messages,
persistent sessions, will messages, keep-alive expiry, session takeover,
bad input."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from mqttpeers import Paho, broker

pytest.importorskip("paho.mqtt.client")


@pytest.fixture(params=["python", "c"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    with broker(request.param) as p:
        yield p


@pytest.mark.parametrize("v5", [False, True], ids=["v311", "v5"])
def test_wildcards_and_qos(port: int, v5: bool) -> None:
    sub = Paho(port, "sub", v5=v5)
    assert sub.connack == (False, 0)
    sub.sub("home/+/temp", 1)
    sub.sub("office/#", 0)
    pub = Paho(port, "pub", v5=v5)
    pub.pub("home/kitchen/temp", b"21", 1)
    pub.pub("home/kitchen/humidity", b"40", 1)    # no match
    pub.pub("home/a/b/temp", b"x", 1)             # + is one level only
    pub.pub("office", b"parent", 1)               # '#' matches the parent level
    pub.pub("office/floor1/room2", b"deep", 1)    # delivered at the subscription's QoS 0
    pub.pub("home/bath/temp", b"q0", 0)
    got = sub.wait_msgs(4)
    time.sleep(0.2)  # nothing else arrives
    got = list(sub.msgs)
    pub.close()
    sub.close()
    assert sorted(got) == sorted([
        ("home/kitchen/temp", b"21", 1, False),
        ("office", b"parent", 0, False),
        ("office/floor1/room2", b"deep", 0, False),
        ("home/bath/temp", b"q0", 0, False),
    ])


def test_unsubscribe(port: int) -> None:
    sub = Paho(port, "u-sub")
    sub.sub("u/#", 1)
    pub = Paho(port, "u-pub")
    pub.pub("u/1", b"a", 1)
    assert sub.wait_msgs(1)[0][:2] == ("u/1", b"a")
    sub.unsub("u/#")
    pub.pub("u/2", b"b", 1)
    time.sleep(0.3)
    assert len(sub.msgs) == 1
    pub.close()
    sub.close()


@pytest.mark.parametrize("v5", [False, True], ids=["v311", "v5"])
def test_retained(port: int, v5: bool) -> None:
    pub = Paho(port, "r-pub", v5=v5)
    pub.pub("r/lamp", b"on", 1, retain=True)
    pub.pub("r/fan", b"off", 0, retain=True)
    sub = Paho(port, "r-sub", v5=v5)
    sub.sub("r/+", 1)
    got = sub.wait_msgs(2)
    assert sorted(got) == [("r/fan", b"off", 0, True), ("r/lamp", b"on", 1, True)]
    # A live publish with retain=True reaches current subscribers without the flag.
    pub.pub("r/lamp", b"dim", 1, retain=True)
    assert sub.wait_msgs(3)[2] == ("r/lamp", b"dim", 1, False)
    # Empty payload clears it.
    pub.pub("r/lamp", b"", 1, retain=True)
    sub.close()
    late = Paho(port, "r-late", v5=v5)
    late.sub("r/#", 1)
    time.sleep(0.3)
    assert [m[0] for m in late.wait_msgs(1)] == ["r/fan"]
    late.close()
    pub.close()


@pytest.mark.parametrize("v5", [False, True], ids=["v311", "v5"])
def test_persistent_session_queues_qos1(port: int, v5: bool) -> None:
    sub = Paho(port, "persist", v5=v5, clean=False)
    sub.sub("p/#", 1)
    sub.close()
    time.sleep(0.2)
    pub = Paho(port, "p-pub", v5=v5)
    pub.pub("p/1", b"while away", 1)
    pub.pub("p/0", b"qos0 dropped", 0)
    pub.close()
    back = Paho(port, "persist", v5=v5, clean=False)
    assert back.connack == (True, 0)  # session present
    got = back.wait_msgs(1)
    time.sleep(0.2)
    back.close()
    assert [m[:2] for m in back.msgs] == [("p/1", b"while away")]
    assert got
    # A clean session starts over.
    fresh = Paho(port, "persist", v5=v5, clean=True)
    assert fresh.connack == (False, 0)
    fresh.close()


def test_will_on_abrupt_close(port: int) -> None:
    watcher = Paho(port, "w-watch")
    watcher.sub("will/#", 1)
    dying = Paho(port, "w-dying", will=("will/dying", b"bye", 1, False))
    dying.close(clean=False)
    assert watcher.wait_msgs(1)[0] == ("will/dying", b"bye", 1, False)
    # A clean DISCONNECT discards the will.
    polite = Paho(port, "w-polite", will=("will/polite", b"no", 1, False))
    polite.close(clean=True)
    time.sleep(0.4)
    assert [m[0] for m in watcher.msgs] == ["will/dying"]
    watcher.close()


def raw_connect(port: int, client_id: bytes, keepalive: int,
                will: tuple[bytes, bytes] | None = None) -> socket.socket:
    flags = 0x02 | (0x04 | 0x08 if will else 0)  # clean, will QoS 1
    body = b"\x00\x04MQTT\x04" + bytes([flags]) + keepalive.to_bytes(2, "big")
    body += len(client_id).to_bytes(2, "big") + client_id
    if will:
        for part in will:
            body += len(part).to_bytes(2, "big") + part
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    return s


def test_keepalive_expiry_publishes_will(port: int) -> None:
    watcher = Paho(port, "ka-watch")
    watcher.sub("ka/#", 1)
    s = raw_connect(port, b"silent", 1, (b"ka/silent", b"expired"))
    t0 = time.monotonic()
    got = watcher.wait_msgs(1, timeout=6)
    elapsed = time.monotonic() - t0
    assert got and got[0][:2] == ("ka/silent", b"expired")
    assert 1.0 <= elapsed < 5.0
    s.settimeout(2)
    assert s.recv(10) == b""  # the broker closed the silent client
    s.close()
    watcher.close()


def test_session_takeover(port: int) -> None:
    first = raw_connect(port, b"same-id", 60)
    second = Paho(port, "same-id")
    first.settimeout(3)
    assert first.recv(10) == b""  # the older connection is closed
    first.close()
    second.sub("t/1", 0)
    second.pub("t/1", b"still works", 0)
    assert second.wait_msgs(1)[0][:2] == ("t/1", b"still works")
    second.close()


@pytest.mark.parametrize("junk", [b"\x30\x05\x00\x01a", b"\x82\xff\xff\xff\xff\x7f",
                                  b"\x10\x00", b"GET / HTTP/1.1\r\n\r\n"])
def test_bad_input_keeps_serving(port: int, junk: bytes) -> None:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(junk)
    s.settimeout(3)
    try:
        data = s.recv(100)
    except TimeoutError:
        data = None  # an incomplete packet may just wait
    s.close()
    assert data in (b"", None)
    ok = Paho(port, "after-junk")
    ok.sub("j", 0)
    ok.pub("j", b"fine", 0)
    assert ok.wait_msgs(1)[0][:2] == ("j", b"fine")
    ok.close()


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_tools(port: int, version: str) -> None:
    if shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto_sub is not installed (Debian package mosquitto-clients)")
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", version,
                            "-t", "cli/#", "-C", "2", "-v", "-q", "1", "-W", "10"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # let it subscribe
    for i in (1, 2):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", version,
                        "-t", f"cli/{i}", "-m", f"msg {i}", "-q", "1"], check=True, timeout=10)
    out, err = sub.communicate(timeout=15)
    assert sub.returncode == 0, err
    assert out.splitlines() == ["cli/1 msg 1", "cli/2 msg 2"]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _read_packet(s: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    """One packet (first byte, body) from s, buffered in buf."""
    while True:
        if len(buf) >= 2:
            n, mult, i = 0, 1, 1
            while i < len(buf) and i <= 4:
                n += (buf[i] & 0x7F) * mult
                mult *= 128
                if not buf[i] & 0x80:
                    break
                i += 1
            else:
                i = -1
            if i > 0 and len(buf) >= i + 1 + n:
                first, body = buf[0], bytes(buf[i + 1:i + 1 + n])
                del buf[:i + 1 + n]
                return first, body
        chunk = s.recv(65536)
        assert chunk, "the broker closed the connection"
        buf += chunk


def test_many_subscriptions_one_connection(port: int) -> None:
    """50k filters over one connection, in pipelined SUBSCRIBE packets of 1000:
    every filter gets its code, a publish is routed to the one it matches, and
    UNSUBSCRIBE of all of them stops delivery. (The C broker walked a list per
    filter, and acknowledged at most 64 filters per packet.)"""
    packets, per = 50, 1000
    s = raw_connect(port, b"many-subs", 60)
    s.settimeout(30)
    out = bytearray()
    for k in range(packets):
        body = (k + 1).to_bytes(2, "big")
        for i in range(per):
            f = f"many/{k * per + i}".encode()
            body += len(f).to_bytes(2, "big") + f + b"\x01"
        out += b"\x82" + _varint(len(body)) + body
    s.sendall(out)
    buf = bytearray()
    for k in range(packets):
        first, body = _read_packet(s, buf)
        assert first == 0x90 and body[:2] == (k + 1).to_bytes(2, "big")
        assert body[2:] == b"\x01" * per, f"SUBACK {k + 1}: {len(body) - 2} codes"
    pub = Paho(port, "many-pub")
    pub.pub("many/31337", b"found", 0)
    first, body = _read_packet(s, buf)
    assert first >> 4 == 3 and body == b"\x00\x0amany/31337found"
    out = bytearray()
    for k in range(packets):
        body = (k + 1).to_bytes(2, "big")
        for i in range(per):
            f = f"many/{k * per + i}".encode()
            body += len(f).to_bytes(2, "big") + f
        out += b"\xa2" + _varint(len(body)) + body
    s.sendall(out)
    for k in range(packets):
        assert _read_packet(s, buf) == (0xB0, (k + 1).to_bytes(2, "big"))
    pub.pub("many/31337", b"gone", 0)
    s.sendall(b"\xc0\x00")  # PINGREQ: its PINGRESP comes after any delivery
    assert _read_packet(s, buf) == (0xD0, b"")
    pub.close()
    s.close()


def test_retained_sent_for_new_subscriptions_only(port: int) -> None:
    """A SUBSCRIBE delivers the retained messages of its own filters, not again
    those of the session's earlier subscriptions (the C broker re-sent them)."""
    pub = Paho(port, "ro-pub")
    pub.pub("ro/a", b"kept", 1, retain=True)
    sub = Paho(port, "ro-sub")
    sub.sub("ro/a", 1)
    assert sub.wait_msgs(1) == [("ro/a", b"kept", 1, True)]
    sub.sub("ro/other", 1)
    pub.pub("ro/other", b"live", 1)  # arrives after anything the SUBSCRIBE caused
    got = sub.wait_msgs(2)
    pub.pub("ro/a", b"", 1, retain=True)
    pub.close()
    sub.close()
    assert got == [("ro/a", b"kept", 1, True), ("ro/other", b"live", 1, False)]
