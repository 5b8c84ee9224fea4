#!/usr/bin/env python3
"""HTTP benchmark with wrk (-t1 -c50): a hello-world handler written in Python on
cymongoose (ours) vs the PyPI cymongoose wheel vs aiohttp vs uvicorn (httptools+uvloop),
and static files via serve_dir (4 KiB and 1 MiB) vs nginx with one worker.

One run of interleaved rounds (every server is measured once per round, in turn);
medians of requests/s and of wrk's p99 latency, and ratios against ours.
Needs wrk and nginx (Debian packages wrk, nginx-light); peers live in the separate venv
build/bench-venv-pypi (PyPI cymongoose 0.2.5, uvloop, aiohttp, uvicorn, httptools).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    OURS_PY,
    PYPI_VENV,
    ROOT,
    Nginx,
    Server,
    cpu_seconds,
    machine,
    median,
    pypi_python,
    stamp,
)

SERVERS = ROOT / "bench" / "servers"


def peers_python() -> str:
    py = str(pypi_python())
    probe = subprocess.run([py, "-c", "import aiohttp, uvicorn, httptools"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        subprocess.run([py, "-m", "pip", "install", "-q", "aiohttp", "uvicorn", "httptools"],
                       check=True)
    return py


def wrk(url: str, seconds: int, pid: int) -> tuple[float, float, float]:
    """(requests/s, p99 latency in ms, server CPU us per request) of one wrk run."""
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(["wrk", "-t1", "-c50", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 60,
                         check=False).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors:
        print(f"  warning: {url}: {errors.group(0)}", file=sys.stderr)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, p99, (cpu_seconds(pid) - cpu0) * 1e6 / max(total, 1)


Target = tuple[str, int]  # URL, pid of the process doing the serving


def run_rounds(targets: dict[str, Target], rounds: int,
               seconds: int) -> dict[str, tuple[float, float, float]]:
    res: dict[str, list[tuple[float, float, float]]] = {k: [] for k in targets}
    for r in range(rounds):
        for name, (url, pid) in targets.items():
            a, b, c = wrk(url, seconds, pid)
            res[name].append((a, b, c))
            print(f"  round {r + 1} {name:28s} {a:10.0f} req/s  p99 {b:7.2f} ms  "
                  f"{c:7.1f} us CPU/req", file=sys.stderr)
    return {k: tuple(median([x[i] for x in v]) for i in range(3))  # type: ignore[misc]
            for k, v in res.items()}


def table(title: str, res: dict[str, tuple[float, float, float]], ref: str) -> str:
    lines = [f"### {title}", "",
             "| server | req/s | p99 latency ms | server CPU us/req | ours / this (req/s) |",
             "|---|---:|---:|---:|---:|"]
    for name, (rps, p99, cpu) in res.items():
        lines.append(f"| {name} | {rps:.0f} | {p99:.2f} | {cpu:.1f} | "
                     f"{res[ref][0] / rps:.2f}x |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--only", choices=("hello", "static"), help="run one part only")
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk nginx-light")
    peers = peers_python()
    hello = {
        "cymongoose (ours)": [str(OURS_PY), str(SERVERS / "http_hello.py"), "cymongoose", "hello"],
        "cymongoose (PyPI 0.2.5)": [peers, str(SERVERS / "http_hello.py"), "cymongoose", "hello"],
        "aiohttp": [peers, str(SERVERS / "http_hello.py"), "aiohttp", "hello"],
        "uvicorn (httptools+uvloop)": [peers, str(SERVERS / "http_hello.py"), "uvicorn", "hello"],
    }
    out = [(f"## HTTP (bench/http_bench.py)\n\nwrk -t1 -c50, {args.seconds} s per run, "
            f"{args.rounds} interleaved rounds, medians. {machine()}; {stamp()}.\n"
            f"Peers from {PYPI_VENV.relative_to(ROOT)}.\n")]
    if args.only != "static":
        servers = {k: Server(v) for k, v in hello.items()}
        try:
            res = run_rounds({k: (f"http://127.0.0.1:{s.port}/", s.proc.pid)
                              for k, s in servers.items()}, args.rounds, args.seconds)
        finally:
            for s in servers.values():
                s.stop()
        out.append(table("Hello world (handler in Python)", res, "cymongoose (ours)"))
    if args.only == "hello":
        print("\n".join(out))
        return 0

    with tempfile.TemporaryDirectory() as td:
        Path(td).chmod(0o755)  # nginx workers run as another user
        root = Path(td) / "www"
        root.mkdir()
        (root / "4k.bin").write_bytes(bytes(range(256)) * 16)
        (root / "1m.bin").write_bytes(bytes(range(256)) * 4096)
        ngx_tmp = Path(td) / "nginx"
        ngx_tmp.mkdir()
        static = {
            "cymongoose (ours)": Server([str(OURS_PY), str(SERVERS / "http_hello.py"),
                                         "cymongoose", "static", str(root)]),
            "cymongoose (PyPI 0.2.5)": Server([peers, str(SERVERS / "http_hello.py"),
                                               "cymongoose", "static", str(root)]),
        }
        ngx = Nginx(ngx_tmp, "  sendfile on;\n  tcp_nopush on;\n"
                    f"  server {{ listen 127.0.0.1:{{port}}; root {root}; }}")
        try:
            ports = {k: (s.port, s.proc.pid) for k, s in static.items()}
            ports["nginx (1 worker)"] = (ngx.port, ngx.worker_pid())
            for f in ("4k.bin", "1m.bin"):
                res = run_rounds({k: (f"http://127.0.0.1:{p}/{f}", pid)
                                  for k, (p, pid) in ports.items()}, args.rounds, args.seconds)
                out.append(table(f"Static file {f} via serve_dir", res, "cymongoose (ours)"))
        finally:
            for s in static.values():
                s.stop()
            ngx.stop()
    text = "\n".join(out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
