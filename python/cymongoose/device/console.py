"""Console: regex ``expect`` over a device's serial console, with a session log.

One background thread drains the transport into a buffer (so a chatty device
never blocks on a full pipe) and writes every line, timestamped, to the log
file. ``expect`` and ``read_until`` consume the buffer up to the end of what
they matched, so successive calls walk forward through the output.

The reader also watches for the firmware's crash record (``*** crash ... ***``,
see :mod:`cymongoose.device.crash`): once one arrived, every wait (``expect``,
an RPC call ...) that has not found its pattern raises :class:`DeviceCrashed`
at once, with the crash decoded against ``crash_elf``, instead of timing out.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .crash import RECORD_RE
from .errors import (
    DeviceCrashed,
    DeviceError,
    DeviceHung,
    ExpectTimeoutError,
    TargetExitedError,
)
from .transport import Transport

if TYPE_CHECKING:
    from typing_extensions import Self

    from .crash import Crash
    from .hang import Hang

MAX_BUFFER = 1 << 20  # unconsumed console text kept for expect(); older text is dropped
READ_CHUNK = 4096
POLL = 0.05
EOF_GRACE = 2.0  # after EOF, how long a dying target process gets to report its exit status
CRASH_SCAN = 2048  # received text kept to find a crash record split across reads


class Console:
    """Line-oriented access to a device console.

    ``health(wait)`` is called when the transport reaches EOF (``wait`` > 0:
    how long to wait for the process to be reaped) or a wait times out;
    targets pass a function that raises :class:`TargetExitedError` (with the
    emulator's stderr) when the process behind the console has died.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        log_path: str | Path | None = None,
        name: str = "console",
        health: Callable[[float], None] | None = None,
        encoding: str = "utf-8",
        eol: str = "\n",
    ) -> None:
        self.transport = transport
        self.name = name
        self.encoding = encoding
        self.eol = eol
        self._health = health
        self._cond = threading.Condition()
        self._buf = ""  # unconsumed text
        self._tail = ""  # last few KiB ever received, for error messages
        self._eof: str | None = None
        self._closed = False
        self._t0 = time.monotonic()
        self._log: IO[str] | None = None
        self._log_partial = ""
        self._log_lock = threading.Lock()
        self.log_path: Path | None = None
        self._open_log(log_path, "started")
        self._decoder_pending = b""
        # Crash records: the first one seen (raw line), and how to decode it.
        self.crash_elf: str | Path | None = None  # firmware ELF for decoding
        self.raise_on_crash = True  # waits raise DeviceCrashed once a record arrived
        self._crash_text: str | None = None
        self._crash: Crash | None = None
        self._crash_scan = ""
        # Hangs: a wait that times out after ``hang_after`` s of silence asks
        # ``hang_probe(silence)`` (a gdbstub, see cymongoose.device.hang) where the CPU is.
        self.hang_probe: Callable[[float], Hang | None] | None = None
        self.hang_after = 2.0
        self.hang: Hang | None = None  # the last hang found
        self._last_rx = time.monotonic()
        self._thread = threading.Thread(target=self._reader, name=f"console-{name}", daemon=True)
        self._thread.start()

    # ---- background reader -------------------------------------------------------------
    def _decode(self, data: bytes) -> str:
        data = self._decoder_pending + data
        # Keep an incomplete UTF-8 sequence (at most 3 bytes) for the next chunk.
        cut = len(data)
        for back in range(1, min(4, len(data)) + 1):
            b = data[-back]
            if b & 0xC0 == 0x80:
                continue
            if b >= 0xC0:
                need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
                if need > back:
                    cut = len(data) - back
            break
        self._decoder_pending = data[cut:]
        return data[:cut].decode(self.encoding, errors="replace")

    def _reader(self) -> None:
        while not self._closed:
            try:
                data = self.transport.read(READ_CHUNK, POLL)
            except EOFError as exc:
                with self._cond:
                    self._eof = str(exc) or "closed"
                    self._cond.notify_all()
                self._log_line_event(f"[console closed: {self._eof}]")
                return
            except Exception as exc:  # noqa: BLE001 - report any transport failure as EOF
                with self._cond:
                    self._eof = f"{type(exc).__name__}: {exc}"
                    self._cond.notify_all()
                return
            if not data:
                continue
            self._last_rx = time.monotonic()
            text = self._decode(data)
            self._log_rx(text)
            with self._cond:
                self._buf += text
                if len(self._buf) > MAX_BUFFER:
                    self._buf = self._buf[-MAX_BUFFER // 2:]
                self._tail = (self._tail + text)[-8192:]
                if self._crash_text is None:
                    self._scan_crash(text)
                self._cond.notify_all()

    def _scan_crash(self, text: str) -> None:
        """Caller holds ``_cond``."""
        scan = self._crash_scan + text
        m = RECORD_RE.search(scan) if "***" in scan else None
        if m is not None:
            self._crash_text = m.group(0)
            self._crash_scan = ""
        else:
            self._crash_scan = scan[-CRASH_SCAN:]

    # ---- crashes ---------------------------------------------------------------------------
    @property
    def crash_text(self) -> str | None:
        """The first crash record received (the raw line), or None."""
        with self._cond:
            return self._crash_text

    @property
    def crash(self) -> Crash | None:
        """The first crash record received, decoded (against ``crash_elf`` if set), or None."""
        text = self.crash_text
        if text is None:
            return None
        if self._crash is None:
            self._crash = self._decode_crash(text)
        return self._crash

    def _decode_crash(self, text: str) -> Crash:
        from .crash import decode
        from .errors import NotAvailableError

        elf = self.crash_elf
        if elf is not None and str(elf).endswith(".elf") and Path(elf).is_file():
            try:
                return decode(text, elf)
            except (NotAvailableError, DeviceError) as exc:
                crash = decode(text, None)
                crash.notes.append(f"not decoded against {elf}: {exc}")
                return crash
        crash = decode(text, None)
        crash.notes.append("no firmware ELF given: addresses only")
        return crash

    def _crashed(self) -> DeviceCrashed:
        text = self.crash_text or ""
        try:
            return DeviceCrashed(self.crash, text)
        except DeviceError as exc:  # a malformed record: still say the device crashed
            return DeviceCrashed(None, text, str(exc))

    def wait_crash(self, timeout: float = 10.0) -> Crash:
        """Wait for a crash record and return it decoded (a test that crashes the
        device on purpose); raises :class:`ExpectTimeoutError` if none comes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._crash_text is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._eof is not None:
                    break
                self._cond.wait(min(left, 0.25))
            found, tail = self._crash_text is not None, self._tail
        if not found:
            raise ExpectTimeoutError("crash record", timeout, tail)
        crash = self.crash
        assert crash is not None
        return crash

    # ---- logging -------------------------------------------------------------------------
    def _open_log(self, path: str | Path | None, how: str) -> None:
        """Caller holds ``_log_lock`` (or runs before the reader thread starts)."""
        self.log_path = Path(path) if path else None
        self._log = None
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("w", encoding="utf-8", errors="replace")
            self._log.write(f"# console {self.name} via {self.transport.name}, {how} "
                            f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")

    def _close_log(self, last: str) -> None:
        """Caller holds ``_log_lock``."""
        if self._log and not self._log.closed:
            if self._log_partial:
                self._log.write(f"{self._stamp()} {self._log_partial}\n")
            self._log.write(f"{self._stamp()} {last}\n")
            self._log.close()
        self._log_partial = ""

    def set_log(self, path: str | Path | None) -> None:
        """Log to ``path`` from now on (the previous file is closed; None: stop logging).

        A console kept open across tests gives each test its own log file this way.
        """
        with self._log_lock:
            self._close_log(f"[log continues in {path}]" if path else "[log closed]")
            self._open_log(path, "continued")

    def clear(self) -> None:
        """Forget unconsumed output, the diagnostic tail and a crash seen
        (a new test starts here)."""
        with self._cond:
            self._buf = ""
            self._tail = ""
            self._crash_text = None
            self._crash = None
            self._crash_scan = ""
            self.hang = None

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self._t0:10.6f}]"

    def _log_rx(self, text: str) -> None:
        if not self._log:
            return
        with self._log_lock:  # set_log may switch or drop the file meanwhile
            log = self._log
            if log is None or log.closed:
                return
            text = self._log_partial + text.replace("\r\n", "\n").replace("\r", "\n")
            *lines, self._log_partial = text.split("\n")
            for line in lines:
                log.write(f"{self._stamp()} {line}\n")
            log.flush()

    def _log_line_event(self, what: str) -> None:
        if not self._log:
            return
        with self._log_lock:
            log = self._log
            if log is None or log.closed:
                return
            log.write(f"{self._stamp()} {what}\n")
            log.flush()

    # ---- public API ------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed or self._eof is not None

    def write(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode(self.encoding)
        if self._closed:
            raise DeviceError(f"console {self.name} is closed")
        self._log_line_event(f">>> {data.decode(self.encoding, errors='replace')!r}")
        try:
            self.transport.write(data)
        except EOFError as exc:
            self._raise_dead(str(exc))

    def send_line(self, line: str) -> None:
        """Send ``line`` followed by the console's end-of-line (``\\n`` by default)."""
        self.write(line + self.eol)

    def _raise_dead(self, why: str) -> None:
        if self._health:
            self._health(EOF_GRACE)  # raises TargetExitedError if the process behind us died
        raise TargetExitedError(f"console {self.name} closed: {why}", stderr="")

    def _wait_for(self, find: Callable[[str], tuple[int, object] | None], what: str,
                  timeout: float) -> object:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = find(self._buf)
                if found is not None:
                    end, result = found
                    self._buf = self._buf[end:]
                    return result
                crashed = self._crash_text is not None and self.raise_on_crash
                if crashed or self._eof is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.25))
            eof, tail = self._eof, self._tail
        if crashed:
            raise self._crashed()
        if eof is not None:
            if self._health:
                self._health(EOF_GRACE)
            raise TargetExitedError(
                f"console {self.name} closed while waiting for {what!r}: {eof}",
                stderr="last console output:\n" + "\n".join(tail.splitlines()[-10:]),
            )
        if self._health:
            self._health(0.0)  # a dead emulator is a better explanation than a timeout
        hang = self._probe_hang()
        if hang is not None:
            raise DeviceHung(what, timeout, tail, hang)
        raise ExpectTimeoutError(what, timeout, tail)

    @property
    def silent_for(self) -> float:
        """Seconds since the console last received anything (or since it opened)."""
        return time.monotonic() - self._last_rx

    def _probe_hang(self) -> Hang | None:
        """Where the CPU is, if the console has been silent for ``hang_after`` s and a
        probe is set; None otherwise (or when the probe could not tell)."""
        silence = self.silent_for
        if self.hang_probe is None or silence < self.hang_after:
            return None
        hang = self.hang_probe(silence)
        if hang is not None:
            self.hang = hang
        return hang

    def expect(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears; return the match (with its groups)."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern

        def find(buf: str) -> tuple[int, object] | None:
            m = rx.search(buf)
            return (m.end(), m) if m else None

        return self._wait_for(find, rx.pattern, timeout)  # type: ignore[return-value]

    def expect_line(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """Wait for a *complete* line matching ``pattern``; return the match on that line.

        Unlike :meth:`expect`, a pattern such as ``r"sum=(\\d+)"`` cannot match
        a number that is still arriving; the line is consumed with its newline.
        """
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern

        def find(buf: str) -> tuple[int, object] | None:
            pos = 0
            while True:
                nl = buf.find("\n", pos)
                if nl < 0:
                    return None
                m = rx.search(buf[pos:nl].rstrip("\r"))
                if m:
                    return nl + 1, m
                pos = nl + 1

        return self._wait_for(find, rx.pattern, timeout)  # type: ignore[return-value]

    def extract(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """Like :meth:`expect`, but removes only the matched text from the unconsumed
        output: what came before and after it stays for later ``expect`` calls.

        The JSON-RPC client takes its response frames out of the console this way, so
        log lines printed around a response are still there for ``expect_line``.
        """
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern

        def find(buf: str) -> tuple[int, object] | None:
            m = rx.search(buf)
            if m is None:
                return None
            # Called under the lock: cut the match out here; _wait_for then keeps buf[0:].
            self._buf = buf[:m.start()] + buf[m.end():]
            return 0, m

        return self._wait_for(find, rx.pattern, timeout)  # type: ignore[return-value]

    def expect_exact(self, text: str, timeout: float = 10.0) -> str:
        return self.read_until(text, timeout)[-len(text):]

    def read_until(self, marker: str, timeout: float = 10.0) -> str:
        """Return all text up to and including ``marker``."""

        def find(buf: str) -> tuple[int, object] | None:
            i = buf.find(marker)
            return (i + len(marker), buf[: i + len(marker)]) if i >= 0 else None

        return self._wait_for(find, marker, timeout)  # type: ignore[return-value]

    def read_available(self) -> str:
        """Return and consume whatever text has arrived so far."""
        with self._cond:
            text, self._buf = self._buf, ""
        return text

    @property
    def tail(self) -> str:
        """The last few KiB received (consumed or not), for diagnostics."""
        with self._cond:
            return self._tail

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Stop the reader first so it never selects on a closed (reused) fd.
        self._thread.join(timeout=2.0)
        self.transport.close()
        with self._log_lock:
            self._close_log("[console closed]")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
