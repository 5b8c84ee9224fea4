
    # ---- WebSocket (docs/api-contract.md#connection); part of `cdef class Connection` ----

    def ws_upgrade(self, message, extra_headers=None):
        """Answer an upgrade request with 101 and switch to WebSocket;
        MG_EV_WS_OPEN is delivered before this returns."""
        cdef mg_http_message *hm = self._http_view(message)
        cdef bytes hdrs = b""
        if extra_headers:
            lines = []
            for k, v in extra_headers.items():
                ks = str(k)
                vs = str(v)
                _validate_header(ks, vs)
                lines.append(f"{ks}: {vs}\r\n")
            hdrs = "".join(lines).encode("utf-8", "surrogateescape")
        mg_ws_upgrade(self._c, hm, hdrs)

    def ws_send(self, data, int op=1):
        """Send one WebSocket frame (FIN set) with opcode op; client frames
        are masked."""
        cdef bytes b = _to_bytes(data)
        if not 0 <= op <= 15:
            raise ValueError(f"ws_send() argument 'op' must be an opcode 0..15, not {op}")
        self._check()
        if mg_ws_send(self._c, <const char *>b, len(b), op) == 0:
            raise RuntimeError("mg_send failed")

    def ws_set_handshake_timeout(self, milliseconds):
        """Client of ws_connect(): the server's 101 must arrive within
        `milliseconds` from now (our extension; default 10000 ms from the
        connect, 0 = no limit), else MG_EV_ERROR "WebSocket handshake timed
        out" and the connection closes."""
        cdef long long ms = _int_arg(milliseconds, "ws_set_handshake_timeout", "milliseconds")
        if not 0 <= ms <= 0xFFFFFFFF:
            raise ValueError("ws_set_handshake_timeout() argument 'milliseconds' must be "
                             f"0..4294967295, not {ms}")
        self._check()
        if not self._c.is_client or self._c.pfn != mg_ws_handler:
            raise ValueError("ws_set_handshake_timeout() needs a connection made by ws_connect()")
        mg_ws_set_handshake_timeout(self._c, <uint32_t>ms)
