"""cymongoose.wsgi (docs/api-contract.md#wsgi): a real Flask app and raw WSGI apps behind
WSGIServer, driven by requests, http.client and raw sockets."""

from __future__ import annotations

import http.client
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from cymongoose import wsgi
from cymongoose.wsgi import FileWrapper, WSGIServer, _build_environ
from flask import Flask, Response, jsonify, request, stream_with_context


class Running:
    """A WSGIServer polled by a background thread (run() needs the main thread)."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.server = WSGIServer(app, **kwargs)
        self.listener = self.server.listen("http://127.0.0.1:0")
        self.port = self.listener.local_addr[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.server.manager.poll(20)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.server.close()


@pytest.fixture
def serve_app() -> Iterator[Callable[..., Running]]:
    running: list[Running] = []

    def start(app: Any, **kwargs: Any) -> Running:
        r = Running(app, **kwargs)
        running.append(r)
        return r

    yield start
    for r in running:
        r.close()


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    return cond()


def make_flask_app() -> Flask:
    app = Flask("wsgi_test")

    @app.get("/hello")
    def hello() -> str:
        return f"hello {request.args.get('name', 'world')}"

    @app.post("/echo")
    def echo() -> Any:
        return jsonify(json=request.get_json(silent=True), data=request.get_data(as_text=True),
                       ctype=request.content_type, length=request.content_length)

    @app.get("/cookies")
    def cookies() -> Response:
        resp = Response("c")
        for i in range(3):
            resp.set_cookie(f"k{i}", f"v{i}")
        return resp

    @app.get("/env")
    def env() -> Any:
        e = request.environ
        return jsonify(path=e["PATH_INFO"], query=e["QUERY_STRING"], remote=e["REMOTE_ADDR"],
                       scheme=e["wsgi.url_scheme"], port=e["SERVER_PORT"],
                       name=e["SERVER_NAME"], x=e.get("HTTP_X_MULTI"))

    @app.get("/é/<word>")
    def unicode_path(word: str) -> str:
        return f"got {word}"

    @app.get("/big")
    def big() -> Response:
        def gen() -> Iterator[bytes]:
            for i in range(40):
                yield bytes([65 + i % 26]) * 65536  # 2.5 MiB in 40 pieces
        return Response(stream_with_context(gen()), mimetype="application/octet-stream")

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("flask view failed")

    return app


# ---- module-level pieces ----

def test_module_constants() -> None:
    assert wsgi._WAKEUP_MAX_BYTES == 8192
    assert wsgi._STREAM_THRESHOLD == 1048576
    assert wsgi._STREAM_QUEUE_SIZE == 16
    assert wsgi._STREAM_PUT_TIMEOUT == 5.0
    assert wsgi._STREAM_BATCH_SIZE == 262144
    assert callable(wsgi.serve)
    assert wsgi.WSGIApp is not None


def test_file_wrapper_blocks_str_and_close() -> None:
    f = io.BytesIO(b"abcdefghij")
    fw = FileWrapper(f, 4)
    assert fw.filelike is f and fw.blksize == 4
    assert list(fw) == [b"abcd", b"efgh", b"ij"]
    fw.close()
    assert f.closed
    assert list(FileWrapper(io.StringIO("héllo"), 8192)) == ["héllo".encode()]
    FileWrapper(iter(()), 1).close()  # no close() on the object: fine
    assert FileWrapper(io.BytesIO()).blksize == 8192


class FakeMsg:
    def __init__(self, method: str, uri: str, query: str, proto: str, body: bytes,
                 headers: list[tuple[str, str]]) -> None:
        self.method, self.uri, self.query, self.proto = method, uri, query, proto
        self.body_bytes = body
        self._headers = headers

    def header(self, name: str, default: str | None = None) -> str | None:
        for k, v in self._headers:
            if k.lower() == name.lower():
                return v
        return default

    def headers(self) -> list[tuple[str, str]]:
        return list(self._headers)


class FakeConn:
    def __init__(self, is_tls: bool, remote_addr: tuple[str, int, bool] | None) -> None:
        self.is_tls, self.remote_addr = is_tls, remote_addr


def test_build_environ_from_fakes() -> None:
    hm = FakeMsg("POST", "/a%20b/c", "x=1&y=2", "HTTP/1.1", b"body!",
                 [("Host", "h"), ("Content-Type", "text/x"), ("Content-Length", "5"),
                  ("X-Dup", "1"), ("x-dup", "2"), ("User-Agent", "t")])
    env = _build_environ(hm, FakeConn(True, ("10.1.2.3", 5555, False)), "srv", 8080)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/a b/c"
    assert env["QUERY_STRING"] == "x=1&y=2"
    assert env["SERVER_NAME"] == "srv" and env["SERVER_PORT"] == "8080"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["wsgi.version"] == (1, 0)
    assert env["wsgi.url_scheme"] == "https"
    assert env["wsgi.input"].read() == b"body!"
    assert env["wsgi.errors"] is sys.stderr
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.file_wrapper"] is FileWrapper
    assert env["CONTENT_TYPE"] == "text/x" and env["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["REMOTE_ADDR"] == env["REMOTE_HOST"] == "10.1.2.3"
    assert env["HTTP_X_DUP"] == "1, 2"
    assert env["HTTP_USER_AGENT"] == "t" and env["HTTP_HOST"] == "h"


def test_build_environ_defaults_and_query_in_uri() -> None:
    hm = FakeMsg("GET", "", "", "", b"", [])
    env = _build_environ(hm, FakeConn(False, None), "n", 1)
    assert env["PATH_INFO"] == "/" and env["QUERY_STRING"] == ""
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["wsgi.url_scheme"] == "http"
    assert "REMOTE_ADDR" not in env and "CONTENT_TYPE" not in env
    hm2 = FakeMsg("GET", "/p?q=1&r", "ignored", "HTTP/1.0", b"", [])
    env2 = _build_environ(hm2, FakeConn(False, None), "n", 1)
    assert (env2["PATH_INFO"], env2["QUERY_STRING"]) == ("/p", "q=1&r")


def test_constructor_bad_input() -> None:
    with pytest.raises(TypeError, match="app"):
        WSGIServer(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers"):
        WSGIServer(make_flask_app(), workers=0)


# ---- a real Flask application ----

def test_flask_routes(serve_app: Callable[..., Running]) -> None:
    r = serve_app(make_flask_app())
    s = requests.Session()
    resp = s.get(f"{r.url}/hello", params={"name": "a b"})
    assert resp.status_code == 200 and resp.text == "hello a b"
    assert resp.headers["Content-Length"] == str(len("hello a b"))
    resp = s.post(f"{r.url}/echo", json={"k": [1, 2]})
    assert resp.json()["json"] == {"k": [1, 2]}
    assert resp.json()["ctype"] == "application/json"
    assert s.get(f"{r.url}/missing").status_code == 404
    env = s.get(f"{r.url}/env?x=%2F", headers={"X-Multi": "v"}).json()
    assert env == {"path": "/env", "query": "x=%2F", "remote": "127.0.0.1", "scheme": "http",
                   "port": str(r.port), "name": "127.0.0.1", "x": "v"}
    assert s.get(f"{r.url}/%C3%A9/w%C3%B6rd").text == "got wörd"


def test_flask_chunked_request_body(serve_app: Callable[..., Running]) -> None:
    r = serve_app(make_flask_app())

    def gen() -> Iterator[bytes]:
        yield b"part1-"
        yield b"part2"

    resp = requests.post(f"{r.url}/echo", data=gen(), headers={"Content-Type": "text/plain"})
    assert resp.json()["data"] == "part1-part2"


def test_flask_head_and_duplicate_set_cookie(serve_app: Callable[..., Running]) -> None:
    r = serve_app(make_flask_app())
    c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
    c.request("GET", "/cookies")
    resp = c.getresponse()
    assert resp.read() == b"c"
    cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
    assert [x.split(";")[0] for x in cookies] == ["k0=v0", "k1=v1", "k2=v2"]
    c.request("HEAD", "/hello")
    resp = c.getresponse()
    assert resp.status == 200 and resp.read() == b""
    assert resp.getheader("Content-Length") == str(len("hello world"))
    c.close()


def test_flask_view_exception_is_500(serve_app: Callable[..., Running]) -> None:
    r = serve_app(make_flask_app())
    resp = requests.get(f"{r.url}/boom")
    assert resp.status_code == 500
    assert requests.get(f"{r.url}/hello").status_code == 200


def test_flask_large_body_is_streamed_chunked(serve_app: Callable[..., Running]) -> None:
    r = serve_app(make_flask_app())
    resp = requests.get(f"{r.url}/big", stream=True)
    assert resp.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in resp.headers
    body = resp.content
    assert len(body) == 40 * 65536
    assert all(body[i * 65536] == 65 + i % 26 for i in range(40))
    assert wait_for(lambda: not r.server._streams)


# ---- raw WSGI apps: protocol details ----

def test_defaults_write_callable_and_close(serve_app: Callable[..., Running]) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"-iter"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        write = start_response("201 Created", [("X-A", "1")])
        write(b"written")
        return Body()

    r = serve_app(app)
    c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
    c.request("GET", "/")
    resp = c.getresponse()
    assert (resp.status, resp.reason) == (201, "Created")
    assert resp.read() == b"written-iter"
    assert resp.getheader("Content-Type") == "text/plain"
    assert resp.getheader("Content-Length") == str(len(b"written-iter"))
    assert resp.getheader("X-A") == "1"
    assert closed == [True]


def test_app_exception_gives_500_and_traceback(serve_app: Callable[..., Running],
                                               capfd: pytest.CaptureFixture[str]) -> None:
    closed: list[bool] = []

    class Failing:
        def __iter__(self) -> Iterator[bytes]:
            raise ValueError("iteration exploded")

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        return Failing()

    r = serve_app(app)
    resp = requests.get(r.url + "/")
    assert resp.status_code == 500
    assert "Internal Server Error" in resp.text
    assert closed == [True]
    time.sleep(0.1)
    assert "iteration exploded" in capfd.readouterr().err


def test_app_exception_traceback_on_stderr(serve_app: Callable[..., Running],
                                           capfd: pytest.CaptureFixture[str]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        raise KeyError("no-such-thing")

    r = serve_app(app)
    assert requests.get(r.url + "/").status_code == 500
    time.sleep(0.1)
    assert "no-such-thing" in capfd.readouterr().err


def test_stash_used_for_medium_bodies_and_emptied(serve_app: Callable[..., Running]) -> None:
    body = os.urandom(300_000)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body[:1000], body[1000:]]

    r = serve_app(app)
    for _ in range(3):
        resp = requests.get(r.url + "/")
        assert resp.content == body
        assert "Transfer-Encoding" not in resp.headers
    assert wait_for(lambda: r.server._stash == {})


def test_keep_alive_and_pipelining_in_order(serve_app: Callable[..., Running]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/slow":
            time.sleep(0.3)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    r = serve_app(app)
    c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=5)
    for i in range(3):
        c.request("GET", f"/ka{i}")
        assert c.getresponse().read() == f"/ka{i}".encode()
    c.close()
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"/fast"):
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
    assert data.index(b"/slow") < data.index(b"/fast")


def test_requests_run_concurrently(serve_app: Callable[..., Running]) -> None:
    barrier = threading.Barrier(4, timeout=5)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        barrier.wait()  # only passes when 4 requests are inside the app at once
        start_response("200 OK", [])
        return [b"ok"]

    r = serve_app(app, workers=4)
    results: list[int] = []

    def client() -> None:
        results.append(requests.get(r.url + "/", timeout=10).status_code)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [200] * 4


def test_client_disconnect_mid_stream_releases_stream(serve_app: Callable[..., Running]) -> None:
    closed = threading.Event()

    class Endless:
        def __iter__(self) -> Iterator[bytes]:
            while True:
                yield b"x" * 65536

        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        return Endless()

    r = serve_app(app)
    r.server._stream_timeout = 0.5
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        assert wait_for(lambda: bool(r.server._streams))
    assert closed.wait(5)
    assert wait_for(lambda: r.server._streams == {})
    assert r.server._stash == {}


def test_app_content_length_over_threshold_not_chunked(serve_app: Callable[..., Running]) -> None:
    size = wsgi._STREAM_THRESHOLD + 12345

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", str(size))])
        return (b"y" * 4096 for _ in range(size // 4096 + 1))

    size = (size // 4096 + 1) * 4096
    r = serve_app(app)
    resp = requests.get(r.url + "/")
    assert "Transfer-Encoding" not in resp.headers
    assert len(resp.content) == size


def test_serve_banner_and_sigint() -> None:
    code = (
        "from cymongoose import wsgi\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'served']\n"
        "wsgi.serve(app, 'http://127.0.0.1:0', workers=2)\n"
        "print('stopped', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        banner = p.stdout.readline()
        assert "http://127.0.0.1:" in banner
        port = int(banner.split("http://127.0.0.1:")[1].split("/")[0])
        assert port > 0
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "served"
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=10)
        assert p.returncode == 0
        assert "stopped" in out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
