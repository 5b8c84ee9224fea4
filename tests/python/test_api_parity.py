"""Walk the tables of the API contract (shared/spec/API.md) against the built module.

The markdown is parsed, not copied: exported names and constant values (1.2),
class members (tables of section 2), signatures with their parameter names,
kinds and default values (code spans of sections 2 and 4, compared with
``inspect.signature``; the extension is compiled with Cython ``binding=True``
so its functions are introspectable), and the private names the adapters'
tests rely on. Names the runtime does not have yet are listed in
KNOWN_MISSING with the issue that brings them; their checks are strict xfails,
so they flip (and must be removed from KNOWN_MISSING) when the code lands.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import cymongoose
import pytest
from cymongoose import _mongoose, aio, asgi, wsgi

ROOT = Path(__file__).resolve().parents[2]
SPEC_CANDIDATES = [ROOT.parent / "shared" / "spec" / "API.md", Path("/work/shared/spec/API.md")]
SPEC = next((p for p in SPEC_CANDIDATES if p.is_file()), None)
if SPEC is None:
    pytest.skip("the API contract shared/spec/API.md is not next to the repository",
                allow_module_level=True)
TEXT = SPEC.read_text(encoding="utf-8")

# name -> issue that implements it (strict xfail until then).
KNOWN_MISSING: dict[str, int] = {
}

# Code spans in the spec that look like calls but name something that is not
# part of our API surface (argument conversions, the user's callables, the
# stdlib, or a Manager built *inside* an adapter).
NOT_API = {"bytes", "str", "repr", "callable", "handler", "callback", "ThreadPoolExecutor",
           "start_response", "write", "Manager@2.10", "Manager@2.11"}


# ---------------------------------------------------------------- parsing

def sections() -> list[tuple[str, list[str]]]:
    """(section number, lines) for every ## / ### heading."""
    out: list[tuple[str, list[str]]] = [("0", [])]
    for line in TEXT.splitlines():
        m = re.match(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", line)
        if m:
            out.append((m.group(1), [line[m.end():]]))  # the title may hold a signature
        else:
            out[-1][1].append(line)
    return out


SECTIONS = sections()


def section(num: str) -> list[str]:
    return [ln for n, lines in SECTIONS if n == num for ln in lines]


def code_spans(line: str) -> list[str]:
    return re.findall(r"`([^`]+)`", line)


def split_cells(line: str) -> list[str]:
    """Table cells; '|' inside code spans does not split."""
    spans: list[str] = []

    def hide(m: re.Match[str]) -> str:
        spans.append(m.group(0))
        return f"\x00{len(spans) - 1}\x00"

    masked = re.sub(r"`[^`]*`", hide, line)
    cells = [c.strip() for c in masked.strip().strip("|").split("|")]
    return [re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], c) for c in cells]


SIG_RE = re.compile(r"^(async )?(\w+)\((.*)\)(\s*->.*)?$")


@dataclass
class SpecSig:
    section: str
    name: str
    params: ast.arguments
    text: str
    is_async: bool


def parse_sig(span: str, sec: str) -> SpecSig | None:
    m = SIG_RE.match(span.strip())
    if not m:
        return None
    try:
        fn = ast.parse(f"def {m.group(2)}({m.group(3)}): pass").body[0]
    except SyntaxError:
        return None  # a call example such as RuntimeError("...") or poll(1000)
    assert isinstance(fn, ast.FunctionDef)
    return SpecSig(sec, m.group(2), fn.args, span, bool(m.group(1)))


def definition_spans(lines: list[str]) -> list[str]:
    """Code spans that define a signature rather than mention a call: those
    carrying '->' or '=' defaults, those opening a line or bullet, and in table
    rows those opening a cell or following ' / ' or '; ' inside it."""
    out = []
    for line in lines:
        table = line.startswith("|")
        for m in re.finditer(r"`([^`]+)`", line):
            span = m.group(1)
            before = line[:m.start()].rstrip()
            opens = re.fullmatch(r"\s*\*?", before) is not None or (
                table and before.endswith(("|", "/", ";")))
            if "->" in span or "=" in span or opens:
                out.append(span)
    return out


