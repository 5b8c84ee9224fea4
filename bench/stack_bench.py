"""Built-in TCP/IP stack over TAP against the kernel's stack over a veth pair.

One run of each: TCP bulk throughput both ways (curl downloading 100 MiB from
the cymongoose HTTP server; a Python client uploading 100 MiB to the server's
SHA-256 sink on port 9000, digest checked) and HTTP requests per second (wrk, 4 keep-alive
connections, 5 s) against the same server program (tests/stack/tap_server.c),
on the built-in stack behind a TAP device with the TAP offloads (IFF_VNET_HDR,
64 KiB TCP segments each way) and without them (one 1500-byte frame per
syscall), and on kernel sockets behind a veth pair; prints the ratios to the
kernel (target >= 0.7) and the stack's RAM figures. Needs root (network
namespaces), curl and wrk. Everything runs in namespaces created here and
removed afterwards.

    sudo .venv/bin/python bench/stack_bench.py [--mtu 9000]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench-stack"
BULK = 100 * 1024 * 1024


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=300)


def build(mtu: int) -> tuple[Path, Path]:
    """Release build of the core library, then the server and the size test,
    with the default (host) buffers and the given MTU."""
    defines = [] if mtu == 1500 else [f"MG_TCPIP_MTU={mtu}"]
    out = BUILD if mtu == 1500 else BUILD.with_name(f"{BUILD.name}-mtu{mtu}")
    sh("cmake", "-S", str(ROOT), "-B", str(out), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
       f"-DMG_FEATURE_DEFINES={';'.join(defines)}")
    sh("cmake", "--build", str(out), "-j", "2", "--target", "mg_core", "test_stack_size")
    exe = out / "tap_server"
    sh("cc", "-std=c11", "-O2", f"-I{ROOT / 'src' / 'include'}", *[f"-D{d}" for d in defines],
       str(ROOT / "tests" / "stack" / "tap_server.c"), str(out / "libmg_core.a"),
       "-lssl", "-lcrypto", "-lpthread", "-lm", "-o", str(exe))
    return exe, out / "test_stack_size"


def in_ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def start(argv: list[str], offload: bool = False) -> subprocess.Popen[str]:
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line.startswith("ready") or offload != line.rstrip().endswith(" offload"):
        p.kill()
        raise RuntimeError(f"server did not start as asked (offload={offload}): {line!r}")
    return p


# Runs in the client namespace: streams BULK bytes to the upload sink, checks
# the SHA-256 it answers, prints MB/s from the first byte to the digest.
UPLOAD_CLIENT = """
import hashlib, socket, struct, sys, time
ip, n = sys.argv[1], int(sys.argv[2])
block = bytes(i % 251 for i in range(1 << 20))
want = hashlib.sha256()
for _ in range(n >> 20):
    want.update(block)
s = socket.create_connection((ip, 9000), timeout=120)
t = time.perf_counter()
s.sendall(struct.pack(">Q", n))
for _ in range(n >> 20):
    s.sendall(block)
got = b""
while len(got) < 64:
    chunk = s.recv(128)
    if not chunk:
        break
    got += chunk
dt = time.perf_counter() - t
if got[:64].decode() != want.hexdigest():
    sys.exit(f"upload digest mismatch: {got!r}")
