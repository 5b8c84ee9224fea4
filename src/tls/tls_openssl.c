/* TLS backend on the system OpenSSL (hosts).
 *
 * Ciphertext never touches a socket directly: a custom BIO moves it through
 * c->mgr->net->recv/send, so TLS runs over kernel sockets and over the
 * built-in TCP/IP stack alike. Per-manager state (the BIO method and a small
 * cache of SSL_CTX objects keyed by the options) hangs off mgr->tls; per
 * connection state off c->tls.
 *
 * Verification policy: a client verifies the peer's chain (against `ca`, or
 * the system trust store when `ca` is empty) and its host name (against
 * `name`, or the host of the URL the connection was opened with, or the
 * remote IP). Only skip_verification turns chain and URL-host checks off; an
 * explicit `name` is still compared with the certificate then. A server
 * given `ca` requires and verifies a client certificate. */
#include "mg_tls.h"

#if MG_TLS == MG_TLS_OPENSSL
#include <limits.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mg_util.h"

#define TLS_CTX_CACHE_MAX 8 /* distinct option sets kept per manager */
#define TLS_HOST_MAX 256

struct tls_ctx_entry {
  struct tls_ctx_entry *next;
  unsigned char key[32]; /* SHA-256 of role + options */
  SSL_CTX *ctx;
};

struct tls_mgr {
  BIO_METHOD *meth;
  struct tls_ctx_entry *ctxs; /* most recently used first */
};

struct tls_conn {
  SSL *ssl;                /* NULL until mg_tls_init */
  char host[TLS_HOST_MAX]; /* host of the connect URL ("" if unknown) */
  char name[TLS_HOST_MAX]; /* name checked after the handshake (skip mode) */
  bool eof;                /* the transport reported end of stream/error */
  bool want_write;         /* the last handshake step could not write */
  uint64_t hs_deadline;    /* mg_millis() by which the handshake must end */
};

static struct tls_conn *tc(struct mg_connection *c) {
  return (struct tls_conn *) c->tls;
}

/* ---- BIO over the connection's transport ---- */
static int bio_write(BIO *b, const char *buf, int len) {
  struct mg_connection *c = (struct mg_connection *) BIO_get_data(b);
  long n;
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  n = c->mgr->net->send(c, buf, (size_t) len);
  if (n > 0) return (int) n;
  if (n == 0) {
    BIO_set_retry_write(b);
    tc(c)->want_write = true;
  } else {
    tc(c)->eof = true;
  }
  return -1;
}

static int bio_read(BIO *b, char *buf, int len) {
  struct mg_connection *c = (struct mg_connection *) BIO_get_data(b);
  long n;
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  n = c->mgr->net->recv(c, buf, (size_t) len);
  if (n > 0) return (int) n;
  if (n == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  tc(c)->eof = true;
  return 0; /* end of stream */
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void) b, (void) num, (void) ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* writes go straight out */
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

/* ---- Per-manager state ---- */
static struct tls_mgr *tls_mgr(struct mg_mgr *mgr) {
  struct tls_mgr *m = (struct tls_mgr *) mgr->tls;
  if (m != NULL) return m;
  if ((m = (struct tls_mgr *) calloc(1, sizeof(*m))) == NULL) return NULL;
  m->meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mg_net");
  if (m->meth == NULL || !BIO_meth_set_write(m->meth, bio_write) ||
      !BIO_meth_set_read(m->meth, bio_read) ||
      !BIO_meth_set_ctrl(m->meth, bio_ctrl) ||
      !BIO_meth_set_create(m->meth, bio_create)) {
    if (m->meth != NULL) BIO_meth_free(m->meth);
    free(m);
    return NULL;
  }
  mgr->tls = m;
  return m;
}

void mg_tls_mgr_free(struct mg_mgr *mgr) {
  struct tls_mgr *m = (struct tls_mgr *) mgr->tls;
  struct tls_ctx_entry *e, *next;
  if (m == NULL) return;
  for (e = m->ctxs; e != NULL; e = next) {
    next = e->next;
    SSL_CTX_free(e->ctx); /* live SSLs keep their own reference */
    free(e);
  }
  BIO_meth_free(m->meth);
  free(m);
  mgr->tls = NULL;
}

/* ---- Building an SSL_CTX from PEM in memory ---- */
static BIO *mem_bio(struct mg_str s) {
  return BIO_new_mem_buf(s.buf, s.len > INT_MAX ? INT_MAX : (int) s.len);
}

/* Short reason of the oldest queued OpenSSL error, then clears the queue. */
static const char *ssl_reason(char *buf, size_t len) {
  unsigned long e = ERR_get_error();
  const char *r = e == 0 ? NULL : ERR_reason_error_string(e);
  if (r != NULL) {
    mg_snprintf(buf, len, "%s", r);
  } else if (e != 0) {
    mg_snprintf(buf, len, "OpenSSL error %lx", e);
  } else {
    mg_snprintf(buf, len, "unknown error");
  }
  ERR_clear_error();
  return buf;
}

static int load_ca(SSL_CTX *ctx, struct mg_str pem, bool server) {
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_INFO) *infos;
  BIO *b = mem_bio(pem);
  int i, n = 0;
  if (b == NULL) return 0;
  infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
  BIO_free(b);
  if (infos == NULL) return 0;
  for (i = 0; i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *xi = sk_X509_INFO_value(infos, i);
    if (xi->x509 == NULL) continue;
    if (X509_STORE_add_cert(store, xi->x509) != 1) continue;
    if (server) SSL_CTX_add_client_CA(ctx, xi->x509); /* CertificateRequest */
    n++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  return n;
}

/* Leaf certificate first, then any intermediates of the same PEM. */
static bool load_cert(SSL_CTX *ctx, struct mg_str pem) {
  BIO *b = mem_bio(pem);
  X509 *x;
  bool ok = false;
  if (b == NULL) return false;
  if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    ok = SSL_CTX_use_certificate(ctx, x) == 1;
    X509_free(x);
    while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
      if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
        X509_free(x);
        ok = false;
      }
    }
  }
  BIO_free(b);
  if (ok) ERR_clear_error(); /* the read past the last certificate */
  return ok;
}

