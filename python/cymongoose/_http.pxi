# HTTP: C declarations of mg_http.h, the HttpMessage view (docs/api-contract.md#httpmessage), header
# validation and http_parse_multipart (docs/api-contract.md#http-helpers). Included after _core.pxi.
import binascii as _binascii
import json as _json

cdef extern from "mg_http.h":
    int MG_MAX_HTTP_HEADERS

    struct mg_http_header:
        mg_str name
        mg_str value

    struct mg_http_message:
        mg_str method
        mg_str uri
        mg_str query
        mg_str proto
        mg_http_header headers[30]  # really MG_MAX_HTTP_HEADERS; only indexed
        mg_str body
        mg_str head
        mg_str message

    struct mg_http_part:
        mg_str name
        mg_str filename
        mg_str body

    struct mg_fs:
        pass

    struct mg_http_serve_opts:
        const char *root_dir
        const char *extra_headers
        const char *mime_types
        const char *page404
        const mg_fs *fs

    mg_str *mg_http_get_header(mg_http_message *hm, const char *name)
    mg_str mg_http_get_header_var(mg_str s, mg_str v)
    int mg_http_get_var(const mg_str *buf, const char *name, char *dst, size_t dst_len)
    int mg_http_status(const mg_http_message *hm)
    void mg_http_reply_n(mg_connection *c, int status, const char *headers,
                         const void *body, size_t body_len)
    void mg_http_write_chunk(mg_connection *c, const void *buf, size_t len)
    void mg_http_serve_dir(mg_connection *c, mg_http_message *hm,
                           const mg_http_serve_opts *opts)
    void mg_http_serve_file(mg_connection *c, mg_http_message *hm, const char *path,
                            const mg_http_serve_opts *opts)
    size_t mg_http_next_multipart(mg_str body, size_t ofs, mg_http_part *part)
    long mg_http_upload(mg_connection *c, mg_http_message *hm, const mg_fs *fs,
                        const char *dir, size_t max_size)
    void mg_http_set_request_timeout(mg_connection *c, uint32_t ms)
    void mg_http_set_keepalive_timeout(mg_connection *c, uint32_t ms)
    void mg_http_set_body_min_rate(mg_connection *c, uint32_t bytes_per_s)
    void mg_http_handler(mg_connection *c, int ev, void *ev_data)
    void mg_http_attach(mg_connection *c)
    mg_connection *mg_http_listen(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                  void *fn_data)
    mg_connection *mg_http_connect(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                   void *fn_data)


cdef inline str _mgstr_text(mg_str s):
    """UTF-8 (surrogateescape) text of a string view."""
    if s.len == 0:
        return ""
    return s.buf[:s.len].decode("utf-8", "surrogateescape")


cdef inline mg_str _mgstr_of(bytes b):
    """View of a bytes object (valid while b is alive)."""
    cdef mg_str s
    s.buf = <const char *>b
    s.len = len(b)
    return s


