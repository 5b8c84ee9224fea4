#!/usr/bin/env python3
"""TCP echo benchmark: cymongoose (ours) vs the PyPI cymongoose wheel vs asyncio streams.

One run, interleaved rounds, medians and ratios. The load generator is the C program
bench/echo_load.c (an independent peer that never limits the servers).

  throughput: CONNS connections x MSGS 64-byte messages, PIPELINE in flight each -> msgs/s
  latency:    one connection, one 64-byte message in flight -> round trip p50/p99 (us)

Per-connection volume stays small (MSGS * 64 B = 128 KiB) because the PyPI wheel never
consumes a raw TCP receive buffer: its echo must slice past already-seen bytes, which stays
cheap only while that buffer is small.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from _common import OURS_PY, ROOT, Server, build_c_tool, machine, median, pypi_python, stamp

SERVERS = ROOT / "bench" / "servers"


def impls(pypi_py: str) -> dict[str, list[str]]:
    return {
        "cymongoose (ours)": [str(OURS_PY), str(SERVERS / "echo_cymongoose.py")],
        "cymongoose (PyPI 0.2.5)": [pypi_py, str(SERVERS / "echo_cymongoose.py"), "--accumulating"],
        "asyncio streams": [pypi_py, str(SERVERS / "echo_asyncio.py")],
        "asyncio + uvloop": [pypi_py, str(SERVERS / "echo_asyncio.py"), "--uvloop"],
    }


def run_load(tool: str, port: int, conns: int, msgs: int, pipeline: int) -> dict[str, float]:
    out = subprocess.run([tool, "127.0.0.1", str(port), str(conns), str(msgs), "64",
                          str(pipeline)], capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"echo_load failed: {out.stderr.strip()}")
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out.stdout)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--msgs", type=int, default=2000)
    ap.add_argument("--pipeline", type=int, default=8)
    args = ap.parse_args()
    tool = str(build_c_tool("echo_load"))
    servers = impls(str(pypi_python()))
    tput: dict[str, list[float]] = {k: [] for k in servers}
    p50: dict[str, list[float]] = {k: [] for k in servers}
    p99: dict[str, list[float]] = {k: [] for k in servers}
    for r in range(args.rounds):
        for name, argv in servers.items():
            with Server(argv) as srv:
                t = run_load(tool, srv.port, args.conns, args.msgs, args.pipeline)
                lat = run_load(tool, srv.port, 1, 5000, 1)
            tput[name].append(t["msgs_per_sec"])
            p50[name].append(lat["p50_us"])
            p99[name].append(lat["p99_us"])
            print(f"round {r + 1} {name:26s} {t['msgs_per_sec']:>10.0f} msg/s  "
                  f"rtt p50 {lat['p50_us']:.1f} us p99 {lat['p99_us']:.1f} us", file=sys.stderr)
    ours = median(tput["cymongoose (ours)"])
    print(f"\n## TCP echo ({stamp()}, {machine()})")
    print(f"`python bench/tcp_echo.py --rounds {args.rounds} --conns {args.conns} --msgs {args.msgs}"
          f" --pipeline {args.pipeline}` (medians of {args.rounds} interleaved rounds)\n")
    print("| server | msgs/s | ours / this | RTT p50 us | RTT p99 us |")
    print("|---|---:|---:|---:|---:|")
    for name in servers:
        m = median(tput[name])
        print(f"| {name} | {m:,.0f} | {ours / m:.2f}x | {median(p50[name]):.1f} | "
              f"{median(p99[name]):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
