# MQTT: C declarations of mg_mqtt.h, the MqttMessage view (docs/api-contract.md#mqttmessage) and the
# conversion of v5 property lists. Included after _http.pxi.
from libc.stdlib cimport malloc, free

cdef extern from "mg_mqtt.h":
    struct mg_mqtt_session:
        pass

    struct mg_mqtt_prop:
        uint8_t id
        uint32_t iv
        mg_str key
        mg_str val

    struct mg_mqtt_opts:
        mg_str user
        mg_str client_id
        mg_str topic
        mg_str message
        mg_str pass_ "pass"
        uint8_t qos
        uint8_t version
        uint16_t keepalive
        uint16_t retransmit_id
        bint retain
        bint clean
        const mg_mqtt_prop *props
        size_t num_props
        const mg_mqtt_prop *will_props
        size_t num_will_props
        mg_mqtt_session *session

    struct mg_mqtt_message:
        mg_str topic
        mg_str data
        mg_str dgram
        uint16_t id
        uint8_t cmd
        uint8_t qos
        uint8_t ack
        size_t props_start
        size_t props_size

    int mg_mqtt_prop_type(uint8_t id)
    size_t mg_mqtt_next_prop(const mg_mqtt_message *m, mg_mqtt_prop *p, size_t ofs)
    mg_connection *mg_mqtt_connect(mg_mgr *mgr, const char *url, const mg_mqtt_opts *opts,
                                   mg_event_handler_t fn, void *fn_data)
    mg_connection *mg_mqtt_listen(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                  void *fn_data)
    uint16_t mg_mqtt_pub(mg_connection *c, const mg_mqtt_opts *opts)
    uint16_t mg_mqtt_sub(mg_connection *c, const mg_mqtt_opts *opts)
    uint16_t mg_mqtt_unsub(mg_connection *c, const mg_mqtt_opts *opts)
    void mg_mqtt_ping(mg_connection *c)
    void mg_mqtt_pong(mg_connection *c)
    void mg_mqtt_disconnect(mg_connection *c, const mg_mqtt_opts *opts)
    void mg_mqtt_set_connect_timeout(mg_connection *c, uint32_t ms)
    void mg_mqtt_handler(mg_connection *c, int ev, void *ev_data)
    mg_mqtt_session *mg_mqtt_session_new()
    void mg_mqtt_session_free(mg_mqtt_session *s)
    size_t mg_mqtt_session_pending(const mg_mqtt_session *s)


cdef class MqttMessage:
    """A received MQTT packet, valid only during the handler call that
    received it; afterwards every member returns its default."""
    cdef mg_mqtt_message *_mm

    cdef void _invalidate(self) noexcept:
        self._mm = NULL

    def __repr__(self):
        if self._mm == NULL:
            return "<MqttMessage invalid>"
        return f"<MqttMessage cmd={self._mm.cmd} id={self._mm.id}>"

    @property
    def topic(self):
        return _mgstr_text(self._mm.topic) if self._mm != NULL else ""

    @property
    def data(self):
        if self._mm == NULL or self._mm.cmd != 3 or self._mm.data.len == 0:
            return b""
        return self._mm.data.buf[:self._mm.data.len]

    @property
    def text(self):
        if self._mm == NULL or self._mm.cmd != 3:
            return ""
        return _mgstr_text(self._mm.data)

    @property
    def id(self):
        return self._mm.id if self._mm != NULL else 0

    @property
    def cmd(self):
        return self._mm.cmd if self._mm != NULL else 0

    @property
    def qos(self):
        return self._mm.qos if self._mm != NULL else 0

    @property
    def ack(self):
        """CONNACK return code, or the MQTT 5 reason code of PUBACK, PUBREC,
        PUBREL, PUBCOMP, DISCONNECT and AUTH (0 = success; 3.1.1 has none)."""
        if self._mm == NULL or self._mm.cmd not in (2, 4, 5, 6, 7, 14, 15):
            return 0
        return self._mm.ack

    def properties(self):
        """v5 properties in wire order: [{"id", "iv", "key", "val"}, ...]."""
        cdef mg_mqtt_prop p
        cdef size_t ofs = 0
        out = []
        if self._mm == NULL or self._mm.props_size == 0:
            return out
        while True:
            ofs = mg_mqtt_next_prop(self._mm, &p, ofs)
            if ofs == 0:
                break
            out.append({"id": p.id, "iv": p.iv, "key": _mgstr_text(p.key),
                        "val": _mgstr_text(p.val)})
        return out


cdef MqttMessage _mqtt_message_new(mg_mqtt_message *mm):
    cdef MqttMessage m = MqttMessage.__new__(MqttMessage)
    m._mm = mm
    return m


cdef class _MqttSession:
    """A C session (mg_mqtt_session): the unacknowledged QoS 1/2 messages of
    one client id, kept by the Manager across its connections."""
    cdef mg_mqtt_session *s

    def __cinit__(self):
        self.s = mg_mqtt_session_new()
        if self.s == NULL:
            raise MemoryError()

    def __dealloc__(self):
        mg_mqtt_session_free(self.s)

    @property
    def pending(self):
        return mg_mqtt_session_pending(self.s)


cdef class _MqttProps:
    """A C array of v5 properties built from a list of dicts; keeps the
    encoded strings alive while the array is in use."""
    cdef mg_mqtt_prop *arr
    cdef size_t n
    cdef list keep

    def __cinit__(self):
        self.arr = NULL
        self.n = 0
        self.keep = []

    def __dealloc__(self):
        free(self.arr)

    cdef int fill(self, props) except -1:
        cdef size_t i
        cdef bytes k, v
        if not props:
            return 0
        items = list(props)
        self.arr = <mg_mqtt_prop *>malloc(len(items) * sizeof(mg_mqtt_prop))
        if self.arr == NULL:
            raise MemoryError()
        for i, d in enumerate(items):
            pid = int(d["id"])
            if pid < 0 or pid > 255 or mg_mqtt_prop_type(<uint8_t>pid) < 0:
                raise ValueError(f"unknown MQTT property id {pid}")
            k = _to_bytes(d.get("key", ""))
            v = _to_bytes(d.get("val", ""))
            self.keep.append(k)
            self.keep.append(v)
            self.arr[i].id = <uint8_t>pid
            self.arr[i].iv = <uint32_t>int(d.get("iv", 0))
            self.arr[i].key = _mgstr_of(k)
            self.arr[i].val = _mgstr_of(v)
            self.n = i + 1
        return 0


cdef mg_connection *_mqtt_connect_opener(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                         void *fn_data, void *arg) noexcept:
    return mg_mqtt_connect(mgr, url, <const mg_mqtt_opts *>arg, fn, fn_data)


cdef mg_connection *_mqtt_listen_opener(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                        void *fn_data, void *arg) noexcept:
    return mg_mqtt_listen(mgr, url, fn, fn_data)
