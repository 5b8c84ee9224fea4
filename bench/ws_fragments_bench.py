#!/usr/bin/env python3
"""Server CPU for one WebSocket message sent as many 1-byte fragments (issue #22.5).

    .venv/bin/python bench/ws_fragments_bench.py [--counts 100000 500000]

Server: bench/servers/ws_echo.py on our extension (Python handler, echoes each
message). Client (this process, raw socket): the upgrade, one 1 MB message (so the
server's receive buffer has grown, as after any large message), then, with the
server stopped (SIGSTOP) so a burst queues up as it would behind a busy server, N
masked fragments of one byte each (7 bytes on the wire per fragment); SIGCONT, and
wait for the echo of the N-byte message. Prints the server's CPU time (utime + stime
from /proc/PID/stat) per count and the ratio of the largest to the smallest against
the ratio of the counts: linear reassembly keeps them close, moving the rest of the
buffer per fragment makes it about the square.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import time

from _common import OURS_PY, ROOT, Server, cpu_seconds


def upgrade(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def fragments(n: int) -> bytes:
    """n masked 1-byte fragments of a binary message; the mask is zero, so the
    payload is sent as is ('a'...'z' repeated)."""
    out = bytearray()
    for i in range(n):
        op = 0x2 if i == 0 else 0x0
        fin = 0x80 if i == n - 1 else 0
        out += bytes([fin | op, 0x81, 0, 0, 0, 0, 97 + i % 26])
    return bytes(out)


def recv_at_least(s: socket.socket, want: int) -> None:
    got = 0
    while got < want:
        chunk = s.recv(1 << 16)
        if not chunk:
            raise RuntimeError("server closed the connection")
        got += len(chunk)


def run(n: int) -> tuple[float, float]:
    srv = Server([str(OURS_PY), str(ROOT / "bench" / "servers" / "ws_echo.py")])
    try:
        s = upgrade(srv.port)
        big = 1_000_000
        s.sendall(bytes([0x82, 0xFF]) + big.to_bytes(8, "big") + bytes(4) + b"x" * big)
        recv_at_least(s, 10 + big)
        data = fragments(n)
        want = 10 + n if n > 0xFFFF else 4 + n  # echo: header + payload
        os.kill(srv.proc.pid, signal.SIGSTOP)
        c0, t0 = cpu_seconds(srv.proc.pid), time.perf_counter()
        s.setblocking(False)
        sent = 0
        try:
            while sent < len(data):
                sent += s.send(data[sent:])
        except BlockingIOError:
            pass  # kernel buffers full: the rest follows once the server runs
        s.setblocking(True)
        os.kill(srv.proc.pid, signal.SIGCONT)
        s.sendall(data[sent:])
        recv_at_least(s, want)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(srv.proc.pid) - c0
        s.close()
        return wall, cpu
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
        srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=int, nargs="+", default=[100000, 500000])
    args = ap.parse_args()
    cpus = []
    for n in args.counts:
        wall, cpu = run(n)
        cpus.append(cpu)
        print(f"{n:8d} fragments: server CPU {cpu:6.2f} s, wall {wall:6.2f} s", flush=True)
    lo = cpus[args.counts.index(min(args.counts))]
    hi = cpus[args.counts.index(max(args.counts))]
    ratio = max(args.counts) / min(args.counts)
    print(f"CPU ratio {hi / lo if lo > 0 else float('inf'):.1f} for a count ratio {ratio:.1f}"
          " (CPU ticks are 10 ms: small totals are coarse)")


if __name__ == "__main__":
    main()
