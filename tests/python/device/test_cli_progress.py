"""Flash/OTA progress of the CLI: bar, bytes, rate and ETA on a terminal; nothing otherwise."""

from __future__ import annotations

import io

from cymongoose.device.cliutil import RateProgress


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_shows_bytes_rate_and_eta_then_the_total_time() -> None:
    out, clock = FakeTty(), Clock()
    progress = RateProgress(out, width=10, clock=clock)
    kib = 1024
    for t, done in ((0.0, 0), (1.0, 25 * kib), (2.0, 50 * kib)):
        clock.now = 100.0 + t
        progress(done, 100 * kib, "write")
    line = out.getvalue().split("\r")[-1]
    assert line == "write   [#####     ]  50.0%  50/100 KiB  25.0 KiB/s  ETA 0:02\x1b[K"
    clock.now = 104.0
    progress(100 * kib, 100 * kib, "write")
    assert out.getvalue().split("\r")[-1] == \
        "write   [##########] 100.0%  100/100 KiB  25.0 KiB/s  in 4.0 s\x1b[K\n"
    # A new phase starts its own clock and rate.
    clock.now = 110.0
    progress(0, 100 * kib, "verify")
    clock.now = 111.0
    progress(80 * kib, 100 * kib, "verify")
    assert out.getvalue().split("\r")[-1].startswith(
        "verify  [########  ]  80.0%  80/100 KiB  80.0 KiB/s  ETA 0:00")


def test_progress_is_rate_limited_but_always_draws_the_end() -> None:
    out, clock = FakeTty(), Clock()
    progress = RateProgress(out, clock=clock)
    for done in range(0, 1000, 10):
        progress(done, 1000, "ota")  # all at the same instant: one redraw
    progress(1000, 1000, "ota")
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith("\n")


def test_no_progress_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = RateProgress(out)
    progress(10, 100, "write")
    progress(100, 100, "write")
    assert out.getvalue() == ""
