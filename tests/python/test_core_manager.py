"""Manager lifecycle, polling rules and errors (docs/api-contract.md#manager, C-1..C-8)."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import cymongoose as mg
import pytest
from mgtest import poll_until


def test_constants_and_names() -> None:
    assert (mg.MG_EV_ERROR, mg.MG_EV_READ, mg.MG_EV_CLOSE, mg.MG_EV_WAKEUP, mg.MG_EV_USER) == (
        0, 7, 9, 19, 23)
    assert (mg.MG_LL_NONE, mg.MG_LL_VERBOSE) == (0, 4)
    assert mg.WEBSOCKET_OP_PONG == 10 and mg.MQTT_PROP_TYPE_SHORT == 6
    assert mg.event_name(mg.MG_EV_HTTP_MSG) == "MG_EV_HTTP_MSG"
    assert mg.event_name(25) == "MG_EV_USER+2"
    assert mg.event_name(21) == "MG_EV_UNKNOWN(21)"
    assert mg.event_name(-1) == "MG_EV_UNKNOWN(-1)"
    assert mg._mongoose.Manager.__module__ == "cymongoose._mongoose"


def test_log_level_roundtrip_and_silent_default() -> None:
    assert mg.log_get() == mg.MG_LL_NONE
    mg.log_set(mg.MG_LL_DEBUG)
    try:
        assert mg.log_get() == mg.MG_LL_DEBUG
    finally:
        mg.log_set(mg.MG_LL_NONE)
    # A failing listen logs at ERROR level, but nothing is printed by default.
    code = ("import cymongoose as mg\nm = mg.Manager()\n"
            "try: m.listen('tcp://300.1.1.1:0')\nexcept RuntimeError: pass\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == ""


def test_millis_is_monotonic() -> None:
    a = mg.millis()
    time.sleep(0.02)
    b = mg.millis()
    assert 0 < a < b


def test_too_many_args_is_a_clean_type_error() -> None:
    code = "import cymongoose as mg\ntry: mg.Manager(1, 2, 3, 4)\nexcept TypeError: print('ok')\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert r.stdout.strip() == "ok"
    assert "Exception ignored" not in r.stderr


def test_poll_argument_types(mgr: mg.Manager) -> None:
    with pytest.raises(TypeError, match="an integer is required"):
        mgr.poll(None)
    mgr.poll(1.7)  # truncated
    mgr.poll()


def test_listen_ephemeral_and_addresses(mgr: mg.Manager) -> None:
    lst = mgr.listen("tcp://127.0.0.1:0")
    ip, port, v6 = lst.local_addr
    assert ip == "127.0.0.1" and port > 0 and v6 is False
    assert lst.remote_addr == ("0.0.0.0", 0, False)
    assert lst.is_listening and not lst.is_client and lst.id > 0
    assert mgr.connections == (lst,)
    assert mgr.listen("localhost:0").local_addr[0] == "127.0.0.1"
    assert mgr.listen("127.0.0.1:0").local_addr[1] > 0  # no scheme = TCP


def test_listen_ipv6_and_udp(mgr: mg.Manager) -> None:
    try:
        lst6 = mgr.listen("tcp://[::1]:0")
    except RuntimeError:
        pytest.skip("IPv6 loopback ::1 is not available on this host")
    assert lst6.local_addr[0] == "0000:0000:0000:0000:0000:0000:0000:0001"
    assert lst6.local_addr[2] is True
    udp = mgr.listen("udp://127.0.0.1:0")
    assert udp.is_udp


def test_listen_errors_name_the_address(mgr: mg.Manager) -> None:
    lst = mgr.listen("tcp://127.0.0.1:0")
    busy = f"tcp://127.0.0.1:{lst.local_addr[1]}"
    with pytest.raises(RuntimeError, match=f"Failed to listen on '{busy}'"):
        mgr.listen(busy)
    with pytest.raises(RuntimeError, match="Failed to listen on 'invalid://address'"):
        mgr.listen("invalid://address")
    with pytest.raises(RuntimeError, match="Failed to listen"):
        mgr.listen("tcp://127.0.0.1:99999")
    with pytest.raises(RuntimeError, match="Failed to connect to ''"):
        mgr.connect("")


def test_closed_manager_refuses_everything() -> None:
    m = mg.Manager(enable_wakeup=True)
    m.listen("tcp://127.0.0.1:0")
    m.close()
    m.close()  # idempotent
    assert m.connections == ()
    for call in (lambda: m.poll(0), lambda: m.wakeup(1, b""), lambda: m.timer_add(1, print),
                 lambda: m.listen("tcp://127.0.0.1:0"), lambda: m.connect("tcp://127.0.0.1:1")):
        with pytest.raises(RuntimeError, match="Manager has been freed"):
            call()


def test_context_manager_closes_and_propagates() -> None:
    with pytest.raises(ValueError, match="boom"), mg.Manager() as m:
        lst = m.listen("tcp://127.0.0.1:0")
        raise ValueError("boom")
    assert m.connections == () and lst.id == 0


def test_unreferenced_manager_releases_its_port() -> None:
    m = mg.Manager(lambda c, ev, d: None)
    port = m.listen("tcp://127.0.0.1:0").local_addr[1]
    del m
    gc.collect()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # would raise EADDRINUSE if leaked


def test_manager_in_a_handler_cycle_is_collected() -> None:
    class Server(mg.Manager):
        def __init__(self) -> None:
            super().__init__(self.handler)  # manager -> bound method -> manager

        def handler(self, conn, ev, data):
            pass

    srv = Server()
    port = srv.listen("tcp://127.0.0.1:0").local_addr[1]
    del srv
    gc.collect()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_poll_is_not_reentrant_and_close_refuses_during_poll() -> None:
    errors: list[str] = []

    def tick() -> None:
        for call in (lambda: m.poll(0), m.close):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))

    m = mg.Manager()
    m.timer_add(0, tick)
    m.poll(0)
    assert len(errors) == 2
    assert "not reentrant" in errors[0]
    assert errors[1].startswith("Cannot close Manager while poll() is active")
    m.poll(0)  # still usable
    m.close()


def test_concurrent_poll_from_two_threads_and_gil_release() -> None:
    m = mg.Manager()
    started = threading.Event()
    ticks: list[int] = []
    seen: list[str] = []

    def poller() -> None:
        started.set()
        m.poll(400)

    th = threading.Thread(target=poller)
    th.start()
    started.wait()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.15:  # runs only if poll released the GIL
        ticks.append(1)
        time.sleep(0.005)
    try:
        m.poll(0)
    except RuntimeError as exc:
        seen.append(str(exc))
    with pytest.raises(RuntimeError, match="Cannot close Manager while poll"):
        m.close()
    th.join()
    assert len(ticks) > 5
    assert seen and "not reentrant" in seen[0]
    m.close()


def test_poll_waits_about_the_timeout(mgr: mg.Manager) -> None:
    mgr.listen("tcp://127.0.0.1:0")
    t0 = time.monotonic()
    mgr.poll(150)
    dt = time.monotonic() - t0
    assert 0.1 <= dt < 2.0


def test_sigint_interrupts_a_long_poll() -> None:
    code = """
