"""serve_dir / serve_file against curl, http.client and raw sockets (docs/api-contract.md#connection,
C-28): index files, listings, redirects, 404/page404, traversal refusal, MIME
types, Range, ETag/If-None-Match, Last-Modified/If-Modified-Since, HEAD, gzip."""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from cymongoose import MG_EV_HTTP_MSG
from httpsrv import HttpServer, curl, raw_exchange

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "sub" / "a.txt").write_text("alpha\n")
    (root / "sub" / "data.json").write_text('{"k": 1}')
    (root / "sub" / "x.custom").write_bytes(b"custom")
    (root / "sub" / "we ird&<n>.txt").write_text("w")
    (root / "big.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    (root / "docs" / "page.css").write_text("body{}")
    (root / "docs" / "page.css.gz").write_bytes(gzip.compress(b"body{}"))
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "404.html").write_text("custom not found page")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    return root


def dir_server(root: Path, **kw: str) -> HttpServer:
    def h(conn: Any, ev: int, hm: Any) -> None:
        if ev == MG_EV_HTTP_MSG:
            if hm.uri == "/only":
                conn.serve_file(hm, str(root / "sub" / "a.txt"), **{
                    k: v for k, v in kw.items() if k != "page404"})
            else:
                conn.serve_dir(hm, str(root), **kw)
    return HttpServer(h)


