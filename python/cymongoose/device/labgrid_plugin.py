"""pytest side of the labgrid integration: the ``dut`` fixture on a leased labgrid place.

Loaded by :mod:`cymongoose.device.pytest_plugin` (its ``pytest_plugins``); labgrid itself
is imported only when one of these options asks for it:

* ``--lg-place NAME`` / ``--lg-tags k=v,...``: lease a place from the coordinator
  (``--lg-coordinator HOST:PORT``, also spelled ``--dut-lg-coordinator``; default
  ``$LG_COORDINATOR`` or 127.0.0.1:20408). ``--port labgrid://COORD/PLACE?k=v`` or a
  ``[ports]`` entry of the board map whose ``url`` is such a URL does the same.
* ``--lg-wait SECONDS`` (default 60): how long a worker waits for a free place before
  failing with a message that names the places and who holds them.

Each process that runs tests leases its own place in ``pytest_configure`` (so under
pytest-xdist every worker has its own device) and releases it in ``pytest_unconfigure``
(an xdist worker already in ``pytest_sessionfinish``, before it reports back), at exit
and on SIGTERM/SIGHUP. The ``dut`` fixture keeps the place's console open for the
whole session (per-test logs; see :mod:`cymongoose.device.pytest_plugin`), and with
``--flash gdb --firmware IMAGE`` writes and verifies the image once through the gdbstub
the place exports (:func:`cymongoose.device.labgrid.flash_place`). The xdist controller checks first that there are at least
as many matching places as workers and otherwise stops with a usage error naming both
counts, before any worker starts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from .defaults import LABGRID_WAIT

if TYPE_CHECKING:
    from .labgrid import LabgridLease, LabgridSpec

_LEASE_KEY = pytest.StashKey["LabgridLease | None"]()


def _labgrid_plugin_will_own_coordinator(pluginmanager: pytest.PytestPluginManager) -> bool:
    """labgrid's own pytest plugin defines ``--lg-coordinator``; defining it twice is an error."""
    from importlib import metadata

    if pluginmanager.is_blocked("labgrid") or os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return pluginmanager.has_plugin("labgrid")
    return any(ep.name == "labgrid" for ep in metadata.entry_points(group="pytest11"))


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("cymongoose", "cymongoose device under test (dut fixture)")
    group.addoption("--lg-place", dest="dut_lg_place", default=None, metavar="NAME",
                    help="lease this labgrid place for the dut (each xdist worker leases one)")
    group.addoption("--lg-tags", dest="dut_lg_tags", default=None, metavar="K=V,...",
                    help="lease a labgrid place whose tags match, e.g. board=qemu-mps2")
    group.addoption("--lg-wait", dest="dut_lg_wait", type=float, default=LABGRID_WAIT,
                    metavar="SECONDS",
                    help=f"wait this long for a free labgrid place (default {LABGRID_WAIT:g})")
    coord_help = "labgrid coordinator HOST:PORT (default $LG_COORDINATOR or 127.0.0.1:20408)"
    names = ["--dut-lg-coordinator"]
    if not _labgrid_plugin_will_own_coordinator(pluginmanager):
        names.insert(0, "--lg-coordinator")
    try:
        group.addoption(*names, dest="dut_lg_coordinator", default=None, metavar="HOST:PORT",
                        help=coord_help)
    except ValueError:
        group.addoption("--dut-lg-coordinator", dest="dut_lg_coordinator", default=None,
                        metavar="HOST:PORT", help=coord_help)


