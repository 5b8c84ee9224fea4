"""labgrid as the distributed layer, all on 127.0.0.1 and started here: a coordinator, an
exporter publishing the consoles (ptys) of two QEMU mps2-an385 boards running device_app
through ser2net, two places. The SDK leases places (reserve by tags, acquire, resolve the
rfc2217:// URL, release), pytest-xdist workers each get their own board (told apart by the
MAC each QEMU gives its NIC), over-subscription fails fast, and leases of killed runs are
released (SIGTERM: by the run itself; SIGKILL: by the next lease)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.qemu
ROOT = Path(__file__).resolve().parents[3]
SER2NET = shutil.which("ser2net") or ("/usr/sbin/ser2net" if os.path.exists("/usr/sbin/ser2net")
                                      else None)
MACS = {"dut1": "02:00:00:00:00:01", "dut2": "02:00:00:00:00:02"}

# Keeps the exporter's ser2net on loopback: "...,tcp,PORT" -> "...,tcp,127.0.0.1,PORT".
WRAPPER = """#!{python}
import os, re, sys
args = [re.sub(r",tcp,(\\d+)$", r",tcp,127.0.0.1,\\1", a) for a in sys.argv[1:]]
os.execv({real!r}, ["ser2net"] + args)
"""

INNER_TESTS = '''
import json, os, time
import pytest

@pytest.mark.parametrize("n", range(int(os.environ.get("LG_TESTS", "4"))))
def test_which_board(dut, dut_labgrid, n):
    st = dut.rpc.call("net.status")
    for _ in range(int(os.environ.get("LG_CALLS", "0"))):  # extra device work (bench)
        dut.rpc.call("info")
    rec = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "pid": os.getpid(),
           "place": dut_labgrid.place, "mac": st["mac"], "url": dut_labgrid.url}
    with open(os.environ["LG_RECORDS"], "a") as f:
        f.write(json.dumps(rec) + "\\n")

def test_hold(dut_labgrid):
    if not os.environ.get("LG_HOLD"):
        pytest.skip("only for the killed-run test")
    with open(os.environ["LG_HOLD"], "w") as f:
        f.write(dut_labgrid.place)
    time.sleep(60)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # its own group: ser2net children too
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class Lab:
    def __init__(self, tmp: Path, coordinator: str, lg: object) -> None:
        self.tmp = tmp
        self.coordinator = coordinator
        self.lg = lg  # the cymongoose.device.labgrid module

    def session(self):  # type: ignore[no-untyped-def]
        return self.lg._Session(self.coordinator, "lab-admin", 10.0)  # type: ignore[attr-defined]

    def acquired(self) -> dict[str, str | None]:
        s = self.session()
        try:
            return {name: p.acquired for name, p in s.places().items()}
        finally:
            s.close()

    def inner_env(self, **extra: str) -> dict[str, str]:
        import cymongoose.device

        env = dict(os.environ)
        pkg_root = str(Path(cymongoose.device.__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_root, env.get("PYTHONPATH")]))
        env.pop("PYTEST_XDIST_WORKER", None)
        env.pop("PYTEST_XDIST_WORKER_COUNT", None)
        env.pop("PYTEST_ADDOPTS", None)
        env.update(extra)
        return env

    def pytest_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-p", "no:randomly", "--rootdir", str(self.tmp), "-o", "addopts=",
                "--dut-lg-coordinator", self.coordinator, "--timeout", "90",
                str(self.tmp / "test_inner.py"), *args]


def need_lab_tools() -> Path:
    """Skips naming what is missing; returns the device_app image."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    if SER2NET is None:
        pytest.skip("ser2net is not installed (Debian package ser2net)")
    try:
        import labgrid  # noqa: F401
    except ImportError:
        pytest.skip("labgrid is not installed (pip install labgrid)")
    bindir = Path(sys.executable).parent
    for tool in ("labgrid-coordinator", "labgrid-exporter"):
        if not (bindir / tool).exists() and shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (pip install labgrid)")
    elf = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw")) / "device_app.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return elf


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    elf = need_lab_tools()
    with running_lab(tmp_path_factory.mktemp("labgrid"), elf) as the_lab:
        yield the_lab