import os, signal, threading, time, cymongoose as mg
m = mg.Manager()
m.listen("tcp://127.0.0.1:0")
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
t0 = time.monotonic()
try:
    for _ in range(20):
        m.poll(1000)
except KeyboardInterrupt:
    print("interrupted after %.2f" % (time.monotonic() - t0))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert r.stdout.startswith("interrupted after"), r.stderr
    assert float(r.stdout.split()[-1]) < 1.5


def test_run_stops_on_sigterm_and_restores_handlers() -> None:
    def sentinel(signum, frame):  # pragma: no cover - never called
        pass

    old = signal.signal(signal.SIGTERM, sentinel)
    old_int = signal.getsignal(signal.SIGINT)
    try:
        m = mg.Manager()
        m.listen("tcp://127.0.0.1:0")
        m.timer_add(50, lambda: os.kill(os.getpid(), signal.SIGTERM))
        m.run(poll_ms=20)
        assert signal.getsignal(signal.SIGTERM) is sentinel
        assert signal.getsignal(signal.SIGINT) is old_int
        with pytest.raises(RuntimeError, match="freed"):
            m.poll(0)
    finally:
        signal.signal(signal.SIGTERM, old)


def test_pickling_a_manager_fails(mgr: mg.Manager) -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(mgr)


def test_handler_exception_goes_to_error_handler_and_loop_goes_on() -> None:
    seen: list[BaseException] = []
    reads: list[bytes] = []

    def handler(conn, ev, data):
        if ev == mg.MG_EV_READ:
            reads.append(conn.recv_data())
            raise ValueError("handler failed")

    m = mg.Manager(handler, error_handler=seen.append)
    port = m.listen("tcp://127.0.0.1:0").local_addr[1]
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"one")
        assert poll_until(m, lambda: len(reads) == 1)
        s.sendall(b"two")
        assert poll_until(m, lambda: len(reads) == 2)
    assert [str(e) for e in seen] == ["handler failed", "handler failed"]
    m.close()


def test_handler_exception_without_error_handler_is_printed() -> None:
    code = """
import socket, cymongoose as mg
def h(c, ev, d):
    if ev == mg.MG_EV_ACCEPT:
        raise KeyError("visible-in-stderr")
m = mg.Manager(h)
p = m.listen("tcp://127.0.0.1:0").local_addr[1]
s = socket.create_connection(("127.0.0.1", p))
for _ in range(20): m.poll(10)
print("still running")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert "still running" in r.stdout
    assert "visible-in-stderr" in r.stderr and "Traceback" in r.stderr


def test_failing_error_handler_loses_neither_traceback() -> None:
    code = """
import socket, cymongoose as mg
def h(c, ev, d):
    if ev == mg.MG_EV_ACCEPT:
        raise KeyError("original-failure")
def report(exc):
    raise RuntimeError("reporter-failure")
m = mg.Manager(h, error_handler=report)
p = m.listen("tcp://127.0.0.1:0").local_addr[1]
s = socket.create_connection(("127.0.0.1", p))
for _ in range(20): m.poll(10)
print("still running")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       check=False)
    assert "still running" in r.stdout
    err = r.stderr
    assert "reporter-failure" in err and "original-failure" in err, err
    assert err.count("Traceback") == 2
    assert err.index("original-failure") < err.index("reporter-failure")
    assert "During handling of the above exception" in err
    assert "in report" in err and "in h" in err  # both tracebacks name their own frames


def test_keyboard_interrupt_in_handler_propagates_from_poll() -> None:
    def h(conn, ev, data):
        if ev == mg.MG_EV_ACCEPT:
            raise KeyboardInterrupt

    m = mg.Manager(h)
    port = m.listen("tcp://127.0.0.1:0").local_addr[1]
    with socket.create_connection(("127.0.0.1", port)), pytest.raises(KeyboardInterrupt):
        for _ in range(100):
            m.poll(10)
    m.close()
