/* The asynchronous resolver behind mg_resolve(): one UDP connection per
 * manager to the configured server, a list of pending lookups keyed by the
 * resolving connection's id (so a connection may close while its lookup is
 * in flight), retries driven by a manager timer that runs only while
 * lookups are pending. State lives in mgr->dns and
 * is owned by the UDP connection: it is freed when that connection closes. */
#include "mg.h"

#if MG_ENABLE_DNS

#include <stdlib.h>
#include <string.h>

struct dns_req {
  struct dns_req *next;
  unsigned long conn_id;
  uint64_t expire;
  uint16_t txid;
  uint16_t qtype;
  uint8_t tries;
  char name[256];
};

struct dns_state {
  struct mg_connection *udp;
  struct mg_timer *timer;
  struct dns_req *reqs;
  unsigned timeout_ms, retries;
  char server[72];
};

static void dns_fn(struct mg_connection *c, int ev, void *ev_data);

static void fail(struct mg_connection *c, const char *name) {
  c->is_resolving = 0;
  mg_error(c, "%s DNS lookup failed", name);
}

static void req_unlink(struct dns_state *st, struct dns_req *r) {
  struct dns_req **p;
  for (p = &st->reqs; *p != NULL; p = &(*p)->next) {
    if (*p == r) {
      *p = r->next;
      break;
    }
  }
  free(r);
}

static void send_query(struct dns_state *st, struct dns_req *r) {
  uint8_t buf[300];
  size_t n;
  uint16_t txid;
  if (!mg_random(&txid, sizeof(txid))) txid = (uint16_t) (mg_millis() ^ 0x5aa5);
  r->txid = txid;
  r->tries++;
  r->expire = mg_millis() + st->timeout_ms;
  n = mg_dns_query(buf, sizeof(buf), txid, mg_str(r->name), r->qtype);
  if (n > 0 && st->udp != NULL) mg_send(st->udp, buf, n);
}

static void timer_fn(void *arg) {
  struct mg_mgr *mgr = (struct mg_mgr *) arg;
  struct dns_state *st = (struct dns_state *) mgr->dns;
  struct dns_req *r, *next;
  uint64_t now = mg_millis();
  if (st == NULL) return;
  for (r = st->reqs; r != NULL; r = next) {
    struct mg_connection *c = mg_conn_by_id(mgr, r->conn_id);
    next = r->next;
    if (c == NULL || c->is_closing || !c->is_resolving) {
      req_unlink(st, r);
    } else if (now >= r->expire) {
      if (r->tries > st->retries) {
        char name[256];
        memcpy(name, r->name, sizeof(name));
        req_unlink(st, r);
        fail(c, name);
      } else {
        send_query(st, r);
      }
    }
  }
  /* Idle resolvers do not wake the event loop. */
  if (st->reqs == NULL && st->timer != NULL) {
    mg_timer_cancel(st->timer);
    st->timer = NULL;
  }
}

/* Creates the state with its UDP connection to the server. */
static struct dns_state *dns_open(struct mg_mgr *mgr, const char *server) {
  struct dns_state *st = (struct dns_state *) calloc(1, sizeof(*st));
  if (st == NULL) return NULL;
  mg_snprintf(st->server, sizeof(st->server), "%s", server);
  st->timeout_ms = MG_DNS_TIMEOUT_MS;
  st->retries = MG_DNS_RETRIES;
  mgr->dns = st;
  st->udp = mg_connect(mgr, st->server, dns_fn, mgr);
  if (st->udp == NULL || st->udp->is_closing) {
    if (st->udp != NULL) st->udp->fn_data = NULL; /* let it close alone */
    mgr->dns = NULL;
    free(st);
    return NULL;
  }
  return st;
}

static void dns_free(struct mg_mgr *mgr, struct dns_state *st) {
  struct dns_req *r;
  if (mgr->dns == st) mgr->dns = NULL;
  if (st->timer != NULL) mg_timer_cancel(st->timer);
  /* Lookups in flight cannot finish any more. */
  while ((r = st->reqs) != NULL) {
    struct mg_connection *c = mg_conn_by_id(mgr, r->conn_id);
    st->reqs = r->next;
    if (c != NULL && !c->is_closing && c->is_resolving) fail(c, r->name);
    free(r);
  }
  free(st);
}

static void on_answer(struct mg_mgr *mgr, struct dns_state *st,
                      const uint8_t *buf, size_t len) {
  struct mg_dns_answer a;
  struct dns_req *r;
  struct mg_connection *c;
  if (!mg_dns_parse(buf, len, &a)) return; /* garbage: wait for a retry */
  for (r = st->reqs; r != NULL; r = r->next)
    if (r->txid == a.txid && r->qtype == a.qtype &&
        mg_strcasecmp(mg_str(r->name), mg_str(a.qname)) == 0)
      break;
  if (r == NULL) return; /* not ours (late, spoofed, or for a cancelled one) */
  c = mg_conn_by_id(mgr, r->conn_id);
  if (c == NULL || c->is_closing || !c->is_resolving) {
    req_unlink(st, r);
    return;
  }
  if (a.found) {
    uint16_t port = c->rem.port;
    req_unlink(st, r);
    c->rem = a.addr;
    c->rem.port = port;
    mg_resolve_done(c);
  } else if (a.rcode == 0 && !a.truncated && r->qtype == MG_DNS_TYPE_A) {
    /* The name exists without an IPv4 address: ask for IPv6. */
    r->qtype = MG_DNS_TYPE_AAAA;
    r->tries = 0;
    send_query(st, r);
  } else {
    char name[256];
    memcpy(name, r->name, sizeof(name));
    req_unlink(st, r);
    fail(c, name);
  }
}

