"""Our MQTT client publishing bursts of QoS 1 and QoS 2 messages to a real
mosquitto, counted by a paho-mqtt subscriber: every message arrives exactly
once (none lost to the in-flight limit, no QoS 2 duplicates), the client
honours the broker's Receive Maximum, and every publish ends in exactly one
acknowledgement the application sees (id and reason code)."""

from __future__ import annotations

from typing import Any

import cymongoose as mg
import pytest
from cymongoose import MG_EV_CLOSE, MG_EV_ERROR, MG_EV_MQTT_CMD, MG_EV_MQTT_OPEN
from mgtest import poll_until
from mqttpeers import Paho, mosquitto

pytest.importorskip("paho.mqtt.client")

N = 100  # messages per QoS level


class Publisher:
    """Publishes the whole burst inside MG_EV_MQTT_OPEN, as fast as it can,
    and records the final acknowledgement of every packet id."""

    def __init__(self, topic: str, qos_levels: tuple[int, ...]) -> None:
        self.topic = topic
        self.qos_levels = qos_levels
        self.ids: dict[int, int] = {}          # packet id -> QoS
        self.done: dict[int, tuple[int, int]] = {}  # packet id -> (cmd, reason)
        self.events: list[tuple[int, Any]] = []

    def __call__(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_MQTT_OPEN:
            self.events.append((ev, data))
            for qos in self.qos_levels:
                for i in range(N):
                    pid = conn.mqtt_pub(self.topic, f"q{qos}-{i}", qos)
                    assert pid > 0 and pid not in self.ids
                    self.ids[pid] = qos
        elif ev == MG_EV_MQTT_CMD and data.cmd in (4, 5, 7):
            # PUBACK ends QoS 1; PUBCOMP, or a PUBREC refusing it, ends QoS 2.
            if data.cmd != 5 or data.ack >= 0x80:
                assert data.id not in self.done, f"id {data.id} finished twice"
                self.done[data.id] = (data.cmd, data.ack)
        elif ev in (MG_EV_ERROR, MG_EV_CLOSE):
            self.events.append((ev, data))

    def finished(self) -> bool:
        return len(self.ids) == N * len(self.qos_levels) and all(i in self.done for i in self.ids)


def burst(port: int, version: int, qos_levels: tuple[int, ...]) -> tuple[Publisher, Paho]:
    topic = f"burst/{version}/{''.join(map(str, qos_levels))}"
    sub = Paho(port, f"counter-{version}", v5=version == 5)
    sub.sub(topic, 2)
    pub = Publisher(topic, qos_levels)
    with mg.Manager() as m:
        c = m.mqtt_connect(f"mqtt://127.0.0.1:{port}", pub, client_id=f"burst-{version}",
                           version=version)
        poll_until(m, pub.finished, 20)
        # One more message once every publish is acknowledged: when the
        # subscriber has it, a late duplicate of any earlier one would be in too.
        c.mqtt_pub(topic, "end", 2)
        poll_until(m, lambda: any(msg[1] == b"end" for msg in sub.msgs), 10)
    sub.close()
    return pub, sub


def check(pub: Publisher, sub: Paho, qos_levels: tuple[int, ...]) -> None:
    assert pub.events[:1] == [(MG_EV_MQTT_OPEN, 0)]
    assert not [e for e in pub.events if e[0] == MG_EV_ERROR]
    got = [m[1].decode() for m in sub.msgs]
    assert got.count("end") == 1
    got.remove("end")
    want = {f"q{qos}-{i}" for qos in qos_levels for i in range(N)}
    missing = want - set(got)
    assert not missing, f"{len(missing)} of {len(want)} never delivered"
    dups = sorted({p for p in got if got.count(p) > 1})
    assert not dups, f"delivered more than once: {dups[:10]}"
    assert len(got) == len(want)
    # The application saw the final acknowledgement of every id, all successes.
    assert pub.finished()
    for pid, qos in pub.ids.items():
        assert pub.done[pid] == ((4, 0) if qos == 1 else (7, 0)), (pid, qos, pub.done[pid])


@pytest.mark.parametrize("version", [4, 5], ids=["v311", "v5"])
def test_burst_qos1_and_qos2_each_delivered_once(version: int) -> None:
    with mosquitto() as port:
        pub, sub = burst(port, version, (1, 2))
    check(pub, sub, (1, 2))


def test_burst_honours_small_receive_maximum() -> None:
    """mosquitto with max_inflight_messages 3 announces Receive Maximum 3 to v5
    clients and refuses (PUBREC 0x97 quota exceeded) QoS 2 messages beyond it:
    a client that sends more than 3 at once loses messages."""
    with mosquitto("allow_anonymous true\nmax_inflight_messages 3\n") as port:
        pub, sub = burst(port, 5, (2, 1))
    check(pub, sub, (2, 1))
