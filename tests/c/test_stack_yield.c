/* A full connection table under managers (docs/stack.md, "Full connection
 * table"): two managers on two stacks joined by the in-memory link. Server A
 * has an HTTP server and one connect of its own that is never answered;
 * client B fills every other slot of A with connections that send half a
 * request and then nothing. One more HTTP client from B is still served:
 * the silent connection quiet the longest is reset, A's handler sees it
 * close, the others and A's own connect stay. */
#include "mg.h"
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
#define NSILENT (MG_TCPIP_MAX_TCP - 1)

struct peer {
  bool connected, error, closed;
};

static int s_server_closed;
static void http_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_HTTP_MSG) {
    (void) ev_data;
    mg_http_reply(c, 200, "", "served");
  } else if (ev == MG_EV_CLOSE && !c->is_listening) {
    s_server_closed++;
  }
}

static void peer_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct peer *p = (struct peer *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    p->connected = true;
    mg_printf(c, "GET /info HTTP/1.1\r\n"); /* and never the rest */
  } else if (ev == MG_EV_ERROR) {
    p->error = true;
  } else if (ev == MG_EV_CLOSE) {
    p->closed = true;
  }
}

static struct mg_iobuf s_reply;
static bool s_reply_closed;
static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    mg_printf(c, "GET /info HTTP/1.1\r\nHost: a\r\n\r\n");
  } else if (ev == MG_EV_READ) {
    mg_iobuf_add(&s_reply, s_reply.len, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  } else if (ev == MG_EV_CLOSE) {
    s_reply_closed = true;
  }
}

static struct mg_mgr s_ma, s_mb;

static void poll_both(void) {
  mg_mgr_poll(&s_ma, 0);
  mg_mgr_poll(&s_mb, 0);
}

/* Polls until cond or 5 s have passed. */
#define POLL_UNTIL(cond)                               \
  do {                                                 \
    uint64_t end_ = mg_millis() + 5000;                \
    while (!(cond) && mg_millis() < end_) poll_both(); \
  } while (0)

static int used_slots(const struct mg_tcpip_if *ifp) {
  int i, n = 0;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++)
    n += ifp->tcp[i].state != MG_TCP_CLOSED;
  return n;
}

int main(void) {
  static struct mg_link link;
  static struct mg_link_end ea = {&link, 0}, eb = {&link, 1};
  static struct mg_tcpip_if a, b;
  static struct peer silent[NSILENT], own;
  struct mg_connection *own_c;
  int i, alive = 0;

  mg_link_init(&link, 5);
  link.clock = mg_millis;
  memcpy(a.mac, MAC_US, 6);
  memcpy(b.mac, MAC_PEER, 6);
  a.ip = IP(10, 0, 0, 1);
  b.ip = IP(10, 0, 0, 2);
  a.mask = b.mask = IP(255, 255, 255, 0);
  a.yield_idle_ms = 200; /* silent for 200 ms counts as idle (test speed) */
  CHECK(link_manager(&a, &ea, &s_ma));
  CHECK(link_manager(&b, &eb, &s_mb));
  poll_both();
  CHECK(mg_http_listen(&s_ma, "http://0.0.0.0:80", http_fn, NULL) != NULL);
  /* A's own connect: nobody has 10.0.0.77, it stays in SYN_SENT. */
  own_c = mg_connect(&s_ma, "tcp://10.0.0.77:1883", peer_fn, &own);
  CHECK(own_c != NULL);

  for (i = 0; i < NSILENT; i++) {
    uint64_t t0;
    CHECK(mg_connect(&s_mb, "tcp://10.0.0.1:80", peer_fn, &silent[i]) != NULL);
    POLL_UNTIL(silent[i].connected);
    CHECK(silent[i].connected);
    /* Let the half request arrive, and the clock move: distinct ages. */
    t0 = mg_millis();
    while (mg_millis() < t0 + 3) poll_both();
  }
  CHECK(used_slots(&a) == MG_TCPIP_MAX_TCP);
  CHECK(a.stats.tcp_yielded == 0 && s_server_closed == 0);

  CHECK(mg_connect(&s_mb, "tcp://10.0.0.1:80", client_fn, NULL) != NULL);
  POLL_UNTIL(s_reply.len >= 12 &&
             strstr((const char *) s_reply.buf, "served") != NULL);
  CHECK(s_reply.len >= 12 && memcmp(s_reply.buf, "HTTP/1.1 200", 12) == 0);
  POLL_UNTIL(silent[0].closed);
  CHECK(silent[0].closed);
  CHECK(a.stats.tcp_yielded == 1 && s_server_closed == 1);
  for (i = 1; i < NSILENT; i++) alive += !silent[i].closed && !silent[i].error;
  CHECK(alive == NSILENT - 1);
  CHECK(!own.error && !own.closed && !own.connected);
  printf("  %d slots, %u yielded, A sent %u RST\n", MG_TCPIP_MAX_TCP,
         a.stats.tcp_yielded, a.stats.tcp_rst_sent);
  mg_mgr_free(&s_ma);
  mg_mgr_free(&s_mb);
  mg_iobuf_free(&s_reply);
  (void) s_reply_closed;
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
