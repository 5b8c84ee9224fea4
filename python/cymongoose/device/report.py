"""``pytest --device-report report.html``: one self-contained HTML page to open
first when a device test run goes red (issue 18 §3).

Failures come first. Per test: the outcome and time, the board and firmware
(with its SHA-256), how the image was flashed, the network impairment in
effect, the failure text, the decoded crash or hang, the console log (the last
lines open for a failure, the whole log folded) and the pcap's summary (frames
and bytes each way, TCP retransmissions and resets, DHCP messages) with links
to the log and pcap files in ``--device-log-dir``. No script, no external
resource: the file can be mailed or kept as a CI artifact and opened offline.

Facts are gathered where the test runs (an xdist worker too: they travel on the
test report as the ``dut_facts`` attribute) and the page is written once, at
the end of the session, by the process that ran it (the xdist controller).
"""

from __future__ import annotations

import hashlib
import html
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

LOG_LIMIT = 256 * 1024  # console log bytes kept per test (the end of it)
TAIL_OPEN = 30  # console lines shown unfolded for a failed test
ORDER = {"failed": 0, "error": 1, "xpassed": 2, "passed": 3, "xfailed": 4, "skipped": 5}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cymongoose")
    group.addoption("--device-report", dest="dut_report", default=None, metavar="PATH",
                    help="write one self-contained HTML report of the run (failures first; "
                    "console logs, decoded crashes, pcap summaries) to PATH")


