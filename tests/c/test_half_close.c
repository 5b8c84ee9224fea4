/* TCP half-close through the core, on kernel sockets and on the built-in
 * stack alike:
 *  - a peer that sends its request and ends its stream at once still gets
 *    the whole answer its handler queued (1 MiB: more than one write), as
 *    the end of its stream is not a reset;
 *  - with c->is_half_close the server keeps the connection after the
 *    client's end (c->is_eof), answers later, ends its own stream with
 *    mg_shutdown(), and the connection closes once both directions ended;
 *  - mg_shutdown() on the client sends everything queued before the FIN and
 *    keeps receiving. */
#include "mg.h"
#include "stack_harness.h"

#define BIG (1024 * 1024)

struct side {
  char got[64];
  size_t len, total;
  bool eof_seen, answered, closed, error;
  int polls_after_eof;
};

/* Moves what c received into s: the first sizeof(got) bytes are kept, all
 * are counted. */
static void take(struct side *s, struct mg_connection *c) {
  size_t n = c->recv.len;
  if (n > sizeof(s->got) - s->len) n = sizeof(s->got) - s->len;
  memcpy(s->got + s->len, c->recv.buf, n);
  s->len += n;
  s->total += c->recv.len;
  c->recv.len = 0;
}

/* Server of the default mode: answers each READ at once. */
static void quick_srv(struct mg_connection *c, int ev, void *ev_data) {
  struct side *s = (struct side *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_READ) {
    static char filler[BIG];
    mg_printf(c, "pong:%.*s", (int) c->recv.len, (char *) c->recv.buf);
    mg_send(c, filler, sizeof(filler));
    c->recv.len = 0;
  } else if (ev == MG_EV_CLOSE && c->is_accepted) {
    s->closed = true;
  }
}

/* Server of the half-close mode: collects the request until the client's
 * end, answers a few polls later, then ends its own stream. */
static void late_srv(struct mg_connection *c, int ev, void *ev_data) {
  struct side *s = (struct side *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_ACCEPT) {
    c->is_half_close = 1;
  } else if (ev == MG_EV_READ) {
    take(s, c);
  } else if (ev == MG_EV_POLL && c->is_eof && !s->answered) {
    s->eof_seen = true;
    if (++s->polls_after_eof == 3) {
      mg_printf(c, "late:%.*s", (int) s->len, s->got);
      mg_shutdown(c);
      s->answered = true;
    }
  } else if (ev == MG_EV_CLOSE && c->is_accepted) {
    s->closed = true;
  }
}

static void client(struct mg_connection *c, int ev, void *ev_data) {
  struct side *s = (struct side *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    mg_send(c, "ping", 4);
    mg_shutdown(c); /* the FIN follows "ping" */
  } else if (ev == MG_EV_READ) {
    take(s, c);
  } else if (ev == MG_EV_ERROR) {
    s->error = true;
  } else if (ev == MG_EV_CLOSE) {
    s->closed = true;
  }
}

static void run(struct mg_mgr *ms, struct mg_mgr *mc, const char *listen_url,
                const char *connect_url, const char *name) {
  struct side srv, cli;
  struct mg_connection *l;
  uint64_t deadline;
  /* 1. Default: request + end of stream, the queued answer still arrives. */
  memset(&srv, 0, sizeof(srv));
  memset(&cli, 0, sizeof(cli));
  l = mg_listen(ms, listen_url, quick_srv, &srv);
  CHECK(l != NULL);
  if (l == NULL) return;
  CHECK(mg_connect(mc, connect_url, client, &cli) != NULL);
  deadline = mg_millis() + 5000;
  while (mg_millis() < deadline && !(cli.closed && srv.closed)) {
    mg_mgr_poll(ms, 1);
    if (mc != ms) mg_mgr_poll(mc, 1);
  }
  printf("  %s default: client got \"%.9s\" + %zu bytes\n", name, cli.got,
         cli.total - 9);
  CHECK(cli.total == 9 + BIG && memcmp(cli.got, "pong:ping", 9) == 0);
  CHECK(cli.closed && srv.closed && !cli.error);
  l->is_closing = 1;
  mg_mgr_poll(ms, 0);

  /* 2. Half-close: the server answers after the client's end. */
  memset(&srv, 0, sizeof(srv));
  memset(&cli, 0, sizeof(cli));
  l = mg_listen(ms, listen_url, late_srv, &srv);
  CHECK(l != NULL);
  if (l == NULL) return;
  CHECK(mg_connect(mc, connect_url, client, &cli) != NULL);
  deadline = mg_millis() + 5000;
  while (mg_millis() < deadline && !(cli.closed && srv.closed)) {
    mg_mgr_poll(ms, 1);
    if (mc != ms) mg_mgr_poll(mc, 1);
  }
  printf("  %s half-close: server got \"%.*s\", client got \"%.*s\"\n", name,
         (int) srv.len, srv.got, (int) cli.len, cli.got);
  CHECK(srv.eof_seen && srv.len == 4 && memcmp(srv.got, "ping", 4) == 0);
  CHECK(cli.total == 9 && memcmp(cli.got, "late:ping", 9) == 0);
  CHECK(cli.closed && srv.closed && !cli.error);
  l->is_closing = 1;
  mg_mgr_poll(ms, 0);
}

int main(void) {
#if MG_ENABLE_SOCKET
  {
    struct mg_mgr mgr;
    char url[64];
    struct mg_connection *probe;
    mg_mgr_init(&mgr);
    /* A free port: bind to 0, read it back, reuse it for both rounds. */
    probe = mg_listen(&mgr, "tcp://127.0.0.1:0", NULL, NULL);
    CHECK(probe != NULL);
    if (probe != NULL) {
      unsigned port = mg_ntohs(probe->loc.port);
      probe->is_closing = 1;
      mg_mgr_poll(&mgr, 0);
      mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
      run(&mgr, &mgr, url, url, "sockets");
    }
    mg_mgr_free(&mgr);
  }
#endif
#if MG_ENABLE_TCPIP
  {
    static struct mg_link link;
    static struct mg_link_end ea = {&link, 0}, eb = {&link, 1};
    static struct mg_tcpip_if a, b;
    struct mg_mgr ma, mb;
    mg_link_init(&link, 5);
    link.clock = mg_millis;
    memcpy(a.mac, MAC_US, 6);
    memcpy(b.mac, MAC_PEER, 6);
    a.ip = IP(10, 0, 0, 1);
    b.ip = IP(10, 0, 0, 2);
    a.mask = b.mask = IP(255, 255, 255, 0);
    CHECK(link_manager(&a, &ea, &ma));
    CHECK(link_manager(&b, &eb, &mb));
    run(&ma, &mb, "tcp://0.0.0.0:7", "tcp://10.0.0.1:7", "stack");
    mg_mgr_free(&ma);
    mg_mgr_free(&mb);
  }
#endif
  return TEST_REPORT();
}
