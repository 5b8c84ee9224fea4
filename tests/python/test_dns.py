"""The asynchronous DNS resolver against a DNS server on 127.0.0.1 started by
the test (records built with dnslib): A and AAAA answers used by connect(),
NXDOMAIN, truncated answers, garbage, compression loops, silence (timeouts
and retries), cancellation, .invalid names, and MG_DNS_SERVER."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_CLOSE, MG_EV_CONNECT, MG_EV_ERROR, MG_EV_HTTP_MSG, MG_EV_RESOLVE
from mgtest import poll_until

dnslib = pytest.importorskip("dnslib")

Behaviour = Callable[[Any, bytes], "bytes | None"]


class DnsServer:
    """UDP DNS server on 127.0.0.1; `behaviour(query, raw)` returns the reply
    bytes or None (silence). Counts the queries it got per name."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"udp://127.0.0.1:{self.port}"
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                raw, peer = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            q = dnslib.DNSRecord.parse(raw)
            self.queries.append((str(q.q.qname).rstrip("."), dnslib.QTYPE[q.q.qtype]))
            reply = self.behaviour(q, raw)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        self.sock.close()


ZONE = {
    ("web.test", "A"): "127.0.0.1",
    ("v6only.test", "AAAA"): "::1",
}


def zone_behaviour(q: Any, raw: bytes) -> bytes:
    name = str(q.q.qname).rstrip(".").lower()
    qtype = dnslib.QTYPE[q.q.qtype]
    r = q.reply()
    known = {n for n, _ in ZONE}
    if name not in known:
        r.header.rcode = dnslib.RCODE.NXDOMAIN
    elif (name, qtype) in ZONE:
        rdata = dnslib.A(ZONE[(name, qtype)]) if qtype == "A" else dnslib.AAAA(ZONE[(name, qtype)])
        # A CNAME first, as real servers often answer.
        r.add_answer(dnslib.RR(name, dnslib.QTYPE.CNAME, rdata=dnslib.CNAME("alias." + name), ttl=60))
        r.add_answer(dnslib.RR(name, getattr(dnslib.QTYPE, qtype), rdata=rdata, ttl=60))
    return r.pack()


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    s = DnsServer(zone_behaviour)
    yield s
    s.close()


