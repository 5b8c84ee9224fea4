"""pytest plugin: the ``dut`` (device under test) fixture.

Registered through the ``pytest11`` entry point, so installing cymongoose is
enough. Importing this module needs only the standard library and pytest;
QEMU, pyserial and the compiled extension are touched only when a test
actually asks for ``dut``.

Options: ``--board`` (default mps2-an385), ``--port`` (serial URL or lab port
name; then no emulator is started), ``--firmware`` (image to boot),
``--baudrate``, ``--flash BACKEND`` (openocd/pyocd: flash and verify a real
board once per session; gdb: write and verify a halted QEMU through its
gdbstub for each test), ``--device-log-dir DIR`` (per-test console logs and
pcaps; also spelled ``--device-artifacts``; default ``device`` under pytest's
basetemp, printed once at the end of the run), ``--board-required`` (a missing
emulator is an error, not a skip; the default when ``CI`` is set). Each option also exists with a
``--dut-`` prefix, which is the only spelling when another plugin already
owns the short one. ``CYMONGOOSE_BOARD``, ``CYMONGOOSE_PORT`` and
``CYMONGOOSE_FIRMWARE`` provide defaults.

A serial console (``--port``, a board on a serial port, a leased labgrid place)
is opened once per session (per xdist worker) and kept across tests: opening
an RFC 2217 port costs about 0.5 s and closing it 0.35 s. Each test still gets
its own console log file and starts with the unconsumed input dropped; a test
that closed the console gets a fresh one. QEMU and host targets stay per test:
each test boots its own emulator, so no device state leaks between tests (and
their consoles are local sockets that open in milliseconds).

With a leased labgrid place, ``--flash gdb --firmware IMAGE`` writes and verifies
the image through the gdbstub the place exports (once per session, like the
real-board backends) and restarts the board into it.

Under pytest-xdist every worker boots its own QEMU (unique socket paths and
ports), so ``pytest -n 4`` runs four devices. A single ``--port`` cannot be
shared: asking for several workers with one port fails at once.

``@pytest.mark.dut(nic="user", hostfwd=[80], gdb="unix", halted=False)`` passes
QEMU options for one test; ``dut.forwarded[80]`` is then the host port.
``@pytest.mark.dut(nic="stream")`` puts the board's Ethernet on the root-free
bridge: ``dut.mgr`` is a Manager on this process's built-in TCP/IP stack that
reaches the board at ``dut.url(...)``, and every bridged frame is saved as
``<test id>.pcap`` next to the console log; ``dut.network`` impairs that link
(loss, delay, link down ...; ``@pytest.mark.dut(nic="stream", impair="loss=5%")``
from the first frame on). ``dut.rpc`` is a JSON-RPC client
over the console (reference firmware, docs/device-rpc.md).

A crash record on the console (docs/device.md, "Crashes") fails the test at
once: a wait raises ``DeviceCrashed`` ("device crashed: HardFault (...) at
function (file:line)" and the backtrace) instead of timing out, and a test
that passed anyway is turned into a failure. ``dut.crash`` is the decoded
crash. ``@pytest.mark.dut(expect_crash=True)`` marks a test that crashes its
device on purpose: it waits with ``dut.wait_crash(timeout)`` and asserts on the
returned crash.

A wait that times out while the console has been silent for 2 s or more (a hang,
a lock-up) asks the emulator's gdbstub where the CPU is and fails with
``DeviceHung``: "device hung: no output for N s; pc at function (file:line)" and
a backtrace (``dut.hang``). QEMU targets get a gdbstub for this unless the
marker says ``gdb=None``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .boards import DEFAULT_BOARD

if TYPE_CHECKING:
    from .boards import Board
    from .bridge import StackBridge
    from .console import Console
    from .crash import Crash
    from .flash import FlashResult
    from .hang import Hang
    from .impair import Network
    from .labgrid import LabgridLease
    from .rpc import RpcClient
    from .targets import SerialTarget, Target

OPTIONS = (
    ("board", f"board name from the board map (default: {DEFAULT_BOARD})", "CYMONGOOSE_BOARD"),
    ("port", "serial port of a real board: path, socket://, rfc2217:// or lab port name",
     "CYMONGOOSE_PORT"),
    ("firmware", "firmware image to boot (emulated and host boards)", "CYMONGOOSE_FIRMWARE"),
    ("baudrate", "serial baud rate (default: from the board map)", None),
    ("flash", ("flash --firmware before testing: openocd or pyocd (real boards, once per "
              "session, verified) or gdb (QEMU: boot halted, write and verify through the "
              "gdbstub for every test; a labgrid place: through its exported gdbstub, once "
              "per session); default: QEMU boots the image with -kernel"),
     "CYMONGOOSE_FLASH"),
)
# labgrid places (--lg-place/--lg-tags, labgrid:// ports), --device-report and the
# on-target C cases (tests/target): hooks in their own modules.
pytest_plugins = ["cymongoose.device.labgrid_plugin", "cymongoose.device.report",
                  "cymongoose.device.target_tests"]
FLASH_CHOICES = ("qemu", "gdb", "openocd", "pyocd", "none")
TAIL_LINES = 40


def plugin_args() -> list[str]:
    """``-p`` arguments that load this plugin unless its entry point already will.

    Loading it both ways would register the same module twice, which pytest refuses.
    """
    from importlib import metadata

    if not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        for ep in metadata.entry_points(group="pytest11"):
            if ep.value == __name__:
                return []
    return ["-p", __name__]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cymongoose", "cymongoose device under test (dut fixture)")
    for name, help_text, env in OPTIONS:
        full = help_text + (f" [env {env}]" if env else "")
        try:
            group.addoption(f"--{name}", f"--dut-{name}", dest=f"dut_{name}", default=None,
                            help=full)
        except ValueError:  # another plugin owns --NAME: keep only the prefixed spelling
            group.addoption(f"--dut-{name}", dest=f"dut_{name}", default=None, help=full)
    group.addoption("--device-log-dir", "--device-artifacts", dest="dut_artifacts",
                    default=None, help="directory for per-test console logs and pcaps "
                    "(default: 'device' under pytest's basetemp)")
    group.addoption("--board-required", dest="dut_board_required", action="store_true",
                    default=None, help="a dut test whose emulator or board is missing is an "
                    "error, not a skip (default when the CI environment variable is set)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dut(**qemu_options): options for the QEMU target of this test's dut "
                   "(nic, hostfwd, gdb, halted, serial, extra_args; impair='loss=5%,...' "
                   "with nic='stream'); expect_crash=True: the test crashes its device on "
                   "purpose (dut.wait_crash)")
    config.addinivalue_line("markers", DUTS_MARKER)
    port = _opt(config, "port")
    # The xdist controller knows -n before any worker starts: fail there, fast.
    flash = _opt(config, "flash")
    if flash and flash not in FLASH_CHOICES:
        raise pytest.UsageError(f"--flash must be one of {', '.join(FLASH_CHOICES)}, not {flash!r}")
    _check_board_and_firmware(config)
    _interrupt_on_signals()
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT") or config.getoption(
        "numprocesses", default=None)
    if port and workers and str(workers) not in ("0", "1") and not _labgrid_asked(config):
        raise pytest.UsageError(
            f"--port {port} is one device but pytest-xdist started {workers} workers; "
            "run with -n 1, or give each worker its own device (QEMU boards do this for you)")


def _check_board_and_firmware(config: pytest.Config) -> None:
    """A bad --board or --firmware is one usage error for the session, not one
    failure per test."""
    firmware = _opt(config, "firmware")
    if firmware and not os.path.exists(firmware):
        raise pytest.UsageError(f"--firmware {firmware}: no such file")
    name = _opt(config, "board")
    if not name:
        return
    from .boards import load_boards
    from .errors import DeviceError

    try:
        names = sorted(load_boards().boards)
    except DeviceError as exc:  # a broken user board file
        raise pytest.UsageError(f"--board {name}: {exc}") from None
    if name not in names:
        from .cliutil import did_you_mean

        hint = did_you_mean(name, names) or f" (known: {', '.join(names)})"
        raise pytest.UsageError(f"unknown board {name!r}{hint}")


def _interrupt_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _interrupt_on_signals() -> None:
    """SIGTERM and SIGHUP (Windows: SIGBREAK) end the run like Ctrl-C: pytest tears the
    fixtures down, so every emulator a ``dut`` started stops and its temporary files go.
    (Even a SIGKILL leaves no emulator behind: they die with this process, see
    targets.dies_with_us; on Windows a Job Object, see hostos.guard_child.)"""
    import signal
    import threading

    from . import hostos

    if threading.current_thread() is not threading.main_thread():
        return
    for sig in hostos.termination_signals():
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _interrupt_on_signal)


def board_required(config: pytest.Config) -> bool:
    """Missing emulators fail dut tests instead of skipping them (CI by default)."""
    flag = config.getoption("dut_board_required", default=None)
    return bool(flag) or bool(os.environ.get("CI"))


def log_dir(config: pytest.Config) -> Path:
    """Where per-test console logs and pcaps go (one directory for the session)."""
    opt = config.getoption("dut_artifacts", default=None)
    if opt:
        return Path(opt).resolve()
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return Path(config.rootpath) / "device-logs"
    base = Path(factory.getbasetemp())
    if hasattr(config, "workerinput"):  # xdist worker: basetemp/popen-gwN; share one dir
        base = base.parent
    return base / "device"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The log directory, once, at the end where a person looks first."""
    path = log_dir(config)
    if path.is_dir():
        terminalreporter.write_line(f"cymongoose device logs: {path}")


