"""WebSocket (RFC 6455) against real peers started by the tests: our server
(ws_upgrade) with the `websockets` and `websocket-client` clients, our client
(ws_connect) with a `websockets` server, and raw sockets sending broken frames
(unmasked, reserved opcodes, invalid UTF-8, huge lengths, garbage)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import (
    MG_EV_CLOSE,
    MG_EV_ERROR,
    MG_EV_HTTP_MSG,
    MG_EV_WS_CTL,
    MG_EV_WS_MSG,
    MG_EV_WS_OPEN,
    WEBSOCKET_OP_BINARY,
    WEBSOCKET_OP_PING,
    WEBSOCKET_OP_TEXT,
)
from mgtest import free_port, poll_until

websockets_sync = pytest.importorskip("websockets.sync.client")
websocket = pytest.importorskip("websocket")  # websocket-client


class EchoServer:
    """ws_upgrade on /ws (with an extra header), echo of every message, an
    event log per connection kind."""

    def __init__(self, mgr: mg.Manager) -> None:
        self.events: list[tuple[int, Any]] = []
        self.msgs: list[tuple[int, bytes]] = []
        self.stored: list[mg.WsMessage] = []
        self.errors: list[str] = []
        self.closed = 0
        self.listener = mgr.listen("http://127.0.0.1:0", self.handler)
        self.port = self.listener.local_addr[1]
        self.url = f"ws://127.0.0.1:{self.port}/ws"

    def handler(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            if data.uri == "/ws":
                conn.ws_upgrade(data, {"X-Ws-Test": "yes 100%"})
                self.events.append((ev, conn.is_websocket))
            else:
                conn.reply(200, b"plain")
        elif ev == MG_EV_WS_OPEN:
            self.events.append((ev, data.uri))
        elif ev == MG_EV_WS_MSG:
            self.msgs.append((data.flags, data.data))
            self.stored.append(data)
            op = data.flags & 0x0F
            conn.ws_send(data.data, op)
        elif ev == MG_EV_WS_CTL:
            self.events.append((ev, data))
        elif ev == MG_EV_ERROR:
            self.errors.append(data)
        elif ev == MG_EV_CLOSE and not conn.is_listening:
            self.closed += 1


def in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except Exception as e:  # noqa: BLE001 - re-raised by wait_thread()
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def wait_thread(mgr: mg.Manager, t: threading.Thread, out: dict[str, Any]) -> Any:
    assert poll_until(mgr, lambda: not t.is_alive(), 10), "peer thread hung"
    if "error" in out:
        raise out["error"]
    return out.get("result")


@pytest.fixture
def server() -> Iterator[tuple[mg.Manager, EchoServer]]:
    m = mg.Manager()
    yield m, EchoServer(m)
    m.close()


def test_websockets_client_echo_text_binary(server: tuple[mg.Manager, EchoServer]) -> None:
    mgr, srv = server

    def peer() -> Any:
        with websockets_sync.connect(srv.url, open_timeout=5, close_timeout=5) as ws:
            hdr = ws.response.headers.get("X-Ws-Test")
            status = ws.response.status_code
            ws.send("héllo")
            t = ws.recv(timeout=5)
            ws.send(b"\x00\x01\xff" * 1000)
            b = ws.recv(timeout=5)
            big = "x" * 70000  # 64-bit length field
            ws.send(big)
            bigback = ws.recv(timeout=5)
            pong = ws.ping(b"pp")
            pong_ok = pong.wait(5)
            return status, hdr, t, b, bigback == big, pong_ok

    t, out = in_thread(peer)
    status, hdr, text, binary, big_ok, pong_ok = wait_thread(mgr, t, out)
    assert status == 101
    assert hdr == "yes 100%"
    assert text == "héllo"
    assert binary == b"\x00\x01\xff" * 1000
    assert big_ok
    assert pong_ok
    assert srv.msgs[0] == (129, "héllo".encode())
    assert srv.msgs[1] == (130, b"\x00\x01\xff" * 1000)
    # Upgrade reported, handler saw WS_OPEN with the request, ping as WS_CTL.
    assert (MG_EV_HTTP_MSG, True) in srv.events
    assert (MG_EV_WS_OPEN, "/ws") in srv.events
    assert (MG_EV_WS_CTL, None) in srv.events
    # Close handshake: the server side closes too.
    assert poll_until(mgr, lambda: srv.closed == 1, 5)
    # Views are invalid once the handler returned.
    m = srv.stored[0]
    assert (m.data, m.text, m.flags) == (b"", "", 0)


def test_websocket_client_fragments_and_control(server: tuple[mg.Manager, EchoServer]) -> None:
    mgr, srv = server

    def peer() -> Any:
        ws = websocket.create_connection(srv.url, timeout=5)
        # A text message in three fragments, a ping in the middle.
        ws.send_frame(websocket.ABNF.create_frame("ab", websocket.ABNF.OPCODE_TEXT, fin=0))
        ws.send_frame(websocket.ABNF.create_frame("pp", websocket.ABNF.OPCODE_PING))
        ws.send_frame(websocket.ABNF.create_frame("cd", websocket.ABNF.OPCODE_CONT, fin=0))
        ws.send_frame(websocket.ABNF.create_frame("é!".encode(), websocket.ABNF.OPCODE_CONT, fin=1))
        frames = []
        for _ in range(2):
            op, data = ws.recv_data(control_frame=True)
            frames.append((op, data))
        ws.send_close(1000, b"bye")
        op, data = ws.recv_data(control_frame=True)
        frames.append((op, data))
        ws.close()
        return frames

    t, out = in_thread(peer)
    frames = wait_thread(mgr, t, out)
    assert (websocket.ABNF.OPCODE_PONG, b"pp") in frames
    assert (websocket.ABNF.OPCODE_TEXT, "abcdé!".encode()) in frames
    assert frames[-1][0] == websocket.ABNF.OPCODE_CLOSE
    assert frames[-1][1][:2] == struct.pack("!H", 1000)
    assert srv.msgs == [(129, "abcdé!".encode())]
    assert poll_until(mgr, lambda: srv.closed == 1, 5)


def raw_upgrade(mgr: mg.Manager, port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def read_head() -> bytes:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)  # no more than the head
            assert chunk, "server closed during the handshake"
            head += chunk
        return head

    t, out = in_thread(read_head)
    head = wait_thread(mgr, t, out)
    assert head.startswith(b"HTTP/1.1 101")
    # RFC 6455 1.3 example key and its accept value.
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    return s


def masked(op: int, payload: bytes, fin: bool = True, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, 0x80 | n])
    elif n < 65536:
        hdr = bytes([b0, 0x80 | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, 0x80 | 127]) + struct.pack("!Q", n)
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return hdr + mask + body


def read_close(s: socket.socket) -> tuple[int | None, bool]:
    """Reads until EOF; returns the close code of a close frame, if any, and
    whether the server closed the TCP connection."""
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        return None, False
    except ConnectionResetError:
        pass  # closed with our unread garbage still queued: RST
    i = data.find(b"\x88")
    code = struct.unpack("!H", data[i + 2:i + 4])[0] if i >= 0 and len(data) >= i + 4 else None
    return code, True


BAD_FRAMES = {
    "unmasked": (bytes([0x81, 0x02]) + b"hi", 1002),
    "reserved_opcode": (masked(3, b"x"), 1002),
    "rsv_bits": (bytes([0xC1]) + masked(1, b"x")[1:], 1002),
    "bad_utf8": (masked(1, b"\xc3\x28 invalid"), 1007),
    "bad_utf8_fragmented": (masked(1, b"\xe2\x82", fin=False) + masked(0, b"\x28"), 1007),
    "surrogate": (masked(1, b"\xed\xa0\x80"), 1007),
    "huge_length": (bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 30) + b"\x00" * 4, 1009),
    "long_ping": (masked(9, b"p" * 126), 1002),
    "fragmented_ping": (masked(9, b"p", fin=False), 1002),
    "stray_continuation": (masked(0, b"x"), 1002),
    "close_bad_code": (masked(8, struct.pack("!H", 999)), 1002),
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_bad_frames_closed_with_code(server: tuple[mg.Manager, EchoServer], name: str) -> None:
    mgr, srv = server
    frame, want = BAD_FRAMES[name]
    s = raw_upgrade(mgr, srv.port)
    s.sendall(frame)
    t, out = in_thread(lambda: read_close(s))
    code, eof = wait_thread(mgr, t, out)
    s.close()
    assert eof, "server did not close the connection"
    assert code == want
    assert srv.msgs == []
    assert any(str(want) in e for e in srv.errors)
    # Everyone else is still served.
    good = raw_upgrade(mgr, srv.port)
    good.sendall(masked(1, b"still here"))
    t, out = in_thread(lambda: good.recv(100))
    assert wait_thread(mgr, t, out) == bytes([0x81, 10]) + b"still here"
    good.close()


def test_garbage_after_upgrade(server: tuple[mg.Manager, EchoServer]) -> None:
    mgr, srv = server
    s = raw_upgrade(mgr, srv.port)
    s.sendall(bytes(range(256)) * 40)
    t, out = in_thread(lambda: read_close(s))
    code, eof = wait_thread(mgr, t, out)
    assert eof and code in (1002, 1009, None)
    s.close()
    assert srv.errors and "WebSocket error" in srv.errors[0]
    good = raw_upgrade(mgr, srv.port)
    good.sendall(masked(1, b"ok"))
    t, out = in_thread(lambda: good.recv(100))
    assert wait_thread(mgr, t, out) == bytes([0x81, 2]) + b"ok"
    good.close()


def test_slow_frame_byte_by_byte(server: tuple[mg.Manager, EchoServer]) -> None:
    mgr, srv = server
    s = raw_upgrade(mgr, srv.port)
    frame = masked(2, bytes(range(200)))
    for i in range(len(frame)):
        s.sendall(frame[i:i + 1])
        mgr.poll(1)
    t, out = in_thread(lambda: s.recv(1000))
    got = wait_thread(mgr, t, out)
    assert got[:4] == bytes([0x82, 126, 0, 200]) and got[4:] == bytes(range(200))
    s.close()


# ---- Our client against a `websockets` server ----

@pytest.fixture
def ws_peer() -> Iterator[tuple[int, list[Any]]]:
    from websockets.sync.server import serve

    seen: list[Any] = []

    def echo(ws: Any) -> None:
        seen.append(ws.request.path)
        for msg in ws:
            if msg == "frag":
                ws.send(["fr", "ag", "ment"])  # sent as continuation frames
            elif msg == "ping me":
                ws.ping(b"srv").wait(5)
                seen.append("pong received")
                ws.send("pinged")
            elif msg == "close me":
                ws.close(4001, "bye")
            else:
                ws.send(msg)

    srv = serve(echo, "127.0.0.1", 0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.socket.getsockname()[1], seen
    srv.shutdown()
    t.join(5)


def test_ws_connect_against_websockets(mgr: mg.Manager, ws_peer: tuple[int, list[Any]]) -> None:
    port, seen = ws_peer
    log: list[tuple[int, Any]] = []
    script = ["hello", b"\x00bin\xff", "frag", "ping me", "close me"]

    def handler(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_WS_OPEN:
            log.append((ev, (data.status(), conn.is_websocket)))
            conn.ws_send(script[0])
        elif ev == MG_EV_WS_MSG:
            log.append((ev, (data.flags, data.data)))
            i = sum(1 for e, _ in log if e == MG_EV_WS_MSG)
            if i < len(script):
                item = script[i]
                conn.ws_send(item, WEBSOCKET_OP_BINARY if isinstance(item, bytes)
                             else WEBSOCKET_OP_TEXT)
        elif ev in (MG_EV_WS_CTL, MG_EV_CLOSE, MG_EV_ERROR):
            log.append((ev, data))

    c = mgr.ws_connect(f"ws://127.0.0.1:{port}/chat?room=1", handler)
    assert c.is_websocket is False  # only after the handshake
    assert poll_until(mgr, lambda: any(e == MG_EV_CLOSE for e, _ in log), 10)
    assert log[0] == (MG_EV_WS_OPEN, (101, True))
    msgs = [d for e, d in log if e == MG_EV_WS_MSG]
    assert msgs == [(129, b"hello"), (130, b"\x00bin\xff"), (129, b"fragment"), (129, b"pinged")]
    assert seen[0] == "/chat?room=1"
    assert "pong received" in seen  # our client answered the server's ping
    assert not any(e == MG_EV_ERROR for e, _ in log)
    assert sum(1 for e, _ in log if e == MG_EV_WS_CTL) >= 2  # ping + close


def test_ws_connect_refused_and_not_websocket(mgr: mg.Manager) -> None:
    events: list[tuple[int, Any]] = []
    mgr.ws_connect(f"ws://127.0.0.1:{free_port()}/", lambda c, ev, d: events.append((ev, d)))
    assert poll_until(mgr, lambda: any(e == MG_EV_CLOSE for e, _ in events), 5)
    assert (MG_EV_ERROR, "socket error") in events

    # A plain HTTP server answering 200: the handshake fails clearly.
    plain = mgr.listen("http://127.0.0.1:0", lambda c, ev, d: c.reply(200, "no")
                       if ev == MG_EV_HTTP_MSG else None)
    events.clear()
    mgr.ws_connect(f"ws://127.0.0.1:{plain.local_addr[1]}/",
                   lambda c, ev, d: events.append((ev, d)))
    assert poll_until(mgr, lambda: any(e == MG_EV_CLOSE for e, _ in events), 5)
    errs = [d for e, d in events if e == MG_EV_ERROR]
    assert errs and "handshake failed" in errs[0] and "200" in errs[0]
    assert not any(e == MG_EV_WS_OPEN for e, _ in events)


def test_ws_connect_bad_url_and_freed_manager() -> None:
    m = mg.Manager()
    with pytest.raises(RuntimeError, match="Failed to create WebSocket connection to ''"):
        m.ws_connect("")
    m.close()
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        m.ws_connect("ws://127.0.0.1:1/")


def test_ws_upgrade_invalid_view_and_headers(mgr: mg.Manager) -> None:
    stored: list[Any] = []
    problems: list[str] = []

    def handler(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            try:
                conn.ws_upgrade(data, {"X-Bad": "a\r\nb"})
            except ValueError as e:
                problems.append(str(e))
            stored.append(data)
            conn.reply(200, "ok")
            conn.drain()

    lst = mgr.listen("http://127.0.0.1:0", handler)
    s = socket.create_connection(("127.0.0.1", lst.local_addr[1]), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    t, out = in_thread(lambda: s.recv(1000))
    got = wait_thread(mgr, t, out)
    s.close()
    assert got.startswith(b"HTTP/1.1 200")  # nothing was written by the refused upgrade
    assert problems and "illegal character" in problems[0]
    conn = mgr.connections[0]
    with pytest.raises(ValueError, match="HttpMessage is not valid for this event"):
        conn.ws_upgrade(stored[0])


def test_ws_ping_from_our_client(server: tuple[mg.Manager, EchoServer]) -> None:
    """Client-side frames are masked (the server would refuse them otherwise)
    and a ping we send is answered by our own server automatically."""
    mgr, srv = server
    log: list[tuple[int, Any]] = []

    def handler(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_WS_OPEN:
            conn.ws_send(b"pq", WEBSOCKET_OP_PING)
        elif ev == MG_EV_WS_CTL:
            log.append((ev, data))
            conn.ws_send("after pong")
        elif ev == MG_EV_WS_MSG:
            log.append((ev, data.text))
            conn.ws_send(struct.pack("!H", 1000) + b"done", 8)
        elif ev == MG_EV_CLOSE:
            log.append((ev, None))

    mgr.ws_connect(srv.url, handler)
    assert poll_until(mgr, lambda: (MG_EV_CLOSE, None) in log and srv.closed == 1, 5)
    assert log[0] == (MG_EV_WS_CTL, None)
    assert (MG_EV_WS_MSG, "after pong") in log
    assert srv.errors == []


def test_every_opcode_from_our_client(server: tuple[mg.Manager, EchoServer]) -> None:
    """ws_send with TEXT, BINARY, PONG and PING: data frames arrive as
    messages, control frames as MG_EV_WS_CTL (close is covered above)."""
    mgr, srv = server
    got: list[tuple[int, Any]] = []

    def handler(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_WS_OPEN:
            conn.ws_send("t", WEBSOCKET_OP_TEXT)
            conn.ws_send(b"b", WEBSOCKET_OP_BINARY)
            conn.ws_send(b"", mg.WEBSOCKET_OP_PONG)  # unsolicited pong: just reported
            conn.ws_send(b"p", WEBSOCKET_OP_PING)
        elif ev == MG_EV_WS_MSG:
            got.append((data.flags, data.data))

    mgr.ws_connect(srv.url, handler)
    assert poll_until(mgr, lambda: len(got) == 2)
    assert got == [(129, b"t"), (130, b"b")]
    assert poll_until(mgr, lambda: sum(1 for e, _ in srv.events if e == MG_EV_WS_CTL) == 2)
    assert srv.errors == []


def test_ws_client_handshake_deadline() -> None:
    """A server that accepts and never answers the upgrade cannot hold a client."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    errors: list[str] = []
    closed: list[bool] = []

    def handler(conn: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_ERROR:
            errors.append(str(data))
        elif ev == mg.MG_EV_CLOSE:
            closed.append(True)

    with mg.Manager() as mgr:
        c = mgr.ws_connect(f"ws://127.0.0.1:{silent.getsockname()[1]}/", handler)
        c.ws_set_handshake_timeout(300)
        peer, _ = silent.accept()
        start = time.monotonic()
        assert poll_until(mgr, lambda: bool(closed), timeout=5)
        assert errors == ["WebSocket handshake timed out"]
        assert time.monotonic() - start < 3
        with pytest.raises(ValueError):
            mgr.listen("tcp://127.0.0.1:0").ws_set_handshake_timeout(100)
        peer.close()
    silent.close()
