"""The short power-fail proof of two-slot updates (bench/ota_powerfail.py --short).

Eight system resets spread over one update, over HTTP and over RPC: in the transfer,
in the slot write, between verify and mark, inside two boot state writes, in the new
image's first boot and after its confirm. After each the board must boot a valid image
(the old one before the commit point, the new one after the confirm, otherwise the one
the boot state says) and answer RPC; the full run (60+ points) is the bench script.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cymongoose.device.boards import Board
from mgtest import board_image, emulated_boards

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import ota_powerfail


@pytest.mark.parametrize("board", [b for b in emulated_boards() if b.slots],
                         ids=lambda b: b.name)
def test_short_power_fail_run_bricks_nothing(board: Board) -> None:
    fw = board_image(board.name, "bootloader").parent
    ctx = ota_powerfail.make_context(fw, board.name)
    pts = ota_powerfail.points(ctx.board, len(ctx.image_b), short=True)
    lines: list[str] = []
    n, bricked = ota_powerfail.run_all(ctx, pts, lines.append)
    report = "\n".join(lines)
    assert n == 8 and bricked == 0, report
    # The cuts did land on both sides of the commit point: some ended on the old
    # image, and the one after the confirm on the new.
    assert " old (" in report and " new (" in report, report
    assert "after confirm" in lines[-1] and " new (" in lines[-1], report
