"""The Python API contract (docs/api-contract.md) checked against the built package.

The page is parsed, not copied into this file: its exported names and constant
values, its member tables (every name exists; constructors, methods and functions
have the contract's parameter names, kinds and defaults according to
``inspect.signature``; properties are data descriptors; attributes and private
constants exist with the stated initial values), its example tables (each
expression evaluates to the stated value) and its C-n / D-n ids (defined once,
and every id cited anywhere in the repository is defined). The page lives in the
repository, so a missing or unparseable page is a failure, never a skip.

Names beyond the contract are our extensions and are allowed: extra members,
trailing keyword-only parameters with defaults, and extra entries of
``__all__`` as long as the generated reference (docs/python-api.md) lists them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import cymongoose
import pytest
from cymongoose import _mongoose, aio, wsgi

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "api-contract.md"
TEXT = CONTRACT.read_text(encoding="utf-8")  # no page, no pass: a missing file fails collection

MEMBER_HEADER = ["Name", "Kind", "Signature", "Notes"]
KINDS = {"constructor", "method", "async method", "special method", "property", "attribute",
         "function", "constant", "class", "type alias"}


# ---------------------------------------------------------------- parsing the page

def split_cells(line: str) -> list[str]:
    """Cells of a table row; a '|' inside a code span does not split."""
    spans: list[str] = []

    def hide(m: re.Match[str]) -> str:
        spans.append(m.group(0))
        return f"\x00{len(spans) - 1}\x00"

    masked = re.sub(r"`[^`]*`", hide, line)
    cells = [c.strip() for c in masked.strip().strip("|").split("|")]
    return [re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], c) for c in cells]


def code(cell: str) -> str:
    """The text of the first code span of a cell ('' when there is none)."""
    m = re.search(r"`([^`]+)`", cell)
    return m.group(1) if m else ""


@dataclass
class Table:
    heading: str   # the nearest ## / ### heading above the table
    line: int      # 1-based line of the header row
    header: list[str]
    rows: list[list[str]]


def tables() -> list[Table]:
    out: list[Table] = []
    heading = ""
    lines = TEXT.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^#{2,3} ", line):
            heading = line
        if line.startswith("|"):
            block = []
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                block.append(split_cells(lines[i]))
                i += 1
            assert len(block) >= 2 and set("".join(block[1])) <= set("-: "), (
                f"api-contract.md:{start + 1}: a table needs a header and a separator row")
            body = block[2:]
            for n, row in enumerate(body):
                assert len(row) == len(block[0]), (
                    f"api-contract.md:{start + 3 + n}: {len(row)} cells, header has {len(block[0])}")
            out.append(Table(heading, start + 1, block[0], body))
            continue
        i += 1
    return out


TABLES = tables()


def tables_with(header: list[str]) -> list[Table]:
    return [t for t in TABLES if t.header == header]


def owner_path(t: Table) -> str:
    paths = [s for s in re.findall(r"`([^`]+)`", t.heading) if s.startswith("cymongoose")]
    assert paths, f"api-contract.md:{t.line}: heading {t.heading!r} names no owner"
    return paths[0]


def resolve_path(path: str) -> Any:
    """cymongoose.wsgi.WSGIServer -> the object (module prefix imported)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"cannot import {path}")


@dataclass
class Member:
    owner: str     # dotted path from the heading
    name: str
    kind: str
    sig: str       # the Signature cell's code span
    line: int

    @property
    def key(self) -> str:
        short = self.owner.removeprefix("cymongoose.").removeprefix("_mongoose.")
        return self.name if self.kind == "constructor" else f"{short}.{self.name}"


def members() -> list[Member]:
    out = []
    for t in tables_with(MEMBER_HEADER):
        owner = owner_path(t)
        for n, row in enumerate(t.rows):
            name, kind, sig = code(row[0]), row[1], code(row[2])
            where = f"api-contract.md:{t.line + 2 + n}"
            assert name and sig, f"{where}: name and signature must be code spans"
            assert kind in KINDS, f"{where}: unknown kind {kind!r}"
            out.append(Member(owner, name, kind, sig, t.line + 2 + n))
    return out


