"""One target factory: a :class:`TargetSpec` (board, firmware, port, labgrid place, boot,
flash and network options) becomes a running device.

The ``cymongoose`` command, the pytest plugin (``dut``) and the labgrid integration all
describe the device they want as a ``TargetSpec`` and call :func:`build_target` (or
:func:`plan_target` first, to see what it will be)::

    spec = TargetSpec(board="mps2-an385", firmware="build/fw/device_app.elf",
                      qemu={"nic": "stream"})
    with build_target(spec) as target:
        target.console.expect_line("ready")

How a spec is read, first match wins:

1. a labgrid place (``lg_place``/``lg_tags``, or a ``port`` that is or names a
   ``labgrid://`` URL): a :class:`~cymongoose.device.labgrid.LabgridTarget` that leases the
   place when it starts;
2. a ``port`` (path, ``socket://``, ``rfc2217://`` or a lab port name of the board map):
   a :class:`~cymongoose.device.targets.SerialTarget`;
3. else the board (default :data:`~cymongoose.device.boards.DEFAULT_BOARD`) by how it
   boots: ``serial`` (its ``console.port``), ``host`` (a
   :class:`~cymongoose.device.targets.HostProcessTarget` running the firmware) or ``qemu``
   (a :class:`~cymongoose.device.targets.QemuTarget` with the ``qemu`` options).

The baud rate is the spec's, else the lab port's, else the board's, else
:data:`~cymongoose.device.defaults.DEFAULT_BAUDRATE`. A spec that cannot work (no image
for a board that boots one, a serial board without a port, an unknown flash backend ...)
raises :class:`SpecError` naming what to give, before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import hostos
from .boards import DEFAULT_BOARD
from .cliutil import UsageError
from .defaults import DEFAULT_BAUDRATE, LABGRID_WAIT

if TYPE_CHECKING:
    from .boards import Board, BoardMap
    from .flash import FlashBackend
    from .gdbremote import GdbClient
    from .labgrid import LabgridSpec
    from .targets import Target

__all__ = ["FLASH_CHOICES", "TARGET_KINDS", "SpecError", "TargetPlan", "TargetSpec",
           "build_target", "make_flasher", "plan_target"]

TARGET_KINDS = ("qemu", "host", "serial", "labgrid")
# How the image gets onto the device: None boots it as it is (QEMU -kernel, a host process);
# "gdb" boots QEMU halted and writes it through the gdbstub (a labgrid place: its exported one);
# "qemu" boots the emulator without an image (QemuLoader loads it); the rest are tools/OTA.
FLASH_CHOICES = ("qemu", "gdb", "openocd", "pyocd", "ota", "none")


class SpecError(UsageError):
    """A target description that cannot work; ``missing`` names what to add
    ("firmware", "port") when that is the reason."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class TargetSpec:
    """What device to run and how. Every field is optional; see the module docstring for
    how they combine."""

    board: str | None = None          # board map name (default DEFAULT_BOARD without a port)
    firmware: str | None = None       # image to boot (emulated and host boards)
    port: str | None = None           # serial URL/path, lab port name or labgrid:// URL
    baudrate: int | None = None       # console speed (default: port, board, DEFAULT_BAUDRATE)
    flash: str | None = None          # one of FLASH_CHOICES, or None: boot the image as it is
    qemu: Mapping[str, Any] = field(default_factory=dict)  # QemuTarget options (nic, gdb ...)
    log_path: str | os.PathLike[str] | None = None  # console session log
    lg_place: str | None = None       # labgrid place name
    lg_tags: str | Mapping[str, str] | None = None  # labgrid tags "k=v,..." or a mapping
    lg_coordinator: str | None = None  # default $LG_COORDINATOR or 127.0.0.1:20408
    lg_wait: float = LABGRID_WAIT     # seconds to wait for a free place


