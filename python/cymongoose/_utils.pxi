# Utility functions of the API contract (docs/api-contract.md#functions: encodings, hashes,
# JSON, URL, glob, key=value lookup, randomness) and the JSON-RPC dispatcher
# Rpc/RpcReq (section 2.8), as thin wrappers over src/core/util_*.c.
# Included by _mongoose.pyx after _core.pxi (uses mg_str and _to_bytes).
from libc.stdint cimport uint32_t, int64_t, uint64_t
from libc.string cimport memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.mem cimport PyMem_Malloc, PyMem_Free

import json as _util_json
import traceback as _util_traceback

cdef extern from "mg.h":
    struct mg_md5_ctx:
        uint64_t total
    struct mg_sha1_ctx:
        uint64_t total

    size_t mg_base64_encode(const unsigned char *p, size_t n, char *buf, size_t len) nogil
    size_t mg_base64_decode(const char *src, size_t n, char *dst, size_t dl) nogil
    void mg_md5_init(mg_md5_ctx *ctx) nogil
    void mg_md5_update(mg_md5_ctx *ctx, const void *data, size_t len) nogil
    void mg_md5_final(mg_md5_ctx *ctx, unsigned char *digest) nogil
    void mg_sha1_init(mg_sha1_ctx *ctx) nogil
    void mg_sha1_update(mg_sha1_ctx *ctx, const void *data, size_t len) nogil
    void mg_sha1_final(mg_sha1_ctx *ctx, unsigned char *digest) nogil
    void mg_sha256(unsigned char *digest, const void *data, size_t len) nogil
    void mg_hmac_sha256(unsigned char *mac, const void *key, size_t keylen,
                        const void *data, size_t datalen) nogil
    uint32_t mg_crc32(uint32_t crc, const void *buf, size_t len) nogil

    long mg_json_get(mg_str json, const char *path, long *toklen) nogil
    bint mg_json_get_i64(mg_str json, const char *path, int64_t *v) nogil
    long mg_json_unescape(mg_str s, char *buf, size_t len) nogil

    size_t mg_url_encode(const char *s, size_t n, char *buf, size_t len) nogil
    enum: MG_MATCH_MAX_PATTERN
    bint mg_match(mg_str s, mg_str p, mg_str *caps, size_t ncaps) nogil
    size_t mg_match_ncaps(mg_str p) nogil
    bint mg_var_get(mg_str buf, mg_str name, mg_str *val) nogil

    # URL pieces (src/core/url.c)
    unsigned short mg_url_port(const char *url) nogil
    mg_str mg_url_host(const char *url) nogil
    mg_str mg_url_user(const char *url) nogil
    mg_str mg_url_pass(const char *url) nogil
    const char *mg_url_uri(const char *url) nogil
    bint mg_url_is_ssl(const char *url) nogil

    bint mg_random(void *buf, size_t len) nogil

    # JSON-RPC dispatcher (src/core/util_rpc.c)
    struct mg_rpc_req
    ctypedef void (*mg_rpc_fn_t)(mg_rpc_req *req) noexcept
    ctypedef void (*mg_rpc_out_t)(const char *buf, size_t len, void *arg) noexcept
    struct mg_rpc:
        mg_rpc *next
        mg_str method
        mg_rpc_fn_t fn
        void *fn_data
    struct mg_rpc_req:
        mg_rpc *head
        mg_str frame
        mg_str id
        mg_str method
        mg_str params
        void *fn_data
        mg_rpc_out_t out
        void *out_arg
        bint responded
    void mg_rpc_add(mg_rpc **head, mg_rpc *node, mg_str method, mg_rpc_fn_t fn,
                    void *fn_data)
    void mg_rpc_process(mg_rpc_req *req)
    bint mg_rpc_ok(mg_rpc_req *req, mg_str result_json)
    bint mg_rpc_err(mg_rpc_req *req, int code, mg_str message)
    bint mg_rpc_err_json(mg_rpc_req *req, int code, mg_str msg_json)

cdef enum:
    _UTIL_NOGIL_MIN = 65536  # inputs at least this long are hashed without the GIL
    _UTIL_MAX_CAPS = 20      # maximum number of match() captures (docs/api-contract.md#match)

cdef inline mg_str _util_str(bytes b):
    cdef mg_str s
    s.buf = PyBytes_AS_STRING(b)
    s.len = len(b)
    return s


cdef inline str _util_decode(const char *buf, size_t n):
    return buf[:n].decode("utf-8", "replace")


