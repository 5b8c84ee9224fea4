"""Every ```python block of docs/**/*.md and README.md runs, each in a fresh
interpreter. A block may opt out only with a visible line right before it:
``> Not run by the docs tests: <reason>``. docs/device.md is run by
tests/python/device/test_device_docs.py (it needs the firmware and QEMU).
Also: the API reference page is the output of scripts/gen_python_api.py, and
mkdocs.yml lists every page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPT_OUT = "> Not run by the docs tests:"
RUN_ELSEWHERE = {"docs/device.md": "tests/python/device/test_device_docs.py",
                 "docs/own-firmware.md": "tests/python/device/test_own_firmware.py"}
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks() -> list[tuple[str, int, str, str | None]]:
    """(file, line, code, opt-out reason) of every python block."""
    out = []
    for path in doc_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in RUN_ELSEWHERE:
            continue
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            before = [ln for ln in text[:m.start()].splitlines() if ln.strip()]
            reason = None
            if before and before[-1].startswith(OPT_OUT):
                reason = before[-1][len(OPT_OUT):].strip()
            out.append((rel, line, m.group(1), reason))
    return out


BLOCKS = blocks()


def test_docs_have_examples() -> None:
    files = {f for f, *_ in BLOCKS}
    assert {"README.md", "docs/index.md", "docs/protocols/http.md"} <= files
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("file,line,code,reason",
                         [pytest.param(*b, id=f"{b[0]}:{b[1]}") for b in BLOCKS])
def test_example_runs(file: str, line: int, code: str, reason: str | None,
                      tmp_path: Path) -> None:
    if reason is not None:
        assert reason, f"{file}:{line}: an opt-out needs a reason"
        pytest.skip(f"{file}:{line}: {reason}")
    script = tmp_path / "example.py"
    script.write_text(code)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 0, f"{file}:{line} failed\n{r.stdout}\n{r.stderr}"


def test_python_api_reference_is_generated() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_python_api.py"), "--check"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr


def test_mkdocs_nav_lists_every_page() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, re.MULTILINE))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == listed, (pages - listed, listed - pages)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs (requirements-dev.txt) is not installed")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                        "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "python-api" / "index.html").is_file()