def _sha256(path: str) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def _impairment(the_dut: Any) -> str | None:
    """The marker's spec, what is in effect at the end, and what it did."""
    parts = []
    if the_dut.impair_spec:
        parts.append(f"from the start: {the_dut.impair_spec}")
    net = getattr(the_dut._bridge, "network", None) if the_dut._bridge is not None else None
    if net is not None:
        now = [f"{d} {imp.describe()}" for d, imp in net.current.items()
               if imp is not None and imp.active]
        if now:
            parts.append("at the end: " + "; ".join(now))
        if net.is_down:
            parts.append("link down")
        stats = {k: v for k, v in net.stats.items() if v}
        if stats and (now or the_dut.impair_spec or net.touched):
            parts.append("frames: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items())))
    return "; ".join(parts) or None


def dut_facts(the_dut: Any) -> dict[str, Any]:
    """What the report shows about one test's device (JSON-serialisable)."""
    facts: dict[str, Any] = {}
    target = the_dut.target
    board = the_dut.board
    facts["board"] = board.name if board is not None else None
    console = getattr(target, "_console", None)
    firmware = getattr(target, "firmware", None) or (console.crash_elf if console else None)
    if firmware:
        facts["firmware"] = str(firmware)
        facts["firmware_sha256"] = _sha256(str(firmware))
    if the_dut.flash_result is not None:
        facts["flash"] = the_dut.flash_result.summary()
    facts["impair"] = _impairment(the_dut)
    log_path: Path = the_dut.log_path
    facts["log_path"] = str(log_path)
    try:
        data = log_path.read_bytes()
        facts["log"] = data[-LOG_LIMIT:].decode("utf-8", errors="replace")
        facts["log_cut"] = len(data) > LOG_LIMIT
    except OSError:
        facts["log"] = None
    pcap = the_dut.pcap_path
    if pcap.exists():
        from .errors import DeviceError
        from .pcapsummary import summarize

        facts["pcap"] = str(pcap)
        try:
            facts["pcap_summary"] = str(summarize(pcap))
        except DeviceError as exc:
            facts["pcap_summary"] = f"(not summarised: {exc})"
    if console is not None:
        try:
            crash = console.crash
            facts["crash"] = str(crash) if crash is not None else None
        except Exception as exc:  # noqa: BLE001 - a bad record must not break the report
            facts["crash"] = f"device crashed (record not decoded: {exc})"
        hang = getattr(console, "hang", None)
        facts["hang"] = str(hang) if hang is not None else None
    return facts


def junit_properties(facts: dict[str, Any], xunit2: bool) -> list[tuple[str, str]]:
    """The facts as JUnit ``<property>`` pairs. The dut fixture itself records the log,
    pcap and flash result per test only for xunit1 (pytest's record_property refuses
    xunit2); these go into both families."""
    names = [("board", "dut_board"), ("firmware", "dut_firmware"),
             ("firmware_sha256", "dut_firmware_sha256"), ("impair", "dut_impair"),
             ("pcap_summary", "dut_pcap_summary"), ("crash", "dut_crash"),
             ("hang", "dut_hang")]
    if xunit2:
        names += [("log_path", "dut_console_log"), ("pcap", "dut_pcap"), ("flash", "dut_flash")]
    return [(prop, str(facts[key])) for key, prop in names if facts.get(key)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, None]:
    outcome = yield
    config = item.config
    html_report = config.getoption("dut_report", default=None)
    junit = getattr(config.option, "xmlpath", None)
    if not html_report and not junit:
        return
    from .pytest_plugin import _DUT_OBJ_KEY, _xunit2

    the_dut = item.stash.get(_DUT_OBJ_KEY, None)
    if the_dut is None:
        return
    report = outcome.get_result()
    try:
        facts = dut_facts(the_dut)
    except Exception as exc:  # noqa: BLE001 - the report is an aid, never a failure cause
        facts = {"error": f"{type(exc).__name__}: {exc}"}
    # Later phases add to earlier ones: at teardown the console (and its crash) is gone.
    known = item.stash.get(_FACTS_KEY, {})
    merged = {**known, **{k: v for k, v in facts.items() if v is not None}}
    item.stash[_FACTS_KEY] = merged
    if html_report:
        report.dut_facts = facts
    if junit and call.when == "teardown":  # JUnit takes the properties of this report
        have = {name for name, _ in report.user_properties}
        report.user_properties.extend(
            (n, v) for n, v in junit_properties(merged, _xunit2(config)) if n not in have)


_FACTS_KEY = pytest.StashKey[dict[str, Any]]()


class Collector:
    """Collects the test reports of the session (on the xdist controller too)."""

    def __init__(self, path: Path, log_dir: Path | None) -> None:
        self.path = path
        self.log_dir = log_dir
        self.tests: dict[str, dict[str, Any]] = {}
        self.started = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        t = self.tests.setdefault(report.nodeid, {
            "nodeid": report.nodeid, "outcome": "passed", "duration": 0.0, "text": [],
            "facts": None, "order": len(self.tests)})
        t["duration"] += report.duration
        facts = getattr(report, "dut_facts", None)
        if facts:  # later phases add to earlier ones (at teardown the console is gone)
            known = t["facts"] or {}
            t["facts"] = {**known, **{k: v for k, v in facts.items() if v is not None}}
        xfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if xfail:
                t["outcome"] = "xfailed" if report.skipped else "xpassed"
            elif report.failed:
                t["outcome"] = "failed"
            elif report.skipped:
                t["outcome"] = "skipped"
        elif report.failed:
            t["outcome"] = "error"
        elif report.skipped and report.when == "setup":
            t["outcome"] = "xfailed" if xfail else "skipped"
        if report.failed or report.skipped:
            phase = "" if report.when == "call" else f"[{report.when}] "
            longrepr = report.longrepr
            if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, why)
                t["text"].append(phase + str(longrepr[2]))
            else:
                t["text"].append(phase + report.longreprtext)
                crash = getattr(longrepr, "reprcrash", None)
                if crash is not None and not t.get("headline"):  # where it failed, in short
                    t["headline"] = f"{phase}{crash.path}:{crash.lineno}: {crash.message}"
        for title, content in report.sections:
            if report.failed and title.startswith(("dut ", "Captured")):
                t["text"].append(f"--- {title} ---\n{content}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render(list(self.tests.values()), self.path, self.started,
                                    self.log_dir), encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_line(f"cymongoose device report: {self.path}")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("dut_report", default=None)
    if not path or hasattr(config, "workerinput"):  # xdist workers: the controller writes
        return
    from .pytest_plugin import log_dir

    collector = Collector(Path(path).resolve(), None)
    config.pluginmanager.register(collector, "cymongoose-device-report")
    collector.log_dir = log_dir(config) if config.getoption("dut_artifacts", None) else None


# ---- HTML ---------------------------------------------------------------------------------
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}
.summary span{display:inline-block;margin-right:1em;padding:.1em .5em;border-radius:3px}
section.test{background:#fff;border:1px solid #ddd;border-left:6px solid #999;
 margin:.8em 0;padding:.5em .9em}
