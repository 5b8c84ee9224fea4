"""Exceptions raised by the device SDK.

Every error carries enough context to act on it without a debugger: the port
that is missing, the stderr of a QEMU that died, the last console lines seen
before a timeout, the first address that failed to verify.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base class of every error raised by :mod:`cymongoose.device`."""


class BoardError(DeviceError):
    """A board name is unknown or a board map file is malformed."""


class PortNotFoundError(DeviceError):
    """A serial port / socket to a device does not exist or refused the connection."""


class PortBusyError(PortNotFoundError):
    """A local serial port is held (locked) by another process."""


class TargetExitedError(DeviceError):
    """The target process (QEMU, host build) exited while it was needed."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = "") -> None:
        self.returncode = returncode
        self.stderr = stderr
        text = message
        if returncode is not None:
            text += f" (exit code {returncode})"
        if stderr.strip():
            text += "\n--- target stderr ---\n" + stderr.rstrip()
        super().__init__(text)


class ExpectTimeoutError(DeviceError, TimeoutError):
    """A console ``expect``/``read_until`` did not see its pattern in time."""

    def __init__(self, pattern: str, timeout: float, tail: str) -> None:
        self.pattern = pattern
        self.timeout = timeout
        self.tail = tail
        lines = tail.splitlines()[-10:]
        shown = "\n".join("  | " + ln for ln in lines) if lines else "  (nothing received)"
        super().__init__(
            f"pattern {pattern!r} not seen within {timeout:g} s; last console lines:\n{shown}"
        )


class DeviceHung(ExpectTimeoutError):
    """A console wait timed out after the device had been silent for a while, and
    its gdbstub told where the CPU was: ``hang`` is the
    :class:`cymongoose.device.hang.Hang` ("no output for N s; pc at function
    (file:line)" and a backtrace). Still an :class:`ExpectTimeoutError`."""

    def __init__(self, pattern: str, timeout: float, tail: str, hang: object) -> None:
        super().__init__(pattern, timeout, tail)
        self.hang = hang
        self.args = (f"device hung: {hang}\n{self.args[0]}",)


class FlashError(DeviceError):
    """Writing an image failed (tool missing, tool error, protocol error)."""


class VerifyError(FlashError):
    """Read-back after flashing differs from the image."""

    def __init__(self, address: int, expected: int, actual: int, region: str = "") -> None:
        self.address = address
        self.expected = expected
        self.actual = actual
        where = f" in {region}" if region else ""
        super().__init__(
            f"verify failed at 0x{address:08x}{where}: expected 0x{expected:02x}, "
            f"read 0x{actual:02x}"
        )


class ImageError(DeviceError):
    """An image file is not a valid ELF/BIN or does not fit the board."""


class GdbError(DeviceError):
    """The GDB remote stub answered with an error or broke the protocol."""


class NotAvailableError(DeviceError):
    """A feature needs machinery that is not built yet or a tool that is missing."""


class DeviceCrashed(DeviceError):
    """The device printed a crash record (a fault, a failed assert, a stack
    overflow) while the SDK waited on its console; ``crash`` is the decoded
    :class:`cymongoose.device.crash.Crash` (or None if the record could not be
    decoded, then ``record_text`` still holds the line)."""

    def __init__(self, crash: object | None, record_text: str = "", why: str = "") -> None:
        self.crash = crash
        self.record_text = record_text
        if crash is not None:
            text = f"device crashed: {crash}"
        else:
            text = f"device crashed (record not decoded: {why})\n{record_text}"
        super().__init__(text)
