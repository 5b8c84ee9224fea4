"""The lm3s6965evb board (TI Stellaris LM3S6965, Cortex-M3) under QEMU `-M lm3s6965evb`.

Images come from `build/fw-lm3s6965evb` (or `$MG_FW_DIR_LM3S6965EVB`):

    cmake -S . -B build/fw-lm3s6965evb -G Ninja -DMG_BOARD=lm3s6965evb \\
          -DCMAKE_TOOLCHAIN_FILE=$PWD/boards/toolchain-arm-none-eabi.cmake -DCMAKE_BUILD_TYPE=MinSizeRel
    cmake --build build/fw-lm3s6965evb

What is proven with real peers: the PL011 console (banner, a 300-byte echo
through the 16-byte UART FIFO, exit status over semihosting), DHCP from QEMU
user networking through the new stellaris_enet driver, HTTP `GET /api/info`
naming the board through a forwarded port (http.client and curl), JSON-RPC
`info` on the full image, and flash + verify of an image through QEMU's gdbstub
into the ROM-mapped flash. The board runs `device_app_http` in the device suite
(64 KiB SRAM); the full `device_app` boots too and is checked here for RPC.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cymongoose.device import QemuTarget
from cymongoose.device.boards import load_boards
from cymongoose.device.errors import VerifyError
from cymongoose.device.flash import GdbFlasher
from cymongoose.device.gdbremote import GdbClient
from cymongoose.device.image import load_image

pytestmark = pytest.mark.qemu

BOARD = "lm3s6965evb"
REPO = Path(__file__).resolve().parents[3]
FW_DIR = Path(os.environ.get("MG_FW_DIR_LM3S6965EVB", REPO / "build" / f"fw-{BOARD}"))
BOOT_TIMEOUT = 15.0
GUEST_IP = "10.0.2.15"  # QEMU user networking's DHCP lease
RS = "\x1e"

if shutil.which("qemu-system-arm") is None:
    pytest.skip("qemu-system-arm is not installed (Debian package qemu-system-arm)",
                allow_module_level=True)


def image(name: str) -> Path:
    elf = FW_DIR / f"{name}.elf"
    if not elf.is_file():
        pytest.fail(f"{elf} is missing: build it with `cmake -S . -B build/fw-{BOARD} -G Ninja "
                    f"-DMG_BOARD={BOARD} -DCMAKE_TOOLCHAIN_FILE=$PWD/boards/"
                    f"toolchain-arm-none-eabi.cmake -DCMAKE_BUILD_TYPE=MinSizeRel && "
                    f"cmake --build build/fw-{BOARD}`")
    return elf


def get_info(port: int) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/info")
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def wait_ready(t: QemuTarget) -> float:
    """Seconds from now until the device has its lease and listens on HTTP."""
    t0 = time.monotonic()
    t.console.expect_line(rf"^net: ready ip={re.escape(GUEST_IP)} ", timeout=BOOT_TIMEOUT)
    t.console.expect_line(r"^http: listening on ", timeout=BOOT_TIMEOUT)
    return time.monotonic() - t0


def test_hello_fw_console_and_exit() -> None:
    with QemuTarget(image("hello_fw"), BOARD) as t:
        m = t.console.expect_line(r"^cymongoose (\S+) on (\S+)$", timeout=BOOT_TIMEOUT)
        assert m.group(2) == BOARD
        # Longer than the UART's 16-byte FIFO: the receive interrupt, the ring and
        # its flow control must carry every byte.
        text = "".join(chr(ord("a") + i % 26) for i in range(300))
        t.console.write(f"echo {text}\n")
        assert t.console.expect_line(r"^echo: (\w+)$").group(1) == text
        # SysTick at 1 kHz drives the manager's timer: ticks 100 ms apart.
        first = t.console.expect_line(r"^tick (\d+) t=(\d+)$")
        second = t.console.expect_line(r"^tick (\d+) t=(\d+)$")
        assert int(second.group(1)) == int(first.group(1)) + 1
        # The timer keeps its schedule: a tick is never early by more than half a period,
        # and the n-th tick comes at least n periods after boot (late is load, not a bug).
        assert int(second.group(2)) - int(first.group(2)) >= 50
        assert int(second.group(2)) >= 100 * int(second.group(1))
        t.console.write("exit 7\n")
        assert t.wait(10) == 7


def test_device_app_http_dhcp_and_http_api() -> None:
    with QemuTarget(image("device_app_http"), BOARD, nic="user", hostfwd=[80]) as t:
        banner = t.console.expect_line(r"^cymongoose (\S+) on (\S+): device_app$",
                                       timeout=BOOT_TIMEOUT)
        assert banner.group(2) == BOARD
        t.console.expect_line(r"^net: link up$", timeout=BOOT_TIMEOUT)
        wait_ready(t)
        port = t.forwarded[80]
        status, info = get_info(port)
        assert status == 200
        assert info["board"] == BOARD and info["ip"] == GUEST_IP
        assert info["features"] == ["http"]
        free_ram = info["free_ram"]
        sram = load_boards(include_user=False).get(BOARD).memory[-1]  # board.toml: 64 KiB
        assert sram.kind == "ram"
        assert isinstance(free_ram, int) and 16 * 1024 < free_ram < sram.size
        # A second, independent HTTP client: curl.
        if shutil.which("curl"):
            out = subprocess.run(["curl", "-sS", "-m", "10", f"http://127.0.0.1:{port}/api/info"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout
            assert json.loads(out)["board"] == BOARD
        # Several requests in a row: frames keep flowing both ways.
        for _ in range(5):
            assert get_info(port)[0] == 200


def test_full_device_app_answers_rpc_info() -> None:
    with QemuTarget(image("device_app"), BOARD, nic="user", hostfwd=[80]) as t:
        wait_ready(t)
        ready = t.console.expect_line(r"^\x1e(\{.*\})$", timeout=BOOT_TIMEOUT)
        assert json.loads(ready.group(1))["method"] == "ready"
        t.console.write(RS + '{"jsonrpc":"2.0","id":1,"method":"info"}\n')
        while True:
            frame = json.loads(t.console.expect_line(r"^\x1e(\{.*\})$", timeout=10).group(1))
            if frame.get("id") == 1:
                break
        assert frame["result"]["board"] == BOARD
        assert "rpc" in frame["result"]["features"]
        status, info = get_info(t.forwarded[80])
        assert status == 200 and info["board"] == BOARD


def test_flash_and_verify_through_the_gdbstub() -> None:
    elf = image("device_app_http")
    img = load_image(elf)
    with QemuTarget(None, BOARD, gdb="unix", halted=True, nic="user", hostfwd=[80]) as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as c:
            g = GdbFlasher(c, reset="none", run=False)
            r = g.flash(img)
            assert r.verified and r.bytes_written == img.size
            # A corrupt byte in the ROM-mapped flash is found and named.
            addr = img.segments[0].address + 0x1234
            orig = c.read_memory(addr, 1)[0]
            c.write_memory(addr, bytes([orig ^ 0xA5]))
            with pytest.raises(VerifyError) as info:
                g.verify(img)
            assert info.value.address == addr
            # Flashing again rewrites the bad block only, then the board runs it.
            r = GdbFlasher(c, run=True).flash(img)
            assert r.verified and 0 < r.bytes_written < img.size
        m = t.console.expect_line(r"^cymongoose (\S+) on (\S+): device_app$",
                                  timeout=BOOT_TIMEOUT)
        assert m.group(2) == BOARD
        wait_ready(t)
        status, body = get_info(t.forwarded[80])
        assert status == 200 and body["board"] == BOARD
