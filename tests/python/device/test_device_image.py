"""ELF program headers parsed with struct; BIN images; board compatibility checks."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cymongoose.device.boards import load_boards
from cymongoose.device.errors import ImageError
from cymongoose.device.image import load_image, parse_elf
from hypothesis import given, settings
from hypothesis import strategies as st

BOARD = load_boards(include_user=False).get("mps2-an385")


def make_elf(segments: list[tuple[int, int, bytes]], *, is64: bool = False, big: bool = False,
             machine: int = 40) -> bytes:
    """A minimal ELF with PT_LOAD segments (paddr, vaddr, data) and no sections."""
    bo = ">" if big else "<"
    ehdr_fmt = bo + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH")
    ph_fmt = bo + ("IIQQQQQQ" if is64 else "IIIIIIII")
    ehsize = 16 + struct.calcsize(ehdr_fmt)
    phsize = struct.calcsize(ph_fmt)
    data_off = ehsize + phsize * len(segments)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big else 1, 1]) + bytes(9)
    ehdr = struct.pack(ehdr_fmt, 2, machine, 1, 0x101, ehsize, 0, 0, ehsize, phsize,
                       len(segments), 0, 0, 0)
    phdrs = b""
    blob = b""
    for paddr, vaddr, data in segments:
        off = data_off + len(blob)
        if is64:
            phdrs += struct.pack(ph_fmt, 1, 5, off, vaddr, paddr, len(data), len(data), 4)
        else:
            phdrs += struct.pack(ph_fmt, 1, off, vaddr, paddr, len(data), len(data), 5, 4)
        blob += data
    return ident + ehdr + phdrs + blob


@pytest.mark.parametrize("is64", [False, True])
@pytest.mark.parametrize("big", [False, True])
def test_synthetic_elf_segments_at_load_addresses(is64: bool, big: bool) -> None:
    raw = make_elf([(0x2E8, 0x20000000, b"DATA"), (0x0, 0x0, b"\x01\x02\x03")], is64=is64, big=big)
    img = parse_elf(raw, "x.elf")
    assert [(s.address, s.data) for s in img.segments] == [(0x0, b"\x01\x02\x03"), (0x2E8, b"DATA")]
    assert img.entry == 0x101 and img.machine == 40 and img.size == 7


def test_real_elf_matches_readelf(testfw: Path) -> None:
    readelf = shutil.which("arm-none-eabi-readelf")
    if readelf is None:
        pytest.skip("arm-none-eabi-readelf is not installed")
    out = subprocess.run([readelf, "-lW", str(testfw)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    expected = []
    for m in re.finditer(r"^\s*LOAD\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)",
                         out, re.MULTILINE):
        off, paddr, filesz = (int(g, 16) for g in m.groups())
        if filesz:
            expected.append((paddr, testfw.read_bytes()[off:off + filesz]))
    img = load_image(testfw)
    assert [(s.address, s.data) for s in img.segments] == sorted(expected)
    assert len(img.segments) == 2  # .text at 0 and .data's load image after it
    img.check_board(BOARD)


def test_bin_images_load_at_the_first_flash_region(tmp_path: Path) -> None:
    f = tmp_path / "fw.bin"
    f.write_bytes(b"\x00\x10\x00\x20" + bytes(60))
    img = load_image(f, board=BOARD)
    assert img.format == "bin" and img.segments[0].address == 0
    assert load_image(f, base=0x1000).segments[0].address == 0x1000
    with pytest.raises(ImageError, match="needs a load address"):
        load_image(f)


def test_wrong_image_for_the_board_is_refused(tmp_path: Path) -> None:
    x86 = tmp_path / "x86.elf"
    x86.write_bytes(make_elf([(0x0, 0x0, b"abcd")], is64=True, machine=62))
    with pytest.raises(ImageError, match="built for x86-64, but board mps2-an385 has a cortex-m3"):
        load_image(x86).check_board(BOARD)
    far = tmp_path / "far.elf"
    far.write_bytes(make_elf([(0x08000000, 0x08000000, b"abcd")]))
    with pytest.raises(ImageError, match=r"0x08000000.*outside the memory of board mps2-an385"):
        load_image(far).check_board(BOARD)
    uf2 = load_boards(include_user=False).get("host")
    with pytest.raises(ImageError, match="elf images are not accepted by board host"):
        load_image(far).check_board(uf2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not an ELF"),
        (b"MZ\x90\x00" + bytes(100), "not an ELF"),
        (b"\x7fELF\x03\x01" + bytes(10), "bad ELF class"),
        (b"\x7fELF\x01\x01\x01" + bytes(20), "truncated ELF header"),
    ],
)
def test_bad_elf_headers(raw: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        parse_elf(raw)


def test_bad_program_headers() -> None:
    good = make_elf([(0, 0, b"abcd")])
    # phnum = 200 -> table beyond EOF
    bad = bytearray(good)
    struct.pack_into("<H", bad, 16 + 28, 200)
    with pytest.raises(ImageError, match="program header table out of bounds"):
        parse_elf(bytes(bad))
    with pytest.raises(ImageError, match="overlap"):
        parse_elf(make_elf([(0, 0, b"abcdefgh"), (4, 4, b"xyz")]))
    with pytest.raises(ImageError, match="no program headers"):
        nohdr = bytearray(good)
        struct.pack_into("<H", nohdr, 16 + 28, 0)
        parse_elf(bytes(nohdr))
    with pytest.raises(ImageError, match="beyond the end of the file"):
        parse_elf(good[:-2])


def test_missing_and_fake_elf_files(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read image"):
        load_image(tmp_path / "nope.elf")
    fake = tmp_path / "fake.elf"
    fake.write_text("hello")
    with pytest.raises(ImageError, match="has no ELF header"):
        load_image(fake)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_elf_never_escapes_as_anything_but_image_error(data: st.DataObject) -> None:
    raw = bytearray(make_elf([(0, 0, b"code" * 8), (0x200, 0x20000000, b"data")]))
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        img = parse_elf(bytes(raw[:cut]))
    except ImageError:
        return
    for seg in img.segments:
        assert len(seg.data) > 0 and len(seg.data) <= len(raw)


def built_images() -> list[tuple[str, Path]]:
    """(board, elf) for the images `make fw` and `cymongoose build` left in build/."""
    root = Path(__file__).resolve().parents[3] / "build"
    found = [("mps2-an385", p) for p in sorted((root / "fw").glob("*.elf"))]
    for d in sorted(root.glob("fw-*")):
        found += [(d.name[3:], p) for p in sorted(d.glob("*.elf"))]
    return found


def test_built_firmware_fits_its_board_map_entry() -> None:
    images = built_images()
    if not images:
        pytest.skip("no firmware images in build/ (make fw)")
    boards = load_boards(include_user=False)
    for board_name, elf in images:
        if board_name in boards.boards:
            load_image(elf).check_board(boards.get(board_name))


def test_riscv_board_takes_riscv_images_only(tmp_path: Path) -> None:
    rv = load_boards(include_user=False).get("riscv32-virt")
    ok = tmp_path / "rv.elf"
    ok.write_bytes(make_elf([(0x80000000, 0x80000000, b"abcd")], machine=243))
    load_image(ok).check_board(rv)  # RISC-V code in DRAM
    arm = tmp_path / "arm.elf"
    arm.write_bytes(make_elf([(0x80000000, 0x80000000, b"abcd")], machine=40))
    with pytest.raises(ImageError, match="built for ARM, but board riscv32-virt has a rv32imac"):
        load_image(arm).check_board(rv)
    with pytest.raises(ImageError, match="built for RISC-V, but board mps2-an385"):
        load_image(ok).check_board(BOARD)
