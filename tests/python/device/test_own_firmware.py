"""docs/own-firmware.md, followed to the letter: its files are written to an empty folder
as the page shows them, then its two commands run (`cymongoose build` with the app folder,
then pytest with the `dut` fixture on the image). A page that drifts from what works
fails here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cymongoose.device.pytest_plugin import plugin_args

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "own-firmware.md"
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)^```", re.DOTALL | re.MULTILINE)
RUN_BLOCK = re.compile(r"<!-- run -->\n```console\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_page_from_empty_folder_to_passing_test(qemu: str, tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    files = FILE_BLOCK.findall(text)
    assert {name for name, _ in files} == {"my_app/main.c", "my_app/firmware.cmake",
                                           "my_app/test_my_app.py"}
    for name, body in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    commands = [ln[2:] for ln in RUN_BLOCK.search(text).group(1).splitlines()  # type: ignore[union-attr]
                if ln.startswith("$ ")]
    assert [c.split()[0] for c in commands] == ["cymongoose", "pytest"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS"))}
    for cmd in commands:
        argv = shlex.split(cmd.replace("../cymongoose", str(ROOT)))
        if argv[0] == "cymongoose":
            argv = [sys.executable, "-m", "cymongoose", *argv[1:]]
        else:
            argv = [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider",
                    "-o", "addopts=", "--rootdir", str(tmp_path), "-q", *argv[1:]]
        r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600, check=False)
        assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "1 passed" in r.stdout
    assert (tmp_path / "build" / "fw-mine" / "my_app.bin").is_file()
