#!/usr/bin/env python3
"""Time for one client to subscribe N distinct filters on our example brokers.

    .venv/bin/python bench/mqtt_subs_bench.py [--counts 10000 50000] [--per 50]

One raw-socket client connects, sends N filters ("bench/<i>", QoS 1) in pipelined
SUBSCRIBE packets of --per filters and waits for every SUBACK; then one publish must
come back through the last filter. Prints the wall time per broker and count, and the
ratio of the largest to the smallest count against the ratio of the counts: linear
insertion keeps the two ratios close, a list walked per filter squares it.
Brokers: the C example (build/host/mqtt_broker, `make host`) and
examples/mqtt_broker.py, each in a process of its own.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

from _common import ROOT, free_port


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def read_packet(s: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    while True:
        if len(buf) >= 2:
            n, mult, i = 0, 1, 1
            while i < len(buf) and i <= 4:
                n += (buf[i] & 0x7F) * mult
                mult *= 128
                if not buf[i] & 0x80:
                    break
                i += 1
            if i < len(buf) and len(buf) >= i + 1 + n:
                first, body = buf[0], bytes(buf[i + 1:i + 1 + n])
                del buf[:i + 1 + n]
                return first, body
        chunk = s.recv(1 << 16)
        if not chunk:
            raise RuntimeError("broker closed the connection")
        buf += chunk


def connect(port: int, cid: bytes) -> socket.socket:
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=120)
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise RuntimeError("broker did not start")
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    s.sendall(bytes([0x10, len(body)]) + body)
    if s.recv(4) != b"\x20\x02\x00\x00":
        raise RuntimeError("no CONNACK")
    return s


def run(argv: list[str], port: int, n: int, per: int) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s = connect(port, b"bench-subs")
        out = bytearray()
        packets = (n + per - 1) // per
        for k in range(packets):
            body = ((k % 65535) + 1).to_bytes(2, "big")
            for i in range(k * per, min(n, (k + 1) * per)):
                f = f"bench/{i}".encode()
                body += len(f).to_bytes(2, "big") + f + b"\x01"
            out += b"\x82" + varint(len(body)) + body
        buf = bytearray()
        t0 = time.perf_counter()
        s.sendall(out)
        for _ in range(packets):
            first, _ = read_packet(s, buf)
            assert first == 0x90
        elapsed = time.perf_counter() - t0
        p = connect(port, b"bench-pub")
        topic = f"bench/{n - 1}".encode()
        p.sendall(b"\x30" + varint(2 + len(topic) + 2) + len(topic).to_bytes(2, "big")
                  + topic + b"ok")
        first, body = read_packet(s, buf)
        assert first >> 4 == 3 and body.endswith(b"ok"), "publish not routed"
        p.close()
        s.close()
        return elapsed
    finally:
        proc.terminate()
        proc.wait(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=int, nargs="+", default=[10000, 50000])
    ap.add_argument("--per", type=int, default=50, help="filters per SUBSCRIBE packet")
    args = ap.parse_args()
    brokers = []
    exe = ROOT / "build" / "host" / "mqtt_broker"
    if exe.exists():
        brokers.append(("C example", lambda port: [str(exe), f"mqtt://127.0.0.1:{port}"]))
    brokers.append(("Python example", lambda port: [
        sys.executable, str(ROOT / "examples" / "mqtt_broker.py"), f"mqtt://127.0.0.1:{port}"]))
    for name, argv in brokers:
        times = []
        for n in args.counts:
            port = free_port()
            t = run(argv(port), port, n, args.per)
            times.append(t)
            print(f"{name:15s} {n:7d} filters: {t:7.3f} s ({n / t:,.0f}/s)")
        lo, hi = min(args.counts), max(args.counts)
        print(f"{name:15s} time ratio {times[-1] / times[0]:.1f} for a count ratio {hi / lo:.1f}")


if __name__ == "__main__":
    main()