MEMBERS = members()
CONSTANTS = {code(r[0]): int(r[1]) for t in tables_with(["Name", "Value", "Group"])
             for r in t.rows}
CLASSES = {code(r[0]): code(r[1]) for t in tables_with(["Name", "Defined in"]) for r in t.rows}
FUNCTIONS = sorted(m.name for m in MEMBERS
                   if m.kind == "function" and m.owner == "cymongoose._mongoose"
                   and not m.name.startswith("_"))
ALL_NAMES = sorted(set(CLASSES) | set(CONSTANTS) | set(FUNCTIONS))
EXAMPLES = [(code(r[0]), code(r[1]), t.line + 2 + n)
            for t in tables_with(["Expression", "Value"]) for n, r in enumerate(t.rows)]
EVENTS = {code(r[0]): int(r[1]) for t in TABLES if t.header[:2] == ["Event", "Value"]
          for r in t.rows}


def defined_ids() -> list[str]:
    return re.findall(r'<a id="([cd]-\d+)"></a>', TEXT)


def section_text(anchor: str) -> str:
    """The text from an anchor to the next anchor."""
    m = re.search(rf'<a id="{anchor}"></a>(.*?)(?=<a id=|\Z)', TEXT, re.DOTALL)
    assert m, f"no anchor {anchor!r}"
    return m.group(1)


def test_contract_parsed() -> None:
    assert len(CONSTANTS) == 37
    assert len(CLASSES) == 10 and len(FUNCTIONS) == 28
    assert len(ALL_NAMES) == 75
    # 2.3 lists the functions in prose too: both lists agree.
    listed = re.findall(r"`(\w+)`", section_text("exported-functions").split(":", 1)[1])
    assert sorted(listed) == FUNCTIONS
    signatures = [m for m in MEMBERS if m.kind in ("constructor", "method", "async method",
                                                   "function")]
    assert len(signatures) > 100 and len(MEMBERS) > 170
    owners = {m.owner for m in MEMBERS}
    assert {"cymongoose._mongoose.Manager", "cymongoose._mongoose.Connection",
            "cymongoose._mongoose.HttpMessage", "cymongoose._mongoose.WsMessage",
            "cymongoose._mongoose.MqttMessage", "cymongoose._mongoose.TlsOpts",
            "cymongoose._mongoose.Timer", "cymongoose._mongoose.Rpc",
            "cymongoose._mongoose.RpcReq", "cymongoose.aio.AsyncManager",
            "cymongoose.wsgi", "cymongoose.wsgi.WSGIServer", "cymongoose.wsgi.FileWrapper",
            "cymongoose.asgi", "cymongoose.asgi.ASGIServer"} <= owners
    assert len(EXAMPLES) > 50
    assert len(EVENTS) == 21


def test_contract_ids_are_defined_once_and_in_order() -> None:
    ids = defined_ids()
    assert ids == [f"c-{n}" for n in range(1, 41)] + [f"d-{n}" for n in range(1, 16)]
    anchors = re.findall(r'<a id="([\w-]+)"></a>', TEXT)
    assert len(anchors) == len(set(anchors)), "duplicate anchors"
    # Every in-page link points at an anchor of the page.
    for target in re.findall(r"\]\(#([\w-]+)\)", TEXT):
        assert target in anchors, f"link to missing anchor #{target}"


def repo_files() -> Iterator[Path]:
    for top in ("python", "src", "tests", "docs", "examples", "bench", "scripts", "boards"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".pyi", ".pyx", ".pxi", ".c", ".h",
                                                  ".md", ".txt", ".cmake", ".toml"):
                yield path
    for name in ("README.md", "CHANGELOG.md", "CMakeLists.txt", "Makefile", "pyproject.toml"):
        if (ROOT / name).is_file():
            yield ROOT / name


