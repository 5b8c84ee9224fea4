# TLS: C declarations of mg_tls.h and the TlsOpts class (docs/api-contract.md#tlsopts).
# Included after _core.pxi; Connection.tls_init/tls_free live in _conn_tls.pxi.

cdef extern from "mg_tls.h":
    struct mg_tls_opts:
        mg_str ca
        mg_str cert
        mg_str key
        mg_str name
        bint skip_verification

    void mg_tls_init(mg_connection *c, const mg_tls_opts *opts)
    bint mg_tls_check_server(mg_mgr *mgr, const mg_tls_opts *opts, char *err, size_t errlen)
    void mg_tls_free(mg_connection *c)


cdef bytes _tls_field(object value):
    """Constructor rule: str -> UTF-8, falsy -> b"", bytes kept, else TypeError."""
    if not value:
        return b""
    if type(value) is bytes:
        return <bytes>value
    if isinstance(value, str):
        return (<str>value).encode("utf-8")
    if isinstance(value, bytes):
        return bytes(value)
    raise TypeError(f"Expected bytes, got {type(value).__name__}")


cdef inline mg_str _tls_view(object b):
    """View of a field (None counts as empty); valid while b is alive."""
    cdef mg_str s
    if b is None or len(<bytes>b) == 0:
        s.buf = NULL
        s.len = 0
    else:
        s.buf = <const char *>(<bytes>b)
        s.len = len(<bytes>b)
    return s


cdef class TlsOpts:
    """TLS options: PEM `ca`, `cert`, `key` and the expected server `name`.

    Client: verification is on by default. Without `ca` the system trust store
    is used; the host name is checked against `name`, or against the host of
    the URL given to `connect()` when `name` is empty. `skip_verification=True`
    is the only way to turn the chain and URL-host checks off (an explicit
    `name` is still compared with the certificate). `cert`/`key` on a client
    are a client certificate for mutual TLS.

    Server: `cert` and `key` are required; with `ca` the server requires and
    verifies client certificates (mutual TLS). Keys may be EC (SEC1 or PKCS#8)
    or RSA. TLS 1.2 and 1.3 are accepted.
    """
    cdef public bytes ca
    cdef public bytes cert
    cdef public bytes key
    cdef public bytes name
    cdef public bint skip_verification

    def __init__(self, ca=None, cert=None, key=None, name=None, skip_verification=False):
        self.ca = _tls_field(ca)
        self.cert = _tls_field(cert)
        self.key = _tls_field(key)
        self.name = _tls_field(name)
        self.skip_verification = bool(skip_verification)

    def __reduce__(self):
        return (TlsOpts, (self.ca, self.cert, self.key, self.name,
                          bool(self.skip_verification)))

    def __repr__(self):
        return (f"TlsOpts(ca=<{len(self.ca or b'')} bytes>, "
                f"cert=<{len(self.cert or b'')} bytes>, "
                f"key=<{'set' if self.key else 'empty'}>, name={self.name!r}, "
                f"skip_verification={bool(self.skip_verification)})")
