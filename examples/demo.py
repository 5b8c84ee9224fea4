#!/usr/bin/env python3
"""`make demo`: the host harness and the reference firmware, end to end.

1. A TCP echo server and client, both on one cymongoose Manager (host sockets).
2. An HTTP server and client through the same event API.
3. The first firmware booted in QEMU (mps2-an385): banner and timer ticks from the
   same C core (examples/demo_firmware.py).
4. The reference firmware written into an empty QEMU board over the GDB stub, verified, then
   tested through the same event API: HTTP, WebSocket, MQTT, JSON-RPC, OTA
   (examples/demo_device.py), with a results table.
Exits non-zero on the first failure, with the reason.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import cymongoose as mg

HERE = Path(__file__).resolve().parent


def step(title: str) -> None:
    print(f"\n== {title}")


def tcp_echo(rounds: int = 5) -> None:
    step("TCP echo: server and client on one Manager")
    replies: list[bytes] = []

    def server(conn: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_READ:
            conn.send(conn.recv_data())

    def client(conn: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            conn.send(b"hello 0")
        elif ev == mg.MG_EV_READ:
            replies.append(conn.recv_data())
            if len(replies) < rounds:
                conn.send(b"hello %d" % len(replies))
            else:
                conn.close()
        elif ev == mg.MG_EV_ERROR:
            raise SystemExit(f"client error: {data}")

    with mg.Manager() as mgr:
        listener = mgr.listen("tcp://127.0.0.1:0", server)
        port = listener.local_addr[1]
        print(f"   echo server on 127.0.0.1:{port}")
        t0 = time.monotonic()
        mgr.connect(f"tcp://127.0.0.1:{port}", client)
        while len(replies) < rounds and time.monotonic() - t0 < 5:
            mgr.poll(10)
        dt = (time.monotonic() - t0) * 1000
    if replies != [b"hello %d" % i for i in range(rounds)]:
        raise SystemExit(f"echo mismatch: {replies!r}")
    for r in replies:
        print(f"   <- {r.decode()}")
    print(f"   {rounds} round trips in {dt:.1f} ms")


def http_roundtrip() -> None:
    step("HTTP: server and client on one Manager")
    got: list[tuple[int | None, str]] = []

    def server(conn: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_HTTP_MSG:
            assert isinstance(data, mg.HttpMessage)
            conn.reply_json({"path": data.uri, "q": data.query_var("q")})

    def client(conn: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            conn.send(b"GET /api/demo?q=cymongoose HTTP/1.1\r\nHost: x\r\n\r\n")
        elif ev == mg.MG_EV_HTTP_MSG:
            assert isinstance(data, mg.HttpMessage)
            got.append((data.status(), data.body_text))
            conn.close()

    with mg.Manager() as mgr:
        port = mgr.listen("http://127.0.0.1:0", server).local_addr[1]
        mgr.connect(f"http://127.0.0.1:{port}", client)
        t0 = time.monotonic()
        while not got and time.monotonic() - t0 < 5:
            mgr.poll(10)
    if not got or got[0][0] != 200:
        raise SystemExit(f"HTTP round trip failed: {got!r}")
    print(f"   GET /api/demo?q=cymongoose -> {got[0][0]} {got[0][1]}")


def firmware(fw_dir: Path) -> None:
    step("Firmware: the same core on mps2-an385 under QEMU")
    rc = subprocess.call([sys.executable, str(HERE / "demo_firmware.py"), "--firmware",
                          str(fw_dir)])
    if rc != 0:
        raise SystemExit(f"firmware demo failed (exit {rc})")


def device(fw_dir: Path) -> None:
    step("Device: flash + verify over GDB, then HTTP, WebSocket, MQTT, RPC and OTA")
    rc = subprocess.call([sys.executable, str(HERE / "demo_device.py"), "--firmware",
                          str(fw_dir)])
    if rc != 0:
        raise SystemExit(f"device demo failed (exit {rc})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--firmware", type=Path, default=Path("build/fw"),
                    help="firmware build directory (default: build/fw)")
    args = ap.parse_args()
    tcp_echo()
    http_roundtrip()
    firmware(args.firmware)
    device(args.firmware)
    print("\n== demo passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
