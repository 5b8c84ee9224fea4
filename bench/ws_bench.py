#!/usr/bin/env python3
"""WebSocket echo benchmark: 64-byte binary messages over one connection.

Servers: a Python handler on cymongoose (ours), the same script on the PyPI
cymongoose 0.2.5 wheel, and the `websockets` package's asyncio server.
Client (this process, raw socket): pre-masked frames, so it is never the
bottleneck; the server's echo frames are counted by size (66 bytes each).
 - pipelined: M messages with up to W in flight -> messages/s;
 - one in flight: R round trips -> RTT p50/p99.
One run of interleaved rounds; medians. Peers: build/bench-venv-pypi
(PyPI cymongoose) and websockets in .venv.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import statistics
import sys
import time

from _common import OURS_PY, ROOT, Server, cpu_seconds, machine, median, pypi_python, stamp

SERVERS = ROOT / "bench" / "servers"
PAYLOAD = 64
FRAME_IN = 2 + PAYLOAD  # server -> client, unmasked




def frame(payload: bytes, mask: bytes) -> bytes:
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x82, 0x80 | len(payload)]) + mask + body


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def pipelined(port: int, total: int, window: int) -> float:
    s = connect(port)
    chunk = frame(os.urandom(PAYLOAD), os.urandom(4)) * 64
    sent = got_bytes = 0
    t0 = time.perf_counter()
    while got_bytes < total * FRAME_IN:
        inflight = sent - got_bytes // FRAME_IN
        if sent < total and inflight + 64 <= window:
            s.sendall(chunk)
            sent += 64
            continue
        data = s.recv(1 << 20)
        if not data:
            raise RuntimeError("server closed")
        got_bytes += len(data)
    dt = time.perf_counter() - t0
    s.close()
    return total / dt


def rtt(port: int, rounds: int) -> tuple[float, float]:
    s = connect(port)
    f = frame(os.urandom(PAYLOAD), os.urandom(4))
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        s.sendall(f)
        n = 0
        while n < FRAME_IN:
            n += len(s.recv(4096))
        samples.append((time.perf_counter() - t0) * 1e6)
    s.close()
    q = statistics.quantiles(samples, n=100)
    return statistics.median(samples), q[98]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtt", type=int, default=3000)
    args = ap.parse_args()
    pypi = str(pypi_python())
    servers = {
        "cymongoose (ours)": [str(OURS_PY), str(SERVERS / "ws_echo.py")],
        "cymongoose (PyPI 0.2.5)": [pypi, str(SERVERS / "ws_echo.py")],
        "websockets (asyncio)": [str(OURS_PY), str(SERVERS / "ws_echo_websockets.py")],
    }
    res: dict[str, dict[str, list[float]]] = {k: {"mps": [], "p50": [], "p99": [], "cpu": []}
                                              for k in servers}
    for r in range(args.rounds):
        for name, argv in servers.items():
            with Server(argv) as srv:
                pipelined(srv.port, 5000, args.window)  # warm-up
                cpu0 = cpu_seconds(srv.proc.pid)
                res[name]["mps"].append(pipelined(srv.port, args.messages, args.window))
                res[name]["cpu"].append((cpu_seconds(srv.proc.pid) - cpu0) * 1e6 / args.messages)
                p50, p99 = rtt(srv.port, args.rtt)
                res[name]["p50"].append(p50)
                res[name]["p99"].append(p99)
            print(f"round {r + 1} {name}: {res[name]['mps'][-1]:.0f} msg/s, "
                  f"rtt p50 {res[name]['p50'][-1]:.0f} us", file=sys.stderr)
    ours = median(res["cymongoose (ours)"]["mps"])
    print(f"{args.messages} x {PAYLOAD}-byte messages, window {args.window}, "
          f"{args.rtt} round trips, {args.rounds} interleaved rounds, medians. "
          f"{machine()}; {stamp()}.\n")
    print("| server | messages/s (pipelined) | server CPU us/msg | RTT p50 us | RTT p99 us "
          "| ours / this (msg/s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, v in res.items():
        m = median(v["mps"])
        print(f"| {name} | {m:.0f} | {median(v['cpu']):.2f} | {median(v['p50']):.0f} | "
              f"{median(v['p99']):.0f} | {ours / m:.2f}x |")


if __name__ == "__main__":
    main()
