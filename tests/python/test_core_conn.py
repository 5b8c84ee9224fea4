"""Connections over loopback with real peers (docs/api-contract.md#connection, C-10..C-19)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable

import cymongoose as mg
import pytest
from mgtest import free_port, poll_until


class Recorder:
    """Handler recording (connection id, event) pairs and received bytes."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int]] = []
        self.data: dict[int, bytes] = {}
        self.conns: dict[int, mg.Connection] = {}

    def __call__(self, conn: mg.Connection, ev: int, data: object) -> None:
        self.events.append((conn.id, ev))
        self.conns.setdefault(conn.id, conn)
        if ev == mg.MG_EV_READ:
            self.data[conn.id] = self.data.get(conn.id, b"") + conn.recv_data()

    def count(self, ev: int) -> int:
        return sum(1 for _, e in self.events if e == ev)


def echo(conn: mg.Connection, ev: int, data: object) -> None:
    if ev == mg.MG_EV_READ:
        conn.send(conn.recv_data())


def test_echo_with_a_python_socket_peer(mgr: mg.Manager) -> None:
    port = mgr.listen("tcp://127.0.0.1:0", echo).local_addr[1]
    with socket.create_connection(("127.0.0.1", port)) as s:
        payload = bytes(range(256)) * 400  # 100 KiB, several reads
        s.sendall(payload)
        got = b""
        s.settimeout(0.01)
        while len(got) < len(payload):
            mgr.poll(5)
            try:
                got += s.recv(65536)
            except TimeoutError:
                pass
        assert got == payload


@pytest.mark.skipif(shutil.which("nc") is None, reason="needs nc (netcat-openbsd)")
def test_echo_with_netcat_peer(mgr: mg.Manager) -> None:
    port = mgr.listen("tcp://127.0.0.1:0", echo).local_addr[1]
    proc = subprocess.Popen(["nc", "-q", "1", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"hello from netcat\n")
    proc.stdin.close()
    deadline = 200
    while proc.poll() is None and deadline:
        mgr.poll(10)
        deadline -= 1
    assert proc.stdout.read() == b"hello from netcat\n"


def test_events_identity_and_sequences(mgr: mg.Manager) -> None:
    rec = Recorder()
    lst = mgr.listen("tcp://127.0.0.1:0", rec)
    port = lst.local_addr[1]
    cli_rec = Recorder()
    cli = mgr.connect(f"tcp://127.0.0.1:{port}", cli_rec)
    assert cli.id > 0 and cli.is_client and cli in mgr.connections
    assert poll_until(mgr, lambda: cli_rec.count(mg.MG_EV_CONNECT) == 1)
    cli.send(b"abc")
    assert poll_until(mgr, lambda: b"abc" in rec.data.values())
    child_id = next(i for i in rec.data)
    child = rec.conns[child_id]
    assert child is not lst and child in mgr.connections
    assert child.local_addr[1] == port and child.remote_addr[0] == "127.0.0.1"
    assert child.remote_addr[1] == cli.local_addr[1]
    evs = [e for i, e in rec.events if i == child_id]
    assert evs[:2] == [mg.MG_EV_OPEN, mg.MG_EV_ACCEPT]
    assert mg.MG_EV_READ in evs and mg.MG_EV_POLL in evs
    cli_evs = [e for i, e in cli_rec.events if i == cli.id]
    assert cli_evs[:2] == [mg.MG_EV_OPEN, mg.MG_EV_RESOLVE]  # handler attached before events
    assert mg.MG_EV_WRITE in cli_evs
    cli.close()
    assert poll_until(mgr, lambda: rec.count(mg.MG_EV_CLOSE) == 1)
    assert cli_rec.count(mg.MG_EV_CLOSE) == 1
    assert cli not in mgr.connections and child not in mgr.connections


def test_userdata_survives_and_handlers_inherit(mgr: mg.Manager) -> None:
    got: dict[str, list[int]] = {"a": [], "b": []}

    def make(tag: str):
        def h(conn, ev, data):
            if ev == mg.MG_EV_ACCEPT:
                conn.userdata = {"tag": tag}
            if ev == mg.MG_EV_READ:
                got[conn.userdata["tag"]].append(conn.id)
        return h

    la = mgr.listen("tcp://127.0.0.1:0", make("a"))
    lb = mgr.listen("tcp://127.0.0.1:0")
    lb.set_handler(make("b"))
    assert lb.handler is not None
    with socket.create_connection(("127.0.0.1", la.local_addr[1])) as sa, \
            socket.create_connection(("127.0.0.1", lb.local_addr[1])) as sb:
        sa.sendall(b"x")
        sb.sendall(b"y")
        assert poll_until(mgr, lambda: got["a"] and got["b"])
    assert set(got["a"]).isdisjoint(got["b"])


def test_default_handler_and_no_handler(mgr: mg.Manager) -> None:
    # No handler at all: events are dropped, bookkeeping still happens.
    lst = mgr.listen("tcp://127.0.0.1:0")
    with socket.create_connection(("127.0.0.1", lst.local_addr[1])):
        assert poll_until(mgr, lambda: len(mgr.connections) == 2)
    assert poll_until(mgr, lambda: len(mgr.connections) == 1)


def test_connection_refused_reports_socket_error(mgr: mg.Manager) -> None:
    rec: list[tuple[int, object]] = []
    conn = mgr.connect(f"tcp://127.0.0.1:{free_port()}", lambda c, ev, d: rec.append((ev, d)))
    assert conn.id > 0
    assert poll_until(mgr, lambda: any(ev == mg.MG_EV_CLOSE for ev, _ in rec))
    errors = [d for ev, d in rec if ev == mg.MG_EV_ERROR]
    assert errors == ["socket error"]
    assert [ev for ev, _ in rec][-1] == mg.MG_EV_CLOSE


def test_unresolvable_name_is_a_clear_error(mgr: mg.Manager) -> None:
    rec: list[tuple[int, object]] = []
    mgr.connect("tcp://no-such-host.invalid:80", lambda c, ev, d: rec.append((ev, d)))
    assert poll_until(mgr, lambda: any(ev == mg.MG_EV_CLOSE for ev, _ in rec))
    assert (mg.MG_EV_ERROR, "no-such-host.invalid DNS lookup failed") in rec


@pytest.mark.parametrize("when", ["accept", "read", "poll", "error"])
def test_close_inside_own_handler_is_safe(mgr: mg.Manager, when: str) -> None:
    closes: list[int] = []
    trigger = {"accept": mg.MG_EV_ACCEPT, "read": mg.MG_EV_READ, "poll": mg.MG_EV_POLL,
               "error": mg.MG_EV_READ}[when]

    def h(conn, ev, data):
        if conn.is_listening:
            return
        if ev == mg.MG_EV_CLOSE:
            closes.append(conn.id)
            conn.send(b"ignored")  # accepted while closing, no effect
        elif ev == trigger and when == "error":
            conn.error("custom failure")
        elif ev == trigger:
            if when == "read":
                conn.send(b"reply")
            conn.close()
            conn.close()  # twice is fine
            assert conn.is_closing

    port = mgr.listen("tcp://127.0.0.1:0", h).local_addr[1]
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"ping")
        assert poll_until(mgr, lambda: len(closes) == 1)
    mgr.poll(10)
    assert len(closes) == 1  # exactly once


