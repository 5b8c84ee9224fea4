#!/usr/bin/env python3
"""HTTPS benchmark: a hello-world handler in Python on cymongoose (ours, OpenSSL
backend) vs the PyPI cymongoose 0.2.5 wheel (Mongoose's built-in TLS) vs nginx
with one worker (TLS 1.2 + 1.3, `return 200`), all with one ECDSA P-256
certificate made by the openssl CLI for this run.

  keep-alive   wrk -t1 -c50 over HTTPS: requests/s on established TLS connections
  handshakes   wrk -t1 -c50 with "Connection: close": one TLS connection per
               request (wrk reuses sessions where the server issues tickets)
  full hs      openssl s_time -new -www /: sequential full handshakes + GET, /s

One run of interleaved rounds (each server measured once per round, in turn);
medians, and ratios against ours. Needs wrk, openssl and (optionally) nginx.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import OURS_PY, PYPI_VENV, ROOT, Nginx, Server, machine, median, pypi_python, stamp

SERVER = ROOT / "bench" / "servers" / "https_hello.py"

GEN = r"""
set -e
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 2 -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out srv.key
openssl req -new -key srv.key -subj /CN=localhost -out srv.csr
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile srv.ext -out srv.pem
"""


def wrk(port: int, seconds: int, close: bool) -> float:
    args = ["wrk", "-t1", "-c50", f"-d{seconds}s"]
    if close:
        args += ["-H", "Connection: close"]
    out = subprocess.run(args + [f"https://127.0.0.1:{port}/"], capture_output=True, text=True,
                         timeout=seconds + 60, check=False).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    err = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if err:
        print(f"  warning: port {port}: {err.group(0)}", file=sys.stderr)
    return float(m.group(1)) if m else 0.0


def s_time(port: int, seconds: int) -> float:
    """Sequential full handshakes (+ GET /) per wall-clock second."""
    t0 = time.monotonic()
    try:
        out = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new",
                              "-www", "/", "-time", str(seconds)], capture_output=True,
                             text=True, timeout=seconds + 30, check=False).stdout
    except subprocess.TimeoutExpired:
        print(f"  warning: port {port}: s_time hung", file=sys.stderr)
        return 0.0
    wall = time.monotonic() - t0
    m = re.search(r"(\d+) connections in [\d.]+s", out)
    return int(m.group(1)) / wall if m else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    for tool in ("wrk", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk openssl")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        tmp.chmod(0o755)  # nginx workers may run as another user
        subprocess.run(["sh", "-c", GEN], cwd=tmp, check=True, capture_output=True)
        (tmp / "srv.key").chmod(0o644)
        cert, key = tmp / "srv.pem", tmp / "srv.key"
        argv = [str(SERVER), str(cert), str(key)]
        servers: dict[str, Server | Nginx] = {
            "cymongoose (ours, OpenSSL)": Server([str(OURS_PY), *argv]),
            "cymongoose (PyPI 0.2.5)": Server([str(pypi_python()), *argv]),
        }
        if shutil.which("nginx"):
            ngx_dir = tmp / "nginx"
            ngx_dir.mkdir()
            servers["nginx (1 worker)"] = Nginx(ngx_dir, f"""
  server {{
    listen 127.0.0.1:{{port}} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {cert}; ssl_certificate_key {key};
    location / {{ default_type text/plain; return 200 "Hello, World!"; }}
  }}""")
        modes = {"keep-alive req/s": lambda p: wrk(p, args.seconds, False),
                 "handshakes/s (wrk, Connection: close)": lambda p: wrk(p, args.seconds, True),
                 "full handshakes/s (s_time, sequential)": lambda p: s_time(p, args.seconds)}
        res: dict[str, dict[str, list[float]]] = {m: {k: [] for k in servers} for m in modes}
        try:
            for r in range(args.rounds):
                for mode, fn in modes.items():
                    for name, srv in servers.items():
                        v = fn(srv.port)
                        res[mode][name].append(v)
                        print(f"  round {r + 1} {mode:40s} {name:28s} {v:10.0f}",
                              file=sys.stderr)
        finally:
            for srv in servers.values():
                srv.stop()
    ours = "cymongoose (ours, OpenSSL)"
    lines = ["## HTTPS (bench/tls_bench.py)\n",
             (f"Hello world over TLS (ECDSA P-256 certificate), wrk -t1 -c50 and openssl s_time, "
             f"{args.seconds} s per run, {args.rounds} interleaved rounds, medians. "
             f"{machine()}; {stamp()}. Wheel from {PYPI_VENV.relative_to(ROOT)}.\n"),
             "| measurement | " + " | ".join(servers) + " | ours / PyPI |",
             "|---|" + "---:|" * (len(servers) + 1)]
    for mode in modes:
        med = {k: median(v) for k, v in res[mode].items()}
        pypi = med["cymongoose (PyPI 0.2.5)"]
        ratio = f"{med[ours] / pypi:.2f}x" if pypi else "n/a"
        lines.append(f"| {mode} | " + " | ".join(f"{med[k]:.0f}" if med[k] else "failed"
                                                   for k in servers)
                     + f" | {ratio} |")
    lines.append("\n\"failed\": the peer tool stopped on a TLS error (s_time aborts on the first "
                 "one; the wheel intermittently sends a CertificateVerify that OpenSSL rejects "
                 "with \"bad signature\").")
    print("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
