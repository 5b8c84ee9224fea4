"""`--json` on flash, rpc and test: one JSON object on stdout (also when the command fails),
human text on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cymongoose.device

PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]
FAKE = Path(__file__).resolve().parent / "fake_rpc_device.py"


def run(*args: str, cwd: Path | None = None,
        timeout: float = 120) -> tuple[int, Any, str]:
    """Exit code, the one JSON value on stdout, stderr."""
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    out = subprocess.run([sys.executable, "-m", "cymongoose", *args], capture_output=True,
                         text=True, timeout=timeout, env=env, cwd=cwd, check=False)
    try:
        value = json.loads(out.stdout)  # raises unless stdout is exactly one JSON document
    except ValueError:
        raise AssertionError(f"stdout is not one JSON object: {out.stdout!r}\n{out.stderr}")
    return out.returncode, value, out.stderr


def test_flash_json_success(qemu: str, testfw: Path) -> None:
    rc, data, err = run("flash", "--board", "mps2-an385", "--json", str(testfw))
    assert rc == 0, err
    assert data["ok"] is True and data["backend"] == "qemu" and data["verified"] is True
    assert data["image"] == str(testfw) and data["bytes_total"] > 0
    assert data["verify_method"] == "read-back"
    assert "verified (read-back)" in err  # the human summary went to stderr
    assert "\r" not in err and "KiB" not in err  # no progress drawing when not a terminal


def test_flash_json_failures(tmp_path: Path) -> None:
    rc, data, err = run("flash", "--board", "mps2-an385", "--json", sys.executable)
    assert rc == 1 and data["ok"] is False and data["exit_code"] == 1
    assert "but board mps2-an385 has a cortex-m3" in data["error"] and data["error"] in err
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"\0" * 64)
    rc, data, err = run("flash", "--board", "mps2-an385", "--backend", "gdb", "--json", str(fw))
    assert rc == 2 and data == {"ok": False, "exit_code": 2, "error_type": "UsageError",
                                "error": "the gdb backend needs --gdb HOST:PORT or --gdb "
                                         "unix:PATH"}


def test_rpc_json(tmp_path: Path) -> None:
    exe = tmp_path / "fake-device"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE}\n")
    exe.chmod(0o755)
    base = ("rpc", "--board", "host", "--firmware", str(exe), "--json")
    rc, data, err = run(*base, "led.set", "on=true")
    assert rc == 0, err
    assert data == {"ok": True, "method": "led.set", "result": {"on": True}}
    rc, data, err = run(*base, "no.such.method")
    assert rc == 1 and data["ok"] is False and data["method"] == "no.such.method"
    assert data["error"]["code"] == -32601 and "not found" in data["error"]["message"]
    rc, data, err = run(*base, "test.silent", "--timeout", "0.5")
    assert rc == 1 and data == {"ok": False, "method": "test.silent",
                                "error": {"code": None, "message": "no response within 0.5 s"}}


def test_test_json_summary(tmp_path: Path) -> None:
    (tmp_path / "test_mix.py").write_text(
        "import pytest\n\n"
        "def test_pass():\n    pass\n\n"
        "def test_fail():\n    assert 1 == 2\n\n"
        "@pytest.mark.skip(reason='not today')\ndef test_skip():\n    pass\n")
    rc, data, err = run("test", "--json", "--", "-q", "-p", "no:cacheprovider",
                        str(tmp_path / "test_mix.py"), cwd=tmp_path)
    assert rc == 1
    assert {k: data[k] for k in ("ok", "exit_code", "tests", "passed", "failed", "errors",
                                 "skipped", "report")} == {
        "ok": False, "exit_code": 1, "tests": 3, "passed": 1, "failed": 1, "errors": 0,
        "skipped": 1, "report": None}
    assert isinstance(data["seconds"], float)
    assert "1 failed, 1 passed, 1 skipped" in err  # pytest's report, on stderr
    # A --junitxml of the user's own is kept and named.
    report = tmp_path / "mine.xml"
    rc, data, err = run("test", "--json", "--", "-q", "-p", "no:cacheprovider",
                        f"--junitxml={report}", "-k", "pass", str(tmp_path / "test_mix.py"),
                        cwd=tmp_path)
    assert rc == 0 and data["ok"] is True and data["passed"] == 1 and data["tests"] == 1
    assert data["report"] == str(report) and report.is_file()