def test_close_on_write_after_echo(mgr: mg.Manager) -> None:
    closes: list[int] = []

    def h(conn, ev, data):
        if ev == mg.MG_EV_READ:
            conn.send(conn.recv_data())
        elif ev == mg.MG_EV_WRITE:
            conn.close()
        elif ev == mg.MG_EV_CLOSE and not conn.is_listening:
            closes.append(conn.id)

    port = mgr.listen("tcp://127.0.0.1:0", h).local_addr[1]
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"x")
        assert poll_until(mgr, lambda: len(closes) == 1)
        s.settimeout(2)
        assert s.recv(10) == b"x"


def test_error_event_text_then_close(mgr: mg.Manager) -> None:
    seen: list[tuple[int, object, bool]] = []

    def h(conn, ev, data):
        if ev == mg.MG_EV_ACCEPT:
            conn.error("custom failure")
        if ev in (mg.MG_EV_ERROR, mg.MG_EV_CLOSE) and not conn.is_listening:
            seen.append((ev, data, conn.is_closing))

    port = mgr.listen("tcp://127.0.0.1:0", h).local_addr[1]
    with socket.create_connection(("127.0.0.1", port)):
        assert poll_until(mgr, lambda: len(seen) == 2)
    assert seen[0] == (mg.MG_EV_ERROR, "custom failure", True)
    assert seen[1][0] == mg.MG_EV_CLOSE


def test_drain_flushes_then_closes(mgr: mg.Manager) -> None:
    states: list[bool] = []
    big = b"z" * 3_000_000

    def h(conn, ev, data):
        if ev == mg.MG_EV_ACCEPT:
            conn.send(big)
            states.append(conn.is_draining)
            conn.drain()
            states.append(conn.is_draining)

    port = mgr.listen("tcp://127.0.0.1:0", h).local_addr[1]
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(0.005)
        got = bytearray()
        for _ in range(3000):
            mgr.poll(1)
            try:
                chunk = s.recv(1 << 20)
            except TimeoutError:
                continue
            if not chunk:
                break
            got += chunk
    assert states == [False, True]
    assert bytes(got) == big  # everything delivered, then EOF


