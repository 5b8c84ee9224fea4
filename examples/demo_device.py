#!/usr/bin/env python3
"""The device half of `make demo`: flash, verify and test the reference firmware in QEMU.

1. Start an empty mps2-an385 in QEMU with its CPU halted and a gdbstub.
2. Write build/fw/device_app.elf through our GDB remote-protocol client, verify it by
   read-back, reset and run it (cymongoose.device.GdbFlasher).
3. Bridge the board's Ethernet into this process's own built-in TCP/IP stack (QEMU stream
   netdev, no root, no TAP; our DHCP server leases the board 10.0.2.15) and talk to it
   through the same event API a host application uses (cymongoose.Manager): HTTP
   /api/info, WebSocket echo, MQTT (the device connects to a broker endpoint served by this
   process with mqtt_listen and publishes its status), the firmware packed as an OTA
   image (docs/image-format.md) and pushed over HTTP, and JSON-RPC on the console (cymongoose.device.RpcClient).
4. Print a results table; exit non-zero if any step failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cymongoose as mg
from cymongoose.device import (
    GdbClient,
    GdbFlasher,
    QemuTarget,
    RpcClient,
    StackBridge,
    imagefmt,
    load_image,
)
from cymongoose.device.boards import DEFAULT_BOARD, load_boards


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


def http_request(br: StackBridge, method: str, path: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One HTTP request through the bridge's Manager (the event API)."""
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

    br.mgr.connect(br.url(path), client)
    if not br.pump(lambda: bool(got or errors), timeout=15):
        raise TimeoutError(f"{method} {path}: no answer within 15 s")
    if errors:
        raise RuntimeError(errors[0])
    return got[0]


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
    workdir = Path(tempfile.mkdtemp(prefix="cymongoose-demo-"))
    print(f"== device: {elf} ({image.size} bytes to load, sha256 {image.sha256()[:16]}...)")
    with QemuTarget(None, gdb="unix", halted=True, nic="stream",
                    log_path=str(workdir / "console.log")) as qemu, \
            StackBridge(qemu.netdev_socket(), pcap=str(workdir / "bridge.pcap")) as br:
        state: dict[str, object] = {}
        rpc = RpcClient(qemu.console)

        def flash() -> str:
            with GdbClient.connect_address(qemu.gdb) as gdb:
                result = GdbFlasher(gdb).flash(image)
            return result.summary()

        def ready() -> str:
            params = rpc.wait_notification("ready", timeout=15)["params"]
            state["id"] = params["id"]
            return f"{params['app']} {params['version']} id={params['id']}"

        def rpc_info() -> str:
            info = rpc.call("info")
            led = rpc.call("led.set", on=True)
            return f"uptime {info['uptime_ms']} ms, free RAM {info['free_ram']}, led {led}"

        def bridge() -> str:
            ip = br.wait_ready(port=80, timeout=30)
            return f"board {ip} leased by our DHCP server, pcap {workdir / 'bridge.pcap'}"

        def http_info() -> str:
            code, body = http_request(br, "GET", "/api/info")
            if code != 200:
                raise RuntimeError(f"HTTP {code}: {body[:80]}")
            info = json.loads(body)
            return f"200, version {info.get('version')}, ip {info.get('ip')}"

        def ws_echo() -> str:
            got: list[bytes] = []
            payloads = [b"hello device", bytes(range(256)) * 64]

            def client(conn: mg.Connection, ev: int, data: object) -> None:
                if ev == mg.MG_EV_WS_OPEN:
                    for p in payloads:
                        conn.ws_send(p, mg.WEBSOCKET_OP_BINARY)
                elif ev == mg.MG_EV_WS_MSG and isinstance(data, mg.WsMessage):
                    got.append(data.data)
                    if len(got) == len(payloads):
                        conn.close()

            br.mgr.ws_connect(br.url("/ws", scheme="ws"), client)
            if not br.pump(lambda: len(got) == len(payloads), timeout=15):
                raise TimeoutError("no echo within 15 s")
            if got != payloads:
                raise RuntimeError("echo mismatch")
            return f"{len(payloads)} messages, {sum(map(len, got))} bytes intact"

        def mqtt_status() -> str:
            # The broker side runs on the bridge's own Manager: mqtt_listen reports every
            # packet (no automatic CONNACK, as in the PyPI package), so answer CONNECT here.
            seen: list[dict] = []
            topic = f"device/{state['id']}/status"

            def broker(conn: mg.Connection, ev: int, data: object) -> None:
                if ev == mg.MG_EV_MQTT_CMD and isinstance(data, mg.MqttMessage) and data.cmd == 1:
                    conn.send(b"\x20\x02\x00\x00")  # CONNACK, accepted
                elif (ev == mg.MG_EV_MQTT_MSG and isinstance(data, mg.MqttMessage)
                      and data.topic == topic):
                    seen.append(json.loads(data.text))

            br.mgr.mqtt_listen("mqtt://0.0.0.0:1883", broker)
            rpc.call("config.set", mqtt_url="mqtt://10.0.2.2:1883")
            if not br.pump(lambda: any(s.get("online") for s in seen), timeout=20):
                raise TimeoutError("no status publish within 20 s")
            s = next(s for s in seen if s.get("online"))
            return f"{topic}: online, led={s.get('led')}"

        def ota() -> str:
            # The firmware itself, packed as an image for the board (docs/image-format.md).
            blob = imagefmt.pack_elf(image, load_boards().get(DEFAULT_BOARD))
            code, body = http_request(br, "POST", "/api/ota", blob)
            if code != 200:
                raise RuntimeError(f"HTTP {code}: {body[:120]}")
            good = rpc.call("ota.status")
            corrupt = bytearray(blob)
            corrupt[len(corrupt) // 2] ^= 0xFF  # one payload byte: the hash no longer matches
            bad, _ = http_request(br, "POST", "/api/ota", bytes(corrupt))
            if bad == 200:
                raise RuntimeError("a corrupt image was accepted")
            return f"{len(blob)} B image {good['state']}; corrupt copy -> HTTP {bad}, rejected"

        ok = res.run("flash + verify (GDB)", flash)
        ok = ok and res.run("boot (RPC ready)", ready)
        if ok:
            res.run("RPC info, led.set", rpc_info)
            if res.run("bridge (DHCP, no root)", bridge):
                res.run("HTTP /api/info", http_info)
                res.run("WebSocket echo", ws_echo)
                res.run("MQTT status", mqtt_status)
                res.run("OTA over HTTP", ota)
    print()
    print(res.table())
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
