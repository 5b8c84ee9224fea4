"""Utility functions and Rpc of the API contract (docs/api-contract.md#rpc and #functions, C-38..C-40).

Reference results come from the standard library (hashlib, hmac, base64, binascii, json,
urllib.parse, re) and are compared on fixed vectors and on hypothesis-generated inputs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import urllib.parse

import cymongoose as cm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Applied per test (not as a global profile, so other test modules keep their settings).
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DATA_FORMS = [
    pytest.param(lambda b: b, id="bytes"),
    pytest.param(bytearray, id="bytearray"),
    pytest.param(memoryview, id="memoryview"),
]


# ---------------------------------------------------------------- hashes (C-38)

HASH_VECTORS = [b"", b"a", b"abc", b"message digest", b"x" * 55, b"x" * 56, b"x" * 64,
                b"x" * 119, bytes(range(256)) * 5]


@pytest.mark.parametrize("data", HASH_VECTORS)
def test_hashes_match_hashlib(data: bytes) -> None:
    assert cm.md5(data) == hashlib.md5(data).digest()
    assert cm.sha1(data) == hashlib.sha1(data).digest()
    assert cm.sha256(data) == hashlib.sha256(data).digest()


def test_hash_sizes_and_known_values() -> None:
    assert cm.md5(b"abc").hex() == "900150983cd24fb0d6963f7d28e17f72"
    assert cm.sha1(b"abc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert cm.sha256(b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert len(cm.md5(b"")) == 16 and len(cm.sha1(b"")) == 20 and len(cm.sha256(b"")) == 32
    assert isinstance(cm.sha256(b""), bytes)


def test_hash_large_input() -> None:
    # Big enough to take the GIL-free path.
    data = bytes(range(256)) * 4096 + b"tail"
    assert cm.md5(data) == hashlib.md5(data).digest()
    assert cm.sha1(data) == hashlib.sha1(data).digest()
    assert cm.sha256(data) == hashlib.sha256(data).digest()
    assert cm.hmac_sha256(b"k", data) == hmac.new(b"k", data, hashlib.sha256).digest()


@PROPS
@given(st.binary(max_size=600))
def test_hashes_property(data: bytes) -> None:
    assert cm.md5(data) == hashlib.md5(data).digest()
    assert cm.sha1(data) == hashlib.sha1(data).digest()
    assert cm.sha256(data) == hashlib.sha256(data).digest()


@PROPS
@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_property(key: bytes, data: bytes) -> None:
    assert cm.hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()


def test_hmac_rfc4231_case2_and_long_key() -> None:
    assert cm.hmac_sha256("Jefe", "what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    key = b"\xaa" * 131
    msg = b"Test Using Larger Than Block-Size Key - Hash Key First"
    assert cm.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


@pytest.mark.parametrize("form", DATA_FORMS)
def test_data_forms_are_accepted(form) -> None:
    raw = b"hello \x00 world"
    assert cm.sha256(form(raw)) == hashlib.sha256(raw).digest()
    assert cm.md5(form(raw)) == hashlib.md5(raw).digest()
    assert cm.base64_encode(form(raw)) == base64.b64encode(raw).decode()
    assert cm.crc32(form(raw)) == binascii.crc32(raw)
    assert cm.hmac_sha256(form(b"key"), form(raw)) == hmac.new(b"key", raw, "sha256").digest()


def test_str_is_utf8_and_int_means_zero_bytes() -> None:
    assert cm.sha1("é") == hashlib.sha1("é".encode()).digest()
    assert cm.md5(3) == hashlib.md5(b"\x00\x00\x00").digest()  # bytes(3) quirk
    assert cm.base64_encode(2) == "AAA="


@pytest.mark.parametrize("fn", [cm.md5, cm.sha1, cm.sha256, cm.base64_encode, cm.crc32,
                                cm.url_encode])
def test_none_is_a_type_error(fn) -> None:
    with pytest.raises(TypeError):
        fn(None)
    with pytest.raises(TypeError):
        cm.hmac_sha256(None, b"x")
    with pytest.raises(TypeError):
        cm.hmac_sha256(b"x", None)


# ---------------------------------------------------------------- crc32

def test_crc32_check_value_and_chaining() -> None:
    assert cm.crc32(b"123456789") == 0xCBF43926
    assert cm.crc32(b"") == 0
    part = cm.crc32(b"1234")
    assert cm.crc32(b"56789", part) == 0xCBF43926
    assert cm.crc32(b"abc", 0xFFFFFFFF) == binascii.crc32(b"abc", 0xFFFFFFFF)


@PROPS
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crc32_property(a: bytes, b: bytes) -> None:
    assert cm.crc32(a) == binascii.crc32(a)
    assert cm.crc32(b, cm.crc32(a)) == binascii.crc32(a + b)


# ---------------------------------------------------------------- base64

@pytest.mark.parametrize("raw,enc", [
    (b"", ""), (b"f", "Zg=="), (b"fo", "Zm8="), (b"foo", "Zm9v"), (b"foob", "Zm9vYg=="),
    (b"fooba", "Zm9vYmE="), (b"foobar", "Zm9vYmFy"),
])
def test_base64_rfc4648(raw: bytes, enc: str) -> None:
    assert cm.base64_encode(raw) == enc
    assert cm.base64_decode(enc) == raw


@PROPS
@given(st.binary(max_size=500))
def test_base64_property(data: bytes) -> None:
    enc = cm.base64_encode(data)
    assert enc == base64.b64encode(data).decode("ascii")
    assert cm.base64_decode(enc) == data


def test_base64_decode_input_rules() -> None:
    with pytest.raises(TypeError):
        cm.base64_decode(b"Zm9v")
    with pytest.raises(TypeError):
        cm.base64_decode(None)
    with pytest.raises(UnicodeEncodeError):
        cm.base64_decode("Zm9vé")
    assert cm.base64_decode("Zm9v\n") == b"foo"  # trailing newline ignored
    for bad in ["Zm9v!", "Z", "Zg=", "Zg==Zg==", "====", "Zm 9v"]:
        assert cm.base64_decode(bad) == b"", bad
    # Missing padding: accepted (decodes the complete bytes).
    assert cm.base64_decode("YWJjZA") == b"abcd"


@PROPS
@given(st.text(alphabet="ABCDabcd0123+/=!\n ", max_size=20))
def test_base64_decode_never_invents_data(text: str) -> None:
    # Whatever the input, the result is either b"" or what a lenient stdlib decode gives.
    got = cm.base64_decode(text)
    assert isinstance(got, bytes)
    if got:
        stripped = text.rstrip("\r\n").rstrip("=")
        padded = stripped + "=" * (-len(stripped) % 4)
        assert got == base64.b64decode(padded, validate=True)


# ---------------------------------------------------------------- JSON

DOC = ('{"name": "Alice", "age": 42, "pi": 3.14, "neg": -7.9, "sci": 1.5e2, '
       '"ok": true, "no": false, "nil": null, "tags": ["a", "b"], '
       '"nested": {"arr": [{"k": "v"}, 2]}, "esc": "line\\nq\\"u\\u00e9\\ud83d\\ude00"}')


@pytest.mark.parametrize("path,expected", [
    ("$.name", '"Alice"'),
    ("$.age", "42"),
    ("$.nil", "null"),
    ("$.ok", "true"),
    ("$.tags", '["a", "b"]'),
    ("$.tags[1]", '"b"'),
    ("$.nested.arr[0].k", '"v"'),
    ("$.nested.arr[1]", "2"),
    ("$.nested.arr[2]", None),
    ("$.missing", None),
    ("$..name", None),
    ("$.name.x", None),
    ("$.tags.x", None),
])
def test_json_get(path: str, expected: str | None) -> None:
    assert cm.json_get(DOC, path) == expected


def test_json_get_whole_document_and_inputs() -> None:
    assert cm.json_get(DOC, "$") == DOC
    assert cm.json_get(DOC.encode(), "$.age") == "42"
    assert cm.json_get(bytearray(DOC.encode()), "$.age") == "42"
    assert cm.json_get(" [1, 2] ", "$") == "[1, 2]"
    with pytest.raises(TypeError):
        cm.json_get(None, "$")
    with pytest.raises(TypeError):
        cm.json_get(DOC, None)


@pytest.mark.parametrize("bad", ["", "{", '{"a":}', "[1,]", '{"a":1} x', "{'a': 1}", "nul",
                                 '{"a":1,"b":', "NaN", '"\\x"', "[01]", "\x00"])
def test_json_unparseable_is_none(bad: str) -> None:
    assert cm.json_get(bad, "$") is None
    assert cm.json_get(bad, "$.a") is None
    assert cm.json_get_num(bad, "$.a", 5.0) == 5.0
    assert cm.json_get_str(bad, "$.a") is None


def test_json_get_num_bool_long_str() -> None:
    assert cm.json_get_num(DOC, "$.age") == 42.0
    assert isinstance(cm.json_get_num(DOC, "$.age"), float)
    assert cm.json_get_num(DOC, "$.sci") == 150.0
    assert cm.json_get_num(DOC, "$.name") is None
    assert cm.json_get_num(DOC, "$.missing", 1.5) == 1.5
    assert cm.json_get_bool(DOC, "$.ok") is True
    assert cm.json_get_bool(DOC, "$.no") is False
    assert cm.json_get_bool(DOC, "$.nil") is None
    assert cm.json_get_bool(DOC, "$.age", "d") == "d"
    assert cm.json_get_long(DOC, "$.age") == 42
    assert cm.json_get_long(DOC, "$.pi") == 3
    assert cm.json_get_long(DOC, "$.neg") == -7
    assert cm.json_get_long(DOC, "$.sci") == 150
    assert cm.json_get_long(DOC, "$.name") == 0
    assert cm.json_get_long(DOC, "$.missing", -1) == -1
    with pytest.raises(TypeError, match="an integer is required"):
        cm.json_get_long(DOC, "$.age", None)
    assert cm.json_get_str(DOC, "$.name") == "Alice"
    assert cm.json_get_str(DOC, "$.esc") == "line\nq\"u\u00e9\U0001F600"
    assert cm.json_get_str(DOC, "$.age") is None
    assert cm.json_get_str(DOC, "$.missing") is None
    assert cm.json_get_str('"\\ud800x"', "$") == json.loads('"\\ud800x"')  # lone surrogate


JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids,
                                                               max_size=4),
    max_leaves=20,
)


def _paths(value, prefix: str = "$"):
    """Every (path, element) pair reachable with our path syntax."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            if k and not any(c in k for c in ".[\x00"):
                yield from _paths(v, f"{prefix}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, f"{prefix}[{i}]")


@PROPS
@given(JSON_VALUES, st.booleans(), st.booleans())
def test_json_property_against_json_module(value, indent: bool, ascii_only: bool) -> None:
    doc = json.dumps(value, indent=2 if indent else None, ensure_ascii=ascii_only)
    for path, element in _paths(value):
        tok = cm.json_get(doc, path)
        assert tok is not None, path
        assert json.loads(tok) == element
        if isinstance(element, str):
            assert cm.json_get_str(doc, path) == element
        else:
            assert cm.json_get_str(doc, path) is None
        if isinstance(element, bool):
            assert cm.json_get_bool(doc, path) is element
        elif isinstance(element, (int, float)):
            assert cm.json_get_num(doc, path) == float(element)
            assert cm.json_get_long(doc, path) == int(element) or abs(element) >= 2**63
            assert cm.json_get_bool(doc, path, "x") == "x"
        else:
            assert cm.json_get_num(doc, path) is None
    # A path past the end of the document's structure is not found.
    assert cm.json_get(doc, "$.no_such_key_here[5]") is None


@PROPS
@given(st.text(max_size=30))
def test_json_random_text_never_crashes(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        expected = ValueError
    got = cm.json_get(text, "$")
    if got is not None:
        # Anything we accept must be accepted by json as well, with the same meaning
        # (json also accepts NaN/Infinity, which we reject, so only this direction).
        assert expected is not ValueError
        assert json.loads(got) == expected


# ---------------------------------------------------------------- URL helpers

@pytest.mark.parametrize("text,expected", [
    ("", ""), (" ", "%20"), ("é", "%c3%a9"), ("/", "%2f"), ("a-b.c_d~e", "a-b.c_d~e"),
    ("AZaz09", "AZaz09"), ("a+b&c=d", "a%2bb%26c%3dd"),
])
def test_url_encode(text: str, expected: str) -> None:
    assert cm.url_encode(text) == expected


@PROPS
@given(st.text(max_size=40))
def test_url_encode_property(text: str) -> None:
    ours = cm.url_encode(text)
    ref = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(),
                 urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="~"))
    assert ours == ref
    assert urllib.parse.unquote_to_bytes(ours) == text.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("url,port", [
    ("http://example.com", 80), ("ws://h", 80), ("https://h", 443), ("wss://h", 443),
    ("mqtt://h", 1883), ("mqtts://h", 8883), ("http://h:8080/x", 8080), ("udp://h", 0),
    ("foo://h", 0), ("example.com", 0), ("example.com:99", 99), ("http://[::1]:81/", 81),
])
def test_url_port(url: str, port: int) -> None:
    assert cm.url_port(url) == port


@pytest.mark.parametrize("url,host", [
    ("http://example.com/path", "example.com"), ("http://u:p@h:1/x", "h"),
    ("http://[::1]:8000/", "[::1]"), ("example.com:99", "example.com"),
    ("http://h?x=1", "h?x=1"),
])
def test_url_host(url: str, host: str) -> None:
    assert cm.url_host(url) == host


def test_url_user_pass_uri() -> None:
    assert cm.url_user("mqtt://alice:secret@broker:1883") == "alice"
    assert cm.url_pass("mqtt://alice:secret@broker:1883") == "secret"
    assert cm.url_user("http://h/") == "" and cm.url_pass("http://h/") == ""
    assert cm.url_uri("http://h:80/a/b?c=d") == "/a/b?c=d"
    assert cm.url_uri("http://h") == "/"
    assert cm.url_uri("http://u:p@h/x") == "/x"


@pytest.mark.parametrize("url,ssl", [
    ("https://h", True), ("wss://h", True), ("mqtts://h", True), ("ssl://h", True),
    ("tls://h", True), ("tcps://h", True), ("HTTPS://h", False), ("http://h", False),
    ("ws://h", False), ("mqtt://h", False), ("udp://h", False), ("ftps://h", False),
    ("example.com", False),
])
def test_url_is_ssl(url: str, ssl: bool) -> None:
    assert cm.url_is_ssl(url) is ssl


# ---------------------------------------------------------------- http_var

def test_http_var() -> None:
    buf = "a=1&Name=x%20y+z&empty=&bare&aa=2"
    assert cm.http_var(buf, "a") == "1"
    assert cm.http_var(buf, "name") == "x%20y+z"  # raw, case-insensitive key
    assert cm.http_var(buf, "NAME") == "x%20y+z"
    assert cm.http_var(buf, "empty") == ""
    assert cm.http_var(buf, "bare") == ""
    assert cm.http_var(buf, "aa") == "2"
    assert cm.http_var(buf, "n") is None  # whole key only
    assert cm.http_var(buf, "zz") is None
    assert cm.http_var("", "a") is None
    assert cm.http_var(b"k=v", "k") == "v"
    assert cm.http_var(memoryview(b"k=v"), "k") == "v"


@PROPS
@given(st.dictionaries(st.text("abcXYZ_", min_size=1, max_size=5),
                       st.text("abc%20+=", max_size=6).filter(lambda v: "&" not in v),
                       max_size=5))
def test_http_var_property(pairs: dict[str, str]) -> None:
    # Keys unique case-insensitively so the first match is the expected one.
    seen: dict[str, str] = {}
    for k, v in pairs.items():
        seen.setdefault(k.lower(), v)
    buf = "&".join(f"{k}={v}" for k, v in pairs.items())
    for k in pairs:
        assert cm.http_var(buf, k.upper()) == seen[k.lower()]


# ---------------------------------------------------------------- match

@pytest.mark.parametrize("s,pattern,expected", [
    ("/api/v1", "/api/*", (True, ["v1"])),
    ("/api/", "/api/*", (True, [""])),
    ("", "*", (True, [""])),
    ("a*b", "a*b", (True, ["*"])),
    ("/api/a/b", "/api/*", (False, [])),
    ("/api/a/b", "/api/#", (True, ["a/b"])),
    ("abc", "a?c", (True, ["b"])),
    ("abc", "ABC", (False, [])),
    ("/users/42/posts/7", "/users/*/posts/*", (True, ["42", "7"])),
    ("x/y/z", "#/*", (True, ["x/y", "z"])),
    ("a/b/c", "#/#", (True, ["a", "b/c"])),
    ("", "", (True, [])),
    ("x", "", (False, [])),
])
def test_match(s: str, pattern: str, expected) -> None:
    assert cm.match(s, pattern) == expected


def test_match_caps_limit_and_types() -> None:
    ok, caps = cm.match("a" * 25, "?" * 25)
    assert ok and caps == ["a"] * 20
    ok, caps = cm.match("é/x", "*/?")
    assert ok and caps == ["é", "x"]
    assert cm.match(b"a/b", b"*/*") == (True, ["a", "b"])
    # Earlier wildcards take the shortest runs: the 20 reported ones are all empty.
    assert cm.match("x" * 5000, "#" * 1024) == (True, [""] * 20)
    assert cm.match("x" * 5000, "#" * 3) == (True, ["", "", "x" * 5000])
    with pytest.raises(ValueError, match="pattern longer"):
        cm.match("x", "#" * 1025)


def _glob_regex(pattern: str) -> re.Pattern:
    parts = {"?": "(.)", "*": "([^/]*?)", "#": "(.*?)"}
    return re.compile("".join(parts.get(c, re.escape(c)) for c in pattern), re.DOTALL)


@PROPS
@given(st.text("ab/", max_size=10), st.text("ab/?*#", max_size=8))
def test_match_property_against_regex(s: str, pattern: str) -> None:
    # Lazy groups under backtracking give the same "earlier wildcards shortest" captures.
    m = _glob_regex(pattern).fullmatch(s)
    expected = (True, list(m.groups())) if m else (False, [])
    assert cm.match(s, pattern) == expected


# ---------------------------------------------------------------- random

def test_random_bytes() -> None:
    assert cm.random_bytes(0) == b""
    a, b = cm.random_bytes(16), cm.random_bytes(16)
    assert isinstance(a, bytes) and len(a) == 16 and a != b
    assert len(cm.random_bytes(100000)) == 100000
    with pytest.raises(OverflowError):
        cm.random_bytes(-1)
    with pytest.raises(TypeError):
        cm.random_bytes("3")


def test_random_str() -> None:
    assert cm.random_str(0) == ""
    s = cm.random_str(2000)
    assert len(s) == 2000 and re.fullmatch(r"[0-9a-zA-Z]+", s)
    assert len(set(s)) > 50  # 2000 draws from 62 symbols cover nearly all of them
    assert cm.random_str(32) != cm.random_str(32)
    with pytest.raises(OverflowError):
        cm.random_str(-1)


# ---------------------------------------------------------------- Rpc (section 2.8)

@pytest.fixture
def rpc() -> cm.Rpc:
    r = cm.Rpc()
    r.add("sum", lambda req: req.ok(str(cm.json_get_long(req.frame, "$.params[0]")
                                        + cm.json_get_long(req.frame, "$.params[1]"))))
    r.add("echo.*", lambda req: req.ok(cm.json_get(req.frame, "$.params") or "null"))
    return r


def test_rpc_success_shapes(rpc: cm.Rpc) -> None:
    assert rpc.process('{"id":1,"method":"sum","params":[2,3]}') == '{"id":1,"result":5}'
    assert rpc.process(b'{"method":"sum","params":[2,3],"id":"x"}') == (
        '{"id":"x","result":5}')
    assert rpc.process('{"id": 7, "method": "echo.a", "params": {"k": [1, 2]}}') == (
        '{"id":7,"result":{"k": [1, 2]}}')
    # Notification: ok() produces nothing.
    assert rpc.process('{"method":"sum","params":[2,3]}') == ""


def test_rpc_errors(rpc: cm.Rpc) -> None:
    assert rpc.process('{"id":3,"method":"nope"}') == (
        '{"id":3,"error":{"code":-32601,"message":"nope not found"}}')
    assert rpc.process('{"id":4}') == (
        '{"id":4,"error":{"code":-32700,"message":"{\\"id\\":4}"}}')
    assert rpc.process("garbage") == '{"error":{"code":-32700,"message":"garbage"}}'
    batch = '[{"id":1,"method":"sum","params":[1,2]}]'
    out = rpc.process(batch)
    assert json.loads(out) == {"error": {"code": -32700, "message": batch}}
    assert out.startswith('{"error":{"code":-32700,"message":')


def test_rpc_handler_err_and_exceptions() -> None:
    r = cm.Rpc()
    r.add("bad", lambda req: req.err(42, 'no "way"\n'))

    def boom(req: cm.RpcReq) -> None:
        raise KeyError("k")

    r.add("boom", boom)
    r.add("quiet", lambda req: None)
    assert r.process('{"id":1,"method":"bad"}') == (
        '{"id":1,"error":{"code":42,"message":"no \\"way\\"\\n"}}')
    assert json.loads(r.process('{"id":1,"method":"bad"}'))["error"]["message"] == 'no "way"\n'
    assert r.process('{"id":2,"method":"boom"}') == (
        '{"id":2,"error":{"code":-32603,"message":' + json.dumps(str(KeyError("k"))) + "}}")
    assert r.process('{"id":3,"method":"quiet"}') == (
        '{"id":3,"error":{"code":-32603,"message":"handler produced no response"}}')
    # Notification: err() still answers, without id (anchor behaviour).
    assert r.process('{"method":"bad"}') == (
        '{"error":{"code":42,"message":"no \\"way\\"\\n"}}')


def test_rpc_exception_message_is_json_dumps() -> None:
    r = cm.Rpc()

    def fail(req: cm.RpcReq) -> None:
        raise ValueError('é "q"\x01')

    r.add("f", fail)
    out = r.process('{"id":1,"method":"f"}')
    assert out == '{"id":1,"error":{"code":-32603,"message":' + json.dumps('é "q"\x01') + "}}"


def test_rpc_newest_first_and_methods() -> None:
    r = cm.Rpc()
    r.add("a.*", lambda req: req.ok('"old"'))
    r.add("a.b", lambda req: req.ok('"new"'))
    assert r.methods == ["a.b", "a.*"]
    assert r.process('{"id":1,"method":"a.b"}') == '{"id":1,"result":"new"}'
    assert r.process('{"id":1,"method":"a.c"}') == '{"id":1,"result":"old"}'
    with pytest.raises(TypeError):
        r.add("x", None)
    assert cm.Rpc().methods == []


def test_rpc_req_lifecycle() -> None:
    r = cm.Rpc()
    kept: list[cm.RpcReq] = []
    errors: list[str] = []

    def handler(req: cm.RpcReq) -> None:
        kept.append(req)
        assert req.frame == '{"id":1,"method":"m"}'
        req.ok("true")
        for call in (lambda: req.ok("1"), lambda: req.err(1, "x")):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))

    r.add("m", handler)
    assert r.process('{"id":1,"method":"m"}') == '{"id":1,"result":true}'
    assert errors == ["Response already sent"] * 2
    stale = kept[0]
    assert stale.frame == ""
    with pytest.raises(RuntimeError, match="no longer valid"):
        stale.ok("1")
    with pytest.raises(RuntimeError, match="no longer valid"):
        stale.err(1, "x")
    bare = cm.RpcReq()
    assert bare.frame == ""
    with pytest.raises(RuntimeError, match="RpcReq is no longer valid"):
        bare.ok("1")


def test_rpc_base_exception_propagates() -> None:
    r = cm.Rpc()

    def stop(req: cm.RpcReq) -> None:
        raise KeyboardInterrupt

    r.add("stop", stop)
    with pytest.raises(KeyboardInterrupt):
        r.process('{"id":1,"method":"stop"}')
    r.add("ok", lambda req: req.ok("1"))
    assert r.process('{"id":1,"method":"ok"}') == '{"id":1,"result":1}'


@PROPS
@given(st.text(max_size=40))
def test_rpc_random_frames_answer_with_json_or_nothing(frame: str) -> None:
    r = cm.Rpc()
    r.add("*", lambda req: req.ok("0"))
    out = r.process(frame)
    assert out == "" or isinstance(json.loads(out), dict)


def test_json_get_long_exponent_rounds_like_python() -> None:
    # Found by the property test: a 17-digit mantissa with an exponent must round
    # through a correctly rounded double, as int(float(text)) does.
    for text in ("1.1301672684323323e+18", "9.007199254740993e15", "-4.5e3"):
        assert cm.json_get_long(text, "$") == int(float(text))