def spec_signatures() -> list[SpecSig]:
    sigs = []
    for sec, lines in SECTIONS:
        if not (sec.startswith(("1.1", "2.", "4")) and sec not in ("2.9",)):
            continue
        for span in definition_spans(lines):
            sig = parse_sig(span, sec)
            if sig is None or sig.name in NOT_API or f"{sig.name}@{sec}" in NOT_API:
                continue
            sigs.append(sig)
    return sigs


def table_members(sec: str) -> list[str]:
    """Identifiers in the first cell of every table row of a section (except
    tables whose first column is 'Parameter', which list constructor args)."""
    names: list[str] = []
    header: str | None = None
    for line in section(sec):
        if not line.startswith("|"):
            header = None
            continue
        cells = split_cells(line)
        if header is None:
            header = cells[0]
            continue
        if set(cells[0]) <= set("-: ") or header == "Parameter":
            continue
        for span in code_spans(cells[0]):
            m = re.match(r"^(\w+)", span)
            if m:
                names.append(m.group(1))
    return names


# ---------------------------------------------------------------- owners

OWNERS: dict[str, list[tuple[str, Any]]] = {
    "1.1": [("_mongoose", _mongoose)],
    "2.1": [("Manager", _mongoose.Manager)],
    "2.2": [("Connection", _mongoose.Connection)],
    "2.3": [("HttpMessage", _mongoose.HttpMessage)],
    "2.4": [("WsMessage", getattr(_mongoose, "WsMessage", None))],
    "2.5": [("MqttMessage", getattr(_mongoose, "MqttMessage", None))],
    "2.6": [("TlsOpts", getattr(_mongoose, "TlsOpts", None))],
    "2.7": [("Timer", _mongoose.Timer)],
    "2.8": [("Rpc", _mongoose.Rpc), ("RpcReq", _mongoose.RpcReq)],
    "2.10": [("aio", aio), ("AsyncManager", aio.AsyncManager)],
    "2.11": [("wsgi", wsgi), ("WSGIServer", wsgi.WSGIServer), ("FileWrapper", wsgi.FileWrapper)],
    "2.12": [("asgi", asgi), ("ASGIServer", asgi.ASGIServer)],
}


def owners_for(sec: str) -> list[tuple[str, Any]]:
    if sec.startswith("4"):
        return [("_mongoose", _mongoose)]
    return OWNERS.get(sec, [])


def resolve(sig_name: str, sec: str) -> tuple[str, Any]:
    """(qualified name, runtime object or None)."""
    owners = owners_for(sec)
    for qual, owner in owners:
        if owner is None:
            continue
        if qual == sig_name or getattr(owner, "__name__", None) == sig_name:
            return qual, owner  # the class itself: its constructor
        if isinstance(owner, ModuleType) and hasattr(owner, sig_name):
            obj = getattr(owner, sig_name)
            return f"{owner.__name__.split('.')[-1]}.{sig_name}", obj
    for qual, owner in owners:
        if owner is not None and not isinstance(owner, ModuleType) and hasattr(owner, sig_name):
            return f"{qual}.{sig_name}", getattr(owner, sig_name)
    qual = owners[0][0] if owners else "?"
    if qual in ("_mongoose",):
        return sig_name, None
    return f"{qual}.{sig_name}", None


def expect_present(key: str) -> Any:
    """pytest.param marks for a name that may be listed in KNOWN_MISSING."""
    issue = KNOWN_MISSING.get(key)
    if issue is None:
        return ()
    return (pytest.mark.xfail(strict=True, reason=(
        f"{key} lands with issue {issue}; once it XPASSes remove it from KNOWN_MISSING "
        "in tests/python/test_api_parity.py")),)


# ---------------------------------------------------------------- 1.1 / 1.2

def spec_constants() -> dict[str, int]:
    return {n: int(v) for line in section("1.2")
            for n, v in re.findall(r"`([A-Z][A-Z0-9_]+)=(\d+)`", line)}


def spec_list(prefix: str) -> list[str]:
    lines = section("1.2")
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            para = [line]
            for nxt in lines[i + 1:]:
                if not nxt.strip():
                    break
                para.append(nxt)
            names = code_spans(" ".join(para))
            count = int(re.search(r"\((\d+)\)", line).group(1))  # type: ignore[union-attr]
            assert len(names) == count, line
            return names
    raise AssertionError(f"no line starting with {prefix!r} in section 1.2")