def test_detached_connection_defaults_and_errors(mgr: mg.Manager) -> None:
    lst = mgr.listen("tcp://127.0.0.1:0")
    lst.userdata = "kept"
    lst.close()
    mgr.poll(0)
    assert repr(lst) == "<Connection closed>"
    assert lst.id == 0 and lst.is_closing is True and lst.is_listening is False
    assert lst.local_addr is None and lst.remote_addr is None
    assert (lst.recv_len, lst.send_len, lst.recv_size, lst.send_size) == (0, 0, 0, 0)
    assert lst.recv_data() == b"" and lst.send_data() == b""
    assert lst.userdata == "kept"
    lst.close()
    lst.drain()
    for call in (lambda: lst.send(b"x"), lambda: lst.error("x"), lambda: lst.resolve("tcp://a:1")):
        with pytest.raises(RuntimeError, match="Connection has been closed"):
            call()
    bare = mg.Connection()
    assert bare.id == 0 and bare.is_closing and repr(bare) == "<Connection closed>"


def test_send_buffer_views_and_repr(mgr: mg.Manager) -> None:
    port = mgr.listen("tcp://127.0.0.1:0").local_addr[1]
    cli = mgr.connect(f"tcp://127.0.0.1:{port}")
    assert repr(cli).startswith(f"<Connection id={cli.id} readable=")
    cli.send("héllo")  # str is UTF-8
    cli.send(bytearray(b"!"))
    cli.send(memoryview(b"?"))
    assert cli.send_data() == "héllo!?".encode()
    assert cli.send_data(2) == b"h\xc3"
    assert cli.send_len == len("héllo!?".encode()) and cli.send_size >= cli.send_len
    with pytest.raises(TypeError):
        cli.send(None)


def test_udp_echo(mgr: mg.Manager) -> None:
    def udp_echo(conn, ev, data):
        if ev == mg.MG_EV_READ:
            conn.send(b"echo:" + conn.recv_data())

    lst = mgr.listen("udp://127.0.0.1:0", udp_echo)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.01)
        s.sendto(b"dgram", ("127.0.0.1", lst.local_addr[1]))
        got = None
        for _ in range(200):
            mgr.poll(5)
            try:
                got = s.recv(100)
                break
            except TimeoutError:
                pass
        assert got == b"echo:dgram"


def test_udp_client_connects_synchronously(mgr: mg.Manager) -> None:
    evs: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        conn = mgr.connect(f"udp://127.0.0.1:{srv.getsockname()[1]}", lambda c, e, d: evs.append(e))
        assert conn.is_udp and mg.MG_EV_CONNECT in evs
        conn.send(b"to-server")
        srv.settimeout(2)
        assert srv.recv(100) == b"to-server"


def test_many_connections_come_and_go(mgr: mg.Manager) -> None:
    port = mgr.listen("tcp://127.0.0.1:0", echo).local_addr[1]
    for round_ in range(5):
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        assert poll_until(mgr, lambda: len(mgr.connections) == 41)
        for i, s in enumerate(socks):
            s.sendall(b"%d" % i)
        for s in socks:
            s.settimeout(2)
        poll_until(mgr, lambda: False, 0.05)
        assert [s.recv(10) for s in socks] == [b"%d" % i for i in range(40)]
        for s in socks:
            s.close()
        assert poll_until(mgr, lambda: len(mgr.connections) == 1), round_


def test_flags_are_set_when_open_reaches_the_handler(mgr: mg.Manager) -> None:
    """Issue #21 §3: a handler reading the kind of its connection at MG_EV_OPEN
    sees it already (client, listener, accepted, UDP; TLS listeners in
    test_tls.py::test_listener_tls_flags_and_option_checks)."""
    at_open: dict[str, tuple[bool, bool, bool]] = {}

    def recorder(name: str) -> Callable[[mg.Connection, int, object], None]:
        def fn(conn: mg.Connection, ev: int, data: object) -> None:
            if ev == mg.MG_EV_OPEN:
                key = name if name != "listener" or "listener" not in at_open else "accepted"
                at_open[key] = (conn.is_client, conn.is_listening, conn.is_udp)
        return fn

    lst = mgr.listen("tcp://127.0.0.1:0", recorder("listener"))  # accepted ones inherit it
    mgr.connect(f"tcp://127.0.0.1:{lst.local_addr[1]}", recorder("client"))
    mgr.listen("udp://127.0.0.1:0", recorder("udp listener"))
    mgr.connect(f"udp://127.0.0.1:{lst.local_addr[1]}", recorder("udp client"))
    assert poll_until(mgr, lambda: "accepted" in at_open)
    assert at_open == {
        "listener": (False, True, False),
        "client": (True, False, False),
        "udp listener": (False, True, True),
        "udp client": (True, False, True),
        "accepted": (False, False, False),
    }
