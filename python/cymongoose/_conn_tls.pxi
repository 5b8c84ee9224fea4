    # ---- TLS (docs/api-contract.md#connection); part of `cdef class Connection` ----

    def tls_init(self, opts):
        """Start TLS on this connection; MG_EV_TLS_HS follows, or MG_EV_ERROR
        with the reason and then MG_EV_CLOSE.

        Server: call in MG_EV_ACCEPT on the accepted connection. Client: call
        in MG_EV_CONNECT (`connect("https://...")` does not start TLS by
        itself), e.g.::

            def fn(conn, ev, data):
                if ev == MG_EV_CONNECT:
                    conn.tls_init(TlsOpts(ca=ca_pem))  # name: the URL host
                elif ev == MG_EV_TLS_HS:
                    conn.send(b"GET / HTTP/1.1\\r\\nHost: example.org\\r\\n\\r\\n")

        On a listener it checks the server options at once (a certificate or
        key that cannot be used raises ValueError naming the problem) and
        marks the listener `is_tls`; its accepted connections still call
        tls_init themselves.
        """
        cdef TlsOpts o
        cdef mg_tls_opts c_opts
        cdef char err[160]
        if not isinstance(opts, TlsOpts):
            raise TypeError(f"opts must be a TlsOpts, not {type(opts).__name__}")
        o = <TlsOpts>opts
        self._check()
        # Keep the field objects alive while the core reads them.
        ca, cert, key, name = o.ca, o.cert, o.key, o.name
        memset(&c_opts, 0, sizeof(c_opts))  # fields Python does not set keep their defaults
        c_opts.ca = _tls_view(ca)
        c_opts.cert = _tls_view(cert)
        c_opts.key = _tls_view(key)
        c_opts.name = _tls_view(name)
        c_opts.skip_verification = o.skip_verification
        if self._c.is_listening and not self._c.is_udp:
            if not mg_tls_check_server(self._c.mgr, &c_opts, err, sizeof(err)):
                raise ValueError(err.decode("utf-8", "replace"))
        mg_tls_init(self._c, &c_opts)

    def tls_free(self):
        """Release the TLS state of this connection (tls_init may follow)."""
        self._check()
        mg_tls_free(self._c)
