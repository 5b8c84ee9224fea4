"""Managers on the built-in TCP/IP stack from Python (StackInterface).

The in-memory link tests need nothing; the TAP test needs root and creates a
private network namespace, into which it moves the TAP device the Python
process opened, so ping and curl reach a Python handler only through it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import cymongoose as mg
import pytest

try:
    from cymongoose.stack import StackInterface
except ImportError:
    pytest.skip("the installed extension predates StackInterface (run `make ext`)",
                allow_module_level=True)


def _pump(managers: list[mg.Manager], cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        for m in managers:
            m.poll(1)
    return cond()


def test_link_pair_http_and_properties() -> None:
    a, b = StackInterface.link_pair("10.0.0.1", "10.0.0.2", loss=0.05, reorder=0.05,
                                       seed=3)
    assert (a.ip, b.ip, a.mask) == ("10.0.0.1", "10.0.0.2", "255.255.255.0")
    assert len(a.mac.split(":")) == 6 and int(a.mac[:2], 16) & 1 == 0
    assert a.name == "" and a.gateway == "0.0.0.0" and not a.offload
    ma, mb = mg.Manager(), mg.Manager()
    a.attach(ma)
    b.attach(mb)
    body = bytes(range(256)) * 400  # 100 KiB through 5% loss
    got = bytearray()
    done = []

    def server(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_HTTP_MSG:
            c.reply(200, body)

    def client(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            c.send(b"GET / HTTP/1.0\r\n\r\n")
        elif ev == mg.MG_EV_READ:
            got.extend(c.recv_data())
        elif ev == mg.MG_EV_CLOSE:
            done.append(True)

    listener = ma.listen("http://0.0.0.0:80", server)
    assert listener.local_addr[1] == 80
    mb.connect("tcp://10.0.0.1:80", client)
    assert _pump([ma, mb], lambda: bool(done), 30)
    head, _, payload = bytes(got).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and payload == body
    assert a.state == "ready" and b.state == "ready"
    assert a.stats["tcp_accepted"] == 1 and a.stats["rx_frames"] > 50
    ma.close()
    mb.close()


def test_udp_and_refused() -> None:
    a, b = StackInterface.link_pair("192.168.7.1", "192.168.7.2")
    ma, mb = mg.Manager(), mg.Manager()
    a.attach(ma)
    b.attach(mb)
    seen: list[object] = []

    def echo(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_READ:
            c.send(bytes(c.recv_data()))

    def udp_client(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            c.send(b"over udp")
        elif ev == mg.MG_EV_READ:
            seen.append(bytes(c.recv_data()))

    def refused(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_ERROR:
            seen.append(data)

    ma.listen("udp://0.0.0.0:9", echo)
    mb.connect("udp://192.168.7.1:9", udp_client)
    mb.connect("tcp://192.168.7.1:4444", refused)
    assert _pump([ma, mb], lambda: len(seen) >= 2)
    assert b"over udp" in seen
    assert any(isinstance(x, str) for x in seen)
    ma.close()
    mb.close()


def test_serial_line_between_two_stacks() -> None:
    """Two interfaces on the ends of a raw pseudo-terminal (SLIP + CRC-32)."""
    import tty

    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        a = StackInterface.serial(master, ip="192.168.9.1", dhcp_server="192.168.9.50")
        b = StackInterface.serial(slave, dhcp=True)
    finally:
        os.close(master)  # the interfaces hold their own duplicates
        os.close(slave)
    ma, mb = mg.Manager(), mg.Manager()
    a.attach(ma)
    b.attach(mb)
    assert _pump([ma, mb], lambda: b.state == "ready", 20), (a.stats, b.stats)
    assert b.ip == "192.168.9.50" and b.gateway == "192.168.9.1"
    body = bytes(range(256)) * 40  # every byte value, SLIP END/ESC included
    got = bytearray()
    done: list[bool] = []

    def server(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_HTTP_MSG:
            c.reply(200, body)

    def client(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_CONNECT:
            c.send(b"GET / HTTP/1.0\r\n\r\n")
        elif ev == mg.MG_EV_READ:
            got.extend(c.recv_data())
        elif ev == mg.MG_EV_CLOSE:
            done.append(True)

    ma.listen("http://0.0.0.0:80", server)
    mb.connect("tcp://192.168.9.1:80", client)
    assert _pump([ma, mb], lambda: bool(done), 30)
    assert bytes(got).partition(b"\r\n\r\n")[2] == body
    ma.close()
    mb.close()


def test_attach_errors() -> None:
    with pytest.raises(TypeError):
        StackInterface()
    with pytest.raises(ValueError):
        StackInterface.link_pair("10.0.0.1", "10.0.0.300")
    with pytest.raises(ValueError):
        StackInterface.link_pair("10.0.0.1", "10.0.0.2", loss=1.5)
    a, _ = StackInterface.link_pair("10.0.0.1", "10.0.0.2")
    m = mg.Manager()
    m.listen("tcp://127.0.0.1:0")
    with pytest.raises(RuntimeError):
        a.attach(m)  # it already has kernel-socket connections
    m.close()
    fresh = mg.Manager()
    a.attach(fresh)
    with pytest.raises(RuntimeError):
        a.attach(mg.Manager())
    fresh.close()


def test_teardown_in_any_order() -> None:
    """Interface or manager dying first, or both left to the GC at exit."""
    script = textwrap.dedent("""
        import gc, cymongoose as mg
        from cymongoose.stack import StackInterface
        a, b = StackInterface.link_pair("10.0.0.1", "10.0.0.2")
        ma, mb = mg.Manager(enable_wakeup=True), mg.Manager()
        a.attach(ma); b.attach(mb)
        ma.listen("tcp://0.0.0.0:1"); mb.connect("tcp://10.0.0.1:1")
        for _ in range(20):
            ma.poll(1); mb.poll(1)
        del a; gc.collect(); ma.poll(1); ma.close()   # interface first
        mb.close(); del b; gc.collect()                # manager first
        c, d = StackInterface.link_pair("10.0.0.1", "10.0.0.2")
        mc = mg.Manager(); c.attach(mc); mc.listen("tcp://0.0.0.0:2")
        cycle = [c, mc, d]; cycle.append(cycle)        # left to the GC at exit
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True,
                       timeout=60,
                       env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    assert r.returncode == 0 and r.stdout.strip() == b"ok", r.stderr.decode()


