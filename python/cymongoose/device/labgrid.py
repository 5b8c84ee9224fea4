"""Lease a device from a labgrid coordinator through labgrid's command line.

labgrid is the distributed lab layer: a *coordinator* keeps places (a board and
the resources wired to it, matched on exporters) and reservations; *exporters*
on the lab hosts publish resources such as a serial port behind ser2net. We do
not run a lab server of our own: :class:`LabgridLease` runs labgrid's documented
client, ``labgrid-client`` (no labgrid module is imported here), and hands back a
pyserial URL our targets open. The labgrid version it is tested against is pinned
once, in requirements-dev.txt.

One lease = reserve a place by tags (``reserve --wait --shell``; ``name`` is a tag
too, so a place name works the same way), wait until the coordinator allocates one
(bounded), acquire it (``-p +TOKEN acquire``), and look up its exported serial port
(``-p PLACE show``), which ser2net opens on a new TCP port at
every acquire: ``rfc2217://HOST:PORT?ign_set_control`` (plain pyserial gives up
on ser2net's missing "control" option without ``ign_set_control``).

Release always happens: ``release()`` is idempotent and runs from the context
manager, from ``atexit`` and from SIGTERM/SIGHUP handlers. A SIGKILLed run
cannot clean up, so every lease owner name carries the process id
(``USER-cym-PID``); the next lease on the same host releases places and cancels
reservations held by such owners whose process is gone (:func:`reclaim_stale`), and a
``reserve`` still waiting dies with its run (Linux: the parent-death signal).

Flashing a place: the exporter also publishes the board's gdbstub as a labgrid
``NetworkService`` resource named ``gdb`` (labgrid has no gdbstub resource; a
NetworkService is its host:port endpoint) and the place matches it
(``add-match EXPORTER/GROUP/NetworkService/gdb``). :func:`flash_place` then writes,
verifies and restarts the board with our GDB remote client, as for a local QEMU.

URL form used by ``--port`` and the ``[ports]`` board map::

    labgrid://COORDINATOR[:PORT]/[PLACE][?TAG=VALUE&...]
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from . import hostos
from .defaults import DEFAULT_BAUDRATE, LABGRID_PORT, LABGRID_WAIT
from .errors import DeviceError, NotAvailableError

if TYPE_CHECKING:
    from typing_extensions import Self

    from .boards import Board, BoardMap
    from .flash import FlashResult, ProgressFn
    from .image import Image
    from .targets import GdbAddress

DEFAULT_COORDINATOR = f"127.0.0.1:{LABGRID_PORT}"
GDB_RESOURCE = "gdb"  # name of the place's NetworkService that is the board's gdbstub
OWNER_MARK = "-cym-"  # USER-cym-PID: lets a later run spot leases of a dead process
_TAG_KEY = re.compile(r"^[a-z][a-z0-9_]+$")  # labgrid's own rules for tags
_TAG_VAL = re.compile(r"^[a-z0-9_]?[a-z0-9_\-]*$")


class LabgridError(DeviceError):
    """The coordinator refused or could not serve a lease."""


def default_coordinator() -> str:
    return os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


def parse_tags(text: str | Iterable[str] | None) -> dict[str, str]:
    """``"board=mps2,slot=1"`` (or a list of ``k=v``) -> a dict; labgrid's tag syntax."""
    if text is None:
        return {}
    items = text.split(",") if isinstance(text, str) else list(text)
    tags: dict[str, str] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise LabgridError(f"labgrid tag {item!r}: want KEY=VALUE")
        if not _TAG_KEY.match(key):
            raise LabgridError(f"labgrid tag key {key!r}: lower-case letters, digits and _ "
                               "(at least two characters, starting with a letter)")
        if not _TAG_VAL.match(value):
            raise LabgridError(f"labgrid tag value {value!r}: lower-case letters, digits, _ and -")
        tags[key] = value
    return tags


