"""Helpers of the ``cymongoose`` command: usage errors that fit on one line and suggest a
close match, named argument types, and the serial port listing of ``cymongoose ports``.

Exit status of the command: 0 success, 1 the device or a tool failed at run time, 2 the
command line is wrong (unknown board or command, missing option or file, bad value).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from .errors import DeviceError, NotAvailableError

if TYPE_CHECKING:
    from .boards import BoardMap


class UsageError(DeviceError):
    """The command line is wrong: the command exits with status 2 and one line on stderr."""


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The choices ``word`` most likely meant, best first; empty when none is close.

    Choices that start with ``word`` (``mps2`` -> ``mps2-an385``, ``mps2-an505``) win when
    there are at most three; otherwise the best difflib match, so typos (``bords``) are
    caught too."""
    options = sorted(set(choices) - {word})
    if not word or not options:
        return []
    prefixed = [c for c in options if c.startswith(word)]
    if 0 < len(prefixed) <= 3:
        return prefixed
    return difflib.get_close_matches(word, prefixed or options, n=1, cutoff=0.6)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The first of :func:`close_matches`, or None."""
    matches = close_matches(word, choices)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` (or ``X or Y``) for the close matches, or ``""``."""
    matches = close_matches(word, choices)
    if not matches:
        return ""
    said = matches[0] if len(matches) == 1 else ", ".join(matches[:-1]) + " or " + matches[-1]
    return f"; did you mean {said}?"


_INVALID_CHOICE = re.compile(r"invalid choice: '?([^'(]*?)'? \(choose from (.*)\)$")


class CliParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) that suggest a close match."""

    def error(self, message: str) -> NoReturn:
        m = _INVALID_CHOICE.search(message)
        if m:
            choices = [c.strip().strip("'\"") for c in m.group(2).split(",")]
            hint = did_you_mean(m.group(1), choices) or f" (choose from {', '.join(choices)})"
            message = message[:m.start()] + f"invalid choice {m.group(1)!r}" + hint
            message = message.replace("argument COMMAND: invalid choice", "unknown command")
        elif message.startswith("unrecognized arguments:"):
            unknown = [w for w in message.split(":", 1)[1].split() if w.startswith("-")]
            if unknown:
                message += did_you_mean(unknown[0].split("=", 1)[0], self._option_strings())
        self.exit(2, f"{self.prog}: error: {message} (try '{self.prog} --help')\n")

    def _option_strings(self) -> set[str]:
        """Every long option of this parser and its subcommands."""
        found: set[str] = set()
        stack: list[argparse.ArgumentParser] = [self]
        while stack:
            parser = stack.pop()
            for action in parser._actions:
                found.update(o for o in action.option_strings if o.startswith("--"))
                if isinstance(action, argparse._SubParsersAction):
                    stack.extend(action.choices.values())
        return found


# ---- argument types (their errors name the option: "argument --base: ...") ----------------------
def address(text: str) -> int:
    """A memory address: decimal or 0x hex."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"want an address such as 0x08000000, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"an address cannot be negative, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number > 0 (baud rates, job counts)."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"want a number above 0, got {text!r}")
    return value


