"""Lease a device from a labgrid coordinator (labgrid is imported only here, lazily).

labgrid is the distributed lab layer: a *coordinator* keeps places (a board and
the resources wired to it, matched on exporters) and reservations; *exporters*
on the lab hosts publish resources such as a serial port behind ser2net. We do
not run a lab server of our own: :class:`LabgridLease` talks to the coordinator
like ``labgrid-client`` does and hands back a pyserial URL our targets open.

One lease = reserve a place by tags (``name`` is a tag too, so a place name works
the same way), wait until the coordinator allocates one (bounded), acquire it,
and look up its exported serial port, which ser2net opens on a new TCP port at
every acquire: ``rfc2217://HOST:PORT?ign_set_control`` (plain pyserial gives up
on ser2net's missing "control" option without ``ign_set_control``).

Release always happens: ``release()`` is idempotent and runs from the context
manager, from ``atexit`` and from SIGTERM/SIGHUP handlers. A SIGKILLed run
cannot clean up, so every lease owner name carries the process id
(``USER-cym-PID``); the next lease on the same host releases places and cancels
reservations held by such owners whose process is gone (:func:`reclaim_stale`).

Flashing a place: the exporter also publishes the board's gdbstub as a labgrid
``NetworkService`` resource named ``gdb`` (labgrid has no gdbstub resource; a
NetworkService is its host:port endpoint) and the place matches it
(``add-match EXPORTER/GROUP/NetworkService/gdb``). :func:`flash_place` then writes,
verifies and restarts the board with our GDB remote client, as for a local QEMU.

URL form used by ``--port`` and the ``[ports]`` board map::

    labgrid://COORDINATOR[:PORT]/[PLACE][?TAG=VALUE&...]
"""

from __future__ import annotations

import asyncio
import atexit
import getpass
import os
import re
import signal
import socket
import threading
import time
import weakref
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

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
T = TypeVar("T")
# labgrid's client keepalive settings (kept when we open our own channel)
_CHANNEL_OPTIONS = [("grpc.keepalive_time_ms", 7500), ("grpc.keepalive_timeout_ms", 10000),
                    ("grpc.http2.ping_timeout_ms", 10000), ("grpc.http2.max_pings_without_data", 0)]


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


def _import_labgrid() -> Any:
    try:
        from labgrid.remote import client as lg_client
    except ImportError as exc:  # labgrid is an optional extra
        raise NotAvailableError(
            f"labgrid is not installed ({exc}); pip install labgrid") from None
    return lg_client


