# WebSocket: C declarations of mg_ws.h and the WsMessage view (docs/api-contract.md#wsmessage).
# Included after _http.pxi.

cdef extern from "mg_ws.h":
    struct mg_ws_message:
        mg_str data
        uint8_t flags

    bint mg_ws_upgrade(mg_connection *c, mg_http_message *hm, const char *extra_headers)
    mg_connection *mg_ws_connect(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                 void *fn_data, const char *extra_headers)
    size_t mg_ws_send(mg_connection *c, const void *buf, size_t len, int op)
    void mg_ws_set_handshake_timeout(mg_connection *c, uint32_t ms)
    void mg_ws_handler(mg_connection *c, int ev, void *ev_data) noexcept


cdef class WsMessage:
    """A received WebSocket message, valid only during the handler call that
    received it; afterwards data is b"", text "" and flags 0."""
    cdef mg_ws_message *_wm

    cdef void _invalidate(self) noexcept:
        self._wm = NULL

    def __repr__(self):
        if self._wm == NULL:
            return "<WsMessage invalid>"
        return f"<WsMessage flags={self._wm.flags} len={self._wm.data.len}>"

    @property
    def data(self):
        if self._wm == NULL or self._wm.data.len == 0:
            return b""
        return self._wm.data.buf[:self._wm.data.len]

    @property
    def text(self):
        return _mgstr_text(self._wm.data) if self._wm != NULL else ""

    @property
    def flags(self):
        return self._wm.flags if self._wm != NULL else 0


cdef WsMessage _ws_message_new(mg_ws_message *wm):
    cdef WsMessage m = WsMessage.__new__(WsMessage)
    m._wm = wm
    return m


cdef mg_connection *_ws_connect_opener(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                       void *fn_data, void *arg) noexcept:
    return mg_ws_connect(mgr, url, fn, fn_data, NULL)