@contextlib.contextmanager
def running_lab(tmp: Path, elf: Path) -> Iterator[Lab]:
    """Two QEMU boards, a coordinator and an exporter on 127.0.0.1 (also used by bench/)."""
    from cymongoose.device import labgrid as lg

    bindir = Path(sys.executable).parent
    procs: list[subprocess.Popen[bytes]] = []
    logs = []

    def spawn(argv: list[str], name: str, **kw) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
        log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        procs.append(p)
        return p

    def tool(name: str) -> str:
        return str(bindir / name) if (bindir / name).exists() else str(shutil.which(name))

    try:
        ptys = {}
        for place, mac in MACS.items():
            spawn(["qemu-system-arm", "-M", "mps2-an385", "-display", "none", "-monitor", "none",
                   "-semihosting", "-kernel", str(elf), "-chardev", "pty,id=u0",
                   "-serial", "chardev:u0", "-nic", f"user,model=lan9118,restrict=on,mac={mac}"],
                  f"qemu-{place}")
            log = tmp / f"qemu-{place}.log"
            ptys[place] = _wait(lambda log=log: (m := re.search(
                r"redirected to (/dev/pts/\d+)", log.read_text())) and m.group(1), 10,
                f"the pty of QEMU for {place}")
        port = _free_port()
        coordinator = f"127.0.0.1:{port}"
        (tmp / "coord").mkdir()
        spawn([tool("labgrid-coordinator"), "-l", coordinator], "coordinator", cwd=tmp / "coord")
        _wait(lambda: _connects(port), 15, "the labgrid coordinator")
        wrapdir = tmp / "bin"
        wrapdir.mkdir()
        (wrapdir / "ser2net").write_text(WRAPPER.format(python=sys.executable, real=SER2NET))
        (wrapdir / "ser2net").chmod(0o755)
        (tmp / "exporter.yaml").write_text("".join(
            f"{place}:\n  RawSerialPort:\n    port: \"{pty}\"\n    speed: 115200\n"
            for place, pty in ptys.items()))
        env = dict(os.environ, PATH=f"{wrapdir}{os.pathsep}{os.environ.get('PATH', '')}")
        spawn([tool("labgrid-exporter"), "-c", coordinator, "-n", "exp1", "--hostname",
               "127.0.0.1", str(tmp / "exporter.yaml")], "exporter", env=env)
        the_lab = Lab(tmp, coordinator, lg)
        s = the_lab.session()
        try:
            _wait(lambda: len(s.s.resources.get("exp1", {})) == 2, 15,
                  "the exporter's two serial ports")
            pb2 = s.pb2
            for i, place in enumerate(MACS, 1):
                s.call("AddPlace", pb2.AddPlaceRequest(name=place), "add place")
                s.call("AddPlaceMatch", pb2.AddPlaceMatchRequest(
                    placename=place, pattern=f"exp1/{place}/NetworkSerialPort"), "add match")
                s.call("SetPlaceTags", pb2.SetPlaceTagsRequest(
                    placename=place, tags={"board": "qemu-mps2", "slot": str(i)}), "tags")
            s.sync()
        finally:
            s.close()
        (tmp / "test_inner.py").write_text(INNER_TESTS)
        yield the_lab
    finally:
        for p in reversed(procs):
            _stop(p)
        for log in logs:
            log.close()


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


# ---- without a lab ---------------------------------------------------------------------------------
def test_tags_and_urls_parse_and_bad_ones_are_clear_errors() -> None:
    from cymongoose.device.labgrid import LabgridError, LabgridSpec, parse_tags

    assert parse_tags("board=qemu-mps2, slot=1") == {"board": "qemu-mps2", "slot": "1"}
    with pytest.raises(LabgridError, match="KEY=VALUE"):
        parse_tags("board")
    with pytest.raises(LabgridError, match="tag value"):
        parse_tags("board=Has Space")
    spec = LabgridSpec.from_url("labgrid://lab:1234/rack-3?board=f7&slot=2")
    assert (spec.coordinator, spec.place, dict(spec.tags)) == ("lab:1234", "rack-3",
                                                                {"board": "f7", "slot": "2"})
    assert spec.filters() == {"board": "f7", "slot": "2", "name": "rack-3"}
    assert LabgridSpec.from_url(spec.url) == spec
    with pytest.raises(LabgridError, match="not a labgrid URL"):
        LabgridSpec.from_url("rfc2217://lab:1234")


