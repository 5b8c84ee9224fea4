"""Cross-thread wakeup (docs/api-contract.md#manager wakeup, C-9, defects D-4/D-5)."""

from __future__ import annotations

import threading
import time

import cymongoose as mg
import pytest


def test_wakeup_needs_enable(mgr: mg.Manager) -> None:
    assert mgr.wakeup_id == 0
    assert mgr.wakeup(1, b"x") is False


def test_wakeup_channel_is_hidden_and_first() -> None:
    with mg.Manager(enable_wakeup=True) as m:
        assert m.wakeup_id == 1 and m.connections == ()
        assert m.listen("tcp://127.0.0.1:0").id == 2
        assert m.wakeup(m.wakeup_id, b"") is True
        m.poll(0)
        assert m.wakeup(999, b"unknown id") is True  # discarded at delivery
        m.poll(0)


def test_wakeup_data_must_be_bytes() -> None:
    with mg.Manager(enable_wakeup=True) as m:
        with pytest.raises(TypeError, match="'data'"):
            m.wakeup(1, "text")
        with pytest.raises(TypeError, match="'data'"):
            m.wakeup(1, bytearray(b"x"))


def test_wakeup_from_thread_interrupts_poll_and_delivers_everything_in_order() -> None:
    got: list[bytes] = []

    def h(conn, ev, data):
        if ev == mg.MG_EV_WAKEUP:
            got.append(data)

    with mg.Manager(h, enable_wakeup=True) as m:
        lst = m.listen("tcp://127.0.0.1:0")
        big = bytes(range(256)) * 1024  # 256 KiB: the PyPI package truncates/drops these
        payloads = [b"%05d" % i for i in range(2000)] + [big, b""]

        def sender() -> None:
            time.sleep(0.05)
            for p in payloads:
                assert m.wakeup(lst.id, p)

        th = threading.Thread(target=sender)
        t0 = time.monotonic()
        th.start()
        m.poll(5000)  # returns as soon as the first wakeup rings
        first = time.monotonic() - t0
        deadline = time.monotonic() + 10
        while len(got) < len(payloads) and time.monotonic() < deadline:
            m.poll(50)
        th.join()
    assert first < 2.0
    assert got == payloads  # exactly once, in call order, intact


def test_wakeup_to_closed_connection_is_dropped() -> None:
    got: list[bytes] = []
    with mg.Manager(lambda c, ev, d: got.append(d) if ev == mg.MG_EV_WAKEUP else None,
                    enable_wakeup=True) as m:
        lst = m.listen("tcp://127.0.0.1:0")
        cid = lst.id
        lst.close()
        m.poll(0)
        assert m.wakeup(cid, b"late") is True
        m.poll(0)
    assert got == []
