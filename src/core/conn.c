/* Connections: creation, listen/connect, send, close, event dispatch. */
#include <stdlib.h>
#include <string.h>

#include "mg_core.h"
#include "mg_tls.h"

struct mg_connection *mg_alloc_conn(struct mg_mgr *mgr) {
  struct mg_connection *c =
      (struct mg_connection *) calloc(1, sizeof(struct mg_connection));
  if (c == NULL) return NULL;
  c->mgr = mgr;
  c->recv.align = MG_IO_SIZE;
  c->send.align = MG_IO_SIZE;
  return c;
}

void mg_add_conn(struct mg_connection *c) {
  c->id = ++c->mgr->next_id;
  c->next = c->mgr->conns;
  c->mgr->conns = c;
}

void mg_free_conn(struct mg_connection *c) {
  mg_iobuf_free(&c->recv);
  mg_iobuf_free(&c->send);
  free(c);
}

void mg_call(struct mg_connection *c, int ev, void *ev_data) {
  /* The protocol handler sees every event first, so protocol events derived
   * from received bytes reach the user before the MG_EV_READ of that read. */
  if (c->pfn != NULL) c->pfn(c, ev, ev_data);
  if (c->fn != NULL) c->fn(c, ev, ev_data);
}

void mg_error(struct mg_connection *c, const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  MG_ERROR("conn %lu: %s", c->id, buf);
  c->is_closing = 1;
  mg_call(c, MG_EV_ERROR, buf);
}

void mg_close_conn(struct mg_connection *c) {
  c->is_closing = 1;
}

void mg_shutdown(struct mg_connection *c) {
  const struct mg_net *net = c->mgr->net;
  if (c->is_tls || c->is_udp || c->is_listening || net == NULL ||
      net->shutdown == NULL) {
    c->is_draining = 1; /* no half-close here: finish and close */
  } else {
    c->is_shutdown = 1; /* mg_mgr_poll sends the FIN once send drained */
  }
}

struct mg_connection *mg_conn_by_id(struct mg_mgr *mgr, unsigned long id) {
  struct mg_connection *c;
  for (c = mgr->conns; c != NULL; c = c->next)
    if (c->id == id) return c;
  return NULL;
}

bool mg_send(struct mg_connection *c, const void *buf, size_t len) {
  if (len == 0) return true;
  if (c->is_udp && c->mgr->net != NULL && c->fd != NULL) {
    /* A datagram per call: UDP has no stream to buffer into. */
    return c->mgr->net->send(c, buf, len) == (long) len;
  }
  return mg_iobuf_add(&c->send, c->send.len, buf, len) == len;
}

size_t mg_vprintf(struct mg_connection *c, const char *fmt, va_list ap) {
  char small[256];
  size_t n;
  char *p = mg_vmprintf(small, sizeof(small), &n, fmt, ap);
  if (!mg_send(c, p, n)) n = 0;
  if (p != small) free(p);
  return n;
}

size_t mg_printf(struct mg_connection *c, const char *fmt, ...) {
  size_t n;
  va_list ap;
  va_start(ap, fmt);
  n = mg_vprintf(c, fmt, ap);
  va_end(ap);
  return n;
}

static bool is_udp_url(const char *url) {
  return strncmp(url, "udp://", 6) == 0;
}

/* Listener address: numeric host or "localhost", empty = any; an explicit
 * port or 0 (docs/api-contract.md: a missing port means an ephemeral one). */
static bool listen_addr(const char *url, struct mg_addr *a) {
  struct mg_str host = mg_url_host(url);
  long port = mg_url_port_explicit(url);
  memset(a, 0, sizeof(*a));
  if (port < 0) return false;
  if (host.len >= 2 && host.buf[0] == '[' && host.buf[host.len - 1] == ']') {
    host = mg_str_n(host.buf + 1, host.len - 2);
    if (!mg_aton(host, a) || !a->is_ip6) return false;
  } else if (mg_str_ieq(host, "localhost")) {
    a->ip[0] = 127, a->ip[3] = 1;
  } else if (host.len > 0 && !mg_aton(host, a)) {
    return false;
  }
  a->port = mg_htons((uint16_t) port);
  return true;
}

