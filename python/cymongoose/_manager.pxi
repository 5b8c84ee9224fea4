# Manager, Connection and Timer: the binding of the event core.
#
# Ownership: the Manager keeps every live Connection wrapper in a dict (strong
# references) and each core connection points back at its wrapper through
# c.fn_data (borrowed). The wrapper holds no reference to the Manager, so the
# only cycles are those user handlers create, which the GC can break.
# The GIL is held while events are dispatched and released only while the
# transport blocks waiting for I/O (mg_mgr.wait_hook).
import signal as _signal
import sys as _sys
import traceback as _traceback

ctypedef mg_connection *(*_opener_t)(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                     void *fn_data, void *arg) noexcept

cdef struct _binding_state:
    PyObject *manager        # borrowed; NULL while the Manager is being finalised
    PyThreadState *tstate    # saved while the GIL is released


cdef void _wait_hook(mg_mgr *mgr, bint begin) noexcept nogil:
    cdef _binding_state *bs = <_binding_state *>mgr.userdata
    if begin:
        bs.tstate = PyEval_SaveThread()
    else:
        PyEval_RestoreThread(bs.tstate)


cdef object _addr_tuple(const mg_addr *a):
    cdef char buf[64]
    mg_ntoa(a, buf, sizeof(buf))
    return (buf.decode("ascii"), mg_ntohs(a.port), bool(a.is_ip6))


cdef object _event_data(int ev, void *ev_data):
    """The Python object a handler receives for an event (docs/api-contract.md#events)."""
    cdef mg_str *s
    if ev_data == NULL or ev == 2 or ev == 7 or ev == 8:  # hot path: POLL, READ, WRITE
        return None
    if ev == 0:  # MG_EV_ERROR
        return (<const char *>ev_data).decode("utf-8", "ignore")
    if ev == 19:  # MG_EV_WAKEUP
        s = <mg_str *>ev_data
        return s.buf[:s.len] if s.len > 0 else b""
    if ev == 17:  # MG_EV_MQTT_OPEN
        return (<int *>ev_data)[0]
    if ev == 18:  # MG_EV_SNTP_TIME
        return (<int64_t *>ev_data)[0]
    return _protocol_event_data(ev, ev_data)


cdef void _dispatch(mg_connection *c, int ev, void *ev_data) noexcept:
    """The one C event handler of every connection created from Python."""
    cdef _binding_state *bs = <_binding_state *>c.mgr.userdata
    cdef Connection conn
    cdef Manager mgr
    if bs.manager == NULL:
        # Manager finalisation (D-2): no Python callbacks, just detach.
        if ev == 9 and c.fn_data != NULL:
            (<Connection>c.fn_data)._c = NULL
        return
    mgr = <Manager>bs.manager
    if ev == 1 and (c.fn_data == NULL or c.is_accepted):
        conn = mgr._attach(c)
    elif c.fn_data == NULL:
        return
    else:
        conn = <Connection>c.fn_data
    handler = conn._handler if conn._handler is not None else mgr._handler
    if handler is not None:
        data = _event_data(ev, ev_data)
        try:
            handler(conn, ev, data)
        except Exception as exc:
            mgr._report(exc)
        except BaseException as exc:
            # D-8: KeyboardInterrupt/SystemExit leave poll() once the core
            # finished this dispatch safely.
            if mgr._pending_exc is None:
                mgr._pending_exc = exc
        finally:
            if data is not None:
                _invalidate_event_data(ev, data)
    if ev == 7 and c.pfn == NULL:
        # Raw TCP/UDP: the Python API has no "consume" call, so the bytes a
        # handler was offered with MG_EV_READ are consumed once it returns.
        c.recv.len = 0
    if ev == 9:
        mgr._detach(conn)


