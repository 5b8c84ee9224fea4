"""Bad input to the Manager, Connection, utility and adapter entry points: a clear
TypeError/ValueError (naming the argument where the contract does not fix another
message), never a crash; a subprocess sweep calls every public callable
with hostile arguments and must end with Python exceptions only."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import cymongoose as mg
import pytest
from cymongoose.aio import AsyncManager
from cymongoose.asgi import ASGIServer
from cymongoose.wsgi import WSGIServer


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[mg.Manager, mg.Connection]]:
    """A manager with wakeup and an established client connection."""
    m = mg.Manager(enable_wakeup=True)
    lst = m.listen("tcp://127.0.0.1:0")
    conn = m.connect(f"tcp://127.0.0.1:{lst.local_addr[1]}")
    for _ in range(20):
        m.poll(10)
    assert conn.id > 0 and not conn.is_closing
    yield m, conn
    m.close()


def noop() -> None:
    pass


# (id, call(manager, conn), exception, message regex)
Case = tuple[str, Callable[[mg.Manager, mg.Connection], Any], type[BaseException], str]

WORKING: list[Case] = [
    # Manager
    ("Manager-too-many-args", lambda m, c: mg.Manager(None, False, None, None), TypeError,
     "positional"),
    ("Manager-unknown-kw", lambda m, c: mg.Manager(foo=1), TypeError, "foo"),
    ("poll-None", lambda m, c: m.poll(None), TypeError, "an integer is required"),
    ("listen-bytes-url", lambda m, c: m.listen(b"tcp://127.0.0.1:0"), TypeError, "url"),
    ("listen-bad-host", lambda m, c: m.listen("tcp://1.2.3.4.5:0"), RuntimeError,
     "Failed to listen on 'tcp://1.2.3.4.5:0'"),
    ("listen-bad-port", lambda m, c: m.listen("tcp://127.0.0.1:99999"), RuntimeError,
     "Failed to listen"),
    ("listen-unknown-kw", lambda m, c: m.listen("tcp://127.0.0.1:0", bogus=1), TypeError,
     "bogus"),
    ("connect-int-url", lambda m, c: m.connect(5), TypeError, "url"),
    ("connect-empty", lambda m, c: m.connect(""), RuntimeError, "Failed to connect to ''"),
    ("timer_add-negative", lambda m, c: m.timer_add(-1, noop), ValueError, "milliseconds"),
    ("wakeup-str-data", lambda m, c: m.wakeup(c.id, "text"), TypeError, "'data'"),
    ("wakeup-str-id", lambda m, c: m.wakeup("x", b""), TypeError, "integer"),
    ("ws_connect-empty", lambda m, c: m.ws_connect(""), RuntimeError,
     "Failed to create WebSocket connection to ''"),
    # Connection
    ("send-None", lambda m, c: c.send(None), TypeError, "None"),
    ("send-float", lambda m, c: c.send(1.5), TypeError, "float"),
    ("reply-str-status", lambda m, c: c.reply("200"), TypeError, "integer"),
    ("reply-header-name-LF", lambda m, c: c.reply(200, "", {"a\n": "b"}), ValueError,
     r"Header name.*illegal character"),
    ("reply-header-value-CR", lambda m, c: c.reply(200, "", {"a": "b\r"}), ValueError,
     r"Header value.*illegal character"),
    ("reply-header-NUL", lambda m, c: c.reply_json({}, 200, {"X": "\x00"}), ValueError,
     r"Header value.*illegal character"),
    ("reply-headers-list", lambda m, c: c.reply(200, "", [("a", "b")]), AttributeError,
     "items"),
    ("reply_json-unserialisable", lambda m, c: c.reply_json(object()), TypeError,
     "JSON serializable"),
    ("serve_dir-not-message", lambda m, c: c.serve_dir("x", "/"), TypeError, "message"),
    ("serve_dir-invalid-view", lambda m, c: c.serve_dir(mg.HttpMessage(), "/"), ValueError,
     "HttpMessage is not valid for this event"),
    ("serve_file-invalid-view", lambda m, c: c.serve_file(mg.HttpMessage(), "/x"), ValueError,
     "HttpMessage is not valid for this event"),
    ("ws_upgrade-None", lambda m, c: c.ws_upgrade(None), TypeError, "message"),
    ("ws_upgrade-bad-header", lambda m, c: c.ws_upgrade(mg.HttpMessage(), {"a\r\n": "b"}),
     ValueError, "Header name.*illegal character|HttpMessage is not valid"),
    ("ws_send-str-op", lambda m, c: c.ws_send(b"x", "text"), TypeError, "integer"),
    ("tls_init-None", lambda m, c: c.tls_init(None), TypeError, "TlsOpts"),
    ("http_sse-int-event", lambda m, c: c.http_sse(1, "x"), TypeError, "event_type"),
    ("http_basic_auth-int-password", lambda m, c: c.http_basic_auth("u", 5), TypeError,
     "password"),
    ("http_chunk-None", lambda m, c: c.http_chunk(None), TypeError, "None"),
    ("detached-send", lambda m, c: mg.Connection().send(b"x"), RuntimeError,
     "Connection has been closed"),
    ("detached-reply-validates-first",
     lambda m, c: mg.Connection().reply(200, b"", {"a\r": "b"}), ValueError,
     "Header name.*illegal character"),
    # TlsOpts
    ("TlsOpts-int-ca", lambda m, c: mg.TlsOpts(ca=5), TypeError, "Expected bytes, got int"),
    ("TlsOpts-assign-str", lambda m, c: setattr(mg.TlsOpts(), "cert", "pem"), TypeError,
     "Expected bytes, got str"),
    # utilities
    ("md5-None", lambda m, c: mg.md5(None), TypeError, "md5.*'data'"),
    ("sha256-object", lambda m, c: mg.sha256(object()), TypeError, "sha256.*'data'"),
    ("hmac_sha256-None-key", lambda m, c: mg.hmac_sha256(None, b""), TypeError, "'key'"),
    ("base64_encode-None", lambda m, c: mg.base64_encode(None), TypeError, "'data'"),
    ("base64_decode-bytes", lambda m, c: mg.base64_decode(b"eA=="), TypeError, "'data'"),
    ("base64_decode-non-ascii", lambda m, c: mg.base64_decode("é"), UnicodeEncodeError,
     "ascii"),
    ("crc32-str-initial", lambda m, c: mg.crc32(b"", "x"), TypeError, "'initial'"),
    ("json_get-None-path", lambda m, c: mg.json_get("{}", None), TypeError, "path"),
    ("json_get-None-data", lambda m, c: mg.json_get(None, "$"), TypeError, "'data'"),
    ("json_get_long-None-default", lambda m, c: mg.json_get_long("1", "$", None), TypeError,
     "an integer is required"),
    ("url_port-None", lambda m, c: mg.url_port(None), TypeError, "url"),
    ("url_host-bytes", lambda m, c: mg.url_host(b"http://x"), TypeError, "url"),
    ("match-None", lambda m, c: mg.match(None, "*"), TypeError, "'s'"),
    ("match-long-pattern", lambda m, c: mg.match("a", "*" * 100000), ValueError, "pattern"),
    ("http_var-None-name", lambda m, c: mg.http_var("a=1", None), TypeError, "name"),
    ("random_bytes-negative", lambda m, c: mg.random_bytes(-1), OverflowError, "negative"),
    ("random_str-str", lambda m, c: mg.random_str("8"), TypeError, "integer"),
    ("event_name-str", lambda m, c: mg.event_name("x"), TypeError, "integer"),
    ("log_set-str", lambda m, c: mg.log_set("x"), TypeError, "integer"),
    ("Rpc-argument", lambda m, c: mg.Rpc(1), TypeError, "argument"),
    ("Rpc.add-None-method", lambda m, c: mg.Rpc().add(None, noop), TypeError, "method"),
    ("Rpc.add-not-callable", lambda m, c: mg.Rpc().add("m", 5), TypeError, "callable"),
    ("Rpc.process-None", lambda m, c: mg.Rpc().process(None), TypeError, "'frame'"),
    ("RpcReq-invalid", lambda m, c: mg.RpcReq().ok("1"), RuntimeError,
     "RpcReq is no longer valid"),
    # adapters
    ("AsyncManager-str-interval", lambda m, c: AsyncManager(poll_interval="100"), TypeError,
     "poll_interval"),
    ("AsyncManager-negative-interval", lambda m, c: AsyncManager(poll_interval=-1),
     ValueError, "poll_interval"),
    ("AsyncManager-zero-timeout", lambda m, c: AsyncManager(shutdown_timeout=0), ValueError,
     "shutdown_timeout"),
    ("AsyncManager-handler", lambda m, c: AsyncManager(handler=5), TypeError, "handler"),
    ("WSGIServer-None", lambda m, c: WSGIServer(None), TypeError, "app"),
    ("WSGIServer-workers", lambda m, c: WSGIServer(lambda e, s: [], workers=0), ValueError,
     "workers"),
    ("ASGIServer-None", lambda m, c: ASGIServer(None), TypeError, "app"),
]

# Argument checks of the Manager/Connection/protocol entry points (once reported as gaps).
WORKING += [
    ("poll-str", lambda m, c: m.poll("x"), TypeError, "integer"),
    ("listen-None-url", lambda m, c: m.listen(None), TypeError, "url"),
    ("listen-NUL-in-url", lambda m, c: m.listen("tcp://127.0.0.1:0\x00junk"), ValueError,
     "url"),
    ("connect-NUL-in-url", lambda m, c: m.connect("tcp://127.0.0.1:1\x00junk"), ValueError,
     "url"),
    ("ws_connect-None", lambda m, c: m.ws_connect(None), TypeError, "url"),
    ("timer_add-str-ms", lambda m, c: m.timer_add("10", noop), TypeError, "milliseconds"),
    ("timer_add-None-callback", lambda m, c: m.timer_add(10, None), TypeError, "callback"),
    ("listen-non-callable-handler", lambda m, c: m.listen("tcp://127.0.0.1:0", 5), TypeError,
     "handler"),
    ("Manager-non-callable-handler", lambda m, c: mg.Manager(handler=5), TypeError, "handler"),
    ("reply-negative-status", lambda m, c: c.reply(-5), ValueError, "status_code"),
    ("ws_send-op-out-of-range", lambda m, c: c.ws_send(b"x", 99), ValueError, "op"),
    ("recv_data-str-length", lambda m, c: c.recv_data("x"), TypeError, "length"),
    ("http_sse-None-data", lambda m, c: c.http_sse("e", None), TypeError, "data"),
    ("http_basic_auth-None-user", lambda m, c: c.http_basic_auth(None, "p"), TypeError,
     "username"),
    ("resolve-None", lambda m, c: c.resolve(None), TypeError, "url"),
    ("http_parse_multipart-str-offset", lambda m, c: mg.http_parse_multipart(b"", "x"),
     TypeError, "offset"),
]
if hasattr(mg.Connection, "mqtt_pub"):
    WORKING.append(("mqtt_pub-qos-7", lambda m, c: c.mqtt_pub("t", b"x", qos=7), ValueError,
                    "qos"))
    WORKING += [
        ("mqtt_pub-None-topic", lambda m, c: c.mqtt_pub(None, b"x"), TypeError, "topic"),
        ("mqtt_connect-str-keepalive",
         lambda m, c: m.mqtt_connect("mqtt://127.0.0.1:1", keepalive="x"), TypeError,
         "keepalive"),
    ]


def run_case(live: tuple[mg.Manager, mg.Connection], call: Callable[..., Any],
             exc: type[BaseException], match: str) -> None:
    m, conn = live
    with pytest.raises(exc, match=match):
        call(m, conn)


@pytest.mark.parametrize("call,exc,match", [pytest.param(*c[1:], id=c[0]) for c in WORKING])
def test_bad_input_rejected(live: tuple[mg.Manager, mg.Connection], call: Callable[..., Any],
                            exc: type[BaseException], match: str) -> None:
    run_case(live, call, exc, match)


def test_failed_construction_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    # D-10: a clean TypeError, no "Exception ignored" noise from __dealloc__.
    with pytest.raises(TypeError):
        mg.Manager(None, False, None, None)
    import gc
    gc.collect()
    assert "Exception ignored" not in capfd.readouterr().err


SWEEP = r'''
import itertools, cymongoose as mg
hostile = [None, -1, 2**70, "x\x00y", b"\xff\xfe", object(), 1.5, [], {"a\r": 1}]
skip = {"run", "poll", "close", "__exit__", "__enter__", "random_bytes", "random_str",
        "timer_add", "drain", "tls_init"}
m = mg.Manager(enable_wakeup=True)
lst = m.listen("tcp://127.0.0.1:0")
c = m.connect(f"tcp://127.0.0.1:{lst.local_addr[1]}")
for _ in range(10):
    m.poll(10)
detached = mg.Connection()
targets = [m, lst, c, detached, mg.HttpMessage(), mg.Timer(), mg.Rpc(), mg.RpcReq()]
targets += [getattr(mg, n)() for n in ("WsMessage", "MqttMessage") if hasattr(mg, n)]
calls = 0
for obj in targets + [mg]:
    for name in dir(obj):
        if name.startswith("_") or name in skip:
            continue
        fn = getattr(obj, name, None)
        if not callable(fn) or isinstance(fn, type):
            continue
        for n in range(3):
            for args in itertools.product(hostile, repeat=n):
                calls += 1
                try:
                    fn(*args)
                except Exception:
                    pass
        m.poll(0)
for t in (-1, 2**70, "x", None):
    try:
        m.timer_add(t, lambda: None)
    except Exception:
        pass
m.close()
print("calls", calls)
'''


def test_hostile_argument_sweep_never_crashes() -> None:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(SWEEP)], capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert int(r.stdout.split()[-1]) > 1000
