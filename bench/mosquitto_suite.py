#!/usr/bin/env python3
"""mosquitto 2.0.11's own broker tests against our C example broker (issue #21).

Fetches Debian's mosquitto source package (adding a deb-src twin of the machine's
Debian apt source in its own sources file; needs root), keeps the broker tests that
start the broker with nothing but `-p PORT` (103 in 2.0.11), points the suite's broker
path at the broker under test and prints `passed N/103` and the failing names.
Nothing of mosquitto enters the repository: it is downloaded to build/ and run there.

Usage: .venv/bin/python bench/mosquitto_suite.py [--broker ours|mosquitto|PATH]
                                                 [-j 4] [-k SUBSTRING] [-v]
ours = build/host/mqtt_broker (`make host`); mosquitto = /usr/sbin/mosquitto.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mosquitto-suite"
# The one way these tests start the broker that needs no mosquitto.conf.
PLAIN_START = "start_broker(filename=os.path.basename(__file__), port=port)"
BROKER_PATH = "'/usr/sbin/mosquitto'"


def fetch() -> Path:
    """The test/ directory of mosquitto's Debian source package."""
    found = sorted(WORK.glob("mosquitto-*/test/broker"))
    if found:
        return found[-1].parent
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "apt_deb_src.py")], check=True)
    if shutil.which("dpkg-source") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "dpkg-dev"], check=True)
    subprocess.run(["apt-get", "source", "-qq", "mosquitto"], cwd=WORK, check=True)
    found = sorted(WORK.glob("mosquitto-*/test/broker"))
    if not found:
        sys.exit("apt-get source mosquitto gave no test/broker directory")
    return found[-1].parent


def prepare(test_dir: Path) -> None:
    """Lets the MOSQ_BROKER environment variable choose the broker binary."""
    helper = test_dir / "mosq_test.py"
    text = helper.read_text()
    if BROKER_PATH in text:
        helper.write_text(text.replace(BROKER_PATH, "os.environ.get('MOSQ_BROKER', '/usr/sbin/mosquitto')"))


def selected(test_dir: Path) -> list[Path]:
    """Tests of the suite's own runner (broker/test.py, commented-out ones left out)
    whose every broker start is the plain `-p PORT` one."""
    runner = (test_dir / "broker" / "test.py").read_text()
    active = re.findall(r"^\s*\(\d+, '\./([^']+\.py)'\)", runner, re.MULTILINE)
    out = []
    for f in sorted(test_dir / "broker" / name for name in active):
        if not f.exists():  # listed by the runner but not shipped
            continue
        text = f.read_text()
        starts = re.findall(r"start_broker\([^\n]*\)", text)
        if "prop_subpub_helper" in text and not starts:  # the helper starts it plainly
            starts = [PLAIN_START]
        if starts and all(s == PLAIN_START for s in starts):
            out.append(f)
    return out


def run_one(test: Path, broker: str, port: int, verbose: bool) -> tuple[str, bool, str]:
    """Runs one test in its own process group, so that a test killed on timeout
    does not leave its broker running (holding the port)."""
    env = dict(os.environ, MOSQ_BROKER=broker)
    p = subprocess.Popen([sys.executable, test.name, str(port)], cwd=test.parent, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=60)
        ok = p.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        ok, out = False, f"timeout\n{out}"
    return test.stem, ok, out if verbose and not ok else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", default="ours", help="ours, mosquitto or a path")
    ap.add_argument("-j", type=int, default=4, help="tests at a time (each on its own port)")
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    ap.add_argument("-v", action="store_true", help="print the output of failing tests")
    args = ap.parse_args()
    broker = {"ours": str(ROOT / "build" / "host" / "mqtt_broker"),
              "mosquitto": "/usr/sbin/mosquitto"}.get(args.broker, args.broker)
    broker = os.path.abspath(broker)
    if not os.access(broker, os.X_OK):
        sys.exit(f"no broker at {broker} (make host?)")
    test_dir = fetch()
    prepare(test_dir)
    tests = selected(test_dir)
    total = len(tests)
    tests = [t for t in tests if args.k in t.stem]
    t0 = time.monotonic()
    failed: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as ex:
        futs = [ex.submit(run_one, t, broker, 21880 + 10 * i, args.v) for i, t in enumerate(tests)]
        for fut in futs:
            name, ok, out = fut.result()
            if not ok:
                failed.append(name)
                if out:
                    print(f"--- {name}\n{out.rstrip()}")
    passed = len(tests) - len(failed)
    print(f"broker: {broker}")
    print(f"passed {passed}/{len(tests) if args.k else total} ({time.monotonic() - t0:.0f} s)")
    for name in failed:
        print(f"  FAIL {name}")


if __name__ == "__main__":
    main()
