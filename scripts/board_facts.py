"""A board's facts (boards/<name>/board.toml) as the firmware build needs them.

CMake runs this at configure time (boards/common.cmake) and includes what it writes:

    python3 scripts/board_facts.py BOARD_DIR OUT_DIR

- OUT_DIR/board_facts.cmake: MG_BOARD_* variables (CPU flags, toolchain, the driver to
  link, link flags, size targets, apps to skip);
- OUT_DIR/board_memory.ld: the linker script's MEMORY regions and the MG_* symbols the
  shared section scripts use (boards/common/cortex-m.ld, boards/common/riscv/riscv.ld);
- for a board with a [slots] table (two-slot updates, docs/updates.md), the same file with
  CODE moved into the bootloader's region (OUT_DIR/boot/), slot A's (OUT_DIR/slot_a/) and
  slot B's (OUT_DIR/slot_b/); the C macros of the layout go into MG_BOARD_SLOT_DEFINES.
  The slots lie in link.code, or in the flash region slots.region names (a board whose
  plain images run from RAM: only its slot builds get a CODE region);
- every board_memory.ld aliases MG_TEXT to the region code is linked into (CODE, or RAM).

A file is rewritten only when its text changes, so an unchanged board.toml relinks nothing.
Standard library only (it runs before anything is installed). Errors name the board file
and exit with status 1.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10: the backport the SDK also uses
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
# Regions the section scripts place code and data in; other regions keep their own name.
LINK_NAMES = ("CODE", "RAM")


class FactError(Exception):
    pass


def read_board(board_dir: Path) -> dict[str, Any]:
    path = board_dir / "board.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FactError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FactError(f"{path}: not valid TOML: {exc}") from None


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FactError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FactError(f"{what} must be a list of strings, got {value!r}")
    return list(value)


def ld_name(name: str) -> str:
    """The linker name of a region: upper case, [A-Z0-9_]."""
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def memory_layout(board: dict[str, Any], where: str) -> dict[str, Any]:
    """The linker's view of [link] over memory: CODE and RAM (origin, size), the
    other regions by name, the stack size and the minimum heap."""
    regions: dict[str, tuple[str, int, int]] = {}
    memory = board.get("memory", [])
    if not isinstance(memory, list):
        raise FactError(f"{where}: memory must be a list of tables")
    for i, r in enumerate(memory):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise FactError(f"{where}: memory[{i}] must be a table with a name")
        if r.get("kind") not in ("flash", "ram"):
            raise FactError(f"{where}: memory[{i}].kind must be flash or ram, got {r.get('kind')!r}")
        regions[r["name"]] = (r["kind"], _int(r.get("start"), f"{where}: memory[{i}].start"),
                              _int(r.get("size"), f"{where}: memory[{i}].size"))
    link = board.get("link")
    if not isinstance(link, dict):
        raise FactError(f"{where}: a firmware board needs a [link] table (code, ram, "
                        "stack_size, heap_min)")

    def span(key: str) -> tuple[int, int, list[str]] | None:
        names = link.get(key)
        if names is None:
            return None
        names = [names] if isinstance(names, str) else _str_list(names, f"{where}: link.{key}")
        if not names:
            raise FactError(f"{where}: link.{key} names no region")
        start = end = None
        for n in names:
            if n not in regions:
                raise FactError(f"{where}: link.{key} names {n!r}, which is not in memory "
                                f"(regions: {', '.join(regions) or 'none'})")
            _, s, size = regions[n]
            if end is not None and s != end:
                raise FactError(f"{where}: link.{key}: region {n!r} does not follow the one "
                                "before it (regions of one link area must be contiguous)")
            start = s if start is None else start
            end = s + size
        assert start is not None and end is not None
        return start, end - start, names

    ram = span("ram")
    if ram is None:
        raise FactError(f"{where}: link.ram must name the RAM region(s)")
    code = span("code")
    out: dict[str, Any] = {"regions": {}, "used": set(ram[2])}
    ram_size = link.get("ram_size")
    if ram_size is not None:
        ram_size = _int(ram_size, f"{where}: link.ram_size")
        if not 0 < ram_size <= ram[1]:
            raise FactError(f"{where}: link.ram_size {ram_size:#x} does not fit link.ram "
                            f"({ram[1]:#x} bytes)")
    out["RAM"] = (ram[0], ram_size or ram[1])
    if code is not None:
        offset = _int(link.get("code_offset", 0), f"{where}: link.code_offset")
        if offset >= code[1]:
            raise FactError(f"{where}: link.code_offset {offset:#x} is past the end of link.code")
        out["CODE"] = (code[0] + offset, code[1] - offset)
        out["used"] |= set(code[2])
    elif "code_offset" in link:
        raise FactError(f"{where}: link.code_offset without link.code")
    for name, (kind, start, size) in regions.items():
        ident = ld_name(name)
        if ident in LINK_NAMES or ident in ("STACK", "HEAP"):
            raise FactError(f"{where}: memory region name {name!r} clashes with the linker's "
                            f"{ident} (rename the region)")
        out["regions"][ident] = (kind, start, size, name in out["used"])
    out["stack_size"] = _int(link.get("stack_size"), f"{where}: link.stack_size")
    out["heap_min"] = _int(link.get("heap_min", 0), f"{where}: link.heap_min")
    return out


# Room after a slot's payload for the image trailer (mg_image.h: 96 bytes), rounded up.
SLOT_TRAILER_ROOM = 0x100


def slot_layout(board: dict[str, Any], where: str) -> dict[str, Any] | None:
    """The [slots] table checked: every area inside the code region, aligned to the
    sector, none overlapping. None when the board has no [slots]."""
    slots = board.get("slots")
    if slots is None:
        return None
    if not isinstance(slots, dict):
        raise FactError(f"{where}: slots must be a table")
    lay = memory_layout(board, where)
    region = slots.get("region")
    if region is not None:
        # A board whose plain images run from RAM keeps its slots in a flash region
        # of their own: only the slot builds run code from there.
        flash = {r.get("name"): r for r in board.get("memory", []) if isinstance(r, dict)}
        if not isinstance(region, str) or region not in flash:
            raise FactError(f"{where}: slots.region must name a memory region, got {region!r}")
        if flash[region].get("kind") != "flash":
            raise FactError(f"{where}: slots.region {region!r} is not flash")
        code_start, code_size = int(flash[region]["start"]), int(flash[region]["size"])
    elif "CODE" in lay:
        code_start, code_size = lay["CODE"]
    else:
        raise FactError(f"{where}: [slots] needs link.code or slots.region")
    sector = _int(slots.get("sector"), f"{where}: slots.sector")
    room = _int(slots.get("header_room"), f"{where}: slots.header_room")
    if sector == 0 or sector & (sector - 1):
        raise FactError(f"{where}: slots.sector must be a power of two")
    if room < 0x100 or room % 0x100:
        raise FactError(f"{where}: slots.header_room must be a multiple of 0x100 (vector table)")

    def area(key: str) -> tuple[int, int]:
        a = slots.get(key)
        if not isinstance(a, dict):
            raise FactError(f"{where}: slots.{key} must be a table {{start, size}}")
        return (_int(a.get("start"), f"{where}: slots.{key}.start"),
                _int(a.get("size"), f"{where}: slots.{key}.size"))

    state = slots.get("state")
    if not isinstance(state, list) or len(state) != 2:
        raise FactError(f"{where}: slots.state must list the two state copies' addresses")
    areas = {"boot": area("boot"), "a": area("a"), "b": area("b"),
             "state0": (_int(state[0], f"{where}: slots.state[0]"), sector),
             "state1": (_int(state[1], f"{where}: slots.state[1]"), sector)}
    for key, (start, size) in areas.items():
        if start % sector or size % sector or size == 0:
            raise FactError(f"{where}: slots.{key} is not sector-aligned ({sector:#x})")
        if start < code_start or start + size > code_start + code_size:
            raise FactError(f"{where}: slots.{key} is outside the code region")
    spans = sorted(areas.items(), key=lambda kv: kv[1][0])
    for (k1, (s1, n1)), (k2, (s2, _)) in itertools.pairwise(spans):
        if s1 + n1 > s2:
            raise FactError(f"{where}: slots.{k1} overlaps slots.{k2}")
    if areas["boot"][0] != code_start:
        raise FactError(f"{where}: slots.boot must start the code region (the CPU boots there)")
    for key in ("a", "b"):
        if areas[key][1] <= room + SLOT_TRAILER_ROOM:
            raise FactError(f"{where}: slots.{key} is smaller than its header and trailer")
    return {"areas": areas, "room": room, "sector": sector,
            "region": ld_name(region) if isinstance(region, str) else None}


def slot_codes(slots: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The CODE region of each link variant: bootloader, slot A, slot B."""
    areas, room = slots["areas"], slots["room"]
    out = {"boot": areas["boot"]}
    for key in ("a", "b"):
        start, size = areas[key]
        out[f"slot_{key}"] = (start + room, size - room - SLOT_TRAILER_ROOM)
    return out


