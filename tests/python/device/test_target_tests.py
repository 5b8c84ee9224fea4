"""The core's C unit tests on every emulated board as pytest items (issue 18 §2):
`pytest --board B tests/target` boots the board's target_tests image once and
reports each C test case as its own item, a failing CHECK with its file:line."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from cymongoose.device.target_tests import parse_output
from mgtest import REPO, board_image, emulated_boards

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_device_crash import make_record
from test_device_plugin import run_pytest

BOARDS = sorted(b.name for b in emulated_boards())
# Cases every board runs (a 64 KiB board too, with smaller test buffers and
# stack pools), and those of the suite a 64 KiB board leaves out.
EVERYWHERE = ["util::test_base64", "util::test_hashes", "util::test_json_get",
              "util::test_json_malformed", "util::test_match", "sntp::main",
              "http_parse::test_request_line", "http_parse::test_header_limits",
              "http_parse::test_chunked", "stack_arp::test_resolve", "stack_ip::test_ping_sizes",
              "stack_udp::test_dhcp", "stack_tcp::test_handshake_and_data",
              "stack_tcp::test_keepalive", "stack_tcp::test_full_table_yields",
              "ws::test_header_codec", "ws::test_many_fragments", "mqtt::test_parse",
              "mqtt::test_connect_and_topics", "dns::test_parse", "dns::test_query"]
BIG_RAM = ["stack_link::test_many", "stack_link::test_lossy"]
SMALL_BOARDS = {"lm3s6965evb"}

OUTPUT = """\
[ 0.01] @@mgtest start mps2-an385 3
[ 0.01] @@mgtest suite util
[ 0.02] @@mgtest fail util test_json tests/c/test_util.c:42 n == 3
[ 0.02] @@mgtest case util test_json fail 7 12
[ 0.02] @@mgtest case util test_base64 pass 20 1
[ 0.03] @@mgtest suite stack_tcp
[ 0.03] @@mgtest case stack_tcp test_handshake pass 5 3
[ 0.04] @@mgtest suite stack_link
[ 0.04] {record}
"""


def test_parse_output() -> None:
    run = parse_output(OUTPUT.format(record=make_record()))
    assert run.board == "mps2-an385" and run.suites == ["util", "stack_tcp", "stack_link"]
    assert [(c.suite, c.name, c.passed, c.checks, c.ms) for c in run.cases] == [
        ("util", "test_json", False, 7, 12), ("util", "test_base64", True, 20, 1),
        ("stack_tcp", "test_handshake", True, 5, 3)]
    assert run.cases[0].failures == ["tests/c/test_util.c:42 n == 3"]
    assert not run.ended and run.error_suite == "stack_link"
    done = parse_output("@@mgtest start b 1\n@@mgtest suite s\n@@mgtest case s c pass 1 0\n"
                        "@@mgtest end 1 0\n")
    assert done.ended and done.totals == (1, 0) and done.error_suite is None


def test_items_failures_and_a_crashed_suite(tmp_path: Path) -> None:
    """The collector's items from a run (the boot replaced by a canned output): a
    failed case shows its C file:line, a suite that did not finish fails with why."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    fw = tmp_path / "build" / "fw-mps2-an385"
    fw.mkdir(parents=True)
    (fw / "target_tests.elf").write_bytes(b"\x7fELF not booted here")
    (tmp_path / "target_tests.toml").write_text('build_root = "."\n')
    (tmp_path / "conftest.py").write_text(
        "import cymongoose.device.target_tests as tt\n"
        f"TEXT = {OUTPUT.format(record=make_record())!r}\n"
        "def fake(image, board, log_path, timeout=0):\n"
        "    run = tt.parse_output(TEXT)\n"
        "    run.error = 'device crashed: HardFault (...) at somewhere'\n"
        "    return run\n"
        "tt.boot_and_run = fake\n")
    out = run_pytest(tmp_path, "", "--board", "mps2-an385", "-vv",
                     "--basetemp", str(tmp_path / "bt"))
    text = out.stdout + out.stderr
    assert "2 failed, 2 passed" in out.stdout, text
    assert "target_tests.toml::util::test_json FAILED" in text
    assert "target_tests.toml::util::test_base64 PASSED" in text
    assert "target_tests.toml::stack_link::(run) FAILED" in text
    assert "tests/c/test_util.c:42 n == 3" in text
    assert "suite stack_link did not finish on mps2-an385: device crashed: HardFault" in text


@pytest.mark.qemu
@pytest.mark.parametrize("board", BOARDS)
def test_c_cases_on_the_board(board: str, tmp_path: Path) -> None:
    image = board_image(board, "target_tests")  # fails (never skips) when not built
    logs = tmp_path / "logs"
    out = run_pytest(tmp_path, "", "--board", board, str(REPO / "tests" / "target"), "-vv",
                     "--rootdir", str(REPO), "--device-log-dir", str(logs), "--board-required",
                     "--basetemp", str(tmp_path / "bt"),
                     env={f"MG_FW_DIR_{board.upper().replace('-', '_')}": str(image.parent)},
                     timeout=240)
    text = out.stdout + out.stderr
    passed = re.findall(r"target_tests\.toml::(\w+::\w+) PASSED", text)
    want = EVERYWHERE + ([] if board in SMALL_BOARDS else BIG_RAM)
    assert set(want) <= set(passed), text
    m = re.search(r"(\d+) passed in", out.stdout)
    assert m and int(m.group(1)) == len(passed) and "failed" not in out.stdout, text
    assert len(passed) >= (55 if board in SMALL_BOARDS else 62)
    log = (logs / f"target_tests-{board}.log").read_text()
    assert f"@@mgtest start {board}" in log and f"@@mgtest end {len(passed)} 0" in log
    print(f"{board}: {len(passed)} C cases passed on the target")
