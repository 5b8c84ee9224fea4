"""The reference firmware examples/device_app on every emulated board (QEMU, no
root), and its host build as a process on kernel sockets.

The QEMU tests run once per board of the SDK's board map with `boot = "qemu"` and
not `build_only` (the `board` fixture, ids = board names), so a board folder added
(boards/<name>/board.toml) gets the whole suite. A board whose RAM only fits the HTTP-only image
says so with `[test] app = "device_app_http"` in its board.toml: the tests that need the
full app skip it, naming the reason.

The device gets QEMU user networking with its port 80 forwarded from
127.0.0.1; guest -> host traffic (MQTT, SNTP) goes to the user-net gateway
10.0.2.2, i.e. the host's loopback, so `restrict=off` here. Peers are real:
the cymongoose HTTP client, curl, the `websockets` client, mosquitto + paho,
a UDP SNTP server in the test. The console speaks JSON-RPC framed as in
docs/device-rpc.md (RS + JSON + LF).

Images come from `make fw` (build/fw-<board>, or $MG_FW_DIR_<BOARD>; the reference
board mps2-an385 from build/fw, or $MG_FW_DIR; a missing image directory fails the
board's tests) and `make host` (build/host, or $MG_HOST_DIR).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device import Board, HostProcessTarget, QemuTarget, imagefmt
from httpsrv import curl, raw_exchange
from mgtest import board_image, emulated_boards, free_port, poll_until

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parents[2]
HOST_DIR = Path(os.environ.get("MG_HOST_DIR", REPO / "build" / "host"))
ARTIFACTS = REPO / "artifacts" / "device_app"
BOOT_TIMEOUT = 15.0
RS = "\x1e"
GUEST_IP = "10.0.2.15"  # QEMU user networking's DHCP lease
GATEWAY = "10.0.2.2"    # the host's loopback as seen from the guest
QEMU_DEFAULT_MAC = "52:54:00:12:34:56"  # the first NIC's, unless macaddr= says otherwise
BOARDS = {b.name: b for b in emulated_boards()}


def project_version() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    assert m, "no version in pyproject.toml"
    return m.group(1)


@pytest.fixture(scope="module", params=sorted(BOARDS))
def board(request: pytest.FixtureRequest) -> Board:
    """One emulated board of the matrix."""
    b = BOARDS[request.param]
    binary = str(b.qemu.get("binary", "qemu-system-arm"))
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (make setup installs it)")
    return b


def suite_app(board: Board) -> str:
    """The reference image the suite runs on the board (board.toml [test] app)."""
    return str(board.test.get("app", "device_app"))


def need_full_app(board: Board) -> None:
    app = suite_app(board)
    if app != "device_app":
        pytest.skip(f"this test needs the full device_app; board {board.name} has "
                    f"{ram_size(board) // 1024} KiB of RAM and runs {app} "
                    "(board.toml [test] app)")


def ram_size(board: Board) -> int:
    return max(r.size for r in board.memory if r.kind == "ram")


class Device:
    """A running device_app (QEMU or host process): console RPC + HTTP base URL."""

    def __init__(self, target: Any, http_port: int) -> None:
        self.target = target
        self.board: Board | None = getattr(target, "board", None)
        self.console = target.console
        self.port = http_port
        self._id = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def send_frame(self, obj: Any) -> None:
        self.console.write((RS + json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def next_frame(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next RPC frame on the console (log lines before it are skipped)."""
        m = self.console.expect_line(r"^\x1e(\{.*\})$", timeout=timeout)
        return json.loads(m.group(1))  # type: ignore[no-any-return]

    def call(self, method: str, params: Any = None, timeout: float = 10.0) -> dict[str, Any]:
        """One JSON-RPC request; returns the whole response object."""
        self._id += 1
        req: dict[str, Any] = {"jsonrpc": "2.0", "id": self._id, "method": method}
        if params is not None:
            req["params"] = params
        self.send_frame(req)
        while True:
            resp = self.next_frame(timeout)
            if resp.get("id") == self._id:
                assert resp["jsonrpc"] == "2.0"
                return resp

    def result(self, method: str, params: Any = None) -> Any:
        resp = self.call(method, params)
        assert "result" in resp, resp
        return resp["result"]

    def get_json(self, path: str) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None
             ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request("POST", path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()


def boot(board: Board, name: str, log: str) -> QemuTarget:
    t = QemuTarget(board_image(board.name, name), board, nic="user", restrict=False,
                   hostfwd=[80], log_path=ARTIFACTS / board.name / log)
    t.start()
    return t


def wait_ready(dev: Device, rpc: bool = True) -> float:
    """Waits for the lease, the HTTP listener and (rpc) the console's ready frame, in
    any order (a NIC that answers asynchronously, like virtio-net, can finish DHCP
    after the listener is up)."""
    t0 = time.monotonic()
    deadline = t0 + BOOT_TIMEOUT
    net = rf"net: ready ip={re.escape(GUEST_IP)}"
    pending = {"net", "http", "ready"} if rpc else {"net", "http"}
    while pending:
        m = dev.console.expect_line(rf"^(?:({net})|(http: listening on )|\x1e(\{{.*\}}))",
                                    timeout=max(0.1, deadline - time.monotonic()))
        if m.group(1):
            pending.discard("net")
        elif m.group(2):
            pending.discard("http")
        else:
            frame = json.loads(m.group(3))
            if frame.get("method") == "ready":
                assert frame["params"]["app"] == "device_app"
                pending.discard("ready")
    return time.monotonic() - t0


@pytest.fixture(scope="module")
def dev(board: Board) -> Iterator[Device]:
    need_full_app(board)
    t = boot(board, "device_app", "device_app.log")
    try:
        d = Device(t, t.forwarded[80])
        wait_ready(d)
        yield d
    finally:
        t.stop()


# ---- HTTP -------------------------------------------------------------------------------

def fetch_with_cymongoose(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET path from 127.0.0.1:port with the cymongoose HTTP client."""
    import cymongoose as mg

    got: dict[str, Any] = {}

    def fn(conn: Any, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_CONNECT:
            conn.send(f"GET {path} HTTP/1.1\r\nHost: device\r\nConnection: close\r\n\r\n")
        elif ev == mg.MG_EV_HTTP_MSG:
            got["status"], got["body"] = data.status(), data.body_bytes
            conn.drain()
        elif ev == mg.MG_EV_ERROR:
            got["error"] = data

    with mg.Manager() as m:
        m.connect(f"http://127.0.0.1:{port}/", fn)
        assert poll_until(m, lambda: "body" in got or "error" in got, timeout), "no response"
    assert "error" not in got, got
    return got["status"], got["body"]


def test_info_with_cymongoose_client(dev: Device) -> None:
    status, body = fetch_with_cymongoose(dev.port, "/api/info")
    assert status == 200
    info = json.loads(body)
    assert info["app"] == "device_app"
    assert info["version"] == project_version()
    assert dev.board is not None and info["board"] == dev.board.name
    assert info["ip"] == GUEST_IP
    assert info["uptime_ms"] > 0
    assert 0 < info["free_ram"] <= ram_size(dev.board)
    assert info["features"] == ["http", "ws", "mqtt", "sntp", "rpc", "ota"]


def test_info_with_curl_uptime_advances(dev: Device) -> None:
    r1 = curl(dev.url("/api/info"))
    assert r1.returncode == 0, r1.stderr
    time.sleep(0.3)
    r2 = curl("-i", dev.url("/api/info"))
    assert r2.returncode == 0, r2.stderr
    head, _, body = r2.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"application/json" in head.lower()
    a, b = json.loads(r1.stdout), json.loads(body)
    assert b["uptime_ms"] - a["uptime_ms"] >= 250


def test_status_page(dev: Device) -> None:
    r = curl(dev.url("/"))
    assert r.returncode == 0 and b"<h1>cymongoose device</h1>" in r.stdout
    status, body = dev.get_json("/nope")
    assert status == 404 and body == {"error": "not found"}


def test_led_over_rest_and_rpc(dev: Device) -> None:
    assert dev.post("/api/led", b'{"on": true}') == (200, {"on": True})
    dev.console.expect_line(r"^led: on$", timeout=5)
    assert dev.result("led.get") == {"on": True}
    assert dev.result("led.set", {"on": False}) == {"on": False}
    assert dev.get_json("/api/led") == (200, {"on": False})
    status, body = dev.post("/api/led", b'{"on": "yes"}')
    assert status == 400 and "on" in body["error"]
    assert dev.get_json("/api/led") == (200, {"on": False})


# ---- WebSocket ----------------------------------------------------------------------------

def test_websocket_echo(dev: Device) -> None:
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{dev.port}/ws", open_timeout=10, close_timeout=5) as ws:
        for msg in ("hello device", "x" * 1500):
            ws.send(msg)
            assert ws.recv(timeout=10) == msg
        ws.send(bytes(range(256)))
        assert ws.recv(timeout=10) == bytes(range(256))


def test_websocket_live_log(dev: Device) -> None:
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{dev.port}/ws/log", open_timeout=10) as ws:
        assert dev.result("led.set", {"on": True}) == {"on": True}
        lines = []
        deadline = time.monotonic() + 10
        while "led: on" not in lines and time.monotonic() < deadline:
            lines.append(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        assert "led: on" in lines
        dev.result("led.set", {"on": False})
        while True:
            if ws.recv(timeout=10) == "led: off":
                break


# ---- MQTT and SNTP through the user-net gateway ---------------------------------------------

def test_mqtt_status_and_commands(dev: Device) -> None:
    from mqttpeers import Paho, mosquitto

    with mosquitto() as port:
        sub = Paho(port)
        try:
            sub.sub("device/#", qos=1)
            cfg = dev.result("config.set", {"mqtt_url": f"mqtt://{GATEWAY}:{port}"})
            dev_id = cfg["id"]
            status_topic, reply_topic = f"device/{dev_id}/status", f"device/{dev_id}/reply"

            def status() -> list[dict[str, Any]]:
                return [json.loads(p) for t, p, *_ in sub.msgs if t == status_topic]

            assert sub.wait(lambda: any(s.get("online") for s in status()), 15), sub.msgs
            first = next(s for s in status() if s.get("online"))
            assert first["id"] == dev_id and first["ip"] == GUEST_IP
            assert first["version"] == project_version()
            assert dev.result("net.status")["mqtt"] == "connected"

            # A command: a JSON-RPC request on device/<id>/cmd, answer on .../reply.
            sub.pub(f"device/{dev_id}/cmd", json.dumps(
                {"jsonrpc": "2.0", "id": 77, "method": "led.set", "params": {"on": True}}).encode(),
                qos=1)
            assert sub.wait(lambda: any(t == reply_topic for t, *_ in sub.msgs), 10), sub.msgs
            reply = json.loads(next(p for t, p, *_ in sub.msgs if t == reply_topic))
            assert reply == {"jsonrpc": "2.0", "id": 77, "result": {"on": True}}
            assert sub.wait(lambda: any(s.get("led") is True for s in status()), 10)
            assert dev.result("led.get") == {"on": True}
            sub.pub(f"device/{dev_id}/cmd", b"not json", qos=1)
            assert sub.wait(lambda: sum(t == reply_topic for t, *_ in sub.msgs) >= 2, 10)
            bad = json.loads([p for t, p, *_ in sub.msgs if t == reply_topic][1])
            assert bad["error"]["code"] == -32700
        finally:
            dev.result("config.set", {"mqtt_url": ""})
            dev.result("led.set", {"on": False})
            sub.close()


class SntpServer:
    """Answers SNTP requests on 127.0.0.1 with a fixed clock offset; counts them."""

    NTP_UNIX = 2208988800

    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s
        self.requests = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                req, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(req) < 48 or req[0] & 7 != 3:
                continue
            self.requests += 1
            t = time.time() + self.offset_s + self.NTP_UNIX
            sec, frac = int(t), int((t % 1) * 2**32)
            resp = bytes([0x24, 2, 0, 0]) + bytes(20) + req[40:48] + \
                struct.pack(">II", sec, frac) * 2
            self.sock.sendto(resp, peer)

    def close(self) -> None:
        self._stop.set()
        self._t.join(2)
        self.sock.close()


def test_sntp_sync(dev: Device) -> None:
    offset = 12345.0  # a clock the device cannot know unless it asked us
    srv = SntpServer(offset)
    try:
        dev.result("config.set", {"sntp_url": f"udp://{GATEWAY}:{srv.port}"})
        deadline = time.monotonic() + 15
        st = dev.result("net.status")
        while not st["time_synced"] and time.monotonic() < deadline:
            time.sleep(0.2)
            st = dev.result("net.status")
        assert st["time_synced"], st
        assert srv.requests >= 1
        want = (time.time() + offset) * 1000
        assert abs(st["time_ms"] - want) < 3000, (st["time_ms"], want)
    finally:
        dev.result("config.set", {"sntp_url": ""})
        srv.close()


# ---- JSON-RPC on the console ----------------------------------------------------------------

def test_rpc_methods(dev: Device) -> None:
    assert dev.board is not None
    info = dev.result("info")
    assert info["version"] == project_version() and info["board"] == dev.board.name
    assert info["free_ram"] > 0
    st = dev.result("net.status")
    assert st["state"] == "ready" and st["ip"] == GUEST_IP and st["dhcp"] is True
    assert st["mac"] == dev.board.network.get("mac", QEMU_DEFAULT_MAC) and st["gw"] == GATEWAY
    assert st["mask"] == "255.255.255.0"
    resp = dev.call("no.such.method")
    assert resp["error"]["code"] == -32601 and "no.such.method" in resp["error"]["message"]
    resp = dev.call("led.set", {"on": 3})
    assert resp["error"]["code"] == -32602
    # A notification (no id) is run but not answered: the next frame is for the
    # request after it.
    dev.send_frame({"jsonrpc": "2.0", "method": "led.set", "params": {"on": True}})
    dev.send_frame({"jsonrpc": "2.0", "id": 9001, "method": "led.get"})
    assert dev.next_frame() == {"jsonrpc": "2.0", "id": 9001, "result": {"on": True}}
    dev.result("led.set", {"on": False})


def test_rpc_garbage_on_console(dev: Device) -> None:
    junk = bytes(range(256)).replace(b"\x1e", b"").replace(b"\n", b"") * 3
    dev.console.write(junk + b"\n")
    dev.console.expect_line(r"^console: (unknown command|line too long)", timeout=10)
    dev.console.write(b"\x1e{{{ not json\n")
    assert dev.next_frame() == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32700, "message": "parse error: not valid JSON"}}
    dev.console.write(b"\x1e[1,2,3]\n")
    assert dev.next_frame()["error"]["code"] == -32600
    dev.console.write(b"\x1e{\"id\":1,\"method\":\"info\",\"pad\":\"" + b"A" * 3000 + b"\"}\n")
    resp = dev.next_frame()
    assert resp["id"] is None and resp["error"]["code"] == -32600
    assert "too long" in resp["error"]["message"]
    # A partial frame cut by a new RS is dropped; the new one runs.
    dev.console.write(b"\x1e{\"id\":5,\"meth")
    assert dev.call("led.get")["result"] == {"on": False}
    assert dev.get_json("/api/info")[0] == 200  # the device still serves HTTP


def test_malformed_http_then_ok(dev: Device) -> None:
    out = raw_exchange(dev.port, b"BLAH\x00\x01 / HTTP/9\r\n\r\n", timeout=5)
    assert out.startswith(b"HTTP/1.1 400"), out[:80]
    out = raw_exchange(dev.port, b"GET /api/info HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                       timeout=5)
    assert out.startswith(b"HTTP/1.1 400"), out[:80]
    status, info = dev.get_json("/api/info")
    assert status == 200 and info["app"] == "device_app"


# ---- OTA ---------------------------------------------------------------------------------------

def ota_image(board: Board | None, size: int, board_name: str | None = None) -> bytes:
    """A firmware image (docs/image-format.md) with ``size`` random payload bytes for
    ``board`` (or for ``board_name``): the device checks its header, board id, size and
    hash; what the payload holds does not matter to the update bank."""
    assert board is not None
    base = board.memory[0].start
    return imagefmt.pack(os.urandom(size), board=board_name or board.name, load_addr=base,
                         entry_addr=base, version="1.2.3+4")


def test_ota_over_http(dev: Device, tmp_path: Path) -> None:
    img = ota_image(dev.board, 40 * 1024)
    digest = hashlib.sha256(img).hexdigest()
    f = tmp_path / "image.bin"
    f.write_bytes(img)
    r = curl("-X", "POST", "--data-binary", f"@{f}", "-H", f"X-SHA256: {digest}",
             dev.url("/api/ota"), timeout=30)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["state"] == "verified" and res["sha256"] == digest and res["size"] == len(img)
    assert res["bank"] == 1 and res["source"] == "http"
    assert res["version"] == "1.2.3+4" and res["signed"] is False
    assert dev.result("ota.status")["state"] == "verified"
    # `make fw` builds without MG_OTA_PUBKEY: a development build takes unsigned images
    # and says so (test_device_ota_signed.py covers a build with a key).
    assert dev.get_json("/api/info")[1]["signed_updates"] is False
    assert dev.result("info")["signed_updates"] is False

    # Corrupt image: one flipped byte under the original digest is rejected.
    bad = bytearray(img)
    bad[12345] ^= 0x40
    status, body = dev.post("/api/ota", bytes(bad), {"X-SHA256": digest})
    assert status == 400 and "sha256 mismatch" in body["error"]
    st = dev.result("ota.status")
    assert st["state"] == "failed" and "sha256 mismatch" in st["error"]
    # A client that waits for "100 Continue" before sending the body.
    small = ota_image(dev.board, 2800)
    with socket.create_connection(("127.0.0.1", dev.port), timeout=10) as sk:
        sk.sendall(f"POST /api/ota HTTP/1.1\r\nHost: d\r\nContent-Length: {len(small)}\r\n"
                   f"X-SHA256: {hashlib.sha256(small).hexdigest()}\r\n"
                   "Expect: 100-continue\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = sk.recv(4096)
            assert chunk, got
            got += chunk
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), got
        got = got[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        sk.sendall(small)
        while b"}" not in got:
            chunk = sk.recv(4096)
            if not chunk:
                break
            got += chunk
    assert got.startswith(b"HTTP/1.1 200") and b'"state":"verified"' in got, got
    # An upload cut off half way leaves the running firmware alone.
    with socket.create_connection(("127.0.0.1", dev.port), timeout=10) as sk:
        sk.sendall(f"POST /api/ota HTTP/1.1\r\nHost: d\r\nContent-Length: {len(img)}\r\n"
                   f"X-SHA256: {digest}\r\n\r\n".encode() + img[:5000])
        deadline = time.monotonic() + 10
        while dev.result("ota.status")["state"] != "receiving" and time.monotonic() < deadline:
            time.sleep(0.05)
    deadline = time.monotonic() + 10
    st = dev.result("ota.status")
    while st["state"] == "receiving" and time.monotonic() < deadline:
        time.sleep(0.05)
        st = dev.result("ota.status")
    assert st["state"] == "failed" and "connection closed" in st["error"], st
    # X-SHA256 is optional (the image carries its own hash); a too large upload is
    # refused before any byte is stored.
    status, body = dev.post("/api/ota", small)
    assert status == 200 and body["state"] == "verified", body
    conn = http.client.HTTPConnection("127.0.0.1", dev.port, timeout=10)
    conn.putrequest("POST", "/api/ota")
    conn.putheader("Content-Length", str(1024 * 1024))  # > bank, < HTTP body limit
    conn.putheader("X-SHA256", digest)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and "larger than the bank" in json.loads(resp.read())["error"]
    conn.close()
    # Still running the same firmware, still answering.
    status, info = dev.get_json("/api/info")
    assert status == 200 and info["uptime_ms"] > 0


def test_ota_refuses_what_is_not_an_image_for_this_board(dev: Device) -> None:
    """Each refusal over HTTP (a 4xx naming the reason) and over RPC (an error code at
    the first ota.write for what the header shows, at ota.end for the rest); the
    running firmware answers afterwards and a good image still goes through."""
    assert dev.board is not None
    other = "mps2-an505" if dev.board.name != "mps2-an505" else "mps2-an385"
    good = ota_image(dev.board, 1500)
    end = len(good) - imagefmt.TRAILER_SIZE
    tampered = bytearray(good)
    tampered[100] ^= 0x01  # in the payload; the trailer's hash is left as it was
    oversized = bytearray(good)  # a header announcing 1 MiB of payload
    struct.pack_into("<I", oversized, imagefmt.OFFSETS["PAYLOAD_SIZE"], 1 << 20)
    elf = board_image(dev.board.name, "device_app").read_bytes()[:8192]
    cases = [
        ("raw ELF", elf, 400, -32006, "raw ELF file, not an image"),
        ("wrong board", ota_image(dev.board, 1500, other), 400, -32007,
         "image is for another board"),
        ("bad hash", bytes(tampered), 400, -32003, "image hash mismatch"),
        ("truncated", good[:end + 40], 400, -32006,
         f"image truncated: header says {len(good)} bytes, upload is {end + 40}"),
        ("trailing bytes", good + b"\0" * 8, 400, -32006, "image has extra bytes"),
        ("oversized", bytes(oversized), 413, -32001, "image larger than the bank"),
        ("not an image", b"hello world " * 100, 400, -32006, "not a cymongoose image"),
    ]
    for name, data, status, code, message in cases:
        got, body = dev.post("/api/ota", data)
        assert (got, name) == (status, name) and message in body["error"], (name, body)
        st = dev.result("ota.status")
        assert st["state"] == "failed" and message in st["error"], (name, st)
        end_resp = rpc_upload(dev, data, hashlib.sha256(data).hexdigest(), check=False)
        assert end_resp["error"]["code"] == code, (name, end_resp)
        assert message in end_resp["error"]["message"], (name, end_resp)
    # The header's refusals come at the first chunk, before the rest is sent.
    r = dev.call("ota.begin", {"size": len(good)})
    assert "result" in r
    w = dev.call("ota.write", {"offset": 0, "data_b64": base64.b64encode(
        ota_image(dev.board, 1500, other)[:768]).decode()})
    assert w["error"]["code"] == -32007
    assert dev.result("ota.status")["state"] == "failed"
    end_resp = rpc_upload(dev, good, hashlib.sha256(good).hexdigest())
    assert end_resp["result"]["state"] == "verified" and end_resp["result"]["version"] == "1.2.3+4"
    assert dev.get_json("/api/info")[0] == 200


def rpc_upload(dev: Device, img: bytes, digest: str, chunk: int = 768,
               check: bool = True) -> dict[str, Any]:
    """ota.begin/write/end; with check=False the first error response is returned."""
    begin = dev.result("ota.begin", {"size": len(img), "sha256": digest})
    assert begin["chunk_max"] >= chunk and begin["bank_size"] >= len(img)
    for ofs in range(0, len(img), chunk):
        w = dev.call("ota.write", {"offset": ofs,
                                   "data_b64": base64.b64encode(img[ofs:ofs + chunk]).decode()})
        if not check and "error" in w:
            return w
        assert w["result"]["received"] == min(len(img), ofs + chunk), w
    return dev.call("ota.end")


def test_ota_over_rpc(dev: Device) -> None:
    img = ota_image(dev.board, 6000)
    digest = hashlib.sha256(img).hexdigest()
    end = rpc_upload(dev, img, digest)
    assert end["result"]["state"] == "verified" and end["result"]["sha256"] == digest
    assert end["result"]["source"] == "rpc"

    bad = img[:-1] + bytes([img[-1] ^ 1])
    end = rpc_upload(dev, bad, digest)
    assert end["error"]["code"] == -32003 and "sha256 mismatch" in end["error"]["message"]
    assert dev.result("ota.status")["state"] == "failed"

    # Protocol errors: no session, out-of-order chunk, early end, bad params.
    assert dev.call("ota.write", {"offset": 0, "data_b64": "AAAA"})["error"]["code"] == -32000
    dev.result("ota.begin", {"size": 10, "sha256": digest})
    r = dev.call("ota.write", {"offset": 4, "data_b64": "AAAA"})
    assert r["error"]["code"] == -32002 and "expected offset 0" in r["error"]["message"]
    assert dev.call("ota.write", {"offset": 0, "data_b64": "!!!!"})["error"]["code"] == -32602
    assert dev.call("ota.end")["error"]["code"] == -32004
    assert dev.call("ota.begin", {"size": 10, "sha256": "xyz"})["error"]["code"] == -32602
    assert dev.call("ota.begin", {"size": 1 << 30, "sha256": digest})["error"]["code"] == -32001
    assert dev.result("info")["app"] == "device_app"


# ---- reboot, the HTTP-only image, the host build ------------------------------------------------

def test_reboot_over_rpc(board: Board) -> None:
    need_full_app(board)
    t = boot(board, "device_app", "device_app_reboot.log")
    try:
        d = Device(t, t.forwarded[80])
        wait_ready(d)
        time.sleep(0.5)
        before = d.result("info")["uptime_ms"]
        assert before >= 400
        assert d.result("reboot", {"delay_ms": 50}) is True
        d.console.expect_line(r"^device: rebooting$", timeout=10)
        d.console.expect_line(rf"^cymongoose \S+ on {re.escape(board.name)}: device_app$",
                              timeout=BOOT_TIMEOUT)
        wait_ready(d)
        assert d.result("info")["uptime_ms"] < before
        assert d.get_json("/api/info")[0] == 200
    finally:
        t.stop()


def test_http_only_image(board: Board) -> None:
    t = boot(board, "device_app_http", "device_app_http.log")
    try:
        d = Device(t, t.forwarded[80])
        # The HTTP-only image names itself by its features, not its banner.
        d.console.expect_line(rf"^cymongoose \S+ on {re.escape(board.name)}: device_app$",
                              timeout=BOOT_TIMEOUT)
        wait_ready(d, rpc=False)
        status, info = d.get_json("/api/info")
        assert status == 200 and info["features"] == ["http"]
        assert info["board"] == board.name and info["app"] == "device_app"
        assert d.post("/api/led", b'{"on":true}') == (200, {"on": True})
        assert d.get_json("/ws")[0] == 404
        # No JSON-RPC in this image: a frame gets a plain log line back.
        d.send_frame({"id": 1, "method": "info"})
        d.console.expect_line(r"^console: JSON-RPC is not built in$", timeout=10)
    finally:
        t.stop()


def test_host_build_answers_api_info() -> None:
    exe = HOST_DIR / "device_app"
    if not exe.is_file():
        pytest.fail(f"{exe} is missing: build it first with `make host`")
    port = free_port()
    t = HostProcessTarget([str(exe), "--http", f"http://127.0.0.1:{port}"],
                          log_path=ARTIFACTS / "device_app_host.log")
    t.start()
    try:
        d = Device(t, port)
        d.console.expect_line(r"^http: listening on http://127.0.0.1:", timeout=10)
        ready = d.next_frame()
        assert ready["method"] == "ready"
        status, info = d.get_json("/api/info")
        assert status == 200 and info["board"] == "host"
        assert info["version"] == project_version()
        assert d.result("info")["board"] == "host"
        assert d.post("/api/led", b'{"on":true}') == (200, {"on": True})
        assert d.result("led.get") == {"on": True}
        d.console.write(b"\x1egarbage\n")
        assert d.next_frame()["error"]["code"] == -32700
        assert d.get_json("/api/info")[0] == 200
        # reboot re-executes the process: same pid and console, fresh state.
        assert d.result("reboot", {"delay_ms": 10}) is True
        d.console.expect_line(r"^cymongoose \S+ on host: device_app$", timeout=10)
        assert d.next_frame()["method"] == "ready"
        assert d.get_json("/api/led") == (200, {"on": False})
    finally:
        t.stop()
