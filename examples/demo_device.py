#!/usr/bin/env python3
"""The device half of `make demo`: flash, verify and test the reference firmware in QEMU.

1. Start an empty mps2-an385 in QEMU with its CPU halted and a gdbstub.
2. Write build/fw/device_app.elf through our GDB remote-protocol client, verify it by
   read-back, reset and run it (cymongoose.device.GdbFlasher).
3. Through the same event API a host application uses (cymongoose.Manager), talk to the
   device over QEMU's user network (port forward on 127.0.0.1): HTTP /api/info, WebSocket
   echo, MQTT (the device publishes its status to a mosquitto broker started here), an OTA
   image pushed over HTTP with its SHA-256, and JSON-RPC on the console.
4. Print a results table; exit non-zero if any step failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cymongoose as mg
from cymongoose.device import GdbClient, GdbFlasher, QemuTarget, load_image

RS = "\x1e"


class Results:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, float]] = []

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        t0 = time.monotonic()
        try:
            detail, status = fn(), "ok"
        except Skip as exc:
            detail, status = str(exc), "skipped"
        except Exception as exc:  # noqa: BLE001 - a failing demo step is reported, not raised
            detail, status = f"{type(exc).__name__}: {exc}", "FAILED"
        ms = (time.monotonic() - t0) * 1000
        self.rows.append((name, status, detail, ms))
        print(f"   {name:<22} {status:<8} {ms:7.0f} ms  {detail}")
        return status != "FAILED"

    def table(self) -> str:
        lines = ["| step | result | time | detail |", "|---|---|---:|---|"]
        lines += [f"| {n} | {s} | {ms:.0f} ms | {d} |" for n, s, d, ms in self.rows]
        return "\n".join(lines)

    @property
    def failed(self) -> bool:
        return any(s == "FAILED" for _, s, _, _ in self.rows)


class Skip(Exception):
    """A step that cannot run here, with the missing resource named."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_manager(until: Callable[[], bool], mgr: mg.Manager, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: no answer within {timeout:.0f}s")
        mgr.poll(10)


