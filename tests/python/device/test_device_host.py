"""Host-process target: a program on a pty, console commands, exits, missing programs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from cymongoose.device.errors import DeviceError, TargetExitedError
from cymongoose.device.targets import HostProcessTarget

# Stands in for the host build of a firmware app: a console loop on stdin/stdout.
APP = textwrap.dedent(
    """
    import sys
    print("app ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd.startswith("echo "):
            print("echo:", cmd[5:], flush=True)
        elif cmd.startswith("exit "):
            print("bye", file=sys.stderr, flush=True)
            sys.exit(int(cmd[5:]))
    """
)


@pytest.fixture
def app(tmp_path: Path) -> list[str]:
    f = tmp_path / "app.py"
    f.write_text(APP)
    return [sys.executable, "-u", str(f)]


def test_host_process_console(app: list[str], tmp_path: Path) -> None:
    with HostProcessTarget(app, log_path=tmp_path / "host.log") as t:
        t.console.expect_line("^app ready$", timeout=10)
        t.console.send_line("echo over a pty")
        assert t.console.expect_line(r"^echo: (.*)$", timeout=10).group(1) == "over a pty"
        t.console.send_line("exit 3")
        assert t.wait(timeout=10) == 3
        with pytest.raises(TargetExitedError, match=r"exit code 3\)[\s\S]*bye"):
            t.console.expect("never", timeout=5)
    assert "echo: over a pty" in (tmp_path / "host.log").read_text()


def test_stop_kills_a_running_app(app: list[str]) -> None:
    t = HostProcessTarget(app).start()
    t.console.expect("ready", timeout=10)
    proc = t.proc
    t.stop()
    assert proc is not None and proc.poll() is not None


def test_missing_program(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="does not exist or is not executable"):
        HostProcessTarget([str(tmp_path / "no_such_fw")]).start()
