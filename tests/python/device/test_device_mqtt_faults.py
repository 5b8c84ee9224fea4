"""The reference firmware's MQTT client against a broker on the bridge (our broker,
examples/mqtt_broker.py, on the bridge's manager at the host's address): when the
broker goes away and comes back, and when the cable is pulled for longer than the
keep-alive, the device reconnects by itself and publishes its status again, and a
QoS 1 command published while it was away is delivered once it is back (its session
is persistent), run, and answered."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device.pytest_plugin import Dut
from fwimages import built_image
from test_device_dhcp import expect_line

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "examples"))

import cymongoose as mg  # noqa: F401 - the broker needs it


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    return built_image("device_app.elf")


class BridgeBroker:
    """Our broker on the bridge's stack; ``kill()`` drops every connection and the
    listener at once (a crashed broker), ``start()`` listens again with the sessions it
    had (a broker restarted with its persistence). ``seen`` records every publish."""

    URL = "mqtt://0.0.0.0:1883"

    def __init__(self, dut: Dut) -> None:
        from mqtt_broker import Broker

        self.mgr = dut.bridge.mgr
        self.broker = Broker(self.mgr, self.URL)
        self.seen: list[tuple[float, str, bytes]] = []
        route = self.broker.route

        def recording(topic: str, payload: bytes, qos: int, retain: bool) -> None:
            self.seen.append((time.monotonic(), topic, bytes(payload)))
            route(topic, payload, qos, retain)

        self.broker.route = recording  # type: ignore[method-assign]

    def kill(self) -> None:
        self.broker.listener.close()
        for client in list(self.broker.clients.values()):
            conn = client.session.conn
            if conn is not None:
                conn.close()

    def start(self) -> None:
        self.broker.listener = self.mgr.mqtt_listen(self.URL, self.broker.handler)

    def statuses(self, device_id: str, since: float = 0.0) -> list[dict[str, Any]]:
        return [json.loads(p) for t, topic, p in self.seen
                if topic == f"device/{device_id}/status" and t >= since]

    def replies(self, device_id: str) -> list[dict[str, Any]]:
        return [json.loads(p) for _, topic, p in self.seen
                if topic == f"device/{device_id}/reply"]

    def command(self, device_id: str, req_id: int, method: str, **params: Any) -> None:
        """A QoS 1 JSON-RPC request to the device, as another client would publish it."""
        body = {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}
        self.broker.route(f"device/{device_id}/cmd", json.dumps(body).encode(), 1, False)


def connect_device(dut: Dut, keepalive: int | None = None) -> tuple[BridgeBroker, str]:
    dut.rpc.wait_notification("ready", timeout=20)
    device_id = dut.rpc.call("config.get")["id"]
    dut.bridge.wait_ready(timeout=30)
    broker = BridgeBroker(dut)
    params: dict[str, Any] = {"mqtt_url": f"mqtt://{dut.bridge.host_ip}:1883"}
    if keepalive is not None:
        params["mqtt_keepalive"] = keepalive
    dut.rpc.call("config.set", **params)
    expect_line(dut, r"mqtt: connected to ", timeout=10)
    assert dut.bridge.pump(lambda: bool(broker.statuses(device_id)), 5)
    return broker, device_id


def led_replies(broker: BridgeBroker, device_id: str, req_id: int) -> list[dict[str, Any]]:
    return [r for r in broker.replies(device_id) if r.get("id") == req_id]


@pytest.mark.dut(nic="stream")
def test_broker_restart_device_reconnects_and_gets_queued_qos1(dut: Dut) -> None:
    broker, device_id = connect_device(dut)
    br = dut.bridge
    broker.kill()
    expect_line(dut, r"mqtt: disconnected$", timeout=5)
    br.pump(lambda: False, 0.5)  # down for a moment: the device retries (every 2 s)
    broker.start()
    sess = broker.broker.sessions.get(device_id)
    assert sess is not None and sess.conn is None, "no persistent session kept for it"
    broker.command(device_id, 7, "led.set", on=True)  # queued for the offline session
    assert sess.queue
    t0 = time.monotonic()
    expect_line(dut, r"mqtt: connected to ", timeout=10)
    assert br.pump(lambda: bool(led_replies(broker, device_id, 7)), 5), broker.seen[-5:]
    assert len(led_replies(broker, device_id, 7)) == 1  # once
    assert "result" in led_replies(broker, device_id, 7)[0]
    assert br.pump(lambda: any(s.get("led") for s in broker.statuses(device_id, t0)), 10)
    print(f"reconnected and answered {time.monotonic() - t0:.2f} s after the restart")


@pytest.mark.dut(nic="stream")
def test_cable_pulled_longer_than_keepalive(dut: Dut) -> None:
    keepalive = 2  # the broker gives up after 3 s of silence, the device too
    broker, device_id = connect_device(dut, keepalive=keepalive)
    br, net = dut.bridge, dut.network
    net.link_down()
    t_down = time.monotonic()
    expect_line(dut, r"mqtt: (disconnected|MQTT keep-alive timeout)", timeout=keepalive * 3)
    sess = broker.broker.sessions[device_id]
    assert br.pump(lambda: sess.conn is None, keepalive * 3)  # the broker noticed too
    broker.command(device_id, 9, "led.set", on=True)  # published during the outage
    br.pump(lambda: False, max(0.0, keepalive * 2 - (time.monotonic() - t_down)))
    net.link_up()
    t_up = time.monotonic()
    expect_line(dut, r"mqtt: connected to ", timeout=15)
    assert br.pump(lambda: bool(broker.statuses(device_id, t_up)), 5)  # status again
    assert br.pump(lambda: bool(led_replies(broker, device_id, 9)), 5), broker.seen[-5:]
    assert "result" in led_replies(broker, device_id, 9)[0]
    print(f"down {t_up - t_down:.1f} s; back and answered {time.monotonic() - t_up:.2f} s "
          "after link up")
