/* Unit tests of the core: buffers, addresses, URLs, timers, and the event
 * loop over loopback sockets (listen, connect, echo, close, wakeup). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

static void test_iobuf(void) {
  struct mg_iobuf io;
  mg_iobuf_init(&io, 0, 16);
  CHECK(io.buf == NULL && io.size == 0);
  CHECK(mg_iobuf_add(&io, 0, "world", 5) == 5);
  CHECK(io.size == 16 && io.len == 5);
  CHECK(mg_iobuf_add(&io, 0, "hello ", 6) == 6);
  CHECK(io.len == 11 && memcmp(io.buf, "hello world", 11) == 0);
  CHECK(mg_iobuf_del(&io, 0, 6) == 6);
  CHECK(io.len == 5 && memcmp(io.buf, "world", 5) == 0);
  CHECK(mg_iobuf_del(&io, 3, 100) == 2 && io.len == 3);
  CHECK(mg_iobuf_del(&io, 10, 1) == 0);
  CHECK(mg_iobuf_add(&io, 100, "!", 1) == 1 && io.buf[3] == '!'); /* clamps */
  mg_iobuf_free(&io);
  CHECK(io.buf == NULL && io.len == 0);
}

static void test_addr(void) {
  struct mg_addr a;
  char buf[64];
  CHECK(mg_aton(mg_str("127.0.0.1"), &a) && !a.is_ip6 && a.ip[0] == 127);
  CHECK(mg_aton(mg_str("10.1.2.3:8080"), &a) && mg_ntohs(a.port) == 8080);
  CHECK(!mg_aton(mg_str("256.1.1.1"), &a));
  CHECK(!mg_aton(mg_str("1.2.3"), &a));
  CHECK(!mg_aton(mg_str("example.com"), &a));
  CHECK(mg_aton(mg_str("::1"), &a) && a.is_ip6 && a.ip[15] == 1);
  CHECK(strcmp(mg_ntoa(&a, buf, sizeof(buf)),
               "0000:0000:0000:0000:0000:0000:0000:0001") == 0);
  CHECK(mg_aton(mg_str("[fe80::1:2]:443"), &a) && a.is_ip6 &&
        mg_ntohs(a.port) == 443 && a.ip[0] == 0xfe && a.ip[13] == 1 &&
        a.ip[15] == 2);
  CHECK(mg_aton(mg_str("::ffff:1.2.3.4"), &a) && a.ip[10] == 0xff &&
        a.ip[12] == 1 && a.ip[15] == 4);
  CHECK(!mg_aton(mg_str("1::2::3"), &a));
  CHECK(!mg_aton(mg_str("[::1]:99999"), &a));
  CHECK(mg_aton(mg_str("1.2.3.4"), &a) &&
        strcmp(mg_ntoa(&a, buf, sizeof(buf)), "1.2.3.4") == 0);
}

static void test_url(void) {
  CHECK(mg_url_port("http://a.b") == 80);
  CHECK(mg_url_port("https://a.b") == 443);
  CHECK(mg_url_port("mqtts://a.b") == 8883);
  CHECK(mg_url_port("example.com:99") == 99);
  CHECK(mg_url_port("udp://1.2.3.4") == 0);
  CHECK(mg_url_port_explicit("tcp://1.2.3.4:x") == -1);
  CHECK(mg_str_eq(mg_url_host("http://u:p@[::1]:80/x"), "[::1]"));
  CHECK(mg_str_eq(mg_url_user("http://u:p@h/x"), "u"));
  CHECK(mg_str_eq(mg_url_pass("http://u:p@h/x"), "p"));
  CHECK(mg_str_eq(mg_url_host("http://h?x=1"), "h?x=1"));
  CHECK(strcmp(mg_url_uri("http://h:1/a?b"), "/a?b") == 0);
  CHECK(strcmp(mg_url_uri("http://h"), "/") == 0);
  CHECK(mg_url_is_ssl("wss://h") && !mg_url_is_ssl("HTTPS://h"));
}

static int s_fired[3];
static void count_cb(void *arg) {
  (*(int *) arg)++;
}

