"""Firmware images (docs/image-format.md) on the host: the layout agrees with
src/include/mg_image.h, pack/parse round trips, every kind of damage is caught
(tamper, wrong key, truncation, wrong board, foreign files), the ELF-to-payload rule,
the `cymongoose image` command and what OTA agrees to send. Pure Python, no QEMU."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import cymongoose.device
import pytest
from cymongoose.device import imagefmt as fmt
from cymongoose.device.boards import load_boards
from cymongoose.device.errors import ImageError, NotAvailableError
from cymongoose.device.image import parse_elf
from cymongoose.device.imagefmt import ImageFormatError, ImageVerifyError, Version
from cymongoose.device.ota import prepare_image

REPO = Path(__file__).resolve().parents[3]
MG_IMAGE_H = REPO / "src" / "include" / "mg_image.h"
PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]
BOARDS = load_boards(include_user=False)
AN385 = BOARDS.get("mps2-an385")


def make_elf(segments: list[tuple[int, bytes]], entry: int, machine: int = 40) -> bytes:
    """A 32-bit little-endian ELF with one PT_LOAD per (paddr, data)."""
    ehdr = struct.Struct("<HHIIIIIHHHHHH")
    ph = struct.Struct("<IIIIIIII")
    off = 16 + ehdr.size + ph.size * len(segments)
    head = b"\x7fELF\x01\x01\x01" + bytes(9) + ehdr.pack(
        2, machine, 1, entry, 16 + ehdr.size, 0, 0, 16 + ehdr.size, ph.size, len(segments),
        0, 0, 0)
    blob = b""
    for paddr, data in segments:
        head += ph.pack(1, off + len(blob), paddr, paddr, len(data), len(data), 5, 4)
        blob += data
    return head + blob


CODE = os.urandom(3000)
DATA = os.urandom(100)
# Code at 0, initialised data stored in flash at 0x1000 (a gap of 1096 bytes).
ELF = make_elf([(0x0, CODE), (0x1000, DATA)], entry=0x101)


def an385_image(**kwargs: object) -> bytes:
    return fmt.pack_elf(parse_elf(ELF), AN385, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any, Any]:
    pytest.importorskip("cryptography")
    a, b = fmt.generate_key(), fmt.generate_key()
    return fmt.load_private_key(a[0]), fmt.load_public_key(a[1]), fmt.load_public_key(b[1])


# ---- one source of truth ---------------------------------------------------------------------

def c_defines() -> dict[str, int]:
    out = {}
    for m in re.finditer(r"^#define (MG_IMAGE_\w+) (0x[0-9a-fA-F]+|\d+)(?:UL?)?\b", MG_IMAGE_H.read_text(),
                         re.MULTILINE):
        out[m.group(1)[len("MG_IMAGE_"):]] = int(m.group(2), 0)
    return out


def test_constants_agree_with_mg_image_h() -> None:
    c = c_defines()
    assert len(c) >= 20, sorted(c)  # the parse found the header's numbers
    for name in ("MAGIC", "FORMAT_VERSION", "HEADER_SIZE", "HEADER_MAX", "HASH_SIZE", "SIG_SIZE",
                 "TRAILER_SIZE", "PAYLOAD_FILL"):
        assert getattr(fmt, name) == c.pop(name), name
    for name, value in fmt.OFFSETS.items():
        assert value == c.pop(f"OFS_{name}"), name
    for name, value in fmt.TRAILER_OFFSETS.items():
        assert value == c.pop(f"TRAILER_OFS_{name}"), name
    for name in ("ALLOW_DOWNGRADE", "UNSIGNED", "KNOWN"):
        assert getattr(fmt, f"F_{name}") == c.pop(f"F_{name}"), name
    assert c == {}, f"mg_image.h defines numbers imagefmt.py does not check: {c}"
    # The struct the packer uses puts each field at its offset.
    assert struct.pack("<I", fmt.MAGIC) == b"CMGI"
    sizes = {"MAGIC": 4, "FORMAT": 2, "HEADER_SIZE": 2, "BOARD_ID": 4, "FLAGS": 4, "VERSION": 8,
             "LOAD_ADDR": 4, "ENTRY_ADDR": 4, "PAYLOAD_SIZE": 4, "RESERVED": 28}
    ofs = 0
    for name, size in sizes.items():
        assert fmt.OFFSETS[name] == ofs, name
        ofs += size
    assert ofs == fmt.HEADER_SIZE == fmt._HEADER.size
    assert fmt.TRAILER_SIZE == fmt.HASH_SIZE + fmt.SIG_SIZE
    # The version macro packs major.minor.patch+build with the shifts Version uses.
    macro = re.search(r"#define mg_image_version\(.*?\n\n", MG_IMAGE_H.read_text(), re.DOTALL)
    assert macro and re.findall(r"<< (\d+)", macro.group(0)) == ["56", "48", "32"]
    assert Version(1, 2, 3, 4).pack() == 1 << 56 | 2 << 48 | 3 << 32 | 4


def test_board_id_is_the_crc32_of_the_name() -> None:
    assert fmt.board_id("123456789") == 0xCBF43926  # the CRC-32 check value
    assert fmt.board_id("mps2-an385") == 0x898BED5F  # the same number tests/c/test_image.c uses
    ids = {fmt.board_id(b.name) for b in BOARDS}
    assert len(ids) == len(list(BOARDS))  # no two known boards share an id


def test_versions() -> None:
    assert Version.parse("1.4.2+17") == Version(1, 4, 2, 17)
    assert Version.parse("v2") == Version(2, 0, 0, 0) and str(Version.parse("1.2")) == "1.2.0+0"
    assert Version.unpack(Version(255, 1, 65535, 7).pack()) == Version(255, 1, 65535, 7)
    ordered = ["0.0.1", "0.1.0", "0.1.0+1", "1.0.0", "1.0.10", "1.2.0", "10.0.0"]
    packed = [Version.parse(v).pack() for v in ordered]
    assert packed == sorted(packed) and len(set(packed)) == len(packed)
    for bad, why in [("1.2.3-rc1", "MAJOR.MINOR.PATCH"), ("256.0.0", "major 256 is above 255"),
                     ("1.2.65536", "patch 65536"), ("1.0.0+4294967296", "build"), ("", "want")]:
        with pytest.raises(ValueError, match=re.escape(why)):
            Version.parse(bad)


# ---- round trips -------------------------------------------------------------------------------

def test_pack_elf_round_trip() -> None:
    data = an385_image(version="1.2.3+4", allow_downgrade=True)
    img = fmt.verify(data, board="mps2-an385")
    h = img.header
    assert (h.format, h.header_size, h.board_id) == (1, 64, 0x898BED5F)
    assert (h.load_addr, h.entry_addr, h.version) == (0, 0x101, Version(1, 2, 3, 4))
    assert h.payload_size == 0x1000 + len(DATA) and len(data) == 64 + h.payload_size + 96
    assert img.payload == CODE + b"\xff" * (0x1000 - len(CODE)) + DATA  # gap: erased flash
    assert img.allow_downgrade and not img.signed and img.signature == bytes(64)
    assert img.sha256 == hashlib.sha256(data[:64 + h.payload_size]).digest()
    assert data[:4] == b"CMGI" and data[64:64 + len(CODE)] == CODE
    fields = img.to_dict({fmt.board_id("mps2-an385"): "mps2-an385"})
    assert fields["board"] == "mps2-an385" and fields["version"] == "1.2.3+4"
    assert fields["flags"] == fmt.F_ALLOW_DOWNGRADE | fmt.F_UNSIGNED and fields["hash_ok"]
    # A padded header: the payload starts at header_size, the padding is hashed.
    padded = fmt.verify(an385_image(header_size=256))
    assert padded.header.header_size == 256 and padded.payload == img.payload
    assert len(padded.data) == len(data) + 192


def test_signed_round_trip_wrong_key_and_unsigned(keys: tuple[Any, Any, Any]) -> None:
    private, public, other = keys
    data = an385_image(key=private)
    img = fmt.verify(data, public_key=public)
    assert img.signed and any(img.signature)
    with pytest.raises(ImageVerifyError, match="bad signature"):
        fmt.verify(data, public_key=other)
    with pytest.raises(ImageVerifyError, match="is unsigned"):
        fmt.verify(an385_image(), public_key=public)
    # Without a key the hash is still checked; the signature is not.
    assert fmt.verify(data).signed


def test_tampering_is_caught(keys: tuple[Any, Any, Any]) -> None:
    private, public, _ = keys
    data = an385_image(key=private, version="1.0.0")
    end = len(data) - 96
    for at in (fmt.OFFSETS["VERSION"] + 7, fmt.OFFSETS["LOAD_ADDR"], 64, 64 + 2999, end - 1,
               end, end + 31):
        bad = bytearray(data)
        bad[at] ^= 0x01
        with pytest.raises(ImageError, match="SHA-256 mismatch|malformed|outside|entry"):
            fmt.verify(bytes(bad), public_key=public)
    # Tampered and rehashed: only the signature can tell.
    bad = bytearray(data)
    bad[100] ^= 0xFF
    bad[end:end + 32] = hashlib.sha256(bad[:end]).digest()
    assert fmt.verify(bytes(bad)).hash_ok()
    with pytest.raises(ImageVerifyError, match="bad signature"):
        fmt.verify(bytes(bad), public_key=public)
    # A flipped signature bit; an unsigned image that carries signature bytes.
    bad = bytearray(data)
    bad[-1] ^= 0x80
    with pytest.raises(ImageVerifyError, match="bad signature"):
        fmt.verify(bytes(bad), public_key=public)
    bad = bytearray(an385_image())
    bad[-5] = 1
    with pytest.raises(ImageVerifyError, match="flagged unsigned but carries a signature"):
        fmt.verify(bytes(bad))


def test_truncated_and_oversized_files() -> None:
    data = an385_image()
    for n in (0, 1, 3, 4, 63):
        with pytest.raises(ImageFormatError, match=f"truncated: {n} bytes, shorter than the "
                                                   "64-byte header"):
            fmt.parse(data[:n])
    for n in (64, 65, 1000, len(data) - 96, len(data) - 1):
        with pytest.raises(ImageFormatError, match=f"truncated: {n} bytes, the header announces"):
            fmt.parse(data[:n])
    with pytest.raises(ImageFormatError, match="3 bytes after its trailer"):
        fmt.parse(data + b"abc")


def rewrite(data: bytes, offset: int, fmt_char: str, value: int) -> bytes:
    bad = bytearray(data)
    struct.pack_into("<" + fmt_char, bad, offset, value)
    return bytes(bad)


@pytest.mark.parametrize(("field", "char", "value", "message"), [
    ("MAGIC", "I", 0x464C457F, ("is an ELF file, not a cymongoose image; pack it first: "
                               "cymongoose image pack --board BOARD")),
    ("MAGIC", "I", 0x12345678, "not a cymongoose image (bad magic 78563412"),
    ("FORMAT", "H", 2, "format version 2 is not supported"),
    ("HEADER_SIZE", "H", 62, "header size 62 is not a multiple of 4 in 64..1024"),
    ("HEADER_SIZE", "H", 2048, "header size 2048"),
    ("FLAGS", "I", 0x10, "unknown flags 0x10"),
    ("RESERVED", "I", 1, "reserved header bytes are not zero"),
    ("ENTRY_ADDR", "I", 0x2000, "entry 0x00002000 lies outside the payload"),
    ("PAYLOAD_SIZE", "I", 0, "payload of 0 bytes"),
    ("LOAD_ADDR", "I", 0xFFFFFF00, "does not fit the 32-bit address space"),
])
def test_malformed_headers(field: str, char: str, value: int, message: str) -> None:
    bad = rewrite(an385_image(), fmt.OFFSETS[field], char, value)
    with pytest.raises(ImageFormatError) as e:
        fmt.parse(bad)
    assert message in str(e.value)


def test_wrong_board() -> None:
    data = an385_image()
    with pytest.raises(ImageVerifyError, match=r"board id 0x898bed5f, not mps2-an505 \(0x45df1be5"):
        fmt.verify(data, board="mps2-an505")


# ---- the ELF-to-payload rule -------------------------------------------------------------------

def test_elf_payload_rules() -> None:
    an505, riscv = BOARDS.get("mps2-an505"), BOARDS.get("riscv32-virt")
    # A segment with file bytes in RAM cannot go into a flash image.
    elf = parse_elf(make_elf([(0x0, CODE), (0x20000000, DATA)], entry=0x101))
    with pytest.raises(ImageError, match=r"0x20000000 lies in ssram23 \(ram\): an image for "
                                         "mps2-an385 carries flash contents only"):
        fmt.elf_payload(elf, AN385)
    # The wrong board's addresses, the wrong CPU, an entry outside the bytes.
    with pytest.raises(ImageError, match="outside the memory of board mps2-an505"):
        fmt.elf_payload(parse_elf(ELF), an505)
    with pytest.raises(ImageError, match="built for RISC-V"):
        fmt.elf_payload(parse_elf(make_elf([(0, CODE)], entry=1, machine=243)), AN385)
    with pytest.raises(ImageError, match="entry point 0x5001 is not in the loaded bytes"):
        fmt.elf_payload(parse_elf(make_elf([(0, CODE)], entry=0x5001)), AN385)
    # A board whose plain images run from RAM (riscv32-virt: no link.code) takes the RAM
    # segments of such an image.
    load, entry, payload = fmt.elf_payload(
        parse_elf(make_elf([(0x80000000, CODE)], entry=0x80000000, machine=243)), riscv)
    assert (load, entry, payload) == (0x80000000, 0x80000000, CODE)
    # Its slot builds run in place from its flash (pflash0): flash bytes only, as on mps2.
    slot_a = 0x20100400
    load, entry, payload = fmt.elf_payload(parse_elf(make_elf(
        [(slot_a, CODE), (slot_a + 0x1000, DATA)], entry=slot_a, machine=243)), riscv)
    assert (load, entry, payload) == (slot_a, slot_a, CODE + b"\xff" * 1096 + DATA)
    with pytest.raises(ImageError, match=r"0x80000000 lies in dram \(ram\): an image for "
                                         "riscv32-virt carries flash contents only"):
        fmt.elf_payload(parse_elf(make_elf([(slot_a, CODE), (0x80000000, DATA)], entry=slot_a,
                                           machine=243)), riscv)
    with pytest.raises(ImageError, match="elf images are not accepted by board host"):
        fmt.elf_payload(parse_elf(ELF), BOARDS.get("host"))


# ---- what OTA sends ----------------------------------------------------------------------------

def test_ota_sends_images_only(tmp_path: Path) -> None:
    good = an385_image()
    assert prepare_image(good) == good
    assert prepare_image(good, AN385) == good
    with pytest.raises(ImageVerifyError, match="not mps2-an505"):
        prepare_image(good, BOARDS.get("mps2-an505"))
    elf = tmp_path / "fw.elf"
    elf.write_bytes(ELF)
    with pytest.raises(ImageError, match=f"{elf} is an ELF file: OTA sends firmware images; "
                                         "pack it first: cymongoose image pack --board BOARD"):
        prepare_image(elf)
    said: list[str] = []
    packed = prepare_image(elf, AN385, said.append)
    assert fmt.verify(packed, board="mps2-an385").payload == fmt.parse(good).payload
    assert fmt.parse(packed).payload.startswith(CODE)
    assert said and said[0].startswith(f"packed {elf} into an unsigned image for mps2-an385")
    with pytest.raises(ImageFormatError, match="bad magic"):
        prepare_image(os.urandom(5000))
    with pytest.raises(ImageError, match="is empty"):
        prepare_image(b"")
    corrupt = bytearray(good)
    corrupt[200] ^= 1
    with pytest.raises(ImageVerifyError, match="SHA-256 mismatch"):
        prepare_image(bytes(corrupt))


# ---- the command -------------------------------------------------------------------------------

class Out:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs `cymongoose ARGS` in this process (the command is main(argv))."""
    from cymongoose.device.cli import main

    monkeypatch.delenv("CYMONGOOSE_BOARDS", raising=False)

    def run(*args: str, cwd: Path) -> Out:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        got = capsys.readouterr()
        return Out(code, got.out, got.err)

    return run


