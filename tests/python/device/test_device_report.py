"""The HTML device report (issue 18 §3): `pytest --device-report PATH` writes one
self-contained page, failures first, with each test's board, firmware SHA-256,
failure text, decoded crash, console log and pcap summary; and the pcap numbers
alone on frames built here."""

from __future__ import annotations

import hashlib
import html
import html.parser
import json
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cymongoose.device.pcapsummary import summarize
from mgtest import REPO, board_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_device_plugin import run_pytest

DEV = bytes.fromhex("020000000001")
HOST = bytes.fromhex("020000000002")


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, smac: bytes, dmac: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return dmac + smac + b"\x08\x00" + hdr + payload


def tcp(seq: int, flags: int, data: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", 4000, 80, seq, 0, 5 << 4, flags, 1000, 0, 0) + data


def dhcp(msg_type: int, client: bool) -> bytes:
    body = bytes([1 if client else 2, 1, 6, 0]) + bytes(232) + b"\x63\x82\x53\x63"
    body += bytes([53, 1, msg_type, 255])
    ports = (68, 67) if client else (67, 68)
    return struct.pack("!HHHH", *ports, 8 + len(body), 0) + body


def write_pcap(path: Path, frames: list[bytes]) -> None:
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1000 + i, 0, len(fr), len(fr)) + fr)


def test_pcap_summary_counts(tmp_path: Path) -> None:
    """Directions by the DHCP client's MAC, a data segment sent twice is one
    retransmission (a new sequence number is not), RSTs, DHCP in order."""
    a, b = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
    zero, bcast = bytes(4), bytes([255] * 4)
    frames = [
        ipv4(b, bcast, 17, dhcp(2, False), HOST, b"\xff" * 6),  # an OFFER to someone else
        ipv4(zero, bcast, 17, dhcp(1, True), DEV, b"\xff" * 6),
        ipv4(b, bcast, 17, dhcp(2, False), HOST, DEV),
        ipv4(zero, bcast, 17, dhcp(3, True), DEV, b"\xff" * 6),
        ipv4(b, a, 17, dhcp(5, False), HOST, DEV),
        ipv4(a, b, 6, tcp(100, 0x02), DEV, HOST),  # SYN
        ipv4(a, b, 6, tcp(101, 0x18, b"hello"), DEV, HOST),
        ipv4(a, b, 6, tcp(101, 0x18, b"hello"), DEV, HOST),  # the same data again
        ipv4(a, b, 6, tcp(106, 0x18, b"world"), DEV, HOST),
        ipv4(b, a, 6, tcp(9, 0x14), HOST, DEV),  # RST+ACK
    ]
    path = tmp_path / "t.pcap"
    write_pcap(path, frames)
    s = summarize(path)
    assert s.frames == 10 and s.device_mac == "02:00:00:00:00:01"
    assert s.frames_from_device == 6 and s.frames_to_device == 4
    assert s.bytes_from_device == sum(len(f) for f in frames if f[6:12] == DEV)
    assert s.tcp_segments == 5 and s.tcp_retransmissions == 1 and s.tcp_resets == 1
    assert s.dhcp == ["OFFER", "DISCOVER", "OFFER", "REQUEST", "ACK"]
    assert "1 retransmissions, 1 resets; DHCP: OFFER DISCOVER" in str(s)
    # A file cut inside a record: what was whole is counted, and it says so.
    path.write_bytes(path.read_bytes()[:-7])
    cut = summarize(path)
    assert cut.frames == 9 and cut.truncated and "truncated" in str(cut)
    (tmp_path / "bad.pcap").write_bytes(b"not a pcap file at all, no")
    with pytest.raises(Exception, match="bad magic"):
        summarize(tmp_path / "bad.pcap")


class Sections(html.parser.HTMLParser):
    """The report's test sections in page order: (classes, text inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[tuple[str, list[str]]] = []
        self.depth = 0
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        for key in ("src", "href"):
            if (a.get(key) or "").startswith(("http:", "https:", "//")):
                self.external.append(a[key] or "")
        if tag == "section":
            self.sections.append((a.get("class") or "", []))

    def handle_data(self, data: str) -> None:
        if self.sections:
            self.sections[-1][1].append(data)


@dataclass
class Report:
    path: Path
    logs: Path
    elf: Path
    out: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """One pytest run on the reference board with --device-report: a pass, a crash,
    a bridged failure with an impairment, a skip."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    tmp_path = tmp_path_factory.mktemp("report")
    elf = board_image("mps2-an385", "device_app")
    report = tmp_path / "out" / "report.html"
    logs = tmp_path / "logs"
    out = run_pytest(tmp_path, """
        import pytest

        def test_first_passes(dut):
            dut.rpc.wait_notification("ready", timeout=15)

        def test_then_crashes(dut):
            dut.rpc.wait_notification("ready", timeout=15)
            dut.rpc.call("debug.fault", kind="divzero")

        @pytest.mark.dut(nic="stream", impair="delay=5ms")
        def test_bridged_fails(dut):
            dut.bridge.wait_ready(timeout=20)
            assert False, "deliberate failure"

        def test_skipped():
            pytest.skip("nothing to do")
        """, "--firmware", str(elf), "--device-report", str(report),
        "--junitxml", str(tmp_path / "junit.xml"),
        "--device-log-dir", str(logs), "--basetemp", str(tmp_path / "bt"), timeout=180)
    return Report(report, logs, elf, out)