print(n / dt / 1e6)
"""


def measure(client_ns: str, ip: str) -> tuple[float, float, float]:
    """(MB/s of a 100 MiB download, MB/s of a 100 MiB upload, HTTP req/s)."""
    r = sh(*in_ns(client_ns, "curl", "-s", "-o", "/dev/null", "--max-time", "120", "-w",
                  "%{speed_download} %{size_download}", f"http://{ip}/big?n={BULK}"))
    speed, size = r.stdout.split()
    if int(float(size)) != BULK:
        raise RuntimeError(f"short download: {size} bytes")
    up = float(sh(*in_ns(client_ns, sys.executable, "-c", UPLOAD_CLIENT, ip,
                         str(BULK))).stdout)
    w = sh(*in_ns(client_ns, "wrk", "-t1", "-c4", "-d5s", f"http://{ip}/"))
    m = re.search(r"Requests/sec:\s+([\d.]+)", w.stdout)
    if m is None or "Non-2xx" in w.stdout or "Socket errors" in w.stdout:
        raise RuntimeError(w.stdout)
    return float(speed) / 1e6, up, float(m.group(1))


def main() -> int:
    if os.geteuid() != 0:
        print("stack_bench: needs root (network namespaces, TAP)", file=sys.stderr)
        return 2
    for tool in ("ip", "curl", "wrk", "cc", "cmake"):
        if shutil.which(tool) is None:
            print(f"stack_bench: needs {tool}", file=sys.stderr)
            return 2
    mtu = int(sys.argv[sys.argv.index("--mtu") + 1]) if "--mtu" in sys.argv else 1500
    exe, size_test = build(mtu)
    tag = str(os.getpid())
    stk, srv, cli = f"mgb_stk{tag}", f"mgb_srv{tag}", f"mgb_cli{tag}"
    procs: list[subprocess.Popen[str]] = []
    try:
        for ns in (stk, srv, cli):
            sh("ip", "netns", "add", ns)
            sh(*in_ns(ns, "ip", "link", "set", "lo", "up"))
        # Built-in stack: kernel side of tap0 is the client; the same server
        # once with the TAP offloads, once with plain frames.
        sh(*in_ns(stk, "ip", "tuntap", "add", "dev", "tap0", "mode", "tap"))
        sh(*in_ns(stk, "ip", "addr", "add", "10.9.0.1/24", "dev", "tap0"))
        sh(*in_ns(stk, "ip", "link", "set", "tap0", "mtu", str(mtu), "up"))
        stack_runs: dict[str, tuple[float, float, float]] = {}
        for label, flags in (("offloads", []), ("plain frames", ["-n"])):
            p = start(in_ns(stk, str(exe), *flags, "tap0", "10.9.0.2/24"), offload=not flags)
            procs.append(p)
            stack_runs[label] = measure(stk, "10.9.0.2")
            p.terminate()
            p.wait(10)
        # Kernel stack: veth pair between a client and a server namespace.
        sh("ip", "link", "add", f"vc{tag}", "netns", cli, "type", "veth",
           "peer", "name", f"vs{tag}", "netns", srv)
        sh(*in_ns(cli, "ip", "addr", "add", "10.8.0.1/24", "dev", f"vc{tag}"))
        sh(*in_ns(srv, "ip", "addr", "add", "10.8.0.2/24", "dev", f"vs{tag}"))
        sh(*in_ns(cli, "ip", "link", "set", f"vc{tag}", "mtu", str(mtu), "up"))
        sh(*in_ns(srv, "ip", "link", "set", f"vs{tag}", "mtu", str(mtu), "up"))
        procs.append(start(in_ns(srv, str(exe), "-k", "10.8.0.2")))

        k_bulk, k_up, k_rps = measure(cli, "10.8.0.2")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        for ns in (stk, srv, cli):
            sh("ip", "netns", "del", ns, check=False)

    print(f"MTU {mtu}")
    print("| path | download MB/s | upload MB/s | HTTP req/s | download ratio | upload ratio "
          "| req/s ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, (s_bulk, s_up, s_rps) in stack_runs.items():
        print(f"| built-in stack over TAP, {label} | {s_bulk:.1f} | {s_up:.1f} | {s_rps:.0f} | "
              f"{s_bulk / k_bulk:.2f} | {s_up / k_up:.2f} | {s_rps / k_rps:.2f} |")
    print(f"| kernel sockets over veth | {k_bulk:.1f} | {k_up:.1f} | {k_rps:.0f} | 1.00 | 1.00 "
          "| 1.00 |")
    print(sh(str(size_test)).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
