"""OpenOCD and pyOCD backends driven against fake executables on PATH.

The fakes record their command lines and behave like the real tools in the
cases we handle: success, verify mismatch, no probe, hangs. The pyOCD fake keeps
the "flash" in a file, so read-back verification compares real bytes.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
from cymongoose.device.boards import load_boards
from cymongoose.device.errors import FlashError, NotAvailableError, VerifyError
from cymongoose.device.flash import OpenOcdFlasher, PyOcdFlasher, TtyProgress, get_flasher
from cymongoose.device.image import load_image

F7 = load_boards(include_user=False).get("nucleo-f746zg")
PYTHON_SRC = Path(__file__).resolve().parents[3] / "python"

FAKE_OPENOCD = """
import json, os, re, sys, time
log = os.environ["FAKE_LOG"]
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
mode = os.environ.get("FAKE_MODE", "ok")
err = sys.stderr
print("Open On-Chip Debugger 0.12.0 (fake)", file=err)
if mode == "no-probe":
    print("Error: open failed", file=err)
    print("in procedure 'program'", file=err)
    sys.exit(1)
if mode == "hang":
    time.sleep(60)
cmd = sys.argv[sys.argv.index("-c") + 1]
m = re.match(r"program \\{(.+?)\\}", cmd)
if not m or not os.path.exists(m.group(1)):
    print("Error: couldn't open image", file=err)
    sys.exit(1)
print("** Programming Started **", file=err)
print("** Programming Finished **", file=err)
if " verify" in cmd:
    print("** Verify Started **", file=err)
    if mode == "verify-fail":
        print("checksum mismatch - attempting binary compare", file=err)
        print("diff 0 address 0x08000124. Was 0xff instead of 0x2a", file=err)
        print("** Verify Failed **", file=err)
        sys.exit(1)
    print("** Verified OK **", file=err)
print("** Resetting Target **", file=err)
print("shutdown command invoked", file=err)
"""

FAKE_PYOCD = """
import json, os, sys
from pathlib import Path
from cymongoose.device.image import load_image
log, mem_file = os.environ["FAKE_LOG"], Path(os.environ["FAKE_MEM"])
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
mode = os.environ.get("FAKE_MODE", "ok")
args = sys.argv[1:]
mem = json.loads(mem_file.read_text()) if mem_file.exists() else {}
if args[0] == "flash":
    if mode == "no-probe":
        print("0000123 C No connected debug probes [__main__]", file=sys.stderr)
        sys.exit(1)
    base = int(args[args.index("--base-address") + 1], 16) if "--base-address" in args else None
    img = load_image(args[-1], base=base)
    for seg in img.segments:
        data = bytearray(seg.data)
        if mode == "corrupt":
            data[0x40] ^= 0x01
        mem[str(seg.address)] = data.hex()
    mem_file.write_text(json.dumps(mem))
    print("[====================] 100%")
elif args[0] == "commander":
    if mode == "readback-fail":
        print("Error: transfer fault", file=sys.stderr)
        sys.exit(1)
    for i, a in enumerate(args):
        if a == "-c":
            _, addr, length, out = args[i + 1].split()
            addr, length = int(addr, 16), int(length)
            blob = b""
            for start, hexdata in mem.items():
                data = bytes.fromhex(hexdata)
                if int(start) <= addr < int(start) + len(data):
                    off = addr - int(start)
                    blob = data[off:off + length]
            Path(out).write_bytes(blob)
