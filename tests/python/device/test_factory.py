"""The target factory: each TargetSpec becomes the right target, console and flasher; a
spec that cannot work is one clear SpecError before anything starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cymongoose.device import boards as b
from cymongoose.device.defaults import DEFAULT_BAUDRATE
from cymongoose.device.errors import BoardError
from cymongoose.device.factory import (
    SpecError,
    TargetSpec,
    build_target,
    make_flasher,
    plan_target,
)
from cymongoose.device.flash import GdbFlasher, OpenOcdFlasher, PyOcdFlasher, QemuLoader
from cymongoose.device.labgrid import LabgridError, LabgridTarget
from cymongoose.device.targets import HostProcessTarget, QemuTarget, SerialTarget

LAB = """
[boards.desk-f4]
cpu = "cortex-m4"
boot = "serial"
flash = ["pyocd"]
memory = [{ name = "flash", kind = "flash", start = 0x08000000, size = 0x80000 }]
console = { port = "/dev/ttyDESK0", baudrate = 921600 }
pyocd = { target = "stm32f411re" }

[boards.bench-f4]
cpu = "cortex-m4"
boot = "serial"
flash = ["openocd"]
memory = [{ name = "flash", kind = "flash", start = 0x08000000, size = 0x80000 }]
openocd = { args = ["-f", "board/st_nucleo_f4.cfg"] }

[ports.rack1]
url = "rfc2217://rack1.lab:4001"
board = "nucleo-f746zg"
baudrate = 230400

