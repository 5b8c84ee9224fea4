"""MQTT peers for the tests (importable as `mqttpeers`): a mosquitto broker
on loopback, our example brokers (Python on a poll thread, C as a process),
and a paho-mqtt client that records what it receives."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cymongoose as mg
import pytest
from mgtest import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_port(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@contextmanager
def mosquitto(conf: str = "allow_anonymous true\n") -> Iterator[int]:
    """A mosquitto broker on 127.0.0.1:<port> (yielded)."""
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                        if os.path.exists("/usr/sbin/mosquitto") else None)
    if exe is None:
        pytest.skip("mosquitto is not installed (Debian package mosquitto)")
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "mosquitto.conf"
        cfg.write_text(f"listener {port} 127.0.0.1\n{conf}")
        p = subprocess.Popen([exe, "-c", str(cfg)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            yield port
        finally:
            p.terminate()
            p.wait(5)


class PyBroker:
    """examples/mqtt_broker.py polled by a background thread."""

    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT / "examples"))
        try:
            import mqtt_broker
        finally:
            sys.path.pop(0)
        self.mgr = mg.Manager()
        self.broker = mqtt_broker.Broker(self.mgr, "mqtt://127.0.0.1:0")
        self.port = self.broker.port
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.mgr.poll(20)

    def close(self) -> None:
        self._stop.set()
        self._t.join(5)
        self.mgr.close()


class CBroker:
    """The C example broker (build/host/mqtt_broker) as a process."""

    def __init__(self) -> None:
        exe = Path(os.environ.get("MG_HOST_DIR", ROOT / "build" / "host")) / "mqtt_broker"
        if not exe.exists():
            pytest.skip(f"C example broker not built ({exe}; run `make host`)")
        self.port = free_port()
        err = os.environ.get("MG_BROKER_STDERR")  # e.g. sanitizer reports
        self.p = subprocess.Popen([str(exe), f"mqtt://127.0.0.1:{self.port}"],
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(err, "a") if err else subprocess.DEVNULL)  # noqa: SIM115
        wait_port(self.port)

    def close(self) -> None:
        self.p.terminate()
        self.p.wait(5)


@contextmanager
def broker(kind: str) -> Iterator[int]:
    """Our example broker of the given kind ("python" or "c"); yields its port."""
    b: Any = PyBroker() if kind == "python" else CBroker()
    try:
        yield b.port
    finally:
        b.close()


class Paho:
    """A paho-mqtt client with its network loop in a thread; records messages."""

    def __init__(self, port: int, client_id: str = "", v5: bool = False,
                 clean: bool = True, will: tuple[str, bytes, int, bool] | None = None,
                 keepalive: int = 30) -> None:
        import paho.mqtt.client as paho

        self.paho = paho
        self.v5 = v5
        self.msgs: list[tuple[str, bytes, int, bool]] = []
        self.cond = threading.Condition()
        self.connack: tuple[bool, int] | None = None
        proto = paho.MQTTv5 if v5 else paho.MQTTv311
        kw: dict[str, Any] = {"client_id": client_id, "protocol": proto}
        if not v5:
            kw["clean_session"] = clean
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, **kw)
        self.c.on_message = self._on_message
        self.c.on_connect = self._on_connect
        if will is not None:
            self.c.will_set(will[0], will[1], will[2], will[3])
        ckw: dict[str, Any] = {"keepalive": keepalive}
        if v5:
            ckw["clean_start"] = clean
            if not clean:
                from paho.mqtt.packettypes import PacketTypes
                from paho.mqtt.properties import Properties

                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = 300
                ckw["properties"] = props
        self.c.connect("127.0.0.1", port, **ckw)
        self.c.loop_start()
        self.wait(lambda: self.connack is not None)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any,
                    props: Any = None) -> None:
        with self.cond:
            self.connack = (bool(flags.session_present), int(rc.value if hasattr(rc, "value")
                                                              else rc))
            self.cond.notify_all()

    def _on_message(self, client: Any, userdata: Any, m: Any) -> None:
        with self.cond:
            self.msgs.append((m.topic, m.payload, m.qos, bool(m.retain)))
            self.cond.notify_all()

    def wait(self, pred: Any, timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(pred, timeout)

    def wait_msgs(self, n: int, timeout: float = 5.0) -> list[tuple[str, bytes, int, bool]]:
        self.wait(lambda: len(self.msgs) >= n, timeout)
        return list(self.msgs)

    def sub(self, topic: str, qos: int = 0) -> None:
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos)
        assert done.wait(5), "no SUBACK"

    def unsub(self, topic: str) -> None:
        done = threading.Event()
        self.c.on_unsubscribe = lambda *a: done.set()
        self.c.unsubscribe(topic)
        assert done.wait(5), "no UNSUBACK"

    def pub(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        info = self.c.publish(topic, payload, qos, retain)
        info.wait_for_publish(5)
        assert info.is_published()

    def close(self, clean: bool = True) -> None:
        if clean:
            self.c.disconnect()
        else:
            # No DISCONNECT: the broker sees the connection drop.
            sock = self.c.socket()
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        self.c.loop_stop()
