"""Descriptor exhaustion: a server whose RLIMIT_NOFILE is smaller than the number of
clients must not spin on a listener it cannot accept from (issue #22.4), must log it
once, and must serve new clients once descriptors free up again.

Servers: a Python-handler HTTP server (cymongoose in a child interpreter) and the C
example MQTT broker, each started with RLIMIT_NOFILE = 64 and then sent 120 clients."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mgtest import free_port
from mqttpeers import wait_port

ROOT = Path(__file__).resolve().parents[2]
NOFILE = 64
CLIENTS = 120
WINDOW = 2.0  # seconds of CPU accounting while exhausted

HTTP_SERVER = """
import sys
import cymongoose as mg
mg.log_set(mg.MG_LL_ERROR)
def handler(conn, ev, data):
    if ev == mg.MG_EV_HTTP_MSG:
        conn.reply(200, b"ok")
mgr = mg.Manager(handler)
mgr.listen("http://127.0.0.1:" + sys.argv[1])
print("ready", flush=True)
mgr.run(poll_ms=100)
"""


def _limit_nofile(pid: int) -> None:
    """Lowers the child's descriptor limit from outside (prlimit(2)), before any
    client connects."""
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat (fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _open_clients(port: int, n: int) -> list[socket.socket]:
    """n connected clients (the kernel completes handshakes for the backlog even
    when the server cannot accept them), each having sent nothing."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(s)
    return socks


def _exhaust_and_measure(proc: subprocess.Popen[bytes], port: int) -> float:
    """Opens CLIENTS connections, returns the server's CPU share over WINDOW."""
    clients = _open_clients(port, CLIENTS)
    try:
        time.sleep(0.5)  # the server accepts what it can and hits the limit
        assert proc.poll() is None, "the server died at descriptor exhaustion"
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(WINDOW)
        cpu1, t1 = _cpu_seconds(proc.pid), time.monotonic()
    finally:
        for s in clients:
            s.close()
    return (cpu1 - cpu0) / (t1 - t0)


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode(errors="replace")


def _http_get(port: int, deadline: float = 5.0) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                if data:
                    return data
        except OSError:
            pass
        if time.monotonic() > end:
            return b""
        time.sleep(0.1)


def _mqtt_connack(port: int, deadline: float = 5.0) -> bytes:
    # CONNECT, MQTT 3.1.1, clean session, keep-alive 30, client id "r"
    connect = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x1e\x00\x01r"
    end = time.monotonic() + deadline
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(connect)
                data = s.recv(4)
                if data:
                    return data
        except OSError:
            pass
        if time.monotonic() > end:
            return b""
        time.sleep(0.1)


def test_http_server_does_not_spin_when_out_of_descriptors() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", HTTP_SERVER, str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _limit_nofile(proc.pid)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        share = _exhaust_and_measure(proc, port)
        # Clients gone: descriptors free up, a new client is served.
        assert _http_get(port).startswith(b"HTTP/1.1 200")
    finally:
        err = _stop(proc)
    assert share < 0.30, f"server used {share:.0%} of a core while out of descriptors"
    assert err.count("out of descriptors") == 1, err  # logged once per episode


def test_mqtt_broker_does_not_spin_when_out_of_descriptors() -> None:
    exe = Path(os.environ.get("MG_HOST_DIR", ROOT / "build" / "host")) / "mqtt_broker"
    if not exe.exists():
        pytest.skip(f"C example broker not built ({exe}; run `make host`)")
    port = free_port()
    proc = subprocess.Popen([str(exe), f"mqtt://127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _limit_nofile(proc.pid)
    try:
        wait_port(port)
        share = _exhaust_and_measure(proc, port)
        assert _mqtt_connack(port) == b"\x20\x02\x00\x00"
    finally:
        err = _stop(proc)
    assert share < 0.30, f"broker used {share:.0%} of a core while out of descriptors"
    assert err.count("out of descriptors") == 1, err
