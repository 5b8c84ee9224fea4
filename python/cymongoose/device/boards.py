"""Boards as data: load the boards shipped with the SDK plus user files.

Every board is one folder, ``boards/<name>/``, whose ``board.toml`` holds all its
facts (the keys are described in ``boards/README.md``); the firmware build reads
the same files. The wheel ships them as ``cymongoose/boards/<name>/board.toml``;
in a source checkout they are read from the tree's ``boards/``.

A user or a lab adds boards, or overrides single keys (typically ``console.port``
of a real board), in ``~/.config/cymongoose/boards.toml`` and in the entries of
``$CYMONGOOSE_BOARDS`` (separated by ``os.pathsep``). Later files win, key by key.
Such a file is a board map (``[boards.NAME]`` tables, ``[ports]``); an entry of
``$CYMONGOOSE_BOARDS`` may also be a board folder (or its ``board.toml``) or a
folder of board folders, whose boards are named after their folders.

A ``[ports]`` table names lab serial ports so that ``--port lab-f7`` can be
used instead of a long ``rfc2217://`` URL::

    [ports.lab-f7]
    url = "rfc2217://rack3.lab:4001"
    board = "nucleo-f746zg"
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import BoardError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

BOOT_KINDS = ("qemu", "serial", "host")
# The reference board: what commands, the pytest plugin and targets use without --board.
DEFAULT_BOARD = "mps2-an385"
FLASH_BACKENDS = ("qemu", "gdb", "openocd", "pyocd")
MEMORY_KINDS = ("flash", "ram")


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    kind: str
    start: int
    size: int

    @property
    def end(self) -> int:
        """First address after the region."""
        return self.start + self.size

    def contains(self, addr: int, length: int = 1) -> bool:
        return self.start <= addr and addr + length <= self.end


@dataclass(frozen=True)
class SerialPort:
    """A named lab serial port from a ``[ports]`` table."""

    name: str
    url: str
    board: str | None = None
    baudrate: int | None = None


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str
    arch: str
    image_formats: tuple[str, ...]
    boot: str
    flash: tuple[str, ...]
    memory: tuple[MemoryRegion, ...]
    console: Mapping[str, Any]
    network: Mapping[str, Any]
    build_only: bool = False
    qemu: Mapping[str, Any] = field(default_factory=dict)
    openocd: Mapping[str, Any] = field(default_factory=dict)
    pyocd: Mapping[str, Any] = field(default_factory=dict)
    test: Mapping[str, Any] = field(default_factory=dict)
    # Build facts (the firmware build reads them from board.toml, scripts/board_facts.py):
    # toolchain names boards/toolchain-<toolchain>.cmake, cpu_flags are the compiler's CPU
    # flags, link places code/RAM/stack in memory, build holds size_targets/skip_apps.
    toolchain: str = ""
    cpu_flags: tuple[str, ...] = ()
    link: Mapping[str, Any] = field(default_factory=dict)
    build: Mapping[str, Any] = field(default_factory=dict)
    # Two-slot update layout (docs/updates.md): boot, state, a, b, sector, header_room.
    slots: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def region_of(self, addr: int, length: int = 1) -> MemoryRegion | None:
        """The memory region holding ``[addr, addr+length)``, or None."""
        for region in self.memory:
            if region.contains(addr, length):
                return region
        return None

    def region_named(self, name: str) -> MemoryRegion | None:
        """The memory region called ``name`` in board.toml, or None."""
        return next((r for r in self.memory if r.name == name), None)

    def slot_of(self, load_addr: int) -> int | None:
        """The update slot (0 = a, 1 = b) whose payload starts at ``load_addr``, or None."""
        room = int(self.slots.get("header_room", 0))
        for i, key in enumerate(("a", "b")):
            area = self.slots.get(key)
            if isinstance(area, Mapping) and int(area.get("start", -1)) + room == load_addr:
                return i
        return None

    @property
    def baudrate(self) -> int:
        return int(self.console.get("baudrate", 115200))

    @property
    def console_port(self) -> str | None:
        port = self.console.get("port")
        return str(port) if port else None


@dataclass
class BoardMap:
    boards: dict[str, Board]
    ports: dict[str, SerialPort]
    sources: list[str]

    def get(self, name: str) -> Board:
        try:
            return self.boards[name]
        except KeyError:
            known = ", ".join(sorted(self.boards)) or "none"
            raise BoardError(f"unknown board {name!r} (known boards: {known})") from None

    def resolve_port(self, port: str) -> SerialPort:
        """A named lab port, or an ad-hoc one for a URL/path given directly."""
        if port in self.ports:
            return self.ports[port]
        return SerialPort(name=port, url=port)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.boards.values())


def user_board_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """The user board files that exist, in the order they are merged."""
    env = os.environ if env is None else env
    files: list[Path] = []
    config_home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    default = Path(config_home).expanduser() / "cymongoose" / "boards.toml"
    if default.is_file():
        files.append(default)
    for item in env.get("CYMONGOOSE_BOARDS", "").split(os.pathsep):
        if not item:
            continue
        path = Path(item).expanduser()
        if not path.exists():
            raise BoardError(f"$CYMONGOOSE_BOARDS names {item!r}, which does not exist")
        files.append(path)
    return files


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base``; tables merge, other values replace."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BoardError(f"{what} must be an integer, got {value!r}")
    if value < 0:
        raise BoardError(f"{what} must not be negative, got {value}")
    return value


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BoardError(f"{what} must be a list of strings, got {value!r}")
    return tuple(value)


def _table(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BoardError(f"{what} must be a table, got {value!r}")
    return dict(value)


def _board_from_table(name: str, t: Mapping[str, Any], source: str) -> Board:
    where = f"board {name!r} ({source})"
    for key in ("cpu", "boot"):
        if not isinstance(t.get(key), str):
            raise BoardError(f"{where}: missing string key {key!r}")
    boot = t["boot"]
    if boot not in BOOT_KINDS:
        raise BoardError(f"{where}: boot must be one of {', '.join(BOOT_KINDS)}, got {boot!r}")
    flash = _str_list(t.get("flash", []), f"{where}: flash")
    for backend in flash:
        if backend not in FLASH_BACKENDS:
            raise BoardError(
                f"{where}: unknown flash backend {backend!r} "
                f"(known: {', '.join(FLASH_BACKENDS)})"
            )
    regions = []
    mem = t.get("memory", [])
    if not isinstance(mem, list):
        raise BoardError(f"{where}: memory must be a list of tables")
    for i, r in enumerate(mem):
        r = _table(r, f"{where}: memory[{i}]")
        kind = r.get("kind")
        if kind not in MEMORY_KINDS:
            raise BoardError(f"{where}: memory[{i}].kind must be flash or ram, got {kind!r}")
        regions.append(
            MemoryRegion(
                name=str(r.get("name", f"region{i}")),
                kind=kind,
                start=_int(r.get("start"), f"{where}: memory[{i}].start"),
                size=_int(r.get("size"), f"{where}: memory[{i}].size"),
            )
        )
    if boot == "qemu" and not _table(t.get("qemu"), f"{where}: qemu").get("machine"):
        raise BoardError(f"{where}: boot = 'qemu' needs qemu.machine")
    return Board(
        name=name,
        description=str(t.get("description", "")),
        cpu=t["cpu"],
        arch=str(t.get("arch", "")),
        image_formats=_str_list(t.get("image_formats", ["elf"]), f"{where}: image_formats"),
        boot=boot,
        flash=flash,
        memory=tuple(regions),
        console=_table(t.get("console"), f"{where}: console"),
        network=_table(t.get("network"), f"{where}: network"),
        build_only=bool(t.get("build_only", False)),
        qemu=_table(t.get("qemu"), f"{where}: qemu"),
        openocd=_table(t.get("openocd"), f"{where}: openocd"),
        pyocd=_table(t.get("pyocd"), f"{where}: pyocd"),
        test=_table(t.get("test"), f"{where}: test"),
        toolchain=str(t.get("toolchain", "")),
        cpu_flags=_str_list(t.get("cpu_flags", []), f"{where}: cpu_flags"),
        link=_table(t.get("link"), f"{where}: link"),
        build=_table(t.get("build"), f"{where}: build"),
        slots=_table(t.get("slots"), f"{where}: slots"),
        source=source,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"{path}: cannot read: {exc}") from None


def packaged_boards_dir() -> Path:
    """The folder of board folders the SDK ships: the wheel's ``cymongoose/boards``,
    or ``boards/`` of the source tree this module is in."""
    shipped = Path(str(resources.files("cymongoose"))) / "boards"
    if shipped.is_dir():
        return shipped
    tree = Path(__file__).resolve().parents[3] / "boards"
    if tree.is_dir():
        return tree
    raise BoardError(f"no board files: neither {shipped} nor {tree} exists (broken install?)")


def _board_folders(path: Path) -> list[Path]:
    """The board.toml files of a board folder or of a folder of board folders."""
    if (path / "board.toml").is_file():
        return [path / "board.toml"]
    return sorted(path.glob("*/board.toml"))


def _board_doc(toml: Path) -> tuple[str, dict[str, Any]]:
    """One board.toml as a board map: the board is named after its folder."""
    doc = _read_toml(toml)
    if "boards" in doc:
        raise BoardError(f"{toml}: a board.toml describes one board (its folder's): "
                         "no [boards] tables")
    return str(toml), {"boards": {toml.parent.name: doc}}


def _user_doc(path: Path) -> list[tuple[str, dict[str, Any]]]:
    if path.is_dir():
        tomls = _board_folders(path)
        if not tomls:
            raise BoardError(f"{path}: a folder without board.toml files")
        return [_board_doc(t) for t in tomls]
    if path.name == "board.toml":
        return [_board_doc(path)]
    return [(str(path), _read_toml(path))]


def load_boards(
    extra_files: Iterable[str | os.PathLike[str]] = (),
    *,
    include_user: bool = True,
    env: Mapping[str, str] | None = None,
    boards_dir: str | os.PathLike[str] | None = None,
) -> BoardMap:
    """Load the packaged boards (or those of ``boards_dir``, a folder of board folders),
    then user files, then ``extra_files`` (board maps, board folders or board.toml files)."""
    base = Path(boards_dir) if boards_dir is not None else packaged_boards_dir()
    docs: list[tuple[str, dict[str, Any]]] = [_board_doc(t) for t in _board_folders(base)]
    if not docs:
        raise BoardError(f"{base}: no board folders (boards/<name>/board.toml)")
    paths = list(user_board_files(env)) if include_user else []
    paths += [Path(p) for p in extra_files]
    for path in paths:
        docs.extend(_user_doc(path))

    raw_boards: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    raw_ports: dict[str, Any] = {}
    for label, doc in docs:
        unknown = set(doc) - {"boards", "ports"}
        if unknown:
            raise BoardError(f"{label}: unknown top-level keys {sorted(unknown)}")
        for name, table in _table(doc.get("boards"), f"{label}: boards").items():
            table = _table(table, f"{label}: boards.{name}")
            raw_boards[name] = _merge(raw_boards.get(name, {}), table)
            origin[name] = label if name not in origin else f"{origin[name]} + {label}"
        for name, value in _table(doc.get("ports"), f"{label}: ports").items():
            raw_ports[name] = (label, value)

    boards = {n: _board_from_table(n, t, origin[n]) for n, t in raw_boards.items()}
    ports: dict[str, SerialPort] = {}
    for name, (label, value) in raw_ports.items():
        if isinstance(value, str):
            value = {"url": value}
        value = _table(value, f"{label}: ports.{name}")
        if not isinstance(value.get("url"), str):
            raise BoardError(f"{label}: ports.{name} needs a url string")
        board = value.get("board")
        if board is not None and board not in boards:
            raise BoardError(f"{label}: ports.{name} names unknown board {board!r}")
        baud = value.get("baudrate")
        ports[name] = SerialPort(
            name=name,
            url=value["url"],
            board=board,
            baudrate=_int(baud, f"{label}: ports.{name}.baudrate") if baud is not None else None,
        )
    return BoardMap(boards=boards, ports=ports, sources=[label for label, _ in docs])