def test_image_command(tmp_path: Path, cli: Any) -> None:
    pytest.importorskip("cryptography")
    (tmp_path / "fw.elf").write_bytes(ELF)
    out = cli("image", "keygen", "rel.key", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rel.key").stat().st_mode & 0o777 == 0o600
    assert b"PUBLIC KEY" in (tmp_path / "rel.key.pub").read_bytes()
    out = cli("image", "keygen", "rel.key", cwd=tmp_path)
    assert out.returncode == 2 and "rel.key exists (give --force" in out.stderr
    cli("image", "keygen", "other.key", cwd=tmp_path)

    out = cli("image", "pack", "--board", "mps2-an385", "--key", "rel.key", "--version",
              "2.1.0+5", "fw.elf", "-o", "fw.img", cwd=tmp_path)
    assert out.returncode == 0 and "signed" in out.stdout, out.stderr
    out = cli("image", "verify", "--key", "rel.key.pub", "--board", "mps2-an385", "fw.img",
              cwd=tmp_path)
    assert out.returncode == 0 and "signature ok" in out.stdout, out.stderr
    out = cli("image", "verify", "--key", "other.key.pub", "fw.img", cwd=tmp_path)
    assert out.returncode == 1 and "FAILED" in out.stderr and "bad signature" in out.stderr
    out = cli("image", "show", "--json", "fw.img", cwd=tmp_path)
    shown = json.loads(out.stdout)
    assert shown["board"] == "mps2-an385" and shown["version"] == "2.1.0+5" and shown["signed"]
    out = cli("image", "show", "fw.img", cwd=tmp_path)
    assert "version     2.1.0+5" in out.stdout and "(ok)" in out.stdout

    data = (tmp_path / "fw.img").read_bytes()
    (tmp_path / "cut.img").write_bytes(data[:500])
    out = cli("image", "verify", "cut.img", cwd=tmp_path)
    assert out.returncode == 1 and "cut.img is truncated: 500 bytes" in out.stderr
    out = cli("image", "show", "fw.elf", cwd=tmp_path)
    assert out.returncode == 1 and "is an ELF file" in out.stderr
    out = cli("image", "verify", "--board", "mps2-an505", "fw.img", cwd=tmp_path)
    assert out.returncode == 1 and "not mps2-an505" in out.stderr
    for args, message in [
        (("image", "pack", "--board", "mps2-an385", "fw.img", "-o", "y.img"),
         "fw.img is already a cymongoose image"),
        (("image", "pack", "--board", "mps2-an385", "cut.img", "-o", "y.img"),
         "cut.img is already a cymongoose image"),
        (("image", "pack", "--board", "mps2-an385", "rel.key", "-o", "y.img"),
         "rel.key is not an ELF file"),
        (("image", "pack", "--board", "mps2-an385", "fw.elf", "-o", "no/such/dir/y.img"),
         "cannot write no/such/dir/y.img"),
        (("image", "keygen", "no/such/dir/k"), "cannot write no/such/dir/k"),
        (("image", "pack", "--board", "mps2-an385", "--key", "rel.key.pub", "fw.elf", "-o",
          "y.img"), "rel.key.pub is not an unencrypted PEM private key"),
    ]:
        out = cli(*args, cwd=tmp_path)
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr)
    # The installed command is the same one.
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    proc = subprocess.run([sys.executable, "-m", "cymongoose", "image", "show", "fw.img"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env,
                          check=False)
    assert proc.returncode == 0 and "version     2.1.0+5" in proc.stdout, proc.stderr
    # Usage errors: exit 2, one line.
    for args, message in [
        (("image", "pack", "--board", "mps2-an38", "fw.elf", "-o", "x"), "did you mean mps2-an385"),
        (("image", "pack", "--board", "mps2-an385", "--version", "1.x", "fw.elf", "-o", "x"),
         "argument --version: version '1.x'"),
        (("image", "pack", "--board", "mps2-an385", "--header-size", "70", "fw.elf", "-o", "x"),
         "--header-size 70"),
        (("image", "verify", "nope.img"), "nope.img"),
        (("image",), "ACTION"),
    ]:
        out = cli(*args, cwd=tmp_path)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        assert len(out.stderr.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_missing_cryptography_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(NotAvailableError, match="need the 'cryptography' package"):
        fmt.generate_key()
    # Unsigned images need no cryptography.
    assert fmt.verify(an385_image()).hash_ok()
