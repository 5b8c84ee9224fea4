"""labgrid as the distributed layer, all on 127.0.0.1 and started here: a coordinator, an
exporter publishing the consoles (ptys, through ser2net) and gdbstubs (NetworkService
resources) of two QEMU mps2-an385 boards, two places with both, and a third place with
only a console. The boards boot blank and are flashed with device_app through their
gdbstubs, so what is flashed stays across resets like on real flash.

The SDK leases places (reserve by tags, acquire, resolve the rfc2217:// URL, release),
flashes and verifies an image on a leased place (CLI and dut fixture) and the board then
runs it; pytest-xdist workers each get their own board (told apart by the MAC each QEMU
gives its NIC) and keep one console across their tests with per-test logs;
over-subscription fails fast, and leases of killed runs are released (SIGTERM: by the
run itself; SIGKILL: by the next lease)."""

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
CONSOLE_ONLY = "dut2-console"  # a place with dut2's console but not its gdbstub
FW_DIR = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw"))

# Keeps the exporter's ser2net on loopback: "...,tcp,PORT" -> "...,tcp,127.0.0.1,PORT"
# ({tcp} is "tcp", or "tcp(nodelay=true)" for the bench's comparison without Nagle).
WRAPPER = """#!{python}
import os, re, sys
args = [re.sub(r",tcp,(\\d+)$", r",{tcp},127.0.0.1,\\1", a) for a in sys.argv[1:]]
os.execv({real!r}, ["ser2net"] + args)
"""

