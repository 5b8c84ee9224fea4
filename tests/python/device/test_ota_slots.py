"""Two-slot updates on every emulated board with update slots (issue 17, docs/updates.md).

The board boots with only the bootloader as ``-kernel``; slot A is written through the
gdbstub, so the slots and the boot state survive a reset like flash. Then, end to end:
an update over HTTP (through QEMU's port forward) to the slot B build with a newer
version boots on test, passes its health check and confirms itself (and the watchdog the
bootloader armed for the test boot never fires); an update that hangs is reset by that
watchdog (on a board without one, riscv32-virt, it stays hung until the host resets the
board), one that stays unhealthy (alive: it feeds the watchdog past two periods) resets
itself, and the bootloader rolls either back; refused updates
(wrong slot, downgrade, raw ELF, another board, bad hash, truncated, oversized) get a 4xx
and leave the running slot and the boot state as they were.
"""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest
from cymongoose.device import QemuTarget
from cymongoose.device.boards import Board
from cymongoose.device.errors import ExpectTimeoutError
from cymongoose.device.gdbremote import GdbClient
from cymongoose.device.slots import BootState, provision, read_state, slot_area, slot_image
from mgtest import board_image, emulated_boards

pytestmark = pytest.mark.qemu
# The boards whose board.toml lays out update slots (QEMU lets the CPU write their flash).
SLOT_BOARDS = [b for b in emulated_boards() if b.slots]
ARTIFACTS = Path(__file__).resolve().parents[3] / "build" / "test-artifacts" / "ota_slots"
BOOT_TIMEOUT = 20.0
# How long a hung image on a board without a watchdog is watched before the host resets it:
# longer than a watchdog board's reset (the bootloader prints that one: 8 s).
UNWATCHED_HANG_S = 9.0


@pytest.fixture(scope="module", params=SLOT_BOARDS, ids=lambda b: b.name)
def board(request: pytest.FixtureRequest) -> Board:
    return request.param  # type: ignore[no-any-return]


def fw(board: Board, name: str) -> str:
    return str(board_image(board.name, name))


@pytest.fixture(scope="module")
def images(board: Board) -> dict[str, bytes]:
    a = fw(board, "device_app_slot_a")
    b = fw(board, "device_app_slot_b")
    bad = fw(board, "device_app_slot_b_unhealthy")
    hang = fw(board, "device_app_slot_b_hang")
    return {
        "a": slot_image(a, board, "1.0.0"),
        "a2": slot_image(a, board, "1.2.0"),
        "b": slot_image(b, board, "1.1.0"),
        "b_old": slot_image(b, board, "0.9.0"),
        "b_unhealthy": slot_image(bad, board, "1.1.0"),
        "b_hang": slot_image(hang, board, "1.1.0"),
        "elf": Path(b).read_bytes(),
    }


def post_image(port: int, data: bytes, query: str = "") -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/ota" + query, body=data,
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def get_info(port: int, timeout: float = 10) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/api/info")
        return json.loads(conn.getresponse().read())  # type: ignore[no-any-return]
    finally:
        conn.close()


class Device:
    """The board with its gdbstub attached: ``halt_reset()`` is a power cycle."""

    def __init__(self, t: QemuTarget, gdb: GdbClient, board: Board) -> None:
        self.t, self.gdb, self.board = t, gdb, board

    @property
    def port(self) -> int:
        return self.t.forwarded[80]

    def wait_app(self, slot: str) -> None:
        self.t.console.expect_line(rf"^boot: slot {slot}, image ", timeout=BOOT_TIMEOUT)
        self.t.console.expect_line(r"^http: listening on ", timeout=BOOT_TIMEOUT)

    def test_boot_watchdog(self) -> float | None:
        """After a test boot's bootloader line: the seconds without a feed after which the
        watchdog the bootloader armed resets the board (as it says), or None: it has none."""
        m = self.t.console.expect_line(
            r"^boot: (?:watchdog armed: reset after (\d+) ms|no watchdog)", timeout=BOOT_TIMEOUT)
        return int(m.group(1)) / 1000 if m.group(1) else None

    def state(self) -> BootState | None:
        """The boot state (the CPU is halted to read it, then resumed)."""
        self.gdb.interrupt()
        try:
            return read_state(self.gdb, self.board)
        finally:
            self.gdb.cont()

    def reset(self) -> None:
        self.gdb.interrupt()
        self.gdb.monitor("system_reset")
        self.gdb.cont()


