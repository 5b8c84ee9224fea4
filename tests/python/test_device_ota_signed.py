"""Signed updates on the device: device_app built with a public key (-DMG_OTA_PUBKEY)
takes only images signed by its private key (docs/image-format.md, "Signed updates").

The key pairs are made here with `cymongoose image keygen` in a temporary folder and the
firmware is configured and built for the reference board (mps2-an385) into a temporary
build directory (about 15 s), so no key is ever stored in the tree or in build/. Then,
over HTTP (POST /api/ota) and over console JSON-RPC (ota.*), with the device in QEMU:
an image signed by the device's key is accepted; an unsigned one, one signed by another
key and one whose signature has a flipped bit are refused (HTTP 403, RPC -32008, the
reason in the message) and the running firmware carries on.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cymongoose.device import Board, QemuTarget, imagefmt, load_image
from mgtest import emulated_boards
from test_device_app import ARTIFACTS, Device, rpc_upload, wait_ready

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parents[2]
BOARD = "mps2-an385"  # the reference board; the check is the same C code on every board
SIGNATURE_REFUSED = -32008


def keygen(path: Path) -> tuple[Path, Path]:
    """A key pair made by the host tool: (private key, public key)."""
    out = subprocess.run([sys.executable, "-m", "cymongoose.device.cli", "image", "keygen",
                          str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return path, Path(f"{path}.pub")


def toolchain_file(board: str) -> str:
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "fw_boards.py"), "--only", board],
                         capture_output=True, text=True, timeout=60, check=True)
    name, toolchain = out.stdout.split()
    assert name == board
    return toolchain


def run(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    return out.stdout + out.stderr


class SignedFirmware:
    """device_app for BOARD built with a fresh key pair's public key, and another key."""


    def __init__(self, root: Path) -> None:
        self.key, self.pub = keygen(root / "device.key")
        self.other_key, _ = keygen(root / "other.key")
        self.build = root / "build"
        configure = ["cmake", "-S", str(REPO), "-B", str(self.build), "-DMG_BOARD=" + BOARD,
                     "-DCMAKE_TOOLCHAIN_FILE=" + toolchain_file(BOARD),
                     "-DCMAKE_BUILD_TYPE=MinSizeRel", f"-DMG_OTA_PUBKEY={self.pub}"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        self.configure_output = run(configure)
        run(["cmake", "--build", str(self.build), "--target", "device_app", "-j", "2"])
        self.elf = self.build / "device_app.elf"


@pytest.fixture(scope="module")
def signed_fw(tmp_path_factory: pytest.TempPathFactory) -> SignedFirmware:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed (make setup installs it)")
    return SignedFirmware(tmp_path_factory.mktemp("signed_fw"))


@pytest.fixture(scope="module")
def board() -> Board:
    return next(b for b in emulated_boards() if b.name == BOARD)


@pytest.fixture(scope="module")
def sdev(signed_fw: SignedFirmware, board: Board) -> Iterator[Device]:
    t = QemuTarget(signed_fw.elf, board, nic="user", restrict=False, hostfwd=[80],
                   log_path=ARTIFACTS / BOARD / "device_app_signed.log")
    t.start()
    try:
        d = Device(t, t.forwarded[80])
        wait_ready(d)
        yield d
    finally:
        t.stop()


def images(fw: SignedFirmware, board: Board, elf: bool = True) -> dict[str, bytes]:
    """Signed by the device's key, by another key, unsigned, and signed with one bit of
    the signature flipped: the signed firmware itself packed for its board (elf), or a
    small random payload (the console's RPC moves about 20 KB/s)."""
    key = imagefmt.load_private_key(fw.key.read_bytes())
    other = imagefmt.load_private_key(fw.other_key.read_bytes())
    if elf:
        fw_elf = load_image(fw.elf)

        def pack(k: Any) -> bytes:
            return imagefmt.pack_elf(fw_elf, board, version="2.0.0+1", key=k)
    else:
        payload, base = os.urandom(3000), board.memory[0].start

        def pack(k: Any) -> bytes:
            return imagefmt.pack(payload, board=board.name, load_addr=base, entry_addr=base,
                                 version="2.0.0+1", key=k)
    good = pack(key)
    flipped = bytearray(good)
    flipped[-20] ^= 0x08  # in the signature's S half; the hash still matches
    return {"signed": good, "unsigned": pack(None), "other key": pack(other),
            "flipped bit": bytes(flipped)}


def test_cmake_decodes_the_public_key(tmp_path: Path) -> None:
    """The PEM -> C bytes step of the build (ota_pubkey.cmake in script mode) against
    the `cryptography` package, and its refusals."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import x25519

    script = REPO / "examples" / "device_app" / "ota_pubkey.cmake"

    def decode(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["cmake", f"-DKEY={path}", "-P", str(script)],
                              capture_output=True, text=True, timeout=60, check=False)

    key, pub = keygen(tmp_path / "k.key")
    raw = imagefmt.load_public_key(pub.read_bytes()).public_bytes(ser.Encoding.Raw,
                                                                  ser.PublicFormat.Raw)
    out = decode(pub)
    assert out.returncode == 0, out.stderr
    assert [int(b, 16) for b in out.stderr.strip().split(",")] == list(raw)
    # Same DER length, another curve (X25519, OID 1.3.101.110): not a signing key.
    x = tmp_path / "x25519.pub"
    x.write_bytes(x25519.X25519PrivateKey.generate().public_key().public_bytes(
        ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))
    text = tmp_path / "text.pub"
    text.write_text("hello\n")
    for path, message in [(key, "is a private key; give the public key"),
                          (x, "is not an Ed25519 public key"),
                          (text, "is not a PEM public key"),
                          (tmp_path / "missing.pub", "does not exist")]:
        out = decode(path)
        assert out.returncode != 0 and message in " ".join(out.stderr.split()), out.stderr


def test_configure_says_which_key(signed_fw: SignedFirmware) -> None:
    assert f"device_app: OTA updates must be signed by {signed_fw.pub}" in \
        signed_fw.configure_output
    assert "development build" not in signed_fw.configure_output


def test_info_reports_signed_updates(sdev: Device) -> None:
    status, info = sdev.get_json("/api/info")
    assert status == 200 and info["signed_updates"] is True
    assert sdev.result("info")["signed_updates"] is True


def test_signed_image_accepted_others_refused(sdev: Device, signed_fw: SignedFirmware,
                                              board: Board) -> None:
    imgs, small = images(signed_fw, board), images(signed_fw, board, elf=False)
    good = imgs["signed"]
    # The host tool agrees with the device about each image.
    pub = imagefmt.load_public_key(signed_fw.pub.read_bytes())
    for name, img in [*imgs.items(), *small.items()]:
        if name == "signed":
            assert imagefmt.verify(img, board=BOARD, public_key=pub).signed
        else:
            with pytest.raises(imagefmt.ImageVerifyError):
                imagefmt.verify(img, board=BOARD, public_key=pub)
    started = sdev.result("info")["uptime_ms"]

    status, body = sdev.post("/api/ota", good)
    assert status == 200, body
    assert body["state"] == "verified" and body["signed"] is True
    assert body["version"] == "2.0.0+1" and body["sha256"] == hashlib.sha256(good).hexdigest()
    m = sdev.console.expect_line(r"^ota: signature ok \(Ed25519, (\d+) ms\)$", timeout=10)
    print(f"\n{BOARD}: Ed25519 verify of a {len(good)} byte image over HTTP: "
          f"{m.group(1)} ms (QEMU wall clock)")
    end = rpc_upload(sdev, small["signed"], hashlib.sha256(small["signed"]).hexdigest())
    assert end["result"]["state"] == "verified" and end["result"]["signed"] is True

    refusals = {
        "unsigned": "image is unsigned: this device takes signed updates only",
        "other key": "bad signature: not signed by this device's key",
        "flipped bit": "bad signature: not signed by this device's key",
    }
    for name, message in refusals.items():
        status, body = sdev.post("/api/ota", imgs[name])
        assert (name, status) == (name, 403) and body["error"] == message, (name, body)
        st = sdev.result("ota.status")
        assert st["state"] == "failed" and st["error"] == message and st["bank"] == 0, (name, st)
        img = small[name]
        end = rpc_upload(sdev, img, hashlib.sha256(img).hexdigest(), check=False)
        assert end["error"]["code"] == SIGNATURE_REFUSED, (name, end)
        assert end["error"]["message"] == message, (name, end)
        assert sdev.result("ota.status")["state"] == "failed"

    # The running firmware carried on (no reset: its uptime kept growing) and a good
    # image still goes through afterwards.
    status, info = sdev.get_json("/api/info")
    assert status == 200 and info["uptime_ms"] > started and info["signed_updates"] is True
    status, body = sdev.post("/api/ota", good)
    assert status == 200 and body["state"] == "verified", body


def test_signed_update_with_the_flash_command(sdev: Device, signed_fw: SignedFirmware,
                                              tmp_path: Path) -> None:
    """`cymongoose image pack --key` + `cymongoose flash --backend ota --url`: the
    commands a user runs; an image packed without the key is refused with the reason."""
    cli = [sys.executable, "-m", "cymongoose.device.cli"]
    url = sdev.url("/api/ota")
    for key, name in ((signed_fw.key, "signed.img"), (None, "unsigned.img")):
        img = tmp_path / name
        pack = [*cli, "image", "pack", "--board", BOARD, "--version", "2.1.0",
                str(signed_fw.elf), "-o", str(img)]
        if key is not None:
            pack += ["--key", str(key)]
        out = subprocess.run(pack, capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
    out = subprocess.run([*cli, "flash", "--board", BOARD, "--backend", "ota", "--url", url,
                          str(tmp_path / "signed.img")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([*cli, "flash", "--board", BOARD, "--backend", "ota", "--url", url,
                          str(tmp_path / "unsigned.img")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert re.search(r"403.*image is unsigned: this device takes signed updates only",
                     out.stderr), out.stderr
    assert sdev.get_json("/api/info")[0] == 200


def test_signed_bootloader_boots_signed_slots_only(signed_fw: SignedFirmware,
                                                    board: Board) -> None:
    """Two-slot build with the key (docs/updates.md): the bootloader refuses to boot an
    unsigned image written into slot A by other means (a debugger here), boots a signed
    one, and the slot application takes only a signed update for slot B."""
    import http.client
    import json

    from cymongoose.device.gdbremote import GdbClient
    from cymongoose.device.slots import provision, slot_image

    run(["cmake", "--build", str(signed_fw.build), "--target", "bootloader",
         "device_app_slot_a", "device_app_slot_b", "-j", "2"])
    key = imagefmt.load_private_key(signed_fw.key.read_bytes())
    other = imagefmt.load_private_key(signed_fw.other_key.read_bytes())
    a_elf, b_elf = signed_fw.build / "device_app_slot_a.elf", signed_fw.build / "device_app_slot_b.elf"
    boot = signed_fw.build / "bootloader.elf"

    def post(port: int, data: bytes, query: str = "") -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/api/ota" + query, body=data)
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    with QemuTarget(boot, board, gdb="unix", halted=True,
                    log_path=ARTIFACTS / BOARD / "bootloader_signed_unsigned.log") as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as gdb:
            provision(gdb, board, slot_image(a_elf, board, "1.0.0"))
            gdb.cont()
            t.console.expect_line(r"^boot: slot A: empty, no valid image: bad or missing signature",
                                  timeout=20)
            t.console.expect_line(r"^boot: no bootable slot", timeout=20)

    with QemuTarget(boot, board, gdb="unix", halted=True, nic="user", hostfwd=[80],
                    log_path=ARTIFACTS / BOARD / "bootloader_signed.log") as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as gdb:
            provision(gdb, board, slot_image(a_elf, board, "1.0.0", key=key))
            gdb.cont()
            t.console.expect_line(r"^boot: slot A \(confirmed", timeout=20)
            t.console.expect_line(r"^http: listening", timeout=20)
            port = t.forwarded[80]
            for k, why in ((None, "unsigned"), (other, "not signed by this device's key")):
                status, body = post(port, slot_image(b_elf, board, "1.1.0", key=k))
                assert status == 403 and why in body["error"], body
            status, body = post(port, slot_image(b_elf, board, "1.1.0", key=key), "?reboot=1")
            assert status == 200 and body["signed"] is True, body
            t.console.expect_line(r"^boot: slot B \(test, attempt 1\)", timeout=20)
            t.console.expect_line(r"^boot: health check passed: slot B confirmed", timeout=20)
