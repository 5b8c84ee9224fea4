"""TLS with real peers, all on loopback: a test CA and certificates made by the
openssl command line tool at test time; our HTTPS server against curl, Python
`ssl` and `openssl s_client`; our client against `openssl s_server` and a
Python `ssl` server (SNI, mutual TLS); failures (wrong CA, expired
certificate, wrong host name, system trust store, plain-text client,
truncated handshake) reported as MG_EV_ERROR with a reason while the server
keeps serving; C-34 (both ends cymongoose); TlsOpts semantics."""

from __future__ import annotations

import http.client
import os
import pickle
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cymongoose as mg
import pytest
from cymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_ERROR,
    MG_EV_HTTP_MSG,
    MG_EV_TLS_HS,
    TlsOpts,
)
from mgtest import free_port, poll_until

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl not installed")

_GEN = r"""
set -e
ec() { openssl ecparam -name prime256v1 -genkey -noout -out $1; }
ca() { ec $1.key; openssl req -x509 -new -key $1.key -subj /CN=$1 -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
  -out $1.pem; }
leaf() { openssl req -new -key $1.key -subj /CN=$1 -out $1.csr
  printf 'basicConstraints=CA:FALSE\nsubjectAltName=%s\n' "$3" > $1.ext
  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial \
    -days ${4:-2} -extfile $1.ext -out $1.pem; }
ca ca; ca ca2
ec srv.key; leaf srv ca DNS:localhost,IP:127.0.0.1
ec cli.key; leaf cli ca DNS:client.test
ec expired.key; leaf expired ca DNS:localhost,IP:127.0.0.1 -1
openssl genrsa -out rsa.key 2048; leaf rsa ca DNS:localhost
"""


@dataclass
class Certs:
    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def pem(self, name: str) -> bytes:
        return (self.dir / name).read_bytes()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if OPENSSL is None:
        pytest.skip("openssl CLI not installed (needed to make the test CA)")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["sh", "-c", _GEN], cwd=d, check=True, capture_output=True, timeout=60)
    assert b"BEGIN EC PRIVATE KEY" in (d / "srv.key").read_bytes()  # SEC1
    return Certs(d)


def srv_opts(c: Certs, **kw: Any) -> TlsOpts:
    return TlsOpts(cert=c.pem("srv.pem"), key=c.pem("srv.key"), **kw)


