#!/usr/bin/env python3
"""How the reference firmware (examples/device_app) degrades with packet loss: HTTP
request time (GET /api/info, median and 90th percentile) and WebSocket echo goodput
against loss on the root-free bridge (0, 1, 2, 5, 10, 20 % both ways, seeded), on an
emulated board (mps2-an385 unless --board says otherwise).

    python bench/loss_curve.py [--board mps2-an385] [--firmware build/fw]
                               [--requests 30] [--ws-kib 64] [--png loss.png]

Prints a Markdown section for bench/RESULTS.md (a table and a text chart); with
matplotlib installed, --png also draws the two curves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cymongoose as mg
from cymongoose.device import QemuTarget, load_boards
from cymongoose.device.bridge import StackBridge
from cymongoose.device.errors import DeviceError

ROOT = Path(__file__).resolve().parents[1]

LOSSES = (0.0, 0.01, 0.02, 0.05, 0.10, 0.20)
WS_MSG = 4096
REQUEST_TIMEOUT_S = 30.0


def http_times(br: StackBridge, n: int) -> tuple[list[float], int]:
    """Seconds per GET /api/info (a new connection each), and how many failed."""
    times, failed = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            status, _, _ = br.http("GET", "/api/info", timeout=REQUEST_TIMEOUT_S)
        except DeviceError:
            failed += 1
            continue
        if status == 200:
            times.append(time.perf_counter() - t0)
        else:
            failed += 1
    return times, failed


def ws_goodput(br: StackBridge, total: int) -> float:
    """Echoed bytes per second for ``total`` bytes in 4 KiB messages, one at a time
    (each checked against what was sent); 0.0 when it did not finish in time."""
    msgs = [os.urandom(WS_MSG) for _ in range(max(1, total // WS_MSG))]
    got: list[bytes] = []
    state = {"sent": 0}

    def fn(c: Any, ev: int, m: Any) -> None:
        if ev == mg.MG_EV_WS_MSG:
            got.append(bytes(m.data))
        if ev in (mg.MG_EV_WS_OPEN, mg.MG_EV_WS_MSG) and \
                len(got) == state["sent"] < len(msgs):
            c.ws_send(msgs[state["sent"]], mg.WEBSOCKET_OP_BINARY)
            state["sent"] += 1

    t0 = time.perf_counter()
    c = br.mgr.ws_connect(br.url("/ws", scheme="ws"), fn)
    ok = br.pump(lambda: len(got) == len(msgs), 120)
    elapsed = time.perf_counter() - t0
    c.close()
    br.pump(lambda: False, 0.05)
    if not ok or got != msgs:
        return 0.0
    return sum(len(m) for m in msgs) / elapsed


def bar(value: float, top: float, width: int = 30) -> str:
    n = 0 if top <= 0 else round(width * value / top)
    return "█" * n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="mps2-an385")
    ap.add_argument("--firmware", default=str(ROOT / "build" / "fw"),
                    help="folder with device_app.elf (or the image itself)")
    ap.add_argument("--requests", type=int, default=30, help="HTTP requests per point")
    ap.add_argument("--ws-kib", type=int, default=64, help="WebSocket bytes per point (KiB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--png", help="draw the chart here (needs matplotlib)")
    args = ap.parse_args()
    elf = Path(args.firmware)
    if elf.is_dir():
        elf = elf / "device_app.elf"
    if not elf.is_file():
        print(f"{elf} is not built (make fw)", file=sys.stderr)
        return 2
    board = load_boards().get(args.board)
    rows = []
    with tempfile.TemporaryDirectory() as d, \
            QemuTarget(str(elf), board, nic="stream", log_path=Path(d) / "console.log") as t, \
            StackBridge(t.netdev_socket(), impair="none", health=t.check) as br:
        br.wait_ready(port=80, timeout=30)
        br.http("GET", "/api/info")  # warm up (ARP both ways)
        for loss in LOSSES:
            br.network.impair(loss=loss, seed=args.seed)
            times, failed = http_times(br, args.requests)
            goodput = ws_goodput(br, args.ws_kib * 1024)
            br.network.clear()
            ms = [x * 1000 for x in times]
            mean = statistics.fmean(ms) if ms else float("nan")
            med = statistics.median(ms) if ms else float("nan")
            p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) >= 2 else float("nan")
            rows.append((loss, mean, med, p90, failed, goodput / 1024))
            print(f"loss {loss:.0%}: http mean {mean:.1f} ms median {med:.1f} ms p90 "
                  f"{p90:.1f} ms failed {failed}; ws {goodput / 1024:.1f} KiB/s",
                  file=sys.stderr)
    print("## Loss curve: HTTP and WebSocket through the impaired bridge "
          "(`bench/loss_curve.py`, issue 19)\n")
    print(f"{board.name}, examples/device_app, loss both ways (seed {args.seed}), "
          f"{args.requests} GET /api/info (a new connection each) and a "
          f"{args.ws_kib} KiB WebSocket echo in {WS_MSG // 1024} KiB messages per point.\n")
    print("| loss | HTTP mean ms | median ms | p90 ms | failed | WS echo KiB/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for loss, mean, med, p90, failed, kib in rows:
        print(f"| {loss:.0%} | {mean:.1f} | {med:.1f} | {p90:.1f} | {failed} | {kib:.1f} |")
    print("\n```")
    top_ms = max((r[1] for r in rows if r[1] == r[1]), default=0.0)
    top_kib = max((r[5] for r in rows), default=0.0)
    for loss, mean, _, _, _, kib in rows:
        print(f"{loss:>4.0%} HTTP mean {mean:7.1f} ms {bar(mean, top_ms, 24):<24}  "
              f"WS {kib:6.1f} KiB/s {bar(kib, top_kib, 24)}")
    print("```")
    if args.png:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("--png needs matplotlib", file=sys.stderr)
            return 1
        xs = [r[0] * 100 for r in rows]
        fig, ax1 = plt.subplots(figsize=(6, 3.5))
        ax1.plot(xs, [r[1] for r in rows], "o-", label="HTTP mean (ms)")
        ax1.set_xlabel("loss, both ways (%)")
        ax1.set_ylabel("HTTP request (ms)")
        ax2 = ax1.twinx()
        ax2.plot(xs, [r[5] for r in rows], "s--", color="tab:orange",
                 label="WebSocket echo (KiB/s)")
        ax2.set_ylabel("WebSocket echo (KiB/s)")
        fig.legend(loc="upper center")
        fig.tight_layout()
        fig.savefig(args.png, dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
