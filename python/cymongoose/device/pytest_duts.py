"""The ``duts`` fixture: several emulated boards on one Ethernet segment in one test
(``@pytest.mark.duts(count=2)``; see :mod:`cymongoose.device.multidut`).

Each board is its own QEMU with the same image (``dut_firmware``) on the board of
``--board`` (the reference board by default), its own console log and pcap
(``<test id>.dut<i>.log``/``.pcap``) and ``duts[i].network`` impairing its port alone;
the host's stack (``duts[i].mgr``, the same manager for all) serves one DHCP address
per board. The fixture returns once every board has its address
(``duts[i].bridge.device_ip``). Each test (and so each xdist worker) has its own
segment: nothing is shared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MARKER = ("duts(count=2, boot_timeout=30): this test's duts fixture starts `count` "
          "emulated boards on one bridged Ethernet segment")


def _ready_ip(dut: Any) -> str | None:
    from .errors import ExpectTimeoutError

    try:
        return str(dut.expect_line(r"net: ready ip=(\S+) ", timeout=0).group(1))
    except ExpectTimeoutError:
        return None


@pytest.fixture
def duts(request: pytest.FixtureRequest, dut_firmware: str | None,
         dut_artifacts: Path) -> Iterator[list[Any]]:
    """Several started boards on one segment (``@pytest.mark.duts(count=N)``)."""
    import shutil
    import time

    from .boards import DEFAULT_BOARD, load_boards
    from .multidut import Segment, board_mac
    from .pytest_plugin import Dut, _opt, _safe_name, board_required
    from .targets import QemuTarget

    __tracebackhide__ = True
    marker = request.node.get_closest_marker("duts")
    kwargs = dict(marker.kwargs) if marker else {}
    count = kwargs.pop("count", 2)
    boot_timeout = float(kwargs.pop("boot_timeout", 30.0))
    if kwargs:
        pytest.fail(f"duts: unknown marker options {sorted(kwargs)}", pytrace=False)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 4:
        pytest.fail(f"duts: count={count!r}: want 1..4 boards (the bridge's DHCP pool)",
                    pytrace=False)
    board = load_boards().get(_opt(request.config, "board") or DEFAULT_BOARD)
    if board.boot != "qemu":
        pytest.fail(f"duts: board {board.name} is not emulated", pytrace=False)
    if not dut_firmware:
        pytest.fail("duts: pass --firmware or override the dut_firmware fixture", pytrace=False)
    qemu = str(board.qemu.get("binary", "qemu-system-arm"))
    if shutil.which(qemu) is None:
        if board_required(request.config):
            pytest.fail(f"duts: {qemu} is not installed", pytrace=False)
        pytest.skip(f"{qemu} is not installed (board {board.name})")
    stem = _safe_name(request.node.nodeid)
    targets: list[QemuTarget] = []
    boards: list[Dut] = []
    segment: Segment | None = None
    try:
        for i in range(count):
            log = dut_artifacts / f"{stem}.dut{i}.log"
            t = QemuTarget(dut_firmware, board, nic="stream", log_path=log, mac=board_mac(i))
            targets.append(t)
            t.start()
            t.console.crash_elf = dut_firmware
            boards.append(Dut(t, board, log, None))
        segment = Segment([t.netdev_socket() for t in targets],
                          pcaps=[str(d.pcap_path) for d in boards],
                          health=[t.check for t in targets])
        for d, t, port in zip(boards, targets, segment.ports):
            port.network.carrier = t.set_link
            d._bridge = port  # dut.bridge/.network/.mgr/.url on the shared segment
        ips: dict[int, str] = {}

        def all_ready() -> bool:
            for i, d in enumerate(boards):
                if i not in ips and (ip := _ready_ip(d)) is not None:
                    ips[i] = ip
                    segment.ports[i].device_ip = ip
            return len(ips) == count

        t0 = time.monotonic()
        if not segment.pump(all_ready, boot_timeout):
            pytest.fail(f"duts: boards {sorted(set(range(count)) - set(ips))} got no DHCP "
                        f"address within {boot_timeout:g} s", pytrace=False)
        request.node.user_properties.append(
            ("duts", ", ".join(f"{i}={ips[i]}" for i in range(count))
             + f" ({time.monotonic() - t0:.1f} s)"))
        yield boards
    finally:
        for d in boards:
            d._bridge = None
        if segment is not None:
            segment.close()
        for t in targets:
            t.stop()


def expect_line_pumping(dut: Any, pattern: str, timeout: float) -> re.Match[str]:
    """``dut.expect_line`` while the bridge's stack runs (it answers ARP, DHCP and TCP
    only when pumped)."""
    from .errors import ExpectTimeoutError

    found: list[re.Match[str]] = []

    def seen() -> bool:
        try:
            found.append(dut.expect_line(pattern, timeout=0))
        except ExpectTimeoutError:
            return False
        return True

    if not dut.bridge.pump(seen, timeout):
        dut.expect_line(pattern, timeout=0)  # raises with the console's last lines
    return found[0]