def test_ids_cited_in_the_repository_exist() -> None:
    """A comment or test citing C-n / D-n must find the rule in the contract page."""
    defined = {i.upper() for i in defined_ids()}
    dangling = []
    for path in repo_files():
        if path == CONTRACT:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
            for cited in re.findall(r"(?<![\w-])([CD]-\d+)\b", line):
                if cited not in defined:
                    dangling.append(f"{path.relative_to(ROOT)}:{n + 1}: {cited}")
    assert dangling == []


def test_nothing_refers_to_files_outside_the_repository() -> None:
    needles = ("../" + "shared/", "shared/" + "spec")
    hits = [f"{p.relative_to(ROOT)}: {needle}" for p in repo_files()
            for needle in needles if needle in p.read_text(encoding="utf-8", errors="replace")]
    assert hits == []


# ---------------------------------------------------------------- exported names

@pytest.mark.parametrize("name,value", sorted(CONSTANTS.items()))
def test_constant_value(name: str, value: int) -> None:
    got = getattr(cymongoose, name)
    assert type(got) is int and got == value
    assert getattr(_mongoose, name) == value


@pytest.mark.parametrize("name", ALL_NAMES)
def test_exported_name(name: str) -> None:
    assert name in cymongoose.__all__
    assert hasattr(cymongoose, name)
    if name == "AsyncManager":
        assert cymongoose.AsyncManager is aio.AsyncManager
    else:
        assert name in _mongoose.__all__
        assert getattr(cymongoose, name) is getattr(_mongoose, name)


@pytest.mark.parametrize("name,module", sorted(CLASSES.items()))
def test_class_module(name: str, module: str) -> None:
    cls = getattr(cymongoose, name)
    assert inspect.isclass(cls) and cls.__module__ == module


def test_all_holds_the_contract_and_only_documented_extensions() -> None:
    names = list(cymongoose.__all__)
    assert len(names) == len(set(names))
    assert [n for n in ALL_NAMES if n not in names] == []
    assert "AsyncManager" not in _mongoose.__all__
    assert set(_mongoose.__all__) | {"AsyncManager"} == set(names)
    assert names == ["AsyncManager", *_mongoose.__all__]  # the literal list, in order
    reference = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    undocumented = [n for n in sorted(set(names) - set(ALL_NAMES))
                    if not re.search(rf"`{re.escape(n)}\b", reference)]
    assert undocumented == [], "extensions in __all__ missing from docs/python-api.md"


