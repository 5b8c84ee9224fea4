"""The device SDK against the reference firmware (examples/device_app) in QEMU: JSON-RPC
over the console (dut.rpc), OTA over RPC and over HTTP through the root-free bridge, and a
1 MiB WebSocket echo through the bridge (dut.mgr), with the pcap artifact."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device import imagefmt
from cymongoose.device.ota import OtaError, check_status, ota_http, ota_rpc
from cymongoose.device.pytest_plugin import Dut
from cymongoose.device.rpc import INVALID_PARAMS, METHOD_NOT_FOUND, OTA_NOT_STARTED, RpcError

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]

try:
    import cymongoose as mg
    from cymongoose.stack import StackInterface

    HAVE_STREAM = hasattr(StackInterface, "stream")
except ImportError:
    HAVE_STREAM = False


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "device_app.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return str(elf)


def board_image(dut: Dut, size: int) -> bytes:
    """An unsigned firmware image of ``size`` random payload bytes for the dut's board."""
    base = dut.board.memory[0].start
    return imagefmt.pack(os.urandom(size), board=dut.board.name, load_addr=base,
                         entry_addr=base)


def need_bridge() -> None:
    if not HAVE_STREAM:
        pytest.skip("the installed extension has no StackInterface.stream (run `make ext`)")


def test_rpc_on_the_reference_firmware(dut: Dut) -> None:
    ready = dut.rpc.wait_notification("ready", timeout=20)
    assert ready["params"]["app"] == "device_app"
    info = dut.rpc.call("info")
    assert info["board"] == "mps2-an385" and "rpc" in info["features"]
    assert dut.rpc.call("led.set", on=True) == {"on": True}
    assert dut.rpc.call("led.get") == {"on": True}
    # The firmware logged the change around its response: still there for expect_line.
    dut.expect_line(r"led: on$", timeout=5)
    with pytest.raises(RpcError) as e:
        dut.rpc.call("no.such")
    assert e.value.code == METHOD_NOT_FOUND
    with pytest.raises(RpcError) as e:
        dut.rpc.call("led.set", on="maybe")
    assert e.value.code == INVALID_PARAMS
    # Console garbage and a text command in between do not disturb RPC.
    dut.console.write(b"\x1e{broken\nhelp\n")
    dut.expect_line(r"commands: help", timeout=5)
    assert dut.rpc.call("led.set", on=False) == {"on": False}
    with pytest.raises(RpcError) as e:
        dut.rpc.call("ota.end")
    assert e.value.code == OTA_NOT_STARTED
    log = dut.log_path.read_text()
    assert '"method":"led.set"' in log and "led: on" in log


@pytest.mark.dut(nic="stream")
def test_ota_over_rpc_and_http(dut: Dut) -> None:
    need_bridge()
    dut.rpc.wait_notification("ready", timeout=20)
    image = board_image(dut, 16 * 1024)  # the UART carries ~20 KB/s: RPC OTA is for small images
    res = ota_rpc(dut.rpc, image)
    assert res.status["state"] == "verified" and res.status["size"] == len(image)
    assert res.status["source"] == "rpc" and res.sha256 == hashlib.sha256(image).hexdigest()
    # The bulk path: POST /api/ota through the bridge, checked with ota.status.
    dut.bridge.wait_ready(port=80, timeout=30)
    big = board_image(dut, 200 * 1024)
    res = ota_http(big, bridge=dut.bridge, rpc=dut.rpc)
    assert res.status["state"] == "verified" and res.status["size"] == len(big)
    assert res.status["source"] == "http"
    # A wrong digest is refused by the device: the running image stays, the bank is failed.
    status, _, body = dut.bridge.http("POST", "/api/ota", big[:1000],
                                      {"X-SHA256": "00" * 32})
    assert status == 400 and "error" in json.loads(body)
    with pytest.raises(OtaError, match="device reports OTA state 'failed'"):
        check_status(dut.rpc, 1000)
    assert dut.rpc.call("info")["app"] == "device_app"


@pytest.mark.dut(nic="stream")
def test_1mib_websocket_echo_through_the_bridge(dut: Dut) -> None:
    need_bridge()
    br = dut.bridge
    br.wait_ready(port=80, timeout=30)
    data = os.urandom(1 << 20)
    got = bytearray()
    chunk = 8192
    sent = [0]

    def ws(c: Any, ev: int, msg: Any) -> None:
        # One 8 KiB message in flight: the next goes when its echo is complete.
        if ev == mg.MG_EV_WS_MSG:
            got.extend(msg.data)
        if ev in (mg.MG_EV_WS_OPEN, mg.MG_EV_WS_MSG) and len(got) == sent[0] < len(data):
            c.ws_send(data[sent[0]:sent[0] + chunk], mg.WEBSOCKET_OP_BINARY)
            sent[0] += chunk

    dut.mgr.ws_connect(dut.url("/ws", scheme="ws"), ws)
    assert br.pump(lambda: len(got) >= len(data), 120), (len(got), br.stats)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    br.close()
    assert dut.pcap_path.stat().st_size > (1 << 20) * 2  # both directions captured
