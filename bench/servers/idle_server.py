"""Idle-connection probe, run under the cymongoose to measure (ours or PyPI).

  python idle_server.py N [--handler]

Accepts N idle TCP connections from a child process (plain sockets), then prints one
line: rss_base_kib=.. rss_kib=.. conns=.. poll0_us_empty=.. poll0_us_full=..
"""

import os
import resource
import statistics
import subprocess
import sys
import time

import cymongoose as mg

N = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, N + 1000)), hard))


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def poll_cost(mgr: "mg.Manager", n: int = 300) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        mgr.poll(0)
        ts.append(time.perf_counter_ns() - t0)
    return statistics.median(ts) / 1000


handler = (lambda c, ev, d: None) if "--handler" in sys.argv else None
mgr = mg.Manager(handler)
port = mgr.listen("tcp://127.0.0.1:0").local_addr[1]
for _ in range(50):
    mgr.poll(1)
empty = poll_cost(mgr)
base = rss_kib()
client = subprocess.Popen(
    [sys.executable, "-c",
     ("import resource, socket, sys, time\n"
     "n, port = int(sys.argv[1]), int(sys.argv[2])\n"
     "h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
     "resource.setrlimit(resource.RLIMIT_NOFILE, (min(h, n + 1000), h))\n"
     "socks = [socket.create_connection(('127.0.0.1', port)) for _ in range(n)]\n"
     "print('ok', flush=True)\n"
     "sys.stdin.read()\n"),
     str(N), str(port)],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
deadline = time.monotonic() + 120
while len(mgr.connections) < N + 1 and time.monotonic() < deadline:
    mgr.poll(1)
conns = len(mgr.connections) - 1
for _ in range(50):
    mgr.poll(1)
rss = rss_kib()
full = poll_cost(mgr)
print(f"rss_base_kib={base} rss_kib={rss} conns={conns} poll0_us_empty={empty:.1f} "
      f"poll0_us_full={full:.1f}", flush=True)
client.stdin.close()
client.wait()
os._exit(0)
