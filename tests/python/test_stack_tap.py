"""The built-in TCP/IP stack over a Linux TAP device, against real peers.

The test creates its own network namespace with a TAP device (10.9.0.1/24 on
the kernel side) and runs tests/stack/tap_server.c, a cymongoose manager on
the built-in stack at 10.9.0.2, attached to it. Every peer (ping, curl,
Python sockets) runs inside that namespace, so no traffic leaves it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "build" / "host" / "libmg_core.a"
STACK_IP = "10.9.0.2"
BIG = 10 * 1024 * 1024

pytestmark = pytest.mark.root


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "root (network namespaces and TAP devices)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun"
    for tool in ("ip", "ping", "curl", "cc"):
        if shutil.which(tool) is None:
            return f"the '{tool}' command"
    if not LIB.exists():
        return f"{LIB.relative_to(ROOT)} (run `make host`)"
    return None


class Namespace:
    """A network namespace holding tap0 and the stack server."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *cmd: str, timeout: float = 60, check: bool = True,
            data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], input=data,
                              capture_output=True, timeout=timeout, check=check)

    def python(self, code: str, timeout: float = 60) -> str:
        """Runs Python code inside the namespace; returns its stdout."""
        r = self.run(sys.executable, "-c", textwrap.dedent(code), timeout=timeout,
                     check=False)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        return r.stdout.decode()


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def ns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespace]:
    missing = _missing()
    if missing is not None:
        pytest.skip(f"needs {missing}")
    tmp = tmp_path_factory.mktemp("stack_tap")
    exe = tmp / "tap_server"
    subprocess.run(
        ["cc", "-std=c11", "-O2", f"-I{ROOT / 'src' / 'include'}",
         str(ROOT / "tests" / "stack" / "tap_server.c"), str(LIB),
         "-lssl", "-lcrypto", "-lpthread", "-lm", "-o", str(exe)],
        check=True, timeout=120)
    name = f"mgstk{os.getpid()}"
    _sh("ip", "netns", "add", name)
    n = Namespace(name)
    server = None
    try:
        n.run("ip", "link", "set", "lo", "up")
        n.run("ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
        n.run("ip", "addr", "add", "10.9.0.1/24", "dev", "tap0")
        n.run("ip", "link", "set", "tap0", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", name, str(exe), "tap0", f"{STACK_IP}/24"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert server.stdout is not None
        line = server.stdout.readline().decode()
        assert line.startswith("ready"), line
        yield n
    finally:
        if server is not None:
            server.terminate()
            try:
                _, err = server.communicate(timeout=10)
                print(err.decode(errors="replace"))
            except subprocess.TimeoutExpired:
                server.kill()
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True,
                       timeout=30)


def test_ping_every_size(ns: Namespace) -> None:
    script = (
        f"fail=''; for s in $(seq 0 1472); do "
        f"ping -c1 -W2 -s $s -q {STACK_IP} >/dev/null || fail=\"$fail $s\"; done; "
        f"echo \"failed:$fail\"")
    out = ns.run("sh", "-c", script, timeout=110).stdout.decode().strip()
    assert out == "failed:", out


def test_ping_thousand(ns: Namespace) -> None:
    out = ns.run("ping", "-c", "1000", "-i", "0.002", "-W", "2", "-q", STACK_IP,
                 timeout=60).stdout.decode()
    assert "1000 packets transmitted, 1000 received" in out, out


def test_curl_download_10mib(ns: Namespace) -> None:
    r = ns.run("curl", "-sS", "--fail", "--max-time", "60", f"http://{STACK_IP}/big",
               timeout=90)
    expected = bytes(i % 251 for i in range(251)) * (BIG // 251) + bytes(range(BIG % 251))
    assert len(r.stdout) == BIG
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(expected).hexdigest()


def test_upload_10mib(ns: Namespace) -> None:
    out = ns.python(f"""
        import hashlib, os, socket, struct
        data = os.urandom({BIG})
        s = socket.create_connection(("{STACK_IP}", 9000), timeout=30)
        s.sendall(struct.pack(">Q", len(data)) + data)
        resp = b""
        while not resp.endswith(b"\\n"):
            chunk = s.recv(128)
            if not chunk:
                break
            resp += chunk
        print(resp.decode().strip() == hashlib.sha256(data).hexdigest())
    """)
    assert out.strip() == "True"


def test_tcp_edge_cases(ns: Namespace) -> None:
    out = ns.python(f"""
        import socket
        H = "{STACK_IP}"
        try:
            socket.create_connection((H, 1), timeout=5)
            print("connected to a closed port")
        except ConnectionRefusedError:
            print("refused")
        s = socket.create_connection((H, 7), timeout=5)
        s.sendall(b"half-close")
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            c = s.recv(100)
            if not c:
                break
            got += c
        print(got.decode())
        ok = 0
        for i in range(300):
            with socket.create_connection((H, 7), timeout=5) as c:
                c.sendall(b"n%d" % i)
                ok += c.recv(100) == b"n%d" % i
        print(ok)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        u.sendto(b"datagram", (H, 9))
        print(u.recvfrom(100)[0].decode())
    """)
    assert out.split() == ["refused", "half-close", "300", "datagram"]