def get(port: int, path: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> http.client.HTTPResponse:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    r.read()
    return r


def test_index_file_mime_and_extra_headers(site: Path) -> None:
    with dir_server(site, extra_headers="X-Extra: 1\r\n",
                    mime_types="custom=application/x-mine,json=text/x-json") as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        for path, ctype, body in [
            ("/", "text/html; charset=utf-8", b"<h1>home</h1>"),
            ("/sub/a.txt", "text/plain; charset=utf-8", b"alpha\n"),
            ("/sub/x.custom", "application/x-mine", b"custom"),
            ("/sub/data.json", "text/x-json", b'{"k": 1}'),
            ("/sub/we%20ird%26%3Cn%3E.txt", "text/plain; charset=utf-8", b"w"),
        ]:
            c.request("GET", path)
            r = c.getresponse()
            assert (r.status, r.getheader("Content-Type"), r.read()) == (200, ctype, body)
            assert r.getheader("X-Extra") == "1" and r.getheader("Etag")
            assert r.getheader("Last-Modified", "").endswith(" GMT")
        c.close()
        r = get(srv.port, "/only")
        assert r.status == 200 and r.getheader("X-Extra") == "1"


def test_directory_redirect_and_listing(site: Path) -> None:
    with dir_server(site) as srv:
        r = get(srv.port, "/sub?q=1")
        assert r.status == 301 and r.getheader("Location") == "/sub/?q=1"
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/sub/")
        r = c.getresponse()
        page = r.read().decode()
        assert r.status == 200 and r.getheader("Content-Type").startswith("text/html")
        assert 'href="a.txt"' in page and 'href="data.json"' in page
        assert "we ird&amp;&lt;n&gt;.txt" in page and "we%20ird%26%3cn%3e.txt" in page


def test_not_found_and_page404(site: Path, tmp_path: Path) -> None:
    with dir_server(site) as srv:
        assert get(srv.port, "/missing.txt").status == 404
    with dir_server(site, page404=str(tmp_path / "404.html")) as srv:
        out = raw_exchange(srv.port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", until=b"page")
        assert out.startswith(b"HTTP/1.1 404 ") and out.endswith(b"custom not found page")
        assert b"Content-Type: text/html" in out


@pytest.mark.parametrize("path", [
    b"/../secret.txt", b"/sub/../../secret.txt", b"/%2e%2e/secret.txt",
    b"/sub/%2E%2E/%2e%2e/secret.txt", b"/sub%2f..%2f..%2fsecret.txt", b"/a%00b",
    b"/link.txt", b"/..%5csecret.txt", b"/%zz",
])
def test_traversal_refused(site: Path, path: bytes) -> None:
    with dir_server(site) as srv:
        out = raw_exchange(srv.port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                           until=b"Invalid path")
        assert out.startswith(b"HTTP/1.1 400 ") and out.endswith(b"Invalid path")
        assert b"top secret" not in out
        assert get(srv.port, "/sub/a.txt").status == 200


def test_symlinks_inside_root_served_escapes_refused(tmp_path: Path) -> None:
    root = tmp_path / "www"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "sub" / "deep" / "f.txt").write_text("deep file")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("top secret")
    os.symlink(root / "sub", root / "alias")                   # dir link, stays inside
    os.symlink("deep/f.txt", root / "sub" / "rel.txt")         # relative file link, inside
    os.symlink(tmp_path / "outside", root / "sub" / "escape")  # dir link leaving the root
    os.symlink("../../outside/secret.txt", root / "sub" / "up.txt")
    (root / "idx").mkdir()
    os.symlink(tmp_path / "outside" / "secret.txt", root / "idx" / "index.html")
    with dir_server(root) as srv:
        for path in ("/alias/deep/f.txt", "/sub/rel.txt", "/alias/rel.txt",
                     "/sub//deep/f.txt"):
            r = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
            r.request("GET", path)
            resp = r.getresponse()
            assert (resp.status, resp.read()) == (200, b"deep file"), path
            r.close()
        for path in (b"/sub/escape/secret.txt", b"/alias/escape/secret.txt", b"/sub/up.txt",
                     b"/sub/escape/", b"/sub/escape", b"/idx/"):
            out = raw_exchange(srv.port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                               until=b"Invalid path")
            assert out.startswith(b"HTTP/1.1 400 ") and b"top secret" not in out, path


@needs_curl
def test_curl_range_conditional_head_keepalive(site: Path) -> None:
    data = (site / "big.bin").read_bytes()
    with dir_server(site) as srv:
        url = srv.url + "/big.bin"
        r = curl("-r", "100-199", url)
        assert r.stdout == data[100:200]
        r = curl("-r", "-10", url)
        assert r.stdout == data[-10:]
        r = curl("-r", "1048570-", "-D", "-", url)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        assert b"206 Partial Content" in head and body == data[1048570:]
        assert b"Content-Range: bytes 1048570-1048575/1048576" in head
        r = curl("-r", "2000000-", "-o", "/dev/null", "-w", "%{http_code}", url)
        assert r.stdout == b"416"
        # ETag round trip: If-None-Match -> 304 with no body.
        r = curl("-D", "-", "-o", "/dev/null", url)
        etag = next(ln.split(b":", 1)[1].strip().decode() for ln in r.stdout.split(b"\r\n")
                    if ln.lower().startswith(b"etag:"))
        r = curl("-H", f"If-None-Match: {etag}", "-D", "-", url)
        assert r.stdout.startswith(b"HTTP/1.1 304 ") and r.stdout.endswith(b"\r\n\r\n")
        r = curl("-H", 'If-None-Match: "other"', "-o", "/dev/null", "-w", "%{http_code}", url)
        assert r.stdout == b"200"
        # Last-Modified / If-Modified-Since.
        r = curl("-z", "Sun, 01 Jan 2090 00:00:00 GMT", "-o", "/dev/null",
                 "-w", "%{http_code}", url)
        assert r.stdout == b"304"
        r = curl("-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT", "-o", "/dev/null",
                 "-w", "%{http_code}", url)
        assert r.stdout == b"200"
        # HEAD: headers with the GET's length, no body; keep-alive reuse.
        r = curl("-I", url)
        assert b"Content-Length: 1048576" in r.stdout and r.stdout.endswith(b"\r\n\r\n")
        r = curl("-v", "-o", "/dev/null", "-o", "/dev/null", url, srv.url + "/sub/a.txt")
        assert b"Re-using existing connection" in r.stderr
        r = curl(url)
        assert r.stdout == data


def test_precompressed_gzip(site: Path) -> None:
    with dir_server(site) as srv:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        c.request("GET", "/docs/page.css", headers={"Accept-Encoding": "gzip, br"})
        r = c.getresponse()
        assert r.getheader("Content-Encoding") == "gzip"
        assert r.getheader("Content-Type").startswith("text/css")
        assert gzip.decompress(r.read()) == b"body{}"
        c.request("GET", "/docs/page.css")
        r = c.getresponse()
        assert r.getheader("Content-Encoding") is None and r.read() == b"body{}"
