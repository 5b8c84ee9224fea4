"""mps2-an505 (Cortex-M33, ARMv8-M Mainline, firmware in the Secure state) under
qemu-system-arm: the reference firmware boots, takes a DHCP lease from QEMU user
networking, answers JSON-RPC `info` on the console and `GET /api/info` through a
forwarded port, both naming the board; and an image written through QEMU's gdbstub
(our GDB remote client) verifies and boots. Images: `make fw` (build/fw-mps2-an505,
or $MG_FW_DIR_MPS2_AN505). The full device suite runs on this board too
(tests/python/test_device_app.py)."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cymongoose.device import QemuTarget, load_boards
from cymongoose.device.errors import ImageError
from cymongoose.device.flash import GdbFlasher
from cymongoose.device.gdbremote import GdbClient
from cymongoose.device.image import load_image_for
from cymongoose.device.rpc import RpcClient
from httpsrv import curl
from mgtest import REPO, board_image

pytestmark = pytest.mark.qemu

BOARD = "mps2-an505"
GUEST_IP = "10.0.2.15"  # QEMU user networking's DHCP lease
ARTIFACTS = REPO / "artifacts" / "boards" / BOARD
BOOT_TIMEOUT = 15.0

if shutil.which("qemu-system-arm") is None:
    pytest.skip("qemu-system-arm is not installed (Debian package qemu-system-arm)",
                allow_module_level=True)


def get_info(port: int) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/info")
        r = conn.getresponse()
        assert r.status == 200 and "json" in (r.getheader("Content-Type") or "")
        return json.loads(r.read())  # type: ignore[no-any-return]
    finally:
        conn.close()


def wait_ready(t: QemuTarget) -> None:
    t.console.expect_line(rf"^cymongoose \S+ on {BOARD}: device_app$", timeout=BOOT_TIMEOUT)
    t.console.expect_line(rf"^net: ready ip={re.escape(GUEST_IP)} ", timeout=BOOT_TIMEOUT)
    t.console.expect_line(r"^http: listening on ", timeout=BOOT_TIMEOUT)


def test_device_app_boots_and_names_the_board() -> None:
    elf = board_image(BOARD, "device_app")
    with QemuTarget(elf, BOARD, nic="user", hostfwd=[80],
                    log_path=ARTIFACTS / "device_app.log") as t:
        wait_ready(t)
        rpc = RpcClient(t.console, timeout=10)
        assert rpc.wait_notification("ready", timeout=BOOT_TIMEOUT)["params"]["app"] == "device_app"
        info = rpc.call("info")
        assert info["board"] == BOARD and info["app"] == "device_app"
        st = rpc.call("net.status")
        assert st["dhcp"] is True and st["state"] == "ready" and st["ip"] == GUEST_IP
        assert st["mac"] == load_boards().get(BOARD).network["mac"]
        port = t.forwarded[80]
        body = get_info(port)
        assert body["board"] == BOARD and body["app"] == "device_app"
        assert body["features"] == ["http", "ws", "mqtt", "sntp", "rpc", "ota"]
        r = curl(f"http://127.0.0.1:{port}/api/info")
        assert r.returncode == 0, r.stderr
        again = json.loads(r.stdout)
        assert again["board"] == BOARD and again["uptime_ms"] >= body["uptime_ms"]  # type: ignore[operator]


def test_flash_and_verify_through_the_gdbstub() -> None:
    board = load_boards().get(BOARD)
    img = load_image_for(board_image(BOARD, "device_app"), board)
    # The image starts the code region of board.toml (the Secure alias of SSRAM1).
    code = board.region_of(img.segments[0].address)
    assert code is not None and code.name == board.link["code"]
    assert img.segments[0].address == code.start
    with QemuTarget(None, board, gdb="unix", halted=True, nic="user", hostfwd=[80],
                    log_path=ARTIFACTS / "gdb_flash.log") as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as c:
            r = GdbFlasher(c, run=True).flash(img)
        assert r.verified and r.bytes_written == r.bytes_total == img.size
        # Reset onto the written vector table: the image we wrote runs.
        wait_ready(t)
        assert get_info(t.forwarded[80])["board"] == BOARD


def test_stack_overflow_hits_the_armv8m_stack_limit() -> None:
    """ARMv8-M: MSPLIM guards the bottom of the main stack. With the stack pointer
    4 bytes above the limit and the CPU sent to the entry of mg_mgr_poll (whose
    prologue pushes seven registers), the push overflows it: a UsageFault STKOF
    (CFSR bit 20), reported in the crash record, exit status 125. Jumping to a
    pushing prologue makes the overflow certain; a CPU halted anywhere else could pop
    first and die of something else. (Without the limit the push lands in the heap
    and the board dies later of something else, e.g. INVSTATE.)"""
    elf = board_image(BOARD, "hello_fw")
    nm = shutil.which("arm-none-eabi-nm")
    if nm is None:
        pytest.skip("arm-none-eabi-nm is not installed")
    syms = subprocess.run([nm, str(elf)], capture_output=True, text=True, check=True).stdout
    limit = int(re.search(r"^([0-9a-f]+) \w __stack_limit$", syms, re.MULTILINE).group(1), 16)  # type: ignore[union-attr]
    poll = int(re.search(r"^([0-9a-f]+) \w mg_mgr_poll$", syms, re.MULTILINE).group(1), 16)  # type: ignore[union-attr]
    with QemuTarget(elf, BOARD, gdb="unix", log_path=ARTIFACTS / "stack_limit.log") as t:
        t.console.expect_line(rf"^cymongoose \S+ on {BOARD}$", timeout=BOOT_TIMEOUT)
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as c:  # attaching halts the CPU
            c.write_register_named("sp", limit + 4, 13)
            c.write_register_named("pc", poll & ~1, 15)
            c.detach()
        crash = t.console.wait_crash(10)  # the crash record, decoded
        assert crash.registers["cfsr"] & (1 << 20), str(crash)  # UFSR.STKOF
        assert crash.kind == "stack overflow" and "stack limit" in crash.reason
        assert t.wait(10) == 125


def test_an_mps2_an385_image_is_refused(tmp_path: Path) -> None:
    """The AN385 map (code at 0x0) is not this board's: refused before anything runs."""
    with pytest.raises(ImageError, match="outside the memory of board mps2-an505"):
        load_image_for(board_image("mps2-an385", "hello_fw"), load_boards().get(BOARD))