@pytest.fixture
def device(board: Board, images: dict[str, bytes], request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    boot = fw(board, "bootloader")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"{request.node.name}.log"
    with QemuTarget(boot, board, gdb="unix", halted=True, nic="user", hostfwd=[80],
                    log_path=log) as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as gdb:
            provision(gdb, board, images["a"])
            gdb.cont()
            d = Device(t, gdb, board)
            d.wait_app("A")
            yield d


def test_memory_outside_the_kernel_survives_a_system_reset(board: Board) -> None:
    """What the whole design rests on: QEMU rewrites only the -kernel segments at a
    reset, so a slot written through the gdbstub is still there afterwards."""
    boot = fw(board, "bootloader")
    start, size = slot_area(board, "b")
    pattern = bytes(range(256)) * 4
    with QemuTarget(boot, board, gdb="unix", halted=True) as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb) as gdb:
            gdb.write_memory(start + size - len(pattern), pattern)
            gdb.cont()
            t.console.expect_line(r"^boot: no bootable slot", timeout=BOOT_TIMEOUT)
            gdb.interrupt()
            gdb.monitor("system_reset")
            assert gdb.read_memory(start + size - len(pattern), len(pattern)) == pattern
            gdb.cont()
            # The bootloader ran again after the reset, and found nothing to boot.
            t.console.expect_line(r"^boot: no bootable slot", timeout=BOOT_TIMEOUT)


def test_factory_image_is_adopted_and_reported(device: Device) -> None:
    info = get_info(device.port)
    assert (info["slot"], info["image_version"], info["confirmed"]) == ("A", "1.0.0+0", True)
    st = device.state()
    assert st is not None and st.active == 0 and st.status == ("confirmed", "empty")


def test_update_over_http_boots_on_test_and_confirms(device: Device,
                                                     images: dict[str, bytes]) -> None:
    status, body = post_image(device.port, images["b"], "?reboot=1")
    assert status == 200, body
    assert body["state"] == "verified" and body["version"] == "1.1.0+0" and body["bank"] == 1
    device.t.console.expect_line(r"^boot: slot B \(test, attempt 1\), version 1\.1\.0\+0",
                                 timeout=BOOT_TIMEOUT)
    reset_s = device.test_boot_watchdog()
    device.wait_app("B")
    device.t.console.expect_line(r"^boot: health check passed: slot B confirmed",
                                 timeout=BOOT_TIMEOUT)
    if reset_s is not None:
        # The confirm disarmed the watchdog: no reset past its time.
        with pytest.raises(ExpectTimeoutError):
            device.t.console.expect_line(r"^boot: cymongoose bootloader", timeout=reset_s + 2)
    info = get_info(device.port)
    assert (info["slot"], info["image_version"], info["confirmed"]) == ("B", "1.1.0+0", True)
    st = device.state()
    assert st is not None and st.active == 1 and st.status == ("confirmed", "confirmed")
    # Confirmed means permanent: a reset boots B again, not on test.
    device.reset()
    device.t.console.expect_line(r"^boot: slot B \(confirmed, attempt 0\)", timeout=BOOT_TIMEOUT)
    device.wait_app("B")
    # And the next update goes to slot A (the A build, a newer version).
    status, body = post_image(device.port, images["a2"], "?reboot=1")
    assert status == 200 and body["bank"] == 0, body
    device.wait_app("A")
    device.t.console.expect_line(r"^boot: health check passed: slot A confirmed",
                                 timeout=BOOT_TIMEOUT)
    assert get_info(device.port)["image_version"] == "1.2.0+0"


def assert_rolled_back(device: Device) -> None:
    """Back on slot A's 1.0.0, confirmed, with slot B marked bad."""
    device.wait_app("A")
    info = get_info(device.port)
    assert (info["slot"], info["image_version"], info["confirmed"]) == ("A", "1.0.0+0", True)
    st = device.state()
    assert st is not None and st.active == 0 and st.status == ("confirmed", "bad")


def test_update_that_fails_its_health_check_rolls_back(device: Device,
                                                       images: dict[str, bytes]) -> None:
    status, body = post_image(device.port, images["b_unhealthy"], "?reboot=1")
    assert status == 200, body
    device.test_boot_watchdog()
    device.wait_app("B")
    device.t.console.expect_line(r"^boot: health check failed", timeout=BOOT_TIMEOUT)
    info = get_info(device.port)
    assert (info["slot"], info["confirmed"]) == ("B", False)
    st = device.state()
    assert st is not None and st.active == 1 and st.status == ("confirmed", "test")
    # Alive (it feeds the watchdog) but never healthy: this build gives itself 8 s
    # (DEVICE_CONFIRM_TIMEOUT_MS), then resets itself, with nothing from the host;
    # the bootloader rolls back.
    device.t.console.expect_line(r"^boot: not healthy 8000 ms after start: resetting",
                                 timeout=8 + BOOT_TIMEOUT)
    device.t.console.expect_line(r"^boot: slot A \(confirmed, attempt 0\), version 1\.0\.0",
                                 timeout=BOOT_TIMEOUT)
    assert_rolled_back(device)


