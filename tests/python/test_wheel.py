"""The release artifacts of `make wheel`: a manylinux wheel that installs into a fresh venv
without a compiler or libssl-dev and works there, and an sdist with the licence.

The wheel in dist/ is built once (by `make wheel`, here when it is missing or older than the
sources): about 10 s after `make ext` (it reuses that build directory), 75 s in a fresh clone
on a busy 2-core machine; the venv and smoke test add about 15 s. Deselect with
``-m "not wheel"``.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_packaging import DIST_NAME, ROOT, project

pytestmark = [
    pytest.mark.wheel,
    pytest.mark.timeout(600),
    # scripts/test_asan_py.sh tests the instrumented build; the release wheel is make test's.
    pytest.mark.skipif(bool(os.environ.get("MG_ASAN_PRELOADED")),
                       reason="the release wheel is not the ASan build under test"),
]

VERSION = str(project()["version"])
DIST = ROOT / "dist"
PY_TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"
STEM = f"{DIST_NAME.replace('-', '_')}-{VERSION}"


def _sources_mtime() -> float:
    files = [ROOT / "pyproject.toml", ROOT / "CMakeLists.txt", ROOT / "LICENSE", ROOT / "README.md"]
    for sub in ("python/cymongoose", "src"):
        files += [f for f in (ROOT / sub).rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    return max(f.stat().st_mtime for f in files)


def _artifacts() -> tuple[Path, Path] | None:
    wheels = sorted(DIST.glob(f"{STEM}-{PY_TAG}-{PY_TAG}-manylinux_*.whl"))
    sdists = sorted(DIST.glob(f"{STEM}.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return None
    if min(wheels[0].stat().st_mtime, sdists[0].stat().st_mtime) < _sources_mtime():
        return None  # older than the sources: rebuild
    return wheels[0], sdists[0]


@pytest.fixture(scope="module")
def artifacts() -> Iterator[tuple[Path, Path]]:
    # One build at a time (pytest -n workers share dist/), and none while another worker uses it.
    (ROOT / "build").mkdir(exist_ok=True)
    with open(ROOT / "build" / "wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _artifacts()
        if found is None:
            out = subprocess.run(["make", "-s", "wheel"], cwd=ROOT, capture_output=True,
                                 text=True, timeout=900, check=False)
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
            found = _artifacts()
            assert found is not None, f"make wheel left no {STEM} wheel for {PY_TAG} in {DIST}"
        fcntl.flock(lock, fcntl.LOCK_SH)  # others may read it too, but not rebuild
        yield found


@pytest.fixture(scope="module")
def venv(artifacts: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv (no site packages, no .venv) with only the wheel installed, offline."""
    root = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    py = root / "bin" / "python"
    out = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index",
                          "--disable-pip-version-check", str(artifacts[0])],
                         capture_output=True, text=True, timeout=300, check=False, env=_clean_env())
    assert out.returncode == 0, out.stderr
    yield py


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("MG_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    return env


def test_auditwheel_names_a_manylinux_tag(artifacts: tuple[Path, Path]) -> None:
    wheel = artifacts[0]
    auditwheel = Path(sys.executable).parent / "auditwheel"
    out = subprocess.run([str(auditwheel), "show", str(wheel)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    tag = wheel.name.rsplit("-", 1)[1].removesuffix(".whl")
    assert f'consistent with the following platform tag: "{tag}"' in text
    assert tag.startswith("manylinux_") and tag.endswith("_" + os.uname().machine)


def test_wheel_carries_licence_metadata_and_openssl(artifacts: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(artifacts[0]) as z:
        names = z.namelist()
        meta = z.read(f"{STEM}.dist-info/METADATA").decode()
        licence = z.read(f"{STEM}.dist-info/licenses/LICENSE").decode()
    assert licence == (ROOT / "LICENSE").read_text()
    assert "MIT License" in licence and "the cymongoose authors" in licence
    assert f"Name: {DIST_NAME}\n" in meta and f"Version: {VERSION}\n" in meta
    assert "License-Expression: MIT\n" in meta and "License-File: LICENSE\n" in meta
    assert "Requires-Python: >=3.10" in meta and "Classifier: Typing :: Typed" in meta
    bundled = [n for n in names if n.startswith(f"{DIST_NAME.replace('-', '_')}.libs/")]
    assert any("/libssl" in n for n in bundled) and any("/libcrypto" in n for n in bundled)
    assert "cymongoose/__main__.py" in names and "cymongoose/py.typed" in names


def test_sdist_has_licence_and_builds_the_same_project(artifacts: tuple[Path, Path]) -> None:
    with tarfile.open(artifacts[1]) as tar:
        names = tar.getnames()
        info = tar.extractfile(f"{STEM}/PKG-INFO")
        assert info is not None
        pkg_info = info.read().decode()
    assert f"{STEM}/LICENSE" in names and f"{STEM}/pyproject.toml" in names
    assert f"{STEM}/src/include/mg_config.h" in names and f"{STEM}/CMakeLists.txt" in names
    assert not any(n.startswith((f"{STEM}/build/", f"{STEM}/.venv/", f"{STEM}/dist/"))
                   for n in names)
    assert f"Name: {DIST_NAME}\n" in pkg_info and "License-Expression: MIT\n" in pkg_info


def test_installed_wheel_smoke(venv: Path, tmp_path: Path) -> None:
    # Run outside the source tree so that only the installed copy can be imported.
    out = subprocess.run([str(venv), str(ROOT / "scripts" / "wheel_smoke.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False,
                         env=_clean_env())
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == "wheel smoke test passed"
    for check in ("HTTP round trip", "cymongoose --version", "python -m cymongoose --version",
                  "cymongoose boards", "libssl and libcrypto are the wheel's own copies"):
        assert any(ln.startswith(f"ok   {check}") for ln in lines), (check, out.stdout)
    # The venv holds our distribution and nothing that could have provided the extension.
    listed = subprocess.run([str(venv), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, timeout=60, check=True,
                            env=_clean_env()).stdout
    assert f"{DIST_NAME}=={VERSION}" in listed.splitlines()
    assert not any(ln.lower().startswith("cymongoose==") for ln in listed.splitlines())