@dataclass
class Server:
    """Our HTTPS server: tls_init on MG_EV_ACCEPT, replies with the URI."""
    mgr: mg.Manager
    opts: TlsOpts
    port: int = 0
    errors: list[str] = field(default_factory=list)
    handshakes: int = 0
    requests: list[str] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)

    def handler(self, conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_ACCEPT:
            conn.tls_init(self.opts)
        elif ev == MG_EV_TLS_HS:
            self.handshakes += 1
        elif ev == MG_EV_HTTP_MSG:
            self.requests.append(data.uri)
            self.tls_seen.append(conn.is_tls)
            conn.reply(200, f"hello {data.uri}")
        elif ev == MG_EV_ERROR:
            self.errors.append(data)

    def start(self) -> Server:
        # Plain listener; each accepted connection starts TLS in MG_EV_ACCEPT (so
        # options that cannot work are reported per connection, see the bad PEM test).
        lst = self.mgr.listen("http://127.0.0.1:0", self.handler)
        assert not lst.is_tls and not lst.is_closing
        self.port = lst.local_addr[1]
        return self


def pump(mgr: mg.Manager, done: Callable[[], bool], timeout: float = 10.0) -> None:
    assert poll_until(mgr, done, timeout=timeout, step_ms=5), "timed out"


def run_proc(mgr: mg.Manager, args: list[str], stdin: bytes | None = None,
             timeout: float = 15.0) -> subprocess.CompletedProcess[bytes]:
    """Runs a peer program while our manager keeps polling."""
    p = subprocess.Popen(args, stdin=subprocess.PIPE if stdin is not None else None,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out: list[bytes] = []
    t = threading.Thread(target=lambda: out.extend(p.communicate(stdin, timeout=timeout)))
    t.start()
    deadline = time.monotonic() + timeout
    while t.is_alive() and time.monotonic() < deadline:
        mgr.poll(5)
    t.join(1)
    if p.poll() is None:
        p.kill()
        p.wait()
    return subprocess.CompletedProcess(args, p.returncode, out[0] if out else b"",
                                       out[1] if len(out) > 1 else b"")


def run_thread(mgr: mg.Manager, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Runs fn() in a thread while our manager polls; returns its result or
    re-raises its exception."""
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            box["r"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["e"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while t.is_alive() and time.monotonic() < deadline:
        mgr.poll(5)
    assert not t.is_alive(), "peer thread hung"
    if "e" in box:
        raise box["e"]
    return box.get("r")


def curl(mgr: mg.Manager, c: Certs, port: int, *extra: str,
         path: str = "/x") -> subprocess.CompletedProcess[bytes]:
    return run_proc(mgr, [CURL or "curl", "-sS", "--max-time", "10", "--cacert",
                          c.path("ca.pem"), "--resolve", f"localhost:{port}:127.0.0.1",
                          *extra, f"https://localhost:{port}{path}"])


# ---- TlsOpts ----

def test_tlsopts_fields_and_conversions() -> None:
    o = TlsOpts("ca-text", b"cert", None, 0, True)
    assert (o.ca, o.cert, o.key, o.name, o.skip_verification) == (
        b"ca-text", b"cert", b"", b"", True)
    assert TlsOpts(name="h\u00e9").name == "h\u00e9".encode()
    assert TlsOpts().skip_verification is False
    for bad in (5, 1.5, ["x"]):
        with pytest.raises(TypeError, match=f"Expected bytes, got {type(bad).__name__}"):
            TlsOpts(ca=bad)
    o.name = b"example.org"
    assert o.name == b"example.org"
    with pytest.raises(TypeError, match="Expected bytes, got str"):
        o.key = "text"
    o.ca = None
    assert o.ca is None
    o.skip_verification = False
    assert o.skip_verification is False
    assert type(o).__module__ == "cymongoose._mongoose"


def test_tlsopts_pickle_round_trip() -> None:
    o = TlsOpts(b"ca", b"cert", b"key", b"name", True)
    r = pickle.loads(pickle.dumps(o))
    assert (r.ca, r.cert, r.key, r.name, r.skip_verification) == (
        b"ca", b"cert", b"key", b"name", True)


def test_tls_init_argument_checks(mgr: mg.Manager) -> None:
    lst = mgr.listen("tcp://127.0.0.1:0")
    with pytest.raises(TypeError):
        lst.tls_init({"ca": b""})
    with pytest.raises(TypeError):
        lst.tls_init(None)
    with pytest.raises(ValueError, match="needs a certificate and its key"):
        lst.tls_init(TlsOpts())  # a listener checks its server options at once
    assert not lst.is_tls and not lst.is_closing
    detached = mg.Connection()
    with pytest.raises(RuntimeError, match="closed"):
        detached.tls_init(TlsOpts())
    with pytest.raises(RuntimeError, match="closed"):
        detached.tls_free()


# ---- C-34: both ends cymongoose ----

@dataclass
class Client:
    """Our HTTPS client: tls_init on MG_EV_CONNECT, one GET after the
    handshake."""
    opts: TlsOpts | None
    path: str = "/c34"
    events: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    status: int = 0
    body: str = ""
    tls_at_hs: bool = False
    closed: bool = False

    def handler(self, conn: mg.Connection, ev: int, data: Any) -> None:
        self.events.append(ev)
        if ev == MG_EV_CONNECT and self.opts is not None:
            conn.tls_init(self.opts)
        elif ev == MG_EV_TLS_HS:
            self.tls_at_hs = conn.is_tls
            conn.send(f"GET {self.path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
        elif ev == MG_EV_HTTP_MSG:
            self.status = data.status()
            self.body = data.body_text
            conn.close()
        elif ev == MG_EV_ERROR:
            self.errors.append(data)
        elif ev == MG_EV_CLOSE:
            self.closed = True


def fetch(mgr: mg.Manager, url: str, opts: TlsOpts | None, path: str = "/c34") -> Client:
    cl = Client(opts, path)
    mgr.connect(url, cl.handler)
    pump(mgr, lambda: cl.closed)
    return cl


@pytest.mark.parametrize("skip", [False, True])
def test_c34_both_sides_cymongoose(mgr: mg.Manager, certs: Certs, skip: bool) -> None:
    srv = Server(mgr, srv_opts(certs)).start()
    cl = fetch(mgr, f"https://localhost:{srv.port}/",
               TlsOpts(ca=certs.pem("ca.pem"), name=b"localhost", skip_verification=skip))
    assert cl.errors == [] and srv.errors == []
    assert MG_EV_TLS_HS in cl.events and srv.handshakes == 1
    assert cl.tls_at_hs and srv.tls_seen == [True]
    assert (cl.status, cl.body) == (200, "hello /c34")


def test_client_name_defaults_to_url_host(mgr: mg.Manager, certs: Certs) -> None:
    srv = Server(mgr, srv_opts(certs)).start()
    ca = certs.pem("ca.pem")
    for host in ("localhost", "127.0.0.1"):  # DNS and IP SANs of srv.pem
        cl = fetch(mgr, f"https://{host}:{srv.port}/", TlsOpts(ca=ca), path=f"/{host}")
        assert cl.errors == [] and cl.body == f"hello /{host}"


# ---- Our server vs real clients ----

@needs_curl
def test_server_vs_curl_keepalive(mgr: mg.Manager, certs: Certs) -> None:
    srv = Server(mgr, srv_opts(certs)).start()
    port = srv.port
    r = run_proc(mgr, [CURL or "curl", "-sS", "--max-time", "10", "--cacert",
                       certs.path("ca.pem"), "--resolve", f"localhost:{port}:127.0.0.1",
                       f"https://localhost:{port}/a", f"https://localhost:{port}/b"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello /ahello /b"
    assert srv.handshakes == 1  # both requests on one TLS connection
    assert srv.requests == ["/a", "/b"] and srv.errors == []


@needs_curl
@pytest.mark.parametrize("version", ["--tlsv1.2 --tls-max 1.2", "--tlsv1.3"])
def test_server_tls_versions_with_curl(mgr: mg.Manager, certs: Certs, version: str) -> None:
    srv = Server(mgr, srv_opts(certs)).start()
    r = curl(mgr, certs, srv.port, *version.split(), "-w", "%{http_code}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello /x200"


@pytest.mark.parametrize("maxver", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_server_vs_python_ssl(mgr: mg.Manager, certs: Certs,
                              maxver: ssl.TLSVersion) -> None:
    srv = Server(mgr, srv_opts(certs)).start()
    ctx = ssl.create_default_context(cafile=certs.path("ca.pem"))
    ctx.maximum_version = maxver

    def client() -> tuple[str | None, list[bytes]]:
        hc = http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=10)
        bodies = []
        for p in ("/one", "/two", "/three"):
            hc.request("GET", p)
            resp = hc.getresponse()
            assert resp.status == 200
            bodies.append(resp.read())
        assert hc.sock is not None
        version = hc.sock.version()  # type: ignore[union-attr]
        hc.close()
        return version, bodies

    version, bodies = run_thread(mgr, client)
    assert version == ("TLSv1.2" if maxver == ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
    assert bodies == [b"hello /one", b"hello /two", b"hello /three"]
    assert srv.handshakes == 1 and srv.errors == []


def test_server_rsa_key(mgr: mg.Manager, certs: Certs) -> None:
    srv = Server(mgr, TlsOpts(cert=certs.pem("rsa.pem"), key=certs.pem("rsa.key"))).start()
    ctx = ssl.create_default_context(cafile=certs.path("ca.pem"))

    def client() -> tuple[bytes, str]:
        hc = http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=10)
        hc.request("GET", "/rsa")
        body = hc.getresponse().read()
        cipher = hc.sock.cipher()[0]  # type: ignore[union-attr]
        hc.close()
        return body, cipher

    body, _cipher = run_thread(mgr, client)
    assert body == b"hello /rsa" and srv.errors == []


@needs_openssl
def test_server_vs_openssl_s_client(mgr: mg.Manager, certs: Certs) -> None:
    srv = Server(mgr, srv_opts(certs)).start()
    r = run_proc(mgr, [OPENSSL or "openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}",
                       "-servername", "localhost", "-verify_hostname", "localhost",
                       "-CAfile", certs.path("ca.pem"), "-verify_return_error",
                       "-tls1_2", "-ign_eof"],
                 stdin=b"GET /s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    out = r.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out
    assert "Protocol  : TLSv1.2" in out
    assert "hello /s" in out and srv.errors == []


def s_client_cipher(mgr: mg.Manager, port: int, *args: str) -> str | None:
    """The cipher `openssl s_client` negotiated with our server, None when the
    handshake failed."""
    r = run_proc(mgr, [OPENSSL or "openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                       *args], stdin=b"")
    m = re.search(r"Cipher is (\S+)", r.stdout.decode(errors="replace"))
    return None if m is None or m.group(1) == "(NONE)" else m.group(1)


@needs_openssl
@pytest.mark.parametrize("kind", ["ECDSA", "RSA"])
def test_server_tls12_ciphers(mgr: mg.Manager, certs: Certs, kind: str) -> None:
    """TLS 1.2: ECDHE with AEAD only (no CBC, no static RSA key exchange), in
    the server's order of preference; TLS 1.3 keeps the library's suites."""
    name = "srv" if kind == "ECDSA" else "rsa"
    srv = Server(mgr, TlsOpts(cert=certs.pem(f"{name}.pem"),
                              key=certs.pem(f"{name}.key"))).start()
    auth = "ECDHE-ECDSA" if kind == "ECDSA" else "ECDHE-RSA"
    for refused in ["AES128-SHA", "AES256-GCM-SHA384", f"{auth}-AES128-SHA",
                    f"{auth}-AES256-SHA384"]:
        assert s_client_cipher(mgr, srv.port, "-tls1_2", "-cipher", refused) is None, refused
    for ok in [f"{auth}-AES128-GCM-SHA256", f"{auth}-AES256-GCM-SHA384",
               f"{auth}-CHACHA20-POLY1305"]:
        assert s_client_cipher(mgr, srv.port, "-tls1_2", "-cipher", ok) == ok
    # The client lists ChaCha20 first; the server's preference (AES-128-GCM) wins.
    assert s_client_cipher(
        mgr, srv.port, "-tls1_2", "-cipher",
        f"{auth}-CHACHA20-POLY1305:{auth}-AES128-GCM-SHA256") == f"{auth}-AES128-GCM-SHA256"
    assert s_client_cipher(mgr, srv.port, "-tls1_3") in {
        "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}


# ---- Mutual TLS ----

@needs_curl
def test_mutual_tls_server_with_curl(mgr: mg.Manager, certs: Certs) -> None:
    srv = Server(mgr, srv_opts(certs, ca=certs.pem("ca.pem"))).start()
    ok = curl(mgr, certs, srv.port, "--cert", certs.path("cli.pem"),
              "--key", certs.path("cli.key"), path="/mtls")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == b"hello /mtls"
    bad = curl(mgr, certs, srv.port, path="/nocert")
    assert bad.returncode != 0 and b"hello" not in bad.stdout
    pump(mgr, lambda: len(srv.errors) == 1)
    assert "peer did not return a certificate" in srv.errors[0]
    assert srv.requests == ["/mtls"]


def test_mutual_tls_client_vs_python_ssl_server(mgr: mg.Manager, certs: Certs) -> None:
    """Our client presents its certificate; the Python server requires one
    and also records the SNI name it received."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.path("srv.pem"), certs.path("srv.key"))
    ctx.load_verify_locations(certs.path("ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    seen: dict[str, Any] = {}
    ctx.sni_callback = lambda sock, name, c: seen.__setitem__("sni", name)  # type: ignore[assignment,misc]
    ls = socket.create_server(("127.0.0.1", 0))
    port = ls.getsockname()[1]

    def server() -> None:
        ls.settimeout(10)
        raw, _ = ls.accept()
        with ctx.wrap_socket(raw, server_side=True) as s:
            seen["peer"] = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
            seen["req"] = s.recv(1000)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(0.2)

    t = threading.Thread(target=server, daemon=True)
    t.start()
    cl = fetch(mgr, f"https://localhost:{port}/m",
               TlsOpts(ca=certs.pem("ca.pem"), cert=certs.pem("cli.pem"),
                       key=certs.pem("cli.key")), path="/m")
    t.join(5)
    ls.close()
    assert cl.errors == [] and (cl.status, cl.body) == (200, "ok")
    assert seen["sni"] == "localhost" and seen["peer"] == "cli"
    assert seen["req"].startswith(b"GET /m HTTP/1.1")


# ---- Our client vs openssl s_server ----

@pytest.fixture
def s_server(certs: Certs) -> Iterator[Callable[..., int]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(cert: str = "srv", *extra: str) -> int:
        port = free_port()
        p = subprocess.Popen([OPENSSL or "openssl", "s_server", "-accept", f"127.0.0.1:{port}",
                              "-cert", certs.path(f"{cert}.pem"),
                              "-key", certs.path(f"{cert}.key"), "-www", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("openssl s_server did not start")

    yield start
    for p in procs:
        p.kill()
        p.wait()


@needs_openssl
def test_client_vs_openssl_s_server(mgr: mg.Manager, certs: Certs,
                                    s_server: Callable[..., int]) -> None:
    port = s_server()
    cl = fetch(mgr, f"https://localhost:{port}/", TlsOpts(ca=certs.pem("ca.pem")), path="/")
    assert cl.errors == [] and cl.status == 200
    assert "Ciphers supported in s_server binary" in cl.body  # its -www page


@needs_openssl
@pytest.mark.parametrize("case", ["wrong_ca", "wrong_name", "expired", "system_store"])
def test_client_verification_failures(mgr: mg.Manager, certs: Certs,
                                      s_server: Callable[..., int], case: str) -> None:
    ca, ca2 = certs.pem("ca.pem"), certs.pem("ca2.pem")
    port = s_server("expired" if case == "expired" else "srv")
    opts, want = {
        "wrong_ca": (TlsOpts(ca=ca2), "unable to get local issuer certificate"),
        "wrong_name": (TlsOpts(ca=ca, name="other.example"), "hostname mismatch"),
        "expired": (TlsOpts(ca=ca), "certificate has expired"),
        "system_store": (TlsOpts(), "unable to get local issuer certificate"),
    }[case]
    cl = fetch(mgr, f"https://localhost:{port}/", opts, path="/")
    assert cl.errors == [f"TLS handshake failed: certificate verify failed: {want}"]
    assert MG_EV_TLS_HS not in cl.events and cl.status == 0 and cl.closed
    # skip_verification is the one way around it (an explicit name is still checked)
    ok = fetch(mgr, f"https://localhost:{port}/", TlsOpts(skip_verification=True), path="/")
    assert ok.errors == [] and ok.status == 200
    if case == "wrong_name":
        bad = fetch(mgr, f"https://localhost:{port}/",
                    TlsOpts(name=b"other.example", skip_verification=True), path="/")
        assert bad.errors == [("TLS handshake failed: certificate does not match "
                              "'other.example'")]


# ---- Bad clients against our server; it keeps serving ----

def _plain_text(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            return s.recv(1000)  # b"" or an alert once the server gives up
        except ConnectionResetError:  # closed with our request unread
            return b""


def _truncated(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # hello cut short
        s.shutdown(socket.SHUT_WR)
        try:
            return s.recv(1000)
        except ConnectionResetError:
            return b""


def _untrusting_client(port: int) -> bytes:
    ctx = ssl.create_default_context()  # does not trust our test CA
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            ctx.wrap_socket(raw, server_hostname="localhost")
    except ssl.SSLCertVerificationError:
        return b"rejected"
    return b"accepted"


@pytest.mark.parametrize("peer,reason", [
    (_plain_text, "TLS handshake failed: http request"),
    (_truncated, "TLS handshake failed: connection closed by peer"),
    (_untrusting_client, "TLS handshake failed: "),
])
def test_server_bad_peers_then_keeps_serving(mgr: mg.Manager, certs: Certs,
                                             peer: Callable[[int], bytes],
                                             reason: str) -> None:
    srv = Server(mgr, srv_opts(certs)).start()
    out = run_thread(mgr, lambda: peer(srv.port))
    assert b"HTTP/1.1" not in out
    if peer is _untrusting_client:
        assert out == b"rejected"
    pump(mgr, lambda: len(srv.errors) == 1)
    assert srv.errors[0].startswith(reason), srv.errors
    assert srv.handshakes == 0
    cl = fetch(mgr, f"https://localhost:{srv.port}/", TlsOpts(ca=certs.pem("ca.pem")),
               path="/after")
    assert cl.body == "hello /after" and srv.handshakes == 1


def test_bad_pem_is_an_error_event(mgr: mg.Manager, certs: Certs) -> None:
    srv = Server(mgr, TlsOpts(cert=b"not a pem", key=certs.pem("srv.key"))).start()
    cl = fetch(mgr, f"https://localhost:{srv.port}/", TlsOpts(ca=certs.pem("ca.pem")))
    pump(mgr, lambda: len(srv.errors) == 1)
    assert srv.errors[0].startswith("TLS: bad certificate PEM")
    assert cl.status == 0 and cl.closed


def test_tls_free_then_init_again(mgr: mg.Manager, certs: Certs) -> None:
    """tls_free() makes the connection plain; tls_init() afterwards works (here
    the first init happens before the socket connects, so nothing was sent and
    the peer sees one clean handshake; the URL host is still used as name)."""
    srv = Server(mgr, srv_opts(certs)).start()
    cl = Client(TlsOpts(ca=certs.pem("ca.pem")))  # inits again on MG_EV_CONNECT
    conn = mgr.connect(f"https://localhost:{srv.port}/", cl.handler)
    conn.tls_init(TlsOpts(ca=certs.pem("ca2.pem")))
    assert conn.is_tls
    conn.tls_free()
    assert not conn.is_tls and not conn.is_closing
    pump(mgr, lambda: cl.closed)
    assert cl.errors == [] and cl.body == "hello /c34" and cl.tls_at_hs


def test_no_busy_loop_while_handshake_waits(mgr: mg.Manager) -> None:
    """Bytes queued before the handshake finishes wait for it without making
    poll() spin: against a peer that accepts TCP but stays silent, poll(100)
    blocks instead of returning at once."""
    ls = socket.create_server(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    state = {"connected": False}

    def handler(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_CONNECT:
            conn.send(b"queued before the handshake")
            conn.tls_init(TlsOpts(skip_verification=True))
            state["connected"] = True

    conn = mgr.connect(f"tcp://127.0.0.1:{port}", handler)
    peer, _ = ls.accept()
    pump(mgr, lambda: state["connected"])
    polls = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.5:
        mgr.poll(100)
        polls += 1
    assert conn.is_tls and conn.send_len > 0  # still waiting for the server
    assert polls <= 20, f"{polls} poll() calls returned early in 0.5 s"
    peer.close()
    ls.close()


def test_graceful_close_sends_close_notify(mgr: mg.Manager, certs: Certs) -> None:
    """drain() ends the TLS stream with close_notify, so a body delimited by the
    close is not reported as truncated (suppress_ragged_eofs=False raises
    SSLEOFError otherwise)."""
    opts = srv_opts(certs)

    def handler(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_ACCEPT:
            conn.tls_init(opts)
        elif ev == mg.MG_EV_READ and b"\r\n\r\n" in conn.recv_data():
            conn.send(b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 50000)
            conn.drain()

    port = mgr.listen("tcp://127.0.0.1:0", handler).local_addr[1]
    ctx = ssl.create_default_context(cafile=certs.path("ca.pem"))

    def client() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost",
                                suppress_ragged_eofs=False) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    out = run_thread(mgr, client)
    assert out.startswith(b"HTTP/1.0 200 OK\r\n\r\n") and out.endswith(b"z" * 50000)
    assert len(out) == 19 + 50000


# ---- wss:// and mqtts:// (the same tls_init pattern on MG_EV_CONNECT) ----

def _wss_server(mgr: mg.Manager, certs: Certs) -> int:
    opts = srv_opts(certs)

    def handler(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_ACCEPT:
            conn.tls_init(opts)
        elif ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data)
        elif ev == mg.MG_EV_WS_MSG:
            conn.ws_send(f"echo {data.text} tls={conn.is_tls}")

    return mgr.listen("http://127.0.0.1:0", handler).local_addr[1]


def test_wss_both_sides_cymongoose(mgr: mg.Manager, certs: Certs) -> None:
    port = _wss_server(mgr, certs)
    got: list[str] = []
    ca = certs.pem("ca.pem")

    def client(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=ca))  # ws_connect does not start TLS itself
        elif ev == mg.MG_EV_WS_OPEN:
            conn.ws_send("hi")
        elif ev == mg.MG_EV_WS_MSG:
            got.append(data.text)
            conn.close()

    mgr.ws_connect(f"wss://localhost:{port}/ws", client)
    pump(mgr, lambda: bool(got))
    assert got == ["echo hi tls=True"]


def test_wss_server_vs_websockets_client(mgr: mg.Manager, certs: Certs) -> None:
    from websockets.sync.client import connect

    port = _wss_server(mgr, certs)
    ctx = ssl.create_default_context(cafile=certs.path("ca.pem"))

    def client() -> list[str | bytes]:
        with connect(f"wss://localhost:{port}/ws", ssl=ctx, open_timeout=10) as ws:
            out = []
            for text in ("one", "two"):
                ws.send(text)
                out.append(ws.recv(timeout=10))
            return out

    assert run_thread(mgr, client) == ["echo one tls=True", "echo two tls=True"]


@pytest.fixture
def mosquitto_tls(certs: Certs, tmp_path: Path) -> Iterator[int]:
    exe = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if exe is None:
        pytest.skip("mosquitto is not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(("user root\n" if os.geteuid() == 0 else "")  # keep file access
                    + f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    f"certfile {certs.path('srv.pem')}\nkeyfile {certs.path('srv.key')}\n")
    p = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert p.poll() is None and time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)
    yield port
    p.terminate()
    p.wait(5)


@pytest.mark.skipif(not hasattr(mg.Manager, "mqtt_connect"),
                    reason="the MQTT client is not in this build yet (issue 5)")
def test_mqtts_client_vs_mosquitto(mgr: mg.Manager, certs: Certs, mosquitto_tls: int) -> None:
    seen: list[Any] = []
    ca = certs.pem("ca.pem")

    def client(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=ca))
        elif ev == mg.MG_EV_MQTT_OPEN:
            seen.append(("open", data, conn.is_tls))
            conn.mqtt_sub("tls/t", 1)
        elif ev == mg.MG_EV_MQTT_CMD and data.cmd == 9:  # SUBACK
            conn.mqtt_pub("tls/t", "over tls", 1)
        elif ev == mg.MG_EV_MQTT_MSG:
            seen.append(("msg", data.topic, bytes(data.data)))
        elif ev == MG_EV_ERROR:
            seen.append(("error", data))

    mgr.mqtt_connect(f"mqtts://localhost:{mosquitto_tls}", client, client_id="tls-test")
    pump(mgr, lambda: len(seen) >= 2)
    assert seen[:2] == [("open", 0, True), ("msg", "tls/t", b"over tls")]


def _bad_server(reply: bytes) -> tuple[socket.socket, threading.Thread]:
    ls = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        ls.settimeout(10)
        s, _ = ls.accept()
        s.recv(4096)  # the ClientHello
        s.sendall(reply)
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return ls, t


@pytest.mark.parametrize("reply,reason", [
    (b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03", "connection closed by peer"),
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "wrong version number"),
])
def test_client_bad_servers(mgr: mg.Manager, reply: bytes, reason: str) -> None:
    """A ServerHello cut short, and a plain-text server, fail the client's
    handshake with a reason."""
    ls, t = _bad_server(reply)
    cl = fetch(mgr, f"https://localhost:{ls.getsockname()[1]}/", TlsOpts(skip_verification=True))
    t.join(5)
    ls.close()
    assert cl.errors == [f"TLS handshake failed: {reason}"]
    assert MG_EV_TLS_HS not in cl.events and cl.closed


def test_listener_tls_flags_and_option_checks(mgr: mg.Manager, certs: Certs) -> None:
    """https/wss/mqtts listeners and listeners given tls_init() report is_tls (also in
    their MG_EV_OPEN); options a server cannot use raise ValueError at tls_init, naming
    the problem, and leave the listener open; the listener still serves TLS."""
    opened: list[tuple[bool, bool]] = []

    def on_open(conn: mg.Connection, ev: int, data: Any) -> None:
        if ev == mg.MG_EV_OPEN:
            opened.append((conn.is_listening, conn.is_tls))

    for scheme in ("https", "wss", "mqtts"):
        assert mgr.listen(f"{scheme}://127.0.0.1:0", on_open).is_tls
    assert not mgr.listen("http://127.0.0.1:0", on_open).is_tls
    assert opened == [(True, True)] * 3 + [(True, False)]

    lst = mgr.listen("tcp://127.0.0.1:0")
    bad = [
        (TlsOpts(cert=b"garbage", key=certs.pem("srv.key")), "bad certificate"),
        (TlsOpts(cert=certs.pem("srv.pem"), key=b"garbage"), "key"),
        (TlsOpts(cert=certs.pem("srv.pem"), key=certs.pem("cli.key")), "key"),
    ]
    for opts, why in bad:
        with pytest.raises(ValueError, match=why):
            lst.tls_init(opts)
        assert not lst.is_tls and not lst.is_closing
    srv = Server(mgr, srv_opts(certs)).start()
    listener = next(c for c in mgr.connections if c.is_listening and
                    c.local_addr is not None and c.local_addr[1] == srv.port)
    listener.tls_init(srv.opts)
    assert listener.is_tls and not listener.is_closing
    cl = fetch(mgr, f"https://localhost:{srv.port}/", TlsOpts(ca=certs.pem("ca.pem")))
    assert cl.status == 200 and srv.tls_seen == [True]
