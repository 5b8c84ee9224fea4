"""Attaching our GDB client to a board that is already running (a labgrid place's QEMU,
a probe on a live board): the stub stops the CPU and announces the stop before it
answers our first packet; the client must not take that for the answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from cymongoose.device.flash import GdbFlasher
from cymongoose.device.gdbremote import GdbClient
from cymongoose.device.image import load_image
from cymongoose.device.targets import QemuTarget

pytestmark = pytest.mark.qemu


def test_attach_to_a_running_board_reads_verifies_and_lets_it_run(qemu: str,
                                                                   testfw: Path) -> None:
    img = load_image(testfw)
    with QemuTarget(testfw, gdb="tcp", halted=False) as t:
        assert t.gdb is not None
        t.console.expect_line(r"^testfw 1\.0 ready$", timeout=10)
        with GdbClient.connect_address(t.gdb) as c:
            assert c.packet_size > 400  # qSupported's own answer was parsed
            seg = img.segments[0]
            assert c.read_memory(seg.address, 64) == seg.data[:64]
            GdbFlasher(c, reset="none", run=False).verify(img)
            c.detach()  # the board goes on running
        t.console.read_available()
        t.console.send_line("add 2 3")
        t.console.expect_line(r"^sum=5$", timeout=10)
