"""The bridge's impairment core (cymongoose.device.impair) without QEMU: a fake clock,
synthetic frames. Seeded runs replay the same decisions; each kind of impairment
happens at its configured rate (within statistical tolerance over many frames); the
rate limiter paces and tail-drops by the clock; bad specs name the bad field."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from cymongoose.device.impair import (
    FROM_DEVICE,
    TO_DEVICE,
    Impairer,
    Impairment,
    Network,
    parse_spec,
)


def frame(i: int, size: int = 100) -> bytes:
    """A frame whose payload starts and ends with its number (to follow it through)."""
    num = struct.pack(">I", i)
    return b"\xff" * 12 + b"\x08\x00" + num + bytes(size - 22) + num


def number(f: bytes) -> int:
    return int(struct.unpack_from(">I", f, 14)[0])


def run(core: Impairer, n: int, d: int = TO_DEVICE, step: float = 0.001,
        size: int = 100) -> list[tuple[float, int, bytes]]:
    """Push n frames, one every ``step`` s, delivering each at its due time:
    [(delivery time, dir, frame)]."""
    out: list[tuple[float, int, bytes]] = []
    for i in range(n + 1):
        now = i * step
        while (t := core.next_due()) is not None and (t <= now or i == n):
            out += [(t, dd, f) for dd, f in core.pop_due(t)]
        if i < n:
            core.push(d, frame(i, size), now)
            out += [(now, dd, f) for dd, f in core.pop_due(now)]
    return out


def events_of(seed: int, spec: Impairment, n: int = 2000) -> list[tuple[int, int, str, str]]:
    events: list[tuple[int, int, str, str]] = []
    core = Impairer(seed, on_event=lambda now, d, no, a, det: events.append((d, no, a, det)))
    core.set(spec)
    for i in range(n):
        core.push(i % 2, frame(i), i * 0.001)
        core.pop_due(i * 0.001)
    return events


MIXED = Impairment(loss=0.05, delay_ms=20, jitter_ms=10, reorder=0.02, duplicate=0.02,
                   corrupt=0.02, burst=(0.01, 0.3, 0.9))


def test_a_seed_replays_the_same_decisions() -> None:
    a = events_of(7, MIXED)
    assert a == events_of(7, MIXED)
    assert len({e[2] for e in a}) == 5  # drop, delay, reorder, duplicate, corrupt all seen
    assert a != events_of(8, MIXED)
    # The same delivered bytes too (corruption included).
    runs = []
    for _ in range(2):
        core = Impairer(3)
        core.set(MIXED)
        runs.append([(t, f) for t, _, f in run(core, 500)])
    assert runs[0] == runs[1]


def test_no_impairment_passes_every_frame_at_once_in_order() -> None:
    core = Impairer(1)
    out = run(core, 300)
    assert [number(f) for _, _, f in out] == list(range(300))
    assert all(t == pytest.approx(number(f) * 0.001) for t, _, f in out)
    assert core.stats["frames"] == core.stats["delivered"] == 300
    assert core.stats["dropped"] == 0


@pytest.mark.parametrize("p", [0.01, 0.1, 0.3])
def test_loss_rate(p: float) -> None:
    n = 20000
    core = Impairer(11)
    core.set(Impairment(loss=p))
    got = run(core, n)
    lost = n - len(got)
    sigma = (n * p * (1 - p)) ** 0.5
    assert abs(lost - n * p) < 5 * sigma, lost
    assert core.stats["dropped"] == core.stats["dropped_loss"] == lost
    assert [number(f) for _, _, f in got] == sorted(number(f) for _, _, f in got)


def test_gilbert_elliott_losses_come_in_bursts() -> None:
    """p=1 %, r=25 %, all lost when bad: the stationary loss is p/(p+r) = 3.85 % and the
    mean burst 1/r = 4 frames, while the same rate of independent loss has runs ~1.04."""
    n = 40000
    core = Impairer(5)
    core.set(Impairment(burst=(0.01, 0.25, 1.0)))
    got = {number(f) for _, _, f in run(core, n)}
    lost = [i for i in range(n) if i not in got]
    assert abs(len(lost) / n - 0.01 / 0.26) < 0.01
    runs, prev = [], -2
    for i in lost:
        if i == prev + 1:
            runs[-1] += 1
        else:
            runs.append(1)
        prev = i
    assert 3.0 < sum(runs) / len(runs) < 5.5
    indep = Impairer(5)
    indep.set(Impairment(loss=len(lost) / n))
    got2 = {number(f) for _, _, f in run(indep, n)}
    lost2 = [i for i in range(n) if i not in got2]
    runs2 = sum(1 for k, i in enumerate(lost2) if k == 0 or lost2[k - 1] != i - 1)
    assert len(lost2) / runs2 < 1.2


def test_delay_and_jitter_keep_order_and_bounds() -> None:
    core = Impairer(2)
    core.set(Impairment(delay_ms=50, jitter_ms=20))
    out = run(core, 2000, step=0.05)  # far enough apart that order costs no extra delay
    delays = [t - number(f) * 0.05 for t, _, f in out]
    assert [number(f) for _, _, f in out] == list(range(2000))
    assert min(delays) >= 0.030 - 1e-9 and max(delays) <= 0.070 + 1e-9
    assert 0.045 < sum(delays) / len(delays) < 0.055
    assert max(delays) - min(delays) > 0.035  # jitter actually spreads them
    assert core.stats["delayed"] == 2000


def test_duplicate_and_reorder_rates() -> None:
    n = 20000
    core = Impairer(9)
    core.set(Impairment(duplicate=0.05))
    nums = [number(f) for _, _, f in run(core, n)]
    dups = len(nums) - n
    assert abs(dups - 0.05 * n) < 5 * (n * 0.05 * 0.95) ** 0.5
    assert core.stats["duplicated"] == dups and sorted(set(nums)) == list(range(n))

    core = Impairer(9)
    core.set(Impairment(reorder=0.05))
    nums = [number(f) for _, _, f in run(core, n)]
    assert sorted(nums) == list(range(n))  # nothing lost or doubled
    late = sum(1 for k in range(1, n) if nums[k] < nums[k - 1])
    assert abs(late - 0.05 * n) < 5 * (n * 0.05) ** 0.5
    assert core.stats["reordered"] >= late


def test_a_held_frame_goes_out_after_the_hold_when_nothing_overtakes_it() -> None:
    core = Impairer(1)
    core.set(Impairment(reorder=1.0))
    core.push(TO_DEVICE, frame(1), 0.0)
    assert core.pop_due(0.0) == [] and core.next_due() == pytest.approx(0.05)
    assert core.pop_due(0.049) == []
    assert core.pop_due(0.05) == [(TO_DEVICE, frame(1))]
    assert core.stats["reordered"] == 0


def test_corruption_flips_one_bit_after_the_ethernet_header() -> None:
    n = 5000
    core = Impairer(4)
    core.set(Impairment(corrupt=0.1))
    out = run(core, n)
    bad = 0
    for _, _, f in out:
        head, tail = struct.unpack_from(">I", f, 14)[0], struct.unpack_from(">I", f, len(f) - 4)[0]
        if f in (frame(head), frame(tail)) and head == tail:
            continue
        bad += 1
        flips = min(sum((a ^ b).bit_count() for a, b in zip(f, frame(k))) for k in (head, tail))
        assert flips == 1
        orig = frame(head) if sum(a != b for a, b in zip(f, frame(head))) == 1 else frame(tail)
        assert min(i for i in range(len(f)) if f[i] != orig[i]) >= 14
    assert abs(bad - 0.1 * n) < 5 * (n * 0.09) ** 0.5
    assert core.stats["corrupted"] == bad


def test_rate_limit_paces_frames_and_tail_drops() -> None:
    # 80 kbit/s = 10,000 bytes/s: a 1000-byte frame takes 0.1 s on the wire.
    core = Impairer(1)
    core.set(Impairment(rate_bps=80_000, queue=5))
    for i in range(10):  # a burst at t=0: 5 queued, 5 tail-dropped
        core.push(TO_DEVICE, frame(i, 1000), 0.0)
    assert core.stats["dropped_queue"] == 5
    times = []
    while (t := core.next_due()) is not None:
        times += [t for _ in core.pop_due(t)]
    assert times == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    # Once the queue drained, frames are accepted again and paced from then on.
    core.push(TO_DEVICE, frame(20, 500), 1.0)
    assert core.next_due() == pytest.approx(1.05)
    assert core.pop_due(1.049) == [] and len(core.pop_due(1.05)) == 1


def test_rate_limit_sustained_throughput() -> None:
    core = Impairer(1)
    core.set(Impairment(rate_bps=1_000_000, queue=1000))
    out = run(core, 1000, step=0.0, size=1250)  # 1000 x 10 kbit at once
    assert len(out) == 1000 and out[-1][0] == pytest.approx(10.0)


def test_mtu_drops_bigger_frames_only() -> None:
    core = Impairer(1)
    core.set(Impairment(mtu=576))
    core.push(TO_DEVICE, frame(1, 14 + 576), 0.0)
    core.push(TO_DEVICE, frame(2, 14 + 577), 0.0)
    assert [number(f) for _, f in core.pop_due(0.0)] == [1]
    assert core.stats["dropped_mtu"] == 1


def test_direction_and_link_down() -> None:
    events: list[tuple[int, int, str, str]] = []
    core = Impairer(1, on_event=lambda now, d, n, a, det: events.append((d, n, a, det)))
    core.set(Impairment(delay_ms=100), "from")
    core.push(TO_DEVICE, frame(1), 0.0)
    core.push(FROM_DEVICE, frame(2), 0.0)
    assert core.pop_due(0.0) == [(TO_DEVICE, frame(1))]
    core.link_down(0.05)  # the delayed frame is lost with the link
    assert core.next_due() is None
    core.push(TO_DEVICE, frame(3), 0.06)
    assert core.pop_due(1.0) == []
    assert core.stats["dropped_link"] == 2
    assert (FROM_DEVICE, 1, "drop", "link down (in flight)") in events
    assert (TO_DEVICE, 2, "drop", "link down") in events
    core.link_up()
    core.push(TO_DEVICE, frame(4), 1.0)
    assert core.pop_due(1.0) == [(TO_DEVICE, frame(4))]
    assert core.stats_of("to")["frames"] == 3 and core.stats_of("from")["frames"] == 1


def test_changing_the_impairment_takes_effect_at_once() -> None:
    core = Impairer(1)
    core.set(Impairment(loss=1.0))
    core.push(TO_DEVICE, frame(1), 0.0)
    core.set(None)
    core.push(TO_DEVICE, frame(2), 0.0)
    assert core.pop_due(0.0) == [(TO_DEVICE, frame(2))]


@pytest.mark.parametrize(("text", "want"), [
    ("loss=5%,delay=50ms±10ms,seed=1",
     {"loss": 0.05, "delay_ms": 50.0, "jitter_ms": 10.0}),
    ("loss=0.05, delay=50ms+-10ms", {"loss": 0.05, "delay_ms": 50.0, "jitter_ms": 10.0}),
    ("delay=0.1s,jitter=500us", {"delay_ms": 100.0, "jitter_ms": 0.5}),
    ("burst=1%/25%", {"burst": (0.01, 0.25, 1.0)}),
    ("burst=1%/25%/50%,loss=0.1%", {"burst": (0.01, 0.25, 0.5), "loss": 0.001}),
    ("rate=1mbit,queue=64", {"rate_bps": 1e6, "queue": 64}),
    ("rate=256kbit", {"rate_bps": 256e3}),
    ("mtu=576,dup=1%,reorder=2%,corrupt=0.1%",
     {"mtu": 576, "duplicate": 0.01, "reorder": 0.02, "corrupt": 0.001}),
])
def test_spec_syntax(text: str, want: dict[str, object]) -> None:
    spec = parse_spec(text)
    assert spec.to == spec.from_ == Impairment(**want)  # type: ignore[arg-type]
    assert parse_spec(spec.to.describe()).to == spec.to  # type: ignore[union-attr]


def test_spec_directions_and_seed() -> None:
    spec = parse_spec("dir=to,loss=5%;dir=from,delay=20ms;seed=42")
    assert spec.to == Impairment(loss=0.05) and spec.from_ == Impairment(delay_ms=20)
    assert spec.seed == 42
    only = parse_spec("dir=from,loss=1%")
    assert only.to is None and only.from_ == Impairment(loss=0.01)
    assert parse_spec("").to == parse_spec("none").from_ == Impairment()  # clears
    assert parse_spec("seed=5").to is None and parse_spec("seed=5").seed == 5


@pytest.mark.parametrize(("text", "field"), [
    ("loss=5", "loss"),
    ("loss=abc", "loss"),
    ("loss=150%", "loss"),
    ("lose=5%", "lose"),
    ("delay=50", "delay"),
    ("delay=50ms±x", "delay jitter"),
    ("delay=10ms±20ms", "jitter_ms"),
    ("rate=fast", "rate"),
    ("rate=1mbps", "rate"),
    ("queue=0", "queue"),
    ("mtu=20", "mtu"),
    ("mtu=1.5", "mtu"),
    ("dir=up", "dir"),
    ("seed=x", "seed"),
    ("burst=1%", "burst"),
    ("loss", "loss"),
    ("dir=to,loss=1%;dir=both,loss=2%", "dir"),
])
def test_bad_specs_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_spec(text)


def test_bad_keywords_name_the_field() -> None:
    with pytest.raises(ValueError, match="loss"):
        Impairment(loss=2.0)
    with pytest.raises(ValueError, match="rate_bps"):
        Impairment(rate_bps=0)
    net = Network(time.monotonic)
    with pytest.raises(ValueError, match="direction"):
        net.impair(loss=0.1, direction="sideways")
    assert net.current == {"to": None, "from": None}
    with pytest.raises(TypeError):
        parse_spec(5)  # type: ignore[arg-type]


def test_network_log_lines(tmp_path: Path) -> None:
    clock = [100.0]
    log = tmp_path / "x.impair.log"
    net = Network(lambda: clock[0], str(log), wall=lambda: 1000.0 + clock[0] - 100.0)
    net.impair(loss=1.0, direction="to", seed=3)
    net.core.push(TO_DEVICE, frame(1), clock[0])
    net.core.push(FROM_DEVICE, frame(2), clock[0])
    assert net.core.pop_due(clock[0]) == [(FROM_DEVICE, frame(2))]
    clock[0] = 101.5
    net.link_down()
    net.core.push(FROM_DEVICE, frame(3), clock[0])
    net.close()
    lines = log.read_text().splitlines()
    assert lines[0].startswith("# cymongoose bridge impairment log")
    assert lines[1] == "# 1000.000000 set dir=to loss=100% seed=3"
    assert lines[2] == "1000.000000 to 1 drop loss"
    assert lines[3] == "# 1001.500000 link down"
    assert lines[4] == "1001.500000 from 2 drop link down"
    assert len(lines) == 5
    assert net.stats["frames"] == 3 and net.stats["dropped"] == 2


def test_relay_impairs_between_two_sockets(tmp_path: Path) -> None:
    """The relay thread with a real clock: frames from the host side to the device side
    arrive 100 ms late, the other way at once; link down stops both."""
    from cymongoose.device.bridge import FrameRelay
    from cymongoose.device.frames import FrameLink, PcapWriter

    dev_peer, dev = socket.socketpair()
    host_peer, host = socket.socketpair()
    relay = FrameRelay(dev, host, PcapWriter(str(tmp_path / "r.pcap"))).start()
    try:
        dl, hl = FrameLink(dev_peer, "dev"), FrameLink(host_peer, "host")
        relay.network.impair(delay_ms=100, direction="to")
        t0 = time.monotonic()
        hl.send(frame(1))
        dl_frame = dl.recv(2.0)
        assert dl_frame == frame(1) and time.monotonic() - t0 >= 0.095
        dl.send(frame(2))
        # The other way is not held back: a count, not a time, so load cannot break it.
        assert hl.recv(2.0) == frame(2)
        with relay.network.lock:
            assert relay.network.core.stats_of("to")["delayed"] == 1
            assert relay.network.core.stats_of("from")["delayed"] == 0
        relay.network.link_down()
        hl.send(frame(3))
        dl.send(frame(4))
        assert dl.recv(0.3) is None and hl.recv(0.05) is None
        relay.network.link_up()
        relay.network.clear()
        hl.send(frame(5))
        assert dl.recv(2.0) == frame(5)
        st = relay.network.stats
        assert st["frames"] == 5 and st["dropped_link"] == 2 and st["delivered"] == 3
        assert relay.offered_path is None and relay.offered is None
    finally:
        relay.stop()
        assert relay.pcap is not None
        relay.pcap.close()
        for s in (dev_peer, dev, host_peer, host):
            s.close()
    data = (tmp_path / "r.pcap").read_bytes()
    assert data.count(b"\x08\x00" + struct.pack(">I", 3)) == 0  # dropped: not in the pcap
    assert data.count(b"\x08\x00" + struct.pack(">I", 5)) == 1
    assert threading.active_count() >= 1 and os.path.exists(tmp_path / "r.pcap")


def test_drop_next_drops_exactly_the_matching_frames() -> None:
    core = Impairer(1)
    core.drop_next("to", 2, match=lambda f: number(f) % 2 == 1)
    core.drop_next("from")
    for i in range(6):
        core.push(TO_DEVICE, frame(i), 0.0)
        core.push(FROM_DEVICE, frame(i), 0.0)
    out = core.pop_due(0.0)
    assert [number(f) for d, f in out if d == TO_DEVICE] == [0, 2, 4, 5]
    assert [number(f) for d, f in out if d == FROM_DEVICE] == [1, 2, 3, 4, 5]
    assert core.stats["dropped_match"] == core.stats["dropped"] == 3
    with pytest.raises(ValueError, match="count"):
        core.drop_next("to", 0)
