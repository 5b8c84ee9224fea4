/* The built-in stack as a manager transport: two managers, each on its own
 * stack, joined by the in-memory link. The same mg_listen/mg_connect/mg_send
 * code as on kernel sockets: TCP echo of 300 KB, an HTTP server answering a
 * 100 KB body, UDP echo, and a refused connect reported as an error. */
#include "mg.h"
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
#define ECHO_LEN (300 * 1024)
#define BODY_LEN (100 * 1024)

struct client {
  size_t sent, got;
  bool bad, done, connected, error, closed;
  struct mg_iobuf http;
};

static uint8_t pat(size_t i) {
  return (uint8_t) ((i * 7 + (i >> 9)) & 0xff);
}

static void echo_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_READ) {
    if (c->is_udp) {
      mg_send(c, c->recv.buf, c->recv.len);
    } else {
      mg_send(c, c->recv.buf, c->recv.len);
    }
    c->recv.len = 0;
  }
}

static int s_wakeups;
static void wake_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) c;
  if (ev == MG_EV_WAKEUP) {
    struct mg_str *m = (struct mg_str *) ev_data;
    if (m->len == 5 && memcmp(m->buf, "knock", 5) == 0) s_wakeups++;
  }
}

static char *s_body;
static void http_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_HTTP_MSG) {
    (void) ev_data;
    mg_http_reply_n(c, 200, "Content-Type: application/octet-stream\r\n",
                    s_body, BODY_LEN);
  }
}

static void echo_client(struct mg_connection *c, int ev, void *ev_data) {
  struct client *cl = (struct client *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    uint8_t *buf = (uint8_t *) malloc(ECHO_LEN);
    size_t i;
    for (i = 0; i < ECHO_LEN; i++) buf[i] = pat(i);
    mg_send(c, buf, ECHO_LEN);
    free(buf);
    cl->connected = true;
  } else if (ev == MG_EV_READ) {
    size_t i;
    for (i = 0; i < c->recv.len; i++)
      if (c->recv.buf[i] != pat(cl->got + i)) cl->bad = true;
    cl->got += c->recv.len;
    c->recv.len = 0;
    if (cl->got == ECHO_LEN) {
      cl->done = true;
      c->is_draining = 1;
    }
  } else if (ev == MG_EV_ERROR) {
    cl->error = true;
  } else if (ev == MG_EV_CLOSE) {
    cl->closed = true;
  }
}