"""


def install_fake(bindir: Path, name: str, body: str) -> None:
    exe = bindir / name
    exe.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    install_fake(bindir, "openocd", FAKE_OPENOCD)
    install_fake(bindir, "pyocd", FAKE_PYOCD)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_MEM", str(tmp_path / "mem.json"))
    monkeypatch.setenv("PYTHONPATH", str(PYTHON_SRC))
    return tmp_path


def calls(tmp: Path) -> list[list[str]]:
    return [json.loads(ln) for ln in (tmp / "calls.jsonl").read_text().splitlines()]


@pytest.fixture
def f7_bin(tmp_path: Path) -> Path:
    f = tmp_path / "fw.bin"
    f.write_bytes(bytes(range(256)) * 16)
    return f


def test_openocd_command_line_and_success(fakes: Path, testfw: Path, f7_bin: Path) -> None:
    elf = load_image(testfw)
    r = OpenOcdFlasher(F7).flash(elf)
    assert r.verified and r.verify_method == "openocd verify"
    assert calls(fakes)[-1] == ["-f", "board/st_nucleo_f7.cfg", "-c",
                                f"program {{{testfw}}} verify reset exit"]
    OpenOcdFlasher(F7).flash(load_image(f7_bin, board=F7), verify=False)
    assert calls(fakes)[-1][-1] == f"program {{{f7_bin}}} 0x08000000 reset exit"


def test_openocd_verify_failure_names_the_address(fakes: Path, f7_bin: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "verify-fail")
    with pytest.raises(VerifyError) as info:
        OpenOcdFlasher(F7).flash(load_image(f7_bin, board=F7))
    assert info.value.address == 0x08000124
    assert (info.value.expected, info.value.actual) == (0x2A, 0xFF)


def test_openocd_tool_errors(fakes: Path, f7_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_MODE", "no-probe")
    with pytest.raises(FlashError, match=r"exited with code 1:[\s\S]*Error: open failed"):
        OpenOcdFlasher(F7).flash(load_image(f7_bin, board=F7))
    monkeypatch.setenv("FAKE_MODE", "hang")
    with pytest.raises(FlashError, match="did not finish within 1 s"):
        OpenOcdFlasher(F7, timeout=1).flash(load_image(f7_bin, board=F7))
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NotAvailableError, match="'openocd', which is not on PATH"):
        OpenOcdFlasher(F7).flash(load_image(f7_bin, board=F7))


def test_pyocd_flash_and_readback_verify(fakes: Path, testfw: Path) -> None:
    img = load_image(testfw)
    r = PyOcdFlasher(F7).flash(img)
    assert r.verified and r.verify_method == "read-back"
    flash_call, readback = calls(fakes)
    assert flash_call == ["flash", "-t", "stm32f746zgtx", str(testfw)]
    assert readback[:3] == ["commander", "-t", "stm32f746zgtx"]
    saves = [readback[i + 1] for i, a in enumerate(readback) if a == "-c"]
    assert [s.split()[:3] for s in saves] == [
        ["savemem", f"0x{seg.address:08x}", str(len(seg.data))] for seg in img.segments
    ]


def test_pyocd_mismatch_and_errors(fakes: Path, f7_bin: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    img = load_image(f7_bin, board=F7)
    monkeypatch.setenv("FAKE_MODE", "corrupt")
    with pytest.raises(VerifyError) as info:
        PyOcdFlasher(F7).flash(img)
    assert info.value.address == 0x08000040
    assert calls(fakes)[0][-3:] == ["--base-address", "0x08000000", str(f7_bin)]
    # Without verify, the same corruption goes unnoticed (and says so).
    r = PyOcdFlasher(F7).flash(img, verify=False)
    assert not r.verified and "NOT verified" in r.summary()
    monkeypatch.setenv("FAKE_MODE", "no-probe")
    with pytest.raises(FlashError, match="No connected debug probes"):
        PyOcdFlasher(F7).flash(img)
    monkeypatch.setenv("FAKE_MODE", "readback-fail")
    with pytest.raises(FlashError, match="read-back exited with code 1[\\s\\S]*transfer fault"):
        PyOcdFlasher(F7).flash(img)


def test_backend_selection_and_config_errors() -> None:
    assert isinstance(get_flasher("openocd", F7), OpenOcdFlasher)
    assert get_flasher("pyocd", F7).target == "stm32f746zgtx"  # type: ignore[attr-defined]
    qemu_board = load_boards(include_user=False).get("mps2-an385")
    with pytest.raises(FlashError, match="openocd needs configuration"):
        get_flasher("openocd", qemu_board)
    with pytest.raises(FlashError, match="needs a connected GdbClient"):
        get_flasher("gdb", F7)
    with pytest.raises(FlashError, match="unknown flash backend 'jlink'"):
        get_flasher("jlink", F7)


def test_progress_bar_only_on_a_tty(tmp_path: Path) -> None:
    class Tty:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    tty = Tty()
    bar = TtyProgress(tty, width=10)  # type: ignore[arg-type]
    bar(512, 1024, "write")
    bar(1024, 1024, "write")
    assert "[#####     ]  50.0%" in tty.text and "[##########] 100.0%" in tty.text
    assert tty.text.endswith("\n")
    with (tmp_path / "out.txt").open("w") as f:
        quiet = TtyProgress(f)
        quiet(1, 2, "write")
    assert (tmp_path / "out.txt").read_text() == ""


@pytest.mark.parametrize("mode", ["ok", "verify-fail"])
def test_dut_flashes_a_real_board_once_per_session(fakes: Path, f7_bin: Path, mode: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``--flash openocd`` in the pytest plugin: one flash for the whole session; a failed
    flash fails every test that wants the board, without flashing again."""
    import socket
    import threading

    from test_device_plugin import run_pytest

    monkeypatch.setenv("FAKE_MODE", mode)
    # The board's console: a socket:// port that accepts and stays quiet.
    srv = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        out = run_pytest(fakes, """
            def test_one(dut):
                assert dut.flash_result is not None and dut.board.name == "nucleo-f746zg"

            def test_two(dut):
                assert dut.flash_result is not None
            """, "--board", "nucleo-f746zg", "--port", f"socket://127.0.0.1:{srv.getsockname()[1]}",
            "--flash", "openocd", "--firmware", str(f7_bin))
    finally:
        stop.set()
        th.join()
        srv.close()
        for c in conns:
            c.close()
    flashes = [c for c in calls(fakes) if any(a.startswith("program ") for a in c)]
    assert len(flashes) == 1, calls(fakes)
    if mode == "ok":
        assert "2 passed" in out.stdout, out.stdout + out.stderr
    else:
        assert "2 errors" in out.stdout or "2 failed" in out.stdout, out.stdout + out.stderr
        assert "0x08000124" in out.stdout, out.stdout  # the verify error, for each test
