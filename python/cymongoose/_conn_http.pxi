    # ---- HTTP (docs/api-contract.md#connection); part of `cdef class Connection` ----

    def reply(self, int status_code, body=b"", headers=None):
        """Queue a complete HTTP/1.1 response (Content-Length added unless a
        Transfer-Encoding header is given)."""
        cdef bytes b = _to_bytes(body)
        if not 100 <= status_code <= 999:
            raise ValueError(f"reply() argument 'status_code' must be 100..999, not {status_code}")
        cdef bytes hdrs = _header_block(headers, "text/plain")
        self._check()
        mg_http_reply_n(self._c, status_code, hdrs, <const char *>b, len(b))

    def reply_json(self, data, int status_code=200, headers=None):
        """Reply with json.dumps(data) as application/json."""
        hdrs = {}
        if headers is not None:
            for k, v in headers.items():
                if str(k).lower() != "content-type":
                    hdrs[k] = v
        hdrs["Content-Type"] = "application/json"
        self.reply(status_code, _json.dumps(data), hdrs)

    cdef mg_http_message *_http_view(self, message) except NULL:
        if not isinstance(message, HttpMessage):
            raise TypeError(
                f"message must be an HttpMessage, not {type(message).__name__}")
        if (<HttpMessage>message)._hm == NULL:
            raise ValueError("HttpMessage is not valid for this event")
        self._check()
        return (<HttpMessage>message)._hm

    def serve_dir(self, message, str root_dir, str extra_headers="", str mime_types="",
                  str page404=""):
        """Serve the file the request names under root_dir."""
        cdef mg_http_message *hm = self._http_view(message)
        cdef mg_http_serve_opts opts
        broot = root_dir.encode("utf-8", "surrogateescape")
        bextra = extra_headers.encode("utf-8", "surrogateescape")
        bmime = mime_types.encode("utf-8", "surrogateescape")
        b404 = page404.encode("utf-8", "surrogateescape")
        opts.root_dir = broot
        opts.extra_headers = bextra
        opts.mime_types = bmime
        opts.page404 = b404
        opts.fs = NULL
        mg_http_serve_dir(self._c, hm, &opts)

    def serve_file(self, message, str path, str extra_headers="", str mime_types=""):
        """Serve exactly path (404 when missing)."""
        cdef mg_http_message *hm = self._http_view(message)
        cdef mg_http_serve_opts opts
        bpath = path.encode("utf-8", "surrogateescape")
        bextra = extra_headers.encode("utf-8", "surrogateescape")
        bmime = mime_types.encode("utf-8", "surrogateescape")
        opts.root_dir = NULL
        opts.extra_headers = bextra
        opts.mime_types = bmime
        opts.page404 = NULL
        opts.fs = NULL
        mg_http_serve_file(self._c, hm, bpath, &opts)

    def http_upload(self, message, str upload_dir not None, max_size):
        """Store the request body as one chunk of an uploaded file (our
        extension): the query names the file (file=NAME, one plain path
        component) and where the chunk goes (offset=N, the file's current size;
        0 or absent starts the file afresh). The request is answered here: 200
        with the new size, or 400 (bad name or offset), 413 (beyond max_size),
        500 (cannot write). Returns the new size, or -1 when refused."""
        cdef mg_http_message *hm = self._http_view(message)
        cdef long long limit = _int_arg(max_size, "http_upload", "max_size")
        if limit < 0:
            raise ValueError(f"http_upload() argument 'max_size' must be >= 0, not {limit}")
        if not upload_dir or "\0" in upload_dir:
            raise ValueError("http_upload() argument 'upload_dir' must be a non-empty path "
                             "without NUL")
        bdir = upload_dir.encode("utf-8", "surrogateescape")
        if limit > <long long>(<size_t>-1 >> 1):
            limit = <long long>(<size_t>-1 >> 1)
        return mg_http_upload(self._c, hm, NULL, bdir, <size_t>limit)

    cdef uint32_t _http_server_ms(self, milliseconds, str func,
                                  str arg="milliseconds") except? 0xFFFFFFFF:
        """Validated uint32 argument for a setter of an accepted HTTP connection."""
        cdef long long ms = _int_arg(milliseconds, func, arg)
        if not 0 <= ms <= 0xFFFFFFFF:
            raise ValueError(f"{func}() argument '{arg}' must be "
                             f"0..4294967295, not {ms}")
        self._check()
        if self._c.is_listening or self._c.is_client or self._c.pfn != mg_http_handler:
            raise ValueError(f"{func}() needs an accepted HTTP connection "
                             "(e.g. in MG_EV_ACCEPT), not a listener, client or non-HTTP one")
        return <uint32_t>ms

    def http_set_request_timeout(self, milliseconds):
        """Limit for receiving one request on this server connection (our
        extension; default 30000 ms): a request whose head does not complete
        in time, or whose body stalls that long, gets 408 and the connection
        closes. It is also the window of the body rate check
        (http_set_body_min_rate). Idle connections are left to
        http_set_keepalive_timeout. 0 restores the default."""
        cdef uint32_t ms = self._http_server_ms(milliseconds, "http_set_request_timeout")
        mg_http_set_request_timeout(self._c, ms)

    def http_set_keepalive_timeout(self, milliseconds):
        """Limit for an idle server connection (our extension; default 60000
        ms): with no request pending or unanswered and nothing buffered, a
        connection quiet that long is closed, without MG_EV_ERROR. This covers
        a client that connects and never sends, and keep-alive connections
        between requests; responses still being produced keep it open. 0
        restores the default."""
        cdef uint32_t ms = self._http_server_ms(milliseconds, "http_set_keepalive_timeout")
        mg_http_set_keepalive_timeout(self._c, ms)

    def http_set_body_min_rate(self, bytes_per_second):
        """Minimum rate of a request body on this server connection (our
        extension; default 1024 B/s): over each period of the request timeout
        the body must bring that many bytes per second on average, else 408,
        MG_EV_ERROR "HTTP body too slow" and the connection closes. 0 switches
        the check off for this connection."""
        cdef uint32_t rate = self._http_server_ms(bytes_per_second, "http_set_body_min_rate",
                                                  "bytes_per_second")
        mg_http_set_body_min_rate(self._c, rate)

    def http_chunk(self, data):
        """One chunk of a chunked response; empty data ends the stream."""
        cdef bytes b = _to_bytes(data)
        self._check()
        mg_http_write_chunk(self._c, <const char *>b, len(b))

    def http_sse(self, str event_type not None, str data not None):
        """One server-sent event, framed as one chunk."""
        cdef bytes b = f"event: {event_type}\ndata: {data}\n\n".encode(
            "utf-8", "surrogateescape")
        self._check()
        mg_http_write_chunk(self._c, <const char *>b, len(b))

    def http_basic_auth(self, str username not None, str password not None):
        """Append an "Authorization: Basic ..." header line to the send buffer."""
        cred = _binascii.b2a_base64(f"{username}:{password}".encode("utf-8"),
                                    newline=False)
        line = b"Authorization: Basic " + cred + b"\r\n"
        self._check()
        if not mg_send(self._c, <const char *>line, len(line)):
            raise RuntimeError("mg_send failed")
