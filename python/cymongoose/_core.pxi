# C declarations of the cymongoose core used by the binding (src/include/mg_core.h).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from cpython.ref cimport PyObject

cdef extern from "mg.h":
    struct mg_str:
        const char *buf
        size_t len

    struct mg_iobuf:
        unsigned char *buf
        size_t size
        size_t len

    struct mg_addr:
        uint8_t ip[16]
        uint16_t port
        uint8_t is_ip6

    ctypedef void (*mg_event_handler_t)(mg_connection *c, int ev, void *ev_data) noexcept

    struct mg_connection:
        mg_connection *next
        mg_mgr *mgr
        mg_addr loc
        mg_addr rem
        void *fd
        unsigned long id
        mg_iobuf recv
        mg_iobuf send
        mg_event_handler_t fn
        void *fn_data
        mg_event_handler_t pfn
        void *pfn_data
        unsigned is_listening
        unsigned is_client
        unsigned is_accepted
        unsigned is_resolving
        unsigned is_connecting
        unsigned is_tls
        unsigned is_tls_hs
        unsigned is_udp
        unsigned is_websocket
        unsigned is_draining
        unsigned is_closing
        unsigned is_full
        unsigned is_throttled
        unsigned is_readable
        unsigned is_writable
        unsigned is_wakeup
        unsigned is_half_close
        unsigned is_eof

    struct mg_timer:
        unsigned long id

    struct mg_mgr:
        mg_connection *conns
        void (*wait_hook)(mg_mgr *mgr, bint begin) noexcept nogil
        void *userdata
        mg_connection *wakeup_conn
        size_t send_high
        size_t send_low

    void mg_mgr_init(mg_mgr *mgr)
    void mg_mgr_poll(mg_mgr *mgr, int ms)
    void mg_mgr_free(mg_mgr *mgr)
    mg_connection *mg_listen(mg_mgr *mgr, const char *url, mg_event_handler_t fn, void *fn_data)
    mg_connection *mg_connect(mg_mgr *mgr, const char *url, mg_event_handler_t fn, void *fn_data)
    bint mg_send(mg_connection *c, const void *buf, size_t len)
    void mg_close_conn(mg_connection *c)
    void mg_shutdown(mg_connection *c)
    void mg_set_send_marks(mg_connection *c, size_t high, size_t low)
    void mg_mgr_set_send_marks(mg_mgr *mgr, size_t high, size_t low)
    size_t mg_send_high(const mg_connection *c)
    size_t mg_send_low(const mg_connection *c)
    void mg_error(mg_connection *c, const char *fmt, ...)
    void mg_resolve(mg_connection *c, const char *url)
    void mg_resolve_cancel(mg_connection *c)
    char *mg_ntoa(const mg_addr *a, char *buf, size_t len)
    uint16_t mg_ntohs(uint16_t v)

    unsigned MG_TIMER_REPEAT
    unsigned MG_TIMER_RUN_NOW
    unsigned MG_TIMER_AUTODELETE
    mg_timer *mg_timer_add(mg_mgr *mgr, uint64_t period_ms, unsigned flags,
                           void (*fn)(void *) noexcept, void *arg)
    void mg_timer_cancel(mg_timer *t)

    bint mg_wakeup_init(mg_mgr *mgr)
    bint mg_wakeup(mg_mgr *mgr, unsigned long conn_id, const void *buf, size_t len) nogil

    void mg_log_set(int level)
    int mg_log_get()
    uint64_t mg_millis()

cdef extern from "Python.h":
    ctypedef struct PyThreadState
    PyThreadState *PyEval_SaveThread() nogil
    void PyEval_RestoreThread(PyThreadState *) nogil
    int PyErr_CheckSignals() except -1


# ---- Constants (docs/api-contract.md#exported-names) ----
MG_EV_ERROR = 0
MG_EV_OPEN = 1
MG_EV_POLL = 2
MG_EV_RESOLVE = 3
MG_EV_CONNECT = 4
MG_EV_ACCEPT = 5
MG_EV_TLS_HS = 6
MG_EV_READ = 7
MG_EV_WRITE = 8
MG_EV_CLOSE = 9
MG_EV_HTTP_HDRS = 10
MG_EV_HTTP_MSG = 11
MG_EV_WS_OPEN = 12
MG_EV_WS_MSG = 13
MG_EV_WS_CTL = 14
MG_EV_MQTT_CMD = 15
MG_EV_MQTT_MSG = 16
MG_EV_MQTT_OPEN = 17
MG_EV_SNTP_TIME = 18
MG_EV_WAKEUP = 19
MG_EV_USER = 23

