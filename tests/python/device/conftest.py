"""Fixtures for the device SDK tests: test firmware built with arm-none-eabi-gcc, QEMU."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fw"))

from testfw_build import build_testfw


def need_qemu() -> None:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")


def need_arm_gcc() -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")


@pytest.fixture(scope="session")
def fw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("testfw")


@pytest.fixture(scope="session")
def testfw(fw_dir: Path) -> Path:
    """The small test firmware (banner, echo/add/exit commands, tick lines)."""
    need_arm_gcc()
    return build_testfw(fw_dir, period_ms=100)


@pytest.fixture(scope="session")
def testfw_big(fw_dir: Path) -> Path:
    """The test firmware with 64 KiB of pseudo-random rodata (prints its sum at boot)."""
    need_arm_gcc()
    return build_testfw(fw_dir, pad_kib=64, period_ms=100)


@pytest.fixture
def qemu() -> str:
    need_qemu()
    return "qemu-system-arm"
