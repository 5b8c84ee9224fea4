#!/usr/bin/env python3
"""Power-fail proof of two-slot updates (issue 17, docs/updates.md).

One full update of a two-slot board (mps2-an385 by default, or --board) in QEMU from the slot A build
(version 1.0.0) to the slot B build (1.1.0), over HTTP and over JSON-RPC on the console,
cut by a system reset (QEMU ``system_reset`` through the gdbstub: the board loses its
RAM and CPU state, the "flash" — slots and boot state — keeps what was written) at many
points spread over the whole update:

- during the transfer (after N bytes of the upload),
- during the slot write (a write watchpoint on a byte of slot B: the erase, or the
  program of that byte),
- between verify and mark (a breakpoint on the read-back check, on the state change),
- during a boot state write (a write watchpoint on a byte of the state copies: the
  update's "test" mark, the bootloader's attempt count, the new image's confirm),
  each write of a byte being two stores: on the MPS2 boards (RAM as flash) its erase and
  its program; on riscv32-virt (CFI flash, boards/riscv32-virt/flash.c) the program command
  and the data, after the block's erase (whose commands go to the block's first word), so
  there "erase" in a point's name means "after the erase, before the program",
- during the first boot of the new image (at console lines: the jump, app start,
  network up, HTTP listening), before the confirm (breakpoint) and after it.

Each point gets a fresh board (bootloader as -kernel, slot A written through the
gdbstub). After the reset the board must boot a valid image and answer the ``info``
RPC within BOUND seconds, and run the slot the boot state says with that slot's
version; a reset before the commit point (the state write marking slot B "test") must
leave the old image, one after the confirm the new. Anything else counts as bricked.

    python bench/ota_powerfail.py [--short] [--board B] [--fw-dir DIR] [--only TEXT]

Last line: ``ota power-fail: N interruptions, M bricked``.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cymongoose.device import QemuTarget
from cymongoose.device.boards import Board, load_boards
from cymongoose.device.gdbremote import GdbClient
from cymongoose.device.rpc import RpcClient
from cymongoose.device.slots import provision, read_state, slot_area, slot_image, state_addresses

ROOT = Path(__file__).resolve().parent.parent
BOARD = "mps2-an385"
BOUND = 20.0  # seconds from the reset to an answered RPC
OLD, NEW = "1.0.0+0", "1.1.0+0"
CHUNK = 1024


@dataclass(frozen=True)
class Point:
    """Where to cut: ``kind`` transfer (arg = bytes sent), watch (arg = address, hit =
    which write of it), break (arg = symbol), console (arg = line regex), after.
    ``expect``: "old", "new" or "" (either, as the boot state says)."""

    path: str  # http or rpc
    kind: str
    arg: int | str
    hit: int = 1
    expect: str = ""
    label: str = ""

    def name(self) -> str:
        arg = f"0x{self.arg:x}" if isinstance(self.arg, int) and self.kind == "watch" else self.arg
        return f"{self.path} {self.kind} {self.label or arg}" + (
            f" hit {self.hit}" if self.kind in ("watch", "break") else "")


def symbols(elf: Path) -> dict[str, int]:
    """Function and object addresses of an ELF (any architecture: pyelftools, which
    cymongoose.device already needs for crash records)."""
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is None:
            raise SystemExit(f"{elf} has no symbol table")
        return {sym.name: int(sym["st_value"]) for sym in symtab.iter_symbols() if sym.name}


def points(board: Board, size: int, short: bool) -> list[Point]:
    b0, _ = slot_area(board, "b")
    s0, s1 = state_addresses(board)
    if short:
        return [
            Point("http", "transfer", 20000, expect="old"),
            Point("rpc", "transfer", 8 * CHUNK, expect="old"),
            Point("http", "watch", b0 + 40000, 2, "old", "slot byte 40000"),
            Point("http", "break", "a:mg_bootstate_set_test", 1, "old", "before mark"),
            Point("http", "watch", s0 + 28, 2, "", "state byte 28 (test mark)"),
            Point("rpc", "watch", s0 + 10, 4, "", "state byte 10 (boot count)"),
            Point("http", "console", r"^net: ready", expect="", label="first boot, net up"),
            Point("http", "console", r"^boot: health check passed", expect="new",
                  label="after confirm"),
        ]
    out: list[Point] = []
    for k in (64, 1024, 5000, 10000, 20000, 35000, 50000, 65000, 80000, size - 1):
        out.append(Point("http", "transfer", min(k, size - 1), expect="old"))
    for k in (0, CHUNK, 8 * CHUNK, 30 * CHUNK, 60 * CHUNK, (size - 1) // CHUNK * CHUNK):
        out.append(Point("rpc", "transfer", k, expect="old"))
    for ofs, label in ((0, "header"), (1024, "vectors"), (40000, "code"),
                       (size - 96, "trailer"), (size - 1, "last byte")):
        for hit, what in ((1, "erase"), (2, "program")):
            out.append(Point("http", "watch", b0 + ofs, hit, "old", f"slot {label} {what}"))
    for ofs in (0, 30000, size - 1):
        out.append(Point("rpc", "watch", b0 + ofs, 2, "old", f"slot byte {ofs} program"))
    for path in ("http", "rpc"):
        out.append(Point(path, "break", "a:slot_check", 1, "old", "read-back verify"))
        out.append(Point(path, "break", "a:mg_bootstate_set_test", 1, "old", "before mark"))
    # State writes: the update's test mark (W1), the bootloader's attempt count (W2)
    # and the confirm (W3); each erases the copy, then programs it (two hits per byte).
    for byte in (0, 4, 9, 10, 27, 28, 31):
        for hit in (1, 2):
            out.append(Point("http", "watch", s0 + byte, hit, "",
                             f"state byte {byte} {'erase' if hit == 1 else 'program'} (mark)"))
    for byte in (10, 31):
        for hit in (3, 4):
            out.append(Point("http", "watch", s0 + byte, hit, "", f"state byte {byte} (boot count)"))
    for byte, hit in ((10, 5), (10, 6), (28, 6), (31, 6)):
        out.append(Point("http", "watch", s0 + byte, hit, "", f"state byte {byte} (confirm)"))
    for byte in (28, 31):
        out.append(Point("rpc", "watch", s0 + byte, 2, "", f"state byte {byte} (mark)"))
    for rx, label in ((r"^boot: slot B \(test", "jump to new"), (r"^cymongoose \S+ on ", "app start"),
                      (r"^net: ready", "net up"), (r"^http: listening", "http up")):
        out.append(Point("http", "console", rx, label=f"first boot, {label}"))
    out.append(Point("rpc", "console", r"^http: listening", label="first boot, http up"))
    for path in ("http", "rpc"):
        out.append(Point(path, "break", "b:mg_bootstate_confirm", 1, "", "before confirm"))
        out.append(Point(path, "console", r"^boot: health check passed", expect="new",
                         label="after confirm"))
    del s1
    return out


class Run:
    """One board, one update, one cut."""

    def __init__(self, ctx: Context, t: QemuTarget, gdb: GdbClient) -> None:
        self.ctx, self.t, self.gdb = ctx, t, gdb
        self.rpc = RpcClient(t.console, timeout=5)
        self.thread: threading.Thread | None = None
        self.update_error = ""  # how the host side of the cut update ended, if it failed

    # ---- the update, whole, in the background --------------------------------------------
    def _http_update(self) -> None:
        body = self.ctx.image_b
        with socket.create_connection(("127.0.0.1", self.t.forwarded[80]), timeout=15) as s:
            s.sendall(f"POST /api/ota?reboot=1 HTTP/1.1\r\nHost: dev\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            s.settimeout(5)
            s.recv(4096)

    def _rpc_update(self) -> None:
        data = self.ctx.image_b
        self.rpc.request("ota.begin", {"size": len(data)}, timeout=5)
        for ofs in range(0, len(data), CHUNK):
            self.rpc.request("ota.write", {"offset": ofs, "data_b64": base64.b64encode(
                data[ofs:ofs + CHUNK]).decode("ascii")}, timeout=5)
        self.rpc.request("ota.end", None, timeout=5)
        self.rpc.request("reboot", {"delay_ms": 50}, timeout=5)

    def start_update(self, path: str) -> None:
        fn: Callable[[], None] = self._http_update if path == "http" else self._rpc_update

        def run() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - a cut update fails on the host side
                self.update_error = f"{type(exc).__name__}: {exc}"

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    # ---- the cut -------------------------------------------------------------------------
    def power_cut(self) -> None:
        self.gdb.interrupt()
        time.sleep(0.05)
        self.t.console.read_available()  # what was printed before the cut
        self.gdb.monitor("system_reset")
        self.gdb.cont()

    def cut_transfer(self, p: Point) -> None:
        data = self.ctx.image_b
        k = int(p.arg)
        if p.path == "http":
            s = socket.create_connection(("127.0.0.1", self.t.forwarded[80]), timeout=15)
            s.sendall(f"POST /api/ota HTTP/1.1\r\nHost: dev\r\nContent-Length: {len(data)}"
                      "\r\n\r\n".encode() + data[:k])
            self.t.console.expect_line(r"^ota: begin", timeout=10)
            time.sleep(0.3)  # let the device take in what was sent
            self.power_cut()
            s.close()
        else:
            self.rpc.request("ota.begin", {"size": len(data)}, timeout=10)
            for ofs in range(0, k, CHUNK):
                self.rpc.request("ota.write", {"offset": ofs, "data_b64": base64.b64encode(
                    data[ofs:ofs + CHUNK]).decode("ascii")}, timeout=10)
            self.power_cut()

    def cut_at_stop(self, p: Point, kind: int, addrs: list[int], length: int) -> None:
        self.gdb.interrupt()
        for a in addrs:
            self.gdb.set_point(kind, a, length)
        self.gdb.cont()
        self.start_update(p.path)
        for n in range(p.hit):
            self.gdb.wait_stop(timeout=30)
            # Stopped before the store (or the call): past it, unless it is the cut.
            for a in addrs:
                self.gdb.set_point(kind, a, length, insert=False)
            if n + 1 < p.hit:
                self.gdb.step()
                for a in addrs:
                    self.gdb.set_point(kind, a, length)
                self.gdb.cont()
        time.sleep(0.05)
        self.t.console.read_available()
        self.gdb.monitor("system_reset")
        self.gdb.cont()

    def cut(self, p: Point) -> None:
        if p.kind == "transfer":
            self.cut_transfer(p)
        elif p.kind == "watch":
            addrs = [int(p.arg)]
            s0, s1 = state_addresses(self.ctx.board)
            if s0 <= int(p.arg) < s0 + 32:  # the same byte of both copies
                addrs.append(s1 + int(p.arg) - s0)
            self.cut_at_stop(p, 2, addrs, 1)
        elif p.kind == "break":
            which, sym = str(p.arg).split(":")
            self.cut_at_stop(p, 1, [self.ctx.syms[which][sym] & ~1], 2)
        elif p.kind == "console":
            self.start_update(p.path)
            if p.path == "rpc":  # the RPC client reads the console: let it finish first
                assert self.thread is not None
                self.thread.join(60)
            self.t.console.expect_line(str(p.arg), timeout=BOUND)
            self.power_cut()
        else:
            raise ValueError(p.kind)

    # ---- after the cut -------------------------------------------------------------------
    def check(self, p: Point) -> tuple[bool, str]:
        """(bricked, what runs)."""
        if self.thread is not None:
            self.thread.join(8)
        deadline = time.monotonic() + BOUND
        info = None
        while time.monotonic() < deadline and info is None:
            try:
                info = self.rpc.request("info", None, timeout=2)
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        if not isinstance(info, dict):
            return True, f"no RPC answer within {BOUND:g} s"
        self.gdb.interrupt()
        st = read_state(self.gdb, self.ctx.board)
        self.gdb.cont()
        slot, version = info.get("slot"), info.get("image_version")
        outcome = "old" if (slot, version) == ("A", OLD) else "new" if (slot, version) == (
            "B", NEW) else f"slot {slot} version {version}"
        what = f"{outcome} (slot {slot}, {'confirmed' if info.get('confirmed') else 'test'})"
        if st is None or "AB"[st.active] != slot:
            return True, f"{what}, but the boot state says {st}"
        if outcome not in ("old", "new"):
            return True, what
        if p.expect and outcome != p.expect:
            return True, f"{what}, expected {p.expect}"
        return False, what


@dataclass
class Context:
    board: Board
    fw: Path
    image_a: bytes
    image_b: bytes
    syms: dict[str, dict[str, int]]
    log_dir: Path


def run_point(ctx: Context, p: Point, n: int) -> tuple[bool, str]:
    log = ctx.log_dir / f"point{n:02d}.log"
    with QemuTarget(ctx.fw / "bootloader.elf", ctx.board, gdb="unix", halted=True, nic="user",
                    hostfwd=[80], log_path=log) as t:
        assert t.gdb is not None
        with GdbClient.connect_address(t.gdb, timeout=30) as gdb:
            provision(gdb, ctx.board, ctx.image_a)
            gdb.cont()
            t.console.expect_line(r"^http: listening", timeout=BOUND)
            run = Run(ctx, t, gdb)
            try:
                run.cut(p)
            except Exception as exc:  # noqa: BLE001 - the cut itself failed: report it
                return True, f"cut not reached: {type(exc).__name__}: {exc}"
            return run.check(p)


def make_context(fw: Path, board_name: str = BOARD) -> Context:
    board = load_boards().get(board_name)
    a, b = fw / "device_app_slot_a.elf", fw / "device_app_slot_b.elf"
    for f in (fw / "bootloader.elf", a, b):
        if not f.is_file():
            raise SystemExit(f"{f} is not built (make fw)")
    log_dir = ROOT / "build" / "test-artifacts" / "ota_powerfail" / board.name
    log_dir.mkdir(parents=True, exist_ok=True)
    return Context(board, fw, slot_image(a, board, OLD.split("+")[0]),
                   slot_image(b, board, NEW.split("+")[0]),
                   {"a": symbols(a), "b": symbols(b)}, log_dir)


def run_all(ctx: Context, pts: list[Point], say: Callable[[str], None] = print) -> tuple[int, int]:
    bricked = 0
    for n, p in enumerate(pts):
        t0 = time.monotonic()
        bad, what = run_point(ctx, p, n)
        bricked += bad
        say(f"{n + 1:3d} {p.name():55s} {'BRICKED' if bad else 'ok':7s} {what} "
            f"({time.monotonic() - t0:.1f} s)")
    return len(pts), bricked


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="8 points (what make test runs)")
    ap.add_argument("--board", default=BOARD, help=f"a board with [slots] (default {BOARD})")
    ap.add_argument("--fw-dir", type=Path, help="its images (default: build/fw for "
                    f"{BOARD} or $MG_FW_DIR, else build/fw-BOARD)")
    ap.add_argument("--only", help="only points whose name contains this text")
    args = ap.parse_args()
    fw = args.fw_dir or (Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw"))
                         if args.board == BOARD else ROOT / "build" / f"fw-{args.board}")
    ctx = make_context(fw, args.board)
    pts = points(ctx.board, len(ctx.image_b), args.short)
    if args.only:
        pts = [p for p in pts if args.only in p.name()]
    t0 = time.monotonic()
    n, bricked = run_all(ctx, pts)
    print(f"# {args.board}: {time.monotonic() - t0:.0f} s, load {os.getloadavg()[0]:.1f}; "
          f"image {len(ctx.image_b)} bytes")
    print(f"ota power-fail: {n} interruptions, {bricked} bricked")
    return 1 if bricked else 0


if __name__ == "__main__":
    sys.exit(main())
