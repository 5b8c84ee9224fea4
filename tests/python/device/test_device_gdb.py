"""GDB remote protocol client: framing units, a scripted fake stub, and QEMU's real gdbstub."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from cymongoose.device.errors import GdbError, VerifyError
from cymongoose.device.flash import GdbFlasher, QemuLoader
from cymongoose.device.gdbremote import (
    GdbClient,
    checksum,
    decode_rle,
    escape_binary,
    frame,
    gdb_crc32,
    unescape_binary,
)
from cymongoose.device.image import load_image
from cymongoose.device.targets import QemuTarget
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "fw"))
from testfw_build import pad_sum


# ---- framing units ---------------------------------------------------------------------------------
def test_frame_and_checksum() -> None:
    assert frame(b"qSupported") == b"$qSupported#37"
    assert checksum(b"") == 0 and frame(b"") == b"$#00"


def test_crc_matches_the_published_check_value() -> None:
    # CRC-32/MPEG-2 (poly 0x04C11DB7, init all ones, no reflection, no final XOR) of "123456789".
    assert gdb_crc32(b"123456789") == 0x0376E6E7
    assert gdb_crc32(b"") == 0xFFFFFFFF


def test_run_length_decoding() -> None:
    assert decode_rle(b"0* ") == b"0000"  # ' ' is 32 -> 3 more repeats
    assert decode_rle(b"ab*\"c") == b"abbbbbbc"  # '"' is 34 -> 5 more
    with pytest.raises(GdbError):
        decode_rle(b"*!")
    with pytest.raises(GdbError):
        decode_rle(b"a*")


@given(st.binary(max_size=200))
def test_binary_escaping_round_trips(data: bytes) -> None:
    esc = escape_binary(data)
    assert not any(c in esc for c in b"#$*") and unescape_binary(esc) == data


# ---- a scripted fake stub ---------------------------------------------------------------------------
class FakeStub:
    """Speaks RSP on one socket with memory in a bytearray; knobs make it misbehave."""

    def __init__(self, *, size: int = 0x1000, crc: bool = False, nak_first: int = 0,
                 corrupt_replies: int = 0, rle: bool = False, silent: bool = False,
                 packet_size: int = 0x200, x_packets: bool = True) -> None:
        self.mem = bytearray(size)
        self.crc = crc
        self.nak_left = nak_first
        self.corrupt_left = corrupt_replies
        self.rle = rle
        self.silent = silent
        self.packet_size = packet_size
        self.x_packets = x_packets
        self.log: list[bytes] = []
        self.client_sock, self.sock = socket.socketpair()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def reply(self, payload: bytes) -> None:
        if self.rle and len(payload) > 8 and payload == payload[:1] * len(payload):
            payload = payload[:1] + b"*" + bytes([29 + len(payload) - 1]) if len(payload) < 98 else payload
        cs = checksum(payload)
        if self.corrupt_left:
            self.corrupt_left -= 1
            self.sock.sendall(b"$" + payload + b"#%02x" % ((cs + 1) & 0xFF))
            # the client must answer '-'; then we send it again properly
            while self.sock.recv(1) != b"-":
                pass
        self.sock.sendall(b"$" + payload + b"#%02x" % cs)

    def handle(self, p: bytes) -> bytes | None:
        if p.startswith(b"qSupported"):
            return b"PacketSize=%x;qXfer:features:read+" % self.packet_size
        if p.startswith(b"m"):
            a, n = (int(x, 16) for x in p[1:].split(b","))
            if a + n > len(self.mem):
                return b"E14"
            return self.mem[a:a + n].hex().encode()
        if p.startswith(b"X"):
            if not self.x_packets:
                return b""
            head, data = p[1:].split(b":", 1)
            a, n = (int(x, 16) for x in head.split(b","))
            data = unescape_binary(data)
            assert len(data) == n
            self.mem[a:a + n] = data
            return b"OK"
        if p.startswith(b"M"):
            head, data = p[1:].split(b":", 1)
            a, n = (int(x, 16) for x in head.split(b","))
            self.mem[a:a + n] = bytes.fromhex(data.decode())
            return b"OK"
        if p.startswith(b"qCRC:") and self.crc:
            a, n = (int(x, 16) for x in p[5:].split(b","))
            return b"C%08x" % gdb_crc32(bytes(self.mem[a:a + n]))
        if p == b"?":
            return b"S05"
        return b""

    def run(self) -> None:
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while True:
                    buf = buf.lstrip(b"+-")
                    end = buf.find(b"#")
                    if not buf.startswith(b"$") or end < 0 or len(buf) < end + 3:
                        break
                    payload, buf = buf[1:end], buf[end + 3:]
                    self.log.append(payload)
                    if self.nak_left:
                        self.nak_left -= 1
                        self.sock.sendall(b"-")
                        continue
                    self.sock.sendall(b"+")
                    if self.silent:
                        continue
                    answer = self.handle(payload)
                    if answer is not None:
                        self.reply(answer)
        except OSError:
            return

    def client(self, timeout: float = 2.0) -> GdbClient:
        c = GdbClient(self.client_sock, timeout=timeout, name="fake")
        c.handshake()
        return c

    def close(self) -> None:
        self.sock.close()


StubT = TypeVar("StubT", bound=FakeStub)


def _stubs(cls: type[StubT]) -> Iterator[Callable[..., StubT]]:
    """A factory of cls stubs for one test, each closed (both ends) after it."""
    stubs: list[StubT] = []

    def make(**kw: object) -> StubT:
        s = cls(**kw)  # type: ignore[arg-type]
        stubs.append(s)
        return s

    yield make
    for s in stubs:
        s.close()
        s.client_sock.close()


@pytest.fixture
def stub_factory() -> Iterator[Callable[..., FakeStub]]:
    yield from _stubs(FakeStub)


def test_packet_size_and_chunked_memory_io(stub_factory: Callable[..., FakeStub]) -> None:
    stub = stub_factory(packet_size=0x100)
    c = stub.client()
    assert c.packet_size == 0x100
    data = bytes(range(256)) * 8 + b"#$}*" * 50
    c.write_memory(0x10, data)
    assert stub.mem[0x10:0x10 + len(data)] == data
    assert c.read_memory(0x10, len(data)) == data
    assert max(len(p) for p in stub.log) + 4 <= 0x100  # never exceeds the announced size


def test_falls_back_to_hex_writes_without_x(stub_factory: Callable[..., FakeStub]) -> None:
    stub = stub_factory(x_packets=False)
    c = stub.client()
    c.write_memory(0, b"\x00\x7d\x23" * 100)
    assert c.has_x is False and stub.mem[:300] == b"\x00\x7d\x23" * 100
    assert any(p.startswith(b"M") for p in stub.log)


def test_retransmits_after_nak_and_bad_reply_checksum(stub_factory: Callable[..., FakeStub]) -> None:
    stub = stub_factory(nak_first=2, corrupt_replies=1)
    c = stub.client()
    stub.mem[0:4] = b"\xde\xad\xbe\xef"
    assert c.read_memory(0, 4) == b"\xde\xad\xbe\xef"
    assert c.stats["retransmits"] >= 3


def test_rle_replies_are_expanded(stub_factory: Callable[..., FakeStub]) -> None:
    stub = stub_factory(rle=True)
    c = stub.client()
    assert c.read_memory(0x100, 16) == bytes(16)  # 32 '0' characters arrive run-length encoded


def test_errors_timeouts_and_hangups(stub_factory: Callable[..., FakeStub]) -> None:
    stub = stub_factory(size=0x100)
    c = stub.client()
    with pytest.raises(GdbError, match=r"read 0x000000f0\+32: stub error E14"):
        c.read_memory(0xF0, 32)
    silent = stub_factory(silent=True)
    t0 = time.monotonic()
    with pytest.raises(GdbError, match="no reply within"):
        GdbClient(silent.client_sock, timeout=0.3).handshake()
    assert time.monotonic() - t0 < 3
    stub.close()
    with pytest.raises(GdbError, match="closed the connection|connection failed"):
        c.read_memory(0, 4)


def test_crc_is_used_for_skip_and_verify(stub_factory: Callable[..., FakeStub],
                                         testfw: Path) -> None:
    stub = stub_factory(size=0x20010, crc=True)
    img = load_image(testfw)
    img = type(img)(img.path, img.format, img.segments[:1])  # .text only: fits the fake memory
    c = stub.client()
    r = GdbFlasher(c, reset="none", run=False).flash(img)
    assert r.bytes_written == img.size and r.verify_method == "crc"
    reads_before = sum(p.startswith(b"m") for p in stub.log)
    r2 = GdbFlasher(c, reset="none", run=False).flash(img)
    assert r2.bytes_skipped == img.size and r2.bytes_written == 0
    assert sum(p.startswith(b"m") for p in stub.log) == reads_before  # CRC, not read-back
    stub.mem[0x123] ^= 0xFF
    with pytest.raises(VerifyError, match="0x00000123"):
        GdbFlasher(c, reset="none", run=False).verify(img)


# ---- against QEMU's gdbstub -------------------------------------------------------------------------
pytest_qemu = pytest.mark.qemu


@pytest_qemu
def test_flash_verify_and_boot_over_the_gdbstub(qemu: str, testfw_big: Path) -> None:
    img = load_image(testfw_big)
    progress: list[tuple[int, int, str]] = []
    with QemuTarget(None, gdb="unix", halted=True) as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as c:
            assert c.packet_size >= 1024
            r = GdbFlasher(c, run=True).flash(img, progress=lambda *a: progress.append(a))
        assert r.bytes_total == img.size > 64 * 1024
        assert r.bytes_written == img.size and r.verified
        writes = [d for d, _, ph in progress if ph == "write"]
        assert writes == sorted(writes) and writes[-1] == img.size
        assert progress[-1] == (img.size, img.size, "verify")
        # The CPU was reset onto the new vector table and runs the image we wrote.
        got = t.console.expect_line(r"pad sum=(\d+)", timeout=10).group(1)
        assert int(got) == pad_sum(64)


@pytest_qemu
def test_identical_regions_are_skipped_and_a_corrupt_byte_is_named(
        qemu: str, testfw_big: Path) -> None:
    img = load_image(testfw_big)
    with QemuTarget(testfw_big, gdb="unix", halted=True) as t, \
            GdbClient.connect_address(t.gdb) as c:
        g = GdbFlasher(c, reset="none", run=False)
        r = g.flash(img)  # QEMU loaded the same image with -kernel
        assert r.bytes_written == 0 and r.bytes_skipped == img.size
        # Corrupt one byte through the stub: verify must name that address.
        addr = img.segments[0].address + 0x8123
        orig = c.read_memory(addr, 1)[0]
        c.write_memory(addr, bytes([orig ^ 0x5A]))
        with pytest.raises(VerifyError) as info:
            g.verify(img)
        assert info.value.address == addr
        assert (info.value.expected, info.value.actual) == (orig, orig ^ 0x5A)
        assert f"0x{addr:08x}" in str(info.value)
        # Flashing again rewrites only the block holding the bad byte.
        r = g.flash(img)
        assert r.bytes_written == g.block_size and r.bytes_skipped == img.size - g.block_size
        g.verify(img)


@pytest_qemu
def test_vector_table_reset_without_monitor(qemu: str, testfw: Path) -> None:
    with QemuTarget(None, gdb="tcp", halted=True) as t:
        assert t.gdb is not None and t.gdb.port
        with GdbClient.connect_address(f"127.0.0.1:{t.gdb.port}") as c:
            GdbFlasher(c, reset="vectors").flash(load_image(testfw))
        t.console.expect_line(r"^testfw 1\.0 ready$", timeout=10)


@pytest_qemu
def test_qemu_loader_boots_and_verifies(qemu: str, testfw_big: Path) -> None:
    t = QemuTarget(None)
    try:
        r = QemuLoader(t).flash(load_image(testfw_big))
        assert r.verified and r.verify_method == "read-back" and r.backend == "qemu"
        assert int(t.console.expect_line(r"pad sum=(\d+)", timeout=10).group(1)) == pad_sum(64)
    finally:
        t.stop()


# ---- RISC-V registers -------------------------------------------------------------------------------
class RiscvStub(FakeStub):
    """A RISC-V stub as QEMU describes one (x0..x31 named by ABI, then pc as register 32),
    optionally without the 'p' packet, so register reads come from the 'g' block."""

    CPU_XML = ('<feature name="org.gnu.gdb.riscv.cpu">'
               + '<reg name="zero" bitsize="32" regnum="0"/><reg name="ra" bitsize="32"/>'
               + '<reg name="sp" bitsize="32"/>'
               + "".join(f'<reg name="x{i}" bitsize="32"/>' for i in range(3, 32))
               + '<reg name="pc" bitsize="32"/></feature>')
    TARGET_XML = ('<?xml version="1.0"?><target><architecture>riscv:rv32</architecture>'
                  '<xi:include href="riscv-32bit-cpu.xml"/></target>')

    def __init__(self, *, p_packet: bool = True, **kw: object) -> None:
        self.regs = [0x1000 + i for i in range(33)]
        self.regs[32] = 0x80000040
        self.p_packet = p_packet
        super().__init__(**kw)  # type: ignore[arg-type]

    def handle(self, p: bytes) -> bytes | None:
        if p.startswith(b"qXfer:features:read:"):
            annex, span = p[len(b"qXfer:features:read:"):].split(b":")
            off, n = (int(x, 16) for x in span.split(b","))
            doc = {b"target.xml": self.TARGET_XML,
                   b"riscv-32bit-cpu.xml": self.CPU_XML}[annex].encode()
            return (b"l" if off + n >= len(doc) else b"m") + doc[off:off + n]
        if p == b"g":
            return b"".join(r.to_bytes(4, "little").hex().encode() for r in self.regs)
        if p.startswith(b"p"):
            if not self.p_packet:
                return b""
            return self.regs[int(p[1:], 16)].to_bytes(4, "little").hex().encode()
        if p.startswith(b"P"):
            num, val = p[1:].split(b"=")
            self.regs[int(num, 16)] = int.from_bytes(bytes.fromhex(val.decode()), "little")
            return b"OK"
        return super().handle(p)


@pytest.fixture
def riscv_stub() -> Iterator[Callable[..., RiscvStub]]:
    yield from _stubs(RiscvStub)


@pytest.mark.parametrize("p_packet", [True, False], ids=["p-packet", "g-block"])
def test_riscv_register_reads_and_writes(riscv_stub: Callable[..., RiscvStub],
                                         p_packet: bool) -> None:
    s = riscv_stub(p_packet=p_packet)
    c = s.client()
    assert c.architecture() == "riscv:rv32"
    assert c.register_number("pc") == (32, 32) and c.register_number("sp") == (2, 32)
    assert len(c.read_registers()) == 33 * 4
    # pc sits after x0..x31: with 'p' refused it is cut from the 'g' block at byte 128.
    assert c.read_register_named("pc") == 0x80000040
    assert c.read_register_named("sp") == 0x1002
    c.write_register_named("pc", 0x80000000, 15)  # 15: the Arm default, not used here
    assert s.regs[32] == 0x80000000 and s.regs[15] == 0x1000 + 15
    assert any(p.startswith(b"P20=00000080") for p in s.log)


def test_riscv_image_starts_at_its_entry(riscv_stub: Callable[..., RiscvStub]) -> None:
    from cymongoose.device.image import EM_RISCV, Image, Segment

    s = riscv_stub()
    code = bytes(range(64))  # no vector table: the first words are code
    img = Image("fw.elf", "elf", (Segment(0x100, code),), entry=0x120, machine=EM_RISCV)
    GdbFlasher(s.client(), reset="vectors", run=False).flash(img)
    assert bytes(s.mem[0x100:0x140]) == code
    assert s.regs[32] == 0x120          # pc = entry
    assert s.regs[2] == 0x1002          # sp untouched (the startup code sets it)