/* Any PEM private key: SEC1 "EC PRIVATE KEY", PKCS#1 RSA, PKCS#8.
 * Returns 1 on success, 0 when unreadable, -1 when it does not fit cert. */
static int load_key(SSL_CTX *ctx, struct mg_str pem) {
  BIO *b = mem_bio(pem);
  EVP_PKEY *k;
  int rc = 0;
  if (b == NULL) return 0;
  if ((k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) != NULL) {
    rc = SSL_CTX_use_PrivateKey(ctx, k) == 1 ? 1 : -1;
    EVP_PKEY_free(k);
  }
  BIO_free(b);
  return rc;
}

/* Returns a new SSL_CTX, or NULL with the reason in err. */
static SSL_CTX *new_ctx(const struct mg_tls_opts *o, bool server, char *err,
                        size_t errlen) {
  char r[120];
  struct mg_str key = o->key.len > 0 ? o->key : o->cert; /* key may ride along */
  SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == NULL) {
    mg_snprintf(err, errlen, "TLS: cannot create context: %s",
                ssl_reason(r, sizeof(r)));
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (server) {
    SSL_CTX_set_num_tickets(ctx, 1);
    /* TLS 1.2: ECDHE + AEAD only, in our order (TLS 1.3: library defaults). */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx, MG_TLS_SERVER_CIPHERS) != 1) {
      mg_snprintf(err, errlen, "TLS: bad MG_TLS_SERVER_CIPHERS: %s",
                  ssl_reason(r, sizeof(r)));
      goto fail;
    }
  }
  if (o->cert.len > 0) {
    if (!load_cert(ctx, o->cert)) {
      mg_snprintf(err, errlen, "TLS: bad certificate PEM: %s",
                  ssl_reason(r, sizeof(r)));
      goto fail;
    }
    int k = load_key(ctx, key);
    if (k == 0) {
      mg_snprintf(err, errlen, "TLS: bad private key PEM: %s",
                  ssl_reason(r, sizeof(r)));
      goto fail;
    }
    if (k < 0 || SSL_CTX_check_private_key(ctx) != 1) {
      ERR_clear_error();
      mg_snprintf(err, errlen,
                  "TLS: private key does not match the certificate");
      goto fail;
    }
  } else if (server) {
    mg_snprintf(err, errlen, "TLS: a server needs cert and key");
    goto fail;
  } else if (o->key.len > 0) {
    mg_snprintf(err, errlen, "TLS: key given without cert");
    goto fail;
  }
  if (o->ca.len > 0) {
    if (load_ca(ctx, o->ca, server) == 0) {
      mg_snprintf(err, errlen, "TLS: bad CA PEM: %s", ssl_reason(r, sizeof(r)));
      goto fail;
    }
    ERR_clear_error();
  } else if (!server && !o->skip_verification &&
             SSL_CTX_set_default_verify_paths(ctx) != 1) {
    ERR_clear_error(); /* no system store: every chain check will fail */
  }
  if (o->skip_verification) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  } else if (!server) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  } else if (o->ca.len > 0) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       NULL);
  }
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