def test_stale_owner_is_a_dead_process_of_this_host() -> None:
    from cymongoose.device.labgrid import _stale_owner

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert _stale_owner(f"h1/alice-cym-{dead.pid}", "h1")
    assert not _stale_owner(f"h1/alice-cym-{os.getppid()}", "h1")  # alive
    assert not _stale_owner(f"h2/alice-cym-{dead.pid}", "h1")      # another host: unknowable
    assert not _stale_owner("h1/alice", "h1")                        # not one of ours


def test_no_coordinator_is_a_clear_usage_error(tmp_path: Path) -> None:
    pytest.importorskip("labgrid", reason="labgrid is not installed (pip install labgrid)")
    import cymongoose.device

    port = _free_port()  # nobody listens there
    (tmp_path / "test_x.py").write_text("def test_x(dut):\n    pass\n")
    env = dict(os.environ, PYTHONPATH=str(Path(cymongoose.device.__file__).resolve().parents[2]))
    env.pop("PYTEST_XDIST_WORKER", None)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), "--lg-tags", "board=x",
                          "--dut-lg-coordinator", f"127.0.0.1:{port}", str(tmp_path / "test_x.py")],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 4, out.stdout + out.stderr
    assert f"labgrid coordinator 127.0.0.1:{port}" in out.stderr, out.stderr


# ---- with the lab ----------------------------------------------------------------------------------
def test_lease_resolves_console_and_always_releases(lab: Lab) -> None:
    from cymongoose.device.labgrid import LabgridError, LabgridLease, LabgridSpec
    from cymongoose.device.rpc import RpcClient
    from cymongoose.device.targets import SerialTarget

    spec = LabgridSpec(lab.coordinator, place="dut2")
    with LabgridLease(spec, wait=5) as lease:
        assert lease.place == "dut2" and lease.tags["slot"] == "2"
        assert re.fullmatch(r"rfc2217://127\.0\.0\.1:\d+\?ign_set_control", lease.url or "")
        assert lab.acquired()["dut2"] == f"{socket.gethostname()}/{lease.user}"
        with SerialTarget(lease.url or "") as t:
            assert RpcClient(t.console, timeout=5).request("net.status")["mac"] == MACS["dut2"]
        # Both places busy: a third lease gives up in time and says who holds what.
        any_board = LabgridSpec(lab.coordinator, tags={"board": "qemu-mps2"})
        with LabgridLease(any_board, wait=5), pytest.raises(
                LabgridError, match=r"within 1 s: 2 match, all in use"):
            LabgridLease(any_board, wait=1).acquire()
        port = lease.port
    assert lab.acquired() == {"dut1": None, "dut2": None}
    assert port is not None
    _wait(lambda: not _connects(port), 5, "ser2net to stop after the release")
    with pytest.raises(LabgridError, match=r"no labgrid place matches name=nope.*dut1, dut2"):
        LabgridLease(LabgridSpec(lab.coordinator, place="nope"), wait=1).acquire()


