# The Connection class. The build appends every `_conn_*.pxi` file (methods of
# protocol layers, indented as class members) to this one and includes the
# result as `_connection_gen.pxi` (see CMakeLists.txt), so each protocol keeps
# its Connection methods in its own file.

cdef class Connection:
    """One connection of a Manager. Detached (closed) wrappers return defaults."""
    cdef mg_connection *_c
    cdef object _handler
    cdef public object userdata
    cdef object __weakref__

    def __dealloc__(self):
        if self._c != NULL:
            self._c.fn_data = NULL  # the core must not call a dead wrapper

    cdef void _check(self) except *:
        if self._c == NULL:
            raise RuntimeError("Connection has been closed")

    def __repr__(self):
        if self._c == NULL:
            return "<Connection closed>"
        return (f"<Connection id={self._c.id} readable={bool(self._c.is_readable)} "
                f"writable={bool(self._c.is_writable)}>")

    @property
    def handler(self):
        return self._handler

    def set_handler(self, handler):
        """Set this connection's handler (listeners: also for future children)."""
        self._handler = _check_handler(handler, "set_handler")

    @property
    def id(self):
        return self._c.id if self._c != NULL else 0

    @property
    def is_listening(self):
        return self._c != NULL and bool(self._c.is_listening)

    @property
    def is_closing(self):
        return self._c == NULL or bool(self._c.is_closing)

    @property
    def is_client(self):
        return self._c != NULL and bool(self._c.is_client)

    @property
    def is_tls(self):
        return self._c != NULL and bool(self._c.is_tls)

    @property
    def is_udp(self):
        return self._c != NULL and bool(self._c.is_udp)

    @property
    def is_websocket(self):
        return self._c != NULL and bool(self._c.is_websocket)

    @property
    def is_readable(self):
        return self._c != NULL and bool(self._c.is_readable)

    @property
    def is_writable(self):
        return self._c != NULL and bool(self._c.is_writable)

    @property
    def is_full(self):
        return self._c != NULL and bool(self._c.is_full)

    @property
    def is_throttled(self):
        return self._c != NULL and bool(self._c.is_throttled)

    @property
    def send_high_water(self):
        return mg_send_high(self._c) if self._c != NULL else 0

    @property
    def send_low_water(self):
        return mg_send_low(self._c) if self._c != NULL else 0

    def set_send_marks(self, high, low):
        """Backpressure marks of this connection in bytes: reading pauses
        while the send buffer holds `high` bytes or more and resumes once it
        drained to `low`. (0, 0) returns to the manager's marks."""
        h, l = _marks_arg(high, low, "set_send_marks")
        self._check()
        mg_set_send_marks(self._c, <size_t>h, <size_t>l)

    @property
    def is_draining(self):
        return self._c != NULL and bool(self._c.is_draining)

    @property
    def half_close(self):
        """TCP half-close (our addition): when True, the peer's end of stream
        does not close this connection; `is_eof` turns True, reading stops and
        writing goes on until `shutdown()`. Set it at MG_EV_OPEN/ACCEPT."""
        return self._c != NULL and bool(self._c.is_half_close)

    @half_close.setter
    def half_close(self, on):
        self._check()
        self._c.is_half_close = 1 if on else 0

    @property
    def is_eof(self):
        """True once the peer ended its stream (only with `half_close`)."""
        return self._c != NULL and bool(self._c.is_eof)

    @property
    def recv_len(self):
        return self._c.recv.len if self._c != NULL else 0

    @property
    def send_len(self):
        return self._c.send.len if self._c != NULL else 0

    @property
    def recv_size(self):
        return self._c.recv.size if self._c != NULL else 0

    @property
    def send_size(self):
        return self._c.send.size if self._c != NULL else 0

    @property
    def local_addr(self):
        return _addr_tuple(&self._c.loc) if self._c != NULL else None

    @property
    def remote_addr(self):
        return _addr_tuple(&self._c.rem) if self._c != NULL else None

    def recv_data(self, length=-1):
        """Copy of the first length bytes of the receive buffer (all if -1)."""
        cdef long long want = _int_arg(length, "recv_data", "length")
        if self._c == NULL:
            return b""
        n = self._c.recv.len
        if 0 <= want < n:
            n = want
        return (<char *>self._c.recv.buf)[:n] if n > 0 else b""

    def send_data(self, length=-1):
        """Copy of the first length bytes of the send buffer (all if -1)."""
        cdef long long want = _int_arg(length, "send_data", "length")
        if self._c == NULL:
            return b""
        n = self._c.send.len
        if 0 <= want < n:
            n = want
        return (<char *>self._c.send.buf)[:n] if n > 0 else b""

    def send(self, data):
        """Queue raw bytes (str is UTF-8 encoded)."""
        cdef bytes b = _to_bytes(data)
        self._check()
        if not mg_send(self._c, <const char *>b, len(b)):
            raise RuntimeError("mg_send failed")

    def close(self):
        """Close now (pending output is discarded); MG_EV_CLOSE follows."""
        if self._c != NULL:
            mg_close_conn(self._c)

    def drain(self):
        """Stop reading, flush what is queued, then close."""
        if self._c != NULL:
            self._c.is_draining = 1

    def shutdown(self):
        """End our stream (TCP FIN) once what is queued was sent; reading goes
        on. The connection closes when both directions ended. Where a
        half-close cannot exist (TLS, UDP) this is `drain()`."""
        if self._c != NULL:
            mg_shutdown(self._c)

    def error(self, message):
        """Emit MG_EV_ERROR(message) to this connection and close it."""
        cdef bytes text = str(message).encode("utf-8", "surrogateescape")
        self._check()
        mg_error(self._c, "%s", <const char *>text)

    def resolve(self, url):
        """Resolve url's host into the remote address; MG_EV_RESOLVE follows."""
        cdef bytes burl = _url_arg(url, "resolve")
        self._check()
        mg_resolve(self._c, burl)

    def resolve_cancel(self):
        """Cancel a pending resolve(); no MG_EV_RESOLVE follows."""
        self._check()
        mg_resolve_cancel(self._c)