@dataclass(frozen=True)
class TargetPlan:
    """What :func:`build_target` makes of a spec, resolved against the board map."""

    kind: str                          # one of TARGET_KINDS
    board: Board | None
    firmware: str | None
    url: str | None                    # serial: the port URL; labgrid: the labgrid:// URL
    baudrate: int
    flash: str | None
    qemu: Mapping[str, Any]
    log_path: str | os.PathLike[str] | None
    labgrid: LabgridSpec | None = None
    lg_wait: float = LABGRID_WAIT

    @property
    def console(self) -> str:
        """Where the console is: "emulated UART", "host pty", a serial URL or a labgrid place."""
        if self.kind == "qemu":
            return "emulated UART"
        if self.kind == "host":
            return "host pty"
        if self.kind == "labgrid":
            assert self.labgrid is not None
            return f"labgrid place ({self.labgrid.describe()})"
        return str(self.url)

    def missing_tool(self) -> str | None:
        """Why this target cannot start on this machine (its emulator is not installed), or None."""
        if self.kind != "qemu":
            return None
        assert self.board is not None
        qemu = str(self.qemu.get("qemu") or self.board.qemu.get("binary", "qemu-system-arm"))
        if hostos.find_qemu(qemu) is None:
            return f"{qemu} is not installed (board {self.board.name})"
        return None

    def flasher(self, *, target: Target | None = None, client: GdbClient | None = None,
                run: bool = True) -> FlashBackend | None:
        """The flash backend of this plan (None: the image boots as it is); see
        :func:`make_flasher` for what each one needs."""
        if self.flash is None:
            return None
        if self.board is None:
            raise SpecError(f"the {self.flash} flash backend needs a board: give --board")
        return make_flasher(self.flash, self.board, target=target, client=client, run=run)

    def build(self) -> Target:
        """The target, not started yet (``with target:`` or ``target.start()``)."""
        from .targets import HostProcessTarget, QemuTarget, SerialTarget

        if self.kind == "labgrid":
            from .labgrid import LabgridTarget

            assert self.labgrid is not None
            return LabgridTarget(self.labgrid, baudrate=self.baudrate, board=self.board,
                                 log_path=self.log_path, wait=self.lg_wait)
        if self.kind == "serial":
            assert self.url is not None
            return SerialTarget(self.url, baudrate=self.baudrate, board=self.board,
                                log_path=self.log_path)
        if self.kind == "host":
            return HostProcessTarget([str(self.firmware)], log_path=self.log_path)
        assert self.board is not None
        options = dict(self.qemu)
        firmware = self.firmware
        if self.flash in ("gdb", "qemu"):
            firmware = None  # the flasher writes the image; QEMU boots empty
        if self.flash == "gdb":
            options.update(gdb=options.get("gdb") or "unix", halted=True)
        return QemuTarget(firmware, self.board, log_path=self.log_path, **options)


def make_flasher(backend: str, board: Board, *, target: Target | None = None,
                 client: GdbClient | None = None, run: bool = True) -> FlashBackend:
    """A flash backend by name: "qemu" loads an emulated ``target`` (QemuLoader), "gdb"
    writes through a connected ``client`` (run: let the CPU go afterwards), "openocd" and
    "pyocd" run those tools with the board's settings, "ota" uploads over ``target``'s
    console (the reference firmware's ota.* calls)."""
    from .flash import GdbFlasher, QemuLoader, get_flasher
    from .targets import QemuTarget

    if backend == "qemu":
        if not isinstance(target, QemuTarget):
            raise SpecError(f"the qemu flash backend loads an emulated board, not {board.name} "
                            f"(boot = {board.boot})")
        return QemuLoader(target)
    if backend == "gdb":
        if client is None:
            raise SpecError("the gdb flash backend needs a gdbstub (--gdb HOST:PORT)")
        return GdbFlasher(client, run=run)
    if backend == "ota":
        if target is None:
            raise SpecError("the ota flash backend needs the device's console (--port)")
        from .ota import OtaFlasher
        from .rpc import RpcClient

        return OtaFlasher(RpcClient(target.console))
    if backend in ("openocd", "pyocd"):
        return get_flasher(backend, board)
    raise SpecError(f"flash backend must be one of {', '.join(FLASH_CHOICES[:-1])}, "
                    f"not {backend!r}")


def _labgrid_url(port: str | None, bmap: BoardMap) -> str | None:
    if not port:
        return None
    url = bmap.resolve_port(port).url
    return url if url.startswith("labgrid://") else None