def _xunit2(config: pytest.Config) -> bool:
    """pytest's default JUnit family, which allows no per-test properties."""
    return str(config.getini("junit_family")) == "xunit2"


def _labgrid_asked(config: pytest.Config) -> bool:
    """A labgrid place is leased per worker (labgrid_plugin), so -n N is fine."""
    from .labgrid_plugin import labgrid_spec

    return labgrid_spec(config) is not None


def _opt(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"dut_{name}", default=None)
    if value is None:
        env = next((e for n, _, e in OPTIONS if n == name), None)
        value = os.environ.get(env) if env else None
    return str(value) if value is not None else None


class Dut:
    """The device under test of one pytest test."""

    def __init__(self, target: Target, board: Board | None, log_path: Path,
                 flash_result: FlashResult | None = None, expect_crash: bool = False) -> None:
        self.target = target
        self.expect_crash = expect_crash  # @pytest.mark.dut(expect_crash=True)
        self.board = board
        self.log_path = log_path
        self.flash_result = flash_result  # how the image got there, when the dut flashed it
        self.pcap_path = log_path.with_suffix(".pcap")  # bridged frames (nic="stream")
        self._bridge: StackBridge | None = None
        self._rpc: RpcClient | None = None
        self.impair_spec: str | None = None  # @pytest.mark.dut(impair="loss=5%,...")

    @property
    def console(self) -> Console:
        return self.target.console

    def expect(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        __tracebackhide__ = True
        return self.console.expect(pattern, timeout)

    def expect_line(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        __tracebackhide__ = True
        return self.console.expect_line(pattern, timeout)

    def send_line(self, line: str) -> None:
        __tracebackhide__ = True
        self.console.send_line(line)

    @property
    def crash(self) -> Crash | None:
        """The device's crash, decoded (reason, pc, lr, registers, backtrace), or None."""
        return self.console.crash

    def wait_crash(self, timeout: float = 10.0) -> Crash:
        """Wait for the device to crash (a test marked ``expect_crash=True``); returns the
        decoded crash, raises ``ExpectTimeoutError`` if it does not come in time."""
        __tracebackhide__ = True
        return self.console.wait_crash(timeout)

    @property
    def hang(self) -> Hang | None:
        """Where the CPU was when a wait timed out on a silent console (QEMU's gdbstub,
        see :mod:`cymongoose.device.hang`), or None."""
        console = self.target._console
        return console.hang if console is not None else None

    @property
    def forwarded(self) -> dict[int, int]:
        """Guest TCP port -> 127.0.0.1 host port (QEMU user networking)."""
        return dict(getattr(self.target, "forwarded", {}))

    @property
    def gdb(self) -> Any:
        """Where the target's gdbstub listens (QEMU with ``@pytest.mark.dut(gdb=...)``)."""
        return getattr(self.target, "gdb", None)

    @property
    def rpc(self) -> RpcClient:
        """JSON-RPC client over the console (framing of docs/device-rpc.md):
        ``dut.rpc.call("led.set", on=True)``."""
        if self._rpc is None:
            from .rpc import RpcClient

            self._rpc = RpcClient(self.console)
        return self._rpc

    @property
    def bridged(self) -> bool:
        """True when the board's NIC is on the root-free bridge (``nic="stream"``)."""
        return getattr(self.target, "nic", None) == "stream"

    @property
    def bridge(self) -> StackBridge:
        """The root-free network bridge: the board's Ethernet ends in this process's
        built-in TCP/IP stack; every frame goes to ``<test id>.pcap``."""
        if self._bridge is None:
            from .bridge import StackBridge
            from .errors import DeviceError

            if not self.bridged:
                raise DeviceError(
                    "dut.mgr/dut.bridge need the board's NIC on the bridge: mark the test "
                    "with @pytest.mark.dut(nic='stream')")
            sock = self.target.netdev_socket()  # type: ignore[attr-defined]
            self._bridge = StackBridge(sock, pcap=self.pcap_path, health=self.target.check,
                                       impair=self.impair_spec)
            # link_down() also drops the NIC's carrier where QEMU can (QMP set_link).
            self._bridge.network.carrier = getattr(self.target, "set_link", None)
        return self._bridge

    @property
    def network(self) -> Network:
        """Impair the bridged link from now on: ``dut.network.impair(loss=0.1,
        delay_ms=50, jitter_ms=20)``, ``clear()``, ``link_down()``, ``link_up()``,
        ``stats``. Decisions go to ``<test id>.impair.log`` next to the pcap."""
        return self.bridge.network

    @property
    def mgr(self) -> Any:
        """A ``cymongoose.Manager`` whose connections reach the board through the bridge
        (``@pytest.mark.dut(nic="stream")``): ``dut.mgr.connect(dut.url("/"), fn)``."""
        return self.bridge.mgr

    def url(self, path: str = "/", guest_port: int = 80, scheme: str = "http") -> str:
        """URL of a service on the board: through the bridge (``nic="stream"``; waits for
        the board's DHCP lease first) or a QEMU port forward (``nic="user"``)."""
        if self.bridged:
            self.bridge.wait_ready()
            return self.bridge.url(path, guest_port, scheme)
        fwd = self.forwarded
        if guest_port not in fwd:
            raise KeyError(f"guest port {guest_port} is not forwarded; use "
                           f"@pytest.mark.dut(nic='user', hostfwd=[{guest_port}]) or "
                           "@pytest.mark.dut(nic='stream') for the bridge")
        return f"{scheme}://127.0.0.1:{fwd[guest_port]}{path}"

    def close(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None


def _safe_name(nodeid: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")
    return name[-150:] or "test"


@pytest.fixture
def dut_firmware(request: pytest.FixtureRequest) -> str | None:
    """The image the dut boots; override this fixture in a conftest to choose one in code."""
    return _opt(request.config, "firmware")


@pytest.fixture
def dut_artifacts(request: pytest.FixtureRequest) -> Path:
    """Directory for this session's per-test device logs and pcaps (--device-log-dir)."""
    path = log_dir(request.config)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def dut_session_flash(request: pytest.FixtureRequest) -> Iterator[dict[str, FlashResult]]:
    """Images flashed to real boards in this session (flash once, test many times;
    a failed flash fails every test that needs it without retrying)."""
    yield {}


class SerialConsoles:
    """Serial targets kept open for the whole session, one per port URL, each with one
    RPC client (request ids keep counting, so a late answer to an earlier test's request
    is recognised as stale rather than taken for a new one)."""

    def __init__(self) -> None:
        self._targets: dict[str, SerialTarget] = {}
        self._rpcs: dict[str, tuple[Console, RpcClient]] = {}

    def get(self, url: str, baudrate: int, board: Board | None) -> SerialTarget:
        """The open target for ``url``; reopened when a test closed it or the port dropped."""
        from .targets import SerialTarget

        target = self._targets.get(url)
        if target is not None:
            console = target._console
            if console is None or console.closed or target.baudrate != baudrate:
                target.stop()
                del self._targets[url]
                target = None
        if target is None:
            target = SerialTarget(url, baudrate=baudrate, board=board).start()
            self._targets[url] = target
        target.board = board
        return target

    def rpc(self, target: SerialTarget) -> RpcClient:
        from .rpc import RpcClient

        console = target.console
        kept = self._rpcs.get(target.url)
        if kept is None or kept[0] is not console:
            kept = (console, RpcClient(console))
            self._rpcs[target.url] = kept
        kept[1].notifications.clear()  # a notification of an earlier test is not this test's
        return kept[1]

    def close(self) -> None:
        for target in self._targets.values():
            target.stop()
        self._targets.clear()
        self._rpcs.clear()


@pytest.fixture(scope="session")
def dut_serial_consoles() -> Iterator[SerialConsoles]:
    """Serial consoles of this session (see :class:`SerialConsoles`), closed at its end."""
    consoles = SerialConsoles()
    yield consoles
    consoles.close()


def _flash_once(done: dict[str, FlashResult], key: str,
                flash: Callable[[], FlashResult]) -> FlashResult:
    """Runs ``flash`` the first time ``key`` is asked for in this session; a failure
    is stored and raised again for every later test rather than retried."""
    if key not in done:
        try:
            done[key] = flash()
        except Exception as exc:  # noqa: BLE001 - stored and re-raised for every test
            done[key] = exc  # type: ignore[assignment]
    result = done[key]
    if isinstance(result, BaseException):
        raise result
    return result


def _flash_real_board(board: Board, firmware: str, backend: str,
                      done: dict[str, FlashResult]) -> FlashResult:
    from .factory import make_flasher
    from .image import load_image_for

    def flash() -> FlashResult:
        return make_flasher(backend, board).flash(load_image_for(firmware, board), verify=True)

    return _flash_once(done, f"{board.name}:{backend}:{os.path.abspath(firmware)}", flash)


def _flash_over_gdb(target: Any, firmware: str) -> FlashResult:
    from .factory import make_flasher
    from .gdbremote import GdbClient
    from .image import load_image_for

    image = load_image_for(firmware, target.board)
    with GdbClient.connect_address(target.gdb) as client:
        return make_flasher("gdb", target.board, client=client).flash(image, verify=True)


def _flash_leased_place(lease: LabgridLease, board: Board | None, firmware: str,
                        done: dict[str, FlashResult]) -> FlashResult:
    """Once per session: write and verify ``firmware`` through the place's gdbstub."""
    from .boards import load_boards
    from .image import load_image_for
    from .labgrid import flash_place, lease_board

    def flash() -> FlashResult:
        target_board = board or lease_board(lease, load_boards(), None)  # or a clear error
        return flash_place(lease, load_image_for(firmware, target_board), verify=True)

    return _flash_once(done, f"labgrid:{lease.place}:{os.path.abspath(firmware)}", flash)


@pytest.fixture
def dut(request: pytest.FixtureRequest, dut_firmware: str | None,
        dut_artifacts: Path, record_testsuite_property: Any,
        dut_session_flash: dict[str, FlashResult],
        dut_serial_consoles: SerialConsoles) -> Iterator[Dut]:
    """A started (and, with --flash, flashed and verified) device for one test."""
    import dataclasses

    from .boards import load_boards
    from .factory import SpecError, TargetSpec, plan_target
    from .targets import QemuTarget, SerialTarget

    __tracebackhide__ = True
    config = request.config
    bmap = load_boards()

    def record_property(name: str, value: str) -> None:
        # xunit2 (pytest's default) has no per-test properties: the session's log
        # directory is a suite property there and the file names follow the test ids.
        if _xunit2(config):
            record_testsuite_property("dut_log_dir", str(dut_artifacts))
        else:
            request.node.user_properties.append((name, value))

    port = _opt(config, "port")
    lease = _labgrid_lease(config)
    port = _labgrid_port(config) or port  # a leased labgrid place: its rfc2217:// URL
    board_name = _opt(config, "board")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    log_path = dut_artifacts / f"{_safe_name(request.node.nodeid)}.log"
    baud_opt = _opt(config, "baudrate")
    flash = _opt(config, "flash")
    flash_result = None
    target: Target
    impair_spec: str | None = None
    marker = request.node.get_closest_marker("dut")
    expect_crash = bool(marker.kwargs.get("expect_crash")) if marker else False
    if flash in ("openocd", "pyocd"):
        name = board_name or (bmap.resolve_port(port).board if port else None)
        if not name or not dut_firmware:
            pytest.fail(f"dut: --flash {flash} needs --board and --firmware", pytrace=False)
        flash_result = _flash_real_board(bmap.get(name), dut_firmware, flash, dut_session_flash)
    kwargs = dict(marker.kwargs) if marker else {}
    kwargs.pop("expect_crash", None)
    impair = kwargs.pop("impair", None)
    spec = TargetSpec(board=board_name, firmware=dut_firmware, port=port,
                      baudrate=int(baud_opt) if baud_opt else None,
                      flash=None if flash == "qemu" else flash, log_path=log_path)
    try:
        plan = plan_target(spec, bmap)
    except SpecError as exc:
        name = board_name or DEFAULT_BOARD
        if exc.missing == "firmware":
            pytest.fail(f"dut: board {name} needs an image: pass --firmware, set "
                        "CYMONGOOSE_FIRMWARE or override the dut_firmware fixture", pytrace=False)
        if exc.missing == "port":
            pytest.fail(f"dut: board {name} is a real board; pass --port", pytrace=False)
        pytest.fail(f"dut: {exc}", pytrace=False)
    board = plan.board
    if plan.kind == "serial":  # one console per port for the whole session
        target = dut_serial_consoles.get(str(plan.url), plan.baudrate, board)
    else:
        if plan.kind == "qemu":
            why = plan.missing_tool()
            if why is not None:
                if board_required(config):
                    pytest.fail(f"dut: {why}; --board-required (or CI) makes this an error",
                                pytrace=False)
                pytest.skip(why)
            impair_spec = _impair_spec(impair, kwargs.get("nic"))
            kwargs.setdefault("gdb", "unix")  # finds a hang: cymongoose.device.hang
            plan = dataclasses.replace(plan, qemu=kwargs)  # @pytest.mark.dut(...) options
        target = plan.build()
    record_property("dut_console_log", str(log_path))
    the_dut: Dut | None = None
    if worker:
        record_property("dut_worker", worker)
    shared = isinstance(target, SerialTarget)  # kept open across tests (session)
    if shared:
        target.console.set_log(log_path)  # this test's log file from here on
        target.console.clear()            # and nothing left over from earlier tests
    else:
        target.start()
    if dut_firmware:
        target.console.crash_elf = dut_firmware
    target.console.raise_on_crash = not expect_crash
    request.node.stash[_DUT_KEY] = log_path
    try:
        if flash == "gdb":
            if lease is not None and dut_firmware:
                # After the console is open: the new image's boot output is this test's.
                flash_result = _flash_leased_place(lease, board, dut_firmware,
                                                   dut_session_flash)
            elif not isinstance(target, QemuTarget) or not dut_firmware:
                pytest.fail("dut: --flash gdb is for emulated boards and labgrid places, "
                            "with --firmware", pytrace=False)
            else:
                flash_result = _flash_over_gdb(target, dut_firmware)
        if flash_result is not None:
            record_property("dut_flash", flash_result.summary())
        the_dut = Dut(target, board, log_path, flash_result, expect_crash)
        the_dut.impair_spec = impair_spec
        request.node.stash[_DUT_OBJ_KEY] = the_dut
        if shared:
            the_dut._rpc = dut_serial_consoles.rpc(target)  # type: ignore[arg-type]
        if the_dut.bridged:
            # Attach at once so no frame of the boot (DHCP) is missed; without the
            # extension the error comes when the test asks for dut.mgr.
            from .errors import NotAvailableError

            try:
                the_dut.bridge  # noqa: B018 - opens the bridge
                record_property("dut_pcap", str(the_dut.pcap_path))
            except NotAvailableError:
                pass
        yield the_dut
    finally:
        if the_dut is not None:
            the_dut.close()
        if shared:
            console = target._console
            if console is not None:
                console.set_log(None)  # output between tests belongs to no test
        else:
            target.stop()


_DUT_KEY = pytest.StashKey[Path]()
_DUT_OBJ_KEY = pytest.StashKey[Dut]()


def _impair_spec(spec: object, nic: object) -> str | None:
    """The marker's ``impair=`` spec, checked before the emulator starts."""
    if spec is None:
        return None
    from .impair import parse_spec

    if nic != "stream":
        pytest.fail("dut: impair= needs the board's NIC on the bridge: "
                    "@pytest.mark.dut(nic='stream', impair=...)", pytrace=False)
    try:
        parse_spec(spec)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        pytest.fail(f"dut: impair={spec!r}: {exc}", pytrace=False)
    return str(spec)


def _labgrid_port(config: pytest.Config) -> str | None:
    from .labgrid_plugin import labgrid_port

    return labgrid_port(config)


def _labgrid_lease(config: pytest.Config) -> LabgridLease | None:
    from .labgrid_plugin import labgrid_lease

    lease = labgrid_lease(config)
    return lease if lease is not None and lease.active else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if call.when == "call":
        _report_crash(item, call, report)
    log_path = item.stash.get(_DUT_KEY, None)
    if log_path is None or not report.failed or call.when == "setup":
        return
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    tail = "\n".join(lines[-TAIL_LINES:])
    pcap = log_path.with_suffix(".pcap")
    frames = f"\nbridged frames: {pcap}" if pcap.exists() else ""
    report.sections.append(("dut console (last lines)", f"{log_path}{frames}\n{tail}"))


def _report_crash(item: pytest.Item, call: pytest.CallInfo[None], report: Any) -> None:
    """A device that crashed fails its test (unless the test expected it), with
    the decoded crash in the report."""
    from .errors import DeviceCrashed, DeviceError

    the_dut = item.stash.get(_DUT_OBJ_KEY, None)
    if the_dut is None or the_dut.expect_crash:
        return
    try:
        console = the_dut.target._console  # not .console: that would start a target
        if console is None or console.crash_text is None:
            return
        crash = console.crash
    except DeviceError as exc:
        crash = None
        text = f"device crashed (record not decoded: {exc})"
    else:
        text = f"device crashed: {crash}"
    if call.excinfo is not None and isinstance(call.excinfo.value, DeviceCrashed):
        return  # the failure already says it
    if report.passed:
        report.outcome = "failed"
        report.longrepr = text
    elif report.failed:
        report.sections.append(("dut crash", text))


# Several boards on one segment: the duts fixture lives in its own module.
from .pytest_duts import MARKER as DUTS_MARKER
from .pytest_duts import duts  # noqa: F401
