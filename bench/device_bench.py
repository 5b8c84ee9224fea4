"""Device SDK numbers: flash+verify over QEMU's gdbstub, ours vs gdb; test-loop time.

    .venv/bin/python bench/device_bench.py [--kib 256] [--runs 5] [--json out.json]

1. Builds the SDK test firmware with a KiB-sized pseudo-random pad
   (tests/python/device/fw), so the image has that many bytes to write.
2. Ours (library calls, and the `cymongoose flash` process): a fresh `qemu-system-arm -M mps2-an385 -S -gdb ...` per run; our RSP client
   writes every loadable segment and verifies by read-back (QEMU has no qCRC),
   both with and without the skip-identical pre-read; plus a re-flash of an identical
   image (everything skipped).
3. gdb: `gdb-multiarch -batch -ex "target remote ..." -ex load -ex compare-sections`
   on the same kind of fresh QEMU; wall time of the gdb process.
4. Test loop: wall time of `pytest tests/python/device/test_device_hello_fw.py`, the
   edit-to-result loop of a small device suite (needs `make fw`).
The serial bridge goodput is not measured: the bridge does not exist yet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "tests" / "python" / "device" / "fw"))

from cymongoose.device.flash import GdbFlasher
from cymongoose.device.gdbremote import GdbClient
from cymongoose.device.image import load_image
from cymongoose.device.targets import QemuTarget
from testfw_build import build_testfw


def ours(elf: Path, skip_identical: bool, preload: bool) -> tuple[float, dict[str, int]]:
    img = load_image(elf)
    with QemuTarget(elf if preload else None, gdb="unix", halted=True) as t:
        assert t.gdb is not None
        t0 = time.perf_counter()
        with GdbClient.connect_address(t.gdb) as c:
            r = GdbFlasher(c, skip_identical=skip_identical, reset="none", run=False).flash(img)
        dt = time.perf_counter() - t0
        assert r.verified
        return dt, {"written": r.bytes_written, "skipped": r.bytes_skipped}


def ours_cli(elf: Path) -> float:
    """The same through `cymongoose flash --gdb`: a whole process, like the gdb row."""
    with QemuTarget(None, gdb="tcp", halted=True) as t:
        assert t.gdb is not None and t.gdb.port
        cmd = [sys.executable, "-m", "cymongoose.device.cli", "flash", "--board", "mps2-an385",
               "--gdb", f"127.0.0.1:{t.gdb.port}", "--no-run", str(elf)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                             env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
        dt = time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"cymongoose flash failed:\n{out.stdout}\n{out.stderr}")
        return dt


def gdb(elf: Path, gdb_exe: str) -> float:
    with QemuTarget(None, gdb="tcp", halted=True) as t:
        assert t.gdb is not None and t.gdb.port
        cmd = [gdb_exe, "-nx", "-batch", "-ex", "set confirm off",
               "-ex", f"target remote 127.0.0.1:{t.gdb.port}", "-ex", "load",
               "-ex", "compare-sections", str(elf)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        dt = time.perf_counter() - t0
        if out.returncode != 0 or "MIS-MATCHED" in out.stdout:
            raise SystemExit(f"gdb failed:\n{out.stdout}\n{out.stderr}")
        return dt


def gdb_startup(elf: Path, gdb_exe: str) -> float:
    """gdb attaching and detaching without loading: its fixed cost."""
    with QemuTarget(None, gdb="tcp", halted=True) as t:
        assert t.gdb is not None
        cmd = [gdb_exe, "-nx", "-batch", "-ex", f"target remote 127.0.0.1:{t.gdb.port}",
               str(elf)]
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        return time.perf_counter() - t0


def test_loop() -> float | None:
    if not (ROOT / "build" / "fw" / "hello_fw.elf").is_file():
        return None
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/python/device/test_device_hello_fw.py"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=False,
                         env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
    dt = time.perf_counter() - t0
    return dt if out.returncode == 0 else None


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the numbers here too")
    args = ap.parse_args()
    if shutil.which("qemu-system-arm") is None:
        print("qemu-system-arm is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        elf = build_testfw(Path(tmp), pad_kib=args.kib, period_ms=1000)
        size = load_image(elf).size
        res: dict[str, object] = {"image_bytes": size, "runs": args.runs}
        fresh = [ours(elf, True, False) for _ in range(args.runs)]
        noskip = [ours(elf, False, False) for _ in range(args.runs)]
        same = [ours(elf, True, True) for _ in range(args.runs)]
        res["ours_fresh_s"] = med([d for d, _ in fresh])
        res["ours_noskip_s"] = med([d for d, _ in noskip])
        res["ours_identical_s"] = med([d for d, _ in same])
        res["ours_identical_written"] = same[0][1]["written"]
        res["ours_cli_s"] = med([ours_cli(elf) for _ in range(args.runs)])
        gdb_exe = shutil.which("gdb-multiarch")
        if gdb_exe:
            res["gdb_s"] = med([gdb(elf, gdb_exe) for _ in range(args.runs)])
            res["gdb_attach_only_s"] = med([gdb_startup(elf, gdb_exe) for _ in range(3)])
        res["test_loop_s"] = test_loop()
    print(f"image: {size} bytes ({args.kib} KiB pad), median of {args.runs} runs, "
          "fresh QEMU each run")
    rows = [
        ("ours: write + read-back verify (skip-identical pre-read)", res["ours_fresh_s"]),
        ("ours: write + read-back verify (no pre-read)", res["ours_noskip_s"]),
        ("ours: identical image already there (0 bytes written)", res["ours_identical_s"]),
        ("ours: `cymongoose flash --gdb` process, verify on", res["ours_cli_s"]),
    ]
    if "gdb_s" in res:
        rows += [("gdb-multiarch: load + compare-sections", res["gdb_s"]),
                 ("gdb-multiarch: attach only (fixed cost)", res["gdb_attach_only_s"])]
    for name, v in rows:
        print(f"  {name:58s} {float(v) * 1000:8.1f} ms")  # type: ignore[arg-type]
    if "gdb_s" in res:
        gdb_s = float(res["gdb_s"])  # type: ignore[arg-type]
        ratio = float(res["ours_fresh_s"]) / gdb_s  # type: ignore[arg-type]
        cli_ratio = float(res["ours_cli_s"]) / gdb_s  # type: ignore[arg-type]
        res["ratio_vs_gdb"], res["cli_ratio_vs_gdb"] = ratio, cli_ratio
        print(f"  ratio ours (library, default settings) / gdb process = {ratio:.2f} "
              "(target <= 0.5)")
        print(f"  ratio ours (CLI process) / gdb process = {cli_ratio:.2f}")
    if res["test_loop_s"] is not None:
        print(f"  test loop (pytest test_device_hello_fw.py, 4 tests): "
              f"{float(res['test_loop_s']):.2f} s")  # type: ignore[arg-type]
    print("  serial bridge goodput: not measured (the bridge is not built yet)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
