#!/usr/bin/env python3
"""Memory of a server whose peer sends but never reads (issue #22).

For each flood (raw echo, pipelined GETs, WebSocket echo), a Python-handler server runs
in its own process and a raw socket floods it for --seconds without reading; the
server's resident-memory growth is printed for: ours with backpressure (default
marks), ours with backpressure off (set_send_marks(0, 0): the behaviour before), and
the PyPI cymongoose 0.2.5 wheel (with --pypi; it is installed into a separate venv).

Usage: .venv/bin/python bench/backpressure_bench.py [--seconds 3] [--pypi]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import OURS_PY, pypi_python

SERVER = textwrap.dedent(
    """
    import sys
    import cymongoose as mg

    mode, marks = sys.argv[1], sys.argv[2]
    body = b"x" * 1000

    def handler(conn, ev, data):
        if mode == "tcp" and ev == mg.MG_EV_READ:
            conn.send(conn.recv_data())
        elif mode != "tcp" and ev == mg.MG_EV_HTTP_MSG:
            if data.uri == "/ws":
                conn.ws_upgrade(data)
            else:
                conn.reply(200, body)
        elif ev == mg.MG_EV_WS_MSG:
            conn.ws_send(data.data, mg.WEBSOCKET_OP_BINARY)

    mgr = mg.Manager(handler)
    if marks == "off":
        mgr.set_send_marks(0, 0)
    lc = mgr.listen("tcp://127.0.0.1:0" if mode == "tcp" else "http://127.0.0.1:0")
    print(lc.local_addr[1], flush=True)
    while True:
        mgr.poll(50)
    """
)

UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
FLOODS = {
    "echo": ("tcp", b"", bytes(range(256))),
    "pipelined GET": ("http", b"", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "ws echo": ("http", UPGRADE, bytes([0x82, 0x80 | 100, 0, 0, 0, 0]) + b"m" * 100),
}


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(python: str, mode: str, marks: str, head: bytes, unit: bytes, seconds: float) -> float:
    proc = subprocess.Popen([python, "-c", SERVER, mode, marks], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        before = rss_mib(proc.pid)
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(head)
        s.setblocking(False)
        chunk = memoryview(unit * (1 + 65536 // len(unit)))
        sent, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                sent += s.send(chunk[sent % len(unit):])
            except BlockingIOError:
                time.sleep(0.01)
        growth = rss_mib(proc.pid) - before
        s.close()
        return growth
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="flood duration per run")
    ap.add_argument("--pypi", action="store_true", help="also the PyPI cymongoose 0.2.5 wheel")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, flood {args.seconds:.0f} s, RSS growth in MiB")
    print(f"{'flood':16} {'ours':>8} {'ours, off':>10} {'PyPI 0.2.5':>11}")
    for name, (mode, head, unit) in FLOODS.items():
        ours = run(str(OURS_PY), mode, "on", head, unit, args.seconds)
        off = run(str(OURS_PY), mode, "off", head, unit, args.seconds)
        pypi = "-"
        if args.pypi:
            pypi = f"{run(str(pypi_python()), mode, 'on', head, unit, args.seconds):.1f}"
        print(f"{name:16} {ours:8.1f} {off:10.1f} {pypi:>11}", flush=True)


if __name__ == "__main__":
    main()