class _Session:
    """A labgrid ClientSession on a private event loop in a daemon thread.

    The thread keeps labgrid's message pump running (place and resource updates
    arrive while tests run) and lets a signal handler in the main thread submit
    the release without re-entering a running loop.

    This class is the only code that speaks labgrid's coordinator protocol below its
    public surface (``ClientSession``'s place list and ``get_target_resources``, which
    labgrid's own ``RemotePlace`` uses). labgrid's public client API is the
    ``labgrid-client`` command, whose ``ClientSession`` coroutines read an argparse
    namespace, print to stdout and return no reservation token; and
    ``start_session()`` shares one gRPC connection among all sessions of a process,
    while the coordinator tells clients apart by their connection. So reserving,
    acquiring and releasing are the few coordinator calls below, each a method here;
    requirements-dev.txt pins the labgrid version they are tested against.
    """

    def __init__(self, coordinator: str, user: str, timeout: float) -> None:
        lg = _import_labgrid()
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2
        from labgrid.util.proxy import proxymanager

        self.pb2 = pb2
        self.coordinator = coordinator
        self.user = user
        self.host = os.environ.get("LG_HOSTNAME") or socket.gethostname()
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="labgrid-session",
                                        daemon=True)
        self._thread.start()
        address = proxymanager.get_grpc_address(coordinator, default_port=LABGRID_PORT)
        session_host, session_user = self.host, user

        class Session(lg.ClientSession):  # type: ignore[misc, name-defined]
            channel: Any  # set by labgrid's ClientSession, replaced below
            stub: Any

            def __attrs_post_init__(self) -> None:
                super().__attrs_post_init__()
                # The coordinator tells clients apart by their TCP peer; gRPC would share
                # one connection among all sessions of this process (several leases, or a
                # lease next to a place listing), so give this session its own.
                import grpc
                from labgrid.remote.generated import labgrid_coordinator_pb2_grpc as pb2_grpc

                shared = self.channel
                self.channel = grpc.aio.insecure_channel(
                    target=self.address, options=[*_CHANNEL_OPTIONS,
                                                  ("grpc.use_local_subchannel_pool", 1)])
                self.stub = pb2_grpc.CoordinatorStub(self.channel)
                self.loop.create_task(shared.close())

            def gethostname(self) -> str:
                return session_host

            def getuser(self) -> str:
                return session_user

        async def start() -> Any:
            s = Session(address, self.loop)
            await s.start()
            return s

        try:
            self.s = self.run(start(), what=f"connecting to the labgrid coordinator {coordinator}")
        except BaseException:
            self._stop_loop()
            raise
        self.owner = f"{self.host}/{self.user}"
        self.closed = False

    def run(self, coro: Coroutine[Any, Any, T], what: str, timeout: float | None = None) -> T:
        limit = self.timeout if timeout is None else timeout
        fut = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, limit), self.loop)
        try:
            return fut.result(limit + 1.0)
        except (TimeoutError, asyncio.TimeoutError):
            fut.cancel()
            raise LabgridError(f"{what}: no answer within {limit:g} s") from None
        except LabgridError:
            raise
        except Exception as exc:  # noqa: BLE001 - labgrid's ServerError/UserError, gRPC errors
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise LabgridError(f"{what}: {detail or type(exc).__name__}") from None

    def call(self, method: str, request: Any, what: str) -> Any:
        async def go() -> Any:
            return await getattr(self.s.stub, method)(request)

        return self.run(go(), what)

    def sync(self) -> None:
        self.run(self.s.sync_with_coordinator(), "syncing with the labgrid coordinator")

    def places(self) -> dict[str, Any]:
        return dict(self.s.places)

    def reservations(self) -> list[Any]:
        from labgrid.remote.common import Reservation

        resp = self.call("GetReservations", self.pb2.GetReservationsRequest(),
                         "listing reservations")
        return [Reservation.from_pb2(r) for r in resp.reservations]

    def acquire_place(self, name: str) -> None:
        self.call("AcquirePlace", self.pb2.AcquirePlaceRequest(placename=name),
                  f"acquiring place {name}")
        self.sync()

    def release_place(self, name: str, owner: str) -> None:
        """Release ``name`` if ``owner`` (HOST/USER) still holds it."""
        self.call("ReleasePlace", self.pb2.ReleasePlaceRequest(placename=name, fromuser=owner),
                  f"releasing place {name}")

    def create_reservation(self, filters: Mapping[str, str]) -> str:
        """Reserve a place matching ``filters``; returns the reservation token."""
        req = self.pb2.CreateReservationRequest(
            filters={"main": self.pb2.Reservation.Filter(filter=dict(filters))}, prio=0.0)
        return str(self._reservation(self.call("CreateReservation", req, "reserving")).token)

    def poll_reservation(self, token: str) -> Any:
        """The reservation now (labgrid's Reservation: ``state``, ``allocations``)."""
        resp = self.call("PollReservation", self.pb2.PollReservationRequest(token=token),
                         f"polling reservation {token}")
        return self._reservation(resp)

    def cancel_reservation(self, token: str) -> None:
        self.call("CancelReservation", self.pb2.CancelReservationRequest(token=token),
                  f"cancelling reservation {token}")

    @staticmethod
    def _reservation(resp: Any) -> Any:
        from labgrid.remote.common import Reservation

        return Reservation.from_pb2(resp.reservation)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            async def stop() -> None:
                await self.s.stop()
                await self.s.close()

            self.run(stop(), "closing the labgrid session", timeout=5.0)
        except (LabgridError, RuntimeError):
            pass
        self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self.loop.close()


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