CONSTANTS = spec_constants()
CLASSES = spec_list("Classes")
FUNCTIONS = spec_list("Functions (28)")
ALL_NAMES = sorted(set(CLASSES) | set(CONSTANTS) | set(FUNCTIONS))


def test_spec_tables_parsed() -> None:
    assert len(CONSTANTS) == 37
    assert len(CLASSES) == 10 and len(FUNCTIONS) == 28
    assert len(ALL_NAMES) == 75
    assert len(spec_signatures()) > 90


@pytest.mark.parametrize("name,value", sorted(CONSTANTS.items()))
def test_constant_value(name: str, value: int) -> None:
    got = getattr(cymongoose, name)
    assert type(got) is int and got == value
    assert getattr(_mongoose, name) == value


@pytest.mark.parametrize("name", [pytest.param(n, marks=expect_present(n)) for n in ALL_NAMES])
def test_exported_name(name: str) -> None:
    assert name in cymongoose.__all__
    assert hasattr(cymongoose, name)
    if name != "AsyncManager":
        assert name in _mongoose.__all__
        assert getattr(cymongoose, name) is getattr(_mongoose, name)


def test_all_has_exactly_the_contract_names() -> None:
    missing = [n for n in ALL_NAMES if n not in cymongoose.__all__ and n not in KNOWN_MISSING]
    extra = sorted(set(cymongoose.__all__) - set(ALL_NAMES))
    assert missing == []
    assert extra == [], f"names beyond API.md 1.2 in cymongoose.__all__: {extra}"
    assert len(cymongoose.__all__) == len(set(cymongoose.__all__))
    assert "AsyncManager" not in _mongoose.__all__


