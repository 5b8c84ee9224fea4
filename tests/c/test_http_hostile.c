/* Hostile HTTP peers against the server, raw TCP clients over loopback in one
 * manager: a framing field past the header limit (431, nothing smuggled), a
 * response with too many fields (client error), bodies below the minimum rate
 * (408), junk refused at once (400), and the Host and version rules of
 * RFC 9112 (400, 505). */
#include <stdio.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

struct srv {
  uint32_t timeout_ms; /* request timeout for accepted connections, 0 = default */
  bool set_rate;       /* call mg_http_set_body_min_rate(rate) at accept */
  uint32_t rate;
  int msgs, errors;
  bool smuggled;
  char last_uri[32], last_error[64];
};

static void server_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct srv *s = (struct srv *) c->fn_data;
  if (ev == MG_EV_ACCEPT) {
    mg_http_set_request_timeout(c, s->timeout_ms);
    if (s->set_rate) mg_http_set_body_min_rate(c, s->rate);
  } else if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    s->msgs++;
    if (mg_str_eq(hm->uri, "/smuggled")) s->smuggled = true;
    mg_snprintf(s->last_uri, sizeof(s->last_uri), "%.*s", (int) hm->uri.len,
                hm->uri.buf);
    mg_http_reply(c, 200, "", "%.*s:%u", (int) hm->uri.len, hm->uri.buf,
                  (unsigned) hm->body.len);
  } else if (ev == MG_EV_ERROR) {
    s->errors++;
    mg_snprintf(s->last_error, sizeof(s->last_error), "%s", (char *) ev_data);
  }
}

/* A raw client: what it received, and whether the server closed. */
struct raw {
  struct mg_iobuf got;
  bool closed;
};

static void raw_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct raw *r = (struct raw *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_READ) {
    mg_iobuf_add(&r->got, r->got.len, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  } else if (ev == MG_EV_CLOSE) {
    r->closed = true;
  }
}

static char s_url[64];

static struct mg_connection *raw_open(struct mg_mgr *mgr, struct raw *r) {
  memset(r, 0, sizeof(*r));
  return mg_connect(mgr, s_url, raw_fn, r);
}

static bool has(struct raw *r, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= r->got.len; i++)
    if (memcmp(r->got.buf + i, s, n) == 0) return true;
  return false;
}

static bool starts(struct raw *r, const char *s) {
  return r->got.len >= strlen(s) && memcmp(r->got.buf, s, strlen(s)) == 0;
}

/* Polls until the server closed the connection, at most ms. */
static void until_closed(struct mg_mgr *mgr, struct raw *r, uint64_t ms) {
  uint64_t end = mg_millis() + ms;
  while (!r->closed && mg_millis() < end) mg_mgr_poll(mgr, 5);
}

static void polls(struct mg_mgr *mgr, int n) {
  for (int i = 0; i < n; i++) mg_mgr_poll(mgr, 5);
}

/* Sends req (len 0: strlen) on a fresh connection; returns once closed. */
static void exchange(struct mg_mgr *mgr, struct raw *r, const char *req, size_t len) {
  struct mg_connection *c = raw_open(mgr, r);
  mg_send(c, req, len ? len : strlen(req));
  until_closed(mgr, r, 2000);
}

static void done(struct mg_mgr *mgr, struct mg_connection *c, struct raw *r) {
  if (!r->closed && c != NULL) {
    mg_close_conn(c);
    mg_mgr_poll(mgr, 0);
  }
  mg_iobuf_free(&r->got);
}

/* ---- A framing field past the limit ---- */

static size_t many_fields(char *buf, size_t size, int fillers, const char *tail) {
  size_t n = (size_t) mg_snprintf(buf, size, "POST /first HTTP/1.1\r\nHost: h\r\n");
  for (int i = 0; i < fillers; i++)
    n += (size_t) mg_snprintf(buf + n, size - n, "X-F%d: v\r\n", i);
  n += (size_t) mg_snprintf(buf + n, size - n, "%s", tail);
  return n;
}

static void test_smuggling(struct mg_mgr *mgr, struct srv *s) {
  static char buf[16384];
  const char *tail =
      "Content-Length: 35\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
  struct raw r;
  int msgs = s->msgs, errors = s->errors;
  /* Host + fillers + Content-Length = limit + 1 fields. */
  size_t n = many_fields(buf, sizeof(buf), MG_MAX_HTTP_HEADERS - 1, tail);
  exchange(mgr, &r, buf, n);
  CHECK(r.closed && starts(&r, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  CHECK(s->msgs == msgs && !s->smuggled);
  CHECK(s->errors == errors + 1);
  CHECK(strcmp(s->last_error, "HTTP 431 Request Header Fields Too Large") == 0);
  done(mgr, NULL, &r);

  /* Exactly the limit: the last field frames the body, nothing smuggled. */
  n = many_fields(buf, sizeof(buf), MG_MAX_HTTP_HEADERS - 2, tail);
  struct mg_connection *c = raw_open(mgr, &r);
  mg_send(c, buf, n);
  for (int i = 0; i < 200 && !has(&r, "/first:35"); i++) mg_mgr_poll(mgr, 5);
  polls(mgr, 10);
  CHECK(has(&r, "/first:35") && !r.closed);
  CHECK(s->msgs == msgs + 1 && !s->smuggled);
  done(mgr, c, &r);
}

/* A server that answers anything with a response carrying too many fields. */
static void peer_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_READ && c->recv.len > 0) {
    c->recv.len = 0;
    mg_printf(c, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= MG_MAX_HTTP_HEADERS; i++) mg_printf(c, "X-%d: v\r\n", i);
    mg_printf(c, "Content-Length: 2\r\n\r\nok");
  }
}

