"""The project's own hello_fw (built by `make fw`) driven through the SDK: dut, console, GDB flash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cymongoose.device.flash import GdbFlasher
from cymongoose.device.gdbremote import GdbClient
from cymongoose.device.image import load_image
from cymongoose.device.pytest_plugin import Dut
from cymongoose.device.targets import QemuTarget

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]


def hello_fw_path() -> Path:
    fw_dir = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw"))
    elf = fw_dir / "hello_fw.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return elf


@pytest.fixture
def dut_firmware(qemu: str) -> str:
    """Overrides the plugin's fixture: these tests always boot hello_fw."""
    return str(hello_fw_path())


def test_banner_and_ticks(dut: Dut) -> None:
    m = dut.expect_line(r"^cymongoose (\S+) on (\S+)$")
    assert m.group(2) == "mps2-an385"
    first = dut.expect_line(r"^tick (\d+) t=(\d+)$")
    second = dut.expect_line(r"^tick (\d+) t=(\d+)$")
    assert int(second.group(1)) == int(first.group(1)) + 1
    assert int(second.group(2)) > int(first.group(2))


def test_long_echo_loses_no_byte(dut: Dut) -> None:
    dut.expect_line("^cymongoose ")
    text = "".join(chr(ord("a") + i % 26) for i in range(300))
    dut.send_line(f"echo {text}")
    assert dut.expect_line(r"^echo: (\w+)$").group(1) == text


def test_exit_status_through_semihosting(dut: Dut) -> None:
    dut.expect_line("^cymongoose ")
    dut.send_line("exit 42")
    dut.expect_line("^exit 42$")
    assert isinstance(dut.target, QemuTarget)
    assert dut.target.wait(timeout=10) == 42


def test_gdb_flash_of_the_real_firmware(qemu: str) -> None:
    elf = hello_fw_path()
    img = load_image(elf)
    assert [s.address for s in img.segments][:1] == [0]
    with QemuTarget(None, gdb="unix", halted=True) as t:
        with GdbClient.connect_address(t.gdb) as c:
            r = GdbFlasher(c).flash(img)
        assert r.verified and r.bytes_written == img.size
        t.console.expect_line(r"^cymongoose \S+ on mps2-an385$", timeout=10)
        t.console.send_line("echo flashed over gdb")
        t.console.expect_line("^echo: flashed over gdb$", timeout=10)