@pytest.mark.qemu
def test_report_of_a_run(report_run: Report) -> None:
    report, logs, elf, out = report_run.path, report_run.logs, report_run.elf, report_run.out
    text = out.stdout + out.stderr
    assert "2 failed, 1 passed, 1 skipped" in out.stdout, text
    assert f"cymongoose device report: {report}" in text
    page = report.read_text()
    p = Sections()
    p.feed(page)
    assert not p.external and "script" not in p.tags and "link" not in p.tags
    order = [(cls, "".join(body)) for cls, body in p.sections]
    names = [re.search(r"::(test_\w+)", body).group(1) for _, body in order]  # type: ignore[union-attr]
    # Failures first (in run order), then the pass, then the skip.
    assert names == ["test_then_crashes", "test_bridged_fails", "test_first_passes",
                     "test_skipped"], names
    assert [c for c, _ in order] == ["test failed", "test failed", "test passed",
                                     "test skipped"]
    crash_body = order[0][1]
    sha = hashlib.sha256(elf.read_bytes()).hexdigest()
    assert "mps2-an385" in crash_body and f"sha256 {sha}" in crash_body
    assert re.search(r"HardFault \(divide by zero, escalated\) at debug_fault_divzero "
                     r"\(examples/device_app/rpc\.c:\d+\)", crash_body)
    assert "backtrace:" in crash_body and "m_debug_fault" in crash_body
    assert "device: debug.fault divzero" in crash_body  # the console log's failing part
    bridged = order[1][1]
    assert "deliberate failure" in bridged
    assert "from the start: delay=5ms" in bridged
    assert re.search(r"\d+ frames; device -> \d+ frames \d+ bytes", bridged), bridged
    assert "DHCP: DISCOVER OFFER REQUEST ACK" in bridged
    # Links are relative to the report and point at the files in --device-log-dir.
    links = re.findall(r'href="([^"]+)"', page)
    pcap = [h for h in links if h.endswith(".pcap")]
    assert pcap and (report.parent / pcap[0]).resolve().parent == logs.resolve()
    assert "nothing to do" in order[3][1]


# Run in a copy of the report (the report itself has no script): where each test
# section is, and whether the crash's backtrace is visible without a click.
PROBE = """
<script>
const out = {};
out.sections = [...document.querySelectorAll("section.test")].map(
  s => [s.className, s.querySelector("h2").textContent, s.getBoundingClientRect().top]);
const crash = document.querySelector("pre.crash");
out.crash_visible = !!crash && crash.checkVisibility() && crash.offsetHeight > 40;
out.crash_text = crash ? crash.innerText : "";
const tail = document.querySelector("section.failed details.console-tail pre");
out.tail_visible = !!tail && tail.checkVisibility();
const full = document.querySelector("section.passed details.console pre");
out.passed_log_folded = !!full && !full.checkVisibility();
out.width = document.documentElement.scrollWidth;
const res = document.createElement("pre");
res.id = "probe-result";
res.textContent = JSON.stringify(out);
document.body.appendChild(res);
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium (Debian: apt install chromium)")


def headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--no-first-run", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.qemu
def test_report_in_headless_chromium(report_run: Report) -> None:
    """The page renders in a real browser: failures on top, the decoded crash's
    backtrace visible without a click, a passed test's log folded; a screenshot is
    kept under artifacts/report/."""
    browser = chromium()
    page = report_run.path.read_text()
    probe = report_run.path.with_name("probe.html")
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = headless(browser, "--virtual-time-budget=3000", "--dump-dom", probe.as_uri())
    m = re.search(r'<pre id="probe-result">(.*?)</pre>', dom.stdout, re.DOTALL)
    assert m, dom.stdout[-2000:] + dom.stderr[-2000:]
    result = json.loads(html.unescape(m.group(1)))
    sections = result["sections"]
    assert [c for c, _, _ in sections] == ["test failed", "test failed", "test passed",
                                           "test skipped"]
    tops = [top for _, _, top in sections]
    assert tops == sorted(tops) and "test_then_crashes" in sections[0][1]
    assert result["crash_visible"], result
    assert "backtrace:" in result["crash_text"] and "debug_fault_divzero" in result["crash_text"]
    assert result["tail_visible"] and result["passed_log_folded"], result
    art = REPO / "artifacts" / "report"
    art.mkdir(parents=True, exist_ok=True)
    shot = art / "device-report.png"
    shot.unlink(missing_ok=True)
    headless(browser, "--window-size=1100,1000", "--hide-scrollbars",
             f"--screenshot={shot}", report_run.path.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1100, 1000) and len(data) > 20000  # not a blank page


@pytest.mark.qemu
def test_junit_xunit2_carries_the_facts(report_run: Report) -> None:
    """pytest's default JUnit family gets the same facts as per-test properties."""
    import xml.etree.ElementTree as ET

    root = ET.parse(report_run.path.parent.parent / "junit.xml").getroot()
    props = {tc.get("name"): {p.get("name"): p.get("value") for p in tc.iter("property")}
             for tc in root.iter("testcase")}
    crash = props["test_then_crashes"]
    assert crash["dut_board"] == "mps2-an385"
    assert crash["dut_firmware_sha256"] == hashlib.sha256(report_run.elf.read_bytes()).hexdigest()
    assert crash["dut_crash"].startswith("HardFault (divide by zero, escalated) at "
                                         "debug_fault_divzero (examples/device_app/rpc.c:")
    assert Path(crash["dut_console_log"]).parent == report_run.logs.resolve()
    bridged = props["test_bridged_fails"]
    assert "DHCP: DISCOVER OFFER REQUEST ACK" in bridged["dut_pcap_summary"]
    assert bridged["dut_pcap"].endswith(".pcap") and "delay=5ms" in bridged["dut_impair"]
    assert "dut_crash" not in props["test_first_passes"]
    assert props["test_skipped"] == {}
