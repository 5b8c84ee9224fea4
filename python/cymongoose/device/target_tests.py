"""The core's C unit tests on an emulated board, one pytest item per C test case
(issue 18 §2).

``pytest --board mps2-an385 tests/target`` collects ``tests/target/target_tests.toml``:
it boots the board's ``target_tests`` image (built by ``make fw`` from the same
test sources as the host ctest, see ``tests/target/firmware.cmake``) once, under
QEMU, reads the framed lines its runner prints and makes every case an item
(``target_tests.toml::<suite>::<case>``) that passes or fails with the C
``file:line`` and expression of each failed CHECK. An item's reported duration
is the case's time on the target. A crash inside a suite fails that suite with
the decoded crash record; a run that stops printing fails with where the CPU
was (the gdbstub, :mod:`cymongoose.device.hang`).

Collecting boots the board (a few seconds; under pytest-xdist once per worker).
The image is looked up in ``$MG_FW_DIR_<BOARD>``, for the reference board
``$MG_FW_DIR``, then ``build/fw-<board>`` under the directory of the ``.toml``'s
``build_root`` (default: pytest's rootdir). A missing image is a failing item,
never a skip, so CI cannot pass a board it did not run.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import hostos

FILE_NAME = "target_tests.toml"
LINE_RE = re.compile(r"^@@mgtest (\w+) ?(.*)$")
RUN_TIMEOUT = 120.0  # the whole run under QEMU (4 s on mps2-an385 here)


@dataclass
class Case:
    suite: str
    name: str
    passed: bool
    checks: int
    ms: int
    failures: list[str] = field(default_factory=list)  # "tests/c/x.c:42 expr"


@dataclass
class Run:
    """What one boot of the test image printed, parsed."""

    board: str = ""
    cases: list[Case] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)  # in the order they started
    ended: bool = False
    totals: tuple[int, int] | None = None  # (cases, failed) of the end line
    error: str | None = None  # the run did not end: crash, hang, exit (decoded text)
    error_suite: str | None = None  # the suite that was running then
    seconds: float = 0.0


def parse_output(text: str) -> Run:
    """Parse the runner's framed lines (``@@mgtest ...``, see tests/target/runner.c)."""
    run = Run()
    fails: dict[tuple[str, str], list[str]] = {}
    for raw in text.splitlines():
        # A console log line may carry a timestamp: find the frame anywhere in it.
        at = raw.find("@@mgtest ")
        if at < 0:
            continue
        m = LINE_RE.match(raw[at:].rstrip("\r"))
        if m is None:
            continue
        kind, rest = m.group(1), m.group(2)
        parts = rest.split(" ")
        if kind == "start" and parts:
            run.board = parts[0]
        elif kind == "suite" and parts:
            run.suites.append(parts[0])
        elif kind == "fail" and len(parts) >= 3:
            fails.setdefault((parts[0], parts[1]), []).append(" ".join(parts[2:]))
        elif kind == "case" and len(parts) >= 5:
            suite, name, verdict = parts[0], parts[1], parts[2]
            try:
                checks, ms = int(parts[3]), int(parts[4])
            except ValueError:
                continue
            run.cases.append(Case(suite, name, verdict == "pass", checks, ms,
                                  fails.get((suite, name), [])))
        elif kind == "end" and len(parts) >= 2:
            run.ended = True
            try:
                run.totals = (int(parts[0]), int(parts[1]))
            except ValueError:
                run.totals = None
    done = {c.suite for c in run.cases}
    running = [s for s in run.suites if s not in done]
    run.error_suite = running[0] if running else None
    return run


def image_for(board: str, root: Path, name: str = "target_tests") -> Path:
    env = "MG_FW_DIR_" + board.upper().replace("-", "_").replace(".", "_")
    if os.environ.get(env):
        d = Path(os.environ[env])
    elif board == "mps2-an385" and os.environ.get("MG_FW_DIR"):
        d = Path(os.environ["MG_FW_DIR"])
    else:
        d = root / "build" / f"fw-{board}"
        if not d.is_dir() and board == "mps2-an385":
            d = root / "build" / "fw"
    return d / f"{name}.elf"


def boot_and_run(image: Path, board: Any, log_path: Path | None,
                 timeout: float = RUN_TIMEOUT) -> Run:
    """Boot ``image`` on ``board`` under QEMU, wait for the end line (or a crash, a
    hang, an exit) and parse what it printed."""
    from .errors import DeviceError
    from .targets import QemuTarget

    t0 = time.monotonic()
    error: str | None = None
    with QemuTarget(image, board, gdb="unix", log_path=log_path) as target:
        console = target.console
        console.hang_after = 5.0
        try:
            console.expect(r"@@mgtest end \d+ \d+\r?\n", timeout=timeout)
        except DeviceError as exc:  # DeviceCrashed, DeviceHung, a time-out, an exit
            error = str(exc)
        text = console.tail if log_path is None else ""
    if log_path is not None:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    run = parse_output(text)
    if error is not None and not run.ended:
        run.error = error
    run.seconds = time.monotonic() - t0
    return run


