"""Timers (docs/api-contract.md#timer, C-35..C-37)."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time

import cymongoose as mg


def test_one_shot_fires_exactly_once(mgr: mg.Manager) -> None:
    calls: list[int] = []
    t = mgr.timer_add(20, lambda: calls.append(1))
    assert t.active
    deadline = time.monotonic() + 2
    while not calls and time.monotonic() < deadline:
        mgr.poll(5)
    for _ in range(5):
        mgr.poll(10)
    assert calls == [1] and t.active is False


def test_repeat_and_run_now_and_zero(mgr: mg.Manager) -> None:
    rep: list[int] = []
    now: list[int] = []
    zero: list[int] = []
    zero_rep: list[int] = []
    polls = [0]  # which poll() call a tick fired in
    mgr.timer_add(30, lambda: rep.append(polls[0]), repeat=True)
    mgr.timer_add(10_000, lambda: now.append(1), run_now=True)
    mgr.timer_add(0, lambda: zero.append(1))
    mgr.timer_add(0, lambda: zero_rep.append(1), repeat=True)
    mgr.poll(0)
    assert now == [1] and zero == [1] and zero_rep == [1]
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.35:
        polls[0] += 1
        if polls[0] == 5:
            time.sleep(0.1)  # miss three periods on purpose
        mgr.poll(10)
    assert 4 <= len(rep) <= 14
    # No catch-up bursts: a late tick fires once, not once per missed period. Counted
    # per poll() call rather than timed, so a preempted test process cannot fake a burst.
    assert len(set(rep)) == len(rep), rep
    assert now == [1] and zero == [1] and len(zero_rep) > 5


def test_timer_shortens_the_wait(mgr: mg.Manager) -> None:
    fired: list[float] = []
    mgr.timer_add(50, lambda: fired.append(time.monotonic()))
    t0 = time.monotonic()
    mgr.poll(2000)
    assert fired and fired[0] - t0 < 1.0


def test_cancel_from_own_callback_and_from_other_thread(mgr: mg.Manager) -> None:
    calls: list[int] = []
    holder: list[mg.Timer] = []

    def cb() -> None:
        calls.append(1)
        if len(calls) == 3:
            holder[0].cancel()

    holder.append(mgr.timer_add(0, cb, repeat=True))
    for _ in range(10):
        mgr.poll(0)
    assert len(calls) == 3 and not holder[0].active

    other: list[int] = []
    t = mgr.timer_add(5, lambda: other.append(1), repeat=True)
    th = threading.Thread(target=lambda: (time.sleep(0.05), t.cancel(), t.cancel()))
    th.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.2:
        mgr.poll(5)
    th.join()
    n = len(other)
    for _ in range(10):
        mgr.poll(10)
    assert n > 0 and len(other) == n and t.active is False


def test_discarded_timers_keep_working(mgr: mg.Manager) -> None:
    calls: list[int] = []
    mgr.timer_add(0, lambda: calls.append(1), repeat=True)  # Timer object dropped
    gc.collect()
    for _ in range(5):
        mgr.poll(0)
    assert len(calls) == 5


def test_close_deactivates_timers() -> None:
    m = mg.Manager()
    calls: list[int] = []
    t = m.timer_add(0, lambda: calls.append(1), repeat=True)
    m.close()
    assert t.active is False and calls == []
    t.cancel()  # still harmless
    assert mg.Timer().active is False


def test_exception_in_timer_is_printed_and_repeat_continues() -> None:
    code = """
import cymongoose as mg
n = []
def cb():
    n.append(1)
    raise RuntimeError("timer-oops")
seen = []
m = mg.Manager(error_handler=seen.append)
m.timer_add(0, cb, repeat=True)
for _ in range(3): m.poll(0)
print(len(n), len(seen))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert r.stdout.split() == ["3", "0"]  # timers do not use error_handler
    assert r.stderr.count("timer-oops") == 3


def test_negative_period_is_refused(mgr: mg.Manager) -> None:
    import pytest

    with pytest.raises(ValueError, match="milliseconds"):
        mgr.timer_add(-1, print)
