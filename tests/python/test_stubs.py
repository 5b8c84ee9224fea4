"""The type stubs (python/cymongoose/_mongoose.pyi) match the built extension:
mypy stubtest over the runtime module, plus a proof that stubtest would notice
a wrong stub, plus the PEP 561 files in the installed package."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "python" / "cymongoose" / "_mongoose.pyi"
ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")

pytest.importorskip("mypy", reason="mypy (requirements-dev.txt) is not installed")


def stubtest(stub_dir: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=str(stub_dir))
    return subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "cymongoose._mongoose",
         "--allowlist", str(ALLOWLIST), "--mypy-config-file", str(tmp_path / "none.ini"),
         *extra],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_stubtest_clean(tmp_path: Path) -> None:
    (tmp_path / "none.ini").write_text("[mypy]\n")
    # Unused entries are tolerated while protocol layers land one by one;
    # test_api_parity.py's strict xfails tell when a name has arrived.
    r = stubtest(ROOT / "python", tmp_path, "--ignore-unused-allowlist")
    assert r.returncode == 0, r.stdout + r.stderr


def test_stubtest_detects_a_wrong_default(tmp_path: Path) -> None:
    (tmp_path / "none.ini").write_text("[mypy]\n")
    pkg = tmp_path / "stubs" / "cymongoose"
    pkg.mkdir(parents=True)
    (pkg / "__init__.pyi").write_text("")
    text = STUB.read_text()
    bad = text.replace("def poll(self, timeout_ms: int = 0)", "def poll(self, timeout_ms: int = 5)")
    assert bad != text
    (pkg / "_mongoose.pyi").write_text(bad)
    r = stubtest(tmp_path / "stubs", tmp_path)
    assert r.returncode != 0
    assert "Manager.poll" in r.stdout


def test_installed_package_has_pep561_files() -> None:
    spec = importlib.util.find_spec("cymongoose")
    assert spec is not None and spec.submodule_search_locations
    pkg = Path(next(iter(spec.submodule_search_locations)))
    assert (pkg / "py.typed").is_file()
    installed = pkg / "_mongoose.pyi"
    if not installed.is_file() and pkg == STUB.parent:
        pytest.skip("running from the source tree")
    assert installed.read_text() == STUB.read_text(), "run `make ext` to install the stub"


def test_stub_type_checks_user_code(tmp_path: Path) -> None:
    """mypy accepts typical user code against the stubs and rejects a wrong call."""
    good = tmp_path / "good.py"
    good.write_text(
        "import cymongoose as mg\n"
        "def h(c: mg.Connection, ev: int, data: object) -> None:\n"
        "    if ev == mg.MG_EV_HTTP_MSG and isinstance(data, mg.HttpMessage):\n"
        "        c.reply(200, data.body_bytes, {'X': '1'})\n"
        "with mg.Manager(h) as m:\n"
        "    lst = m.listen('http://127.0.0.1:0', http=True)\n"
        "    port: int = lst.local_addr[1] if lst.local_addr else 0\n"
        "    t = m.timer_add(10, lambda: None, repeat=True)\n"
        "    ok: bool = t.active\n"
        "    m.poll(10)\n"
        "digest: bytes = mg.sha256('x')\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text("import cymongoose as mg\nmg.Manager().poll('soon')\n")
    env = dict(os.environ, MYPYPATH=str(ROOT / "python"))
    cmd = [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull,
           "--config-file", os.devnull]
    r = subprocess.run([*cmd, str(good)], check=False, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout
    r = subprocess.run([*cmd, str(bad)], check=False, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 1 and "poll" in r.stdout, r.stdout



def test_docs_address_idiom_type_checks(tmp_path: Path) -> None:
    # docs/wsgi-asgi.md and docs/protocols/mqtt.md read the picked port as
    # `listener.local_addr[1]`; mypy --strict must accept that with our stubs.
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import cymongoose as mg\n"
        "mgr = mg.Manager()\n"
        "port: int = mgr.listen('http://127.0.0.1:0').local_addr[1]\n"
        "ip: str = mgr.mqtt_listen('mqtt://127.0.0.1:0').remote_addr[0]\n"
        "mgr.close()\n")
    env = dict(os.environ, MYPYPATH=str(ROOT / "python"))
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
