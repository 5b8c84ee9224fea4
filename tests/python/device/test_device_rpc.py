"""JSON-RPC client and OTA over RPC against a fake device (a Python process speaking the
console framing of docs/device-rpc.md on a pty). The same client against the reference
firmware in QEMU is in test_device_app.py."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
from cymongoose.device import HostProcessTarget, imagefmt
from cymongoose.device.errors import ImageError, TargetExitedError
from cymongoose.device.ota import OtaError, OtaFlasher, ota_rpc
from cymongoose.device.rpc import (
    CONSOLE_OVERRUN,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    OTA_NOT_STARTED,
    OTA_SHA_MISMATCH,
    RS,
    RpcClient,
    RpcError,
    RpcFramer,
    RpcProtocolError,
    RpcTimeoutError,
)

FAKE = Path(__file__).resolve().parent / "fake_rpc_device.py"


@pytest.fixture
def fake(tmp_path: Path):  # type: ignore[no-untyped-def]
    with HostProcessTarget([sys.executable, str(FAKE)], log_path=tmp_path / "fake.log") as t:
        yield t


def test_framer_sans_io() -> None:
    f = RpcFramer()
    wire = f.encode({"jsonrpc": "2.0", "id": 1, "method": "m", "params": {"s": "a\nb"}})
    assert wire.startswith(b"\x1e") and wire.endswith(b"\n") and wire.count(b"\n") == 1
    # Split anywhere: frames come out whole, log lines are kept apart, \r\n tolerated.
    text = ("boot log\r\n" + RS + '{"jsonrpc":"2.0","id":1,"result":7}\r\n' + "x"
            + RS + '{"partial' + RS + '{"jsonrpc":"2.0","id":2,"result":[1]}\n'
            + RS + "garbage\n" + RS + "[1]\n")
    got = []
    for i in range(0, len(text), 3):
        got += f.feed(text[i:i + 3])
    assert [m["id"] for m in got] == [1, 2]
    assert list(f.log_lines) == ["boot log", "x"]
    assert f.bad_frames == 2
    with pytest.raises(RpcProtocolError, match="frame limit"):
        f.encode({"method": "x" * 3000})
    # An endless line without LF is bounded.
    f.feed("y" * 100_000)
    assert len(f._buf) <= 4 * f.max_frame


def test_calls_errors_and_interleaved_logs(fake: HostProcessTarget) -> None:
    rpc = RpcClient(fake.console, timeout=5)
    ready = rpc.wait_notification("ready", timeout=10)
    assert ready["params"]["app"] == "fake_device"
    info = rpc.call("info")
    assert info["app"] == "fake_device" and "ota" in info["features"]
    assert rpc.call("led.set", on=True) == {"on": True}
    assert rpc.call("led.get") == {"on": True}
    # The device logged "led: on" before its response: still there for expect, and in the log.
    fake.console.expect_line(r"^led: on$", timeout=2)
    assert rpc.call("test.logs", n=5) == {"logged": 5}
    for i in range(5):
        fake.console.expect_line(rf"^log line {i}$", timeout=2)
    with pytest.raises(RpcError) as e:
        rpc.call("no.such")
    assert e.value.code == METHOD_NOT_FOUND and "no.such not found" in str(e.value)
    with pytest.raises(RpcError) as e:
        rpc.call("led.set", on="yes")
    assert e.value.code == INVALID_PARAMS and e.value.method == "led.set"
    # Broken frames, noise and a response to another id are skipped; ours still arrives.
    assert rpc.call("test.garbage") == "ok"
    assert rpc.stale_responses == 1
    assert rpc.call("led.get") == {"on": True}
    log = fake.console.log_path.read_text()  # type: ignore[union-attr]
    assert "led: on" in log and "log line 4" in log and '"method":"led.set"' in log


def test_timeout_then_recovery(fake: HostProcessTarget) -> None:
    rpc = RpcClient(fake.console, timeout=5)
    rpc.wait_notification("ready", timeout=10)
    with pytest.raises(RpcTimeoutError, match=r"no response to 'test.silent' .* within 0.5 s"):
        rpc.request("test.silent", timeout=0.5)
    assert rpc.call("led.set", on=False) == {"on": False}
    with pytest.raises(RpcTimeoutError, match="no 'never' notification within 0.3 s"):
        rpc.wait_notification("never", timeout=0.3)


def test_oversized_and_unparsable_requests(fake: HostProcessTarget) -> None:
    rpc = RpcClient(fake.console, timeout=5)
    with pytest.raises(RpcProtocolError):
        rpc.call("led.set", on=True, pad="x" * 4000)
    # A request the device cannot read is answered with id null: it becomes our RpcError.
    rpc.framer.max_frame = 10_000
    with pytest.raises(RpcError) as e:
        rpc.call("led.set", pad="x" * 3000)
    assert e.value.code == -32600


def test_device_gone_is_a_clear_error(fake: HostProcessTarget) -> None:
    rpc = RpcClient(fake.console, timeout=5)
    rpc.wait_notification("ready", timeout=10)
    assert fake.proc is not None
    fake.proc.kill()
    with pytest.raises((TargetExitedError, RpcTimeoutError)):
        rpc.request("info", timeout=3)


def an385_image(size: int) -> bytes:
    """An unsigned firmware image of ``size`` random payload bytes for mps2-an385."""
    return imagefmt.pack(os.urandom(size), board="mps2-an385", load_addr=0, entry_addr=0)


def test_ota_over_rpc(fake: HostProcessTarget, tmp_path: Path) -> None:
    rpc = RpcClient(fake.console, timeout=5)
    image = an385_image(20_000)
    steps: list[int] = []
    res = ota_rpc(rpc, image, progress=lambda done, total, phase: steps.append(done))
    assert res.size == len(image) and res.sha256 == hashlib.sha256(image).hexdigest()
    assert res.chunks == -(-len(image) // 768) and steps[-1] == len(image)
    assert res.status["state"] == "verified" and res.status["source"] == "rpc"
    # Through the flash-backend interface, from a file.
    path = tmp_path / "fw.img"
    small = an385_image(5000)
    path.write_bytes(small)
    from cymongoose.device.image import Image, Segment

    fr = OtaFlasher(rpc).flash(Image(str(path), "bin", (Segment(0, small),), None))
    assert fr.bytes_written == len(small) and fr.verified and fr.backend == "ota-rpc"
    # Anything but an image is refused before a byte is sent.
    with pytest.raises(ImageError, match="not a cymongoose image"):
        ota_rpc(rpc, os.urandom(3000))
    assert rpc.call("ota.status")["size"] == len(small)


def test_ota_rejections(fake: HostProcessTarget) -> None:
    rpc = RpcClient(fake.console, timeout=5)
    with pytest.raises(OtaError) as e:
        ota_rpc(rpc, an385_image(200_000))  # larger than the fake's 64 KiB bank
    assert e.value.code == -32001
    # A corrupted chunk: the device's SHA-256 check refuses it and says so.
    real_request = rpc.request

    def corrupt(method, params=None, *, timeout=None):  # type: ignore[no-untyped-def]
        if method == "ota.write" and params["offset"] == 0:
            params = dict(params, data_b64="AAAA" + params["data_b64"][4:])
        return real_request(method, params, timeout=timeout)

    rpc.request = corrupt  # type: ignore[method-assign]
    with pytest.raises(OtaError) as e:
        ota_rpc(rpc, an385_image(3000))
    assert e.value.code == OTA_SHA_MISMATCH
    rpc.request = real_request  # type: ignore[method-assign]
    assert rpc.call("ota.status")["state"] == "failed"
    with pytest.raises(RpcError) as e2:
        rpc.call("ota.end")
    assert e2.value.code == OTA_NOT_STARTED


def test_framer_survives_random_garbage() -> None:
    """Random bytes (RS and LF included) between valid frames: every valid frame that
    starts on a fresh line is recovered, nothing raises, the buffer stays bounded."""
    import json
    import random

    rng = random.Random(7)
    alphabet = "ab{}[]\":,\x1e\n\r\x00é"
    for _ in range(200):
        f = RpcFramer(max_frame=256)
        want, text = [], ""
        for i in range(rng.randrange(1, 8)):
            text += "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 300)))
            msg = {"jsonrpc": "2.0", "id": i, "result": "x" * rng.randrange(0, 50)}
            text += "\n" + RS + json.dumps(msg) + "\n"
            want.append(i)
        got = []
        pos = 0
        while pos < len(text):
            n = rng.randrange(1, 64)
            got += [m.get("id") for m in f.feed(text[pos:pos + n]) if "result" in m]
            pos += n
            assert len(f._buf) <= 4 * f.max_frame + 64
        assert [g for g in got if g in want] == want


def test_call_many_paced_in_order_with_errors_in_place(fake: HostProcessTarget) -> None:
    rpc = RpcClient(fake.console, timeout=5)
    rpc.wait_notification("ready", timeout=10)
    calls: list = [("led.set", {"on": i % 2 == 0}) for i in range(60)]
    calls[7] = ("no.such", None)
    calls[30] = "led.get"
    got = rpc.call_many(calls, window=3)
    assert len(got) == 60
    assert isinstance(got[7], RpcError) and got[7].code == METHOD_NOT_FOUND
    assert got[30] == {"on": False}  # the state left by call 29
    assert all(got[i] == {"on": i % 2 == 0} for i in range(60) if i not in (7, 30))
    # Never more than `window` requests were waiting unread on the device's input.
    assert 1 <= rpc.call("test.maxqueue") <= 3
    # window_bytes alone also paces: frames of ~60 bytes, 100 bytes allowed -> one at a time.
    rpc.call_many(["led.get"] * 20, window=50, window_bytes=100)
    assert rpc.call("test.maxqueue") <= 3
    # A device that lost input says so (id null): the batch fails loudly, not silently short.
    with pytest.raises(RpcError) as e:
        rpc.call_many(["led.get", "test.overrun", "led.get"], window=1)
    assert e.value.code == CONSOLE_OVERRUN
    with pytest.raises(ValueError):
        rpc.call_many(["info"], window=0)