static void raw_http_client(struct mg_connection *c, int ev, void *ev_data) {
  struct client *cl = (struct client *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    mg_printf(c, "GET /blob HTTP/1.1\r\nHost: device\r\n\r\n");
  } else if (ev == MG_EV_READ) {
    mg_iobuf_add(&cl->http, cl->http.len, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  } else if (ev == MG_EV_CLOSE) {
    cl->closed = true;
  }
}

static void udp_client(struct mg_connection *c, int ev, void *ev_data) {
  struct client *cl = (struct client *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    mg_send(c, "ping over udp", 13);
  } else if (ev == MG_EV_READ) {
    cl->done = c->recv.len == 13 && memcmp(c->recv.buf, "ping over udp", 13) == 0;
    c->recv.len = 0;
  }
}

static void refused_client(struct mg_connection *c, int ev, void *ev_data) {
  struct client *cl = (struct client *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_ERROR)
    cl->error = strcmp((const char *) ev_data, "connection refused") == 0;
  if (ev == MG_EV_CONNECT) cl->connected = true;
}

static bool http_ok(struct client *cl) {
  const char *p = (const char *) cl->http.buf, *end;
  size_t i;
  if (cl->http.len < 12 || memcmp(p, "HTTP/1.1 200", 12) != 0) return false;
  end = strstr(p, "\r\n\r\n");
  if (end == NULL) return false;
  end += 4;
  if (cl->http.len - (size_t) (end - p) != BODY_LEN) return false;
  for (i = 0; i < BODY_LEN; i++)
    if ((uint8_t) end[i] != pat(i)) return false;
  return true;
}

/* Without Linux TAP (other POSIX systems, the portable profile) the driver
 * still exists and refuses to come up, instead of the build failing. */
static void test_tap_unavailable(void) {
#if MG_ARCH == MG_ARCH_POSIX && !MG_LINUX
  static struct mg_tap tap;
  static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
  memset(&tap, 0, sizeof(tap));
  CHECK(!mg_driver_tap.init(&tap, mac));
#endif
}

int main(void) {
  static struct mg_link link;
  static struct mg_link_end ea = {&link, 0}, eb = {&link, 1};
  static struct mg_tcpip_if a, b;
  struct mg_mgr ma, mb;
  struct client echo, http, udp, refused;
  uint64_t deadline;
  char ipbuf[20], url[64];
  size_t i;
  memset(&echo, 0, sizeof(echo));
  memset(&http, 0, sizeof(http));
  memset(&udp, 0, sizeof(udp));
  memset(&refused, 0, sizeof(refused));
  s_body = (char *) malloc(BODY_LEN);
  for (i = 0; i < BODY_LEN; i++) s_body[i] = (char) pat(i);

  mg_link_init(&link, 11);
  link.clock = mg_millis;
  memcpy(a.mac, MAC_US, 6);
  memcpy(b.mac, MAC_PEER, 6);
  a.ip = IP(10, 0, 0, 1);
  b.ip = IP(10, 0, 0, 2);
  a.mask = b.mask = IP(255, 255, 255, 0);
  CHECK(link_manager(&a, &ea, &ma));
  CHECK(link_manager(&b, &eb, &mb));
  mg_mgr_poll(&ma, 0);
  mg_mgr_poll(&mb, 0);

  CHECK(mg_listen(&ma, "tcp://0.0.0.0:7", echo_fn, NULL) != NULL);
  CHECK(mg_listen(&ma, "tcp://0.0.0.0:7", echo_fn, NULL) == NULL); /* in use */
  CHECK(mg_listen(&ma, "udp://0.0.0.0:9", echo_fn, NULL) != NULL);
  CHECK(mg_http_listen(&ma, "http://0.0.0.0:80", http_fn, NULL) != NULL);
  mg_tcpip_ntoa(a.ip, ipbuf, sizeof(ipbuf));
  CHECK(strcmp(ipbuf, "10.0.0.1") == 0);
  mg_snprintf(url, sizeof(url), "tcp://%s:7", ipbuf);
  CHECK(mg_connect(&mb, url, echo_client, &echo) != NULL);
  CHECK(mg_connect(&mb, "tcp://10.0.0.1:80", raw_http_client, &http) != NULL);
  CHECK(mg_connect(&mb, "udp://10.0.0.1:9", udp_client, &udp) != NULL);
  CHECK(mg_connect(&mb, "tcp://10.0.0.1:4444", refused_client, &refused) !=
        NULL);

  deadline = mg_millis() + 20000;
  while (mg_millis() < deadline &&
         !(echo.closed && http.closed && udp.done && refused.error)) {
    mg_mgr_poll(&ma, 0);
    mg_mgr_poll(&mb, 0);
    if (http.http.len > 0 && http_ok(&http)) {
      /* the server keeps the connection alive: close it from our side */
      struct mg_connection *c;
      for (c = mb.conns; c != NULL; c = c->next)
        if (c->fn == raw_http_client) c->is_closing = 1;
    }
  }
  CHECK(echo.connected && echo.done && !echo.bad && echo.got == ECHO_LEN);
  CHECK(echo.closed && !echo.error);
  CHECK(http_ok(&http));
  CHECK(udp.done);
  CHECK(refused.error && !refused.connected);
  printf("  echo %zu bytes, http %zu bytes, A: %u frames out, %u rst\n",
         echo.got, http.http.len, a.stats.tx_frames, a.stats.tcp_rst_sent);
  /* A socket manager (with its wakeup channel) moves onto a stack. */
  {
    struct mg_mgr mc;
    static struct mg_link l2;
    static struct mg_link_end e2 = {&l2, 0};
    static struct mg_tcpip_if c2;
    struct mg_connection *w;
    int k;
    mg_link_init(&l2, 3);
    memcpy(c2.mac, MAC_US, 6);
    c2.ip = IP(10, 0, 0, 9);
    c2.driver = &mg_driver_link;
    c2.driver_data = &e2;
    CHECK(mg_tcpip_init(&c2));
    mg_mgr_init(&mc);
    CHECK(mg_wakeup_init(&mc));
    CHECK(mg_tcpip_use(&mc, &c2));
    CHECK(mc.net == &mg_net_stack && mc.net_data == &c2);
    w = mg_listen(&mc, "udp://0.0.0.0:5556", wake_fn, NULL);
    CHECK(w != NULL && mg_wakeup(&mc, w->id, "knock", 5));
    for (k = 0; k < 20 && s_wakeups == 0; k++) mg_mgr_poll(&mc, 10);
    CHECK(s_wakeups == 1);
    CHECK(!mg_tcpip_use(&mc, &c2)); /* has connections now */
    mg_mgr_free(&mc);
    s_wakeups = 0;
  }
  /* Cross-thread wakeups work on the stack transport too. */
  {
    struct mg_connection *w = mg_listen(&ma, "udp://0.0.0.0:5555", wake_fn, NULL);
    int k;
    CHECK(w != NULL && mg_wakeup_init(&ma));
    CHECK(w != NULL && mg_wakeup(&ma, w->id, "knock", 5));
    for (k = 0; k < 20 && s_wakeups == 0; k++) mg_mgr_poll(&ma, 10);
    CHECK(s_wakeups == 1);
  }
  mg_mgr_free(&ma);
  mg_mgr_free(&mb);
  mg_iobuf_free(&http.http);
  free(s_body);
  test_tap_unavailable();
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
