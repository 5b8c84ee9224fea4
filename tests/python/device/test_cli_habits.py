"""The `cymongoose` command's habits: --version, python -m cymongoose, exit codes, one-line usage
errors with a close match, named argument types, `ports`, `--json`. Run as subprocesses."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cymongoose
import cymongoose.device
import pytest
from cymongoose.device import cli as cli_mod
from cymongoose.device.boards import load_boards

PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]


def run(*args: str, module: str = "cymongoose.device.cli",
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    env.pop("CYMONGOOSE_BOARDS", None)
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=cwd, check=False)


def usage_error(*args: str) -> str:
    """Run a command that must be a usage error: exit 2, nothing on stdout, one line on stderr.
    (From /, so that a command that wrongly runs finds no source tree to build.)"""
    out = run(*args, cwd=Path("/"))
    assert out.returncode == 2, (args, out.returncode, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert "<lambda>" not in lines[0] and "Traceback" not in lines[0]
    return lines[0]


def test_version_and_python_m_cymongoose_are_the_same_cli() -> None:
    want = f"cymongoose {cymongoose.__version__} (distribution cymongoose-sdk, Python "
    for module in ("cymongoose", "cymongoose.device.cli"):
        for flag in ("--version", "-V"):
            out = run(flag, module=module)
            assert out.returncode == 0 and out.stdout.startswith(want), out.stdout + out.stderr
    assert run("--help", module="cymongoose").stdout == run("--help").stdout
    assert "    ports " in run("--help", module="cymongoose").stdout
    boards = run("boards", module="cymongoose")
    assert boards.returncode == 0 and "mps2-an385" in boards.stdout


def test_unknown_board_is_a_usage_error_with_a_close_match(tmp_path: Path) -> None:
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"\0" * 16)
    assert usage_error("boards", "mps2-an38") == \
        "cymongoose boards: error: unknown board 'mps2-an38'; did you mean mps2-an385?"
    assert usage_error("flash", "--board", "mps2-an3", str(fw)) == \
        "cymongoose flash: error: unknown board 'mps2-an3'; did you mean mps2-an385?"
    assert usage_error("console", "--board", "nucleo-f764zg").endswith(
        "unknown board 'nucleo-f764zg'; did you mean nucleo-f746zg?")
    # A prefix of several boards names them all (the packaged map has two MPS2 boards).
    names = sorted(load_boards(include_user=False).boards)
    mps2 = [n for n in names if n.startswith("mps2")]
    assert len(mps2) == 2
    assert usage_error("boards", "mps2") == \
        f"cymongoose boards: error: unknown board 'mps2'; did you mean {mps2[0]} or {mps2[1]}?"
    assert usage_error("build", "--board", "zzz") == (
        f"cymongoose build: error: unknown board 'zzz' (known boards: {', '.join(names)})")


def test_unknown_command_and_option_suggest_a_close_match() -> None:
    assert usage_error("bords") == \
        "cymongoose: error: unknown command 'bords'; did you mean boards? (try 'cymongoose --help')"
    line = usage_error("boards", "--jsn")
    assert "unrecognized arguments: --jsn; did you mean --json?" in line
    line = usage_error("flash", "--backend", "opencd", "x")
    assert "argument --backend: invalid choice 'opencd'; did you mean openocd?" in line


def test_missing_option_or_file_is_a_usage_error(tmp_path: Path) -> None:
    line = usage_error("build")
    assert line.startswith("cymongoose build: error: the following arguments are required: "
                           "--board")
    assert "cymongoose flash: error: the following arguments are required: image" in \
        usage_error("flash")
    (tmp_path / "hello_fw.elf").write_bytes(b"\x7fELF")
    line = usage_error("console", "--firmware", str(tmp_path / "hello_fw.el"))
    assert (f"argument --firmware: no such file: {tmp_path / 'hello_fw.el'}; did you mean "
            f"{tmp_path / 'hello_fw.elf'}?") in line
    assert f"argument image: no such file: {tmp_path / 'none.bin'}" in \
        usage_error("flash", "--board", "mps2-an385", str(tmp_path / "none.bin"))
    assert f"argument --boards-file: no such file: {tmp_path / 'lab.toml'}" in \
        usage_error("--boards-file", str(tmp_path / "lab.toml"), "boards")
    assert "is a directory, not a file" in usage_error("flash", "--board", "host", str(tmp_path))
    # Options that only make sense together.
    fw = tmp_path / "hello_fw.elf"
    assert "cymongoose flash: error: give --board NAME" in usage_error("flash", str(fw))
    assert "give --firmware FILE" in usage_error("console", "--board", "mps2-an385")


@pytest.mark.parametrize(("args", "message"), [
    (("flash", "--board", "mps2-an385", "--base", "zz", "F"),
     "argument --base: want an address such as 0x08000000, got 'zz'"),
    (("build", "--board", "host", "-j", "0"), "argument -j/--jobs: want a number above 0, got '0'"),
    (("console", "--port", "x", "--baudrate", "fast"),
     "argument --baudrate: want a whole number, got 'fast'"),
    (("rpc", "--timeout", "-1", "info"),
     "argument --timeout: want a number of seconds above 0, got '-1'"),
    (("bridge", "--duration", "nan"), "argument --duration: want a number of seconds above 0"),
])
def test_bad_values_name_the_option(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    fw = tmp_path / "F"
    fw.write_bytes(b"\0")
    assert message in usage_error(*(str(fw) if a == "F" else a for a in args))


def test_no_argument_type_is_an_anonymous_function() -> None:
    # argparse names a failing type by its __name__: a lambda would print "invalid <lambda> value".
    parsers = [cli_mod.build_parser()]
    seen = 0
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.type is not None:
                seen += 1
                assert getattr(action.type, "__name__", "") != "<lambda>", action.option_strings
    assert seen >= 15


def test_runtime_failures_exit_1(tmp_path: Path) -> None:
    out = run("console", "--port", "/dev/ttyNOPE0", "--expect", "x")
    assert out.returncode == 1 and "cannot open serial port /dev/ttyNOPE0" in out.stderr
    out = run("build", "--board", "mps2-an385", "--source", str(tmp_path))
    assert out.returncode == 1 and "not a cymongoose source tree" in out.stderr


def test_boards_json_is_one_object_on_stdout() -> None:
    out = run("boards", "--json")
    assert out.returncode == 0 and out.stderr == ""
    data = json.loads(out.stdout)
    assert isinstance(data, dict) and set(data) == {"boards", "ports"}
    assert "mps2-an385" in [b["name"] for b in data["boards"]]
    one = json.loads(run("boards", "mps2-an385", "--json").stdout)
    assert one["name"] == "mps2-an385" and one["boot"] == "qemu"


PORTS_SCRIPT = textwrap.dedent("""
    import sys
    from types import SimpleNamespace
    from serial.tools import list_ports
    def port(device, vid=None, pid=None, serial=None, desc="n/a", hwid="n/a"):
        return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial,
                               description=desc, manufacturer=None, hwid=hwid)
    ports = [port("/dev/ttyFAKE1", 0x0483, 0x374B, "066DFF535155", "STM32 STLink",
                  "USB VID:PID=0483:374B SER=066DFF535155"),
             port("/dev/ttyFAKE0")] if sys.argv[1] == "two" else []
    list_ports.comports = lambda include_links=False: ports
    from cymongoose.device.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def run_ports(which: str, *args: str, boards: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT), CYMONGOOSE_BOARDS=str(boards))
    return subprocess.run([sys.executable, "-c", PORTS_SCRIPT, which, "ports", *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def test_ports_lists_serial_ports_and_the_boards_they_are(tmp_path: Path) -> None:
    boards = tmp_path / "lab.toml"
    boards.write_text('[ports.desk-f7]\nurl = "/dev/ttyFAKE1"\nboard = "nucleo-f746zg"\n\n'
                      '[boards.mps2-an385.console]\nport = "/dev/ttyFAKE0"\n')
    out = run_ports("two", "--json", boards=boards)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    data = json.loads(out.stdout)
    assert [p["device"] for p in data["ports"]] == ["/dev/ttyFAKE0", "/dev/ttyFAKE1"]
    fake0, stlink = data["ports"]
    assert stlink["vid_pid"] == "0483:374b" and stlink["serial_number"] == "066DFF535155"
    assert stlink["description"] == "STM32 STLink"
    assert stlink["matches"] == ["port desk-f7 (board nucleo-f746zg)"]
    assert fake0["vid_pid"] is None and fake0["description"] == "" and fake0["hwid"] == ""
    assert fake0["matches"] == ["console of board mps2-an385"]

    out = run_ports("two", boards=boards)
    assert out.returncode == 0
    first, second = out.stdout.splitlines()
    assert first.split() == ["/dev/ttyFAKE0", "-", "-", "-", "=", "console", "of", "board",
                             "mps2-an385"]
    assert second.split()[:4] == ["/dev/ttyFAKE1", "0483:374b", "066DFF535155", "STM32"]
    assert second.endswith("= port desk-f7 (board nucleo-f746zg)")

    out = run_ports("none", boards=boards)
    assert out.returncode == 0 and out.stdout == "" and "no serial ports found" in out.stderr
    out = run_ports("none", "--json", boards=boards)
    assert json.loads(out.stdout) == {"ports": []}


def test_ports_on_this_machine_is_valid_json() -> None:
    out = run("ports", "--json")
    assert out.returncode == 0, out.stderr
    ports = json.loads(out.stdout)["ports"]
    assert all(p["device"].startswith("/dev/") for p in ports)
