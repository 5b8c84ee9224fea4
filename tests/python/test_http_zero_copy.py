"""Big static files go out zero-copy (sendfile) on plain connections: curl and
http.client download them intact (SHA-256), ranges start mid-file, a client
vanishing mid-file costs the server nothing, MG_EV_WRITE still comes (the
C test checks its byte counts), and over TLS the same files take the copying path and arrive intact."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cymongoose import MG_EV_ACCEPT, MG_EV_CLOSE, MG_EV_HTTP_MSG, MG_EV_WRITE, TlsOpts
from httpsrv import HttpServer, curl

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
SIZE = 5 * 1024 * 1024 + 123  # more than a loopback socket buffers at once


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zc")
    (root / "big.bin").write_bytes(os.urandom(SIZE))
    (root / "small.txt").write_text("small\n")
    return root


class Files(HttpServer):
    """serve_dir on root; counts MG_EV_WRITE events and closed connections."""

    def __init__(self, root: Path, tls: TlsOpts | None = None) -> None:
        self.writes = 0
        self.closed = 0
        self.tls = tls

        def h(conn: Any, ev: int, data: Any) -> None:
            if ev == MG_EV_ACCEPT and self.tls is not None:
                conn.tls_init(self.tls)
            elif ev == MG_EV_HTTP_MSG:
                conn.serve_dir(data, str(root))
            elif ev == MG_EV_WRITE:
                self.writes += 1
            elif ev == MG_EV_CLOSE and not conn.is_listening:
                self.closed += 1
        super().__init__(h)


def wait_for(cond: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(cond())


@needs_curl
def test_curl_download_and_ranges(big: Path) -> None:
    data = (big / "big.bin").read_bytes()
    with Files(big) as srv:
        r = curl("-D", "-", srv.url + "/big.bin", timeout=30)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        assert r.returncode == 0 and head.startswith(b"HTTP/1.1 200 OK")
        assert len(body) == SIZE and sha(body) == sha(data)
        assert wait_for(lambda: srv.writes >= 1)  # the bytes leaving are reported
        r = curl("-r", "1234567-4000000", srv.url + "/big.bin", timeout=30)
        assert sha(r.stdout) == sha(data[1234567:4000001])
        r = curl("-r", f"{SIZE - 70000}-", srv.url + "/big.bin", timeout=30)
        assert r.stdout == data[SIZE - 70000:]
        # Several downloads at once, and a small file on the same connection.
        procs = [subprocess.Popen(["curl", "-sS", "--max-time", "30", srv.url + "/big.bin"],
                                  stdout=subprocess.PIPE) for _ in range(4)]
        outs = [p.communicate(timeout=40)[0] for p in procs]
        assert all(sha(o) == sha(data) for o in outs)
        r = curl("-r", "0-99", srv.url + "/big.bin", "--next", srv.url + "/small.txt")
        assert r.stdout == data[:100] + b"small\n"


def test_http_client_keep_alive_and_head(big: Path) -> None:
    data = (big / "big.bin").read_bytes()
    with Files(big) as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        for _ in range(2):
            c.request("GET", "/big.bin")
            r = c.getresponse()
            assert r.status == 200 and sha(r.read()) == sha(data)
        c.request("HEAD", "/big.bin")
        r = c.getresponse()
        assert r.getheader("Content-Length") == str(SIZE) and r.read() == b""
        c.request("GET", "/big.bin", headers={"Range": "bytes=4999999-5000009"})
        r = c.getresponse()
        assert r.status == 206 and r.read() == data[4999999:5000010]
        c.close()


@pytest.mark.parametrize("reset", [True, False])
def test_client_vanishing_mid_file(big: Path, reset: bool) -> None:
    data = (big / "big.bin").read_bytes()
    with Files(big) as srv:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.settimeout(5)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while len(got) < 200000:
            chunk = s.recv(65536)
            assert chunk
            got += chunk
        if reset:  # a crashing client: RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        assert wait_for(lambda: srv.closed >= 1)
        r = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        r.request("GET", "/big.bin")
        assert sha(r.getresponse().read()) == sha(data)
        r.close()
        assert srv.errors == []


def test_tls_takes_the_copying_path(big: Path, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed (needed to make a certificate)")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem")],
                   check=True, capture_output=True, timeout=60)
    opts = TlsOpts(cert=(tmp_path / "c.pem").read_bytes(), key=(tmp_path / "k.pem").read_bytes())
    data = (big / "big.bin").read_bytes()
    ctx = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
    with Files(big, opts) as srv:
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=20, context=ctx)
        c.request("GET", "/big.bin")
        r = c.getresponse()
        assert r.status == 200 and sha(r.read()) == sha(data)
        c.request("GET", "/big.bin", headers={"Range": "bytes=3000000-"})
        r = c.getresponse()
        assert r.status == 206 and sha(r.read()) == sha(data[3000000:])
        c.close()
        assert srv.errors == []
