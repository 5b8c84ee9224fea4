"""The pytest plugin, exercised by running pytest in a subprocess on generated test files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import cymongoose.device
import pytest
from cymongoose.device.pytest_plugin import plugin_args

PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]


def run_pytest(tmp: Path, body: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    (tmp / "test_generated.py").write_text(textwrap.dedent(body))
    full_env = dict(os.environ, PYTHONPATH=str(PKG_ROOT), **(env or {}))
    full_env.pop("PYTEST_XDIST_WORKER", None)
    full_env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    full_env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider",
         "-o", "addopts=", "--rootdir", str(tmp), "-q", *args],
        cwd=tmp, env=full_env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def test_dut_fixture_boots_qemu_and_writes_artifacts(qemu: str, testfw: Path,
                                                     tmp_path: Path) -> None:
    out = run_pytest(tmp_path, """
        def test_add(dut):
            dut.expect_line(r"^testfw 1\\.0 ready$")
            dut.send_line("add 1 2")
            assert dut.expect_line(r"sum=(\\d+)").group(1) == "3"
            assert dut.board.name == "mps2-an385"

        def test_fails(dut):
            dut.expect_line("ready")
            assert False, "deliberate"
        """, "--firmware", str(testfw), "--junitxml", str(tmp_path / "junit.xml"),
        "--basetemp", str(tmp_path / "bt"), "-W", "error::pytest.PytestWarning")
    assert "1 failed, 1 passed" in out.stdout, out.stdout + out.stderr
    # The failure report carries the tail of the console log; the test's own line
    # is shown, the SDK's frames are not.
    assert "dut console (last lines)" in out.stdout and "testfw 1.0 ready" in out.stdout
    assert 'assert False, "deliberate"' in out.stdout
    assert "def expect_line" not in out.stdout
    # Logs go under pytest's basetemp by default, named once in the header.
    log_dir = tmp_path / "bt" / "device"
    assert f"cymongoose device logs: {log_dir}" in out.stdout
    logs = sorted(log_dir.glob("*.log"))
    assert [p.name for p in logs] == ["test_generated.py_test_add.log",
                                      "test_generated.py_test_fails.log"]
    assert ">>> 'add 1 2\\n'" in logs[0].read_text() and "sum=3" in logs[0].read_text()
    # xunit2 (the default family): no record_property warning (-W error above), the
    # log directory is a suite property; the device facts are per-test properties
    # (cymongoose.device.report).
    root = ET.parse(tmp_path / "junit.xml").getroot()
    suite_props = {p.get("name"): p.get("value")
                   for p in root.findall("testsuite/properties/property")}
    assert suite_props == {"dut_log_dir": str(log_dir)}
    case_props = {tc.get("name"): {p.get("name"): p.get("value") for p in tc.iter("property")}
                  for tc in root.iter("testcase")}
    assert case_props["test_add"]["dut_console_log"] == str(logs[0])
    assert case_props["test_fails"]["dut_board"] == "mps2-an385"
    # xunit1 allows per-test properties: the log path of each test is one.
    out = run_pytest(tmp_path, "def test_one(dut):\n    dut.expect_line('ready')\n",
                     "--firmware", str(testfw), "--junitxml", str(tmp_path / "j1.xml"),
                     "-o", "junit_family=xunit1", "--device-log-dir", str(tmp_path / "logs"))
    assert "1 passed" in out.stdout, out.stdout + out.stderr
    props = {p.get("name"): p.get("value")
             for p in ET.parse(tmp_path / "j1.xml").getroot().iter("property")}
    assert props["dut_console_log"] == str(tmp_path / "logs" / "test_generated.py_test_one.log")


def test_bad_board_or_firmware_is_one_usage_error(tmp_path: Path) -> None:
    body = "def test_a(dut):\n    pass\n\ndef test_b(dut):\n    pass\n"
    out = run_pytest(tmp_path, body, "--board", "mps2", "--firmware", __file__, timeout=60)
    assert out.returncode == 4, out.stdout + out.stderr  # pytest's usage-error status
    assert "unknown board 'mps2'; did you mean mps2-an385 or mps2-an505?" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    out = run_pytest(tmp_path, body, "--firmware", str(tmp_path / "missing.elf"), timeout=60)
    assert out.returncode == 4
    assert f"--firmware {tmp_path / 'missing.elf'}: no such file" in out.stderr


def test_each_xdist_worker_gets_its_own_qemu(qemu: str, testfw: Path, tmp_path: Path) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    out = run_pytest(tmp_path, """
        import os
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_worker(dut, i):
            dut.expect_line("ready")
            dut.send_line(f"echo {i}")
            dut.expect_line(f"^echo: {i}$")
            pid = dut.target.proc.pid
            worker = os.environ["PYTEST_XDIST_WORKER"]
            with open("workers.txt", "a") as f:
                f.write(f"{worker} {pid} {dut.target.workdir}\\n")
        """, "-n", "2", "--firmware", str(testfw))
    assert "4 passed" in out.stdout, out.stdout + out.stderr
    rows = [ln.split() for ln in (tmp_path / "workers.txt").read_text().splitlines()]
    assert {r[0] for r in rows} == {"gw0", "gw1"}
    assert len({r[1] for r in rows}) == 4 and len({r[2] for r in rows}) == 4


def test_one_port_cannot_serve_many_workers(tmp_path: Path) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    out = run_pytest(tmp_path, "def test_x(dut):\n    pass\n", "-n", "2",
                     "--port", "socket://127.0.0.1:9", timeout=60)
    assert out.returncode != 0
    assert "is one device but pytest-xdist started 2 workers" in out.stdout + out.stderr


def test_missing_firmware_and_missing_qemu(tmp_path: Path) -> None:
    body = """
        def test_needs_dut(dut):
            pass

        def test_plain():
            assert 1 + 1 == 2
        """
    out = run_pytest(tmp_path, body)
    assert "1 passed, 1 error" in out.stdout  # a setup error, reported without a traceback
    assert "needs an image: pass --firmware" in out.stdout
    # Without QEMU on PATH the plugin still loads; dut tests skip naming the emulator...
    (tmp_path / "fw.elf").write_bytes(b"\x7fELF")
    out = run_pytest(tmp_path, body, "-rs", "--firmware", "fw.elf",
                     env={"PATH": "/nonexistent", "CI": ""})
    assert "1 passed, 1 skipped" in out.stdout, out.stdout + out.stderr
    assert "qemu-system-arm is not installed" in out.stdout
    # ...unless the board is required (--board-required, or CI set): then it is an error.
    for extra, env in ((["--board-required"], {"CI": ""}), ([], {"CI": "true"})):
        out = run_pytest(tmp_path, body, "--firmware", "fw.elf", *extra,
                         env={"PATH": "/nonexistent", **env})
        assert "1 passed, 1 error" in out.stdout, out.stdout + out.stderr
        assert "--board-required (or CI) makes this an error" in out.stdout


def test_marker_forwards_ports_and_help_lists_options(qemu: str, testfw: Path,
                                                      tmp_path: Path) -> None:
    out = run_pytest(tmp_path, """
        import socket
        import pytest

        @pytest.mark.dut(nic="user", hostfwd=[80])
        def test_fwd(dut):
            url = dut.url("/status")
            assert url.startswith("http://127.0.0.1:") and url.endswith("/status")
            socket.create_connection(("127.0.0.1", dut.forwarded[80]), timeout=5).close()
            with pytest.raises(KeyError, match="not forwarded"):
                dut.url(guest_port=8080)
            from cymongoose.device.errors import DeviceError
            from cymongoose.device.rpc import RpcClient
            assert isinstance(dut.rpc, RpcClient) and dut.rpc is dut.rpc
            with pytest.raises(DeviceError, match="nic='stream'"):
                dut.mgr
        """, "--firmware", str(testfw))
    assert "1 passed" in out.stdout, out.stdout + out.stderr
    helptext = run_pytest(tmp_path, "", "--help").stdout
    for opt in ("--board", "--port", "--firmware", "--device-artifacts", "--device-log-dir",
                "--board-required", "--dut-board"):
        assert re.search(rf"^\s+{re.escape(opt)}\b|, {re.escape(opt)}\b", helptext, re.MULTILINE)