static void hash_str(struct mg_sha256_ctx *h, struct mg_str s) {
  uint64_t n = (uint64_t) s.len; /* length prefix: no ambiguous joins */
  mg_sha256_update(h, &n, sizeof(n));
  if (s.len > 0) mg_sha256_update(h, s.buf, s.len);
}

/* The shared context for these options (built once per manager). */
static SSL_CTX *get_ctx(struct tls_mgr *m, const struct mg_tls_opts *o,
                        bool server, char *err, size_t errlen) {
  struct tls_ctx_entry **p, *e;
  unsigned char key[32], flags[2];
  struct mg_sha256_ctx h;
  size_t n = 0;
  flags[0] = server ? 1 : 0;
  flags[1] = o->skip_verification ? 1 : 0;
  mg_sha256_init(&h);
  mg_sha256_update(&h, flags, sizeof(flags));
  hash_str(&h, o->ca);
  hash_str(&h, o->cert);
  hash_str(&h, o->key);
  mg_sha256_final(&h, key);
  for (p = &m->ctxs; *p != NULL; p = &(*p)->next, n++) {
    if (memcmp((*p)->key, key, sizeof(key)) != 0) continue;
    e = *p; /* move to front */
    *p = e->next;
    e->next = m->ctxs;
    m->ctxs = e;
    return e->ctx;
  }
  if ((e = (struct tls_ctx_entry *) calloc(1, sizeof(*e))) == NULL) {
    mg_snprintf(err, errlen, "TLS: out of memory");
    return NULL;
  }
  if ((e->ctx = new_ctx(o, server, err, errlen)) == NULL) {
    free(e);
    return NULL;
  }
  memcpy(e->key, key, sizeof(key));
  e->next = m->ctxs;
  m->ctxs = e;
  if (n >= TLS_CTX_CACHE_MAX) { /* drop the least recently used */
    for (p = &m->ctxs; (*p)->next != NULL; p = &(*p)->next) (void) 0;
    SSL_CTX_free((*p)->ctx);
    free(*p);
    *p = NULL;
  }
  return e->ctx;
}

bool mg_tls_check_server(struct mg_mgr *mgr, const struct mg_tls_opts *opts,
                         char *err, size_t errlen) {
  struct tls_mgr *m = tls_mgr(mgr);
  if (m == NULL) {
    mg_snprintf(err, errlen, "TLS: out of memory");
    return false;
  }
  if (opts->cert.len == 0 || opts->key.len == 0) {
    mg_snprintf(err, errlen, "TLS: a server needs a certificate and its key");
    return false;
  }
  ERR_clear_error();
  /* The context is cached, so the accepted connections reuse this work. */
  return get_ctx(m, opts, true, err, errlen) != NULL;
}

/* ---- Connections ---- */
static struct tls_conn *conn_state(struct mg_connection *c) {
  if (c->tls == NULL) c->tls = calloc(1, sizeof(struct tls_conn));
  return tc(c);
}

static void copy_name(char *dst, struct mg_str s) {
  size_t n = s.len < TLS_HOST_MAX - 1 ? s.len : 0; /* too long: unknown */
  if (n >= 2 && s.buf[0] == '[' && s.buf[n - 1] == ']') s.buf++, n -= 2;
  if (n > 0) memcpy(dst, s.buf, n); /* s.buf may be NULL when n is 0 */
  dst[n] = '\0';
}

void mg_tls_set_host(struct mg_connection *c, struct mg_str host) {
  struct tls_conn *t;
  if (host.len == 0 || (t = conn_state(c)) == NULL) return;
  copy_name(t->host, host);
}

static bool is_ip_literal(const char *s) {
  struct mg_addr a;
  return mg_aton(mg_str(s), &a) && a.port == 0;
}

/* Hostname/IP the client expects in the server certificate. */
static void set_peer_name(struct mg_connection *c, SSL *ssl, const char *nm,
                          bool check) {
  X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (nm[0] != '\0' && !is_ip_literal(nm)) {
    SSL_set_tlsext_host_name(ssl, nm); /* SNI carries DNS names only */
    if (check) SSL_set1_host(ssl, nm);
  } else if (nm[0] != '\0') {
    if (check) X509_VERIFY_PARAM_set1_ip_asc(vp, nm);
  } else if (check) { /* no name known: the certificate must name the IP */
    X509_VERIFY_PARAM_set1_ip(vp, c->rem.ip, c->rem.is_ip6 ? 16 : 4);
  }
}