def reclaim_stale(session: _Session, filters: Mapping[str, str] | None = None) -> list[str]:
    """Release places and cancel reservations left by dead processes of this host.

    Returns the names of the places released (reservations are cancelled quietly).
    """
    released: list[str] = []
    for place in session.places().values():
        if filters is not None and not _matches(place, filters):
            continue
        if place.acquired and _stale_owner(place.acquired, session.host):
            session.release_place(place.name, place.acquired)
            released.append(place.name)
    for res in session.reservations():
        if _stale_owner(res.owner, session.host):
            try:
                session.cancel_reservation(res.token)
            except LabgridError:
                pass  # expired meanwhile
    if released:
        session.sync()
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
        for sig in (signal.SIGTERM, signal.SIGHUP):
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
            self.reclaimed = reclaim_stale(session, filters)
            self._check_exists(session, filters)
            t1 = time.monotonic()
            self.token = self._reserve(session, filters)
            t2 = time.monotonic()
            assert self.place is not None
            session.acquire_place(self.place)
            t3 = time.monotonic()
            self.resolve()
            self.timings = {"connect": t1 - t0, "reserve": t2 - t1, "acquire": t3 - t2,
                            "resolve": time.monotonic() - t3}
        except BaseException:
            self.release()
            raise
        return self

    def _check_exists(self, session: _Session, filters: Mapping[str, str]) -> None:
        if not any(_matches(p, filters) for p in session.places().values()):
            known = ", ".join(sorted(session.places())) or "none"
            raise LabgridError(f"no labgrid place matches {self.spec.describe()} "
                               f"(places there: {known})")

    def _reserve(self, session: _Session, filters: Mapping[str, str]) -> str:
        from labgrid.remote.common import ReservationState

        token = self.token = session.create_reservation(filters)
        deadline = time.monotonic() + self.wait
        while True:
            res = session.poll_reservation(token)
            if res.state in (ReservationState.allocated, ReservationState.acquired):
                names = [n for group in res.allocations.values() for n in group]
                if not names:
                    raise LabgridError(f"reservation {token} allocated no place")
                self.place = names[0]
                return token
            if res.state is not ReservationState.waiting:
                raise LabgridError(f"reservation {token} for {self.spec.describe()} is "
                                   f"{res.state.name}")
            if time.monotonic() >= deadline:
                places = [p for p in session.places().values() if _matches(p, filters)]
                busy = ", ".join(f"{p.name} (acquired by {p.acquired})" if p.acquired
                                 else f"{p.name} (reserved)" for p in places)
                raise LabgridError(
                    f"no free labgrid place for {self.spec.describe()} within {self.wait:g} s: "
                    f"{len(places)} match, all in use: {busy}")
            time.sleep(0.2)

    def resolve(self) -> str:
        """Find the place's exported serial port again (ser2net picks a new TCP port at
        every acquire) and set ``url``."""
        session = self._require()
        deadline = time.monotonic() + self.timeout
        while True:
            place = session.places().get(self.place or "")
            if place is None:
                raise LabgridError(f"place {self.place} vanished from the coordinator")
            self.tags = dict(place.tags)
            serial, gdb, names = [], None, []
            for (name, cls), res in session.s.get_target_resources(place).items():
                names.append(cls if name == cls else f"{name} ({cls})")
                if cls == "NetworkSerialPort":
                    serial.append(res)
                elif cls == "NetworkService" and name == GDB_RESOURCE:
                    gdb = res
            self.resources = sorted(names)
            self._gdb_proxy = bool(gdb is not None and (gdb.args.get("extra") or {}).get(
                "proxy_required"))
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
            time.sleep(0.05)
            session.sync()

    @staticmethod
    def _gdb_address(res: Any) -> GdbAddress | None:
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
            try:
                if self.place:
                    place = session.places().get(self.place)
                    if place is not None and place.acquired == session.owner:
                        session.release_place(self.place, session.owner)
                if self.token:
                    try:
                        session.cancel_reservation(self.token)
                    except LabgridError:
                        pass  # already gone (expired)
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
