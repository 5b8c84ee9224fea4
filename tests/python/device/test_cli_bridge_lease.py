"""`cymongoose bridge` warns when the board has no DHCP lease after --lease-timeout seconds,
and says whether any frame came from it. A SLIP pty stands in for the board's serial line."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tty
import zlib

import pytest

SLIP_END = b"\xc0"


def slip_frame(frame: bytes) -> bytes:
    """The bridge's serial framing (docs/stack.md): frame + CRC-32 (little-endian), SLIP-escaped."""
    raw = frame + zlib.crc32(frame).to_bytes(4, "little")
    return SLIP_END + raw.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + SLIP_END


def bridge_stderr(feed: bytes | None) -> str:
    pytest.importorskip("cymongoose._mongoose")
    master, slave = os.openpty()
    tty.setraw(master)
    stop = threading.Event()

    def board() -> None:  # a "board" that sends one frame every 100 ms, never DHCP
        while feed is not None and not stop.is_set():
            os.write(master, slip_frame(feed))
            time.sleep(0.1)

    t = threading.Thread(target=board, daemon=True)
    t.start()
    try:
        out = subprocess.run([sys.executable, "-m", "cymongoose", "bridge", "--serial",
                              os.ttyname(slave), "--lease-timeout", "0.5", "--duration", "1.5"],
                             capture_output=True, text=True, timeout=60, check=False)
    finally:
        stop.set()
        t.join(5)
        os.close(master)
        os.close(slave)
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_silent_board_gets_a_warning_about_its_firmware() -> None:
    err = bridge_stderr(None)
    assert err.count("[warning: the board has no DHCP lease after 0.5 s; no frame came from "
                     "the board at all: does this firmware bring up a network interface?") == 1


def test_board_without_dhcp_gets_a_warning_about_dhcp() -> None:
    # A broadcast Ethernet frame of an unused EtherType, from a made-up MAC.
    frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"x" * 46
    err = bridge_stderr(frame)
    assert "[warning: the board has no DHCP lease after 0.5 s; " in err
    assert "frames came from the board, but no DHCP request we could answer" in err
