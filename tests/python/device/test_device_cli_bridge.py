"""`cymongoose bridge` (root-free: QEMU's frames end in the CLI's built-in stack, ports
tunnelled from 127.0.0.1) and `cymongoose rpc` (against the fake console device)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FAKE = Path(__file__).resolve().parent / "fake_rpc_device.py"


def cymongoose(*args: str) -> list[str]:
    # The installed package: the bridge needs the compiled extension.
    return [sys.executable, "-m", "cymongoose.device.cli", *args]


def net_fw() -> Path:
    probe = "from cymongoose.stack import StackInterface as S; assert hasattr(S, 'stream')"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True,
                      check=False).returncode:
        pytest.skip("the installed extension has no StackInterface.stream (run `make ext`)")
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "net_fw.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return elf


@pytest.mark.qemu
def test_bridge_forwards_host_ports_to_the_board(qemu: str, tmp_path: Path) -> None:
    pcap = tmp_path / "br.pcap"
    proc = subprocess.Popen(
        cymongoose("bridge", "--firmware", str(net_fw()), "--forward", "0:80",
                   "--forward", "0:7", "--pcap", str(pcap), "--duration", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ports: dict[int, int] = {}
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while len(ports) < 2 and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, f"bridge exited early ({proc.wait()}): {proc.stderr.read()}"
            m = re.match(r"\[127\.0\.0\.1:(\d+) -> board 10\.0\.2\.15:(\d+)\]", line)
            if m:
                ports[int(m.group(2))] = int(m.group(1))
        assert set(ports) == {80, 7}
        # The board may still be taking its lease: retry the first request a little.
        for _ in range(50):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", ports[80], timeout=10)
                conn.request("GET", "/api/info")
                resp = conn.getresponse()
                body = resp.read()
                break
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        assert resp.status == 200 and json.loads(body)["ip"] == "10.0.2.15"
        for _ in range(20):
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read().startswith(b"hello from cymongoose")
        conn.close()
        payload = os.urandom(200_000)
        with socket.create_connection(("127.0.0.1", ports[7]), timeout=20) as s:
            s.sendall(payload)
            got = bytearray()
            while len(got) < len(payload):
                chunk = s.recv(65536)
                assert chunk, "tunnel closed early"
                got += chunk
        assert bytes(got) == payload
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert re.search(r"bridged \d+ frames from the board, \d+ to it; (\d+) tunnelled", err)
    assert "net: ready ip=10.0.2.15" in out  # the board's console is copied to stdout
    assert pcap.stat().st_size > 24 + 100 * 16


@pytest.mark.qemu
def test_bridge_two_boards_on_one_segment(qemu: str, tmp_path: Path) -> None:
    """`--count 2`: two boards, each its own lease, reached through its own forward."""
    pcap = tmp_path / "seg.pcap"
    proc = subprocess.Popen(
        cymongoose("bridge", "--firmware", str(net_fw()), "--count", "2",
                   "--forward", "0:80", "--forward", "0:dev1:80", "--pcap", str(pcap),
                   "--duration", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ports: dict[int, int] = {}
        leases: dict[int, tuple[str, str]] = {}
        assert proc.stderr is not None
        while len(ports) < 2 or len(leases) < 2:
            line = proc.stderr.readline()
            assert line, f"bridge exited early ({proc.wait()}): {proc.stderr.read()}"
            if m := re.match(r"\[127\.0\.0\.1:(\d+) -> dev(\d):80\]", line):
                ports[int(m.group(2))] = int(m.group(1))
            elif m := re.match(r"\[dev(\d) (\S+) has its lease: (\S+)\]", line):
                leases[int(m.group(1))] = (m.group(2), m.group(3))
        assert leases[0][0] != leases[1][0] and leases[0][1] != leases[1][1]
        for dev in (0, 1):
            conn = http.client.HTTPConnection("127.0.0.1", ports[dev], timeout=10)
            conn.request("GET", "/api/info")
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["ip"] == leases[dev][1]
            conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert re.search(r"; 2 tunnelled connections\]", err), err
    for dev in (0, 1):  # each console line names its board
        assert f"[dev{dev}] net: ready ip={leases[dev][1]}" in out
        assert (tmp_path / f"seg.dev{dev}.pcap").stat().st_size > 24 + 10 * 16
    assert not pcap.exists()


def test_bridge_forward_to_an_unknown_board_is_a_usage_error(tmp_path: Path) -> None:
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    for args, message in [
        (["--count", "2", "--forward", "8082:dev2:80"],
         "--forward '8082:dev2:80': no board dev2 (this bridge has dev0..dev1"),
        (["--forward", "8081:dev1:80"], "--forward '8081:dev1:80': no board dev1"),
        (["--forward", "8081:board1:80"], "want HOSTPORT:BOARDPORT or HOSTPORT:devI:BOARDPORT"),
        (["--firmware", str(elf), "--count", "2"], "with 2 --firmware leave --count out"),
    ]:
        out = subprocess.run(cymongoose("bridge", "--firmware", str(elf), *args),
                             capture_output=True, text=True, timeout=30, check=False)
        assert out.returncode == 2 and message in out.stderr, out.stderr


@pytest.fixture
def fake_exe(tmp_path: Path) -> Path:
    exe = tmp_path / "fake-device"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE}\n")
    exe.chmod(0o755)
    return exe


def test_rpc_command_against_a_fake_device(fake_exe: Path, tmp_path: Path) -> None:
    def rpc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cymongoose("rpc", "--board", "host", "--firmware", str(fake_exe),
                                         *args), capture_output=True, text=True, timeout=60,
                              check=False)

    out = rpc("led.set", "on=true")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"on": True}
    out = rpc("test.logs", "--params", '{"n": 2}', "--log", str(tmp_path / "s.log"))
    assert json.loads(out.stdout) == {"logged": 2}
    assert "log line 1" in (tmp_path / "s.log").read_text()
    out = rpc("no.such.method")
    assert out.returncode == 1 and "error -32601: no.such.method not found" in out.stderr
    out = rpc("test.silent", "--timeout", "0.5")
    assert out.returncode == 1 and "no response to 'test.silent'" in out.stderr


def test_bridge_serial_line_without_qemu(tmp_path: Path) -> None:
    """`cymongoose bridge --serial PTY`: a board made of our own stack on a SLIP pty,
    reached by a kernel-socket client through the CLI's --forward tunnel."""
    import threading
    import tty

    mg = pytest.importorskip("cymongoose")
    from cymongoose.stack import StackInterface

    if not hasattr(StackInterface, "serial"):
        pytest.skip("the installed extension has no StackInterface.serial (run `make ext`)")
    master, slave = os.openpty()
    tty.setraw(master)
    board = StackInterface.serial(master, dhcp=True)
    bm = mg.Manager()
    board.attach(bm)
    bm.listen("http://0.0.0.0:80",
              lambda c, ev, d: c.reply(200, b"serial board") if ev == mg.MG_EV_HTTP_MSG else None)
    stop = threading.Event()

    def run_board() -> None:
        while not stop.is_set():
            bm.poll(5)

    t = threading.Thread(target=run_board, daemon=True)
    t.start()
    proc = subprocess.Popen(cymongoose("bridge", "--serial", os.ttyname(slave), "--baudrate",
                                       "921600", "--forward", "0:80", "--duration", "60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.match(r"\[127\.0\.0\.1:(\d+) -> board 10\.0\.2\.15:80\]", line)
        assert m, line
        body = b""
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=5)
                conn.request("GET", "/")
                body = conn.getresponse().read()
                conn.close()
                break
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        assert body == b"serial board"
        assert board.ip == "10.0.2.15"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        stop.set()
        t.join(5)
        bm.close()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    tunnels = re.search(r"; (\d+) tunnelled connections", err)
    assert tunnels and int(tunnels.group(1)) >= 1, err
    assert "has its lease" in err and "no DHCP lease" not in err


def an385_image(size: int) -> bytes:
    """An unsigned firmware image of ``size`` random payload bytes for mps2-an385."""
    from cymongoose.device import imagefmt

    return imagefmt.pack(os.urandom(size), board="mps2-an385", load_addr=0, entry_addr=0)


def test_flash_ota_over_the_console_of_a_fake_device(tmp_path: Path) -> None:
    """`cymongoose flash --backend ota --port PTY`: ota.begin/write/end + ota.status."""
    import tty

    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    fake = subprocess.Popen([sys.executable, str(FAKE)], stdin=master, stdout=master,
                            stderr=subprocess.DEVNULL)
    image = tmp_path / "fw.img"
    image.write_bytes(an385_image(10_000))
    try:
        out = subprocess.run(cymongoose("flash", "--board", "mps2-an385", "--backend", "ota",
                                        "--port", os.ttyname(slave), str(image)),
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        assert re.search(r"ota-rpc: 10160 bytes, 10160 written, .*verified \(image header \+ "
                         r"sha256 on the device \+ ota.status\)", out.stdout), out.stdout
        too_big = tmp_path / "big.img"
        too_big.write_bytes(an385_image(100_000))  # the fake's bank holds 64 KiB
        out = subprocess.run(cymongoose("flash", "--board", "mps2-an385", "--backend", "ota",
                                        "--port", os.ttyname(slave), str(too_big)),
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 1 and "device error -32001" in out.stderr
        # OTA sends images only: a raw file is refused before anything is sent, and an
        # ELF without a board to pack it for is refused with the command that packs it.
        raw = tmp_path / "fw.bin"
        raw.write_bytes(os.urandom(10_000))
        elf = tmp_path / "fw.elf"
        elf.write_bytes(b"\x7fELF" + os.urandom(1000))
        for path, message in [(raw, "fw.bin is not a cymongoose image"),
                              (elf, ("fw.elf is an ELF file: OTA sends firmware images; pack it "
                                    "first: cymongoose image pack --board BOARD"))]:
            out = subprocess.run(cymongoose("flash", "--backend", "ota", "--port",
                                            os.ttyname(slave), str(path)),
                                 capture_output=True, text=True, timeout=60, check=False)
            assert out.returncode == 1 and message in out.stderr, out.stderr
    finally:
        fake.kill()
        fake.wait(5)
        os.close(master)
        os.close(slave)
    out = subprocess.run(cymongoose("flash", "--board", "mps2-an385", "--backend", "ota",
                                    str(image)), capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 2 and "needs --url" in out.stderr


@pytest.mark.qemu
def test_flash_ota_over_http_to_device_app(qemu: str, tmp_path: Path) -> None:
    from cymongoose.device.rpc import RpcClient
    from cymongoose.device.targets import QemuTarget

    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "device_app.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    image = tmp_path / "fw.img"
    image.write_bytes(an385_image(150_000))
    with QemuTarget(elf, nic="user", hostfwd=[80]) as q:
        rpc = RpcClient(q.console)
        rpc.wait_notification("ready", timeout=20)
        q.console.expect_line(r"net: ready ip=10\.0\.2\.15", timeout=20)
        url = f"http://127.0.0.1:{q.forwarded[80]}/api/ota"
        out = subprocess.run(cymongoose("flash", "--board", "mps2-an385", "--backend", "ota",
                                        "--url", url, str(image)),
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        assert "ota-http: 150160 bytes" in out.stdout
        st = rpc.call("ota.status")
        assert st["state"] == "verified" and st["size"] == 150160 and st["source"] == "http"
        # The firmware's own ELF: packed for the board first, and said so.
        out = subprocess.run(cymongoose("flash", "--board", "mps2-an385", "--backend", "ota",
                                        "--url", url, str(elf)),
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        assert "into an unsigned image for mps2-an385" in out.stderr
        st = rpc.call("ota.status")
        assert st["state"] == "verified" and st["size"] < elf.stat().st_size


@pytest.mark.parametrize(("spec", "message"), [
    ("loss=5", "argument --impair: loss='5': more than 100 % (a bare number is a fraction"),
    ("delay=50", "argument --impair: delay='50': want a time like 50ms"),
    ("drop=5%", "argument --impair: impairment spec: unknown field 'drop'"),
])
def test_bridge_bad_impair_spec_is_a_usage_error(spec: str, message: str) -> None:
    out = subprocess.run(cymongoose("bridge", "--impair", spec),
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    out = subprocess.run(cymongoose("bridge", "--serial", "/dev/null", "--impair", "loss=1%"),
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 2 and "--impair works on the root-free QEMU bridge" in out.stderr


@pytest.mark.qemu
def test_bridge_impair_delays_and_logs(qemu: str, tmp_path: Path) -> None:
    pcap = tmp_path / "br.pcap"
    proc = subprocess.Popen(
        cymongoose("bridge", "--firmware", str(net_fw()), "--forward", "0:80",
                   "--pcap", str(pcap), "--impair", "delay=20ms,dir=from,seed=3",
                   "--duration", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        port = None
        while port is None:
            line = proc.stderr.readline()
            assert line, f"bridge exited early ({proc.wait()}): {proc.stderr.read()}"
            m = re.match(r"\[127\.0\.0\.1:(\d+) -> board", line)
            port = int(m.group(1)) if m else None
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/")
                resp = conn.getresponse()
                break
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        assert resp.status == 200 and resp.read().startswith(b"hello from cymongoose")
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    m = re.search(r"\[impaired \(seed 3\): frames (\d+), dropped 0, delayed (\d+),", err)
    assert m and int(m.group(2)) > 0, err
    log = (tmp_path / "br.impair.log").read_text().splitlines()
    assert log[1].endswith(" set dir=from delay=20ms seed=3")
    delays = [x.split() for x in log[2:] if " delay " in x]
    assert len(delays) == int(m.group(2)) and {d[1] for d in delays} == {"from"}
