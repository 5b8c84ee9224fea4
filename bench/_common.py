"""Helpers shared by the benchmarks: peer venv, server processes, C tools."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
PYPI_VENV = ROOT / "build" / "bench-venv-pypi"
OURS_PY = ROOT / ".venv" / "bin" / "python"


def pypi_python() -> Path:
    """Python of a separate venv holding the PyPI cymongoose wheel and uvloop."""
    py = PYPI_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PYPI_VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import cymongoose, uvloop"], capture_output=True, check=False)
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "cymongoose==0.2.5", "uvloop"],
                       check=True)
    return py


def build_c_tool(name: str) -> Path:
    """Compiles bench/<name>.c into build/bench/<name> when out of date."""
    src = ROOT / "bench" / f"{name}.c"
    exe = BUILD / name
    BUILD.mkdir(parents=True, exist_ok=True)
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["gcc", "-O2", "-Wall", "-o", str(exe), str(src)], check=True)
    return exe


class Server:
    """A server subprocess that prints its port on the first stdout line."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"server {argv} did not start (got {line!r})")
        self.port = int(line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:  # noqa: PYI034 - a plain class, not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, what: str = "server") -> None:
    """Waits up to about 5 s for something to accept on 127.0.0.1:port."""
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} on port {port} did not start")


class Nginx:
    """nginx with one worker on an ephemeral loopback port, all state in ``tmp``.

    ``http`` is the rest of the configuration's http block (directives and the server
    block); ``{port}`` in it stands for the port chosen here.
    """

    def __init__(self, tmp: Path, http: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = tmp / "nginx.conf"
        conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
{http.replace("{port}", str(self.port))}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)])
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start")

    def worker_pid(self) -> int:
        """The one worker process (the master only supervises)."""
        for _ in range(50):
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            if kids:
                return int(kids[0])
            time.sleep(0.05)
        raise RuntimeError("nginx worker not found")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