def test_package_layout() -> None:
    # The attribute is part of the API; its value is our own version line.
    assert isinstance(cymongoose.__version__, str) and cymongoose.__version__
    assert isinstance(_mongoose._EVENT_NAMES, dict)
    assert {v: k for k, v in _mongoose._EVENT_NAMES.items()} == {
        n: v for n, v in CONSTANTS.items() if n.startswith("MG_EV_")}
    # Importing the package imports _mongoose and aio, but not the adapters.
    probe = ("import sys, cymongoose; "
             "print(hasattr(cymongoose, '_mongoose'), hasattr(cymongoose, 'aio'), "
             "'cymongoose.wsgi' in sys.modules, 'cymongoose.asgi' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["True", "True", "False", "False"]
    assert (Path(cymongoose.__file__).parent / "py.typed").is_file()


def test_event_table_matches_constants() -> None:
    assert EVENTS == {n: v for n, v in CONSTANTS.items() if n.startswith("MG_EV_")}
    for name, value in EVENTS.items():
        assert _mongoose.event_name(value) == name


# ---------------------------------------------------------------- signatures

def eval_default(node: ast.expr, module: ModuleType) -> Any:
    if isinstance(node, ast.Name):
        return getattr(module, node.id)  # e.g. op=WEBSOCKET_OP_TEXT
    return ast.literal_eval(node)


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


SIG_RE = re.compile(r"^(\w+)\((.*)\)(\s*->.*)?$")


def contract_signature(m: Member) -> inspect.Signature:
    match = SIG_RE.match(m.sig)
    assert match, f"api-contract.md:{m.line}: {m.sig!r} is not a signature"
    assert match.group(1) == m.name, f"api-contract.md:{m.line}: name differs from signature"
    fn = ast.parse(f"def {m.name}({match.group(2)}): pass").body[0]
    assert isinstance(fn, ast.FunctionDef)
    return sig_from_ast(fn.args, _mongoose)


def runtime_signature(obj: Any) -> inspect.Signature:
    """inspect.signature, or for Cython cdef classes (whose __init__ is a slot
    wrapper) the constructor signature written as the docstring's first line."""
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        pass
    doc = (getattr(obj, "__doc__", None) or "").splitlines()
    name = getattr(obj, "__name__", "")
    if doc and doc[0].startswith(f"{name}("):
        fn = ast.parse(f"def {doc[0]}: pass").body[0]
        assert isinstance(fn, ast.FunctionDef)
        return sig_from_ast(fn.args, _mongoose)
    raise AssertionError(f"no introspectable signature for {obj!r}")


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


def check_signature(m: Member, obj: Any) -> None:
    expected = comparable(contract_signature(m))
    if m.kind == "constructor" and not expected:
        try:
            inspect.signature(obj)
        except (TypeError, ValueError):
            obj()  # "no arguments": a bare object can be made
            return
    got = comparable(runtime_signature(obj))
    assert got[:len(expected)] == expected, f"{m.key}: contract `{m.sig}`"
    # Our extensions may only add trailing keyword-only parameters with defaults,
    # so every call written against the contract keeps working.
    extra = got[len(expected):]
    assert all(kind == "kw" and default != "<required>" for _, kind, default in extra), (
        f"{m.key}: parameters beyond the contract must be keyword-only with defaults: {extra}")


# ---------------------------------------------------------------- members

def fresh_wsgi_server() -> Any:
    return wsgi.WSGIServer(lambda environ, start_response: [])


# Attributes are instance state: how to get an instance of each owner that has some.
FACTORIES: dict[str, Callable[[], Any]] = {
    "cymongoose._mongoose.TlsOpts": lambda: _mongoose.TlsOpts(),
    "cymongoose.aio.AsyncManager": lambda: aio.AsyncManager(),
    "cymongoose.wsgi.WSGIServer": fresh_wsgi_server,
    "cymongoose.wsgi.FileWrapper": lambda: wsgi.FileWrapper(io.BytesIO(b"")),
}


def parse_binding(m: Member) -> tuple[str, str | None, Any]:
    """`name`, `name = 1`, `name: int`, `name: int = 1` -> (name, annotation, value or ...)."""
    stmt = ast.parse(m.sig).body[0]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        value = ... if stmt.value is None else ast.literal_eval(stmt.value)
        return stmt.target.id, ast.unparse(stmt.annotation), value
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, None, ast.literal_eval(stmt.value)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Name):
        return stmt.value.id, None, ...
    raise AssertionError(f"api-contract.md:{m.line}: cannot read {m.sig!r}")


def check_binding(m: Member, holder: Any) -> None:
    name, annotation, value = parse_binding(m)
    assert name == m.name, f"api-contract.md:{m.line}: name differs from signature"
    assert hasattr(holder, name), f"{m.key} is missing"
    got = getattr(holder, name)
    if annotation in ("bool", "bytes", "dict", "float", "int", "list", "str"):
        assert type(got).__name__ == annotation, f"{m.key}: {type(got).__name__}"
    if value is not ...:
        assert got == value and type(got) is type(value), f"{m.key}: {got!r} != {value!r}"


