"""Every example in docs/device.md runs: Python blocks as scripts, test files under pytest,
the TOML block through the board loader."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cymongoose.device
import pytest
from cymongoose.device.boards import load_boards
from cymongoose.device.pytest_plugin import plugin_args

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "device.md"
PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), re.MULTILINE | re.DOTALL)


def hello_fw() -> Path:
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "hello_fw.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return elf


@pytest.fixture
def workdir(tmp_path: Path, qemu: str) -> Path:
    (tmp_path / "build" / "fw").mkdir(parents=True)
    (tmp_path / "build" / "fw" / "hello_fw.elf").symlink_to(hello_fw())
    for other in ("net_fw.elf", "device_app.elf"):  # bridge and RPC examples
        elf = hello_fw().parent / other
        if elf.is_file():
            (tmp_path / "build" / "fw" / other).symlink_to(elf)
    return tmp_path


def test_doc_has_examples() -> None:
    assert len(blocks("python")) >= 4 and len(blocks("toml")) == 1


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_examples_run(workdir: Path, index: int) -> None:
    code = blocks("python")[index]
    for elf in re.findall(r"build/fw/(\w+\.elf)", code):
        if not (workdir / "build" / "fw" / elf).exists():
            pytest.skip(f"build/fw/{elf} is not built (make fw)")
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    if code.startswith("# file: "):
        name = code.split("\n", 1)[0][len("# file: "):].strip()
        (workdir / name).write_text(code)
        cmd = [sys.executable, "-m", "pytest", *plugin_args(), "-q", "-p", "no:cacheprovider",
               "--rootdir", str(workdir), "--firmware", "build/fw/hello_fw.elf", name]
    else:
        cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_toml_example_is_a_valid_board_file(tmp_path: Path) -> None:
    f = tmp_path / "boards.toml"
    f.write_text(blocks("toml")[0])
    m = load_boards([f], include_user=False)
    assert m.get("nucleo-f746zg").console_port == "rfc2217://rack1.lab:4001"
    assert m.get("my-f411").pyocd["target"] == "stm32f411re"
    assert m.resolve_port("desk-f7").board == "nucleo-f746zg"
