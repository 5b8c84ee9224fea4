"""Distribution metadata: our own name and version, the licence, what users are told to install."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
DIST_NAME = "cymongoose-sdk"


def pyproject() -> dict[str, object]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def project() -> dict[str, object]:
    table = pyproject()["project"]
    assert isinstance(table, dict)
    return table


def test_distribution_name_is_ours_and_import_name_stays() -> None:
    assert project()["name"] == DIST_NAME
    # The import package is still cymongoose (scripts for the PyPI package run unchanged).
    skb = pyproject()["tool"]["scikit-build"]  # type: ignore[index]
    assert skb["wheel"]["packages"] == ["python/cymongoose"]  # type: ignore[index]
    assert project()["scripts"] == {"cymongoose": "cymongoose.device.cli:main"}


def _text_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    files += sorted((ROOT / "python").rglob("*.py")) + sorted((ROOT / "scripts").glob("*"))
    return [f for f in files if f.is_file()]


def test_install_instructions_name_our_distribution() -> None:
    # `pip install cymongoose` / 'cymongoose[device]' would install the other project.
    wrong = re.compile(r"pip install\s+['\"]?cymongoose(?![-\w])(?!\s+first)")
    hits = []
    for f in _text_files():
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            explains = "not this one" in line or "installs a different project" in line
            if wrong.search(line) and not explains:
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"pip install {DIST_NAME}" in readme
    assert f"pip install '{DIST_NAME}[device]'" in readme
    assert "cannot be installed side by side" in readme


def test_one_version_read_by_package_metadata_and_firmware() -> None:
    import importlib.metadata
    import subprocess

    import cymongoose

    version = project()["version"]
    assert isinstance(version, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version) and version != "0.2.5"  # not the PyPI line
    assert cymongoose.__version__ == version
    assert importlib.metadata.version(DIST_NAME) == version
    # A source tree on sys.path reports its own pyproject version, even when an installed copy
    # with other metadata exists.
    code = "import cymongoose; print(cymongoose.__version__, cymongoose.__file__)"
    src = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT / "python")},
                         capture_output=True, text=True, check=True).stdout.split()
    assert src == [version, str(ROOT / "python" / "cymongoose" / "__init__.py")]


def test_firmware_image_carries_the_same_version() -> None:
    # boards/common.cmake defines MG_FW_VERSION from pyproject's version line; the banner is
    # checked under QEMU by test_firmware_qemu.py and on the host by test_device_app.py.
    import os

    import pytest

    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "hello_fw.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    version = project()["version"]
    assert isinstance(version, str)
    assert b"\0" + version.encode() + b"\0" in elf.read_bytes()


def test_licence_file_and_metadata() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 the cymongoose authors" in text
    p = project()
    assert p["license"] == "MIT" and p["license-files"] == ["LICENSE"]
    assert p["requires-python"] == ">=3.10"
    classifiers = p["classifiers"]
    assert isinstance(classifiers, list)
    # PEP 639: the licence expression replaces licence classifiers (tools reject both).
    assert not [c for c in classifiers if c.startswith("License ::")]
    minors = sorted(int(c.rsplit(".", 1)[1]) for c in classifiers
                    if c.startswith("Programming Language :: Python :: 3."))
    assert minors == [10, 11, 12, 13]
    assert p["keywords"] and p["authors"] == [{"name": "the cymongoose authors"}]


def test_the_command_runs_without_extras() -> None:
    # Every install gets the `cymongoose` script; what it imports at start must not be an extra.
    deps = project()["dependencies"]
    assert deps == ["tomli>=1.1; python_version < '3.11'"]
    extras = project()["optional-dependencies"]
    assert isinstance(extras, dict)
    assert sorted(extras["device"]) == ["cryptography>=41", "pyelftools>=0.29", "pyserial>=3.5"]
    assert extras["completion"] == ["argcomplete>=3"]
    # Starting the command (and --help) imports none of the extras: they load when used.
    code = ("import sys, cymongoose.device.cli as cli\n"
            "cli.build_parser()\n"
            "print(sorted(m for m in ('serial', 'elftools', 'cryptography', 'argcomplete')"
            " if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, check=True)
    assert r.stdout.strip() == "[]"