@dataclass(frozen=True)
class LabgridSpec:
    """Which place to lease: a coordinator plus a place name and/or tags."""

    coordinator: str = field(default_factory=default_coordinator)
    place: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def filters(self) -> dict[str, str]:
        f = dict(self.tags)
        if self.place:
            f["name"] = self.place  # the coordinator tags every place with its name
        return f

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.filters().items()]
        return f"{', '.join(parts) or 'any place'} at {self.coordinator}"

    @property
    def url(self) -> str:
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in self.tags.items())
        return f"labgrid://{self.coordinator}/{self.place or ''}" + (f"?{query}" if query else "")

    @classmethod
    def from_url(cls, url: str) -> LabgridSpec:
        """``labgrid://HOST[:PORT]/[PLACE][?k=v&...]``; an empty host means the default."""
        parts = urlsplit(url)
        if parts.scheme != "labgrid":
            raise LabgridError(f"not a labgrid URL: {url!r} (want labgrid://COORDINATOR/PLACE?TAGS)")
        place = parts.path.strip("/") or None
        if place and "/" in place:
            raise LabgridError(f"labgrid URL {url!r}: one place name after the coordinator")
        tags = parse_tags([f"{k}={v}" for k, v in parse_qsl(parts.query, keep_blank_values=True)])
        return cls(coordinator=parts.netloc or default_coordinator(), place=place, tags=tags)


def is_labgrid_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith("labgrid://")


def owner_user(pid: int | None = None) -> str:
    base = os.environ.get("LG_USERNAME") or getpass.getuser()
    return f"{base}{OWNER_MARK}{os.getpid() if pid is None else pid}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_owner(owner: str, host: str) -> bool:
    """An owner ``HOST/USER-cym-PID`` of this host whose process is gone."""
    ohost, _, user = owner.partition("/")
    head, mark, pid = user.rpartition(OWNER_MARK)
    if ohost != host or not mark or not head or not pid.isdigit():
        return False
    return int(pid) != os.getpid() and not _pid_alive(int(pid))


def _client_exe() -> str:
    """The ``labgrid-client`` command of this Python's environment, else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "labgrid-client")
    exe = beside if os.access(beside, os.X_OK) else shutil.which("labgrid-client")
    if not exe:
        raise NotAvailableError("labgrid is not installed (no labgrid-client command); "
                                "pip install labgrid")
    return exe


@dataclass
class PlaceInfo:
    """A place as ``labgrid-client`` shows it (``places -v``, ``show``)."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    acquired: str | None = None            # HOST/USER
    reservation: str | None = None         # token of the reservation it is allocated to
    acquired_resources: list[str] = field(default_factory=list)  # EXPORTER/GROUP/CLS/NAME
    # ``show`` of an acquired place: (name, cls) -> the resource the exporter publishes
    resources: dict[tuple[str, str], ResourceInfo] = field(default_factory=dict)


@dataclass
class ResourceInfo:
    cls: str
    avail: bool
    params: dict[str, Any]  # the exporter's parameters; ``extra`` holds proxy settings

    @property
    def args(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if k != "extra"}

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.params.get("extra") or {})


_PLACE_HEAD = re.compile(r"^Place '(?P<name>[^']+)':$")
_RES_HEAD = re.compile(r"^(?P<kind>Acquired|Orphaned) resource '(?P<name>[^']+)' "
                       r"\((?P<path>[^)]+)\)")
_RESERVATION_HEAD = re.compile(r"^Reservation '(?P<token>[^']+)':$")


def _parse_places(text: str) -> dict[str, PlaceInfo]:
    """``labgrid-client -v places`` / ``-p NAME show`` output -> places (with, for ``show``
    of an acquired place, its resources: pformat'ed dicts, read with ast.literal_eval)."""
    places: dict[str, PlaceInfo] = {}
    place: PlaceInfo | None = None
    lines = text.splitlines()
    i = 0
    section = ""
    while i < len(lines):
        line = lines[i]
        i += 1
        if m := _PLACE_HEAD.match(line):
            place = places[m["name"]] = PlaceInfo(m["name"])
            section = ""
            continue
        if place is None:
            continue
        if m := _RES_HEAD.match(line):
            block = []
            while i < len(lines) and lines[i].startswith("  "):
                block.append(lines[i].strip())
                i += 1
            if m["kind"] == "Acquired":
                data = ast.literal_eval(" ".join(block))
                place.resources[(m["name"], str(data["cls"]))] = ResourceInfo(
                    str(data["cls"]), bool(data.get("avail")), dict(data.get("params") or {}))
            continue
        if not line.startswith("  "):
            continue
        key, _, value = line.strip().partition(": ")
        if line.startswith("    "):
            if section == "acquired resources":
                place.acquired_resources.append(line.strip().split(" -> ")[0])
            continue
        section = key.rstrip(":")
        if key == "tags":
            place.tags = dict(t.split("=", 1) for t in value.split(", ") if "=" in t)
        elif key == "acquired":
            place.acquired = None if value == "None" else value
        elif key == "reservation":
            place.reservation = value or None
    return places