cdef class HttpMessage:
    """An HTTP request or response, valid only during the handler call that
    received it; afterwards every member returns its default."""
    cdef mg_http_message *_hm

    cdef void _invalidate(self) noexcept:
        self._hm = NULL

    def __bool__(self):
        return self._hm != NULL

    def __repr__(self):
        if self._hm == NULL:
            return "<HttpMessage invalid>"
        return f"<HttpMessage {self.method} {self.uri}>"

    @property
    def method(self):
        return _mgstr_text(self._hm.method) if self._hm != NULL else ""

    @property
    def uri(self):
        return _mgstr_text(self._hm.uri) if self._hm != NULL else ""

    @property
    def query(self):
        return _mgstr_text(self._hm.query) if self._hm != NULL else ""

    @property
    def proto(self):
        return _mgstr_text(self._hm.proto) if self._hm != NULL else ""

    @property
    def body_bytes(self):
        if self._hm == NULL or self._hm.body.len == 0:
            return b""
        return self._hm.body.buf[:self._hm.body.len]

    @property
    def body_text(self):
        return _mgstr_text(self._hm.body) if self._hm != NULL else ""

    def header(self, str name, default=None):
        """First header called name (case-insensitive), else default."""
        cdef mg_str *v
        if self._hm == NULL:
            return default
        bname = name.encode("utf-8", "surrogateescape")
        if b"\0" in bname:
            return default
        v = mg_http_get_header(self._hm, bname)
        if v == NULL:
            return default
        return _mgstr_text(v[0])

    def headers(self):
        """All headers in wire order, original case (a request with more than
        MG_MAX_HTTP_HEADERS, 100 on hosts, is refused with 431 before any event)."""
        cdef int i
        out = []
        if self._hm == NULL:
            return out
        for i in range(MG_MAX_HTTP_HEADERS):
            if self._hm.headers[i].name.len == 0:
                break
            out.append((_mgstr_text(self._hm.headers[i].name),
                        _mgstr_text(self._hm.headers[i].value)))
        return out

    def query_var(self, str name):
        """URL-decoded query variable; None when absent or empty."""
        cdef char buf[2048]  # decoded value + NUL (docs/api-contract.md#httpmessage)
        cdef int n
        if self._hm == NULL:
            return None
        bname = name.encode("utf-8", "surrogateescape")
        if not bname or b"\0" in bname:
            return None
        n = mg_http_get_var(&self._hm.query, bname, buf, sizeof(buf))
        if n == -2:
            raise ValueError(
                f"Query parameter '{name}' value exceeds 2048-byte buffer limit")
        if n <= 0:
            return None
        return buf[:n].decode("utf-8", "surrogateescape")

    def status(self):
        """Response status code; 0 for a request; None when invalid."""
        if self._hm == NULL:
            return None
        return mg_http_status(self._hm)

    def header_var(self, str header_name, str var_name):
        """Parameter var_name=... inside a header value (quotes removed)."""
        cdef mg_str *v
        cdef mg_str r
        if self._hm == NULL:
            return None
        bname = header_name.encode("utf-8", "surrogateescape")
        if b"\0" in bname:
            return None
        v = mg_http_get_header(self._hm, bname)
        if v == NULL:
            return None
        bvar = var_name.encode("utf-8", "surrogateescape")
        r = mg_http_get_header_var(v[0], _mgstr_of(bvar))
        if r.len == 0:
            return None
        return _mgstr_text(r)


cdef HttpMessage _http_message_new(mg_http_message *hm):
    """A view over hm; the dispatcher calls _invalidate() after the handler."""
    cdef HttpMessage m = HttpMessage.__new__(HttpMessage)
    m._hm = hm
    return m


def _validate_header(name, value):
    """Refuse CR, LF and NUL in a header name or value (no header injection)."""
    for ch in ("\r", "\n", "\0"):
        if ch in name:
            raise ValueError(
                f"Header name contains illegal character (CR, LF, or NUL): {name!r}")
    for ch in ("\r", "\n", "\0"):
        if ch in value:
            raise ValueError(
                f"Header value contains illegal character (CR, LF, or NUL): {value!r}")


cdef bytes _header_block(headers, str default_type):
    """"Name: value\\r\\n" lines of a header dict, validated first; a
    Content-Type line (default_type) is prepended when none is given."""
    cdef list lines = []
    cdef bint has_type = False
    if headers is None:
        if default_type == "text/plain":
            return b"Content-Type: text/plain\r\n"  # the common case, no formatting
        return f"Content-Type: {default_type}\r\n".encode("utf-8")
    for k, v in headers.items():
        ks = str(k)
        vs = str(v)
        _validate_header(ks, vs)
        if ks.lower() == "content-type":
            has_type = True
        lines.append(f"{ks}: {vs}\r\n")
    if not has_type:
        lines.insert(0, f"Content-Type: {default_type}\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


def http_parse_multipart(body, offset=0):
    """Next part of a multipart/form-data body at offset:
    (next_offset, {"name", "filename", "body"}) or (0, None)."""
    cdef bytes b = _to_bytes(body)
    cdef mg_http_part part
    cdef size_t nxt
    cdef Py_ssize_t ofs = _int_arg(offset, "http_parse_multipart", "offset")
    if ofs < 0 or ofs >= len(b):
        return (0, None)
    nxt = mg_http_next_multipart(_mgstr_of(b), <size_t>ofs, &part)
    if nxt == 0:
        return (0, None)
    return (nxt, {
        "name": _mgstr_text(part.name),
        "filename": _mgstr_text(part.filename),
        "body": part.body.buf[:part.body.len] if part.body.len > 0 else b"",
    })