[ports.rack2]
url = "labgrid:///rack2-place?board=mps2"
"""


@pytest.fixture
def bmap(tmp_path: Path) -> b.BoardMap:
    lab = tmp_path / "lab.toml"
    lab.write_text(LAB)
    return b.load_boards([lab], env={"HOME": "/nonexistent"})


@pytest.fixture
def fw(tmp_path: Path) -> str:
    path = tmp_path / "fw.elf"
    path.write_bytes(b"\x7fELF")
    return str(path)


def test_default_board_boots_the_image_in_qemu(bmap: b.BoardMap, fw: str) -> None:
    plan = plan_target(TargetSpec(firmware=fw), bmap)
    assert (plan.kind, plan.board and plan.board.name) == ("qemu", b.DEFAULT_BOARD)
    assert plan.console == "emulated UART" and plan.flash is None and plan.flasher() is None
    target = plan.build()
    assert isinstance(target, QemuTarget) and target.proc is None  # built, not started
    assert target.firmware == Path(fw) and target.nic == "none" and not target.halted


def test_qemu_options_and_gdb_flashing(bmap: b.BoardMap, fw: str) -> None:
    target = build_target(TargetSpec(firmware=fw, qemu={"nic": "stream"}), bmap)
    assert isinstance(target, QemuTarget) and target.nic == "stream"
    # --flash gdb: the emulator boots empty and halted, with a gdbstub to write through.
    target = build_target(TargetSpec(firmware=fw, flash="gdb"), bmap)
    assert isinstance(target, QemuTarget)
    assert target.firmware is None and target.halted and target.gdb_mode == "unix"
    # the qemu backend needs no image up front either (QemuLoader loads it)
    plan = plan_target(TargetSpec(board="mps2-an385", flash="qemu"), bmap)
    target = plan.build()
    assert isinstance(plan.flasher(target=target), QemuLoader)


def test_a_port_is_a_serial_target_with_the_right_speed(bmap: b.BoardMap) -> None:
    plan = plan_target(TargetSpec(port="socket://127.0.0.1:7"), bmap)
    assert (plan.kind, plan.board, plan.url) == ("serial", None, "socket://127.0.0.1:7")
    assert plan.baudrate == DEFAULT_BAUDRATE and plan.console == "socket://127.0.0.1:7"
    # a lab port name: its URL, board and speed; an explicit speed wins
    target = build_target(TargetSpec(port="rack1"), bmap)
    assert isinstance(target, SerialTarget) and target.url == "rfc2217://rack1.lab:4001"
    assert target.baudrate == 230400 and target.board is not None
    assert target.board.name == "nucleo-f746zg"
    target = build_target(TargetSpec(port="rack1", baudrate=9600), bmap)
    assert isinstance(target, SerialTarget) and target.baudrate == 9600


def test_a_serial_board_uses_its_console_port(bmap: b.BoardMap) -> None:
    target = build_target(TargetSpec(board="desk-f4"), bmap)
    assert isinstance(target, SerialTarget)
    assert (target.url, target.baudrate) == ("/dev/ttyDESK0", 921600)
    plan = plan_target(TargetSpec(board="desk-f4", flash="pyocd"), bmap)
    assert isinstance(plan.flasher(), PyOcdFlasher)
    with pytest.raises(SpecError, match="give --port") as err:
        plan_target(TargetSpec(board="bench-f4"), bmap)
    assert err.value.missing == "port"
    plan = plan_target(TargetSpec(board="bench-f4", port="/dev/ttyBENCH", flash="openocd"), bmap)
    assert plan.kind == "serial" and isinstance(plan.flasher(), OpenOcdFlasher)


def test_a_host_board_runs_the_firmware_as_a_process(bmap: b.BoardMap, fw: str) -> None:
    plan = plan_target(TargetSpec(board="host", firmware=fw), bmap)
    assert plan.kind == "host" and plan.console == "host pty"
    target = plan.build()
    assert isinstance(target, HostProcessTarget) and target.argv == [fw]


def test_labgrid_places_from_flags_and_ports(bmap: b.BoardMap) -> None:
    plan = plan_target(TargetSpec(lg_place="rack3", lg_tags="board=mps2", lg_coordinator="lab:1",
                                  board="mps2-an385", lg_wait=5.0), bmap)
    assert plan.kind == "labgrid" and plan.labgrid is not None
    assert plan.console.startswith("labgrid place (board=mps2, name=rack3 at lab:1")
    target = plan.build()  # leases only when started
    assert isinstance(target, LabgridTarget) and not target.lease.active
    assert target.lease.spec.place == "rack3" and target.lease.wait == 5.0
    assert target.board is not None and target.board.baudrate == target.baudrate
    # a labgrid:// port, and a lab port whose URL names no coordinator: --lg-coordinator fills it
    plan = plan_target(TargetSpec(port="labgrid://lab:2/p1"), bmap)
    assert plan.kind == "labgrid" and plan.labgrid is not None
    assert (plan.labgrid.coordinator, plan.labgrid.place) == ("lab:2", "p1")
    plan = plan_target(TargetSpec(port="rack2", lg_coordinator="lab:3"), bmap)
    assert plan.labgrid is not None and plan.labgrid.coordinator == "lab:3"
    assert plan.labgrid.place == "rack2-place" and dict(plan.labgrid.tags) == {"board": "mps2"}


@pytest.mark.parametrize(("spec", "message", "missing"), [
    (TargetSpec(), "board mps2-an385 boots an image: give --firmware FILE", "firmware"),
    (TargetSpec(board="host"), "give --firmware FILE", "firmware"),
    (TargetSpec(firmware="x.elf", flash="jtag"), "flash backend must be one of qemu, gdb", None),
    (TargetSpec(port="/dev/ttyX", qemu={"nic": "user"}), "QEMU options are for emulated", None),
    (TargetSpec(board="host", firmware="x", qemu={"nic": "user"}), "runs as a host process", None),
    (TargetSpec(board="nucleo-f746zg", flash="qemu"), "nucleo-f746zg is not emulated", None),
    (TargetSpec(port="/dev/ttyX", baudrate=0), "baud rate must be positive", None),
    (TargetSpec(lg_tags="Board=x"), "labgrid tag key 'Board'", None),
])
def test_bad_specs_are_one_clear_error(bmap: b.BoardMap, spec: TargetSpec, message: str,
                                       missing: str | None) -> None:
    with pytest.raises((SpecError, BoardError, LabgridError)) as err:
        plan_target(spec, bmap)
    assert message in str(err.value)
    assert getattr(err.value, "missing", None) == missing


def test_unknown_board_and_flashers_without_what_they_need(bmap: b.BoardMap) -> None:
    with pytest.raises(BoardError, match="unknown board 'nope'"):
        plan_target(TargetSpec(board="nope", firmware="x"), bmap)
    board = bmap.get("mps2-an385")
    with pytest.raises(SpecError, match="needs a gdbstub"):
        make_flasher("gdb", board)
    with pytest.raises(SpecError, match="loads an emulated board"):
        make_flasher("qemu", board)
    with pytest.raises(SpecError, match="needs the device's console"):
        make_flasher("ota", board)
    with pytest.raises(SpecError, match="flash backend must be one of"):
        make_flasher("none", board)
    client = object()  # any connected GdbClient; the flasher only keeps it until flash()
    flasher = make_flasher("gdb", board, client=client, run=False)  # type: ignore[arg-type]
    assert isinstance(flasher, GdbFlasher) and flasher.client is client and not flasher.run


def test_a_built_serial_target_talks(bmap: b.BoardMap) -> None:
    # The factory's target is a working one: a line sent reaches the peer, its answer comes back.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        target = build_target(TargetSpec(port=f"socket://127.0.0.1:{port}"), bmap)
        with target:
            peer, _ = server.accept()
            with peer:
                target.console.send_line("ping")
                assert peer.recv(64).startswith(b"ping")
                peer.sendall(b"pong 42\r\n")
                assert target.console.expect_line(r"pong (\d+)", timeout=5).group(1) == "42"