def test_package_layout() -> None:
    # The attribute is part of the API; its value is our own version (test_packaging.py).
    assert isinstance(cymongoose.__version__, str) and cymongoose.__version__ != "0.2.5"
    for cls in CLASSES:
        obj = getattr(cymongoose, cls, None)
        if obj is not None and cls != "AsyncManager":
            assert obj.__module__ == "cymongoose._mongoose", cls
    assert isinstance(_mongoose._EVENT_NAMES, dict)
    assert {v: k for k, v in _mongoose._EVENT_NAMES.items()} == {
        n: v for n, v in CONSTANTS.items() if n.startswith("MG_EV_")}
    # Importing the package imports _mongoose and aio, but not the adapters.
    code = ("import sys, cymongoose; "
            "print(hasattr(cymongoose, '_mongoose'), hasattr(cymongoose, 'aio'), "
            "'cymongoose.wsgi' in sys.modules, 'cymongoose.asgi' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["True", "True", "False", "False"]
    assert (Path(cymongoose.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize("name,value", [(n, v) for n, v in sorted(CONSTANTS.items())
                                        if n.startswith("MG_EV_")])
def test_event_name_table(name: str, value: int) -> None:
    assert _mongoose.event_name(value) == name


def test_event_name_unknown_and_user() -> None:
    # 4.1: ev > MG_EV_USER -> "MG_EV_USER+n"; negatives and 20-22 unknown.
    user = CONSTANTS["MG_EV_USER"]
    assert _mongoose.event_name(user + 2) == "MG_EV_USER+2"
    for ev in (-1, 20, 21, 22):
        assert _mongoose.event_name(ev) == f"MG_EV_UNKNOWN({ev})"


# ---------------------------------------------------------------- members (section 2)

MEMBER_SECTIONS = ["2.1", "2.2", "2.3", "2.4", "2.5", "2.7"]


def member_params() -> list[Any]:
    params = []
    seen = set()
    for sec in MEMBER_SECTIONS:
        qual = owners_for(sec)[0][0]
        for name in table_members(sec):
            key = f"{qual}.{name}"
            if key in seen:
                continue
            seen.add(key)
            marks = expect_present(qual) or expect_present(key)
            params.append(pytest.param(sec, name, id=key, marks=marks))
    # Members named in prose rather than tables.
    extra = {"2.6": ["ca", "cert", "key", "name", "skip_verification"],
             "2.7": ["cancel", "active"], "2.8": ["add", "process", "methods"],
             "2.10": ["listen", "connect", "mqtt_connect", "mqtt_listen", "sntp_connect",
                      "timer_add", "wakeup", "schedule", "manager", "running", "_manager"]}
    for sec, names in extra.items():
        qual = owners_for(sec)[-1][0] if sec == "2.10" else owners_for(sec)[0][0]
        for name in names:
            key = f"{qual}.{name}"
            if key not in seen:
                seen.add(key)
                params.append(pytest.param(sec, name, id=key,
                                           marks=expect_present(qual) or expect_present(key)))
    for name in ("frame", "ok", "err"):
        params.append(pytest.param("2.8r", name, id=f"RpcReq.{name}"))
    return params


@pytest.mark.parametrize("sec,name", member_params())
def test_member_exists(sec: str, name: str) -> None:
    if sec == "2.8r":
        owner: Any = _mongoose.RpcReq
    elif sec == "2.10":
        owner = aio.AsyncManager()  # _manager is an instance attribute
    else:
        owner = owners_for(sec)[0][1]
        if sec == "2.6":
            owner = owner()  # instance attributes of TlsOpts
    assert owner is not None
    # Look properties up on the class: AsyncManager.manager raises when not started.
    found = hasattr(type(owner), name) if not inspect.isclass(owner) else hasattr(owner, name)
    assert found or hasattr(owner, name), f"{owner!r} has no {name}"


def test_member_tables_parsed() -> None:
    assert "poll" in table_members("2.1") and "wakeup_id" in table_members("2.1")
    assert "handler" not in table_members("2.1")  # constructor parameter table skipped
    assert {"is_readable", "is_writable", "local_addr", "tls_free"} <= set(table_members("2.2"))
    assert {"mqtt_ping", "mqtt_pong", "recv_data", "send_data"} <= set(table_members("2.2"))
    assert {"__bool__", "header_var", "body_text"} <= set(table_members("2.3"))
    assert {"flags", "text"} <= set(table_members("2.4"))
    assert {"properties", "ack"} <= set(table_members("2.5"))


# ---------------------------------------------------------------- signatures

def eval_default(node: ast.expr, module: ModuleType) -> Any:
    if isinstance(node, ast.Name):
        return getattr(module, node.id)
    return ast.literal_eval(node)


def runtime_signature(obj: Any) -> inspect.Signature:
    """inspect.signature, or for Cython cdef classes (whose __init__ is a slot
    wrapper) the constructor signature embedded as the docstring's first line."""
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        pass
    doc = (getattr(obj, "__doc__", None) or "").splitlines()
    name = getattr(obj, "__name__", "")
    if doc and doc[0].startswith(f"{name}("):
        src = f"def {doc[0]}: pass"
        params = ast.parse(src).body[0].args  # type: ignore[attr-defined]
        return sig_from_ast(params, _mongoose)
    raise AssertionError(f"no introspectable signature for {obj!r}")


def sig_from_ast(args: ast.arguments, module: ModuleType) -> inspect.Signature:
    P = inspect.Parameter
    out = []
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for a, d in zip(positional, defaults):
        out.append(P(a.arg, P.POSITIONAL_OR_KEYWORD,
                     default=P.empty if d is None else eval_default(d, module)))
    if args.vararg:
        out.append(P(args.vararg.arg, P.VAR_POSITIONAL))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        out.append(P(a.arg, P.KEYWORD_ONLY,
                     default=P.empty if d is None else eval_default(d, module)))
    if args.kwarg:
        out.append(P(args.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(out)


def comparable(sig: inspect.Signature) -> list[tuple[str, str, Any]]:
    P = inspect.Parameter
    out = []
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        kind = "kw" if p.kind == P.KEYWORD_ONLY else (
            "*" if p.kind == P.VAR_POSITIONAL else "**" if p.kind == P.VAR_KEYWORD else "pos")
        default = "<required>" if p.default is P.empty else (type(p.default).__name__,
                                                              p.default)
        out.append((p.name, kind, default))
    return out


def signature_params() -> list[Any]:
    params = []
    seen: dict[str, str] = {}
    for sig in spec_signatures():
        qual, _ = resolve(sig.name, sig.section)
        if qual in seen:
            continue  # the first definition of a name in its section wins
        seen[qual] = sig.text
        params.append(pytest.param(sig, id=qual, marks=expect_present(qual)))
    return params


@pytest.mark.parametrize("sig", signature_params())
def test_signature(sig: SpecSig) -> None:
    qual, obj = resolve(sig.name, sig.section)
    assert obj is not None, f"{qual} is missing (spec: {sig.text})"
    if qual in ("Manager.__enter__", "Manager.__exit__"):
        return  # special methods: spec shows call shapes ("-> self", "*exc")
    expected = comparable(sig_from_ast(sig.params, _mongoose))
    if inspect.isclass(obj) and not expected:
        try:
            inspect.signature(obj)
        except (TypeError, ValueError):
            obj()  # "no arguments": constructs bare, refuses an argument
            with pytest.raises(TypeError):
                obj(1)
            return
    got = comparable(runtime_signature(obj))
    # Extensions beyond the contract are allowed only as trailing keyword-only
    # parameters with defaults (existing calls keep working).
    extra = got[len(expected):]
    assert got[:len(expected)] == expected, f"{qual}: spec `{sig.text}`"
    assert all(kind == "kw" and default != "<required>" for _, kind, default in extra), (
        f"{qual}: parameters beyond the spec must be keyword-only with defaults: {extra}")
    if sig.is_async:
        assert inspect.iscoroutinefunction(obj), qual


def test_signatures_cover_every_function() -> None:
    names = {s.name for s in spec_signatures() if s.section.startswith("4")}
    assert set(FUNCTIONS) <= names


def test_constructors_accept_spec_arguments() -> None:
    """Keyword and positional construction per the spec's constructor lines;
    one positional argument too many is a TypeError (D-10: cleanly)."""
    m = _mongoose.Manager(None, False, None)
    m.close()
    m = _mongoose.Manager(handler=None, enable_wakeup=True, error_handler=None)
    assert m.wakeup_id == 1
    m.close()
    with pytest.raises(TypeError):
        _mongoose.Manager(None, False, None, None)
    if hasattr(_mongoose, "TlsOpts"):
        t = _mongoose.TlsOpts(b"a", "b", None, b"n", True)
        assert (t.ca, t.cert, t.key, t.name, t.skip_verification) == (b"a", b"b", b"", b"n", True)


# ---------------------------------------------------------------- adapters' private names

def test_wsgi_private_constants() -> None:
    lines = section("2.11")
    found = {n: ast.literal_eval(v) for line in lines
             for n, v in re.findall(r"`(_[A-Z_]+) = ([\d.]+)`", line)}
    assert set(found) == {"_WAKEUP_MAX_BYTES", "_STREAM_THRESHOLD", "_STREAM_QUEUE_SIZE",
                          "_STREAM_PUT_TIMEOUT", "_STREAM_BATCH_SIZE"}
    for name, value in found.items():
        got = getattr(wsgi, name)
        assert got == value and type(got) is type(value), name


def test_adapter_private_attributes() -> None:
    app = lambda environ, start_response: []
    server = wsgi.WSGIServer(app)
    try:
        assert server._stash == {} and server._streams == {}
        assert server._stream_timeout == 5.0
    finally:
        server.close()
    assert aio.AsyncManager()._manager is None
    for mod in (wsgi, asgi):
        assert callable(mod.serve)
    assert callable(wsgi._build_environ)
    importlib.import_module("cymongoose.asgi")


def test_validate_header_private_helper() -> None:
    # 1.1: _mongoose._validate_header(name, value), the reply()/ws_upgrade() check.
    assert comparable(runtime_signature(_mongoose._validate_header)) == [
        ("name", "pos", "<required>"), ("value", "pos", "<required>")]
    _mongoose._validate_header("X-Ok", "fine value")
    with pytest.raises(ValueError, match="Header name.*illegal character"):
        _mongoose._validate_header("X\r\nEvil", "v")
    with pytest.raises(ValueError, match="Header value.*illegal character"):
        _mongoose._validate_header("X", "v\x00")