INNER_TESTS = '''
import json, os, time
import pytest

SEEN = []  # every console a test saw, kept alive so that id() tells them apart


@pytest.fixture(autouse=True)
def _console_per_test(dut_serial_consoles):
    """bench/labgrid_bench.py: LG_PER_TEST_CONSOLE=1 closes the console after every test,
    so each test opens its own (what every test paid before the console was kept)."""
    yield
    if os.environ.get("LG_PER_TEST_CONSOLE"):
        dut_serial_consoles.close()


def record(dut, dut_labgrid, **extra):
    SEEN.append(dut.console)
    rec = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "pid": os.getpid(),
           "place": dut_labgrid.place, "url": dut_labgrid.url, "console": id(dut.console),
           "log": str(dut.log_path), **extra}
    with open(os.environ["LG_RECORDS"], "a") as f:
        f.write(json.dumps(rec) + "\\n")


def test_a_closes_its_console(dut, dut_labgrid):
    if not os.environ.get("LG_BREAK"):
        pytest.skip("only for the console-reuse test")
    dut.rpc.call("info")
    record(dut, dut_labgrid, mac=None, marker=None)
    dut.console.close()  # the next test must get a working console anyway


@pytest.mark.parametrize("n", range(int(os.environ.get("LG_TESTS", "4"))))
def test_which_board(dut, dut_labgrid, n):
    marker = f"mark-{n}-{os.getpid()}"  # goes into this test's console log only
    dut.send_line(marker)
    dut.expect_line("unknown command")
    st = dut.rpc.call("net.status")
    for _ in range(int(os.environ.get("LG_CALLS", "0"))):  # extra device work (bench)
        dut.rpc.call("info")
    record(dut, dut_labgrid, mac=st["mac"], marker=marker)


def test_flashed(dut, dut_labgrid):
    want = os.environ.get("LG_FLASHED")
    if not want:
        pytest.skip("only for the flash test")
    res = dut.flash_result
    assert res is not None and res.backend == "gdb" and res.verified, res
    dut.expect_line(want, timeout=15)  # the new image's output, after the flash reset it
    record(dut, dut_labgrid, flash=res.summary(), written=res.bytes_written)

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
    def __init__(self, tmp: Path, coordinator: str, lg: object, gdb_ports: dict[str, int]) -> None:
        self.tmp = tmp
        self.coordinator = coordinator
        self.lg = lg  # the cymongoose.device.labgrid module
        self.gdb_ports = gdb_ports  # place -> its QEMU's gdbstub on 127.0.0.1

    def session(self):  # type: ignore[no-untyped-def]
        return self.lg._Session(self.coordinator, "lab-admin", 10.0)  # type: ignore[attr-defined]

    def acquired(self) -> dict[str, str | None]:
        s = self.session()
        try:
            return {name: p.acquired for name, p in s.places().items()}
        finally:
            s.close()

    def all_free(self) -> bool:
        held = self.acquired()
        assert set(held) == {*MACS, CONSOLE_ONLY}, held
        return not any(held.values())

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
    elf = FW_DIR / "device_app.elf"
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return elf


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    elf = need_lab_tools()
    with running_lab(tmp_path_factory.mktemp("labgrid"), elf) as the_lab:
        yield the_lab


@contextlib.contextmanager
def running_lab(tmp: Path, elf: Path, *, nodelay: bool = False) -> Iterator[Lab]:
    """Two QEMU boards, a coordinator and an exporter on 127.0.0.1 (also used by bench/).

    ``nodelay``: ser2net's TCP accepter without Nagle (labgrid's exporter does not ask for it).
    """
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
        ptys, gdb_ports = {}, {}
        for place, mac in MACS.items():
            # Blank and halted (no -kernel: QEMU would restore a -kernel image at every
            # reset, unlike flash); provisioned below through the gdbstub.
            gdb_ports[place] = _free_port()
            spawn(["qemu-system-arm", "-M", "mps2-an385", "-display", "none", "-monitor", "none",
                   "-semihosting", "-S", "-gdb", f"tcp:127.0.0.1:{gdb_ports[place]}",
                   "-chardev", "pty,id=u0", "-serial", "chardev:u0",
                   "-nic", f"user,model=lan9118,restrict=on,mac={mac}"], f"qemu-{place}")
            log = tmp / f"qemu-{place}.log"
            ptys[place] = _wait(lambda log=log: (m := re.search(
                r"redirected to (/dev/pts/\d+)", log.read_text())) and m.group(1), 10,
                f"the pty of QEMU for {place}")
            provision(gdb_ports[place], elf)
        port = _free_port()
        coordinator = f"127.0.0.1:{port}"
        (tmp / "coord").mkdir()
        spawn([tool("labgrid-coordinator"), "-l", coordinator], "coordinator", cwd=tmp / "coord")
        _wait(lambda: _connects(port), 15, "the labgrid coordinator")
        wrapdir = tmp / "bin"
        wrapdir.mkdir()
        (wrapdir / "ser2net").write_text(WRAPPER.format(
            python=sys.executable, real=SER2NET, tcp="tcp(nodelay=true)" if nodelay else "tcp"))
        (wrapdir / "ser2net").chmod(0o755)
        (tmp / "exporter.yaml").write_text("".join(
            f"{place}:\n  RawSerialPort:\n    port: \"{pty}\"\n    speed: 115200\n"
            f"  gdb:\n    cls: NetworkService\n    address: 127.0.0.1\n"
            f"    port: {gdb_ports[place]}\n    username: ''\n"
            for place, pty in ptys.items()))
        env = dict(os.environ, PATH=f"{wrapdir}{os.pathsep}{os.environ.get('PATH', '')}")
        spawn([tool("labgrid-exporter"), "-c", coordinator, "-n", "exp1", "--hostname",
               "127.0.0.1", str(tmp / "exporter.yaml")], "exporter", env=env)
        the_lab = Lab(tmp, coordinator, lg, gdb_ports)
        # The lab admin's setup, with labgrid's own command line.
        s = the_lab.session()
        try:
            _wait(lambda: {ln.strip() for ln in s.run("resources", what="resources").split()}
                  >= {f"exp1/{p}/{cls}" for p in MACS
                      for cls in ("NetworkSerialPort", "NetworkService")}, 15,
                  "the exporter's two boards")
            places = {place: ([f"exp1/{place}/NetworkSerialPort",
                               f"exp1/{place}/NetworkService/gdb"],
                              {"board": "qemu-mps2", "slot": str(i)})
                      for i, place in enumerate(MACS, 1)}
            places[CONSOLE_ONLY] = (["exp1/dut2/NetworkSerialPort"], {"board": "console-only"})
            for place, (patterns, tags) in places.items():
                s.run("-p", place, "create", what="create")
                s.run("-p", place, "add-match", *patterns, what="add-match")
                s.run("-p", place, "set-tags", *(f"{k}={v}" for k, v in tags.items()),
                      what="set-tags")
        finally:
            s.close()
        (tmp / "test_inner.py").write_text(INNER_TESTS)
        yield the_lab
    finally:
        for p in reversed(procs):
            _stop(p)
        for log in logs:
            log.close()


def provision(gdb_port: int, elf: Path) -> None:
    """The lab admin's first flash of a blank board (direct, not through labgrid)."""
    from cymongoose.device.flash import GdbFlasher
    from cymongoose.device.gdbremote import GdbClient
    from cymongoose.device.image import load_image

    with GdbClient.connect("127.0.0.1", gdb_port, timeout=10) as client:
        GdbFlasher(client).flash(load_image(elf), verify=True)


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


def test_the_board_of_a_place_comes_from_the_flag_or_its_board_tag() -> None:
    from cymongoose.device.boards import load_boards
    from cymongoose.device.labgrid import LabgridError, LabgridLease, LabgridSpec, lease_board

    bmap = load_boards()
    lease = LabgridLease(LabgridSpec("127.0.0.1:9", place="rack3"))  # not acquired: no I/O
    lease.place, lease.tags = "rack3", {"board": "mps2-an385", "slot": "1"}
    assert lease_board(lease, bmap, None).name == "mps2-an385"
    assert lease_board(lease, bmap, "nucleo-f746zg").name == "nucleo-f746zg"  # the flag wins
    lease.tags = {"board": "qemu-mps2"}
    with pytest.raises(LabgridError, match=r"place rack3: give --board .*board=qemu-mps2"):
        lease_board(lease, bmap, None)


def test_gdbstub_resource_of_a_place_and_what_is_missing() -> None:
    """resolve() on the resources `labgrid-client show` reports (as read into
    ResourceInfo): the NetworkService named gdb becomes lease.gdb; one behind labgrid's
    SSH proxy or none at all is a clear error when flashing asks for it."""
    from types import SimpleNamespace as NS

    from cymongoose.device.labgrid import (
        LabgridError,
        LabgridLease,
        LabgridSpec,
        PlaceInfo,
        ResourceInfo,
    )

    serial = ResourceInfo("NetworkSerialPort", True,
                          {"host": "10.0.0.5", "port": 4001, "speed": 115200})

    def lease_with(resources: dict[tuple[str, str], ResourceInfo]) -> LabgridLease:
        place = PlaceInfo("p1", tags={"board": "x"}, acquired_resources=["a"] * len(resources),
                          resources=resources)
        session = NS(show=lambda name: place)
        lease = LabgridLease(LabgridSpec("127.0.0.1:9", place="p1"))
        lease.place, lease._session = "p1", session  # type: ignore[assignment]
        lease.resolve()
        return lease

    gdb = ResourceInfo("NetworkService", True, {"address": "10.0.0.5", "port": 1234,
                                                "username": "",
                                                "extra": {"proxy_required": False}})
    lease = lease_with({("RawSerialPort", "NetworkSerialPort"): serial,
                        ("gdb", "NetworkService"): gdb, ("ssh", "NetworkService"): gdb})
    assert lease.url == "rfc2217://10.0.0.5:4001?ign_set_control"
    assert str(lease.require_gdb()) == "tcp:10.0.0.5:1234"
    behind_proxy = ResourceInfo("NetworkService", True,
                                {**gdb.params, "extra": {"proxy_required": True}})
    lease = lease_with({("RawSerialPort", "NetworkSerialPort"): serial,
                        ("gdb", "NetworkService"): behind_proxy})
    with pytest.raises(LabgridError, match="only through labgrid's SSH proxy"):
        lease.require_gdb()
    lease = lease_with({("RawSerialPort", "NetworkSerialPort"): serial,
                        ("ssh", "NetworkService"): gdb})  # a NetworkService, but not "gdb"
    with pytest.raises(LabgridError, match=r"no gdbstub to flash through \(its resources: "
                                           r"RawSerialPort \(NetworkSerialPort\), ssh "
                                           r"\(NetworkService\)\)"):
        lease.require_gdb()


SHOW = """Place 'dut1':
  tags: board=qemu-mps2, slot=1
  matches:
    exp1/dut1/NetworkSerialPort
    exp1/dut1/NetworkService/gdb
  acquired: h1/alice-cym-42
  acquired resources:
    exp1/dut1/NetworkSerialPort/RawSerialPort
    exp1/dut1/NetworkService/gdb
  created: 2026-12-07 12:00:00.000000
  changed: 2026-12-07 12:00:01.000000
  reservation: ABCDEF1234
Acquired resource 'RawSerialPort' (exp1/dut1/NetworkSerialPort/RawSerialPort):
  {'acquired': 'dut1',
   'avail': True,
   'cls': 'NetworkSerialPort',
   'params': {'extra': {'proxy': '127.0.0.1', 'proxy_required': False},
              'host': '127.0.0.1',
              'port': 40123,
              'speed': 115200}}
Acquired resource 'gdb' (exp1/dut1/NetworkService/gdb):
  {'acquired': 'dut1',
   'avail': True,
   'cls': 'NetworkService',
   'params': {'address': '127.0.0.1', 'port': 1234, 'username': ''}}
"""


def test_labgrid_client_output_is_read_into_places_and_reservations() -> None:
    """The shape labgrid-client 26.0.1 prints (`-p P show`, `-v places`, `reservations`)."""
    from cymongoose.device.labgrid import _parse_places, _parse_reservations

    place = _parse_places(SHOW)["dut1"]
    assert place.tags == {"board": "qemu-mps2", "slot": "1"}
    assert (place.acquired, place.reservation) == ("h1/alice-cym-42", "ABCDEF1234")
    assert place.acquired_resources == ["exp1/dut1/NetworkSerialPort/RawSerialPort",
                                        "exp1/dut1/NetworkService/gdb"]
    serial = place.resources[("RawSerialPort", "NetworkSerialPort")]
    assert serial.avail and serial.args == {"host": "127.0.0.1", "port": 40123, "speed": 115200}
    assert serial.extra == {"proxy": "127.0.0.1", "proxy_required": False}
    assert place.resources[("gdb", "NetworkService")].args["port"] == 1234
    free = _parse_places("Place 'a':\n  matches:\n  acquired: None\n  acquired resources:\n"
                         "Place 'b':\n  tags: board=x\n  acquired: None\n")
    assert [(p.name, p.acquired, p.tags) for p in free.values()] == [("a", None, {}),
                                                                     ("b", None, {"board": "x"})]
    res = _parse_reservations("Reservation 'T1':\n  owner: h1/bob-cym-7\n  token: T1\n"
                              "  state: waiting\n  filters:\n    main: board=x\n"
                              "Reservation 'T2':\n  owner: h1/eve\n  token: T2\n"
                              "  state: allocated\n")
    assert res == [{"token": "T1", "owner": "h1/bob-cym-7", "state": "waiting"},
                   {"token": "T2", "owner": "h1/eve", "state": "allocated"}]


def test_cymongoose_test_passes_the_labgrid_options_on(tmp_path: Path) -> None:
    import cymongoose.device

    (tmp_path / "test_x.py").write_text("def test_x(dut):\n    pass\n")
    env = dict(os.environ, PYTHONPATH=str(Path(cymongoose.device.__file__).resolve().parents[2]))
    env.pop("PYTEST_XDIST_WORKER", None)
    out = subprocess.run([sys.executable, "-m", "cymongoose.device.cli", "test", "--lg-tags",
                          "board=qemu-mps2", "--lg-coordinator", "127.0.0.1:9", "--lg-wait", "7",
                          "--", "--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir",
                          str(tmp_path), str(tmp_path / "test_x.py")],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ("--lg-tags board=qemu-mps2 --dut-lg-coordinator 127.0.0.1:9 --lg-wait 7.0"
            in out.stderr), out.stderr
    assert "test_x.py::test_x" in out.stdout


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
    assert lab.all_free()
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
    assert lab.all_free()


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
    # One console per worker, kept across its tests; a log file per test, with only its
    # own traffic (the marker line it sent), none of another test's.
    consoles = {w: {r["console"] for r in recs if r["worker"] == w} for w in by_worker}
    assert all(len(c) == 1 for c in consoles.values()), consoles
    check_test_logs(recs)
    assert lab.all_free()
    print(f"labgrid -n 2: 4 tests in {wall:.1f} s")


def check_test_logs(recs: list[dict[str, str]]) -> None:
    markers = {r["marker"] for r in recs if r.get("marker")}
    assert len({r["log"] for r in recs}) == len(recs)
    for r in recs:
        text = Path(r["log"]).read_text()
        seen = {m for m in markers if m in text}
        assert seen == ({r["marker"]} if r.get("marker") else set()), (r["log"], seen)


def test_a_test_that_closes_the_console_leaves_a_working_one(lab: Lab, tmp_path: Path) -> None:
    """The first test closes the session's console: the next tests get a fresh one (and
    then keep that one)."""
    records = tmp_path / "records.jsonl"
    out = subprocess.run(lab.pytest_argv("--lg-place", "dut2", "-k",
                                         "closes_its_console or which_board"),
                         check=False, env=lab.inner_env(LG_RECORDS=str(records), LG_BREAK="1",
                                                        LG_TESTS="3"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    recs = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(recs) == 4 and recs[0]["marker"] is None
    later = {r["console"] for r in recs[1:]}
    assert len(later) == 1 and recs[0]["console"] not in later, recs
    assert all(r["mac"] == MACS["dut2"] for r in recs[1:])
    check_test_logs(recs)
    assert lab.all_free()


def fw_image(name: str) -> Path:
    elf = FW_DIR / name
    if not elf.is_file():
        pytest.skip(f"{elf} is not built (make fw)")
    return elf


def cli(lab: Lab, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cymongoose.device.cli", *args],
                          check=False, env=lab.inner_env(), capture_output=True, text=True,
                          timeout=timeout)


def restore_device_app(lab: Lab, place: str) -> None:
    """Flash device_app back through the API; its answers over RPC prove it runs."""
    from cymongoose.device.image import load_image
    from cymongoose.device.labgrid import LabgridLease, LabgridSpec, flash_place
    from cymongoose.device.rpc import RpcClient
    from cymongoose.device.targets import SerialTarget

    with LabgridLease(LabgridSpec(lab.coordinator, place=place), wait=10) as lease, \
            SerialTarget(lease.url or "") as t:
        res = flash_place(lease, load_image(FW_DIR / "device_app.elf"))
        assert res.verified, res.summary()
        rpc = RpcClient(t.console, timeout=5)
        assert rpc.wait_notification("ready", timeout=15)["params"]["app"] == "device_app"
        assert rpc.request("net.status")["mac"] == MACS[place]


def test_cli_flashes_a_leased_place_and_the_board_runs_the_image(lab: Lab) -> None:
    from cymongoose.device.flash import GdbFlasher
    from cymongoose.device.gdbremote import GdbClient
    from cymongoose.device.image import load_image

    hello = fw_image("hello_fw.elf")
    out = cli(lab, "flash", "--lg-place", "dut1", "--lg-coordinator", lab.coordinator,
              "--board", "mps2-an385", str(hello))
    try:
        assert out.returncode == 0, out.stderr
        port = lab.gdb_ports["dut1"]
        assert f"[labgrid place dut1: flashing through gdbstub tcp:127.0.0.1:{port}]" \
            in out.stderr, out.stderr
        image = load_image(hello)
        m = re.fullmatch(r"gdb: (\d+) bytes, (\d+) written, \d+ already identical, "
                         r"verified \((read-back|crc)\), [\d.]+ s\n", out.stdout)
        assert m and int(m.group(1)) == image.size and int(m.group(2)) > 0, out.stdout
        assert lab.all_free()
        # The board runs hello_fw now: its tick lines (device_app prints none) on the
        # leased console...
        out = cli(lab, "console", "--lg-place", "dut1", "--lg-coordinator", lab.coordinator,
                  "--expect", r"^tick \d+ t=\d+$", "--timeout", "10")
        assert out.returncode == 0, out.stderr
        # ...and the image is still in its memory after the reset and some running.
        with GdbClient.connect("127.0.0.1", port, timeout=10) as client:
            GdbFlasher(client, reset="none").verify(image)
            client.detach()
    finally:
        restore_device_app(lab, "dut1")
    assert lab.all_free()


def test_flash_errors_name_what_is_missing(lab: Lab) -> None:
    hello = str(fw_image("hello_fw.elf"))
    out = cli(lab, "flash", "--lg-place", CONSOLE_ONLY, "--lg-coordinator", lab.coordinator,
              "--board", "mps2-an385", hello)
    assert out.returncode == 1, out.stdout + out.stderr
    assert (f"place {CONSOLE_ONLY} has no gdbstub to flash through (its resources: "
            "RawSerialPort (NetworkSerialPort))") in out.stderr, out.stderr
    assert "NetworkService named 'gdb'" in out.stderr
    # No --board, and the place's tags name no board of the board map.
    out = cli(lab, "flash", "--lg-place", "dut1", "--lg-coordinator", lab.coordinator, hello)
    assert out.returncode == 1 and "place dut1: give --board" in out.stderr, out.stderr
    assert "board=qemu-mps2" in out.stderr
    # The wrong image for the board is refused before anything is leased.
    out = cli(lab, "flash", "--lg-place", "dut1", "--lg-coordinator", lab.coordinator,
              "--board", "nucleo-f746zg", hello)
    assert out.returncode == 1 and "lies outside the memory of board" in out.stderr, out.stderr
    assert lab.all_free()


def test_cli_ota_over_the_leased_console(lab: Lab, tmp_path: Path) -> None:
    """--backend ota on a place: ota.begin/write/end over its exported console; the device
    hashes the bank (SHA-256) and ota.status says verified."""
    import hashlib

    from cymongoose.device import imagefmt

    payload = hashlib.sha256(b"labgrid ota").digest() * 200  # 6400 bytes, several chunks
    data = imagefmt.pack(payload, board="mps2-an385", load_addr=0, entry_addr=0)
    image = tmp_path / "update.img"
    image.write_bytes(data)
    out = cli(lab, "flash", "--lg-place", "dut2", "--lg-coordinator", lab.coordinator,
              "--backend", "ota", str(image))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ota-rpc: 6560 bytes") and "ota.status" in out.stdout, out.stdout
    out = cli(lab, "rpc", "--lg-place", "dut2", "--lg-coordinator", lab.coordinator,
              "ota.status")
    assert out.returncode == 0, out.stderr
    st = json.loads(out.stdout)
    assert (st["state"], st["size"], st["source"]) == ("verified", len(data), "rpc"), st
    assert lab.all_free()


def test_dut_fixture_flashes_a_leased_place(lab: Lab, tmp_path: Path) -> None:
    """--flash gdb on a leased place: written and verified once, the test sees the new
    image's output; flashing device_app back the same way brings its RPC back."""
    records = tmp_path / "records.jsonl"
    runs = [(fw_image("hello_fw.elf"), r"^tick \d+ t=\d+$"),
            (fw_image("device_app.elf"), r"^cymongoose \S+ on mps2-an385: device_app$")]
    try:
        for image, want in runs:
            out = subprocess.run(
                lab.pytest_argv("--lg-place", "dut1", "--dut-flash", "gdb", "--dut-board",
                                "mps2-an385", "--dut-firmware", str(image), "-k", "flashed"),
                check=False, env=lab.inner_env(LG_RECORDS=str(records), LG_FLASHED=want),
                capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        recs = [json.loads(line) for line in records.read_text().splitlines()]
        assert [r["place"] for r in recs] == ["dut1", "dut1"]
        assert all(r["written"] > 0 for r in recs), recs  # a different image each time
    finally:
        restore_device_app(lab, "dut1")
    assert lab.all_free()


def test_more_workers_than_places_fails_fast(lab: Lab) -> None:
    out = subprocess.run(lab.pytest_argv("-n", "3", "--lg-tags", "board=qemu-mps2"),
                         check=False, env=lab.inner_env(LG_RECORDS=os.devnull), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 4, out.stdout + out.stderr  # pytest's usage error
    assert "asked for 3 workers but only 2 labgrid places match" in out.stderr, out.stderr
    assert lab.all_free()


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


def test_run_killed_while_waiting_leaves_no_waiting_command_or_reservation(lab: Lab) -> None:
    """A run SIGKILLed while it waits for a busy place: its waiting `labgrid-client reserve`
    dies with it, and the reservation it left (allocated to the place once that is released)
    is cancelled by the next lease instead of holding the place until it expires."""
    from cymongoose.device.labgrid import LabgridLease, LabgridSpec

    code = ("from cymongoose.device.labgrid import LabgridLease, LabgridSpec\n"
            f"LabgridLease(LabgridSpec({lab.coordinator!r}, place='dut1'), wait=60).acquire()\n")
    with LabgridLease(LabgridSpec(lab.coordinator, place="dut1"), wait=5):
        proc = subprocess.Popen([sys.executable, "-c", code], env=lab.inner_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            def reserve_child() -> int | None:
                for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    if b"reserve" in cmd and b"--wait" in cmd:
                        return int(pid)
                return None

            child = _wait(reserve_child, 30, "the run to wait in labgrid-client reserve")
            time.sleep(1.0)  # let it poll its reservation
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            _wait(lambda: not Path(f"/proc/{child}").exists() or
                  Path(f"/proc/{child}/stat").read_text().split(") ")[1].startswith("Z"),
                  10, "the waiting labgrid-client to die with its run")
        finally:
            _stop(proc)
    # dut1 is released now; the dead run's reservation got it, and the next lease (which
    # waits far less than the 60 s the reservation would hold it) cancels it.
    with LabgridLease(LabgridSpec(lab.coordinator, place="dut1"), wait=10) as lease:
        assert lease.place == "dut1"
    assert lab.all_free()