def slot_defines(slots: dict[str, Any] | None) -> list[str]:
    if slots is None:
        return []
    a = slots["areas"]
    return [f"MG_BOARD_BOOT_START={a['boot'][0]:#x}", f"MG_BOARD_BOOT_SIZE={a['boot'][1]:#x}",
            f"MG_BOARD_STATE0={a['state0'][0]:#x}", f"MG_BOARD_STATE1={a['state1'][0]:#x}",
            f"MG_BOARD_SECTOR={slots['sector']:#x}",
            f"MG_BOARD_SLOT0_START={a['a'][0]:#x}", f"MG_BOARD_SLOT0_SIZE={a['a'][1]:#x}",
            f"MG_BOARD_SLOT1_START={a['b'][0]:#x}", f"MG_BOARD_SLOT1_SIZE={a['b'][1]:#x}",
            f"MG_BOARD_SLOT_HEADER_ROOM={slots['room']:#x}"]


def memory_ld(board: dict[str, Any], name: str, where: str,
              code: tuple[int, int] | None = None, code_region: str | None = None) -> str:
    lay = memory_layout(board, where)
    if code is not None:
        lay["CODE"] = code
    if code_region is not None:  # CODE lies in this region: not a region of its own
        kind, start, size, _ = lay["regions"][code_region]
        lay["regions"][code_region] = (kind, start, size, True)
    lines = [f"/* Generated from {where} by scripts/board_facts.py: edit board.toml, not this. */",
             ""]
    for ident in LINK_NAMES:
        if ident in lay:
            start, size = lay[ident]
            lines += [f"MG_{ident}_ORIGIN = {start:#010x};", f"MG_{ident}_SIZE = {size:#x};"]
    for ident, (_, start, size, _) in lay["regions"].items():
        lines += [f"MG_{ident}_ORIGIN = {start:#010x};", f"MG_{ident}_SIZE = {size:#x};"]
    lines += [f"MG_STACK_SIZE = {lay['stack_size']:#x};", f"MG_HEAP_MIN = {lay['heap_min']:#x};",
              "", "MEMORY", "{"]
    if "CODE" in lay:
        lines.append("  CODE (rx) : ORIGIN = MG_CODE_ORIGIN, LENGTH = MG_CODE_SIZE")
    lines.append("  RAM (rwx) : ORIGIN = MG_RAM_ORIGIN, LENGTH = MG_RAM_SIZE")
    # Regions outside CODE and RAM, for a board script's own sections (.eth_dma ...).
    for ident, (kind, _, _, used) in lay["regions"].items():
        if not used:
            attrs = "rx" if kind == "flash" else "rw"
            lines.append(f"  {ident} ({attrs}) : ORIGIN = MG_{ident}_ORIGIN, "
                         f"LENGTH = MG_{ident}_SIZE")
    lines += ["}", ""]
    # Where code goes: CODE, or RAM for an image that runs from RAM (the section
    # scripts place .text in MG_TEXT and load .data from it).
    lines += [f"REGION_ALIAS(\"MG_TEXT\", {'CODE' if 'CODE' in lay else 'RAM'});", ""]
    return "\n".join(lines)