def test_update_that_hangs_is_rolled_back_after_a_reset(device: Device,
                                                       images: dict[str, bytes]) -> None:
    """An update that hangs before confirming (it stops polling anything) comes back
    on slot A after the next reset. On a board with a watchdog (the bootloader says
    whether it armed one: the board's fact) the reset comes by itself; on one without
    (riscv32-virt) the image stays hung, answering nothing, until the host resets the
    board, as a power cycle would."""
    status, body = post_image(device.port, images["b_hang"], "?reboot=1")
    assert status == 200, body
    device.t.console.expect_line(r"^boot: slot B \(test, attempt 1\)", timeout=BOOT_TIMEOUT)
    reset_s = device.test_boot_watchdog()
    device.wait_app("B")
    device.t.console.expect_line(r"^device: hanging", timeout=BOOT_TIMEOUT)
    if reset_s is not None:
        # The watchdog's time from the arming, plus the boot: far below what an
        # un-reset hang would take (forever).
        device.t.console.expect_line(r"^boot: cymongoose bootloader", timeout=reset_s + 5)
    else:
        # Nothing resets it: past a watchdog board's reset time it is still hung and
        # does not answer HTTP. Then the host cuts the power.
        with pytest.raises(ExpectTimeoutError):
            device.t.console.expect_line(r"^boot: cymongoose bootloader",
                                         timeout=UNWATCHED_HANG_S)
        with pytest.raises(OSError):
            get_info(device.port, timeout=2)
        device.reset()
        device.t.console.expect_line(r"^boot: cymongoose bootloader", timeout=BOOT_TIMEOUT)
    device.t.console.expect_line(r"^boot: slot A \(confirmed, attempt 0\), version 1\.0\.0",
                                 timeout=BOOT_TIMEOUT)
    assert_rolled_back(device)


def test_refused_updates_leave_the_running_image(device: Device, board: Board,
                                                 images: dict[str, bytes]) -> None:
    from cymongoose.device.imagefmt import pack

    before = device.state()
    b = images["b"]
    other_board = pack(b[1024:-96], board="lm3s6965evb", load_addr=slot_area(board, "b")[0] + 1024,
                       entry_addr=slot_area(board, "b")[0] + 1024 + 0x101, header_size=1024)
    bad_hash = bytearray(b)
    bad_hash[5000] ^= 1
    _, size_b = slot_area(board, "b")
    cases = [
        (images["a"], 400, r"linked for the running slot A"),
        (images["b_old"], 409, r"older than the running 1\.0\.0"),
        (images["elf"], 400, r"raw ELF"),
        (other_board, 400, r"another board"),
        (bytes(bad_hash), 400, r"hash"),
        (b[:-1], 400, r"truncated"),
        (b"\0" * (size_b + 1), 413, r"larger than the bank"),
    ]
    for data, want, why in cases:
        status, body = post_image(device.port, data)
        assert status == want and re.search(why, str(body["error"])), (want, why, body)
    # The running image was never touched and nothing boots next but it.
    info = get_info(device.port)
    assert (info["slot"], info["image_version"], info["confirmed"]) == ("A", "1.0.0+0", True)
    after = device.state()
    assert after is not None and before is not None
    assert after.active == 0 and after.status[0] == "confirmed" and after.status[1] != "test"
    device.reset()
    device.t.console.expect_line(r"^boot: slot A \(confirmed", timeout=BOOT_TIMEOUT)


def test_second_upload_replaces_one_not_booted_yet(device: Device,
                                                   images: dict[str, bytes]) -> None:
    """An update verified and marked "test" but not booted yet is dropped when the next
    upload starts (its slot is rewritten): the confirmed slot A is active again, so a
    refused second upload leaves A to boot and slot B empty, not "test"."""
    status, body = post_image(device.port, images["b"])
    assert status == 200, body
    st = device.state()
    assert st is not None and st.active == 1 and st.status == ("confirmed", "test")
    damaged = bytearray(images["b"])
    damaged[-200] ^= 0x40
    status, body = post_image(device.port, bytes(damaged))
    assert status == 400 and "hash" in str(body["error"]), body
    st = device.state()
    assert st is not None and st.active == 0 and st.status == ("confirmed", "empty")
    device.reset()
    device.t.console.expect_line(r"^boot: slot A \(confirmed", timeout=BOOT_TIMEOUT)
    # And a good upload after that boots as usual.
    status, body = post_image(device.port, images["b"], "?reboot=1")
    assert status == 200, body
    device.t.console.expect_line(r"^boot: health check passed: slot B confirmed",
                                 timeout=BOOT_TIMEOUT)
