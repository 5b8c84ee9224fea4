"""cymongoose.aio.AsyncManager (docs/api-contract.md#aio) driven by real asyncio clients."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Coroutine
from typing import Any

import cymongoose as mg
import httpx
import pytest
from cymongoose import aio
from cymongoose.aio import AsyncManager


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def http_handler(conn: mg.Connection, ev: int, data: Any) -> None:
    if ev == mg.MG_EV_HTTP_MSG:
        conn.reply(200, f"{data.method} {data.uri} {data.body_text}")


def port_of(listener: mg.Connection) -> int:
    return listener.local_addr[1]


def test_package_exports_async_manager() -> None:
    assert mg.AsyncManager is AsyncManager
    assert "AsyncManager" in mg.__all__
    assert "AsyncManager" not in mg._mongoose.__all__
    assert hasattr(mg, "aio")


def test_http_server_serves_httpx_requests() -> None:
    async def main() -> list[str]:
        async with AsyncManager(http_handler, poll_interval=20) as am:
            assert am.running
            lst = am.listen("http://127.0.0.1:0")
            url = f"http://127.0.0.1:{port_of(lst)}"
            async with httpx.AsyncClient() as client:
                rs = await asyncio.gather(
                    *(client.post(f"{url}/p{i}", content=f"b{i}") for i in range(5)))
            return [r.text for r in rs]

    assert run(main()) == [f"POST /p{i} b{i}" for i in range(5)]


def test_not_started_errors() -> None:
    am = AsyncManager()
    assert am._manager is None
    assert not am.running
    calls = [
        lambda: am.manager,
        lambda: am.listen("tcp://127.0.0.1:0"),
        lambda: am.connect("tcp://127.0.0.1:1"),
        lambda: am.mqtt_connect("mqtt://127.0.0.1:1"),
        lambda: am.mqtt_listen("mqtt://127.0.0.1:0"),
        lambda: am.sntp_connect("udp://127.0.0.1:123"),
        lambda: am.timer_add(10, lambda: None),
        lambda: am.wakeup(1, b"x"),
        lambda: am.schedule(lambda: None),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="not started"):
            call()


def test_enter_exit_repeatedly_closes_manager() -> None:
    async def main() -> None:
        am = AsyncManager()
        for _ in range(3):
            async with am:
                mgr = am.manager
                assert isinstance(mgr, mg.Manager)
                assert mgr.wakeup_id > 0
                lst = am.listen("tcp://127.0.0.1:0")
                assert lst in mgr.connections
            assert am._manager is None
            assert not am.running
            assert lst.id == 0  # detached by close()
            with pytest.raises(RuntimeError, match="freed"):
                mgr.poll(0)

    run(main())


def test_shutdown_is_prompt_with_long_poll_interval() -> None:
    async def main() -> float:
        async with AsyncManager(poll_interval=5000):
            await asyncio.sleep(0.05)
            t0 = time.monotonic()
        return time.monotonic() - t0

    # Without a wakeup the thread could sit in a poll for a whole poll_interval.
    assert run(main()) < 4.0


def test_timer_add_and_schedule_back_to_loop() -> None:
    async def main() -> tuple[list[str], bool]:
        loop_thread = threading.get_ident()
        got: list[str] = []
        done = asyncio.Event()

        def add(tag: str) -> None:
            assert threading.get_ident() == loop_thread
            got.append(tag)
            if len(got) == 2:  # the two hand-offs may run in either order
                done.set()

        async def coro(tag: str) -> None:
            add(tag)

        async with AsyncManager() as am:
            poll_thread: list[int] = []

            def cb() -> None:
                poll_thread.append(threading.get_ident())
                am.schedule(coro("coroutine"))
                am.schedule(lambda: add("callback"))

            t = am.timer_add(ms=10, callback=cb)
            await asyncio.wait_for(done.wait(), 5)
            assert not t.active
        return sorted(got), poll_thread[0] != loop_thread

    got, other_thread = run(main())
    assert got == ["callback", "coroutine"]
    assert other_thread


def test_wakeup_from_loop_reaches_handler() -> None:
    async def main() -> list[bytes]:
        seen: list[bytes] = []
        done = asyncio.Event()

        async with AsyncManager() as am:
            def h(conn: mg.Connection, ev: int, data: Any) -> None:
                if ev == mg.MG_EV_WAKEUP:
                    seen.append(data)
                    if len(seen) == 3:
                        am.schedule(done.set)

            lst = am.listen("tcp://127.0.0.1:0", h)
            for i in range(3):
                assert am.wakeup(lst.id, b"msg%d" % i) is True
            await asyncio.wait_for(done.wait(), 5)
        return seen

    assert run(main()) == [b"msg0", b"msg1", b"msg2"]


def test_reentrant_calls_from_handler_and_threads() -> None:
    """Handlers on the poll thread and foreign threads may call AsyncManager methods."""
    async def main() -> tuple[int, list[int]]:
        async with AsyncManager(http_handler) as am:
            made: list[mg.Connection] = []
            done = threading.Event()

            def cb() -> None:  # runs on the poll thread, lock already held
                made.append(am.listen("tcp://127.0.0.1:0"))
                done.set()

            am.timer_add(0, cb)
            assert await asyncio.get_running_loop().run_in_executor(None, done.wait, 5)

            ports: list[int] = []

            def worker() -> None:
                ports.append(port_of(am.listen("http://127.0.0.1:0")))

            threads = [threading.Thread(target=worker) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(5)
            async with httpx.AsyncClient() as client:
                codes = [(await client.get(f"http://127.0.0.1:{p}/x")).status_code
                         for p in ports]
            return port_of(made[0]), codes

    port, codes = run(main())
    assert port > 0
    assert codes == [200] * 4


def test_error_handler_receives_handler_exceptions() -> None:
    async def main() -> list[Exception]:
        errors: list[Exception] = []

        def bad(conn: mg.Connection, ev: int, data: Any) -> None:
            if ev == mg.MG_EV_HTTP_MSG:
                raise ValueError("boom in handler")

        async with AsyncManager(bad, error_handler=errors.append) as am:
            lst = am.listen("http://127.0.0.1:0")
            async with httpx.AsyncClient(timeout=1.0) as client:
                with pytest.raises(httpx.ReadTimeout):
                    await client.get(f"http://127.0.0.1:{port_of(lst)}/")
        return errors

    errors = run(main())
    assert [str(e) for e in errors] == ["boom in handler"]


def test_blocked_handler_abandons_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aio, "_JOIN_SLICE_S", 0.2)
    release = threading.Event()
    entered = threading.Event()

    async def main() -> tuple[AsyncManager, list[str]]:
        am = AsyncManager(shutdown_timeout=0.7)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            async with am:
                def blocker() -> None:
                    entered.set()
                    release.wait(10)

                am.timer_add(0, blocker)
                assert await asyncio.get_running_loop().run_in_executor(None, entered.wait, 5)
        return am, [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]

    am, msgs = run(main())
    try:
        assert any("has not stopped" in m for m in msgs), msgs
        assert "did not stop" in msgs[-1]
        assert am._manager is not None  # abandoned, not closed under the thread
        assert not am.running
    finally:
        release.set()
        time.sleep(0.3)
        if am._manager is not None:
            am._manager.close()


def test_websocket_client_against_websockets_server() -> None:
    if not hasattr(mg.Manager, "ws_connect"):
        pytest.xfail("Manager.ws_connect (WebSocket client) lands with issue 5")
    websockets_server = pytest.importorskip("websockets.asyncio.server")

    async def echo(ws: Any) -> None:
        async for msg in ws:
            await ws.send(msg)

    async def main() -> list[str | bytes]:
        async with websockets_server.serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with AsyncManager() as am:
                ws = await am.websocket(f"ws://127.0.0.1:{port}/echo")
                out: list[str | bytes] = []
                for item in ("hello", b"\x00\x01bin", "é"):
                    await ws.send(item)
                    out.append(await asyncio.wait_for(ws.recv(), 5))
                await ws.close()
                assert ws.closed
                with pytest.raises(ConnectionError):
                    await ws.send("late")
                return out

    assert run(main()) == ["hello", b"\x00\x01bin", "é"]