def http_request(port: int, method: str, path: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One HTTP request through cymongoose's client."""
    got: list[tuple[int, str]] = []
    errors: list[str] = []
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())

    def client(conn: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            conn.send(f"{method} {path} HTTP/1.1\r\nHost: device\r\n{extra}"
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        elif ev == mg.MG_EV_HTTP_MSG and isinstance(data, mg.HttpMessage):
            got.append((data.status() or 0, data.body_text))
            conn.close()
        elif ev == mg.MG_EV_ERROR:
            errors.append(str(data))

    with mg.Manager() as mgr:
        mgr.connect(f"http://127.0.0.1:{port}", client)
        run_manager(lambda: bool(got or errors), mgr, 15, f"{method} {path}")
    if errors:
        raise RuntimeError(errors[0])
    return got[0]


class ConsoleRpc:
    """JSON-RPC over the console framing of docs/device-rpc.md."""

    def __init__(self, console) -> None:
        self.console = console
        self.next_id = 1

    def call(self, method: str, **params: object) -> object:
        rid = self.next_id
        self.next_id += 1
        frame = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params},
                           separators=(",", ":"))
        self.console.write((RS + frame + "\n").encode())
        m = self.console.expect_line(RS + r'(\{.*"id":' + str(rid) + r'[,}].*)$', timeout=10)
        reply = json.loads(m.group(1))
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']['code']} {reply['error']['message']}")
        return reply["result"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--firmware", type=Path, default=Path("build/fw"),
                    help="firmware build directory with device_app.elf (default: build/fw)")
    args = ap.parse_args()
    elf = args.firmware / "device_app.elf"
    if not elf.is_file():
        print(f"demo_device: {elf} not found: run `make fw`", file=sys.stderr)
        return 1
    res = Results()
    image = load_image(str(elf))
    mosquitto = shutil.which("mosquitto")
    broker_port = free_port()
    broker = None
    workdir = Path(tempfile.mkdtemp(prefix="cymongoose-demo-"))
    print(f"== device: {elf} ({image.size} bytes to load, sha256 {image.sha256[:16]}...)")
    try:
        if mosquitto:
            conf = workdir / "mosquitto.conf"
            conf.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n")
            broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        with QemuTarget(None, gdb="unix", halted=True, nic="user", hostfwd=[80], restrict=False,
                        log_path=str(workdir / "console.log")) as qemu:
            port = qemu.forwarded[80]
            state: dict[str, object] = {}

            def flash() -> str:
                with GdbClient.connect_address(qemu.gdb) as gdb:
                    result = GdbFlasher(gdb).flash(image)
                return result.summary()

            def ready() -> str:
                m = qemu.console.expect_line(RS + r'(\{"jsonrpc":"2.0","method":"ready".*)$',
                                             timeout=15)
                params = json.loads(m.group(1))["params"]
                state["id"] = params["id"]
                return f"{params['app']} {params['version']} id={params['id']}"

            def rpc_info() -> str:
                rpc = ConsoleRpc(qemu.console)
                state["rpc"] = rpc
                info = rpc.call("info")
                led = rpc.call("led.set", on=True)
                return f"uptime {info['uptime_ms']} ms, free RAM {info['free_ram']}, led {led}"

            def net_ready() -> str:
                rpc = state["rpc"]
                deadline = time.monotonic() + 15
                while True:
                    st = rpc.call("net.status")
                    if st["state"] == "ready" or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                if st["state"] != "ready":
                    raise RuntimeError(f"network not ready: {st}")
                return f"ip {st['ip']} gw {st['gw']} (DHCP {st['dhcp']})"

            def http_info() -> str:
                code, body = http_request(port, "GET", "/api/info")
                if code != 200:
                    raise RuntimeError(f"HTTP {code}: {body[:80]}")
                info = json.loads(body)
                return f"200, version {info.get('version')}, ip {info.get('ip')}"

            def ws_echo() -> str:
                got: list[bytes] = []
                payloads = [b"hello device", bytes(range(256)) * 16]

                def client(conn: mg.Connection, ev: int, data: object) -> None:
                    if ev == mg.MG_EV_WS_OPEN:
                        for p in payloads:
                            conn.ws_send(p, mg.WEBSOCKET_OP_BINARY)
                    elif ev == mg.MG_EV_WS_MSG:
                        got.append(data.data)
                        if len(got) == len(payloads):
                            conn.close()

                with mg.Manager() as mgr:
                    mgr.ws_connect(f"ws://127.0.0.1:{port}/ws", client)
                    run_manager(lambda: len(got) == len(payloads), mgr, 15, "ws echo")
                if got != payloads:
                    raise RuntimeError("echo mismatch")
                return f"{len(payloads)} messages, {sum(map(len, got))} bytes intact"

            def mqtt_status() -> str:
                if broker is None:
                    raise Skip("mosquitto is not installed (Debian package mosquitto)")
                seen: list[dict] = []
                topic = f"device/{state['id']}/status"

                def client(conn: mg.Connection, ev: int, data: object) -> None:
                    if ev == mg.MG_EV_MQTT_OPEN:
                        conn.mqtt_sub(topic, qos=1)
                        state["rpc"].call("config.set", mqtt_url=f"mqtt://10.0.2.2:{broker_port}")
                    elif ev == mg.MG_EV_MQTT_MSG and data.topic == topic:
                        seen.append(json.loads(data.text))

                with mg.Manager() as mgr:
                    mgr.mqtt_connect(f"mqtt://127.0.0.1:{broker_port}", client,
                                     client_id="demo-host")
                    run_manager(lambda: any(s.get("online") for s in seen), mgr, 20, "mqtt")
                s = next(s for s in seen if s.get("online"))
                return f"{topic}: online, led={s.get('led')}"

            def ota() -> str:
                blob = bytes((i * 7) & 0xFF for i in range(48 * 1024))
                digest = hashlib.sha256(blob).hexdigest()
                code, body = http_request(port, "POST", "/api/ota", blob, {"X-SHA256": digest})
                if code != 200:
                    raise RuntimeError(f"HTTP {code}: {body[:120]}")
                bad, _ = http_request(port, "POST", "/api/ota", blob, {"X-SHA256": "0" * 64})
                st = state["rpc"].call("ota.status")
                if bad == 200:
                    raise RuntimeError("a corrupt image was accepted")
                return f"{len(blob)} B verified; corrupt image -> HTTP {bad}; state {st['state']}"

            ok = res.run("flash + verify (GDB)", flash)
            ok = ok and res.run("boot (RPC ready)", ready)
            if ok:
                res.run("RPC info, led.set", rpc_info)
                if res.run("network (DHCP)", net_ready):
                    res.run("HTTP /api/info", http_info)
                    res.run("WebSocket echo", ws_echo)
                    res.run("MQTT status", mqtt_status)
                    res.run("OTA over HTTP", ota)
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(5)
    print()
    print(res.table())
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