WEBSOCKET_OP_TEXT = 1
WEBSOCKET_OP_BINARY = 2
WEBSOCKET_OP_PING = 9
WEBSOCKET_OP_PONG = 10

MQTT_PROP_TYPE_BYTE = 0
MQTT_PROP_TYPE_STRING = 1
MQTT_PROP_TYPE_STRING_PAIR = 2
MQTT_PROP_TYPE_BINARY_DATA = 3
MQTT_PROP_TYPE_VARIABLE_INT = 4
MQTT_PROP_TYPE_INT = 5
MQTT_PROP_TYPE_SHORT = 6

MG_LL_NONE = 0
MG_LL_ERROR = 1
MG_LL_INFO = 2
MG_LL_DEBUG = 3
MG_LL_VERBOSE = 4

_EVENT_NAMES = {
    0: "MG_EV_ERROR", 1: "MG_EV_OPEN", 2: "MG_EV_POLL", 3: "MG_EV_RESOLVE",
    4: "MG_EV_CONNECT", 5: "MG_EV_ACCEPT", 6: "MG_EV_TLS_HS", 7: "MG_EV_READ",
    8: "MG_EV_WRITE", 9: "MG_EV_CLOSE", 10: "MG_EV_HTTP_HDRS", 11: "MG_EV_HTTP_MSG",
    12: "MG_EV_WS_OPEN", 13: "MG_EV_WS_MSG", 14: "MG_EV_WS_CTL", 15: "MG_EV_MQTT_CMD",
    16: "MG_EV_MQTT_MSG", 17: "MG_EV_MQTT_OPEN", 18: "MG_EV_SNTP_TIME",
    19: "MG_EV_WAKEUP", 23: "MG_EV_USER",
}


def event_name(int ev):
    """Name of an event number: "MG_EV_HTTP_MSG", "MG_EV_USER+2", "MG_EV_UNKNOWN(21)"."""
    name = _EVENT_NAMES.get(ev)
    if name is not None:
        return name
    if ev > 23:
        return f"MG_EV_USER+{ev - 23}"
    return f"MG_EV_UNKNOWN({ev})"


def log_set(int level):
    """Set the core's log level (MG_LL_NONE .. MG_LL_VERBOSE)."""
    mg_log_set(level)


def log_get():
    """Current log level of the core."""
    return mg_log_get()


def millis():
    """Monotonic milliseconds from the core's clock."""
    return mg_millis()


cdef bytes _to_bytes(object data):
    """docs/api-contract.md#data-arguments: str -> UTF-8, anything else -> bytes(x)."""
    if type(data) is bytes:
        return <bytes>data
    if isinstance(data, str):
        return (<str>data).encode("utf-8")
    if data is None:
        raise TypeError("expected str or a bytes-like object, got None")
    return bytes(data)


# ---- Argument checks shared by the binding: errors name the function and argument ----
cdef str _url_str(object url, str func):
    if not isinstance(url, str):
        raise TypeError(f"{func}() argument 'url' must be str, not {type(url).__name__}")
    if "\x00" in <str>url:
        raise ValueError(f"{func}() argument 'url' contains a NUL character")
    return <str>url


cdef bytes _url_arg(object url, str func):
    return _url_str(url, func).encode("utf-8")


cdef object _check_handler(object handler, str func):
    if handler is not None and not callable(handler):
        raise TypeError(f"{func}() argument 'handler' must be callable or None, "
                        f"not {type(handler).__name__}")
    return handler


cdef tuple _marks_arg(object high, object low, str func):
    """Validated (high, low) backpressure marks in bytes."""
    cdef long long h = _int_arg(high, func, "high")
    cdef long long l = _int_arg(low, func, "low")
    if h < 0 or l < 0:
        raise ValueError(f"{func}() marks must be >= 0, not ({h}, {l})")
    if l > h:
        raise ValueError(f"{func}() argument 'low' ({l}) must not exceed 'high' ({h})")
    return (h, l)


cdef long long _int_arg(object value, str func, str name) except? -1:
    """An integer argument; a float is truncated (as the PyPI package does)."""
    if isinstance(value, float):
        return int(value)
    if not isinstance(value, int):
        raise TypeError(f"{func}() argument '{name}' must be int, not {type(value).__name__}")
    return value