struct cli {
  int msgs, errors;
  char error[64];
};

static void cli_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct cli *k = (struct cli *) c->fn_data;
  if (ev == MG_EV_CONNECT) {
    mg_printf(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  } else if (ev == MG_EV_HTTP_MSG) {
    k->msgs++;
  } else if (ev == MG_EV_ERROR) {
    k->errors++;
    mg_snprintf(k->error, sizeof(k->error), "%s", (char *) ev_data);
  }
}

static void test_client_too_many_fields(struct mg_mgr *mgr) {
  struct cli k;
  char url[64];
  memset(&k, 0, sizeof(k));
  struct mg_connection *lc = mg_listen(mgr, "tcp://127.0.0.1:0", peer_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "http://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  mg_http_connect(mgr, url, cli_fn, &k);
  for (int i = 0; i < 200 && k.errors == 0; i++) mg_mgr_poll(mgr, 5);
  CHECK(k.errors == 1 && k.msgs == 0);
  CHECK(strcmp(k.error, "bad HTTP response: too many header fields") == 0);
  polls(mgr, 5); /* the client closes */
  mg_close_conn(lc);
  polls(mgr, 2);
}

/* ---- Body rate ---- */

/* Sends a head with Content-Length total, then the body at bytes_per_s,
 * paced by the clock, until the server closes or the body is out and
 * answered; at most 3 s. */
static uint64_t trickle(struct mg_mgr *mgr, struct raw *r, struct srv *s,
                        size_t total, uint32_t bytes_per_s) {
  static char body[65536];
  char head[128];
  struct mg_connection *c = raw_open(mgr, r);
  uint64_t t0 = mg_millis();
  size_t sent = 0;
  int msgs = s->msgs;
  memset(body, 'b', sizeof(body));
  mg_snprintf(head, sizeof(head), "PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: %u\r\n\r\n",
              (unsigned) total);
  mg_send(c, head, strlen(head));
  while (!r->closed && s->msgs == msgs && mg_millis() - t0 < 3000) {
    size_t due = (size_t) ((mg_millis() - t0) * bytes_per_s / 1000);
    if (due > total) due = total;
    if (due > sent) {
      size_t k = due - sent < sizeof(body) ? due - sent : sizeof(body);
      mg_send(c, body, k);
      sent += k;
    }
    mg_mgr_poll(mgr, 5);
  }
  polls(mgr, 4); /* the reply */
  uint64_t took = mg_millis() - t0;
  done(mgr, c, r);
  return took;
}

static void test_body_rate(struct mg_mgr *mgr, struct srv *s) {
  struct raw r;
  int msgs = s->msgs, errors = s->errors;
  /* 200 ms windows, 2000 B/s: 400 bytes due per window. */
  s->timeout_ms = 200, s->set_rate = true, s->rate = 2000;
  /* 500 B/s: cut at the end of the first window, though bytes keep coming
   * (each read re-arms the request timeout). */
  uint64_t took = trickle(mgr, &r, s, 100000, 500);
  CHECK(took < 3000); /* cut, not still receiving at the 3 s bound */
  CHECK(s->msgs == msgs && s->errors == errors + 1);
  CHECK(strcmp(s->last_error, "HTTP body too slow") == 0);
  /* 20000 B/s over several windows is served. */
  trickle(mgr, &r, s, 20000, 20000);
  CHECK(s->msgs == msgs + 1 && s->errors == errors + 1);
  CHECK(strcmp(s->last_uri, "/up") == 0);
  /* With the check off (0) the slow body is served too. */
  s->timeout_ms = 500, s->rate = 0;
  trickle(mgr, &r, s, 300, 500);
  CHECK(s->msgs == msgs + 2 && s->errors == errors + 1);
  /* The default rate (MG_HTTP_BODY_MIN_RATE) is on without any call. */
  s->timeout_ms = 200, s->set_rate = false;
  trickle(mgr, &r, s, 100000, MG_HTTP_BODY_MIN_RATE / 4);
  CHECK(s->msgs == msgs + 2 && s->errors == errors + 2);
  CHECK(strcmp(s->last_error, "HTTP body too slow") == 0);
  /* A body that stops half-way, its first bytes waiting in recv, is a stall:
   * both checks see it at the end of the same window, and the request
   * timeout is the one that reports it, every time (5 tries: which check
   * ran first used to depend on the millisecond the poll woke in). */
  s->timeout_ms = 200, s->set_rate = true, s->rate = 2000;
  for (int i = 0; i < 5; i++) {
    struct mg_connection *c = raw_open(mgr, &r);
    uint64_t t0 = mg_millis();
    mg_printf(c, "PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc");
    while (!r.closed && mg_millis() - t0 < 3000) mg_mgr_poll(mgr, 1);
    CHECK(r.closed && starts(&r, "HTTP/1.1 408 "));
    CHECK(s->msgs == msgs + 2 && s->errors == errors + 3 + i);
    CHECK(strcmp(s->last_error, "HTTP request timeout") == 0);
    done(mgr, c, &r);
  }
  s->timeout_ms = 0;
}

/* ---- Junk, Host and version ---- */

static void expect_refusal(struct mg_mgr *mgr, struct srv *s, const char *req, size_t len,
                           const char *status) {
  struct raw r;
  int msgs = s->msgs;
  exchange(mgr, &r, req, len);
  /* The request timeout is the default 30 s: only an early answer is here. */
  CHECK(r.closed && starts(&r, status));
  if (!r.closed || !starts(&r, status)) printf("  refusal of %.20s\n", req);
  CHECK(s->msgs == msgs);
  done(mgr, NULL, &r);
}

static void test_junk(struct mg_mgr *mgr, struct srv *s) {
  static const char hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"
                              "0123456789abcdef0123456789abcdef\x00\x00\x02\x13\x01";
  char big[3000];
  expect_refusal(mgr, s, hello, sizeof(hello) - 1, "HTTP/1.1 400 ");
  expect_refusal(mgr, s, "\x00\x00\x00\x00", 4, "HTTP/1.1 400 ");
  expect_refusal(mgr, s, "SSH-2.0-OpenSSH_9.2p1\r\n", 0, "HTTP/1.1 400 ");
  expect_refusal(mgr, s, "GET / HTTP/1.1 extra\r\n", 0, "HTTP/1.1 400 ");
  expect_refusal(mgr, s, "GET / HTTP/1.1\r\nBad Name: v\r\n", 0, "HTTP/1.1 400 ");

  /* A request line longer than the bytes checked at every read: refused when
   * its line end arrives. */
  struct raw r;
  struct mg_connection *c = raw_open(mgr, &r);
  memset(big, 'a', sizeof(big));
  mg_send(c, "GET /", 5);
  mg_send(c, big, sizeof(big));
  polls(mgr, 20);
  CHECK(!r.closed && r.got.len == 0); /* may still become a request */
  mg_printf(c, " HTTP/1.1 junk\r\n");
  until_closed(mgr, &r, 2000);
  CHECK(r.closed && starts(&r, "HTTP/1.1 400 "));
  done(mgr, c, &r);

  /* Partial input that can still be a request waits, then is served. */
  c = raw_open(mgr, &r);
  mg_send(c, "GE", 2);
  polls(mgr, 20);
  mg_send(c, "T /pa HTTP/1.", 13);
  polls(mgr, 20);
  CHECK(!r.closed && r.got.len == 0);
  mg_printf(c, "1\r\nHost: h\r\n\r\n");
  for (int i = 0; i < 200 && !has(&r, "/pa:0"); i++) mg_mgr_poll(mgr, 5);
  CHECK(starts(&r, "HTTP/1.1 200 OK\r\n") && has(&r, "/pa:0"));
  done(mgr, c, &r);
}

static void test_host_and_version(struct mg_mgr *mgr, struct srv *s) {
  expect_refusal(mgr, s, "GET / HTTP/1.1\r\n\r\n", 0, "HTTP/1.1 400 Bad Request\r\n");
  expect_refusal(mgr, s, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0,
                 "HTTP/1.1 400 ");
  expect_refusal(mgr, s, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, "HTTP/1.1 400 ");
  expect_refusal(mgr, s, "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0,
                 "HTTP/1.1 505 HTTP Version Not Supported\r\n");
  expect_refusal(mgr, s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, "HTTP/1.1 505 ");
  /* HTTP/1.0 needs no Host. */
  struct raw r;
  int msgs = s->msgs;
  exchange(mgr, &r, "GET /old HTTP/1.0\r\n\r\n", 0);
  CHECK(starts(&r, "HTTP/1.1 200 OK\r\n") && has(&r, "/old:0"));
  CHECK(s->msgs == msgs + 1);
  done(mgr, NULL, &r);
}

int main(void) {
  struct mg_mgr mgr;
  struct srv s;
  memset(&s, 0, sizeof(s));
  mg_mgr_init(&mgr);
  struct mg_connection *lc = mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, &s);
  CHECK(lc != NULL);
  if (lc == NULL) return 1;
  mg_snprintf(s_url, sizeof(s_url), "tcp://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  test_smuggling(&mgr, &s);
  test_client_too_many_fields(&mgr);
  test_body_rate(&mgr, &s);
  test_junk(&mgr, &s);
  test_host_and_version(&mgr, &s);
  mg_mgr_free(&mgr);
  return TEST_REPORT();
}