static void free_ssl(struct tls_conn *t) {
  if (t->ssl != NULL) SSL_free(t->ssl); /* frees the BIO too */
  t->ssl = NULL;
}

void mg_tls_init(struct mg_connection *c, const struct mg_tls_opts *opts) {
  char err[160];
  bool server = c->is_accepted;
  struct tls_mgr *m;
  struct tls_conn *t;
  const char *nm;
  SSL_CTX *ctx;
  BIO *bio;
  if (c->is_listening && !c->is_udp) {
    /* Accepted children call mg_tls_init; here the options are checked now,
     * so a bad certificate is reported before the first client comes. */
    if (mg_tls_check_server(c->mgr, opts, err, sizeof(err))) {
      c->is_tls = 1;
    } else {
      mg_error(c, "%s", err);
    }
    return;
  }
  if (c->is_udp) {
    mg_error(c, "TLS over UDP is not supported");
    return;
  }
  if (opts->name.len >= TLS_HOST_MAX ||
      (opts->name.len > 0 && memchr(opts->name.buf, 0, opts->name.len))) {
    mg_error(c, "TLS: bad name (too long or contains NUL)");
    return;
  }
  if ((m = tls_mgr(c->mgr)) == NULL || (t = conn_state(c)) == NULL) {
    mg_error(c, "TLS: out of memory");
    return;
  }
  free_ssl(t); /* a second init starts over */
  c->is_tls = c->is_tls_hs = 0;
  t->eof = t->want_write = false;
  t->name[0] = '\0';
  ERR_clear_error();
  if ((ctx = get_ctx(m, opts, server, err, sizeof(err))) == NULL) {
    mg_error(c, "%s", err);
    return;
  }
  if ((t->ssl = SSL_new(ctx)) == NULL ||
      (bio = BIO_new(m->meth)) == NULL) {
    free_ssl(t);
    ERR_clear_error();
    mg_error(c, "TLS: out of memory");
    return;
  }
  BIO_set_data(bio, c);
  SSL_set_bio(t->ssl, bio, bio);
  if (server) {
    SSL_set_accept_state(t->ssl);
  } else {
    char name[TLS_HOST_MAX];
    copy_name(name, opts->name);
    nm = name[0] != '\0' ? name : t->host;
    set_peer_name(c, t->ssl, nm, !opts->skip_verification);
    if (opts->skip_verification && name[0] != '\0')
      memcpy(t->name, name, sizeof(name)); /* still compared after the hs */
    SSL_set_connect_state(t->ssl);
  }
  c->is_tls = c->is_tls_hs = 1;
  t->hs_deadline = mg_millis() + (opts->handshake_timeout_ms > 0
                                      ? opts->handshake_timeout_ms
                                      : MG_TLS_HANDSHAKE_MS);
  /* Start now: a client's hello must be on the wire before the next wait. */
  if (c->fd != NULL && !c->is_connecting && !c->is_resolving)
    mg_tls_handshake(c);
}

void mg_tls_free(struct mg_connection *c) {
  struct tls_conn *t = tc(c);
  if (t != NULL && t->ssl != NULL && c->is_tls && !c->is_tls_hs && !t->eof &&
      c->fd != NULL && c->mgr->net != NULL) {
    /* close_notify, best effort: tells the peer the data ended cleanly
     * (bodies delimited by the close are otherwise reported truncated) */
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
  }
  c->is_tls = c->is_tls_hs = 0;
  if (t == NULL) return;
  free_ssl(t);
  if (c->is_closing || t->host[0] == '\0') { /* else keep the URL host */
    free(t);
    c->tls = NULL;
  }
}

/* Error text for a failed SSL call: OpenSSL's reason, plus the X.509
 * verification reason when a certificate was rejected. */
static void tls_fail(struct mg_connection *c, const char *what, int ret) {
  struct tls_conn *t = tc(c);
  int e = SSL_get_error(t->ssl, ret);
  unsigned long code = ERR_peek_error();
  char r[120];
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
  if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) t->eof = true;
