"""Build-only boards (no emulator runs them): the firmware apps must build
with the board's CPU flags, and the images must agree with the chip's memory
map as the board's board.toml gives it (the one place it is written): vector
table at the start of the code region, initial stack pointer at the top of
RAM, handlers at the right interrupt numbers, the Ethernet DMA area in SRAM2.

Builds into <build>/fw-<board> next to $MG_FW_DIR (default build/fw).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cymongoose.device.boards import Board, load_boards

REPO = Path(__file__).resolve().parents[2]
FW_DIR = Path(os.environ.get("MG_FW_DIR", REPO / "build" / "fw"))
# The tree's board folders: what the build below reads too.
SDK_BOARDS = load_boards(include_user=False, boards_dir=REPO / "boards")

for tool in ("arm-none-eabi-gcc", "cmake", "ninja"):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (make setup installs it)", allow_module_level=True)


@dataclass(frozen=True)
class Region:
    start: int
    size: int

    def __contains__(self, addr: int) -> bool:
        return self.start <= addr < self.start + self.size


@dataclass(frozen=True)
class BoardFacts:
    name: str
    flash: Region       # the flash region holding the image
    code_start: int     # where the vector table goes (link.code_offset into flash)
    ram: Region         # data, heap and stack (link.ram: one or more contiguous regions)
    dma_ram: Region | None
    irq_handlers: dict[int, str]  # external IRQ number -> handler symbol


def facts(name: str, irq_handlers: dict[int, str], dma_region: str | None = None) -> BoardFacts:
    """The memory facts of a board, from its board.toml."""
    board: Board = SDK_BOARDS.get(name)
    regions = {r.name: r for r in board.memory}

    def span(key: str) -> Region:
        names = board.link[key]
        names = [names] if isinstance(names, str) else names
        start, end = regions[names[0]].start, regions[names[-1]].end
        return Region(start, end - start)

    flash = span("code")
    dma = regions[dma_region] if dma_region else None
    return BoardFacts(name=name, flash=flash,
                      code_start=flash.start + int(board.link.get("code_offset", 0)),
                      ram=span("ram"), dma_ram=Region(dma.start, dma.size) if dma else None,
                      irq_handlers=irq_handlers)


# USART3 is IRQ 39, ETH is IRQ 61 (ST RM0385).
NUCLEO_F746ZG = facts("nucleo-f746zg", {39: "board_usart3_isr", 61: "board_eth_isr"}, "sram2")

EXTERNAL_IRQ_BASE = 16
APPS = ("hello_fw", "eth_probe_fw")


def build(board: BoardFacts) -> Path:
    out = FW_DIR.parent / f"fw-{board.name}"
    cfg = subprocess.run(
        ["cmake", "-S", str(REPO), "-B", str(out), "-G", "Ninja", f"-DMG_BOARD={board.name}",
         "-DCMAKE_BUILD_TYPE=MinSizeRel"],  # the toolchain comes from board.toml
        capture_output=True, text=True, timeout=120, check=False)
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    res = subprocess.run(["cmake", "--build", str(out), "-j", "2"], capture_output=True,
                         text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return out


def symbols(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms


def sizes(elf: Path) -> tuple[int, int, int]:
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return text, data, bss


@pytest.fixture(scope="module")
def nucleo_build() -> Path:
    return build(NUCLEO_F746ZG)


@pytest.mark.parametrize("app", APPS)
def test_nucleo_f746zg_image_matches_memory_map(nucleo_build: Path, app: str) -> None:
    board = NUCLEO_F746ZG
    out = nucleo_build
    elf, binary = out / f"{app}.elf", out / f"{app}.bin"
    assert elf.is_file() and binary.is_file()
    syms = symbols(elf)
    image = binary.read_bytes()
    n_vectors = EXTERNAL_IRQ_BASE + max(board.irq_handlers) + 1
    vectors = struct.unpack(f"<{n_vectors}I", image[:4 * n_vectors])

    assert syms["board_vector_table"] == board.code_start == board.flash.start
    sp, reset = vectors[0], vectors[1]
    assert sp == syms["__stack_top"] == board.ram.start + board.ram.size
    assert reset & 1, "reset vector must be a Thumb address"
    assert reset & ~1 == syms["board_reset_handler"] and (reset & ~1) in board.flash
    for irq, handler in board.irq_handlers.items():
        assert vectors[EXTERNAL_IRQ_BASE + irq] & ~1 == syms[handler], (irq, handler)

    text, data, bss = sizes(elf)
    # The size line the build prints after linking (boards/size_report.cmake).
    report = subprocess.run(
        ["cmake", "-DSIZE=arm-none-eabi-size", f"-DELF={elf}", f"-DBOARD={board.name}", "-P",
         str(REPO / "boards" / "size_report.cmake")],
        capture_output=True, text=True, check=True)
    assert (f"size {app} ({board.name}): text={text} data={data} bss={bss} "
            f"flash={text + data} ram={data + bss}") in report.stdout + report.stderr
    assert text + data <= board.flash.size
    dma_size = board.dma_ram.size if board.dma_ram else 0
    assert data + bss <= board.ram.size + dma_size  # bss counts the DMA area too
    assert syms["__heap_start"] in board.ram and syms["__heap_end"] in board.ram
    assert syms["__heap_start"] <= syms["__heap_end"]
    if "s_eth_dma" in syms:
        assert board.dma_ram is not None and syms["s_eth_dma"] in board.dma_ram
    if app == "eth_probe_fw":
        assert "s_eth_dma" in syms and "mg_driver_stm32_eth" in syms


# The first 256 bytes of the RP2040's flash are the boot2 slot (board.toml
# link.code_offset); the image proper, vector table first, follows. UART0 is
# IRQ 20. No DMA area: the W5500 keeps frames in its own buffers.
W5500_EVB_PICO = facts("w5500-evb-pico", {20: "board_uart0_isr"})
RP2040_BOOT2_SIZE = 256  # RP2040 datasheet, "Boot Sequence"


@pytest.fixture(scope="module")
def pico_build() -> Path:
    return build(W5500_EVB_PICO)


@pytest.mark.parametrize("app", ("hello_fw", "net_fw"))
def test_w5500_evb_pico_image_matches_memory_map(pico_build: Path, app: str) -> None:
    board = W5500_EVB_PICO
    elf, binary = pico_build / f"{app}.elf", pico_build / f"{app}.bin"
    assert elf.is_file() and binary.is_file()
    syms = symbols(elf)
    image = binary.read_bytes()
    # The .bin is the flash image from 0x10000000: boot2 slot, then vectors.
    assert board.code_start == board.flash.start + RP2040_BOOT2_SIZE
    assert syms["board_boot2_placeholder"] == board.flash.start
    assert syms["board_vector_table"] == board.code_start
    n_vectors = EXTERNAL_IRQ_BASE + max(board.irq_handlers) + 1
    vectors = struct.unpack_from(f"<{n_vectors}I", image, RP2040_BOOT2_SIZE)
    sp, reset = vectors[0], vectors[1]
    assert sp == syms["__stack_top"] == board.ram.start + board.ram.size
    assert reset & 1 and reset & ~1 == syms["board_reset_handler"]
    assert (reset & ~1) in board.flash
    for irq, handler in board.irq_handlers.items():
        assert vectors[EXTERNAL_IRQ_BASE + irq] & ~1 == syms[handler], (irq, handler)
    text, data, bss = sizes(elf)
    assert text + data <= board.flash.size and data + bss <= board.ram.size
    assert syms["__heap_start"] in board.ram and syms["__heap_end"] in board.ram
    assert syms["__heap_start"] <= syms["__heap_end"]
    if app == "net_fw":
        assert "mg_driver_w5500" in syms  # the real driver is linked, not a stub
    # Thumb-1 only: an ARMv7-M instruction would fault on the Cortex-M0+.
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True,
                           text=True, check=True).stdout
    assert "Tag_CPU_arch: v6S-M" in attrs or "Tag_CPU_arch: v6-M" in attrs, attrs


def test_w5500_evb_pico_sdk_board_entry_agrees(pico_build: Path) -> None:
    """The device SDK reads the board.toml the linker script came from, so
    `cymongoose` accepts both the ELF and the BIN."""
    from cymongoose.device.image import load_image

    sdk = load_boards(include_user=False).get(W5500_EVB_PICO.name)  # the installed copy
    assert sdk.memory == SDK_BOARDS.get(W5500_EVB_PICO.name).memory
    for name in ("net_fw.elf", "net_fw.bin"):
        image = load_image(pico_build / name, board=sdk)
        image.check_board(sdk)  # raises when a segment lies outside the board's memory
    assert image.segments[0].address == W5500_EVB_PICO.flash.start  # .bin starts with boot2