static void test_timers(void) {
  struct mg_mgr mgr;
  struct mg_timer *once, *rep, *now;
  mg_mgr_init_net(&mgr, NULL); /* no I/O: timers only */
  once = mg_timer_add(&mgr, 0, MG_TIMER_ONCE | MG_TIMER_AUTODELETE, count_cb,
                      &s_fired[0]);
  rep = mg_timer_add(&mgr, 0, MG_TIMER_REPEAT | MG_TIMER_AUTODELETE, count_cb,
                     &s_fired[1]);
  now = mg_timer_add(&mgr, 100000, MG_TIMER_RUN_NOW | MG_TIMER_REPEAT,
                     count_cb, &s_fired[2]);
  CHECK(once != NULL && rep != NULL && now != NULL);
  mg_mgr_poll(&mgr, 0);
  mg_mgr_poll(&mgr, 0);
  mg_mgr_poll(&mgr, 0);
  CHECK(s_fired[0] == 1);  /* one-shot: exactly once */
  CHECK(s_fired[1] == 3);  /* 0 ms repeat: every poll */
  CHECK(s_fired[2] == 1);  /* run-now, then not due for 100 s */
  mg_timer_cancel(rep);
  mg_mgr_poll(&mgr, 0);
  CHECK(s_fired[1] == 3);
  mg_timer_free(&mgr, now); /* not auto-deleted: caller owns it */
  free(now);
  CHECK(mgr.timers == NULL);
  mg_mgr_free(&mgr);
}

/* Late repeating timers keep their phase when a little late and re-anchor
 * (no catch-up burst) when late by more than half a period. */
static void test_timer_lateness(void) {
  struct mg_mgr mgr;
  int n = 0;
  struct mg_timer *t;
  uint64_t t0;
  mg_mgr_init_net(&mgr, NULL);
  t = mg_timer_add(&mgr, 100, MG_TIMER_REPEAT, count_cb, &n);
  t0 = t->expire - 100;
  mg_timer_poll(&mgr, t0 + 260);
  CHECK(n == 1 && t->expire == t0 + 360); /* 160 ms late: re-anchored */
  mg_timer_poll(&mgr, t0 + 300);
  CHECK(n == 1);
  mg_timer_poll(&mgr, t0 + 360);
  CHECK(n == 2 && t->expire == t0 + 460);
  mg_timer_poll(&mgr, t0 + 480);
  CHECK(n == 3 && t->expire == t0 + 560); /* 20 ms late: phase kept */
  CHECK(mg_timer_poll(&mgr, t0 + 500) == 60); /* ms until the next one */
  mg_timer_free(&mgr, t);
  free(t);
  mg_mgr_free(&mgr);
}

/* ---- loop over loopback ---- */
struct echo_state {
  int accepted, connected, closed, errors, reads;
  char got[64];
  size_t got_len;
  uint16_t port; /* client: its local port once connected */
};