section.failed,section.error{border-left-color:#c62828}
section.passed{border-left-color:#2e7d32}
section.skipped,section.xfailed{border-left-color:#9e9e9e}
section.xpassed{border-left-color:#ef6c00}
h2{font-size:1.05em;margin:.2em 0;word-break:break-all}
.badge{font-weight:bold;text-transform:uppercase;margin-right:.5em}
.failed .badge,.error .badge,.n-failed,.n-error{color:#c62828}
.passed .badge,.n-passed{color:#2e7d32}
table.facts td{padding:.05em .6em .05em 0;vertical-align:top}
table.facts td:first-child{color:#666;white-space:nowrap}
pre{background:#f4f4f4;padding:.5em;overflow-x:auto;white-space:pre-wrap;
 word-break:break-all;margin:.3em 0}
pre.failure,pre.crash{background:#fdecea}
pre.hang{background:#fff4e5}
summary{cursor:pointer;color:#444}
.dur{color:#666;font-weight:normal}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(path: str, report_path: Path) -> str:
    try:
        rel = os.path.relpath(path, report_path.parent)
    except ValueError:
        rel = path
    href = Path(rel).as_posix() if not os.path.isabs(rel) else Path(rel).as_uri()
    return f'<a href="{_e(href)}">{_e(path)}</a>'


def _console_html(facts: dict[str, Any], failed: bool) -> str:
    log = facts.get("log")
    if log is None:
        return ""
    lines = log.splitlines()
    out = []
    cut = " (the start was cut)" if facts.get("log_cut") else ""
    if failed and lines:
        tail = "\n".join(lines[-TAIL_OPEN:])
        out.append(f'<details open class="console-tail"><summary>console, last '
                   f'{min(TAIL_OPEN, len(lines))} lines</summary><pre>{_e(tail)}</pre></details>')
    out.append(f'<details class="console"><summary>console log, {len(lines)} lines{cut}'
               f'</summary><pre>{_e(log)}</pre></details>')
    return "\n".join(out)


def _test_html(t: dict[str, Any], report_path: Path) -> str:
    outcome = t["outcome"]
    failed = outcome in ("failed", "error")
    facts: dict[str, Any] = t["facts"] or {}
    rows: list[tuple[str, str]] = []
    if facts.get("board"):
        rows.append(("board", _e(facts["board"])))
    if facts.get("firmware"):
        sha = facts.get("firmware_sha256") or "(unreadable)"
        rows.append(("firmware", f"{_e(facts['firmware'])}<br><code>sha256 {_e(sha)}</code>"))
    if facts.get("flash"):
        rows.append(("flash", _e(facts["flash"])))
    if facts:
        rows.append(("network", _e(facts.get("impair") or "no impairment")))
    if facts.get("log_path"):
        rows.append(("console log", _link(facts["log_path"], report_path)))
    if facts.get("pcap"):
        rows.append(("pcap", (f"{_link(facts['pcap'], report_path)}<br>"
                             f"{_e(facts.get('pcap_summary', ''))}")))
    if facts.get("error"):
        rows.append(("report", _e(f"facts not gathered: {facts['error']}")))
    parts = [f'<section class="test {outcome}" id="t{t["order"]}">',
             (f'<h2><span class="badge">{_e(outcome)}</span>{_e(t["nodeid"])} '
             f'<span class="dur">{t["duration"]:.2f} s</span></h2>')]
    if rows:
        parts.append('<table class="facts">' + "".join(
            f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>")
    if facts.get("crash"):
        parts.append(f'<h3>decoded crash</h3><pre class="crash">{_e(facts["crash"])}</pre>')
    if facts.get("hang"):
        parts.append(f'<h3>device hung</h3><pre class="hang">{_e(facts["hang"])}</pre>')
    text = "\n\n".join(x for x in t["text"] if x)
    if text:
        if failed and t.get("headline"):  # the message open, the traceback folded
            headline = str(t["headline"])
            if facts.get("crash") or facts.get("hang"):  # shown in full above
                headline = headline.splitlines()[0]
            parts.append(f'<pre class="failure">{_e(headline)}</pre>')
            parts.append(f'<details class="traceback"><summary>traceback and sections'
                         f'</summary><pre class="failure">{_e(text)}</pre></details>')
        elif failed:
            parts.append(f'<pre class="failure">{_e(text)}</pre>')
        else:
            parts.append(f"<details><summary>reason</summary><pre>{_e(text)}</pre></details>")
    parts.append(_console_html(facts, failed))
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def render(tests: list[dict[str, Any]], report_path: Path, started: float,
           log_dir: Path | None = None) -> str:
    """The whole page for the collected tests (failures first, then run order)."""
    tests = sorted(tests, key=lambda t: (ORDER.get(t["outcome"], 9), t["order"]))
    counts: dict[str, int] = {}
    for t in tests:
        counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
    total = sum(t["duration"] for t in tests)
    badges = " ".join(f'<span class="n-{_e(k)}">{n} {_e(k)}</span>'
                      for k, n in sorted(counts.items(), key=lambda kv: ORDER.get(kv[0], 9)))
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    where = f"<p>device logs: {_link(str(log_dir), report_path)}</p>" if log_dir else ""
    red = counts.get("failed", 0) + counts.get("error", 0)
    title = f"cymongoose device tests: {'FAILED' if red else 'passed'}"
    body = "\n".join(_test_html(t, report_path) for t in tests)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{_e(title)}</h1>\n"
            f'<p class="summary">{badges} <span>{len(tests)} tests, {total:.1f} s, '
            f"started {_e(when)}</span></p>\n{where}\n{body}\n</body></html>\n")
