"""A board is one folder: boards/<name>/board.toml is the only place its memory map is
written. A changed region in a copy of a board folder reaches both the linker script the
firmware build generates (CMake configure) and the device SDK's Board."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cymongoose.device.boards import load_boards
from cymongoose.device.errors import BoardError

REPO = Path(__file__).resolve().parents[2]
BOARD = "mps2-an385"
RAM_LINE = '{ name = "ssram23", kind = "ram", start = 0x20000000, size = 0x00400000 }'

for tool in ("arm-none-eabi-gcc", "cmake", "ninja"):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (make setup installs it)", allow_module_level=True)


def copy_board(tmp_path: Path, ram_size: int) -> Path:
    folder = tmp_path / "boards" / BOARD
    shutil.copytree(REPO / "boards" / BOARD, folder)
    toml = folder / "board.toml"
    text = toml.read_text()
    assert RAM_LINE in text  # the region this test changes
    toml.write_text(text.replace(RAM_LINE, RAM_LINE.replace("0x00400000", f"{ram_size:#010x}")))
    return folder


def configure(board: Path | str, build: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cmake", "-S", str(REPO), "-B", str(build), "-G", "Ninja", f"-DMG_BOARD={board}",
         "-DCMAKE_BUILD_TYPE=MinSizeRel"],
        capture_output=True, text=True, timeout=120, check=False)


def ld_symbols(build: Path) -> dict[str, int]:
    text = (build / "board" / "board_memory.ld").read_text()
    pattern = re.compile(r"^(MG_\w+) = (0x[0-9a-f]+);", re.MULTILINE)
    return {m[1]: int(m[2], 16) for m in pattern.finditer(text)}


def test_changed_ram_region_reaches_the_linker_script_and_the_sdk(tmp_path: Path) -> None:
    folder = copy_board(tmp_path, 0x00200000)

    # The tree's board: 4 MiB of RAM, in the linker script and in the SDK.
    ref = configure(BOARD, tmp_path / "build-ref")
    assert ref.returncode == 0, ref.stdout + ref.stderr
    assert ld_symbols(tmp_path / "build-ref")["MG_RAM_SIZE"] == 0x00400000
    tree = load_boards(include_user=False).get(BOARD)
    assert tree.region_of(0x20000000).size == 0x00400000

    # The copy: the generated MEMORY region and the stack top follow board.toml.
    cfg = configure(folder, tmp_path / "build")
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    ld = (tmp_path / "build" / "board" / "board_memory.ld").read_text()
    assert ld_symbols(tmp_path / "build")["MG_RAM_SIZE"] == 0x00200000
    assert "RAM (rwx) : ORIGIN = MG_RAM_ORIGIN, LENGTH = MG_RAM_SIZE" in ld
    # The CPU flags and the driver come from the same file.
    facts = (tmp_path / "build" / "board" / "board_facts.cmake").read_text()
    assert "-mcpu=cortex-m3" in facts and "MG_ENABLE_DRIVER_LAN9118=1" in facts

    # The SDK: the folder given as a boards dir, and merged over the packaged boards
    # through $CYMONGOOSE_BOARDS.
    own = load_boards(include_user=False, boards_dir=tmp_path / "boards").get(BOARD)
    merged = load_boards(env={"HOME": "/nonexistent", "CYMONGOOSE_BOARDS": str(folder)})
    for board in (own, merged.get(BOARD)):
        ram = board.region_of(0x20000000)
        assert ram is not None and ram.size == 0x00200000
        assert board.region_of(0x20200000) is None  # past the smaller RAM
    assert "host" in merged.boards  # the other packaged boards stay

    # Editing board.toml re-runs the configure step on the next build.
    toml = folder / "board.toml"
    toml.write_text(toml.read_text().replace("size = 0x00200000", "size = 0x00100000"))
    regen = subprocess.run(["ninja", "-C", str(tmp_path / "build"), "build.ninja"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert regen.returncode == 0, regen.stdout + regen.stderr
    assert ld_symbols(tmp_path / "build")["MG_RAM_SIZE"] == 0x00100000


def test_bad_board_toml_fails_configure_with_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "boards" / BOARD
    shutil.copytree(REPO / "boards" / BOARD, folder)
    toml = folder / "board.toml"
    toml.write_text(toml.read_text().replace('ram = "ssram23"', 'ram = "sram9"'))
    cfg = configure(folder, tmp_path / "build")
    assert cfg.returncode != 0
    assert "link.ram names 'sram9', which is not in memory" in cfg.stderr


def test_board_toml_is_one_board(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "board.toml").write_text('[boards.x]\ncpu = "m3"\nboot = "serial"\n')
    with pytest.raises(BoardError, match="describes one board"):
        load_boards(include_user=False, boards_dir=tmp_path)


def run_facts(board_dir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "board_facts.py"),
                           str(board_dir), str(out)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_slots_in_a_flash_region_of_a_board_that_runs_from_ram(tmp_path: Path) -> None:
    """riscv32-virt runs its plain images from DRAM (no link.code) and keeps its update
    slots in pflash0 (slots.region): only the bootloader's and the slots' link maps get a
    CODE region there, and MG_TEXT (where riscv-sections.ld puts code) follows."""
    rv = REPO / "boards" / "riscv32-virt"
    res = run_facts(rv, tmp_path / "out")
    assert res.returncode == 0, res.stderr
    base = (tmp_path / "out" / "board_memory.ld").read_text()
    assert "CODE (rx)" not in base and 'REGION_ALIAS("MG_TEXT", RAM);' in base
    slot_a = (tmp_path / "out" / "slot_a" / "board_memory.ld").read_text()
    assert 'REGION_ALIAS("MG_TEXT", CODE);' in slot_a
    assert "MG_CODE_ORIGIN = 0x20100400;" in slot_a
    assert "PFLASH0 (rx)" not in slot_a  # CODE lies in it: not a second region
    boot = (tmp_path / "out" / "boot" / "board_memory.ld").read_text()
    assert "MG_CODE_ORIGIN = 0x20000000;" in boot
    facts = (tmp_path / "out" / "board_facts.cmake").read_text()
    assert "MG_BOARD_HAS_SLOTS ON" in facts and "MG_BOARD_SLOT0_START=0x20100000" in facts
    # A region that is not there, or not flash, is refused by name.
    folder = tmp_path / "boards" / "riscv32-virt"
    shutil.copytree(rv, folder)
    toml = folder / "board.toml"
    text = toml.read_text()
    for region, why in (("pflash9", "slots.region must name a memory region, got 'pflash9'"),
                        ("dram", "slots.region 'dram' is not flash")):
        toml.write_text(text.replace('region = "pflash0"', f'region = "{region}"'))
        res = run_facts(folder, tmp_path / "bad")
        assert res.returncode == 1 and why in res.stderr, res.stderr
    # Without a region, a board with no link.code has nowhere to put slots.
    toml.write_text(text.replace('region = "pflash0"\n', ""))
    res = run_facts(folder, tmp_path / "bad")
    assert res.returncode == 1 and "[slots] needs link.code or slots.region" in res.stderr