#endif
  if (t->eof) {
    ERR_clear_error();
    mg_error(c, "%s: connection closed by peer", what);
  } else if (e == SSL_ERROR_SSL && code != 0) {
    long v = SSL_get_verify_result(t->ssl);
    ssl_reason(r, sizeof(r));
    if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
        v != X509_V_OK) {
      mg_error(c, "%s: %s: %s", what, r, X509_verify_cert_error_string(v));
    } else {
      mg_error(c, "%s: %s", what, r);
    }
  } else if (e == SSL_ERROR_ZERO_RETURN ||
             (e == SSL_ERROR_SYSCALL && code == 0)) {
    ERR_clear_error();
    mg_error(c, "%s: connection closed by peer", what);
  } else {
    mg_error(c, "%s: %s", what, ssl_reason(r, sizeof(r)));
  }
}

static bool check_name_after_hs(struct mg_connection *c) {
  struct tls_conn *t = tc(c);
  X509 *peer;
  int ok;
  if (t->name[0] == '\0') return true;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  peer = SSL_get1_peer_certificate(t->ssl);
#else
  peer = SSL_get_peer_certificate(t->ssl);
#endif
  if (peer == NULL) {
    ok = 0;
  } else if (is_ip_literal(t->name)) {
    ok = X509_check_ip_asc(peer, t->name, 0);
  } else {
    ok = X509_check_host(peer, t->name, strlen(t->name),
                         X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
  }
  X509_free(peer);
  if (ok == 1) return true;
  mg_error(c, "TLS handshake failed: certificate does not match '%s'",
           t->name);
  return false;
}

void mg_tls_handshake(struct mg_connection *c) {
  struct tls_conn *t = tc(c);
  int rc, e;
  if (t == NULL || t->ssl == NULL) {
    mg_error(c, "TLS handshake without mg_tls_init");
    return;
  }
  t->want_write = false;
  ERR_clear_error();
  rc = SSL_do_handshake(t->ssl);
  if (rc == 1) {
    if (!check_name_after_hs(c)) return;
    c->is_tls_hs = 0;
    mg_call(c, MG_EV_TLS_HS, NULL);
    return;
  }
  e = SSL_get_error(t->ssl, rc);
  if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !t->eof)
    return;
  tls_fail(c, "TLS handshake failed", rc);
}

void mg_tls_check_timeout(struct mg_connection *c, uint64_t now) {
  struct tls_conn *t = tc(c);
  if (t != NULL && c->is_tls_hs && !c->is_closing && now > t->hs_deadline)
    mg_error(c, "TLS handshake timed out");
}

bool mg_tls_wants_write(const struct mg_connection *c) {
  const struct tls_conn *t = (const struct tls_conn *) c->tls;
  return t != NULL && c->is_tls_hs && t->want_write;
}

static int clamp(size_t len) {
  return len > INT_MAX ? INT_MAX : (int) len;
}

long mg_tls_recv(struct mg_connection *c, void *buf, size_t len) {
  struct tls_conn *t = tc(c);
  int n, e;
  if (t == NULL || t->ssl == NULL) return -1;
  ERR_clear_error();
  n = SSL_read(t->ssl, buf, clamp(len));
  if (n > 0) return n;
  e = SSL_get_error(t->ssl, n);
  if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !t->eof)
    return 0;
  if (e == SSL_ERROR_SSL && !t->eof) {
    unsigned long code = ERR_peek_error();
    char r[120];
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) code = 0;
#endif
    /* a bad record or a peer's alert; a bare end of stream is not an error */
    if (code != 0) mg_error(c, "TLS read failed: %s", ssl_reason(r, sizeof(r)));
  }
  ERR_clear_error();
  return -1; /* close_notify, end of stream or a broken record */
}

long mg_tls_send(struct mg_connection *c, const void *buf, size_t len) {
  struct tls_conn *t = tc(c);
  int n, e;
  if (t == NULL || t->ssl == NULL) return -1;
  if (len == 0) return 0;
  ERR_clear_error();
  n = SSL_write(t->ssl, buf, clamp(len));
  if (n > 0) return n;
  e = SSL_get_error(t->ssl, n);
  if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !t->eof)
    return 0;
  ERR_clear_error();
  return -1;
}

size_t mg_tls_pending(struct mg_connection *c) {
  struct tls_conn *t = tc(c);
  int n;
  if (t == NULL || t->ssl == NULL || c->is_tls_hs) return 0;
  n = SSL_pending(t->ssl);
  return n > 0 ? (size_t) n : 0;
}
#endif /* MG_TLS == MG_TLS_OPENSSL */
