"""The `cymongoose` command line, run as a subprocess like a user would."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import cymongoose.device
from cymongoose.device.targets import QemuTarget

PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PYTHONPATH=str(PKG_ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "cymongoose.device.cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd, check=False)


def test_help_names_every_command_with_examples() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for cmd in ("boards", "build", "flash", "console", "bridge", "rpc", "test"):
        assert f"    {cmd} " in out.stdout
    assert "examples:" in out.stdout and "boards.toml" in out.stdout
    flash_help = cli("flash", "--help").stdout
    assert "--no-verify" in flash_help and "first differing address" in flash_help
    assert cli().returncode == 2  # no command: usage


def test_boards_listing_detail_and_json() -> None:
    out = cli("boards")
    assert out.returncode == 0
    assert "mps2-an385" in out.stdout and "build-only" in out.stdout
    detail = cli("boards", "mps2-an385").stdout
    assert "0x00000000..0x00400000" in detail and "qemu-system-arm -M mps2-an385" in detail
    data = json.loads(cli("boards", "--json").stdout)
    assert {b["name"] for b in data["boards"]} >= {"mps2-an385", "nucleo-f746zg", "host"}
    bad = cli("boards", "no-such-board")
    assert bad.returncode == 2 and "unknown board 'no-such-board'" in bad.stderr


def test_user_boards_file_via_env(tmp_path: Path) -> None:
    f = tmp_path / "b.toml"
    f.write_text('[ports.desk]\nurl = "socket://127.0.0.1:7"\n')
    out = cli("boards", env={"CYMONGOOSE_BOARDS": str(f)})
    assert "lab ports:" in out.stdout and "socket://127.0.0.1:7" in out.stdout


def test_bridge_and_rpc_refuse_bad_arguments(tmp_path: Path) -> None:
    # Bad arguments are usage errors: exit 2, before anything is booted.
    fw = tmp_path / "x.elf"
    fw.write_bytes(b"")
    out = cli("bridge", "--board", "mps2-an385")
    assert out.returncode == 2 and "give --firmware" in out.stderr and out.stdout == ""
    out = cli("bridge", "--firmware", str(fw), "--forward", "80")
    assert out.returncode == 2 and "want HOSTPORT:BOARDPORT" in out.stderr
    out = cli("rpc", "--firmware", str(fw), "info", "oops")
    assert out.returncode == 2 and "want KEY=VALUE" in out.stderr
    assert cli("rpc").returncode == 2  # the method is required


def test_console_expect_against_qemu(qemu: str, testfw: Path, tmp_path: Path) -> None:
    log = tmp_path / "session.log"
    out = cli("console", "--board", "mps2-an385", "--firmware", str(testfw),
              "--send", "add 40 2", "--expect", r"sum=\d+", "--log", str(log))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "sum=42"
    assert "sum=42" in log.read_text()
    out = cli("console", "--firmware", str(testfw), "--expect", "never", "--timeout", "0.5")
    assert out.returncode == 1
    assert "not seen within 0.5 s" in out.stderr and "testfw 1.0 ready" in out.stderr


def test_console_piped_stdin(qemu: str, testfw: Path) -> None:
    full_env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    out = subprocess.run([sys.executable, "-m", "cymongoose.device.cli", "console",
                          "--firmware", str(testfw)], input="echo piped line\n",
                         capture_output=True, text=True, timeout=60, env=full_env, check=False)
    assert out.returncode == 0 and "echo: piped line" in out.stdout


def test_console_errors(tmp_path: Path) -> None:
    out = cli("console", "--port", "/dev/ttyNOPE0", "--expect", "x")
    assert out.returncode == 1 and "cannot open serial port /dev/ttyNOPE0" in out.stderr
    out = cli("console", "--board", "mps2-an385")
    assert out.returncode == 2 and "give --firmware" in out.stderr
    out = cli("console", "--board", "nucleo-f746zg")
    assert out.returncode == 2 and "give --port" in out.stderr


def test_flash_qemu_loader_and_gdb(qemu: str, testfw: Path) -> None:
    out = cli("flash", "--board", "mps2-an385", str(testfw))
    assert out.returncode == 0, out.stderr
    assert "qemu:" in out.stdout and "verified (read-back)" in out.stdout
    with QemuTarget(None, gdb="tcp", halted=True) as t:
        assert t.gdb is not None
        out = cli("flash", "--board", "mps2-an385", "--gdb", f"127.0.0.1:{t.gdb.port}",
                  str(testfw))
        assert out.returncode == 0, out.stderr
        assert "gdb:" in out.stdout and "0 already identical" in out.stdout
        t.console.expect_line("testfw 1.0 ready", timeout=10)


def test_flash_refuses_wrong_image_and_missing_stub(tmp_path: Path) -> None:
    out = cli("flash", "--board", "mps2-an385", sys.executable)
    assert out.returncode == 1 and "but board mps2-an385 has a cortex-m3" in out.stderr
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"\0" * 64)
    out = cli("flash", "--board", "mps2-an385", "--backend", "gdb", str(fw))
    assert out.returncode == 2 and "needs --gdb" in out.stderr


def test_flash_verify_mismatch_through_openocd(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "openocd"
    fake.write_text(f"#!{sys.executable}\nimport sys\n"
                    "print('diff 0 address 0x08000010. Was 0x00 instead of 0x01', file=sys.stderr)\n"
                    "print('** Verify Failed **', file=sys.stderr)\nsys.exit(1)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    fw = tmp_path / "fw.bin"
    fw.write_bytes(bytes(range(64)))
    out = cli("flash", "--board", "nucleo-f746zg", str(fw),
              env={"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
    assert out.returncode == 1
    assert "verify failed at 0x08000010: expected 0x01, read 0x00" in out.stderr


def test_build_runs_cmake_for_the_board(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "cmake.log"
    fake = bindir / "cmake"
    fake.write_text(f"#!{sys.executable}\nimport sys\n"
                    f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    src = tmp_path / "src"
    (src / "boards").mkdir(parents=True)
    (src / "CMakeLists.txt").write_text("project(x)\n")
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    out = cli("build", "--board", "mps2-an385", "--source", str(src), "--target", "hello_fw",
              env=env)
    assert out.returncode == 0, out.stderr
    configure, build = log.read_text().splitlines()
    assert f"-S {src} -B {src}/build/fw-mps2-an385 -DMG_BOARD=mps2-an385" in configure
    assert "toolchain-arm-none-eabi.cmake" in configure
    assert build == f"--build {src}/build/fw-mps2-an385 -j 2 --target hello_fw"
    out = cli("build", "--board", "mps2-an385", "--source", str(tmp_path / "nothing"), env=env)
    assert out.returncode == 1 and "not a cymongoose source tree" in out.stderr


def test_test_command_runs_pytest_with_the_plugin(qemu: str, testfw: Path,
                                                  tmp_path: Path) -> None:
    (tmp_path / "test_fw.py").write_text(
        "def test_banner(dut):\n    dut.expect_line('testfw 1.0 ready')\n")
    out = cli("test", "--board", "mps2-an385", "--firmware", str(testfw),
              "--artifacts", str(tmp_path / "art"), "--", "-q", "-p", "no:cacheprovider",
              str(tmp_path / "test_fw.py"), cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
    assert len(list((tmp_path / "art").glob("*.log"))) == 1
