"""`cymongoose doctor`: one line per tool or capability with ok / missing / - and how to get it;
exit 1 when something the reference board needs is missing. Fake tools on a private PATH."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import cymongoose.device

PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]


def fake_tool(bindir: Path, name: str, output: str) -> Path:
    path = bindir / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def doctor(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT), PATH=str(path))
    env.pop("CYMONGOOSE_BOARDS", None)
    return subprocess.run([sys.executable, "-m", "cymongoose", "doctor", *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def lines_by_name(stdout: str) -> dict[str, str]:
    return {ln.split()[1]: ln for ln in stdout.splitlines()}


def test_doctor_reports_found_tools_with_versions(tmp_path: Path) -> None:
    qemu = fake_tool(tmp_path, "qemu-system-arm",
                     "QEMU emulator version 9.1.0 (fake)")
    fake_tool(tmp_path, "arm-none-eabi-gcc", "arm-none-eabi-gcc (fake) 13.2.1")
    out = doctor(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = lines_by_name(out.stdout)
    assert lines["qemu-system-arm"].split()[0] == "ok"
    assert f"9.1.0 ({qemu})" in lines["qemu-system-arm"]
    assert lines["arm-none-eabi-gcc"].startswith("ok ")
    assert "arm-none-eabi-gcc (fake) 13.2.1" in lines["arm-none-eabi-gcc"]
    assert lines["extension"].startswith("ok ")  # the compiled core of this install
    # Optional tools that are absent: "-", what they are for and how to get them.
    assert lines["openocd"].split()[0] == "-"
    assert "flash --backend openocd" in lines["openocd"]
    assert lines["openocd"].endswith("-> apt-get install openocd")
    # QEMU for the other architectures is optional, named with its boards and package.
    assert lines["qemu-system-riscv32"].split()[0] == "-"
    assert "riscv32-virt" in lines["qemu-system-riscv32"]
    assert lines["qemu-system-riscv32"].endswith("-> apt-get install qemu-system-misc")
    for name in ("pyocd", "cmake", "ninja", "pyserial", "labgrid", "serial", "tun"):
        assert any(k == name or k.startswith(name) for k in lines), name

    data = json.loads(doctor(tmp_path, "--json").stdout)
    assert data["ok"] is True
    by_name = {c["name"]: c for c in data["checks"]}
    assert by_name["qemu-system-arm"]["status"] == "ok" and by_name["qemu-system-arm"]["required"]
    assert by_name["openocd"] == {"name": "openocd", "status": "-",
                                  "detail": "not on PATH (flash --backend openocd)",
                                  "hint": "apt-get install openocd", "required": False}


def test_doctor_fails_when_qemu_is_missing(tmp_path: Path) -> None:
    out = doctor(tmp_path)  # an empty PATH: no QEMU
    assert out.returncode == 1
    line = lines_by_name(out.stdout)["qemu-system-arm"]
    assert line.startswith("missing ") and "not on PATH" in line
    assert line.endswith("-> apt-get install qemu-system-arm")
    data = json.loads(doctor(tmp_path, "--json").stdout)
    assert data["ok"] is False
    assert [c["name"] for c in data["checks"] if c["status"] == "missing"] == ["qemu-system-arm"]


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    # `cymongoose boards | head -0`: the reader is gone before the command writes.
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "cymongoose", "boards"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
