#!/usr/bin/env python3
"""MQTT publish -> deliver throughput through a broker: the C example broker
(examples/mqtt_broker, build/host/mqtt_broker) vs mosquitto, with the same
paho-mqtt clients (one publisher, one subscriber, 64-byte payloads, QoS 0
and QoS 1). Throughput = messages / (last delivery - first publish); the
broker's CPU time per message (from /proc/<pid>/stat) is the steadier figure
on a shared machine. One run of interleaved rounds; medians.
Needs mosquitto (Debian) and paho-mqtt (.venv); the broker is built with
CMAKE_BUILD_TYPE=Release into build/bench-host.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from _common import ROOT, cpu_seconds, free_port, machine, median, stamp, wait_port


def c_broker() -> Path:
    """The C example broker, built optimised (Release) in build/bench-host."""
    out = ROOT / "build" / "bench-host"
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(out), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(out), "--target", "mqtt_broker"], check=True,
                   stdout=subprocess.DEVNULL)
    return out / "mqtt_broker"


class Broker:
    def __init__(self, kind: str, tmp: Path) -> None:
        self.port = free_port()
        if kind == "c":
            argv = [str(c_broker()), f"mqtt://127.0.0.1:{self.port}"]
        else:
            exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
            conf = tmp / f"m{self.port}.conf"
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                            "max_inflight_messages 0\nmax_queued_messages 0\n")
            argv = [exe, "-c", str(conf)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, "broker")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def client(port: int, cid: str) -> paho.Client:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=cid)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.connect("127.0.0.1", port, keepalive=60)
    c.loop_start()
    if not connected.wait(5):
        raise RuntimeError("no CONNACK")
    return c


def run(port: int, pid: int, n: int, qos: int) -> tuple[float, float]:
    got = [0]
    done = threading.Event()
    last = [0.0]

    def on_message(*_: object) -> None:
        got[0] += 1
        if got[0] == n:
            last[0] = time.perf_counter()
            done.set()

    sub = client(port, f"sub-{qos}-{time.monotonic_ns()}")
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.subscribe("bench/t", qos)
    subscribed.wait(5)
    pub = client(port, f"pub-{qos}-{time.monotonic_ns()}")
    payload = b"x" * 64
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    for _ in range(n):
        pub.publish("bench/t", payload, qos)
    ok = done.wait(120)
    cpu = cpu_seconds(pid) - cpu0
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    if not ok:
        raise RuntimeError(f"only {got[0]} of {n} delivered")
    return n / (last[0] - t0), cpu * 1e6 / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    names = {"c": "C example broker (ours)", "mosquitto": "mosquitto"}
    res = {(k, q): ([], []) for k in names for q in (0, 1)}
    with tempfile.TemporaryDirectory() as d:
        for r in range(args.rounds):
            for kind in names:
                b = Broker(kind, Path(d))
                try:
                    for qos in (0, 1):
                        mps, us = run(b.port, b.proc.pid, args.messages, qos)
                        res[(kind, qos)][0].append(mps)
                        res[(kind, qos)][1].append(us)
                        print(f"round {r + 1} {kind} qos{qos}: {mps:.0f} msg/s, "
                              f"{us:.1f} us CPU/msg", file=sys.stderr)
                finally:
                    b.stop()
    print(f"{args.messages} x 64-byte messages per run, paho-mqtt publisher + subscriber, "
          f"{args.rounds} interleaved rounds, medians. {machine()}; {stamp()}.\n")
    print("| broker | QoS | delivered msg/s | broker CPU us/msg | ours / this (msg/s) |")
    print("|---|---:|---:|---:|---:|")
    for qos in (0, 1):
        ours = median(res[("c", qos)][0])
        for kind, name in names.items():
            mps = median(res[(kind, qos)][0])
            print(f"| {name} | {qos} | {mps:.0f} | {median(res[(kind, qos)][1]):.2f} | "
                  f"{ours / mps:.2f}x |")


if __name__ == "__main__":
    main()
