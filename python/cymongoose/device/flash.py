"""Flash and verify: one interface, several backends.

* :class:`GdbFlasher` - our own GDB remote protocol client: writes an image's
  segments block by block, skipping blocks whose contents already match, then
  verifies by ``qCRC`` when the stub has it or by reading back.
* :class:`QemuLoader` - (re)boots a :class:`~cymongoose.device.targets.QemuTarget`
  with ``-kernel IMAGE`` and verifies the loaded memory over its gdbstub.
* :class:`OpenOcdFlasher` - runs ``openocd -c "program FILE verify reset exit"``.
* :class:`PyOcdFlasher` - runs ``pyocd flash``, then reads the memory back with
  ``pyocd commander -c "savemem ..."`` and compares it here.

Verification is on by default; a mismatch raises :class:`VerifyError` naming
the first differing address.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .boards import Board
from .errors import FlashError, GdbError, NotAvailableError, VerifyError
from .gdbremote import GdbClient, gdb_crc32
from .image import EM_RISCV, Image, Segment

ProgressFn = Callable[[int, int, str], None]  # (done bytes, total bytes, phase)
DEFAULT_BLOCK = 4096
TOOL_TIMEOUT = 300.0


@dataclass
class FlashResult:
    backend: str
    image: str
    bytes_total: int
    bytes_written: int
    bytes_skipped: int
    verified: bool
    verify_method: str
    seconds: float
    log: list[str] = field(default_factory=list)

    def summary(self) -> str:
        v = f"verified ({self.verify_method})" if self.verified else "NOT verified"
        return (
            f"{self.backend}: {self.bytes_total} bytes, {self.bytes_written} written, "
            f"{self.bytes_skipped} already identical, {v}, {self.seconds:.2f} s"
        )


def first_difference(expected: bytes, actual: bytes) -> int | None:
    """Offset of the first differing byte (or of a length difference), or None."""
    if expected == actual:
        return None
    n = min(len(expected), len(actual))
    # Halve the range until the first difference is isolated (fast on big blocks).
    lo, hi = 0, n
    if expected[:n] == actual[:n]:
        return n
    while hi - lo > 64:
        mid = (lo + hi) // 2
        if expected[lo:mid] != actual[lo:mid]:
            hi = mid
        else:
            lo = mid
    for i in range(lo, hi):
        if expected[i] != actual[i]:
            return i
    return n  # pragma: no cover - unreachable: the slices differ


def compare(expected: bytes, actual: bytes, address: int, region: str = "") -> None:
    """Raise :class:`VerifyError` at the first differing address."""
    off = first_difference(expected, actual)
    if off is None:
        return
    exp = expected[off] if off < len(expected) else -1
    act = actual[off] if off < len(actual) else -1
    if exp < 0 or act < 0:
        raise FlashError(
            f"verify failed at 0x{address + off:08x}{' in ' + region if region else ''}: "
            f"read {len(actual)} bytes, expected {len(expected)}"
        )
    raise VerifyError(address + off, exp, act, region)


class TtyProgress:
    """A one-line progress bar on a terminal (silent when the stream is not a TTY)."""

    def __init__(self, stream: IO[str] | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._phase = ""

    def __call__(self, done: int, total: int, phase: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = done >= total
        if not final and phase == self._phase and now - self._last < 0.05:
            return
        self._last, self._phase = now, phase
        frac = done / total if total else 1.0
        bar = "#" * int(frac * self.width)
        self.stream.write(
            f"\r{phase:8s} [{bar:<{self.width}s}] {frac * 100:5.1f}% "
            f"{done // 1024}/{total // 1024} KiB"
        )
        if final:
            self.stream.write("\n")
        self.stream.flush()


class FlashBackend(ABC):
    name = "backend"

    @abstractmethod
    def flash(self, image: Image, *, verify: bool = True,
              progress: ProgressFn | None = None) -> FlashResult:
        """Write ``image``; verify it unless ``verify=False``."""


# ---- GDB remote protocol ------------------------------------------------------------------------
class GdbFlasher(FlashBackend):
    """Flash through a GDB stub (QEMU's, OpenOCD's, a probe's) with our own RSP client.

    ``reset``: after writing, "monitor" runs ``monitor system_reset`` (QEMU; the
    CPU re-reads its vector table from the new image), "vectors" starts the
    image without a reset: SP/PC from its Cortex-M vector table, or PC = the
    ELF entry point for a RISC-V image (its startup code sets SP); "none"
    leaves the CPU alone.
    ``run``: detach afterwards so the target runs.
    """

    name = "gdb"

    def __init__(self, client: GdbClient, *, block_size: int = DEFAULT_BLOCK,
                 skip_identical: bool = True, reset: str = "monitor", run: bool = True) -> None:
        if reset not in ("monitor", "vectors", "none"):
            raise ValueError(f"reset must be monitor, vectors or none, not {reset!r}")
        self.client = client
        self.block_size = block_size
        self.skip_identical = skip_identical
        self.reset = reset
        self.run = run

    def _blocks(self, image: Image) -> list[tuple[int, bytes]]:
        out = []
        for seg in image.segments:
            for off in range(0, len(seg.data), self.block_size):
                out.append((seg.address + off, seg.data[off:off + self.block_size]))
        return out

    def _same(self, addr: int, data: bytes) -> tuple[bool, str]:
        crc = self.client.crc32(addr, len(data))
        if crc is not None:
            return crc == gdb_crc32(data), "crc"
        return self.client.read_memory(addr, len(data)) == data, "read-back"

    def flash(self, image: Image, *, verify: bool = True,
              progress: ProgressFn | None = None) -> FlashResult:
        t0 = time.monotonic()
        blocks = self._blocks(image)
        total = image.size
        written = skipped = done = 0
        dirty: list[tuple[int, bytes]] = []
        for addr, data in blocks:
            if self.skip_identical and self._same(addr, data)[0]:
                skipped += len(data)
            else:
                self.client.write_memory(addr, data)
                written += len(data)
                dirty.append((addr, data))
            done += len(data)
            if progress:
                progress(done, total, "write")
        method = "none"
        if verify:
            # Blocks found identical were compared already; check what we wrote.
            method = self._verify_blocks(dirty, total, skipped, progress)
            if not dirty:
                method = "crc" if self.client.has_crc else "read-back"
        if self.reset != "none":
            self.start(image)
        if self.run:
            self.client.detach()
        return FlashResult(self.name, image.path, total, written, skipped, verify, method,
                           time.monotonic() - t0)

    def _verify_blocks(self, blocks: Sequence[tuple[int, bytes]], total: int, done: int,
                       progress: ProgressFn | None) -> str:
        method = "read-back"
        for addr, data in blocks:
            crc = self.client.crc32(addr, len(data))
            if crc is not None:
                method = "crc"
                if crc == gdb_crc32(data):
                    done += len(data)
                    if progress:
                        progress(done, total, "verify")
                    continue
                # The CRC says "different"; read back to name the address.
            actual = self.client.read_memory(addr, len(data))
            compare(data, actual, addr)
            if crc is not None:
                raise FlashError(f"qCRC mismatch at 0x{addr:08x} but read-back matches")
            done += len(data)
            if progress:
                progress(done, total, "verify")
        return method

    def verify(self, image: Image, progress: ProgressFn | None = None) -> str:
        """Compare the whole image with target memory; raise VerifyError on a mismatch."""
        return self._verify_blocks(self._blocks(image), image.size, 0, progress)

    def start(self, image: Image) -> None:
        if self.reset == "monitor":
            try:
                self.client.monitor("system_reset")
                return
            except GdbError:
                pass  # no monitor: fall back to the vector table
        if image.machine == EM_RISCV:
            if image.entry is None:
                raise FlashError("cannot start a RISC-V image without an entry point")
            self.client.write_register_named("pc", image.entry, 32)
            return
        vectors = _vector_table(image)
        if vectors is None:
            raise FlashError("cannot reset: no monitor command and no vector table at address 0")
        sp, pc = vectors
        # Numbers are the ARM M-profile defaults when the stub has no description.
        self.client.write_register_named("sp", sp, 13)
        self.client.write_register_named("pc", pc & ~1, 15)
        self.client.write_register_named("xpsr", 1 << 24, 25)  # Thumb bit set


def _vector_table(image: Image) -> tuple[int, int] | None:
    """Initial SP and reset PC from a Cortex-M vector table at the lowest address."""
    seg: Segment = image.segments[0]
    if len(seg.data) < 8:
        return None
    return int.from_bytes(seg.data[0:4], "little"), int.from_bytes(seg.data[4:8], "little")


# ---- QEMU loader -----------------------------------------------------------------------------------
class QemuLoader(FlashBackend):
    """"Flash" an emulated board: boot its QemuTarget with ``-kernel IMAGE``.

    With ``verify`` the emulator starts halted with a gdbstub; the loaded
    memory is read back and compared before the CPU is released.
    """

    name = "qemu"

    def __init__(self, target: object) -> None:
        from .targets import QemuTarget

        if not isinstance(target, QemuTarget):
            raise TypeError("QemuLoader needs a QemuTarget")
        self.target = target

    def flash(self, image: Image, *, verify: bool = True,
              progress: ProgressFn | None = None) -> FlashResult:
        t0 = time.monotonic()
        t = self.target
        t.stop()
        t.firmware = Path(image.path)
        if verify:
            t.gdb_mode = t.gdb_mode or "unix"
            t.halted = True
        t.start()
        method = "none"
        if verify:
            assert t.gdb is not None
            with GdbClient.connect_address(t.gdb) as client:
                g = GdbFlasher(client, reset="none", run=False)
                method = g.verify(image, progress)
                client.detach()  # releases the halted CPU
            t.halted = False
        elif progress:
            progress(image.size, image.size, "load")
        return FlashResult(self.name, image.path, image.size, image.size, 0, verify, method,
                           time.monotonic() - t0)


# ---- external tools ----------------------------------------------------------------------------------
def _run_tool(argv: list[str], timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    exe = argv[0]
    if shutil.which(exe) is None:
        raise NotAvailableError(f"{what} needs {exe!r}, which is not on PATH")
    try:
        return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stderr or "") if isinstance(exc.stderr, str) else ""
        raise FlashError(
            f"{what}: {exe} did not finish within {timeout:g} s; last output:\n"
            + _tail(out)
        ) from None
    except OSError as exc:
        raise FlashError(f"{what}: cannot run {exe}: {exc.strerror}") from None


def _tail(text: str, n: int = 12) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()][-n:]
    return "\n".join("  | " + ln for ln in lines) or "  (no output)"


def _tool_image_file(image: Image, tmp: Path) -> tuple[str, int | None]:
    """The file to give a tool: the original ELF, or the BIN plus its base address."""
    if image.format == "elf":
        return image.path, None
    return image.path, image.segments[0].address


class OpenOcdFlasher(FlashBackend):
    """``openocd <board config> -c "program FILE [ADDR] [verify] reset exit"``."""

    name = "openocd"
    VERIFY_FAIL = re.compile(
        r"diff\s+\d+\s+address\s+(0x[0-9a-fA-F]+)\.\s+Was\s+(0x[0-9a-fA-F]+)\s+instead of\s+"
        r"(0x[0-9a-fA-F]+)"
    )

    def __init__(self, board: Board | None = None, *, args: Sequence[str] | None = None,
                 openocd: str = "openocd", timeout: float = TOOL_TIMEOUT) -> None:
        cfg = list(args) if args is not None else list((board.openocd if board else {}).get("args", []))
        if not cfg:
            raise FlashError("openocd needs configuration arguments (board [openocd] args)")
        self.args = [str(a) for a in cfg]
        self.exe = openocd
        self.timeout = timeout

    def command(self, image: Image, verify: bool = True) -> list[str]:
        path, base = _tool_image_file(image, Path("."))
        words = ["program", "{" + path + "}"]
        if base is not None:
            words.append(f"0x{base:08x}")
        if verify:
            words.append("verify")
        words += ["reset", "exit"]
        return [self.exe, *self.args, "-c", " ".join(words)]

    def flash(self, image: Image, *, verify: bool = True,
              progress: ProgressFn | None = None) -> FlashResult:
        t0 = time.monotonic()
        argv = self.command(image, verify)
        proc = _run_tool(argv, self.timeout, "openocd flash")
        text = proc.stdout + proc.stderr
        m = self.VERIFY_FAIL.search(text)
        if m:
            raise VerifyError(int(m.group(1), 16), int(m.group(3), 16), int(m.group(2), 16))
        if "Verify Failed" in text:
            raise FlashError("openocd: verify failed:\n" + _tail(text))
        if proc.returncode != 0:
            raise FlashError(f"openocd exited with code {proc.returncode}:\n" + _tail(text))
        if verify and "Verified OK" not in text:
            raise FlashError("openocd finished without reporting 'Verified OK':\n" + _tail(text))
        if progress:
            progress(image.size, image.size, "write")
        return FlashResult(self.name, image.path, image.size, image.size, 0, verify,
                           "openocd verify" if verify else "none", time.monotonic() - t0,
                           log=text.splitlines())


class PyOcdFlasher(FlashBackend):
    """``pyocd flash -t TARGET FILE``; verify by ``pyocd commander -c "savemem ..."`` read-back."""

    name = "pyocd"

    def __init__(self, board: Board | None = None, *, target: str | None = None,
                 pyocd: str = "pyocd", extra_args: Sequence[str] = (),
                 timeout: float = TOOL_TIMEOUT) -> None:
        tgt = target or (board.pyocd if board else {}).get("target")
        if not tgt:
            raise FlashError("pyocd needs a target name (board [pyocd] target)")
        self.target = str(tgt)
        self.exe = pyocd
        self.extra = [str(a) for a in extra_args]
        self.timeout = timeout

    def command(self, image: Image) -> list[str]:
        argv = [self.exe, "flash", "-t", self.target, *self.extra]
        path, base = _tool_image_file(image, Path("."))
        if base is not None:
            argv += ["--base-address", f"0x{base:08x}"]
        return argv + [path]

    def readback_command(self, image: Image, files: Sequence[str]) -> list[str]:
        argv = [self.exe, "commander", "-t", self.target, *self.extra]
        for seg, f in zip(image.segments, files):
            argv += ["-c", f"savemem 0x{seg.address:08x} {len(seg.data)} {f}"]
        return argv

    def flash(self, image: Image, *, verify: bool = True,
              progress: ProgressFn | None = None) -> FlashResult:
        t0 = time.monotonic()
        proc = _run_tool(self.command(image), self.timeout, "pyocd flash")
        log = (proc.stdout + proc.stderr).splitlines()
        if proc.returncode != 0:
            raise FlashError(
                f"pyocd flash exited with code {proc.returncode}:\n"
                + _tail(proc.stdout + proc.stderr)
            )
        if progress:
            progress(image.size, image.size, "write")
        if verify:
            with tempfile.TemporaryDirectory(prefix="cmg-pyocd-") as tmp:
                files = [os.path.join(tmp, f"seg{i}.bin") for i in range(len(image.segments))]
                rb = _run_tool(self.readback_command(image, files), self.timeout, "pyocd read-back")
                log += (rb.stdout + rb.stderr).splitlines()
                if rb.returncode != 0:
                    raise FlashError(
                        f"pyocd read-back exited with code {rb.returncode}:\n"
                        + _tail(rb.stdout + rb.stderr)
                    )
                for seg, f in zip(image.segments, files):
                    try:
                        actual = Path(f).read_bytes()
                    except OSError:
                        raise FlashError(f"pyocd read-back produced no file for 0x{seg.address:08x}") from None
                    compare(seg.data, actual, seg.address)
            if progress:
                progress(image.size, image.size, "verify")
        return FlashResult(self.name, image.path, image.size, image.size, 0, verify,
                           "read-back" if verify else "none", time.monotonic() - t0, log=log)


def get_flasher(name: str, board: Board, **kwargs: object) -> FlashBackend:
    """A backend by name for ``board`` (``gdb`` needs ``client=``, ``qemu`` needs ``target=``)."""
    if name == "openocd":
        return OpenOcdFlasher(board, **kwargs)  # type: ignore[arg-type]
    if name == "pyocd":
        return PyOcdFlasher(board, **kwargs)  # type: ignore[arg-type]
    if name == "gdb":
        client = kwargs.pop("client", None)
        if not isinstance(client, GdbClient):
            raise FlashError("the gdb backend needs a connected GdbClient (client=...)")
        return GdbFlasher(client, **kwargs)  # type: ignore[arg-type]
    if name == "qemu":
        return QemuLoader(kwargs["target"])
    raise FlashError(f"unknown flash backend {name!r} (known: qemu, gdb, openocd, pyocd)")