static void echo_server(struct mg_connection *c, int ev, void *ev_data) {
  struct echo_state *st = (struct echo_state *) c->fn_data;
  if (ev == MG_EV_ACCEPT) st->accepted++;
  if (ev == MG_EV_READ) {
    mg_send(c, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  }
  if (ev == MG_EV_CLOSE) st->closed++;
  (void) ev_data;
}

static void echo_client(struct mg_connection *c, int ev, void *ev_data) {
  struct echo_state *st = (struct echo_state *) c->fn_data;
  if (ev == MG_EV_CONNECT) {
    st->connected++;
    st->port = c->loc.port;
    mg_send(c, "ping", 4);
  }
  if (ev == MG_EV_READ) {
    size_t n = c->recv.len < sizeof(st->got) - st->got_len
                   ? c->recv.len
                   : sizeof(st->got) - st->got_len;
    memcpy(st->got + st->got_len, c->recv.buf, n);
    st->got_len += n;
    c->recv.len = 0;
    st->reads++;
    if (st->got_len >= 4) mg_close_conn(c); /* from inside its own handler */
  }
  if (ev == MG_EV_ERROR) st->errors++;
  if (ev == MG_EV_CLOSE) st->closed++;
  (void) ev_data;
}

static void test_echo(void) {
  struct mg_mgr mgr;
  struct echo_state srv, cli;
  struct mg_connection *lc, *cc;
  char url[64];
  int i;
  memset(&srv, 0, sizeof(srv));
  memset(&cli, 0, sizeof(cli));
  mg_mgr_init(&mgr);
  CHECK(mg_listen(&mgr, "tcp://300.0.0.1:0", NULL, NULL) == NULL);
  CHECK(mg_listen(&mgr, "tcp://127.0.0.1:notaport", NULL, NULL) == NULL);
  lc = mg_listen(&mgr, "tcp://127.0.0.1:0", echo_server, &srv);
  CHECK(lc != NULL && lc->is_listening && lc->loc.port != 0);
  if (lc == NULL) return;
  /* busy port must fail */
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  CHECK(mg_listen(&mgr, url, NULL, NULL) == NULL);
  cc = mg_connect(&mgr, url, echo_client, &cli);
  CHECK(cc != NULL && cc->is_client);
  for (i = 0; i < 200 && cli.closed == 0; i++) mg_mgr_poll(&mgr, 10);
  CHECK(srv.accepted == 1 && cli.connected == 1);
  CHECK(cli.got_len == 4 && memcmp(cli.got, "ping", 4) == 0);
  CHECK(cli.closed == 1);
  for (i = 0; i < 100 && srv.closed == 0; i++) mg_mgr_poll(&mgr, 10);
  CHECK(srv.closed == 1); /* server side saw the peer go away */
  mg_mgr_free(&mgr);
  CHECK(srv.closed == 2); /* listener closed by mg_mgr_free */
}

/* A manager without connections still waits for its timeout in poll (a
 * loop of mg_mgr_poll must not spin: WSAPoll refuses an empty set). */
static void test_idle_wait(void) {
  struct mg_mgr mgr;
  uint64_t t0;
  mg_mgr_init(&mgr);
  t0 = mg_millis();
  mg_mgr_poll(&mgr, 50);
  CHECK(mg_millis() - t0 >= 40);
  mg_mgr_free(&mgr);
}

/* UDP over loopback: a datagram to the listener comes back to its sender
 * (the listener answers whoever wrote last), each read is one datagram. */
static void test_udp_echo(void) {
  struct mg_mgr mgr;
  struct echo_state srv, cli;
  struct mg_connection *lc, *cc;
  char url[64];
  int i;
  memset(&srv, 0, sizeof(srv));
  memset(&cli, 0, sizeof(cli));
  mg_mgr_init(&mgr);
  lc = mg_listen(&mgr, "udp://127.0.0.1:0", echo_server, &srv);
  CHECK(lc != NULL && lc->is_udp && lc->loc.port != 0);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "udp://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  cc = mg_connect(&mgr, url, echo_client, &cli);
  CHECK(cc != NULL && cc->is_udp);
  for (i = 0; i < 200 && cli.closed == 0; i++) mg_mgr_poll(&mgr, 10);
  CHECK(cli.connected == 1 && cli.errors == 0 && cli.reads == 1);
  CHECK(cli.got_len == 4 && memcmp(cli.got, "ping", 4) == 0);
  CHECK(cli.closed == 1 && srv.closed == 0); /* the listener stays */
  CHECK(cli.port != 0 && lc->rem.port == cli.port); /* answered the sender */
  mg_mgr_free(&mgr);
}

/* A connection whose receive buffer reached its cap stops reading, and
 * resumes once a handler consumed the buffer (here: from MG_EV_POLL). */
struct full_state {
  size_t consumed;
  int saw_full;
};

static void full_server(struct mg_connection *c, int ev, void *ev_data) {
  struct full_state *st = (struct full_state *) c->fn_data;
  if (ev == MG_EV_POLL && c->is_full) {
    st->saw_full = 1;
    st->consumed += c->recv.len;
    c->recv.len = 0;
  }
  if (ev == MG_EV_CLOSE && !c->is_listening) {
    st->consumed += c->recv.len;
  }
  (void) ev_data;
}

static void full_client(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_CONNECT) {
    static char block[64 * 1024];
    int i;
    for (i = 0; i < 80; i++) mg_send(c, block, sizeof(block)); /* 5 MiB */
    c->is_draining = 1; /* close once everything is sent */
  }
  (void) ev_data;
}

static void test_full_resumes(void) {
  struct mg_mgr mgr;
  struct full_state st = {0, 0};
  struct mg_connection *lc;
  char url[64];
  int i;
  mg_mgr_init(&mgr);
  lc = mg_listen(&mgr, "tcp://127.0.0.1:0", full_server, &st);
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  mg_connect(&mgr, url, full_client, NULL);
  for (i = 0; i < 3000 && st.consumed < 80 * 64 * 1024; i++) mg_mgr_poll(&mgr, 5);
  CHECK(st.saw_full == 1);
  CHECK(st.consumed == 80 * 64 * 1024);
  mg_mgr_free(&mgr);
}

/* A bulk receiver gets several reads per poll iteration while data keeps
 * coming (not one MG_IO_SIZE read), but never more than MG_READ_BURST. */
struct burst_state {
  size_t total, this_poll, most_bytes;
  int reads, most_reads;
};

