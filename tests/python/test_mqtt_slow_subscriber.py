"""A subscriber that never reads must not grow our example brokers without bound
(issue #22.1). Policy (docs/protocols/mqtt.md, "Slow subscribers"): a QoS 0 delivery
to a subscriber whose send buffer is at or above its high-water mark is dropped; a
subscriber whose send buffer passes 4x the mark is disconnected. Both brokers run as
processes, so their resident memory (VmRSS) can be read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mgtest import free_port
from mqttpeers import Paho, wait_port

pytest.importorskip("paho.mqtt.client")

ROOT = Path(__file__).resolve().parents[2]
FLOOD_SECONDS = 3.0
PAYLOAD = b"x" * 4096
RSS_GROWTH_MAX = 48 * 1024 * 1024  # default high-water mark 1 MiB: 4 MiB + slack


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def start_broker(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    if kind == "c":
        exe = Path(os.environ.get("MG_HOST_DIR", ROOT / "build" / "host")) / "mqtt_broker"
        if not exe.exists():
            pytest.skip(f"C example broker not built ({exe}; run `make host`)")
        argv = [str(exe), f"mqtt://127.0.0.1:{port}"]
    else:
        argv = [sys.executable, str(ROOT / "examples" / "mqtt_broker.py"),
                f"mqtt://127.0.0.1:{port}"]
    # Under ASan (an instrumented broker or extension) freed blocks sit in a
    # quarantine that counts as resident memory: keep it small for the bound.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {**os.environ, "ASAN_OPTIONS": f"{asan}:quarantine_size_mb=8".lstrip(":")}
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wait_port(port)
    return p, port


def stop(p: subprocess.Popen[bytes]) -> str:
    p.terminate()
    try:
        _, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return err.decode(errors="replace")


def silent_subscriber(port: int, topic: bytes, qos: int) -> socket.socket:
    """CONNECT + SUBSCRIBE on a raw socket with a small receive buffer; after the
    SUBACK it never reads again."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(5)
    body = b"\x00\x04MQTT\x04\x02\x00\x00\x00\x04slow"  # clean, no keep-alive
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    sub = b"\x00\x01" + len(topic).to_bytes(2, "big") + topic + bytes([qos])
    s.sendall(bytes([0x82, len(sub)]) + sub)
    assert s.recv(5) == bytes([0x90, 3, 0, 1, qos])
    return s


def flood(pub: Paho, topic: str, seconds: float) -> int:
    """QoS 0 publishes as fast as paho goes for `seconds`; returns the count."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(50):
            pub.c.publish(topic, PAYLOAD, 0)
        n += 50
    return n


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def raw_flood_qos1(port: int, topic: bytes, payload: bytes, seconds: float) -> int:
    """QoS 1 publishes from a raw socket for `seconds` (a thread discards the
    PUBACKs, so the broker keeps reading us); returns the count."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = b"\x00\x04MQTT\x04\x02\x00\x00\x00\x02q1"
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    stop = threading.Event()

    def drain() -> None:
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                if not s.recv(1 << 16):
                    return
            except TimeoutError:
                pass
            except OSError:
                return

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        batch = bytearray()
        for _ in range(50 if len(payload) < 65536 else 1):
            n += 1
            var = len(topic).to_bytes(2, "big") + topic + (n % 65535 + 1).to_bytes(2, "big")
            batch += b"\x32" + varint(len(var) + len(payload)) + var + payload
        s.sendall(batch)
    stop.set()
    t.join(2)
    s.close()
    return n


@pytest.mark.parametrize("kind", ["c", "python"])
def test_qos0_to_never_reading_subscriber_is_bounded(kind: str) -> None:
    p, port = start_broker(kind)
    try:
        slow = silent_subscriber(port, b"flood/#", 0)
        watcher = Paho(port, "watcher")  # other subscribers are still served
        watcher.sub("flood/end", 1)
        pub = Paho(port, "flooder")
        base = rss(p.pid)
        sent = flood(pub, "flood/a", FLOOD_SECONDS)
        pub.pub("flood/end", b"done", 1)  # the publisher is still served (PUBACK)
        grown = rss(p.pid) - base
        assert watcher.wait(lambda: any(m[0] == "flood/end" for m in watcher.msgs), 10)
        assert p.poll() is None, "the broker died"
        pub.close()
        watcher.close()
        slow.close()
    finally:
        err = stop(p)
    print(f"{kind}: {sent} QoS 0 publishes in {FLOOD_SECONDS} s, RSS growth {grown >> 10} KiB")
    assert sent > 2000, f"only {sent} publishes in {FLOOD_SECONDS} s"
    assert grown < RSS_GROWTH_MAX, f"broker grew {grown >> 20} MiB for one slow subscriber"
    assert err.count("dropping QoS 0") == 1, err  # logged once


@pytest.mark.parametrize("kind", ["c", "python"])
@pytest.mark.parametrize("size", [4096, 512 * 1024], ids=["queue-full", "4x-high-mark"])
def test_qos1_never_reading_subscriber_is_disconnected(kind: str, size: int) -> None:
    """Small messages: the core's queue of unacknowledged messages fills
    (MG_MQTT_QUEUE_MAX) and the broker disconnects instead of losing one; large
    ones: the 20 in flight pass 4x the high-water mark first."""
    p, port = start_broker(kind)
    try:
        slow = silent_subscriber(port, b"q1/#", 1)
        base = rss(p.pid)
        sent = raw_flood_qos1(port, b"q1/a", b"y" * size, FLOOD_SECONDS)
        grown = rss(p.pid) - base
        pub = Paho(port, "q1-after")
        pub.pub("q1/end", b"done", 1)  # still serving
        # The broker closed the slow subscriber: reading what it queued ends in EOF.
        slow.settimeout(5)
        closed = False
        try:
            while slow.recv(1 << 20):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            pass
        pub.close()
        slow.close()
    finally:
        err = stop(p)
    print(f"{kind}: {sent} QoS 1 publishes of {size} B in {FLOOD_SECONDS} s, RSS growth {grown >> 10} KiB")
    assert sent * size > 64 << 20, f"only {sent} publishes in {FLOOD_SECONDS} s"
    assert closed, "the never-reading QoS 1 subscriber was not disconnected"
    assert grown < RSS_GROWTH_MAX, f"broker grew {grown >> 20} MiB for one slow subscriber"
    assert "disconnecting a subscriber that does not read" in err, err
    assert ("more than 4 x" in err) == (size > 4096), err  # which limit was hit
