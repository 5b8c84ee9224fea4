"""labgrid + pytest-xdist: wall time of a small device suite with -n 1 vs -n 2 over two
labgrid places (QEMU mps2-an385 boards running device_app, consoles exported through
ser2net, all on 127.0.0.1), the per-worker fixed cost (lease + console open), flashing a
place through its exported gdbstub, and the per-test console overhead with the console
kept per worker (now) vs opened and closed by every test (before; emulated by the suite's
LG_PER_TEST_CONSOLE switch), all in one run.

    .venv/bin/python bench/labgrid_bench.py [--tests 8] [--calls 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python" / "device"))

import test_labgrid as tl  # the lab the tests use

# pytest --durations lines: "0.51s setup    test_inner.py::test_which_board[3]"
DURATION = re.compile(r"^([\d.]+)s (setup|teardown)\s+\S*test_which_board\[", re.MULTILINE)
MODES = {"session console (now)": "", "per-test console (before)": "1"}


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:6.0f} ms" if values else "     - ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=8, help="tests in the suite")
    ap.add_argument("--calls", type=int, default=20, help="extra RPC calls per test")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ser2net-nodelay", action="store_true",
                    help="the lab's ser2net accepts with tcp(nodelay=true) (labgrid's exporter "
                         "does not): shows what Nagle + delayed ACK cost each RPC")
    a = ap.parse_args()
    elf = ROOT / "build" / "fw" / "device_app.elf"
    from cymongoose.device.image import load_image
    from cymongoose.device.labgrid import LabgridLease, LabgridSpec, flash_place
    from cymongoose.device.rpc import RpcClient
    from cymongoose.device.targets import SerialTarget

    with tempfile.TemporaryDirectory() as d, tl.running_lab(Path(d), elf,
                                                               nodelay=a.ser2net_nodelay) as lab:
        fixed: dict[str, list[float]] = {}
        for _ in range(a.repeat):
            t0 = time.monotonic()
            with LabgridLease(LabgridSpec(lab.coordinator, tags={"board": "qemu-mps2"})) as ls:
                t1 = time.monotonic()
                t = SerialTarget(ls.url or "").start()
                t2 = time.monotonic()
                RpcClient(t.console, timeout=5).request("net.status")
                t3 = time.monotonic()
                t.stop()
                t4 = time.monotonic()
                for k, v in ls.timings.items():
                    fixed.setdefault(f"lease: {k}", []).append(v)
                fixed.setdefault("lease total", []).append(t1 - t0)
                fixed.setdefault("console open (rfc2217)", []).append(t2 - t1)
                fixed.setdefault("first RPC", []).append(t3 - t2)
                fixed.setdefault("console close (rfc2217)", []).append(t4 - t3)
                t = SerialTarget(ls.url or "").start()
                rpc = RpcClient(t.console, timeout=5)
                for _ in range(20):
                    t5 = time.monotonic()
                    rpc.request("info")
                    fixed.setdefault("RPC round trip (info)", []).append(time.monotonic() - t5)
                t.stop()
            # Flash through the place's exported gdbstub: another image, then device_app
            # back (both written in full and verified by read-back; QEMU has no qCRC).
            with LabgridLease(LabgridSpec(lab.coordinator, place="dut1")) as ls:
                for name in ("hello_fw.elf", "device_app.elf"):
                    image = load_image(ROOT / "build" / "fw" / name)
                    res = flash_place(ls, image)
                    key = f"flash {name} ({image.size // 1024} KiB)"
                    fixed.setdefault(key, []).append(res.seconds)
        for k, v in fixed.items():
            print(f"{k:28s} median {median_ms(v)}")
        print(f"suite: {a.tests} tests x (1 + {a.calls}) RPC calls, --lg-tags board=qemu-mps2, "
              f"medians of {a.repeat} runs")
        for mode, flag in MODES.items():
            env = lab.inner_env(LG_RECORDS="/dev/null", LG_TESTS=str(a.tests),
                                LG_CALLS=str(a.calls), LG_PER_TEST_CONSOLE=flag)
            for n in ("1", "2"):
                walls: list[float] = []
                setup: list[float] = []
                teardown: list[float] = []
                for _ in range(a.repeat):
                    t0 = time.monotonic()
                    out = subprocess.run(
                        lab.pytest_argv("-n", n, "--lg-tags", "board=qemu-mps2", "-k",
                                        "which_board", "--durations=0", "--durations-min=0"),
                        env=env, capture_output=True, text=True, timeout=300, check=False)
                    walls.append(time.monotonic() - t0)
                    if out.returncode != 0:
                        print(out.stdout[-2000:], out.stderr[-2000:])
                        return 1
                    for secs, when in DURATION.findall(out.stdout):
                        (setup if when == "setup" else teardown).append(float(secs))
                # The first test of a worker opens the console in both modes: the median
                # is the steady per-test cost.
                print(f"{mode:26s} -n {n}: wall median {statistics.median(walls):6.2f} s "
                      f"(runs {', '.join(f'{w:.2f}' for w in walls)}); per test: setup "
                      f"{median_ms(setup)}, teardown {median_ms(teardown)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