def labgrid_spec_of(spec: TargetSpec, bmap: BoardMap | None = None) -> LabgridSpec | None:
    """The labgrid place ``spec`` asks for (flags or a labgrid:// port), or None."""
    from .labgrid import LabgridSpec, default_coordinator, parse_tags

    if spec.lg_place or spec.lg_tags:
        tags = spec.lg_tags
        return LabgridSpec(coordinator=spec.lg_coordinator or default_coordinator(),
                           place=spec.lg_place,
                           tags=dict(tags) if isinstance(tags, Mapping) else parse_tags(tags))
    if not spec.port:
        return None
    if spec.port.startswith("labgrid://"):
        url: str | None = spec.port
    elif "://" in spec.port or spec.port.startswith("/"):
        return None  # a serial URL or a path: no board map lookup needed
    else:
        url = _labgrid_url(spec.port, bmap if bmap is not None else _load_boards())
    if url is None:
        return None
    lg = LabgridSpec.from_url(url)
    if spec.lg_coordinator and url.startswith("labgrid:///"):  # no coordinator in the URL
        lg = LabgridSpec(coordinator=spec.lg_coordinator, place=lg.place, tags=lg.tags)
    return lg


def _load_boards() -> BoardMap:
    from .boards import load_boards

    return load_boards()


def _first(*values: int | None) -> int:
    return next((int(v) for v in values if v), DEFAULT_BAUDRATE)


def plan_target(spec: TargetSpec, bmap: BoardMap | None = None) -> TargetPlan:
    """Resolve ``spec`` against the board map (default: :func:`load_boards`); raises
    :class:`SpecError` (or ``BoardError`` for an unknown board) when it cannot work."""
    if spec.flash is not None and spec.flash not in FLASH_CHOICES:
        raise SpecError(f"flash backend must be one of {', '.join(FLASH_CHOICES)}, "
                        f"not {spec.flash!r}")
    if spec.baudrate is not None and int(spec.baudrate) <= 0:
        raise SpecError(f"baud rate must be positive, not {spec.baudrate}")
    bmap = bmap if bmap is not None else _load_boards()
    flash = None if spec.flash == "none" else spec.flash
    common: dict[str, Any] = {"firmware": spec.firmware, "flash": flash, "qemu": dict(spec.qemu),
                              "log_path": spec.log_path}

    lg = labgrid_spec_of(spec, bmap)
    lab = bmap.resolve_port(spec.port) if spec.port else None
    if lg is not None or lab is not None:
        name = spec.board or (lab.board if lab else None)
        board = bmap.get(name) if name else None
        baud = _first(spec.baudrate, lab.baudrate if lab else None,
                      board.baudrate if board else None)
        if spec.qemu:
            raise SpecError("QEMU options are for emulated boards, not a serial port or "
                            "labgrid place")
        if lg is not None:
            return TargetPlan("labgrid", board, url=lg.url, baudrate=baud, labgrid=lg,
                              lg_wait=spec.lg_wait, **common)
        assert lab is not None
        return TargetPlan("serial", board, url=lab.url, baudrate=baud, **common)

    board = bmap.get(spec.board or DEFAULT_BOARD)
    if flash == "qemu" and board.boot != "qemu":
        raise SpecError(f"board {board.name} is not emulated (boot = {board.boot}): the qemu "
                        "flash backend is for emulated boards")
    if board.boot == "serial":
        if not board.console_port:
            raise SpecError(f"board {board.name} is on a serial port: give --port (or set "
                            "console.port in your boards.toml)", missing="port")
        return TargetPlan("serial", board, url=board.console_port,
                          baudrate=_first(spec.baudrate, board.baudrate), **common)
    if board.boot == "host":
        if not spec.firmware:
            raise SpecError(f"board {board.name} boots an image: give --firmware FILE",
                            missing="firmware")
        if spec.qemu:
            raise SpecError(f"board {board.name} runs as a host process: QEMU options are "
                            "for emulated boards")
        return TargetPlan("host", board, url=None, baudrate=_first(spec.baudrate), **common)
    if not spec.firmware and flash not in ("gdb", "qemu"):
        raise SpecError(f"board {board.name} boots an image: give --firmware FILE",
                        missing="firmware")
    return TargetPlan("qemu", board, url=None, baudrate=_first(spec.baudrate, board.baudrate),
                      **common)


def build_target(spec: TargetSpec, bmap: BoardMap | None = None) -> Target:
    """The target ``spec`` describes, not started yet: ``with build_target(spec) as t:``."""
    return plan_target(spec, bmap).build()


def tags_text(tags: Iterable[str] | str | None) -> str | None:
    """``["a=1", "b=2"]`` -> ``"a=1,b=2"`` (labgrid tags as the CLI spells them)."""
    if tags is None or isinstance(tags, str):
        return tags
    return ",".join(tags)
