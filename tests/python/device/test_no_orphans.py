"""No orphans: whatever ends a command or a pytest run that booted QEMU, the emulator goes
with it. SIGTERM, SIGHUP and SIGINT let the command clean up (QEMU stopped, its temporary
socket directory removed); even SIGKILL of the parent, when nothing can run, leaves no
QEMU behind (Linux parent-death signal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cymongoose.device.pytest_plugin import plugin_args

pytestmark = pytest.mark.qemu

PKG_ROOT = Path(__file__).resolve().parents[3] / "python"


def children_named(ppid: int, name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if comm.startswith(name) and int(fields[1]) == ppid and fields[0] != "Z":
            found.append(int(entry))
    return found


def wait_for(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


def sockdir_of(qemu_pid: int) -> Path:
    """The temporary directory QEMU's sockets live in (from its command line)."""
    args = Path(f"/proc/{qemu_pid}/cmdline").read_bytes().split(b"\0")
    for a in args:
        for part in a.decode(errors="replace").split(","):
            if "/cmg-" in part:
                path = Path(part.split("=", 1)[-1])
                return next(p for p in path.parents if p.name.startswith("cmg-"))
    raise AssertionError(f"no cmg- directory in {args!r}")


def start_console(firmware: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cymongoose", "console", "--firmware", str(firmware)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(PKG_ROOT)))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_cli_signal_stops_qemu_and_cleans_up(qemu: str, testfw: Path, sig: int) -> None:
    cli = start_console(testfw)
    try:
        assert wait_for(lambda: children_named(cli.pid, "qemu-system"), 20), "QEMU never started"
        qemu_pid = children_named(cli.pid, "qemu-system")[0]
        sockdir = sockdir_of(qemu_pid)
        assert sockdir.is_dir()
        time.sleep(0.3)  # inside the console loop
        cli.send_signal(sig)
        cli.wait(15)
        assert not Path(f"/proc/{qemu_pid}").exists() or wait_for(
            lambda: not Path(f"/proc/{qemu_pid}").exists(), 5), "QEMU outlived the CLI"
        assert not sockdir.exists(), f"{sockdir} left behind"
    finally:
        cli.kill()
        cli.wait()


def test_sigkill_of_the_cli_leaves_no_qemu(qemu: str, testfw: Path) -> None:
    cli = start_console(testfw)
    try:
        assert wait_for(lambda: children_named(cli.pid, "qemu-system"), 20), "QEMU never started"
        qemu_pid = children_named(cli.pid, "qemu-system")[0]
        cli.kill()
        cli.wait(5)
        assert wait_for(lambda: not Path(f"/proc/{qemu_pid}").exists(), 5), \
            "QEMU outlived a SIGKILLed parent"
    finally:
        cli.kill()
        cli.wait()


def test_sigterm_of_a_pytest_run_tears_the_dut_down(qemu: str, testfw: Path,
                                                    tmp_path: Path) -> None:
    (tmp_path / "test_long.py").write_text(textwrap.dedent("""
        import time

        def test_long(dut):
            dut.expect_line("ready")
            time.sleep(60)
        """))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS"))}
    env["PYTHONPATH"] = str(PKG_ROOT)
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", *plugin_args(), "-p", "no:cacheprovider", "-o", "addopts=",
         "--rootdir", str(tmp_path), "-q", "--firmware", str(testfw), "test_long.py"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: children_named(run.pid, "qemu-system"), 20), "QEMU never started"
        qemu_pid = children_named(run.pid, "qemu-system")[0]
        sockdir = sockdir_of(qemu_pid)
        time.sleep(1.0)
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=20)
        assert wait_for(lambda: not Path(f"/proc/{qemu_pid}").exists(), 5), "QEMU outlived pytest"
        assert not sockdir.exists(), f"{sockdir} left behind"
        assert run.returncode != 0 and b"KeyboardInterrupt" in out
    finally:
        run.kill()
        run.wait()
