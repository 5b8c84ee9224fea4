# SNTP: C declarations of mg_sntp.h and the connect adapter. Included after
# _core.pxi.

cdef extern from "mg.h":
    mg_connection *mg_sntp_connect(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                   void *fn_data)
    void mg_sntp_request(mg_connection *c)


cdef mg_connection *_sntp_connect_opener(mg_mgr *mgr, const char *url, mg_event_handler_t fn,
                                         void *fn_data, void *arg) noexcept:
    return mg_sntp_connect(mgr, url, fn, fn_data)
