/* TLS: one small interface, one backend per build (src/tls/).
 *   MG_TLS_NONE     no TLS (firmware for now): mg_tls_init() reports an error
 *   MG_TLS_OPENSSL  the system OpenSSL (hosts)
 * The backend moves ciphertext with c->mgr->net->recv/send, so TLS works over
 * kernel sockets and over the built-in TCP/IP stack alike. */
#ifndef MG_TLS_H
#define MG_TLS_H

#include "mg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_tls_opts {
  struct mg_str ca;   /* PEM CA bundle; empty: the system trust store */
  struct mg_str cert; /* PEM certificate (server, or client for mutual TLS) */
  struct mg_str key;  /* PEM private key of cert */
  struct mg_str name; /* expected server name (SNI + hostname check) */
  bool skip_verification; /* the only way to turn certificate checks off */
  uint32_t handshake_timeout_ms; /* 0: MG_TLS_HANDSHAKE_MS */
};

/* Starts TLS on c (server side if c->is_accepted, else client) and begins the
 * handshake at once (a client sends its hello). Sets c->is_tls and
 * c->is_tls_hs. When the handshake completes the backend clears is_tls_hs and
 * emits MG_EV_TLS_HS; on failure it calls mg_error() with the reason. On a
 * listener it only checks opts as server options (mg_tls_check_server) and
 * marks the listener is_tls; its accepted connections still call
 * mg_tls_init themselves. A check that fails is mg_error() on the listener. */
void mg_tls_init(struct mg_connection *c, const struct mg_tls_opts *opts);
/* Checks that opts can serve TLS: certificate and key parse and match, the
 * CA bundle (if any) parses. False with the reason in err otherwise. */
bool mg_tls_check_server(struct mg_mgr *mgr, const struct mg_tls_opts *opts,
                         char *err, size_t errlen);
/* Releases TLS state; c is plain again afterwards. */
void mg_tls_free(struct mg_connection *c);
/* Advances a handshake in progress; called by the core while c->is_tls_hs. */
void mg_tls_handshake(struct mg_connection *c);
/* Fails a handshake that is past its deadline ("TLS handshake timed out");
 * called by the core on every poll while c->is_tls_hs. */
void mg_tls_check_timeout(struct mg_connection *c, uint64_t now);
/* Plaintext I/O: >0 bytes, 0 = would block, <0 = error or end of stream. */
long mg_tls_recv(struct mg_connection *c, void *buf, size_t len);
long mg_tls_send(struct mg_connection *c, const void *buf, size_t len);
/* Decrypted bytes buffered inside the backend (readable without the socket
 * becoming readable again). */
size_t mg_tls_pending(struct mg_connection *c);
/* Remembers the host of the URL an outbound connection was opened with
 * (mg_connect calls it): a client checks the server certificate against it
 * when opts->name is empty. */
void mg_tls_set_host(struct mg_connection *c, struct mg_str host);
/* True while a handshake step is waiting for the transport to accept
 * ciphertext (the transport then also waits for writability). */
bool mg_tls_wants_write(const struct mg_connection *c);
/* Releases the manager-wide TLS state (mgr->tls); mg_mgr_free calls it after
 * every connection is closed. */
void mg_tls_mgr_free(struct mg_mgr *mgr);

#ifdef __cplusplus
}
#endif
#endif /* MG_TLS_H */