cdef void _timer_fire(void *arg) noexcept:
    cdef Timer t = <Timer>arg
    cdef Manager mgr
    if not t._active:
        return
    mgr = t._mgr
    if not t._repeat:
        t._active = False
        t._t = NULL
        mgr._timers.pop(id(t), None)
    try:
        t._callback()
    except Exception:
        _traceback.print_exc()
    except BaseException as exc:
        if mgr is not None and mgr._pending_exc is None:
            mgr._pending_exc = exc


_REENTRANT_MSG = ("poll() is not reentrant and must not be called concurrently. "
                  "Use AsyncManager for multi-threaded access.")
_CLOSE_WHILE_POLL_MSG = ("Cannot close Manager while poll() is active. "
                         "Stop all polling threads before calling close().")


cdef class Manager:
    """Event manager: owns connections and timers and runs the event loop.

    Manager(handler=None, enable_wakeup=False, error_handler=None)
    """
    cdef mg_mgr _mgr
    cdef _binding_state _bs
    cdef bint _initialized
    cdef bint _freed
    cdef bint _polling
    cdef object _handler
    cdef object _error_handler
    cdef dict _conns
    cdef dict _timers
    cdef object _pending_handler
    cdef object _pending_exc
    cdef bint _has_wakeup
    cdef dict _mqtt_sessions
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self._initialized = False
        self._freed = False
        self._polling = False
        self._conns = {}
        self._timers = {}
        self._mqtt_sessions = {}

    def __init__(self, handler=None, enable_wakeup=False, error_handler=None):
        if self._initialized:
            return
        _check_handler(handler, "Manager")
        if error_handler is not None and not callable(error_handler):
            raise TypeError(f"Manager() argument 'error_handler' must be callable or None, "
                            f"not {type(error_handler).__name__}")
        self._handler = handler
        self._error_handler = error_handler
        mg_mgr_init(&self._mgr)
        self._bs.manager = <PyObject *>self
        self._bs.tstate = NULL
        self._mgr.userdata = &self._bs
        self._mgr.wait_hook = _wait_hook
        self._initialized = True
        self._has_wakeup = False
        if enable_wakeup:
            if not mg_wakeup_init(&self._mgr):
                raise RuntimeError("Failed to initialize wakeup support")
            self._has_wakeup = True

    def __dealloc__(self):
        if self._initialized and not self._freed:
            # D-2: an unreferenced open manager releases everything, without
            # calling Python handlers from a half-destroyed object.
            # The GC may already have cleared _conns/_timers (cycle through a
            # handler): wrappers unlink themselves from the core when they die,
            # and the core's own lists drive the teardown.
            self._bs.manager = NULL
            if self._timers is not None:
                for t in self._timers.values():
                    (<Timer>t)._active = False
                    (<Timer>t)._t = NULL
            mg_mgr_free(&self._mgr)
            if self._conns is not None:
                for conn in self._conns.values():
                    (<Connection>conn)._c = NULL
            self._freed = True

    def __reduce__(self):
        raise TypeError(f"cannot pickle '{type(self).__name__}' object")

    # ---- internal helpers used by the dispatcher ----
    cdef Connection _attach(self, mg_connection *c):
        cdef Connection conn = Connection.__new__(Connection)
        if c.is_accepted and c.fn_data != NULL:
            conn._handler = (<Connection>c.fn_data)._handler  # inherit at accept
        else:
            conn._handler = self._pending_handler
        conn._c = c
        c.fn_data = <void *>conn
        self._conns[c.id] = conn
        return conn

    cdef void _detach(self, Connection conn):
        if conn._c != NULL:
            self._conns.pop(conn._c.id, None)
            conn._c.fn_data = NULL
            conn._c = NULL

    cdef void _report(self, exc):
        if self._error_handler is not None:
            try:
                self._error_handler(exc)
                return
            except Exception as handler_exc:
                # Neither exception may be lost: chained, Python prints the event
                # handler's traceback, then "During handling ..." and the
                # error_handler's own.
                if handler_exc.__context__ is not exc:
                    handler_exc.__context__ = exc
                _traceback.print_exception(type(handler_exc), handler_exc,
                                           handler_exc.__traceback__)
                return
        _traceback.print_exception(type(exc), exc, exc.__traceback__)

    cdef void _check_open(self) except *:
        if self._freed or not self._initialized:
            raise RuntimeError("Manager has been freed")

    cdef void _raise_pending(self) except *:
        exc = self._pending_exc
        if exc is not None:
            self._pending_exc = None
            raise exc

    cdef Connection _open_with(self, object url, handler, _opener_t opener, void *arg,
                               str errmsg, str func):
        """Creates a connection through a core/protocol listen or connect
        function; the handler is attached before the first event (C-11)."""
        cdef mg_connection *c
        cdef bytes burl = _url_arg(url, func)
        _check_handler(handler, func)
        self._check_open()
        self._pending_handler = handler
        try:
            c = opener(&self._mgr, burl, _dispatch, NULL, arg) if burl else NULL
        finally:
            self._pending_handler = None
        if c == NULL:
            raise RuntimeError(f"{errmsg} '{url}'")
        self._raise_pending()
        return <Connection>c.fn_data if c.fn_data != NULL else self._conns.get(c.id)

    cdef Connection _open_http(self, object url, handler, bint listen):
        cdef Connection conn
        if listen:
            conn = self._open_with(url, handler, _listen_opener, NULL, "Failed to listen on",
                                   "listen")
        else:
            conn = self._open_with(url, handler, _connect_opener, NULL, "Failed to connect to",
                                   "connect")
        mg_http_attach(conn._c)  # HTTP protocol handler; children inherit it
        return conn

    # ---- public API ----
    def poll(self, timeout_ms=0):
        """Run one iteration of the event loop, waiting up to timeout_ms for I/O."""
        cdef int ms
        if self._polling:
            raise RuntimeError(_REENTRANT_MSG)
        self._check_open()
        if timeout_ms is None:
            raise TypeError("an integer is required")
        if not isinstance(timeout_ms, (int, float)):
            raise TypeError(f"poll() argument 'timeout_ms' must be an integer, "
                            f"not {type(timeout_ms).__name__}")
        t = int(timeout_ms)
        ms = <int>(2147483647 if t > 2147483647 else (-1 if t < 0 else t))
        self._polling = True
        try:
            mg_mgr_poll(&self._mgr, ms)
        finally:
            self._polling = False
        self._raise_pending()
        PyErr_CheckSignals()

    def listen(self, url, handler=None, *, http=None):
        """Listen on url (tcp://, udp://, http://, ws:// ...); returns the listener."""
        if _wants_http(_url_str(url, "listen"), http):
            return self._open_http(url, handler, True)
        return self._open_with(url, handler, _listen_opener, NULL, "Failed to listen on",
                               "listen")

    def connect(self, url, handler=None, *, http=None):
        """Start a non-blocking outbound connection; returns it at once."""
        if _wants_http(_url_str(url, "connect"), http):
            return self._open_http(url, handler, False)
        return self._open_with(url, handler, _connect_opener, NULL, "Failed to connect to",
                               "connect")

    def ws_connect(self, url, handler=None):
        """WebSocket client: connect and send the upgrade request; MG_EV_WS_OPEN
        follows the server's 101."""
        return self._open_with(url, handler, _ws_connect_opener, NULL,
                               "Failed to create WebSocket connection to", "ws_connect")

    def mqtt_connect(self, url, handler=None, client_id="", username="", password="",
                     clean_session=True, keepalive=60, *, version=4, will_topic="",
                     will_message=b"", will_qos=0, will_retain=False, properties=None):
        """MQTT client (3.1.1, or 5 with version=5): CONNECT is sent once
        connected, MG_EV_MQTT_OPEN(return code) follows the CONNACK. With
        clean_session=False and a client_id, unacknowledged QoS 1/2 messages
        outlive the connection: the next mqtt_connect of that client_id on
        this manager sends them again after CONNACK."""
        cdef mg_mqtt_opts o
        cdef _MqttSession sess = None
        cdef _MqttProps props = _MqttProps()
        cdef bytes bid = str(client_id).encode("utf-8")
        cdef bytes buser = str(username).encode("utf-8")
        cdef bytes bpass = str(password).encode("utf-8")
        cdef bytes bwt = str(will_topic).encode("utf-8")
        cdef bytes bwm = _to_bytes(will_message)
        if version not in (4, 5):
            raise ValueError("version must be 4 (MQTT 3.1.1) or 5")
        props.fill(properties)
        memset(&o, 0, sizeof(o))
        o.client_id = _mgstr_of(bid)
        o.user = _mgstr_of(buser)
        o.pass_ = _mgstr_of(bpass)
        o.topic = _mgstr_of(bwt)
        o.message = _mgstr_of(bwm)
        o.qos = <uint8_t>(int(will_qos) & 3)
        o.retain = bool(will_retain)
        o.clean = bool(clean_session)
        o.keepalive = <uint16_t>max(0, min(65535, _int_arg(keepalive, "mqtt_connect",
                                                           "keepalive")))
        o.version = <uint8_t>version
        o.props = props.arr
        o.num_props = props.n
        if clean_session or not bid:
            self._mqtt_sessions.pop(bid, None)  # a clean start forgets it
        else:
            sess = self._mqtt_sessions.get(bid)
            if sess is None:
                sess = self._mqtt_sessions[bid] = _MqttSession()
            o.session = sess.s
        return self._open_with(url, handler, _mqtt_connect_opener, &o,
                               "Failed to connect to MQTT broker", "mqtt_connect")

    def mqtt_listen(self, url, handler=None):
        """Listener whose connections report MQTT packets (no broker logic)."""
        return self._open_with(url, handler, _mqtt_listen_opener, NULL,
                               "Failed to listen for MQTT on", "mqtt_listen")

    def sntp_connect(self, url, handler=None):
        """UDP connection to an SNTP server (any scheme, port 123 by default);
        a request goes out once connected, sntp_request() sends more."""
        return self._open_with(url, handler, _sntp_connect_opener, NULL,
                               "Failed to connect to SNTP server", "sntp_connect")

    def set_send_marks(self, high, low):
        """Default backpressure marks (bytes) of this manager's connections:
        a connection stops reading while its send buffer holds `high` bytes
        or more, until it drained to `low`. high 0 turns it off."""
        h, l = _marks_arg(high, low, "set_send_marks")
        self._check_open()
        mg_mgr_set_send_marks(&self._mgr, <size_t>h, <size_t>l)

    @property
    def send_marks(self):
        """(high, low) default backpressure marks in bytes."""
        if self._freed or not self._initialized:
            return (0, 0)
        return (self._mgr.send_high, self._mgr.send_low)

    def set_dns_server(self, str url, int timeout_ms=2000, int retries=2):
        """Use url ("udp://IP:PORT") for host name lookups of this manager,
        waiting timeout_ms per attempt and resending up to retries times."""
        self._check_open()
        if timeout_ms <= 0 or retries < 0:
            raise ValueError("timeout_ms must be > 0 and retries >= 0")
        if not mg_dns_set_server(&self._mgr, url.encode("utf-8"), timeout_ms, retries):
            raise ValueError(f"Invalid DNS server URL '{url}' (expected udp://IP:PORT)")

    def timer_add(self, milliseconds, callback, *, repeat=False, run_now=False):
        """Call callback() after milliseconds (periodically with repeat=True)."""
        cdef Timer t
        cdef unsigned flags = MG_TIMER_AUTODELETE
        ms = _int_arg(milliseconds, "timer_add", "milliseconds")
        if ms < 0:
            raise ValueError("timer_add() argument 'milliseconds' must be >= 0")
        if not callable(callback):
            raise TypeError(f"timer_add() argument 'callback' must be callable, "
                            f"not {type(callback).__name__}")
        self._check_open()
        if repeat:
            flags |= MG_TIMER_REPEAT
        if run_now:
            flags |= MG_TIMER_RUN_NOW
        t = Timer.__new__(Timer)
        t._callback = callback
        t._repeat = bool(repeat)
        t._mgr = self
        t._t = mg_timer_add(&self._mgr, <uint64_t>ms, flags, _timer_fire, <void *>t)
        if t._t == NULL:
            raise RuntimeError("Failed to add timer")
        t._active = True
        self._timers[id(t)] = t
        return t

    def wakeup(self, connection_id, data=b""):
        """Thread-safe: deliver MG_EV_WAKEUP with data to connection_id."""
        cdef unsigned long cid
        cdef const char *p
        cdef Py_ssize_t n
        cdef bint ok
        if type(data) is not bytes:
            raise TypeError(
                f"Argument 'data' has incorrect type (expected bytes, got {type(data).__name__})")
        self._check_open()
        if not self._has_wakeup:
            return False
        cid = connection_id
        p = <bytes>data
        n = len(<bytes>data)
        with nogil:
            ok = mg_wakeup(&self._mgr, cid, p, n)
        if not ok:
            raise MemoryError(f"cannot queue a wakeup of {n} bytes")
        return True

    def run(self, poll_ms=100):
        """Poll until SIGINT or SIGTERM, then close the manager."""
        stop = []

        def _on_signal(signum, frame):
            stop.append(signum)

        old_int = _signal.signal(_signal.SIGINT, _on_signal)
        old_term = _signal.signal(_signal.SIGTERM, _on_signal)
        try:
            while not stop:
                self.poll(poll_ms)
        finally:
            _signal.signal(_signal.SIGINT, old_int)
            _signal.signal(_signal.SIGTERM, old_term)
            self.close()

    def close(self):
        """Close every connection (MG_EV_CLOSE each) and free the manager."""
        if self._polling:
            raise RuntimeError(_CLOSE_WHILE_POLL_MSG)
        if self._freed or not self._initialized:
            return
        for t in list(self._timers.values()):
            (<Timer>t)._active = False
            (<Timer>t)._t = NULL
        self._timers.clear()
        self._polling = True  # handlers must not poll or close re-entrantly
        try:
            mg_mgr_free(&self._mgr)
        finally:
            self._polling = False
            self._freed = True
        for conn in list(self._conns.values()):
            (<Connection>conn)._c = NULL
        self._conns.clear()
        self._mqtt_sessions.clear()
        self._raise_pending()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def connections(self):
        """Snapshot of live connections (creation order), wakeup channel excluded."""
        return tuple(self._conns.values())

    @property
    def wakeup_id(self):
        """Id of the internal wakeup channel (0 without enable_wakeup)."""
        if self._freed or not self._has_wakeup or self._mgr.wakeup_conn == NULL:
            return 0
        return self._mgr.wakeup_conn.id


cdef mg_connection *_listen_opener(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                   void *fn_data, void *arg) noexcept:
    return mg_listen(mgr, url, fn, fn_data)


cdef mg_connection *_connect_opener(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                    void *fn_data, void *arg) noexcept:
    return mg_connect(mgr, url, fn, fn_data)


cdef bint _wants_http(str url, http) except -1:
    if http is not None:
        return bool(http)
    low = url[:8].lower()
    return low.startswith(("http://", "https://", "ws://", "wss://"))


cdef class Timer:
    """A timer created by Manager.timer_add()."""
    cdef mg_timer *_t
    cdef object _callback
    cdef bint _repeat
    cdef bint _active
    cdef Manager _mgr
    cdef object __weakref__

    def __dealloc__(self):
        if self._t != NULL:
            mg_timer_cancel(self._t)  # never call back into a dead object

    def cancel(self):
        """Stop the timer (thread-safe, idempotent)."""
        if self._active:
            self._active = False
            if self._t != NULL:
                mg_timer_cancel(self._t)
                self._t = NULL
            if self._mgr is not None:
                self._mgr._timers.pop(id(self), None)

    @property
    def active(self):
        return self._active