static void dns_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct mg_mgr *mgr = (struct mg_mgr *) c->fn_data;
  struct dns_state *st = mgr != NULL ? (struct dns_state *) mgr->dns : NULL;
  (void) ev_data;
  if (st == NULL || st->udp != c) {
    if (ev == MG_EV_READ) c->recv.len = 0;
    return;
  }
  if (ev == MG_EV_READ) {
    on_answer(mgr, st, c->recv.buf, c->recv.len);
    c->recv.len = 0; /* one datagram per read */
  } else if (ev == MG_EV_CLOSE) {
    st->udp = NULL;
    dns_free(mgr, st);
  }
}

static bool numeric_server(const char *url) {
  struct mg_str host = mg_url_host(url);
  struct mg_addr a;
  if (host.len >= 2 && host.buf[0] == '[')
    host = mg_str_n(host.buf + 1, host.len - 2);
  return strncmp(url, "udp://", 6) == 0 && mg_aton(host, &a);
}

bool mg_dns_set_server(struct mg_mgr *mgr, const char *url,
                       unsigned timeout_ms, unsigned retries) {
  struct dns_state *st = (struct dns_state *) mgr->dns;
  if (url == NULL || !numeric_server(url) || strlen(url) >= sizeof(st->server))
    return false;
  if (st != NULL && strcmp(st->server, url) != 0) {
    struct mg_connection *old = st->udp;
    struct mg_connection *nc = mg_connect(mgr, url, dns_fn, mgr);
    if (nc == NULL || nc->is_closing) return false;
    /* Pending lookups move to the new server on their next retry. */
    st->udp = nc;
    mg_snprintf(st->server, sizeof(st->server), "%s", url);
    if (old != NULL) mg_close_conn(old);
  } else if (st == NULL && (st = dns_open(mgr, url)) == NULL) {
    return false;
  }
  st->timeout_ms = timeout_ms ? timeout_ms : MG_DNS_TIMEOUT_MS;
  st->retries = timeout_ms ? retries : MG_DNS_RETRIES;
  return true;
}

/* RFC 6761: names under .invalid never resolve, so no query is sent. */
static bool special_invalid(struct mg_str h) {
  if (h.len > 0 && h.buf[h.len - 1] == '.') h.len--;
  return mg_str_ieq(h, "invalid") ||
         (h.len > 8 && mg_str_ieq(mg_str_n(h.buf + h.len - 8, 8), ".invalid"));
}

void mg_dns_start(struct mg_connection *c, struct mg_str host) {
  struct dns_state *st = (struct dns_state *) c->mgr->dns;
  struct dns_req *r;
  char name[256];
  uint8_t probe[300];
  mg_snprintf(name, sizeof(name), "%.*s", (int) host.len, host.buf);
  if (host.len == 0 || host.len > 253 || special_invalid(host) ||
      mg_dns_query(probe, sizeof(probe), 0, host, MG_DNS_TYPE_A) == 0) {
    fail(c, name);
    return;
  }
  if (st == NULL) {
    char server[72];
    if (!mg_arch_dns_server(server, sizeof(server)) || !numeric_server(server))
      mg_snprintf(server, sizeof(server), "%s", MG_DNS_DEFAULT_SERVER);
    if (server[0] == '\0') {
      MG_ERROR("no DNS server configured");
      fail(c, name);
      return;
    }
    st = dns_open(c->mgr, server);
  }
  if (st == NULL || (r = (struct dns_req *) calloc(1, sizeof(*r))) == NULL) {
    fail(c, name);
    return;
  }
  memcpy(r->name, name, sizeof(r->name));
  r->conn_id = c->id;
  r->qtype = MG_DNS_TYPE_A;
  r->next = st->reqs;
  st->reqs = r;
  if (st->timer == NULL)
    st->timer = mg_timer_add(c->mgr, 100,
                             MG_TIMER_REPEAT | MG_TIMER_AUTODELETE, timer_fn,
                             c->mgr);
  send_query(st, r);
}

void mg_dns_cancel(struct mg_connection *c) {
  struct dns_state *st = (struct dns_state *) c->mgr->dns;
  struct dns_req *r, *next;
  if (st == NULL) return;
  for (r = st->reqs; r != NULL; r = next) {
    next = r->next;
    if (r->conn_id == c->id) req_unlink(st, r);
  }
}

#endif /* MG_ENABLE_DNS */
