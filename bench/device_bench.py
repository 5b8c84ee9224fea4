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
5. Bridge (`--bridge`, needs `make fw` and the extension): net_fw in QEMU with its NIC on
   the stream netdev, ended in this process's built-in stack (StackBridge). HTTP requests/s
   over one keep-alive connection and TCP echo goodput, direct and through the pcap relay,
   against the same firmware behind QEMU's user networking (slirp, port forward, kernel
   sockets) as the reference path. The stream netdev has no line rate, so the "share of
   the link" is given against slirp.
6. Serial bridge (`--serial`): StackBridge(serial=...) against a board made of our own
   stack (StackInterface.serial), the two SLIP lines joined by a relay that moves bytes at
   a UART's line rate (8N1: baud/10 bytes/s each way, read only as fast as the line
   drains, like a real UART); the board serves an HTTP body, goodput / line rate.
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


def _fw(name: str) -> Path:
    return Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / name


def _bridge_http_rps(mgr: object, url: str, pump: object, n: int) -> float:
    import cymongoose as mg

    done = [0]

    def fn(c, ev, data):  # type: ignore[no-untyped-def]
        if ev == mg.MG_EV_CONNECT:
            c.send(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
        elif ev == mg.MG_EV_HTTP_MSG:
            done[0] += 1
            if done[0] < n:
                c.send(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
            else:
                c.close()

    t0 = time.perf_counter()
    mgr.connect(url, fn)  # type: ignore[attr-defined]
    assert pump(lambda: done[0] >= n, 120)  # type: ignore[operator]
    return n / (time.perf_counter() - t0)


def _bridge_echo_mbps(mgr: object, url: str, pump: object, size: int) -> float:
    import cymongoose as mg

    data = os.urandom(size)
    got = bytearray()
    sent = [0]

    def fn(c, ev, ev_data):  # type: ignore[no-untyped-def]
        if ev in (mg.MG_EV_CONNECT, mg.MG_EV_WRITE, mg.MG_EV_POLL) and sent[0] < size \
                and c.send_len < 32768:
            c.send(data[sent[0]:sent[0] + 16384])
            sent[0] += 16384
        elif ev == mg.MG_EV_READ:
            got.extend(c.recv_data())

    t0 = time.perf_counter()
    mgr.connect(url, fn)  # type: ignore[attr-defined]
    assert pump(lambda: len(got) >= size, 300)  # type: ignore[operator]
    dt = time.perf_counter() - t0
    assert bytes(got) == data
    return size / dt / 1e6


def bridge_numbers(runs: int) -> dict[str, float]:
    from cymongoose.device.bridge import StackBridge

    res: dict[str, list[float]] = {}
    for _ in range(runs):
        for relay in (False, True):
            tag = "relay" if relay else "direct"
            with tempfile.TemporaryDirectory() as tmp, \
                    QemuTarget(_fw("net_fw.elf"), nic="stream") as q, \
                    StackBridge(q.netdev_socket(),
                                pcap=os.path.join(tmp, "b.pcap") if relay else None) as br:
                ip = br.wait_ready(port=7, timeout=30)
                res.setdefault(f"bridge_{tag}_http_rps", []).append(
                    _bridge_http_rps(br.mgr, f"http://{ip}/", br.pump, 500))
                res.setdefault(f"bridge_{tag}_echo_MBps", []).append(
                    _bridge_echo_mbps(br.mgr, f"tcp://{ip}:7", br.pump, 4 << 20))
        res.setdefault("slirp_http_rps", []).append(_slirp_http_rps(500))
        res.setdefault("slirp_echo_MBps", []).append(_slirp_echo_mbps(4 << 20))
    return {k: med(v) for k, v in res.items()}


def _slirp_http_rps(n: int) -> float:
    import http.client

    with QemuTarget(_fw("net_fw.elf"), nic="user", hostfwd=[80]) as q:
        q.console.expect_line(r"^net: ready", timeout=30)
        conn = http.client.HTTPConnection("127.0.0.1", q.forwarded[80], timeout=10)
        t0 = time.perf_counter()
        for _ in range(n):
            conn.request("GET", "/")
            r = conn.getresponse()
            r.read()
            assert r.status == 200
        dt = time.perf_counter() - t0
        conn.close()
        return n / dt


def _slirp_echo_mbps(size: int) -> float:
    import socket
    import threading

    with QemuTarget(_fw("net_fw.elf"), nic="user", hostfwd=[7]) as q:
        q.console.expect_line(r"^net: ready", timeout=30)
        data = os.urandom(size)
        with socket.create_connection(("127.0.0.1", q.forwarded[7]), timeout=30) as s:
            t0 = time.perf_counter()
            sender = threading.Thread(target=s.sendall, args=(data,))
            sender.start()
            got = bytearray()
            while len(got) < size:
                chunk = s.recv(65536)
                assert chunk
                got += chunk
            sender.join()
            dt = time.perf_counter() - t0
        assert bytes(got) == data
        return size / dt / 1e6


def _serial_board(fd: int, size: int) -> None:
    """Child process: a board made of our own stack on a SLIP line, serving `size` bytes."""
    import cymongoose as mg
    from cymongoose.stack import StackInterface

    body = bytes(range(256)) * (size // 256)
    board = StackInterface.serial(fd, dhcp=True)
    bm = mg.Manager()
    board.attach(bm)
    bm.listen("http://0.0.0.0:80",
              lambda c, ev, d: c.reply(200, body) if ev == mg.MG_EV_HTTP_MSG else None)
    while True:
        bm.poll(50)


def _serial_line(a: int, b: int, rate: float) -> None:
    """Child process: the wire, moving bytes at `rate` bytes/s each way, never blocking one
    direction on the other (a UART's RX and TX are independent)."""
    import select

    cap = max(16.0, rate * 0.004)  # a burst is at most 4 ms of line time (loop granularity)
    tokens = [cap, cap]
    held = [bytearray(), bytearray()]
    pairs = ((a, b), (b, a))
    for fd in (a, b):
        os.set_blocking(fd, False)
    last = time.perf_counter()
    while True:
        now = time.perf_counter()
        for i in (0, 1):
            tokens[i] = min(cap, tokens[i] + (now - last) * rate)
        last = now
        want = [src for i, (src, _) in enumerate(pairs) if tokens[i] >= 1 and not held[i]]
        wr = [dst for i, (_, dst) in enumerate(pairs) if held[i]]
        r, _, _ = select.select(want, wr, [], 0.001)
        for i, (src, dst) in enumerate(pairs):
            if src in r:
                data = os.read(src, int(tokens[i]))
                tokens[i] -= len(data)
                held[i] += data
            if held[i]:
                try:
                    del held[i][:os.write(dst, held[i])]
                except BlockingIOError:
                    pass
        if not want and not wr:
            time.sleep(0.0005)


def serial_goodput(baud: int, size: int) -> float:
    """Share of the line rate an HTTP download gets through the serial bridge. The board
    and the wire run in their own processes: in this one, a blocked write of one stack
    would hold the GIL and stall the wire, which no real UART does."""
    import multiprocessing
    import tty

    from cymongoose.device.bridge import StackBridge

    rate = baud / 10.0
    ma, sa = os.openpty()
    mb, sb = os.openpty()
    for fd in (ma, sa, mb, sb):
        tty.setraw(fd)
    ctx = multiprocessing.get_context("fork")
    kids = [ctx.Process(target=_serial_board, args=(sb, size), daemon=True),
            ctx.Process(target=_serial_line, args=(ma, mb, rate), daemon=True)]
    for k in kids:
        k.start()
    try:
        with StackBridge(serial=sa) as br:
            br.wait_ready(port=80, timeout=60)
            t0 = time.perf_counter()
            status, _, got = br.http("GET", "/", timeout=size / rate * 4 + 30)
            dt = time.perf_counter() - t0
            assert status == 200 and got == bytes(range(256)) * (size // 256)
    finally:
        for k in kids:
            k.kill()
            k.join(5)
        for fd in (ma, sa, mb, sb):
            os.close(fd)
    return size / dt / rate


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the numbers here too")
    ap.add_argument("--bridge", action="store_true",
                    help="only the root-free bridge numbers (net_fw, needs the extension)")
    ap.add_argument("--serial", action="store_true",
                    help="only the serial bridge goodput (needs the extension, no QEMU)")
    args = ap.parse_args()
    if args.serial:
        sys.path.remove(str(ROOT / "python"))  # the installed package has the extension
        for m in [m for m in sys.modules if m.startswith("cymongoose")]:
            del sys.modules[m]
        out = {}
        for baud, size in ((115200, 64 * 1024), (921600, 256 * 1024)):
            share = med([serial_goodput(baud, size) for _ in range(args.runs)])
            out[f"serial_{baud}_share"] = share
            print(f"  serial bridge at {baud} baud, {size // 1024} KiB HTTP body: goodput "
                  f"{share * 100:.1f} % of the line rate (target >= 85 %)")
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
        return 0
    if shutil.which("qemu-system-arm") is None:
        print("qemu-system-arm is not installed", file=sys.stderr)
        return 2
    if args.bridge:
        sys.path.remove(str(ROOT / "python"))  # the installed package has the extension
        for m in [m for m in sys.modules if m.startswith("cymongoose")]:
            del sys.modules[m]
        b = bridge_numbers(args.runs)
        print(f"bridge to net_fw in QEMU, median of {args.runs} runs")
        for k, v in b.items():
            print(f"  {k:32s} {v:10.2f}")
        for what in ("http_rps", "echo_MBps"):
            for tag in ("direct", "relay"):
                print(f"  bridge {tag} / slirp {what}: "
                      f"{b[f'bridge_{tag}_{what}'] / b[f'slirp_{what}']:.2f}")
        if args.json:
            Path(args.json).write_text(json.dumps(b, indent=2))
        return 0
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
    print("  bridge numbers: run with --bridge")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