def record(events: list[tuple[int, Any]]) -> Callable[[mg.Connection, int, Any], None]:
    def h(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev in (MG_EV_RESOLVE, MG_EV_CONNECT, MG_EV_ERROR, MG_EV_CLOSE, MG_EV_HTTP_MSG):
            events.append((ev, data if ev != MG_EV_HTTP_MSG else data.body_text))
            if ev == MG_EV_RESOLVE:
                events.append((-1, conn.remote_addr))
    return h


def test_a_record_used_by_http_connect(mgr: mg.Manager, dns: DnsServer) -> None:
    mgr.set_dns_server(dns.url)
    srv = mgr.listen("http://127.0.0.1:0", lambda c, ev, d: c.reply(200, "via dns")
                     if ev == MG_EV_HTTP_MSG else None)
    port = srv.local_addr[1]
    events: list[tuple[int, Any]] = []
    h = record(events)

    def client(conn: mg.Connection, ev: int, data: Any) -> None:
        h(conn, ev, data)
        if ev == MG_EV_CONNECT:
            conn.send(b"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n")

    mgr.connect(f"http://WEB.test:{port}/", client)
    assert poll_until(mgr, lambda: any(e == MG_EV_HTTP_MSG for e, _ in events))
    assert (MG_EV_HTTP_MSG, "via dns") in events
    assert (-1, ("127.0.0.1", port, False)) in events
    assert events.index((MG_EV_RESOLVE, None)) < events.index((MG_EV_CONNECT, None))
    assert dns.queries == [("WEB.test", "A")] or dns.queries == [("web.test", "A")]


def test_aaaa_when_no_a(mgr: mg.Manager, dns: DnsServer) -> None:
    mgr.set_dns_server(dns.url)
    events: list[tuple[int, Any]] = []
    c = mgr.connect("tcp://v6only.test:9", record(events))
    assert poll_until(mgr, lambda: any(e == MG_EV_RESOLVE for e, _ in events))
    assert (-1, ("0000:0000:0000:0000:0000:0000:0000:0001", 9, True)) in events or \
        any(e == -1 and d[2] for e, d in events)
    assert [t for _, t in dns.queries] == ["A", "AAAA"]
    c.close()


def test_nxdomain(mgr: mg.Manager, dns: DnsServer) -> None:
    mgr.set_dns_server(dns.url)
    events: list[tuple[int, Any]] = []
    mgr.connect("tcp://missing.test:80", record(events))
    assert poll_until(mgr, lambda: any(e == MG_EV_CLOSE for e, _ in events))
    assert (MG_EV_ERROR, "missing.test DNS lookup failed") in events
    assert not any(e == MG_EV_RESOLVE for e, _ in events)
    assert len(dns.queries) == 1  # an answer is final, no retry


def test_invalid_tld_sends_nothing(mgr: mg.Manager, dns: DnsServer) -> None:
    mgr.set_dns_server(dns.url)
    events: list[tuple[int, Any]] = []
    mgr.connect("tcp://no-such-host.invalid:80", record(events))
    assert poll_until(mgr, lambda: any(e == MG_EV_CLOSE for e, _ in events))
    assert (MG_EV_ERROR, "no-such-host.invalid DNS lookup failed") in events
    assert dns.queries == []


def odd_server(kind: str) -> Behaviour:
    def b(q: Any, raw: bytes) -> bytes | None:
        if kind == "silence":
            return None
        if kind == "garbage":
            return os.urandom(40)
        if kind == "wrong_txid":
            r = q.reply()
            r.header.id ^= 0xFFFF
            r.add_answer(dnslib.RR(str(q.q.qname), dnslib.QTYPE.A, rdata=dnslib.A("127.0.0.9")))
            return r.pack()
        if kind == "loop":
            # Header + question, then one answer whose name is a pointer to
            # itself: a compression loop.
            head = raw[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + raw[12:]
            pos = len(head)
            return head + bytes([0xC0 | (pos >> 8), pos & 0xFF]) + \
                b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
        if kind == "truncated_empty":
            r = q.reply()
            r.header.tc = 1
            return r.pack()
        if kind == "truncated_cut":
            r = q.reply()
            r.add_answer(dnslib.RR(str(q.q.qname), dnslib.QTYPE.A, rdata=dnslib.A("127.0.0.1")))
            r.header.tc = 1
            return r.pack()[:-3]  # the answer's address is cut off
        raise AssertionError(kind)
    return b


@pytest.mark.parametrize("kind,queries", [
    ("silence", 3), ("garbage", 3), ("wrong_txid", 3), ("loop", 3),
    ("truncated_empty", 1), ("truncated_cut", 1),
])
def test_failures(mgr: mg.Manager, kind: str, queries: int) -> None:
    srv = DnsServer(odd_server(kind))
    try:
        mgr.set_dns_server(srv.url, timeout_ms=150, retries=2)
        events: list[tuple[int, Any]] = []
        mgr.connect("tcp://host.test:80", record(events))
        assert poll_until(mgr, lambda: any(e == MG_EV_CLOSE for e, _ in events), 5)
        assert (MG_EV_ERROR, "host.test DNS lookup failed") in events
        assert not any(e == MG_EV_RESOLVE for e, _ in events)
        assert len(srv.queries) == queries  # 1 + retries unless answered
    finally:
        srv.close()


def test_garbage_then_answer(mgr: mg.Manager) -> None:
    """Garbage is ignored; the retry gets the real answer."""
    calls: list[int] = []

    def b(q: Any, raw: bytes) -> bytes:
        calls.append(1)
        if len(calls) == 1:
            return b"\xff" * 7
        return zone_behaviour(q, raw)

    srv = DnsServer(b)
    try:
        mgr.set_dns_server(srv.url, timeout_ms=150, retries=2)
        events: list[tuple[int, Any]] = []
        mgr.connect("tcp://web.test:7", record(events))
        assert poll_until(mgr, lambda: any(e == MG_EV_RESOLVE for e, _ in events), 5)
        assert (-1, ("127.0.0.1", 7, False)) in events
        assert len(calls) == 2
    finally:
        srv.close()


def test_resolve_cancel_and_many(mgr: mg.Manager) -> None:
    srv = DnsServer(zone_behaviour)
    try:
        mgr.set_dns_server(srv.url)
        events: list[tuple[int, Any]] = []
        lst = mgr.listen("tcp://127.0.0.1:0", record(events))
        lst.resolve("tcp://web.test:1")
        lst.resolve_cancel()  # C-33: no MG_EV_RESOLVE follows
        # Many lookups in flight at once all complete.
        many: list[list[tuple[int, Any]]] = [[] for _ in range(20)]
        for i in range(20):
            mgr.connect(f"udp://web.test:{1000 + i}", record(many[i]))
        assert poll_until(mgr, lambda: all(any(e == MG_EV_RESOLVE for e, _ in m) for m in many))
        mgr.poll(50)
        assert not any(e == MG_EV_RESOLVE for e, _ in events)
        assert [m[1] for m in many] == [(-1, ("127.0.0.1", 1000 + i, False)) for i in range(20)]
        # Closing a connection while its lookup is in flight is harmless.
        c = mgr.connect("tcp://web.test:2")
        c.close()
        mgr.poll(50)
    finally:
        srv.close()


def test_set_dns_server_validation(mgr: mg.Manager) -> None:
    with pytest.raises(ValueError, match="Invalid DNS server"):
        mgr.set_dns_server("udp://dns.example:53")
    with pytest.raises(ValueError):
        mgr.set_dns_server("tcp://127.0.0.1:53")
    with pytest.raises(ValueError):
        mgr.set_dns_server("udp://127.0.0.1:53", timeout_ms=0)


def test_ws_and_mqtt_connect_by_name(mgr: mg.Manager, dns: DnsServer) -> None:
    mgr.set_dns_server(dns.url)
    opened: list[str] = []

    def srv(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data)

    lst = mgr.listen("http://127.0.0.1:0", srv)
    mgr.ws_connect(f"ws://web.test:{lst.local_addr[1]}/",
                   lambda c, ev, d: opened.append("ws") if ev == mg.MG_EV_WS_OPEN else None)

    def broker(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_MQTT_CMD and data.cmd == 1:
            conn.send(b"\x20\x02\x00\x00")

    b = mgr.mqtt_listen("mqtt://127.0.0.1:0", broker)
    mgr.mqtt_connect(f"mqtt://web.test:{b.local_addr[1]}",
                     lambda c, ev, d: opened.append("mqtt") if ev == mg.MG_EV_MQTT_OPEN else None)
    assert poll_until(mgr, lambda: sorted(opened) == ["mqtt", "ws"])


def test_env_default_server(dns: DnsServer) -> None:
    """Without set_dns_server the platform default is used: $MG_DNS_SERVER
    here (else the first nameserver of /etc/resolv.conf)."""
    code = (
        "import cymongoose as mg\n"
        "ev = []\n"
        "m = mg.Manager()\n"
        "m.connect('tcp://web.test:5', lambda c, e, d: ev.append((e, c.remote_addr)))\n"
        "for _ in range(200):\n"
        "    m.poll(10)\n"
        "    if any(e == mg.MG_EV_RESOLVE for e, _ in ev): break\n"
        "print([a for e, a in ev if e == mg.MG_EV_RESOLVE])\n"
    )
    env = dict(os.environ, MG_DNS_SERVER=dns.url)
    out = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('127.0.0.1', 5, False)]"
    assert dns.queries == [("web.test", "A")]


def test_idle_resolver_does_not_wake_poll(mgr: mg.Manager, dns: DnsServer) -> None:
    import time

    mgr.set_dns_server(dns.url)
    events: list[tuple[int, Any]] = []
    c = mgr.connect("udp://web.test:9", record(events))
    assert poll_until(mgr, lambda: any(e == MG_EV_RESOLVE for e, _ in events))
    c.close()
    end = time.monotonic() + 0.25
    while time.monotonic() < end:  # the retry timer sees nothing left to do
        mgr.poll(20)
    t0 = time.monotonic()
    mgr.poll(400)
    assert time.monotonic() - t0 >= 0.3