@pytest.mark.parametrize("m", [pytest.param(m, id=m.key) for m in MEMBERS])
def test_member(m: Member) -> None:
    owner = resolve_path(m.owner)
    if m.kind == "constructor":
        assert inspect.isclass(owner) and owner.__name__ == m.name, m.owner
        check_signature(m, owner)
        return
    if m.kind == "attribute":
        if isinstance(owner, ModuleType):
            check_binding(m, owner)
            return
        factory = FACTORIES.get(m.owner)
        assert factory is not None, f"add a factory for {m.owner} to FACTORIES"
        instance = factory()
        try:
            check_binding(m, instance)
        finally:
            if hasattr(instance, "close") and not isinstance(instance, wsgi.FileWrapper):
                instance.close()
        return
    if m.kind == "constant":
        check_binding(m, owner)
        return
    assert hasattr(owner, m.name), f"{m.key} is missing"
    obj = getattr(owner, m.name)
    if m.kind == "property":
        assert inspect.isdatadescriptor(inspect.getattr_static(owner, m.name)), m.key
    elif m.kind == "class":
        assert inspect.isclass(obj) and obj.__name__ == m.name
    elif m.kind in ("method", "async method", "function"):
        assert callable(obj)
        check_signature(m, obj)
        if m.kind == "async method":
            assert inspect.iscoroutinefunction(obj), m.key
    # "special method" and "type alias": existence is the contract.


def test_members_cover_what_scripts_use() -> None:
    keys = {m.key for m in MEMBERS}
    assert {"Manager", "Manager.poll", "Manager.wakeup_id", "Connection.is_readable",
            "Connection.local_addr", "Connection.tls_free", "Connection.mqtt_pong",
            "Connection.recv_data", "HttpMessage.__bool__", "HttpMessage.header_var",
            "WsMessage.flags", "MqttMessage.ack", "MqttMessage.properties", "TlsOpts.name",
            "Timer.cancel", "RpcReq.err", "aio.AsyncManager._manager", "wsgi._build_environ",
            "wsgi._STREAM_THRESHOLD", "wsgi.WSGIServer._stash", "asgi.ASGIServer.start",
            "_validate_header", "_EVENT_NAMES"} <= keys | {k.split(".", 1)[-1] for k in keys}


# ---------------------------------------------------------------- examples

@pytest.mark.parametrize("expr,value,line",
                         [pytest.param(*e, id=f"line{e[2]}:{e[0]}") for e in EXAMPLES])
def test_example(expr: str, value: str, line: int) -> None:
    expected = ast.literal_eval(value)
    # The page's own example expressions, evaluated in the package's namespace.
    got = eval(expr, dict(vars(cymongoose)))
    assert got == expected and type(got) is type(expected), (
        f"api-contract.md:{line}: {expr} gave {got!r}, the contract says {expected!r}")


# ---------------------------------------------------------------- behaviour behind the names

def test_constructors_accept_contract_arguments() -> None:
    """Keyword and positional construction as the constructor rows say; one
    positional argument too many is a TypeError (D-10: a clean one)."""
    m = _mongoose.Manager(None, False, None)
    m.close()
    m = _mongoose.Manager(handler=None, enable_wakeup=True, error_handler=None)
    assert m.wakeup_id == 1
    m.close()
    with pytest.raises(TypeError):
        _mongoose.Manager(None, False, None, None)
    with pytest.raises(TypeError):
        _mongoose.Rpc(1)  # "takes no arguments"
    t = _mongoose.TlsOpts(b"a", "b", None, b"n", True)
    assert (t.ca, t.cert, t.key, t.name, t.skip_verification) == (b"a", b"b", b"", b"n", True)


def test_validate_header_private_helper() -> None:
    _mongoose._validate_header("X-Ok", "fine value")
    with pytest.raises(ValueError, match="Header name.*illegal character"):
        _mongoose._validate_header("X\r\nEvil", "v")
    with pytest.raises(ValueError, match="Header value.*illegal character"):
        _mongoose._validate_header("X", "v\x00")