def seconds(text: str) -> float:
    """A duration in seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want seconds, e.g. 2.5, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"want a number of seconds above 0, got {text!r}")
    return value


def existing_file(text: str) -> str:
    """A path to a file that exists; otherwise suggest a close name in the same directory."""
    path = Path(text)
    if path.is_file():
        return text
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    try:
        siblings = [p.name for p in path.parent.iterdir() if p.is_file()]
    except OSError:
        siblings = []
    match = closest(path.name, siblings)
    hint = f"; did you mean {path.parent / match}?" if match else ""
    raise argparse.ArgumentTypeError(f"no such file: {text}{hint}")


def check_board_name(name: str | None, bmap: BoardMap) -> None:
    """A board named on the command line must be in the board map."""
    if name is None or name in bmap.boards:
        return
    hint = did_you_mean(name, bmap.boards)
    if not hint:
        hint = f" (known boards: {', '.join(sorted(bmap.boards)) or 'none'})"
    raise UsageError(f"unknown board {name!r}{hint}")


# ---- cymongoose ports -----------------------------------------------------------------------------
@dataclass
class PortInfo:
    """One serial port of this machine, with the board map entries that name it."""

    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    description: str
    manufacturer: str | None
    hwid: str
    matches: list[str]

    @property
    def vid_pid(self) -> str | None:
        if self.vid is None or self.pid is None:
            return None
        return f"{self.vid:04x}:{self.pid:04x}"

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "vid_pid": self.vid_pid, "vid": self.vid, "pid": self.pid,
                "serial_number": self.serial_number, "description": self.description,
                "manufacturer": self.manufacturer, "hwid": self.hwid, "matches": self.matches}


def _same_device(a: str, b: str) -> bool:
    if a == b:
        return True
    if not (a.startswith("/") and b.startswith("/")):
        return False
    return os.path.realpath(a) == os.path.realpath(b)  # /dev/serial/by-id/... links


def board_matches(device: str, bmap: BoardMap) -> list[str]:
    """Which lab ports and board consoles of the board map are this device."""
    out = []
    for port in bmap.ports.values():
        if _same_device(port.url, device):
            out.append(f"port {port.name}" + (f" (board {port.board})" if port.board else ""))
    for board in bmap:
        console = board.console_port
        if console and _same_device(console, device):
            out.append(f"console of board {board.name}")
    return out


def list_ports(bmap: BoardMap) -> list[PortInfo]:
    """The serial ports pyserial sees, sorted by device name."""
    try:
        from serial.tools import list_ports as lp
    except ImportError:
        raise NotAvailableError("listing serial ports needs pyserial: "
                                "pip install 'cymongoose-sdk[device]'") from None
    ports = []
    for p in sorted(lp.comports(), key=lambda p: p.device):
        desc = p.description if p.description and p.description != "n/a" else ""
        ports.append(PortInfo(device=p.device, vid=p.vid, pid=p.pid,
                              serial_number=p.serial_number, description=desc,
                              manufacturer=p.manufacturer,
                              hwid=p.hwid if p.hwid and p.hwid != "n/a" else "",
                              matches=board_matches(p.device, bmap)))
    return ports


def junit_summary(path: str) -> dict[str, Any]:
    """Counts of a pytest JUnit XML report (all test suites added up)."""
    import xml.etree.ElementTree as ET

    counts = {"tests": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {**counts, "seconds": None, "report": None}  # pytest died before writing it
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for s in suites:
        counts["tests"] += int(s.get("tests", 0))
        counts["failed"] += int(s.get("failures", 0))
        counts["errors"] += int(s.get("errors", 0))
        counts["skipped"] += int(s.get("skipped", 0))
        seconds += float(s.get("time", 0.0))
    counts["passed"] = counts["tests"] - counts["failed"] - counts["errors"] - counts["skipped"]
    return {**counts, "seconds": round(seconds, 3), "report": path}


# ---- progress of flash and OTA ------------------------------------------------------------------
def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class RateProgress:
    """Progress of a flash or OTA phase on a terminal, esptool style: a bar, bytes, the rate and
    the time left, redrawn in place; the phase's total time when it ends. Nothing at all when
    the stream is not a terminal (logs and pipes stay clean). A ``ProgressFn``."""

    def __init__(self, stream: IO[str] | None = None, width: int = 24,
                 clock: Any = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.clock = clock
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._phase = ""
        self._start = 0.0
        self._start_done = 0
        self._last = 0.0

    def __call__(self, done: int, total: int, phase: str) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if phase != self._phase:
            self._phase, self._start, self._start_done, self._last = phase, now, done, 0.0
        final = done >= total
        if not final and now - self._last < 0.1:
            return
        self._last = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * self.width)
        elapsed = now - self._start
        moved = done - self._start_done
        rate = moved / elapsed if elapsed > 0 and moved > 0 else 0.0
        text = (f"{phase:7s} [{bar:<{self.width}s}] {frac * 100:5.1f}%  "
                f"{done / 1024:.0f}/{total / 1024:.0f} KiB")
        if rate:
            text += f"  {rate / 1024:.1f} KiB/s"
        if final:
            text += f"  in {elapsed:.1f} s"
        elif rate:
            text += f"  ETA {_clock((total - done) / rate)}"
        # \r: back to the line start; ESC [K: clear what a longer previous line left.
        self.stream.write("\r" + text + "\x1b[K" + ("\n" if final else ""))
        self.stream.flush()
