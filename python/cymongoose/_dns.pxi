# DNS resolver configuration (mg_dns.h). Included after _core.pxi.

cdef extern from "mg.h":
    bint mg_dns_set_server(mg_mgr *mgr, const char *url, unsigned timeout_ms,
                           unsigned retries)
