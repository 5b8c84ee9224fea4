"""The ``duts`` fixture: several emulated boards on one Ethernet segment in one test
(``@pytest.mark.duts(count=2)``; see :mod:`cymongoose.device.multidut`).

Each board is its own QEMU with the same image (``dut_firmware``) on the board of
``--board`` (the reference board by default), or a mix:
``@pytest.mark.duts(boards=["mps2-an385", "mps2-an505"], firmware=[elf0, elf1])``; its own console log and pcap
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

MARKER = ("duts(count=2, boards=None, firmware=None, boot_timeout=30): this test's duts "
          "fixture starts `count` emulated boards (of --board, or the `boards` list, with "
          "dut_firmware or the `firmware` list) on one bridged Ethernet segment")


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
    import time

    from . import hostos
    from .boards import DEFAULT_BOARD, load_boards
    from .multidut import Segment, board_mac
    from .pytest_plugin import Dut, _opt, _safe_name, board_required
    from .targets import QemuTarget

    __tracebackhide__ = True
    marker = request.node.get_closest_marker("duts")
    kwargs = dict(marker.kwargs) if marker else {}
    names = kwargs.pop("boards", None)
    images = kwargs.pop("firmware", None)
    count = kwargs.pop("count", len(names) if names else 2)
    boot_timeout = float(kwargs.pop("boot_timeout", 30.0))
    if kwargs:
        pytest.fail(f"duts: unknown marker options {sorted(kwargs)}", pytrace=False)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 4:
        pytest.fail(f"duts: count={count!r}: want 1..4 boards (the bridge's DHCP pool)",
                    pytrace=False)
    default = _opt(request.config, "board") or DEFAULT_BOARD
    names = list(names) if names else [default] * count
    images = list(images) if images else [dut_firmware] * count
    if len(names) != count or len(images) != count:
        pytest.fail(f"duts: count={count} with {len(names)} boards and {len(images)} "
                    "firmware images: give one of each per board", pytrace=False)
    bmap = load_boards()
    boards_of = [bmap.get(str(n)) for n in names]
    for board in boards_of:
        if board.boot != "qemu":
            pytest.fail(f"duts: board {board.name} is not emulated", pytrace=False)
        qemu = str(board.qemu.get("binary", "qemu-system-arm"))
        if hostos.find_qemu(qemu) is None:
            if board_required(request.config):
                pytest.fail(f"duts: {qemu} is not installed", pytrace=False)
            pytest.skip(f"{qemu} is not installed (board {board.name})")
    if not all(images):
        pytest.fail("duts: pass --firmware, override the dut_firmware fixture or give "
                    "firmware=[...] in the marker", pytrace=False)
    stem = _safe_name(request.node.nodeid)
    targets: list[QemuTarget] = []
    boards: list[Dut] = []
    segment: Segment | None = None
    try:
        for i, (board, image) in enumerate(zip(boards_of, images)):
            log = dut_artifacts / f"{stem}.dut{i}.log"
            t = QemuTarget(str(image), board, nic="stream", log_path=log, mac=board_mac(i))
            targets.append(t)
            t.start()
            t.console.crash_elf = str(image)
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