@pytest.mark.root
def test_python_manager_on_tap() -> None:
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        pytest.skip("needs root and /dev/net/tun")
    for tool in ("ip", "ping", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs the '{tool}' command")
    name = f"mgpy{os.getpid() % 100000}"
    ns = f"mgpyns{os.getpid()}"
    iface = StackInterface.tap(name, ip="10.7.0.2", mask="255.255.255.0")
    assert iface.name == name
    assert iface.offload  # 64 KiB TCP segments with the kernel by default
    plain = StackInterface.tap(f"mgpq{os.getpid() % 100000}", ip="10.7.1.2",
                               offload=False)
    assert not plain.offload
    del plain
    m = mg.Manager()
    iface.attach(m)

    def run(*cmd: str) -> None:
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)

    def http(c: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_HTTP_MSG:
            c.reply(200, b"python on the built-in stack\n")

    m.listen("http://0.0.0.0:8080", http)
    run("ip", "netns", "add", ns)
    try:
        run("ip", "link", "set", name, "netns", ns)
        run("ip", "netns", "exec", ns, "ip", "addr", "add", "10.7.0.1/24", "dev", name)
        run("ip", "netns", "exec", ns, "ip", "link", "set", name, "up")
        ping = subprocess.Popen(["ip", "netns", "exec", ns, "ping", "-c", "5", "-i", "0.2",
                                 "-W", "2", "10.7.0.2"], stdout=subprocess.PIPE)
        assert _pump([m], lambda: ping.poll() is not None, 20)
        out = ping.communicate()[0].decode()
        assert "5 received" in out, out
        curl = subprocess.Popen(["ip", "netns", "exec", ns, "curl", "-s", "--max-time", "10",
                                 "http://10.7.0.2:8080/"], stdout=subprocess.PIPE)
        assert _pump([m], lambda: curl.poll() is not None, 20)
        assert curl.communicate()[0] == b"python on the built-in stack\n"
        assert iface.state == "ready" and iface.stats["icmp_echo"] == 5
    finally:
        m.close()
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True,
                       timeout=30)
