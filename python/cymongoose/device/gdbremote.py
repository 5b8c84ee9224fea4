"""A small client for the GDB remote serial protocol (RSP), enough to flash and verify.

Implements framing (``$data#cs``), acknowledgements and no-ack mode, run-length
decoding, binary escaping, ``qSupported`` (``PacketSize``), memory reads
(``m``), writes (``X`` with a fallback to ``M``), ``qCRC`` when the stub has it,
register reads (``p``, or the ``g`` block laid out from the target description)
and writes (``P``), ``qRcmd`` monitor commands, continue and detach. Registers
are found by name in the stub's target description; without one, the default
numbering of the architecture (Arm M-profile or RISC-V) is used.
Written from the protocol description in the GDB manual, appendix E.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import hostos
from .errors import GdbError, PortNotFoundError

if TYPE_CHECKING:
    from typing_extensions import Self

DEFAULT_TIMEOUT = 5.0
MAX_PACKET = 1 << 16  # upper bound we accept from PacketSize (and for any reply)
ESCAPED = b"#$}*"
# Register numbers of GDB's default layouts, for stubs without a target
# description: Arm M-profile (r0-r15, then xpsr at 25 in the "g" block) and
# RISC-V (x0-x31, then pc at 32; sp is x2). Sizes: 32 bits.
DEFAULT_REGISTERS: dict[str, dict[str, int]] = {
    "arm": {"sp": 13, "lr": 14, "pc": 15, "xpsr": 25},
    "riscv": {"sp": 2, "ra": 1, "pc": 32},
}
_STOP_REPLY = re.compile(rb"^[ST][0-9a-fA-F]{2}")  # "S05", "T02thread:01;": a stop reply


def checksum(payload: bytes) -> int:
    return sum(payload) & 0xFF


def escape_binary(data: bytes) -> bytes:
    """Escape ``#``, ``$``, ``}`` and ``*`` as ``}`` followed by the byte XOR 0x20."""
    out = bytearray()
    for b in data:
        if b in ESCAPED:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape_binary(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            nxt = next(it, None)
            if nxt is None:
                raise GdbError("binary data ends inside an escape")
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def decode_rle(data: bytes) -> bytes:
    """Expand ``X*n`` run-length encoding (repeat count is ``ord(n) - 29``)."""
    if b"*" not in data:
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x2A:  # '*'
            if not out or i + 1 >= len(data):
                raise GdbError("malformed run-length encoding in reply")
            count = data[i + 1] - 29
            if count < 0:
                raise GdbError("negative run length in reply")
            out += bytes((out[-1],)) * count
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#" + b"%02x" % checksum(payload)


def gdb_crc32(data: bytes, crc: int = 0xFFFFFFFF) -> int:
    """The CRC GDB's ``qCRC`` uses: polynomial 0x04C11DB7, MSB first, no final XOR."""
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


class GdbClient:
    """A synchronous RSP client over a TCP or unix socket.

    >>> with GdbClient.connect("127.0.0.1", 1234) as gdb:   # doctest: +SKIP
    ...     data = gdb.read_memory(0x0, 16)
    """

    def __init__(self, sock: socket.socket, *, timeout: float = DEFAULT_TIMEOUT,
                 name: str = "gdbstub") -> None:
        self.sock = sock
        self.name = name
        self.timeout = timeout
        self._rx = bytearray()
        self.ack_mode = True
        self.packet_size = 400  # conservative until qSupported says otherwise
        self.features: dict[str, str | bool] = {}
        self.has_x: bool | None = None
        self.has_crc: bool | None = None
        self._registers: dict[str, tuple[int, int]] | None = None
        self._architecture: str | None = None
        self.stats = {"packets": 0, "retransmits": 0, "bytes_out": 0, "bytes_in": 0}
        sock.settimeout(timeout)

    # ---- connecting ------------------------------------------------------------------------
    @classmethod
    def connect(cls, host: str, port: int, *, timeout: float = DEFAULT_TIMEOUT) -> GdbClient:
        # A stub that is just starting (e.g. QEMU a moment ago) may not listen
        # yet: retry refused connections until the timeout.
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.create_connection((host, port), timeout=timeout)
                break
            except ConnectionRefusedError as exc:
                if time.monotonic() >= deadline:
                    raise PortNotFoundError(
                        f"no gdbstub at {host}:{port}: {exc.strerror or exc}"
                    ) from None
                time.sleep(0.02)
            except OSError as exc:
                raise PortNotFoundError(
                    f"no gdbstub at {host}:{port}: {exc.strerror or exc}"
                ) from None
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = cls(s, timeout=timeout, name=f"{host}:{port}")
        client.handshake()
        return client

    @classmethod
    def connect_unix(cls, path: str, *, timeout: float = DEFAULT_TIMEOUT) -> GdbClient:
        # The socket file appears at bind(), a moment before listen(): retry
        # refused (or not yet created) sockets until the timeout.
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = hostos.unix_socket()
            except OSError as exc:
                raise PortNotFoundError(f"no gdbstub at unix:{path}: {exc.strerror}") from None
            try:
                s.connect(path)
                break
            except OSError as exc:
                s.close()
                retry = isinstance(exc, (ConnectionRefusedError, FileNotFoundError))
                if not retry or time.monotonic() >= deadline:
                    raise PortNotFoundError(
                        f"no gdbstub at unix:{path}: {exc.strerror or exc}"
                    ) from None
                time.sleep(0.02)
        client = cls(s, timeout=timeout, name=f"unix:{path}")
        client.handshake()
        return client

    @classmethod
    def connect_address(cls, address: object, *, timeout: float = DEFAULT_TIMEOUT) -> GdbClient:
        """Connect to a :class:`~cymongoose.device.targets.GdbAddress` or ``host:port``/path."""
        path = getattr(address, "path", None)
        if path:
            return cls.connect_unix(path, timeout=timeout)
        port = getattr(address, "port", None)
        if port:
            return cls.connect(getattr(address, "host", "127.0.0.1"), port, timeout=timeout)
        text = str(address)
        if text.startswith("unix:"):
            return cls.connect_unix(text[5:], timeout=timeout)
        text = text.removeprefix("tcp:")
        host, _, port_s = text.rpartition(":")
        if not port_s.isdigit():
            raise ValueError(f"gdb address must be host:port or unix:PATH, not {address!r}")
        return cls.connect(host or "127.0.0.1", int(port_s), timeout=timeout)

    def handshake(self) -> None:
        self.sock.sendall(b"+")  # harmless; some stubs wait for an initial ack
        deadline = time.monotonic() + self.timeout
        reply = self.request(b"qSupported:multiprocess-;swbreak+;hwbreak+")
        # A stub that stops a *running* target when we attach (QEMU) announces the stop
        # ("T02thread:01;") before it reads our first packet; the answer follows it.
        while _STOP_REPLY.match(reply):
            reply = self._read_packet(deadline)
        for item in reply.decode("ascii", errors="replace").split(";"):
            if not item:
                continue
            if "=" in item:
                k, v = item.split("=", 1)
                self.features[k] = v
            else:
                self.features[item.rstrip("+-?")] = item.endswith("+")
        size = self.features.get("PacketSize")
        if isinstance(size, str):
            try:
                self.packet_size = max(64, min(int(size, 16), MAX_PACKET))
            except ValueError:
                raise GdbError(f"{self.name}: bad PacketSize {size!r}") from None
        if (self.features.get("QStartNoAckMode") is True
                and self.request(b"QStartNoAckMode") == b"OK"):
            self.ack_mode = False

    # ---- framing ---------------------------------------------------------------------------
    def _recv_more(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise GdbError(f"{self.name}: no reply within {self.timeout:g} s")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise GdbError(f"{self.name}: no reply within {self.timeout:g} s") from None
        except OSError as exc:
            raise GdbError(f"{self.name}: connection failed: {exc.strerror or exc}") from None
        if not chunk:
            raise GdbError(f"{self.name}: the stub closed the connection (target exited?)")
        self.stats["bytes_in"] += len(chunk)
        self._rx += chunk

    def _read_packet(self, deadline: float) -> bytes:
        """Next complete packet payload (acks ``+`` are skipped, notifications ignored)."""
        while True:
            start = -1
            for i, b in enumerate(self._rx):
                if b == 0x24:  # '$'
                    start = i
                    break
                if b not in (0x2B, 0x2D):  # '+', '-': stray acks between packets
                    continue
            if start < 0:
                self._rx.clear()
                self._recv_more(deadline)
                continue
            end = self._rx.find(b"#", start)
            if end < 0 or len(self._rx) < end + 3:
                if len(self._rx) - start > MAX_PACKET * 2 + 16:
                    raise GdbError(f"{self.name}: reply larger than {MAX_PACKET} bytes")
                self._recv_more(deadline)
                continue
            payload = bytes(self._rx[start + 1:end])
            cs_text = bytes(self._rx[end + 1:end + 3])
            del self._rx[:end + 3]
            try:
                cs = int(cs_text, 16)
            except ValueError:
                cs = -1
            if self.ack_mode:
                if cs != checksum(payload):
                    self.stats["retransmits"] += 1
                    self.sock.sendall(b"-")
                    continue
                self.sock.sendall(b"+")
            elif cs != checksum(payload):
                raise GdbError(f"{self.name}: bad checksum in reply (no-ack mode)")
            return decode_rle(payload)

    def _wait_ack(self, deadline: float) -> bool:
        while True:
            while self._rx:
                b = self._rx[0]
                if b == 0x2B:
                    del self._rx[0]
                    return True
                if b == 0x2D:
                    del self._rx[0]
                    return False
                if b == 0x24:  # a packet without an ack: treat as acked
                    return True
                del self._rx[0]
            self._recv_more(deadline)

    def request(self, payload: bytes, *, timeout: float | None = None,
                expect_reply: bool = True) -> bytes:
        """Send one packet; return the reply payload (``b""`` = unsupported)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        packet = frame(payload)
        for _attempt in range(5):
            try:
                self.sock.sendall(packet)
            except OSError as exc:
                raise GdbError(f"{self.name}: send failed: {exc.strerror or exc}") from None
            self.stats["packets"] += 1
            self.stats["bytes_out"] += len(packet)
            if not self.ack_mode or self._wait_ack(deadline):
                break
            self.stats["retransmits"] += 1
        else:
            raise GdbError(f"{self.name}: packet rejected 5 times: {payload[:40]!r}")
        if not expect_reply:
            return b""
        return self._read_packet(deadline)

    @staticmethod
    def _check_error(reply: bytes, what: str) -> bytes:
        if len(reply) == 3 and reply[:1] == b"E":
            raise GdbError(f"{what}: stub error {reply.decode('ascii', 'replace')}")
        return reply

    # ---- memory ------------------------------------------------------------------------------
    @property
    def max_read(self) -> int:
        """Bytes per ``m`` request: hex doubles the size; leave room for framing."""
        return max(16, (self.packet_size - 8) // 2)

    @property
    def max_write_hex(self) -> int:
        return max(16, (self.packet_size - 32) // 2)

    def read_memory(self, addr: int, length: int,
                    progress: Callable[[int], None] | None = None) -> bytes:
        out = bytearray()
        while len(out) < length:
            n = min(self.max_read, length - len(out))
            a = addr + len(out)
            reply = self._check_error(
                self.request(b"m%x,%x" % (a, n)), f"read 0x{a:08x}+{n}"
            )
            if not reply or len(reply) % 2:
                raise GdbError(f"{self.name}: bad reply to memory read at 0x{a:08x}: {reply[:20]!r}")
            try:
                chunk = bytes.fromhex(reply.decode("ascii"))
            except ValueError:
                raise GdbError(f"{self.name}: non-hex memory data at 0x{a:08x}") from None
            if not chunk:
                raise GdbError(f"{self.name}: empty memory data at 0x{a:08x}")
            out += chunk[: length - len(out)]
            if progress:
                progress(len(chunk))
        return bytes(out)

    def _write_x(self, addr: int, data: bytes) -> bool:
        reply = self.request(b"X%x,%x:" % (addr, len(data)) + escape_binary(data))
        if reply == b"":
            return False
        if reply != b"OK":
            self._check_error(reply, f"write 0x{addr:08x}+{len(data)}")
            raise GdbError(f"{self.name}: unexpected reply to X: {reply[:20]!r}")
        return True

    def write_memory(self, addr: int, data: bytes,
                     progress: Callable[[int], None] | None = None) -> None:
        off = 0
        while off < len(data):
            a = addr + off
            if self.has_x is not False:
                # Worst case every byte is escaped; size chunks so the packet still fits.
                header = len(b"X%x,%x:" % (a, self.packet_size)) + 4
                budget = max(16, self.packet_size - header)
                chunk = data[off:off + budget]
                while len(escape_binary(chunk)) > budget:
                    chunk = chunk[: max(1, len(chunk) * 3 // 4)]
                ok = self._write_x(a, chunk)
                if self.has_x is None:
                    self.has_x = ok
                if ok:
                    off += len(chunk)
                    if progress:
                        progress(len(chunk))
                    continue
            chunk = data[off:off + self.max_write_hex]
            reply = self.request(b"M%x,%x:" % (a, len(chunk)) + chunk.hex().encode())
            if reply != b"OK":
                self._check_error(reply, f"write 0x{a:08x}+{len(chunk)}")
                raise GdbError(f"{self.name}: unexpected reply to M: {reply[:20]!r}")
            off += len(chunk)
            if progress:
                progress(len(chunk))

    def crc32(self, addr: int, length: int) -> int | None:
        """Target-side CRC via ``qCRC``; None when the stub does not implement it."""
        if self.has_crc is False:
            return None
        reply = self.request(b"qCRC:%x,%x" % (addr, length), timeout=max(self.timeout, 30.0))
        if not reply or reply[:1] != b"C":
            if reply[:1] == b"E" and self.has_crc:
                raise GdbError(f"{self.name}: qCRC failed: {reply.decode('ascii', 'replace')}")
            self.has_crc = False
            return None
        self.has_crc = True
        try:
            return int(reply[1:], 16)
        except ValueError:
            raise GdbError(f"{self.name}: bad qCRC reply {reply[:20]!r}") from None

    # ---- execution / registers ---------------------------------------------------------------
    def halt_reason(self) -> bytes:
        return self.request(b"?")

    def read_feature(self, annex: str = "target.xml") -> str:
        """Fetch a target description document with ``qXfer:features:read``."""
        out = bytearray()
        while True:
            reply = self.request(b"qXfer:features:read:%s:%x,%x" % (
                annex.encode(), len(out), max(64, self.packet_size - 16)))
            if not reply or reply[:1] not in (b"m", b"l"):
                self._check_error(reply, f"read {annex}")
                raise GdbError(f"{self.name}: cannot read target description {annex}")
            out += reply[1:]
            if reply[:1] == b"l" or len(out) > MAX_PACKET * 16:
                return out.decode("utf-8", errors="replace")

    def registers(self) -> dict[str, tuple[int, int]]:
        """Register name -> (number, bits), from the stub's target description.

        Reading the description also tells stubs such as QEMU's that the client
        understands its register numbering (QEMU refuses ``P`` until then).
        """
        if self._registers is not None:
            return self._registers
        regs: dict[str, tuple[int, int]] = {}
        if self.features.get("qXfer:features:read") is True:
            docs = [self.read_feature("target.xml")]
            for inc in re.findall(r'<xi:include\s+href="([^"]+)"', docs[0])[:16]:
                docs.append(self.read_feature(inc))
            num = 0
            for doc in docs:
                for attrs in re.findall(r"<reg\s([^>]*)/?>", doc):
                    kv = dict(re.findall(r'(\w+)="([^"]*)"', attrs))
                    if "regnum" in kv:
                        num = int(kv["regnum"], 0)
                    regs[kv.get("name", f"r{num}")] = (num, int(kv.get("bitsize", "32"), 0))
                    num += 1
        self._registers = regs
        return regs

    def architecture(self) -> str:
        """The stub's ``<architecture>`` (``"arm"``, ``"riscv:rv32"`` ...), "" if it has none."""
        if self._architecture is None:
            arch = ""
            if self.features.get("qXfer:features:read") is True:
                m = re.search(r"<architecture>\s*([^<\s]+)\s*</architecture>",
                              self.read_feature("target.xml"))
                arch = m.group(1) if m else ""
            self._architecture = arch
        return self._architecture

    def register_number(self, name: str, default_number: int | None = None) -> tuple[int, int]:
        """(number, bits) of register ``name``: from the target description, else from the
        default layout of the stub's architecture, else ``default_number`` (32 bits)."""
        regs = self.registers()
        if name in regs:
            return regs[name]
        family = self.architecture().split(":")[0]
        num = DEFAULT_REGISTERS.get(family, {}).get(name, default_number)
        if num is None:
            raise GdbError(f"{self.name}: no register named {name!r}")
        return num, 32

    def write_register_named(self, name: str, value: int, default_number: int) -> None:
        """Write a register found by name in the target description (or by a default number)."""
        num, bits = self.register_number(name, default_number)
        self.write_register(num, value, bits // 8)

    def read_register_named(self, name: str, default_number: int | None = None) -> int:
        """Read a register by name (see :meth:`register_number`)."""
        num, bits = self.register_number(name, default_number)
        return self.read_register(num, bits // 8)

    def read_register(self, regno: int, size: int = 4) -> int:
        """One register: the ``p`` packet, or its slice of the ``g`` block for stubs without
        ``p`` (the block holds the registers in number order, sized as described)."""
        reply = self.request(b"p%x" % regno)
        if reply and not reply.startswith(b"E"):
            raw = bytes.fromhex(reply[:size * 2].decode("ascii"))
            if len(raw) == size:
                return int.from_bytes(raw, "little")
        block = self.read_registers()
        sizes = {num: bits // 8 for num, bits in self.registers().values()}
        offset = sum(sizes.get(n, 4) for n in range(regno))
        if offset + size > len(block):
            raise GdbError(f"{self.name}: register {regno} is not in the {len(block)}-byte "
                           "'g' block")
        return int.from_bytes(block[offset:offset + size], "little")

    def write_register(self, regno: int, value: int, size: int = 4) -> None:
        raw = value.to_bytes(size, "little").hex().encode()
        reply = self.request(b"P%x=" % regno + raw)
        if reply != b"OK":
            self._check_error(reply, f"write register {regno}")
            raise GdbError(f"{self.name}: register write not supported (reply {reply[:20]!r})")

    def read_registers(self) -> bytes:
        reply = self._check_error(self.request(b"g"), "read registers")
        return bytes.fromhex(reply.decode("ascii"))

    def monitor(self, command: str) -> str:
        """Run a stub monitor command (``qRcmd``); return its console output."""
        deadline_timeout = max(self.timeout, 10.0)
        reply = self.request(b"qRcmd," + command.encode().hex().encode(), timeout=deadline_timeout)
        output = bytearray()
        deadline = time.monotonic() + deadline_timeout
        while reply[:1] == b"O" and reply != b"OK":
            output += bytes.fromhex(reply[1:].decode("ascii"))
            reply = self._read_packet(deadline)
        if reply == b"":
            raise GdbError(f"{self.name}: monitor commands not supported")
        self._check_error(reply, f"monitor {command!r}")
        return output.decode("utf-8", errors="replace")

    def cont(self) -> None:
        """Resume the target without waiting for it to stop."""
        self.request(b"c", expect_reply=False)

    def step(self) -> bytes:
        """Execute one instruction; return the stop reply. (To go on past a watchpoint,
        which stops the CPU before the store, remove it, step, and insert it again.)"""
        return self.request(b"s")

    def interrupt(self, timeout: float | None = None) -> bytes:
        """Halt a running target (the RSP break byte); return its stop reply."""
        try:
            self.sock.sendall(b"\x03")
        except OSError as exc:
            raise GdbError(f"{self.name}: send failed: {exc.strerror or exc}") from None
        return self.wait_stop(timeout)

    def wait_stop(self, timeout: float | None = None) -> bytes:
        """After :meth:`cont`: wait for the target to stop (breakpoint, watchpoint,
        interrupt); return the stop reply (``T05...``, ``S05``, ``W00`` ...)."""
        return self._read_packet(time.monotonic() + (timeout or self.timeout))

    def set_point(self, kind: int, addr: int, length: int, *, insert: bool = True) -> None:
        """Insert (``Z``) or remove (``z``) a break/watchpoint: kind 0 software and 1
        hardware breakpoint (length = instruction size, 2 for Thumb), 2 write, 3 read,
        4 access watchpoint (length in bytes)."""
        op = b"Z" if insert else b"z"
        reply = self.request(op + f"{kind},{addr:x},{length:x}".encode())
        if reply == b"":
            raise GdbError(f"{self.name}: {'Z' if insert else 'z'}{kind} not supported")
        self._check_error(reply, f"{'insert' if insert else 'remove'} point {kind} at 0x{addr:x}")

    def detach(self) -> None:
        try:
            self.request(b"D", timeout=2.0)
        except GdbError:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