def test_cli_rpc_on_a_labgrid_place(lab: Lab) -> None:
    env = lab.inner_env()
    out = subprocess.run(
        [sys.executable, "-m", "cymongoose.device.cli", "rpc", "--port",
         f"labgrid://{lab.coordinator}/?slot=1", "net.status"],
        check=False, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["mac"] == MACS["dut1"]
    out = subprocess.run(
        [sys.executable, "-m", "cymongoose.device.cli", "console", "--lg-place", "dut2",
         "--lg-coordinator", lab.coordinator, "--send", "info", "--expect",
         r"^info: .*board=mps2-an385",
         "--timeout", "10"], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert lab.acquired() == {"dut1": None, "dut2": None}


def test_xdist_workers_each_lease_their_own_board(lab: Lab, tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    t0 = time.monotonic()
    out = subprocess.run(lab.pytest_argv("-n", "2", "--lg-tags", "board=qemu-mps2"),
                         check=False, env=lab.inner_env(LG_RECORDS=str(records)), capture_output=True,
                         text=True, timeout=120)
    wall = time.monotonic() - t0
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    recs = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(recs) == 4
    by_worker: dict[str, set[tuple[str, str]]] = {}
    for r in recs:
        by_worker.setdefault(r["worker"], set()).add((r["place"], r["mac"]))
    assert sorted(by_worker) == ["gw0", "gw1"], by_worker
    boards = [next(iter(v)) for v in by_worker.values()]
    assert all(len(v) == 1 for v in by_worker.values()), by_worker  # one board per worker
    assert {p for p, _ in boards} == {"dut1", "dut2"}                 # not the same one
    assert all(MACS[p] == mac for p, mac in boards)                    # and really that board
    assert lab.acquired() == {"dut1": None, "dut2": None}
    print(f"labgrid -n 2: 4 tests in {wall:.1f} s")


def test_more_workers_than_places_fails_fast(lab: Lab) -> None:
    out = subprocess.run(lab.pytest_argv("-n", "3", "--lg-tags", "board=qemu-mps2"),
                         check=False, env=lab.inner_env(LG_RECORDS=os.devnull), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 4, out.stdout + out.stderr  # pytest's usage error
    assert "asked for 3 workers but only 2 labgrid places match" in out.stderr, out.stderr
    assert lab.acquired() == {"dut1": None, "dut2": None}


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_killed_run_leaves_no_lease_behind(lab: Lab, tmp_path: Path, sig: str) -> None:
    from cymongoose.device.labgrid import LabgridLease, LabgridSpec

    hold = tmp_path / "holding"
    proc = subprocess.Popen(lab.pytest_argv("--lg-place", "dut1", "-k", "test_hold"),
                            env=lab.inner_env(LG_HOLD=str(hold)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait(hold.exists, 30, "the inner run to lease dut1")
        owner = lab.acquired()["dut1"]
        assert owner and owner.endswith(f"-cym-{proc.pid}"), owner
        os.kill(proc.pid, getattr(signal, sig))
        proc.wait(15)
    finally:
        _stop(proc)
    if sig != "SIGKILL":  # the run released on its way out
        # Ctrl-C: pytest stops with "Interrupted" (exit 2); SIGTERM: the default death
        assert proc.returncode == (2 if sig == "SIGINT" else -signal.SIGTERM)
        assert lab.acquired()["dut1"] is None
        return
    assert lab.acquired()["dut1"] == owner  # nobody could clean up a SIGKILL...
    with LabgridLease(LabgridSpec(lab.coordinator, place="dut1"), wait=10) as lease:
        assert lease.reclaimed == ["dut1"]  # ...so the next lease did
        assert lease.place == "dut1"
    assert lab.acquired()["dut1"] is None


def test_labgrid_env_yaml_uses_our_console_driver(lab: Lab, tmp_path: Path) -> None:
    """A labgrid user's own env.yaml: a NetworkSerialPort (here the place leased by us)
    and our driver, which labgrid activates and which then speaks JSON-RPC to the board."""
    from cymongoose.device.labgrid import LabgridLease, LabgridSpec
    from labgrid import Environment

    with LabgridLease(LabgridSpec(lab.coordinator, place="dut2"), wait=5) as lease:
        env_yaml = tmp_path / "env.yaml"
        env_yaml.write_text(
            "imports:\n  - cymongoose.device.labgrid_driver\n"
            "targets:\n  main:\n    resources:\n      NetworkSerialPort:\n"
            f"        host: '{lease.host}'\n        port: {lease.port}\n"
            "    drivers:\n      CymongooseConsoleDriver: {}\n")
        env = Environment(config_file=str(env_yaml))
        target = env.get_target("main")
        try:
            drv = target.get_driver("CymongooseConsoleDriver")
            assert drv.rpc.request("net.status")["mac"] == MACS["dut2"]
            drv.console.send_line("info")
            drv.console.expect_line(r"^info: .*board=mps2-an385", timeout=10)
        finally:
            env.cleanup()
    assert lab.acquired()["dut2"] is None


def test_lease_left_open_is_released_at_exit(lab: Lab) -> None:
    """A script that forgets release(): the atexit hook gives the place back."""
    code = ("import sys\n"
            "from cymongoose.device.labgrid import LabgridLease, LabgridSpec\n"
            f"lease = LabgridLease(LabgridSpec({lab.coordinator!r}, place='dut1'), wait=5)\n"
            "lease.acquire()\n"
            "print(lease.place, lease.url, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], env=lab.inner_env(), capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    place, url = out.stdout.split()
    assert place == "dut1" and url.startswith("rfc2217://127.0.0.1:")
    # Nothing else releases it: a SIGKILLed holder keeps the place (test above).
    assert lab.acquired()["dut1"] is None
