/* TLS backend for builds without TLS: every attempt is a clear error. */
#include "mg_tls.h"

#if MG_TLS == MG_TLS_NONE
void mg_tls_init(struct mg_connection *c, const struct mg_tls_opts *opts) {
  (void) opts;
  mg_error(c, "TLS is not built in (MG_TLS=MG_TLS_NONE)");
}

bool mg_tls_check_server(struct mg_mgr *mgr, const struct mg_tls_opts *opts,
                         char *err, size_t errlen) {
  (void) mgr, (void) opts;
  mg_snprintf(err, errlen, "TLS is not built in (MG_TLS=MG_TLS_NONE)");
  return false;
}

void mg_tls_free(struct mg_connection *c) {
  c->tls = NULL;
  c->is_tls = c->is_tls_hs = 0;
}

void mg_tls_handshake(struct mg_connection *c) {
  mg_error(c, "TLS is not built in");
}

void mg_tls_check_timeout(struct mg_connection *c, uint64_t now) {
  (void) c, (void) now; /* no handshake ever starts */
}

long mg_tls_recv(struct mg_connection *c, void *buf, size_t len) {
  (void) c, (void) buf, (void) len;
  return -1;
}

long mg_tls_send(struct mg_connection *c, const void *buf, size_t len) {
  (void) c, (void) buf, (void) len;
  return -1;
}

size_t mg_tls_pending(struct mg_connection *c) {
  (void) c;
  return 0;
}

void mg_tls_set_host(struct mg_connection *c, struct mg_str host) {
  (void) c, (void) host;
}

bool mg_tls_wants_write(const struct mg_connection *c) {
  (void) c;
  return false;
}

void mg_tls_mgr_free(struct mg_mgr *mgr) {
  (void) mgr;
}
#endif
