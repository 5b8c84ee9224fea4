"""Shell completion of the `cymongoose` command through argcomplete (an optional dependency),
driven the way the shell hook drives it: environment variables in, candidates out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cymongoose.device
import pytest

PKG_ROOT = Path(cymongoose.device.__file__).resolve().parents[2]


def complete(line: str, tmp_path: Path) -> list[str]:
    pytest.importorskip("argcomplete")
    out_file = tmp_path / "completions"
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT), _ARGCOMPLETE="1", COMP_LINE=line,
               COMP_POINT=str(len(line)), _ARGCOMPLETE_STDOUT_FILENAME=str(out_file))
    env.pop("CYMONGOOSE_BOARDS", None)
    out = subprocess.run([sys.executable, "-m", "cymongoose.device.cli"], capture_output=True,
                         text=True, timeout=60, env=env, check=False)
    assert out.returncode == 0, out.stderr
    return sorted(c.strip() for c in out_file.read_text().split("\013") if c.strip())


def test_commands_options_and_board_names_complete(tmp_path: Path) -> None:
    assert complete("cymongoose bo", tmp_path) == ["boards"]
    assert complete("cymongoose d", tmp_path) == ["decode", "doctor"]
    assert "--no-verify" in complete("cymongoose flash --no", tmp_path)
    assert complete("cymongoose flash --board mps2-an3", tmp_path) == ["mps2-an385"]
    assert complete("cymongoose flash --board mp", tmp_path) == ["mps2-an385", "mps2-an505"]
    assert complete("cymongoose console --board n", tmp_path) == ["nucleo-f746zg"]
    assert complete("cymongoose boards w", tmp_path) == ["w5500-evb-pico"]