# ---- pytest ------------------------------------------------------------------------------
class CaseFailed(Exception):
    pass


def _read_build_root(path: Path, default: Path) -> Path:
    """``build_root = "../.."`` in the .toml: where ``build/`` is, relative to it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise pytest.UsageError(f"{path}: {exc}") from None
    root = data.get("build_root")
    return (path.parent / str(root)).resolve() if root else default


class TargetTestsFile(pytest.File):
    """``target_tests.toml``: boots the board's test image, one item per C case."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        from .boards import DEFAULT_BOARD, load_boards
        from .pytest_plugin import _opt, board_required, log_dir

        config = self.config
        name = _opt(config, "board") or DEFAULT_BOARD
        board = load_boards().get(name)
        if board.boot != "qemu" or board.build_only:
            yield Problem.from_parent(self, name=f"{name}", skip=True,
                                      message=f"board {name} is not emulated: the C cases "
                                              "run on QEMU boards only")
            return
        qemu = str(board.qemu.get("binary", "qemu-system-arm"))
        if hostos.find_qemu(qemu) is None:
            why = f"{qemu} is not installed (board {name})"
            yield Problem.from_parent(self, name=name, skip=not board_required(config),
                                      message=why)
            return
        root = _read_build_root(self.path, Path(config.rootpath))
        image = image_for(name, root)
        if not image.is_file():
            yield Problem.from_parent(self, name=name, message=(
                f"{image} is missing: build the firmware with `make fw` "
                f"(FW_BOARDS={name})"))
            return
        logs = log_dir(config)
        logs.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        log_path = logs / f"target_tests-{name}{'-' + worker if worker else ''}.log"
        run = boot_and_run(image, board, log_path)
        suites: dict[str, list[Case]] = {}
        for case in run.cases:
            suites.setdefault(case.suite, []).append(case)
        for suite in run.suites:
            node = SuiteNode.from_parent(self, name=suite)
            node.cases = suites.get(suite, [])
            node.run = run
            node.log_path = log_path
            yield node
        if not run.ended and run.error_suite is None:
            yield Problem.from_parent(self, name=f"{name}-run", message=(
                f"the test image did not finish on {name}: "
                f"{run.error or 'no end line'}\nconsole log: {log_path}"))


class SuiteNode(pytest.Collector):
    """One C test file (its ``main()``)."""

    cases: list[Case]
    run: Run
    log_path: Path

    def collect(self) -> Iterator[pytest.Item]:
        for case in self.cases:
            item = CaseItem.from_parent(self, name=case.name)
            item.case = case
            yield item
        if self.run.error_suite == self.name:
            yield Problem.from_parent(self, name="(run)", message=(
                f"suite {self.name} did not finish on {self.run.board}: "
                f"{self.run.error or 'no end line'}\nconsole log: {self.log_path}"))


class CaseItem(pytest.Item):
    """One C test case: a test function of a tests/c file, run on the board."""

    case: Case
    fixturenames: tuple[str, ...] = ()  # no fixtures (other plugins look at this)

    def runtest(self) -> None:
        self.user_properties.append(("target_ms", str(self.case.ms)))
        self.user_properties.append(("target_checks", str(self.case.checks)))
        if not self.case.passed:
            raise CaseFailed("\n".join(self.case.failures) or "failed (no CHECK line)")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            c = self.case
            return (f"{c.suite}::{c.name} failed on the target ({c.checks} checks, "
                    f"{c.ms} ms):\n" + "\n".join(f"  {f}" for f in c.failures))
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.case.suite}::{self.case.name}"


class Problem(pytest.Item):
    """A failing (or skipped) item standing for a run that could not report cases."""

    fixturenames: tuple[str, ...] = ()

    def __init__(self, *, message: str, skip: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message
        self.skip = skip

    def runtest(self) -> None:
        if self.skip:
            pytest.skip(self.message)
        raise CaseFailed(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return self.message
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.File | None:
    if file_path.name == FILE_NAME:
        return TargetTestsFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, None]:
    outcome = yield
    if isinstance(item, CaseItem) and call.when == "call":
        outcome.get_result().duration = item.case.ms / 1000.0  # the time on the target