cdef bytes _util_path(str path):
    """A JSON path as a C string, or None when it cannot match (NUL inside)."""
    cdef bytes p = path.encode("utf-8")
    if b"\0" in p:
        return None
    return p


cdef bytes _util_arg(object obj, str func, str arg):
    """_to_bytes() whose TypeError names the function and the argument."""
    try:
        return _to_bytes(obj)
    except TypeError:
        raise TypeError(f"{func}() argument '{arg}' must be str or a bytes-like object, "
                        f"not {type(obj).__name__}") from None


# ---- encodings and hashes ----

def base64_encode(data):
    """Base64 (standard alphabet, '=' padding) of data (str or bytes-like) as str."""
    cdef bytes b = _util_arg(data, "base64_encode", "data")
    cdef size_t n = len(b)
    cdef size_t need = ((n + 2) // 3) * 4
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(b)
    cdef char *out = <char *>PyMem_Malloc(need + 1)
    if out == NULL:
        raise MemoryError()
    try:
        with nogil:
            need = mg_base64_encode(p, n, out, need + 1)
        return out[:need].decode("ascii")
    finally:
        PyMem_Free(out)


def base64_decode(data):
    """Decode base64 text (str only). Invalid input gives b""."""
    cdef bytes b
    cdef size_t n, got
    cdef char *out
    cdef const char *p
    if not isinstance(data, str):
        raise TypeError(f"base64_decode() argument 'data' must be str, not {type(data).__name__}")
    b = (<str>data).encode("ascii")
    n = len(b)
    p = PyBytes_AS_STRING(b)
    out = <char *>PyMem_Malloc(n // 4 * 3 + 4)
    if out == NULL:
        raise MemoryError()
    try:
        with nogil:
            got = mg_base64_decode(p, n, out, n // 4 * 3 + 4)
        return out[:got]
    finally:
        PyMem_Free(out)


def md5(data):
    """MD5 digest (16 bytes) of data (str or bytes-like)."""
    cdef bytes b = _util_arg(data, "md5", "data")
    cdef mg_md5_ctx ctx
    cdef unsigned char digest[16]
    cdef const char *p = PyBytes_AS_STRING(b)
    cdef size_t n = len(b)
    if n >= _UTIL_NOGIL_MIN:
        with nogil:
            mg_md5_init(&ctx)
            mg_md5_update(&ctx, p, n)
            mg_md5_final(&ctx, digest)
    else:
        mg_md5_init(&ctx)
        mg_md5_update(&ctx, p, n)
        mg_md5_final(&ctx, digest)
    return (<char *>digest)[:16]


def sha1(data):
    """SHA-1 digest (20 bytes) of data (str or bytes-like)."""
    cdef bytes b = _util_arg(data, "sha1", "data")
    cdef mg_sha1_ctx ctx
    cdef unsigned char digest[20]
    cdef const char *p = PyBytes_AS_STRING(b)
    cdef size_t n = len(b)
    if n >= _UTIL_NOGIL_MIN:
        with nogil:
            mg_sha1_init(&ctx)
            mg_sha1_update(&ctx, p, n)
            mg_sha1_final(&ctx, digest)
    else:
        mg_sha1_init(&ctx)
        mg_sha1_update(&ctx, p, n)
        mg_sha1_final(&ctx, digest)
    return (<char *>digest)[:20]


def sha256(data):
    """SHA-256 digest (32 bytes) of data (str or bytes-like)."""
    cdef bytes b = _util_arg(data, "sha256", "data")
    cdef unsigned char digest[32]
    cdef const char *p = PyBytes_AS_STRING(b)
    cdef size_t n = len(b)
    if n >= _UTIL_NOGIL_MIN:
        with nogil:
            mg_sha256(digest, p, n)
    else:
        mg_sha256(digest, p, n)
    return (<char *>digest)[:32]


def hmac_sha256(key, data):
    """HMAC-SHA-256 (32 bytes) of data under key (both str or bytes-like)."""
    cdef bytes k = _util_arg(key, "hmac_sha256", "key")
    cdef bytes b = _util_arg(data, "hmac_sha256", "data")
    cdef unsigned char mac[32]
    cdef const char *kp = PyBytes_AS_STRING(k)
    cdef const char *p = PyBytes_AS_STRING(b)
    cdef size_t kn = len(k), n = len(b)
    if n >= _UTIL_NOGIL_MIN:
        with nogil:
            mg_hmac_sha256(mac, kp, kn, p, n)
    else:
        mg_hmac_sha256(mac, kp, kn, p, n)
    return (<char *>mac)[:32]


def crc32(data, initial=0):
    """CRC-32 of data as an unsigned int (as binascii.crc32); chain via initial."""
    cdef bytes b = _util_arg(data, "crc32", "data")
    cdef uint32_t crc
    if not isinstance(initial, int):
        raise TypeError(f"crc32() argument 'initial' must be int, not {type(initial).__name__}")
    crc = <uint32_t>(initial & 0xFFFFFFFF)
    cdef const char *p = PyBytes_AS_STRING(b)
    cdef size_t n = len(b)
    with nogil:
        crc = mg_crc32(crc, p, n)
    return crc


# ---- JSON ----

cdef long _util_json_token(bytes doc, str path, long *toklen) except -2:
    """Offset of the element at path in doc, or -1 when there is none."""
    cdef bytes p = _util_path(path)
    cdef long ofs
    if p is None:
        return -1
    ofs = mg_json_get(_util_str(doc), p, toklen)
    return ofs if ofs >= 0 else -1


cdef inline bint _util_is_num(const char *tok):
    return tok[0] == b'-' or (tok[0] >= b'0' and tok[0] <= b'9')


def json_get(data, str path not None):
    """Raw JSON text of the element at path ("$", "$.a.b", "$.arr[0]"), or None."""
    cdef bytes doc = _util_arg(data, "json_get", "data")
    cdef long n = 0
    cdef long ofs = _util_json_token(doc, path, &n)
    if ofs < 0:
        return None
    return _util_decode(PyBytes_AS_STRING(doc) + ofs, <size_t>n)


def json_get_num(data, str path not None, default=None):
    """The JSON number at path as float, else default."""
    cdef bytes doc = _util_arg(data, "json_get_num", "data")
    cdef long n = 0
    cdef long ofs = _util_json_token(doc, path, &n)
    cdef const char *tok
    if ofs < 0:
        return default
    tok = PyBytes_AS_STRING(doc) + ofs
    if not _util_is_num(tok):
        return default
    # The token is a validated JSON number, which float() parses exactly.
    return float(tok[:n])


def json_get_bool(data, str path not None, default=None):
    """True/False for a JSON boolean at path, else default."""
    cdef bytes doc = _util_arg(data, "json_get_bool", "data")
    cdef long n = 0
    cdef long ofs = _util_json_token(doc, path, &n)
    if ofs < 0:
        return default
    tok = doc[ofs:ofs + n]
    if tok == b"true":
        return True
    if tok == b"false":
        return False
    return default


def json_get_long(data, str path not None, default=0):
    """The JSON number at path as int (fraction truncated toward zero), else default."""
    cdef bytes doc, p
    cdef int64_t v = 0
    if not isinstance(default, int):
        raise TypeError("an integer is required")
    doc = _util_arg(data, "json_get_long", "data")
    p = _util_path(path)
    if p is None or not mg_json_get_i64(_util_str(doc), p, &v):
        return default
    tok = json_get(doc, path)
    if tok is not None and ("e" in tok or "E" in tok):
        # An exponent goes through a double: Python's float() rounds the decimal
        # correctly (the core's portable parser may differ in the last bit).
        f = float(tok)
        if f >= 9223372036854775807.0:
            return 9223372036854775807
        if f <= -9223372036854775808.0:
            return -9223372036854775808
        return int(f)
    return v


def json_get_str(data, str path not None):
    """The unescaped JSON string at path, or None if missing or not a string."""
    cdef bytes doc = _util_arg(data, "json_get_str", "data")
    cdef long n = 0, got
    cdef long ofs = _util_json_token(doc, path, &n)
    cdef const char *tok
    cdef char *out
    cdef mg_str body
    if ofs < 0:
        return None
    tok = PyBytes_AS_STRING(doc) + ofs
    if tok[0] != b'"':
        return None
    body.buf = tok + 1
    body.len = <size_t>(n - 2)
    out = <char *>PyMem_Malloc(<size_t>n)  # decoding never grows the text
    if out == NULL:
        raise MemoryError()
    try:
        got = mg_json_unescape(body, out, <size_t>n)
        if got < 0:
            return None
        try:
            # Lone \uD8xx surrogates come out as 3-byte sequences, as json.loads
            # keeps them in the str.
            return out[:got].decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return out[:got].decode("utf-8", "replace")
    finally:
        PyMem_Free(out)


# ---- URL helpers ----

def url_encode(data):
    """Percent-encode every byte outside A-Z a-z 0-9 - . _ ~ (lowercase hex)."""
    cdef bytes b = _util_arg(data, "url_encode", "data")
    cdef size_t n = len(b), got
    cdef char *out
    if n == 0:
        return ""
    out = <char *>PyMem_Malloc(3 * n + 1)
    if out == NULL:
        raise MemoryError()
    try:
        got = mg_url_encode(PyBytes_AS_STRING(b), n, out, 3 * n + 1)
        return out[:got].decode("ascii")
    finally:
        PyMem_Free(out)


cdef bytes _util_url(str url):
    return url.encode("utf-8")


def url_port(str url not None):
    """Explicit port of url, else the scheme's default (http 80, https 443, ...), else 0."""
    return mg_url_port(_util_url(url))


def url_host(str url not None):
    """Host part of url (IPv6 keeps its brackets)."""
    cdef bytes u = _util_url(url)
    cdef mg_str s = mg_url_host(u)
    return _util_decode(s.buf, s.len)


def url_user(str url not None):
    """User name from the userinfo of url, or ""."""
    cdef bytes u = _util_url(url)
    cdef mg_str s = mg_url_user(u)
    return _util_decode(s.buf, s.len)


def url_pass(str url not None):
    """Password from the userinfo of url, or ""."""
    cdef bytes u = _util_url(url)
    cdef mg_str s = mg_url_pass(u)
    return _util_decode(s.buf, s.len)


def url_uri(str url not None):
    """Path and query of url, "/" when there is none."""
    cdef bytes u = _util_url(url)
    cdef const char *p = mg_url_uri(u)
    if p == NULL or p[0] == 0:
        return "/"
    return p.decode("utf-8", "replace")


def url_is_ssl(str url not None):
    """True for the TLS schemes https, wss, mqtts, ssl, tls, tcps."""
    return bool(mg_url_is_ssl(_util_url(url)))


# ---- glob and key=value lookup ----

def match(s, pattern):
    """Glob match of the whole s: ? one char, * a run without '/', # any run.

    Returns (True, captures) with one capture per wildcard, or (False, []).
    """
    cdef bytes sb = _util_arg(s, "match", "s")
    cdef bytes pb = _util_arg(pattern, "match", "pattern")
    cdef mg_str caps[_UTIL_MAX_CAPS]
    cdef size_t ncaps, i
    if len(pb) > MG_MATCH_MAX_PATTERN:
        raise ValueError(f"match() pattern longer than {MG_MATCH_MAX_PATTERN} bytes")
    if not mg_match(_util_str(sb), _util_str(pb), caps, _UTIL_MAX_CAPS):
        return (False, [])
    ncaps = mg_match_ncaps(_util_str(pb))
    if ncaps > _UTIL_MAX_CAPS:
        ncaps = _UTIL_MAX_CAPS
    return (True, [_util_decode(caps[i].buf, caps[i].len) for i in range(ncaps)])


def http_var(buf, str name not None):
    """Raw (still URL-encoded) value of name in an '&'-separated k=v buffer, or None."""
    cdef bytes b = _util_arg(buf, "http_var", "buf")
    cdef bytes nb = name.encode("utf-8")
    cdef mg_str val
    if len(b) == 0 or not mg_var_get(_util_str(b), _util_str(nb), &val):
        return None
    return _util_decode(val.buf, val.len)


# ---- randomness ----

def random_bytes(size_t length):
    """length cryptographically random bytes."""
    cdef bytes out
    cdef char *p
    cdef bint ok
    if length == 0:
        return b""
    out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>length)
    p = PyBytes_AS_STRING(out)
    with nogil:
        ok = mg_random(p, length)
    if not ok:
        raise OSError("mg_random failed")
    return out


def random_str(size_t length):
    """length random characters from [0-9a-zA-Z]."""
    cdef bytearray res = bytearray()
    cdef bytes chunk
    cdef const char *alnum = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    cdef unsigned char c
    while <size_t>len(res) < length:
        chunk = random_bytes(length - len(res) + 16)
        for c in chunk:
            # 248 = 4 * 62: dropping bytes >= 248 keeps every char equally likely.
            if c < 248 and <size_t>len(res) < length:
                res.append(alnum[c % 62])
    return res.decode("ascii")


# ---- JSON-RPC (docs/api-contract.md#rpc) ----

cdef class _RpcCall:
    """State of one Rpc.process() call: output pieces and a pending BaseException."""
    cdef list out
    cdef object pending

    def __cinit__(self):
        self.out = []
        self.pending = None


cdef void _rpc_out(const char *buf, size_t len, void *arg) noexcept:
    (<_RpcCall>arg).out.append(buf[:len])


cdef void _rpc_dispatch(mg_rpc_req *r) noexcept:
    cdef _RpcCall call = <_RpcCall>r.out_arg
    cdef tuple entry = <tuple>r.fn_data
    cdef RpcReq req = RpcReq.__new__(RpcReq)
    cdef bytes msg
    req._r = r
    try:
        entry[2](req)
    except Exception as e:
        if r.responded:
            _util_traceback.print_exc()
        else:
            try:
                text = str(e)
            except Exception:
                text = type(e).__name__
            msg = _util_json.dumps(text).encode("utf-8")
            mg_rpc_err_json(r, -32603, _util_str(msg))
    except BaseException as e:
        # KeyboardInterrupt, SystemExit...: abort this call and re-raise from
        # process() once the C dispatcher has returned.
        call.pending = e
        r.responded = True
    finally:
        req._r = NULL


cdef class RpcReq:
    """One JSON-RPC request, valid only while its handler runs."""
    cdef mg_rpc_req *_r

    def __cinit__(self):
        self._r = NULL

    cdef mg_rpc_req *_live(self) except NULL:
        if self._r == NULL:
            raise RuntimeError("RpcReq is no longer valid")
        if self._r.responded:
            raise RuntimeError("Response already sent")
        return self._r

    @property
    def frame(self):
        """The request frame text ("" once the request is no longer valid)."""
        if self._r == NULL:
            return ""
        return _util_decode(self._r.frame.buf, self._r.frame.len)

    def ok(self, result_json):
        """Respond with result_json (raw JSON text) as the result."""
        cdef mg_rpc_req *r = self._live()
        cdef bytes b = _util_arg(result_json, "RpcReq.ok", "result_json")
        mg_rpc_ok(r, _util_str(b))

    def err(self, int code, message):
        """Respond with an error object {"code": code, "message": message}."""
        cdef mg_rpc_req *r = self._live()
        cdef bytes b = _util_arg(message, "RpcReq.err", "message")
        mg_rpc_err(r, code, _util_str(b))


cdef class Rpc:
    """JSON-RPC dispatcher: glob method patterns mapped to handler(req: RpcReq)."""
    cdef mg_rpc *_head
    cdef list _entries  # (pattern str, pattern bytes, handler), newest first

    def __cinit__(self):
        self._head = NULL
        self._entries = []

    def __init__(self):
        # Rpc() takes no arguments (docs/api-contract.md#rpc); without __init__ Cython would
        # silently ignore any given.
        pass

    def __dealloc__(self):
        cdef mg_rpc *node = self._head
        cdef mg_rpc *nxt
        while node != NULL:
            nxt = node.next
            PyMem_Free(node)
            node = nxt
        self._head = NULL

    def add(self, str method not None, handler):
        """Register handler for method (a match() pattern); newest is tried first."""
        cdef bytes pat = method.encode("utf-8")
        cdef tuple entry = (method, pat, handler)
        cdef mg_rpc *node
        if not callable(handler):
            raise TypeError("handler must be callable")
        node = <mg_rpc *>PyMem_Malloc(sizeof(mg_rpc))
        if node == NULL:
            raise MemoryError()
        # The entry tuple keeps the pattern bytes and the handler alive for
        # as long as the node points at them.
        self._entries.insert(0, entry)
        mg_rpc_add(&self._head, node, _util_str(pat), _rpc_dispatch, <void *>entry)

    @property
    def methods(self):
        """Registered patterns, most recently added first."""
        return [e[0] for e in self._entries]

    def process(self, frame):
        """Dispatch one request frame (str or bytes-like); returns the response or ""."""
        cdef bytes b = _util_arg(frame, "Rpc.process", "frame")
        cdef _RpcCall call = _RpcCall()
        cdef mg_rpc_req r
        memset(&r, 0, sizeof(r))
        r.head = self._head
        r.frame = _util_str(b)
        r.out = _rpc_out
        r.out_arg = <void *>call
        mg_rpc_process(&r)
        if call.pending is not None:
            raise call.pending
        return b"".join(call.out).decode("utf-8", "replace")
