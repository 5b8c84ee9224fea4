#!/usr/bin/env python3
"""Idle connections: memory per idle connection and poll(0) cost, ours vs the PyPI wheel.

Each server process accepts N idle TCP connections (from a plain-socket child) and reports
its RSS growth per connection (whole process: C core + Python wrapper objects) and the
median cost of poll(0) with 0 and with N idle connections. Run with and without a Python
handler (with one, every poll delivers MG_EV_POLL to each connection in Python).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from _common import OURS_PY, ROOT, machine, pypi_python, stamp


def probe(py: str, n: int, handler: bool) -> dict[str, float]:
    argv = [py, str(ROOT / "bench" / "servers" / "idle_server.py"), str(n)]
    if handler:
        argv.append("--handler")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out.stdout)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000, help="idle connections (default 10000)")
    args = ap.parse_args()
    impls = {"cymongoose (ours)": str(OURS_PY), "cymongoose (PyPI 0.2.5)": str(pypi_python())}
    print(f"## Idle connections ({stamp()}, {machine()})")
    print(f"`python bench/idle.py -n {args.n}`\n")
    print("| server | handler | conns | RSS/conn (bytes) | poll(0) empty (us) | poll(0) with conns (us) |")
    print("|---|---|---:|---:|---:|---:|")
    for handler in (False, True):
        for name, py in impls.items():
            r = probe(py, args.n, handler)
            per = (r["rss_kib"] - r["rss_base_kib"]) * 1024 / max(r["conns"], 1)
            print(f"| {name} | {'python' if handler else 'none'} | {r['conns']:.0f} | {per:,.0f} | "
                  f"{r['poll0_us_empty']:.1f} | {r['poll0_us_full']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
