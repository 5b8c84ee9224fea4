"""labgrid + pytest-xdist: wall time of a small device suite with -n 1 vs -n 2 over two
labgrid places (QEMU mps2-an385 boards running device_app, consoles exported through
ser2net, all on 127.0.0.1), and the per-worker fixed cost (lease + console open).

    .venv/bin/python bench/labgrid_bench.py [--tests 8] [--calls 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python" / "device"))

import test_labgrid as tl  # the lab the tests use


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=8, help="tests in the suite")
    ap.add_argument("--calls", type=int, default=20, help="extra RPC calls per test")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    elf = ROOT / "build" / "fw" / "device_app.elf"
    from cymongoose.device.labgrid import LabgridLease, LabgridSpec
    from cymongoose.device.rpc import RpcClient
    from cymongoose.device.targets import SerialTarget

    with tempfile.TemporaryDirectory() as d, tl.running_lab(Path(d), elf) as lab:
        fixed: dict[str, list[float]] = {}
        for _ in range(a.repeat):
            t0 = time.monotonic()
            with LabgridLease(LabgridSpec(lab.coordinator, tags={"board": "qemu-mps2"})) as ls:
                t1 = time.monotonic()
                with SerialTarget(ls.url or "") as t:
                    t2 = time.monotonic()
                    RpcClient(t.console, timeout=5).request("net.status")
                    t3 = time.monotonic()
                for k, v in ls.timings.items():
                    fixed.setdefault(f"lease: {k}", []).append(v)
                fixed.setdefault("lease total", []).append(t1 - t0)
                fixed.setdefault("console open (rfc2217)", []).append(t2 - t1)
                fixed.setdefault("first RPC", []).append(t3 - t2)
        for k, v in fixed.items():
            print(f"{k:28s} median {statistics.median(v) * 1000:7.0f} ms")
        env = lab.inner_env(LG_RECORDS="/dev/null", LG_TESTS=str(a.tests), LG_CALLS=str(a.calls))
        for n in ("1", "2"):
            walls = []
            for _ in range(a.repeat):
                t0 = time.monotonic()
                out = subprocess.run(lab.pytest_argv("-n", n, "--lg-tags", "board=qemu-mps2"),
                                     env=env, capture_output=True, text=True, timeout=300,
                                     check=False)
                walls.append(time.monotonic() - t0)
                if out.returncode != 0:
                    print(out.stdout[-2000:], out.stderr[-2000:])
                    return 1
            print(f"-n {n}: {a.tests} tests x (1 + {a.calls}) RPC calls: wall median "
                  f"{statistics.median(walls):.2f} s (runs: "
                  f"{', '.join(f'{w:.2f}' for w in walls)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