struct mg_connection *mg_listen(struct mg_mgr *mgr, const char *url,
                                mg_event_handler_t fn, void *fn_data) {
  struct mg_connection *c;
  struct mg_addr a;
  if (mgr->net == NULL || url == NULL || !listen_addr(url, &a)) {
    MG_ERROR("cannot listen on [%s]: bad address", url ? url : "");
    return NULL;
  }
  if ((c = mg_alloc_conn(mgr)) == NULL) return NULL;
  c->loc = a;
  c->is_listening = 1;
  c->is_udp = is_udp_url(url);
  /* https://, wss://, mqtts://: a TLS listener (its accepted connections
   * start TLS with mg_tls_init in MG_EV_ACCEPT). */
  c->is_tls = !c->is_udp && mg_url_is_ssl(url);
  if (!mgr->net->listen(c)) {
    MG_ERROR("cannot listen on [%s]", url);
    mg_free_conn(c);
    return NULL;
  }
  c->fn = fn;
  c->fn_data = fn_data;
  mg_add_conn(c);
  mg_call(c, MG_EV_OPEN, NULL);
  return c;
}

struct mg_connection *mg_connect(struct mg_mgr *mgr, const char *url,
                                 mg_event_handler_t fn, void *fn_data) {
  struct mg_connection *c;
  if (mgr->net == NULL || url == NULL || mg_url_host(url).len == 0) {
    MG_ERROR("cannot connect to [%s]", url ? url : "");
    return NULL;
  }
  if ((c = mg_alloc_conn(mgr)) == NULL) return NULL;
  c->is_client = 1;
  c->is_udp = is_udp_url(url);
  c->fn = fn;
  c->fn_data = fn_data;
  mg_add_conn(c);
  if (!c->is_udp) mg_tls_set_host(c, mg_url_host(url)); /* for tls_init */
  mg_call(c, MG_EV_OPEN, NULL);
  mg_resolve(c, url);
  return c;
}

void mg_connect_done(struct mg_connection *c) {
  c->is_connecting = 0;
  mg_call(c, MG_EV_CONNECT, NULL);
}

/* ---- Backpressure ---- */

void mg_mgr_set_send_marks(struct mg_mgr *mgr, size_t high, size_t low) {
  mgr->send_high = high;
  mgr->send_low = low < high ? low : high;
}

void mg_set_send_marks(struct mg_connection *c, size_t high, size_t low) {
  c->send_high = high;
  c->send_low = low;
  mg_send_backlogged(c); /* new marks apply at once */
}

/* The manager's marks apply to accepted connections only: an outbound one
 * that queued a large upload must keep reading its answers, or two ends in
 * one process could each wait for the other to read. Marks set on a
 * connection itself always apply. */
size_t mg_send_high(const struct mg_connection *c) {
  if (c->send_high != 0) return c->send_high;
  return c->is_client ? 0 : c->mgr->send_high;
}

size_t mg_send_low(const struct mg_connection *c) {
  size_t high = mg_send_high(c);
  size_t low = c->send_low != 0 ? c->send_low : c->mgr->send_low;
  return low < high ? low : high;
}

bool mg_send_backlogged(struct mg_connection *c) {
  size_t high = mg_send_high(c);
  if (high == 0 || c->is_listening || c->is_udp) {
    c->is_throttled = 0;
  } else if (c->send.len >= high) {
    c->is_throttled = 1;
  } else if (c->send.len <= mg_send_low(c)) {
    c->is_throttled = 0; /* hysteresis: resume only once well drained */
  }
  c->is_full = c->recv.len >= MG_MAX_RECV_SIZE || c->is_throttled;
  return c->is_throttled;
}
