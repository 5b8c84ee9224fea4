"""Defaults shared by the targets, the ``cymongoose`` command, the pytest plugin and the
labgrid integration: each value is written here once.

The default board is :data:`cymongoose.device.boards.DEFAULT_BOARD` (re-exported here).
"""

from __future__ import annotations

from .boards import DEFAULT_BOARD

__all__ = ["DEFAULT_BAUDRATE", "DEFAULT_BOARD", "LABGRID_PORT", "LABGRID_WAIT"]

DEFAULT_BAUDRATE = 115200  # a console whose board map, lab port and options name no speed
LABGRID_PORT = 20408       # the labgrid coordinator's port when an address names none
LABGRID_WAIT = 60.0        # seconds to wait for a free labgrid place