def driver_source(driver: str) -> Path:
    return REPO / "src" / "drivers" / (driver.replace("-", "_") + ".c")


def cmake_facts(board: dict[str, Any], name: str, where: str) -> str:
    def q(value: str) -> str:
        return "[==[" + value + "]==]"

    def lst(values: list[str]) -> str:
        return " ".join(q(v) for v in values)

    toolchain = board.get("toolchain", "")
    if not isinstance(toolchain, str):
        raise FactError(f"{where}: toolchain must be a string")
    cpu_flags = _str_list(board.get("cpu_flags"), f"{where}: cpu_flags")
    network = board.get("network", {})
    if not isinstance(network, dict):
        raise FactError(f"{where}: network must be a table")
    driver = network.get("driver", "")
    defines: list[str] = []
    if driver:
        if not isinstance(driver, str) or not driver_source(driver).is_file():
            raise FactError(f"{where}: network.driver {driver!r} has no driver "
                            f"{driver_source(str(driver)).relative_to(REPO)}")
        defines.append("MG_ENABLE_DRIVER_" + ld_name(driver) + "=1")
    build = board.get("build", {})
    if not isinstance(build, dict):
        raise FactError(f"{where}: build must be a table")
    link = board.get("link") or {}
    slots = slot_layout(board, where) if link else None
    try:  # the RAM the firmware links into (boards without [link], e.g. host: 0)
        ram_bytes = memory_layout(board, where)["RAM"][1] if link else 0
    except FactError:
        ram_bytes = 0
    lines = [
        f"# Generated from {where} by scripts/board_facts.py: edit board.toml, not this.",
        f"set(MG_BOARD_NAME {q(name)})",
        f"set(MG_BOARD_ARCH {q(str(board.get('arch', '')))})",
        f"set(MG_BOARD_TOOLCHAIN {q(toolchain)})",
        f"set(MG_BOARD_CPU_FLAGS {lst(cpu_flags)})",
        f"set(MG_BOARD_DRIVER {q(str(driver))})",
        f"set(MG_BOARD_DRIVER_DEFINES {lst(defines)})",
        f"set(MG_BOARD_HAS_ETH {'ON' if driver else 'OFF'})",
        f"set(MG_BOARD_RAM_BYTES {ram_bytes})",
        f"set(MG_BOARD_SIZE_TARGETS {'ON' if build.get('size_targets') else 'OFF'})",
        f"set(MG_BOARD_SKIP_APPS {lst(_str_list(build.get('skip_apps', []), f'{where}: build.skip_apps'))})",
        f"set(MG_BOARD_LINK_FLAGS {lst(_str_list(link.get('flags', []), f'{where}: link.flags'))})",
        f"set(MG_BOARD_HAS_SLOTS {'ON' if slots else 'OFF'})",
        f"set(MG_BOARD_SLOT_DEFINES {lst(slot_defines(slots))})",
        "",
    ]
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: board_facts.py BOARD_DIR OUT_DIR", file=sys.stderr)
        return 2
    board_dir, out_dir = Path(argv[0]).resolve(), Path(argv[1])
    where = str(board_dir / "board.toml")
    try:
        board = read_board(board_dir)
        cmake = cmake_facts(board, board_dir.name, where)
        ld = memory_ld(board, board_dir.name, where)
        slots = slot_layout(board, where) if board.get("link") else None
        variants = {k: memory_ld(board, board_dir.name, where, code, slots["region"])
                    for k, code in slot_codes(slots).items()} if slots else {}
    except FactError as exc:
        print(f"board_facts: {exc}", file=sys.stderr)
        return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    write_if_changed(out_dir / "board_facts.cmake", cmake)
    write_if_changed(out_dir / "board_memory.ld", ld)
    for sub, text in variants.items():
        (out_dir / sub).mkdir(exist_ok=True)
        write_if_changed(out_dir / sub / "board_memory.ld", text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
