#!/usr/bin/env python3
"""CPU used by a server while it is out of file descriptors (issue #22.4).

    .venv/bin/python bench/fd_exhaustion.py [--nofile 64] [--clients 120] [--seconds 3]

Starts a Python-handler HTTP server (cymongoose) and the C example MQTT broker
(build/host/mqtt_broker, `make host`) with RLIMIT_NOFILE lowered, connects more
clients than it has descriptors, and prints the server's CPU time over the window as
a share of one core (utime + stime from /proc/PID/stat). A server that retries
accept() on a readable listener at once spins near 100 %; with the accept back-off
(MG_SOCK_ACCEPT_BACKOFF_MS) it should be ~0 %.
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import time

from _common import ROOT, cpu_seconds, free_port, wait_port

HTTP_SERVER = """
import sys
import cymongoose as mg
def handler(conn, ev, data):
    if ev == mg.MG_EV_HTTP_MSG:
        conn.reply(200, b"ok")
mgr = mg.Manager(handler)
print(mgr.listen("http://127.0.0.1:0").local_addr[1], flush=True)
mgr.run(poll_ms=100)
"""


def measure(argv: list[str], port: int | None, nofile: int, clients: int,
            seconds: float) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # Lowered from outside, before any client connects.
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (nofile, nofile))
    socks = []
    try:
        if port is None:
            assert proc.stdout is not None
            port = int(proc.stdout.readline())
        wait_port(port)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(clients)]
        time.sleep(0.5)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        return (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nofile", type=int, default=64)
    ap.add_argument("--clients", type=int, default=120)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    print(f"RLIMIT_NOFILE {args.nofile}, {args.clients} clients, {args.seconds:g} s window")
    share = measure([sys.executable, "-c", HTTP_SERVER], None, args.nofile, args.clients,
                    args.seconds)
    print(f"  HTTP server (Python handler): {share:6.1%} of a core")
    broker = ROOT / "build" / "host" / "mqtt_broker"
    if broker.exists():
        port = free_port()
        share = measure([str(broker), f"mqtt://127.0.0.1:{port}"], port, args.nofile,
                        args.clients, args.seconds)
        print(f"  C MQTT broker:                {share:6.1%} of a core")
    else:
        print("  C MQTT broker: not built (make host)")


if __name__ == "__main__":
    main()