def _parse_reservations(text: str) -> list[dict[str, str]]:
    """``labgrid-client reservations`` -> [{token, owner, state}, ...]."""
    out: list[dict[str, str]] = []
    for line in text.splitlines():
        if m := _RESERVATION_HEAD.match(line):
            out.append({"token": m["token"]})
        elif out and line.startswith("  ") and not line.startswith("    "):
            key, _, value = line.strip().partition(": ")
            if key in ("owner", "state"):
                out[-1][key] = value
    return out


class _Session:
    """labgrid's documented command line, ``labgrid-client``, run for one owner.

    Every coordinator operation is one ``labgrid-client`` process (its own connection, so
    several leases in one process stay apart: the coordinator tells clients apart by
    connection and names the owner from ``LG_HOSTNAME``/``LG_USERNAME``). Output is read
    from the documented commands: ``reserve --wait --shell`` prints ``export LG_TOKEN=...``,
    ``-p +TOKEN acquire`` takes the place the reservation got, ``-p NAME show`` the
    resources of an acquired place, ``-v places`` and ``reservations`` the state of the lab.
    requirements-dev.txt pins the labgrid version whose output this is tested against.
    """

    def __init__(self, coordinator: str, user: str, timeout: float) -> None:
        self.exe = _client_exe()
        self.coordinator = coordinator
        self.user = user
        self.host = os.environ.get("LG_HOSTNAME") or socket.gethostname()
        self.owner = f"{self.host}/{self.user}"
        self.timeout = timeout
        env = {k: v for k, v in os.environ.items()
               if k not in ("LG_PLACE", "LG_TOKEN", "LG_ENV", "LG_STATE", "LG_INITIAL_STATE",
                            "PLACE", "STATE")}
        # Unbuffered: reserve --wait prints its token before it starts waiting.
        env.update(LG_USERNAME=user, LG_HOSTNAME=self.host, PYTHONUNBUFFERED="1")
        self.env = env
        self.closed = False
        self._procs: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def argv(self, *args: str) -> list[str]:
        return [self.exe, "-x", self.coordinator, *args]

    def _popen(self, *args: str, die_with_us: bool = False) -> subprocess.Popen[str]:
        argv = self.argv(*args)
        if die_with_us and hostos.system_of() == "linux":
            # A waiting reserve must not outlive a SIGKILLed run (it would keep its
            # reservation alive): the kernel sends it SIGTERM when we die.
            argv = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv]
        with self._lock:
            if self.closed:
                raise LabgridError("the labgrid session is closed")
            proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self._procs.add(proc)
        return proc

    def _done(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def run(self, *args: str, what: str, timeout: float | None = None) -> str:
        """One ``labgrid-client`` command; its stdout, or a LabgridError with its message."""
        limit = self.timeout if timeout is None else timeout
        proc = self._popen(*args)
        try:
            out, err = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise LabgridError(f"{what} (labgrid coordinator {self.coordinator}): no answer "
                               f"within {limit:g} s") from None
        finally:
            if proc.poll() is None:
                _kill(proc)
            self._done(proc)
        if proc.returncode != 0:
            raise LabgridError(f"{what} (labgrid coordinator {self.coordinator}): "
                               f"{_client_error(err, proc.returncode)}")
        return out

    def places(self) -> dict[str, PlaceInfo]:
        return _parse_places(self.run("-v", "places", what="listing places"))

    def show(self, name: str) -> PlaceInfo:
        places = _parse_places(self.run("-p", name, "show", what=f"showing place {name}"))
        if name not in places:
            raise LabgridError(f"place {name} vanished from the coordinator")
        return places[name]

    def reservations(self) -> list[dict[str, str]]:
        return _parse_reservations(self.run("reservations", what="listing reservations"))

    def reserve(self, filters: Mapping[str, str], wait: float,
                on_token: Callable[[str], None]) -> bool:
        """``reserve --wait --shell``: True once allocated, False after ``wait`` seconds
        (the waiting command is stopped; the caller cancels the reservation).
        ``on_token`` gets the token as soon as the coordinator hands it out."""
        proc = self._popen("reserve", "--wait", "--shell",
                           *(f"{k}={v}" for k, v in filters.items()), die_with_us=True)
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + max(wait, self.timeout)
            line = _readline(proc, deadline)
            m = re.match(r"export LG_TOKEN=(\S+)", line or "")
            if not m:
                _kill(proc)
                err = proc.stderr.read() if proc.stderr else ""
                raise LabgridError(f"reserving (labgrid coordinator {self.coordinator}): "
                                   f"{_client_error(err, proc.returncode)}")
            on_token(m.group(1))
            try:
                proc.wait(max(0.0, wait))
            except subprocess.TimeoutExpired:
                return False
            if proc.returncode != 0:
                err = proc.stderr.read() if proc.stderr else ""
                raise LabgridError(f"waiting for reservation {m.group(1)}: "
                                   f"{_client_error(err, proc.returncode)}")
            return True
        finally:
            if proc.poll() is None:
                _kill(proc)
            self._done(proc)

    def acquire_reserved(self, token: str) -> str:
        """Acquire the place reservation ``token`` got; returns its name."""
        out = self.run("-p", f"+{token}", "acquire", what=f"acquiring the place of "
                       f"reservation {token}")
        m = re.search(r"^acquired place (\S+)$", out, re.MULTILINE)
        if not m:
            raise LabgridError(f"acquiring the place of reservation {token}: labgrid-client "
                               f"said {out.strip()!r}")
        return m.group(1)

    def release_place(self, name: str, owner: str) -> None:
        """Release ``name`` if ``owner`` (HOST/USER) still holds it."""
        try:
            self.run("-p", name, "release-from", owner, what=f"releasing place {name}")
        except LabgridError as exc:
            if "is not acquired" not in str(exc):
                raise

    def cancel_reservation(self, token: str) -> None:
        self.run("cancel-reservation", token, what=f"cancelling reservation {token}")

    def stop(self) -> None:
        """Stop any command still running (a reserve still waiting, on a signal)."""
        with self._lock:
            procs, self._procs = list(self._procs), set()
        for proc in procs:
            _kill(proc)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self.closed = True


# prctl(PR_SET_PDEATHSIG, SIGTERM), then exec the command (argv[1] is our pid: we may have
# died before the prctl).
_DIE_WITH_PARENT = ("import ctypes, os, signal, sys\n"
                    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
                    "if os.getppid() != int(sys.argv[1]):\n    sys.exit(1)\n"
                    "os.execv(sys.argv[2], sys.argv[2:])\n")


def _readline(proc: subprocess.Popen[str], deadline: float) -> str | None:
    """The first stdout line of ``proc`` before ``deadline`` (None: none came)."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=min(0.5, max(0.0, deadline - time.monotonic()))):
                return proc.stdout.readline()
    return None


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()  # labgrid-client exits on SIGTERM
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None and not stream.closed:
            with contextlib.suppress(OSError):
                stream.close()


def _client_error(stderr: str, code: int | None) -> str:
    """labgrid-client's own message (its last line) without its program-name prefix."""
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    if not lines:
        return f"labgrid-client exited with status {code}"
    msg = lines[-1]
    for prefix in ("labgrid-client: ", "Server error: "):
        msg = msg.removeprefix(prefix)
    if "Could not connect to coordinator" in msg:
        return "could not connect to the coordinator"
    return msg


def _matches(place: Any, filters: Mapping[str, str]) -> bool:
    tags = dict(place.tags)
    tags["name"] = place.name
    return all(tags.get(k) == v for k, v in filters.items())


def count_places(spec: LabgridSpec, timeout: float = 10.0) -> tuple[int, int]:
    """(places matching ``spec``, of those not acquired right now)."""
    session = _Session(spec.coordinator, owner_user(), timeout)
    try:
        found = [p for p in session.places().values() if _matches(p, spec.filters())]
        return len(found), sum(1 for p in found if not p.acquired)
    finally:
        session.close()


def reclaim_stale(session: _Session, filters: Mapping[str, str] | None = None,
                  places: Mapping[str, PlaceInfo] | None = None) -> list[str]:
    """Release places and cancel reservations left by dead processes of this host.

    Returns the names of the places released (reservations are cancelled quietly).
    ``places``: a listing just taken (saves one round trip).
    """
    released: list[str] = []
    cancelled: set[str] = set()
    for place in (session.places() if places is None else places).values():
        if filters is not None and not _matches(place, filters):
            continue
        if place.acquired and _stale_owner(place.acquired, session.host):
            session.release_place(place.name, place.acquired)
            released.append(place.name)
            if place.reservation:  # else it would hold the place for 60 s more
                with contextlib.suppress(LabgridError):
                    session.cancel_reservation(place.reservation)
                cancelled.add(place.reservation)
    for res in session.reservations():  # also those still waiting, or allocated elsewhere
        if res["token"] not in cancelled and _stale_owner(res.get("owner", ""), session.host):
            with contextlib.suppress(LabgridError):  # expired meanwhile
                session.cancel_reservation(res["token"])
    return released


_ACTIVE: weakref.WeakSet[LabgridLease] = weakref.WeakSet()
_HANDLERS_LOCK = threading.Lock()
_handlers_installed = False


def release_all() -> None:
    """Release every lease of this process (atexit and signal handlers call this)."""
    for lease in list(_ACTIVE):
        try:
            lease.release()
        except Exception:  # noqa: BLE001, S110 - best effort on the way out
            pass


def _on_signal(signum: int, frame: Any) -> None:
    release_all()
    previous = _PREVIOUS.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    # Default action: die of the same signal, so the exit status still says so.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_PREVIOUS: dict[int, Any] = {}


def _install_handlers() -> None:
    global _handlers_installed
    with _HANDLERS_LOCK:
        if _handlers_installed:
            return
        _handlers_installed = True
        atexit.register(release_all)
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for sig in hostos.termination_signals():
            prev = signal.getsignal(sig)
            if prev in (signal.SIG_IGN,):
                continue
            _PREVIOUS[sig] = prev if callable(prev) else None
            signal.signal(sig, _on_signal)


class LabgridLease:
    """Reserve, acquire and release one labgrid place; ``url`` is its console.

    >>> with LabgridLease(LabgridSpec("lab:20408", tags={"board": "mps2"})) as lease:
    ...     SerialTarget(lease.url)                                  # doctest: +SKIP
    """

    def __init__(self, spec: LabgridSpec | str, *, wait: float = LABGRID_WAIT,
                 timeout: float = 15.0, user: str | None = None) -> None:
        self.spec = LabgridSpec.from_url(spec) if isinstance(spec, str) else spec
        self.wait = wait            # how long to wait for a free place
        self.timeout = timeout      # each coordinator round trip / the serial port to appear
        self.user = user or owner_user()
        self.place: str | None = None
        self.token: str | None = None
        self.url: str | None = None
        self.host: str | None = None
        self.port: int | None = None
        self.speed: int = DEFAULT_BAUDRATE
        self.tags: dict[str, str] = {}
        self.gdb: GdbAddress | None = None  # the exported gdbstub, when the place has one
        self.resources: list[str] = []     # "name (class)" of the place's resources
        self._gdb_proxy = False             # the gdbstub needs labgrid's SSH proxy
        self.reclaimed: list[str] = []
        self.timings: dict[str, float] = {}
        self._session: _Session | None = None
        self._lock = threading.RLock()

    # ---- lifecycle -----------------------------------------------------------------------------
    def acquire(self) -> Self:
        if self._session is not None:
            return self
        t0 = time.monotonic()
        _install_handlers()
        session = _Session(self.spec.coordinator, self.user, self.timeout)
        self._session = session
        _ACTIVE.add(self)
        try:
            filters = self.spec.filters()
            places = session.places()
            self.reclaimed = reclaim_stale(session, filters, places)
            self._check_exists(places, filters)
            t1 = time.monotonic()
            self.token = self._reserve(session, filters)
            t2 = time.monotonic()
            self.place = session.acquire_reserved(self.token)
            t3 = time.monotonic()
            self.resolve()
            self.timings = {"connect": t1 - t0, "reserve": t2 - t1, "acquire": t3 - t2,
                            "resolve": time.monotonic() - t3}
        except BaseException:
            self.release()
            raise
        return self

    def _check_exists(self, places: Mapping[str, PlaceInfo], filters: Mapping[str, str]) -> None:
        if not any(_matches(p, filters) for p in places.values()):
            known = ", ".join(sorted(places)) or "none"
            raise LabgridError(f"no labgrid place matches {self.spec.describe()} "
                               f"(places there: {known})")

    def _reserve(self, session: _Session, filters: Mapping[str, str]) -> str:
        def got(token: str) -> None:
            self.token = token  # from now on release() cancels it, whatever happens next

        if session.reserve(filters, self.wait, got):
            assert self.token is not None
            return self.token
        places = [p for p in session.places().values() if _matches(p, filters)]
        busy = ", ".join(f"{p.name} (acquired by {p.acquired})" if p.acquired
                         else f"{p.name} (reserved)" for p in places)
        raise LabgridError(
            f"no free labgrid place for {self.spec.describe()} within {self.wait:g} s: "
            f"{len(places)} match, all in use: {busy}")

    def resolve(self) -> str:
        """Find the place's exported serial port again (ser2net picks a new TCP port at
        every acquire) and set ``url``."""
        session = self._require()
        deadline = time.monotonic() + self.timeout
        while True:
            place = session.show(self.place or "")
            self.tags = dict(place.tags)
            serial, gdb, names = [], None, []
            for (name, cls), res in place.resources.items():
                names.append(cls if name == cls else f"{name} ({cls})")
                if cls == "NetworkSerialPort":
                    serial.append(res)
                elif cls == "NetworkService" and name == GDB_RESOURCE:
                    gdb = res
            self.resources = sorted(names)
            self._gdb_proxy = bool(gdb is not None and gdb.extra.get("proxy_required"))
            self.gdb = None if self._gdb_proxy else self._gdb_address(gdb)
            if not serial and place.acquired_resources:
                raise LabgridError(f"place {self.place} has no NetworkSerialPort among its "
                                   f"resources ({len(place.acquired_resources)} matched)")
            ready = [r for r in serial if r.avail and r.args.get("port")]
            if ready:
                args = ready[0].args
                self.host = str(args.get("host") or "127.0.0.1")
                self.port = int(args["port"])
                self.speed = int(args.get("speed") or DEFAULT_BAUDRATE)
                host = f"[{self.host}]" if ":" in self.host else self.host
                self.url = f"rfc2217://{host}:{self.port}?ign_set_control"
                return self.url
            if time.monotonic() >= deadline:
                raise LabgridError(f"place {self.place}: its serial port was not exported "
                                   f"within {self.timeout:g} s (is the exporter running?)")
            time.sleep(0.1)

    @staticmethod
    def _gdb_address(res: ResourceInfo | None) -> GdbAddress | None:
        if res is None or not res.avail or not res.args.get("port"):
            return None
        from .targets import GdbAddress

        return GdbAddress(host=str(res.args.get("address") or "127.0.0.1"),
                          port=int(res.args["port"]))

    def require_gdb(self) -> GdbAddress:
        """The place's exported gdbstub, or a LabgridError saying how to export one."""
        self._require()
        if self._gdb_proxy:
            raise LabgridError(f"place {self.place}: its gdbstub is reachable only through "
                               "labgrid's SSH proxy (proxy_required), which flashing does not "
                               "support yet")
        if self.gdb is None:
            have = ", ".join(self.resources) or "none"
            raise LabgridError(
                f"place {self.place} has no gdbstub to flash through (its resources: {have}): "
                f"export the board's gdbstub as a NetworkService named '{GDB_RESOURCE}' "
                f"(exporter.yaml: {GDB_RESOURCE}: {{cls: NetworkService, address: HOST, "
                f"port: PORT, username: ''}}) and add it to the place (labgrid-client -p "
                f"{self.place} add-match EXPORTER/GROUP/NetworkService/{GDB_RESOURCE})")
        return self.gdb

    def release(self) -> None:
        """Release the place and cancel the reservation; safe to call twice or after a failure."""
        with self._lock:
            session, self._session = self._session, None
            if session is None:
                return
            _ACTIVE.discard(self)
            session.stop()  # a reserve still waiting (release from a signal handler)
            try:
                if self.place:
                    session.release_place(self.place, session.owner)
                if self.token:
                    with contextlib.suppress(LabgridError):  # already gone (expired)
                        session.cancel_reservation(self.token)
            finally:
                self.url = None
                self.gdb = None
                session.close()

    def _require(self) -> _Session:
        if self._session is None:
            raise LabgridError("the labgrid lease is not acquired")
        return self._session

    @property
    def active(self) -> bool:
        return self._session is not None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = f"place {self.place} at {self.url}" if self.active else "not acquired"
        return f"<LabgridLease {self.spec.describe()}: {state}>"


def flash_place(lease: LabgridLease, image: Image, *, verify: bool = True,
                progress: ProgressFn | None = None, run: bool = True) -> FlashResult:
    """Write ``image`` through the leased place's exported gdbstub, verify it (read-back or
    qCRC), reset the board into it and let it run (``run=False``: leave it halted)."""
    from .errors import GdbError, PortNotFoundError
    from .flash import GdbFlasher
    from .gdbremote import GdbClient

    address = lease.require_gdb()
    try:
        with GdbClient.connect_address(address, timeout=lease.timeout) as client:
            return GdbFlasher(client, run=run).flash(image, verify=verify, progress=progress)
    except (GdbError, PortNotFoundError) as exc:  # say which place the stub belongs to
        raise type(exc)(f"place {lease.place}, gdbstub {address}: {exc}") from None


def lease_board(lease: LabgridLease, bmap: BoardMap, name: str | None) -> Board:
    """The board-map entry for a leased place: ``name``, else the place's ``board`` tag
    when it names a known board; else a clear error (images are checked against it)."""
    if name:
        return bmap.get(name)
    tag = lease.tags.get("board")
    if tag:
        try:
            return bmap.get(tag)
        except DeviceError:
            pass
    raise LabgridError(f"place {lease.place}: give --board (its tags name no board of the board "
                       f"map: {', '.join(f'{k}={v}' for k, v in lease.tags.items()) or 'none'})")


def lease(spec: LabgridSpec | str | None = None, *, place: str | None = None,
          tags: Mapping[str, str] | str | None = None, coordinator: str | None = None,
          wait: float = LABGRID_WAIT) -> LabgridLease:
    """Build a lease from a URL/spec or keywords (acquire it with ``with``)."""
    if spec is None:
        spec = LabgridSpec(coordinator=coordinator or default_coordinator(), place=place,
                           tags=parse_tags(tags) if isinstance(tags, str) else dict(tags or {}))
    return LabgridLease(spec, wait=wait)


# ---- a target on top of a lease ---------------------------------------------------------------------
def _serial_target_class() -> type:
    from .targets import SerialTarget

    return SerialTarget


class LabgridTarget(_serial_target_class()):  # type: ignore[misc]
    """A :class:`~cymongoose.device.targets.SerialTarget` on a leased labgrid place:
    ``start()`` leases and opens the exported console, ``stop()`` closes and releases.
    :func:`cymongoose.device.factory.build_target` makes one for a spec naming a place."""

    def __init__(self, spec: LabgridSpec | str, *, baudrate: int = DEFAULT_BAUDRATE,
                 board: Any = None, log_path: str | os.PathLike[str] | None = None,
                 wait: float = LABGRID_WAIT) -> None:
        self.lease = LabgridLease(spec, wait=wait)
        super().__init__(self.lease.spec.url, baudrate=baudrate, board=board, log_path=log_path)

    def start(self) -> LabgridTarget:
        if self._console is None:
            self.lease.acquire()
            self.url = self.lease.url or self.lease.resolve()
            try:
                super().start()
            except BaseException:
                self.lease.release()
                raise
        return self

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.lease.release()

    @property
    def gdb(self) -> GdbAddress | None:
        """The place's exported gdbstub (None without one, or before ``start()``)."""
        return self.lease.gdb