static void burst_server(struct mg_connection *c, int ev, void *ev_data) {
  struct burst_state *st = (struct burst_state *) c->fn_data;
  if (c->is_listening) return;
  if (ev == MG_EV_READ) {
    st->reads++;
    st->this_poll += c->recv.len;
    st->total += c->recv.len;
    c->recv.len = 0; /* consumed: the buffer need not grow */
  }
  if (ev == MG_EV_POLL) {
    if (st->reads > st->most_reads) st->most_reads = st->reads;
    if (st->this_poll > st->most_bytes) st->most_bytes = st->this_poll;
    st->reads = 0;
    st->this_poll = 0;
  }
  (void) ev_data;
}

static void test_read_burst(void) {
  struct mg_mgr mgr;
  struct burst_state st;
  struct mg_connection *lc;
  char url[64];
  int i;
  memset(&st, 0, sizeof(st));
  mg_mgr_init(&mgr);
  lc = mg_listen(&mgr, "tcp://127.0.0.1:0", burst_server, &st);
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  mg_connect(&mgr, url, full_client, NULL); /* sends 5 MiB, then closes */
  for (i = 0; i < 3000 && st.total < 80 * 64 * 1024; i++) mg_mgr_poll(&mgr, 5);
  CHECK(st.total == 80 * 64 * 1024);
  CHECK(st.most_bytes > MG_IO_SIZE);
  CHECK(st.most_reads > 1 && st.most_reads <= MG_READ_BURST);
  mg_mgr_free(&mgr);
}

static void test_refused(void) {
  struct mg_mgr mgr;
  struct echo_state cli;
  struct mg_connection *lc;
  char url[64];
  int i;
  memset(&cli, 0, sizeof(cli));
  mg_mgr_init(&mgr);
  /* Find a free port by listening and closing. */
  lc = mg_listen(&mgr, "tcp://127.0.0.1:0", NULL, NULL);
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  mg_close_conn(lc);
  mg_mgr_poll(&mgr, 0);
  mg_connect(&mgr, url, echo_client, &cli);
  for (i = 0; i < 200 && cli.closed == 0; i++) mg_mgr_poll(&mgr, 10);
  CHECK(cli.errors == 1 && cli.closed == 1 && cli.connected == 0);
  mg_mgr_free(&mgr);
}

struct wake_state {
  int count;
  size_t total;
  int in_order;
};

static void wake_handler(struct mg_connection *c, int ev, void *ev_data) {
  struct wake_state *ws = (struct wake_state *) c->fn_data;
  if (ev == MG_EV_WAKEUP) {
    struct mg_str *s = (struct mg_str *) ev_data;
    int seq = 0;
    if (s->len >= sizeof(seq)) memcpy(&seq, s->buf, sizeof(seq));
    if (seq != ws->count) ws->in_order = 0;
    ws->count++;
    ws->total += s->len;
  }
}

struct thread_arg {
  struct mg_mgr *mgr;
  unsigned long id;
};

static void *wake_thread(void *p) {
  struct thread_arg *ta = (struct thread_arg *) p;
  static char big[100000];
  int i;
  for (i = 0; i < 1000; i++) {
    size_t len = (i % 100 == 0) ? sizeof(big) : 8;
    memcpy(big, &i, sizeof(i));
    mg_wakeup(ta->mgr, ta->id, big, len);
  }
  return NULL;
}

static void test_wakeup(void) {
  struct mg_mgr mgr;
  struct wake_state ws = {0, 0, 1};
  struct mg_connection *lc;
  struct thread_arg ta;
  pthread_t th;
  int i;
  mg_mgr_init(&mgr);
  CHECK(!mg_wakeup(&mgr, 1, "x", 1)); /* no channel yet */
  CHECK(mg_wakeup_init(&mgr));
  CHECK(mgr.wakeup_conn != NULL && mgr.wakeup_conn->id == 1);
  lc = mg_listen(&mgr, "tcp://127.0.0.1:0", wake_handler, &ws);
  ta.mgr = &mgr;
  ta.id = lc->id;
  pthread_create(&th, NULL, wake_thread, &ta);
  for (i = 0; i < 2000 && ws.count < 1000; i++) mg_mgr_poll(&mgr, 50);
  pthread_join(th, NULL);
  mg_mgr_poll(&mgr, 0);
  CHECK(ws.count == 1000);
  CHECK(ws.in_order == 1);
  CHECK(ws.total == 10 * 100000 + 990 * 8);
  mg_mgr_free(&mgr);
}

int main(void) {
  test_iobuf();
  test_addr();
  test_url();
  test_timers();
  test_timer_lateness();
  test_idle_wait();
  test_echo();
  test_udp_echo();
  test_refused();
  test_full_resumes();
  test_read_burst();
  test_wakeup();
  return TEST_REPORT();
}