def labgrid_spec(config: pytest.Config) -> LabgridSpec | None:
    """The place this run asks for, or None when labgrid is not involved (read by the
    target factory from the same options the ``dut`` fixture uses)."""
    from .errors import DeviceError
    from .factory import TargetSpec, labgrid_spec_of

    place = config.getoption("dut_lg_place", default=None)
    tags = config.getoption("dut_lg_tags", default=None)
    coord = (config.getoption("dut_lg_coordinator", default=None)
             or getattr(config.option, "lg_coordinator", None))
    port = config.getoption("dut_port", default=None) or os.environ.get("CYMONGOOSE_PORT")
    spec = TargetSpec(port=port, lg_place=place, lg_tags=tags, lg_coordinator=coord)
    bmap = None
    if port and not (place or tags) and "://" not in port and not port.startswith("/"):
        from .boards import load_boards

        try:  # a lab port name: is its url a labgrid:// one?
            bmap = load_boards()
        except DeviceError:  # a broken board map is reported by the dut fixture
            return None
    return labgrid_spec_of(spec, bmap)


def _worker_count(config: pytest.Config) -> int:
    value = config.getoption("numprocesses", default=None)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[_LEASE_KEY] = None
    try:
        spec = labgrid_spec(config)
    except Exception as exc:  # noqa: BLE001 - bad tags/URL are usage errors
        raise pytest.UsageError(f"labgrid: {exc}") from None
    if spec is None:
        return
    from .errors import DeviceError, NotAvailableError
    from .labgrid import LabgridLease, count_places

    is_worker = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    workers = 0 if is_worker else _worker_count(config)
    dist = getattr(config.option, "dist", "no")
    if workers > 0 and dist != "no":
        # The xdist controller runs no test: only check that every worker will get a place.
        try:
            total, free = count_places(spec)
        except (NotAvailableError, DeviceError) as exc:
            raise pytest.UsageError(f"labgrid: {exc}") from None
        if workers > total:
            raise pytest.UsageError(
                f"pytest-xdist asked for {workers} workers but only {total} labgrid "
                f"place{'s' if total != 1 else ''} match {spec.describe()} "
                f"({free} free now): run with -n {max(total, 1)} or add places")
        return
    if config.getoption("collectonly", default=False):
        return
    lease = LabgridLease(spec, wait=float(config.getoption("dut_lg_wait", default=LABGRID_WAIT)))
    try:
        lease.acquire()
    except (NotAvailableError, DeviceError) as exc:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        raise pytest.UsageError(f"labgrid{' ' + worker if worker else ''}: {exc}") from None
    config.stash[_LEASE_KEY] = lease


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker gives its place back here, after the session fixtures closed the
    console and before xdist reports the worker finished: the controller may exit (and
    stop its workers) as soon as all have reported, and a release is a few labgrid-client
    runs long."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _release(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    _release(config)


def _release(config: pytest.Config) -> None:
    lease = config.stash.get(_LEASE_KEY, None)
    if lease is not None:
        config.stash[_LEASE_KEY] = None
        from .errors import DeviceError

        try:
            lease.release()
        except DeviceError as exc:  # e.g. the coordinator went away: say so, do not crash
            import sys

            print(f"cymongoose: labgrid place {lease.place} may still be acquired: {exc}",
                  file=sys.stderr)


def pytest_report_header(config: pytest.Config) -> str | None:
    lease = config.stash.get(_LEASE_KEY, None)
    if lease is None or not lease.active:
        return None
    return f"labgrid: place {lease.place} ({lease.spec.coordinator}) console {lease.url}"


def labgrid_lease(config: pytest.Config) -> LabgridLease | None:
    """The lease of this process (None when the run does not use labgrid)."""
    return config.stash.get(_LEASE_KEY, None)


def labgrid_port(config: pytest.Config) -> str | None:
    """The serial URL of the leased place, for the ``dut`` fixture (None without labgrid)."""
    lease = labgrid_lease(config)
    if lease is None or not lease.active:
        return None
    return lease.resolve()


@pytest.fixture(scope="session")
def dut_labgrid(request: pytest.FixtureRequest) -> LabgridLease:
    """This worker's labgrid lease (``.place``, ``.tags``, ``.url``); skips without one."""
    lease = labgrid_lease(request.config)
    if lease is None:
        pytest.skip("no labgrid place leased (use --lg-place or --lg-tags)")
    return lease
