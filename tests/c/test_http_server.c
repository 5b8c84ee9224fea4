/* HTTP server and client glue over loopback in one manager: keep-alive,
 * pipelining, chunked uploads, 100-continue, bad input, closing from inside
 * handlers, static files. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _WIN32
#include <io.h> /* _mktemp */
#endif

#include "mg.h"
#include "mg_test.h"


struct srv {
  int hdrs, msgs, reads, errors;
  char last_body[256];
  const char *root;
  bool close_in_hdrs, close_in_msg;
  struct mg_connection *deferred; /* replies to /defer* come later */
  int deferred_n;
};

/* After a takeover in MG_EV_HTTP_HDRS the body is raw bytes for this one. */
static size_t s_taken;
static void takeover_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_READ) {
    s_taken += c->recv.len;
    c->recv.len = 0;
    if (s_taken >= 10) mg_http_reply(c, 200, "", "took %u", (unsigned) s_taken);
  }
}

static void server_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct srv *s = (struct srv *) c->fn_data;
  if (ev == MG_EV_HTTP_HDRS) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    s->hdrs++;
    CHECK(hm->body.len == 0);
    if (s->close_in_hdrs) mg_close_conn(c);
    if (mg_str_eq(hm->uri, "/takeover")) {
      /* Stream the body ourselves, like a firmware upload handler. */
      size_t head = hm->head.len;
      c->pfn = NULL;
      c->fn = takeover_fn;
      mg_iobuf_del(&c->recv, 0, head);
      s_taken = c->recv.len;
      c->recv.len = 0;
    }
  } else if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    s->msgs++;
    size_t n = hm->body.len < sizeof(s->last_body) - 1 ? hm->body.len
                                                       : sizeof(s->last_body) - 1;
    memcpy(s->last_body, hm->body.buf, n);
    s->last_body[n] = '\0';
    if (mg_str_starts_with(hm->uri, "/defer", false)) {
      s->deferred = c;
      s->deferred_n++;
    } else if (mg_str_starts_with(hm->uri, "/static", false)) {
      struct mg_http_message copy = *hm;
      struct mg_http_serve_opts o = {s->root, NULL, NULL, NULL, NULL};
      copy.uri = mg_str_n(hm->uri.buf + 7, hm->uri.len - 7);
      mg_http_serve_dir(c, &copy, &o);
    } else {
      mg_http_reply(c, 200, "Content-Type: text/plain\r\n", "%.*s:%d",
                    (int) hm->uri.len, hm->uri.buf, (int) hm->body.len);
    }
    if (s->close_in_msg) mg_close_conn(c);
  } else if (ev == MG_EV_ACCEPT) {
    mg_http_set_request_timeout(c, 300);
  } else if (ev == MG_EV_READ) {
    s->reads++;
  } else if (ev == MG_EV_ERROR) {
    s->errors++;
  }
}

struct cli {
  const char *request;
  size_t request_len;
  int msgs, status, closed;
  char body[64];
  struct mg_iobuf raw; /* everything received, for raw checks */
  bool raw_mode;
};

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct cli *k = (struct cli *) c->fn_data;
  if (ev == MG_EV_CONNECT) {
    mg_send(c, k->request, k->request_len ? k->request_len : strlen(k->request));
  } else if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    k->msgs++;
    k->status = mg_http_status(hm);
    size_t n = hm->body.len < sizeof(k->body) - 1 ? hm->body.len : sizeof(k->body) - 1;
    memcpy(k->body, hm->body.buf, n);
    k->body[n] = '\0';
  } else if (ev == MG_EV_READ && k->raw_mode) {
    mg_iobuf_add(&k->raw, k->raw.len, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  } else if (ev == MG_EV_CLOSE) {
    k->closed = 1;
  }
}

static char s_url[64];

static struct mg_connection *s_client;

static void run(struct mg_mgr *mgr, struct cli *k, int until_msgs) {
  for (int i = 0; i < 300 && !k->closed && k->msgs < until_msgs; i++)
    mg_mgr_poll(mgr, 5);
}

/* Closes the current client so its handler data can go out of scope. */
static void done(struct mg_mgr *mgr, struct cli *k) {
  if (!k->closed) {
    mg_close_conn(s_client);
    mg_mgr_poll(mgr, 0);
  }
  mg_iobuf_free(&k->raw);
}

static struct mg_connection *client(struct mg_mgr *mgr, struct cli *k,
                                    const char *req) {
  memset(k, 0, sizeof(*k));
  k->request = req;
  return s_client = mg_http_connect(mgr, s_url, client_fn, k);
}

static struct mg_connection *raw_client(struct mg_mgr *mgr, struct cli *k,
                                        const char *req, size_t len) {
  memset(k, 0, sizeof(*k));
  k->request = req;
  k->request_len = len;
  k->raw_mode = true;
  return s_client = mg_connect(mgr, s_url, client_fn, k);
}

static bool raw_has(struct cli *k, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= k->raw.len; i++)
    if (memcmp(k->raw.buf + i, s, n) == 0) return true;
  return false;
}

static void test_basic(struct mg_mgr *mgr, struct srv *s) {
  struct cli k;
  client(mgr, &k, "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  run(mgr, &k, 1);
  CHECK(k.msgs == 1 && k.status == 200);
  CHECK(strcmp(k.body, "/hello:0") == 0);
  CHECK(s->hdrs >= 1);
  done(mgr, &k);

  /* Pipelined requests in one write are answered in order. */
  client(mgr, &k,
         "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
         "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
         "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         "4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n");
  run(mgr, &k, 3);
  CHECK(k.msgs == 3);
  CHECK(strcmp(k.body, "/c:9") == 0);
  CHECK(strcmp(s->last_body, "wikipedia") == 0);
  done(mgr, &k);
}

static void test_bad_input(struct mg_mgr *mgr, struct srv *s) {
  struct cli k;
  int errors = s->errors;
  raw_client(mgr, &k, "GARBAGE\r\n\r\n", 0);
  run(mgr, &k, 99);
  CHECK(k.closed && raw_has(&k, "HTTP/1.1 400 Bad Request"));
  CHECK(s->errors == errors + 1);
  done(mgr, &k);

  raw_client(mgr, &k,
             "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0);
  run(mgr, &k, 99);
  CHECK(k.closed && raw_has(&k, " 400 "));
  done(mgr, &k);

  raw_client(mgr, &k, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n", 0);
  run(mgr, &k, 99);
  CHECK(k.closed && raw_has(&k, " 413 "));
  done(mgr, &k);

  raw_client(mgr, &k, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0);
  run(mgr, &k, 99);
  CHECK(k.closed && raw_has(&k, " 400 "));
  done(mgr, &k);

  /* 100-continue: the interim response comes before the body is sent. */
  raw_client(mgr, &k,
             "PUT /u HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n", 0);
  for (int i = 0; i < 100 && !raw_has(&k, "100 Continue"); i++) mg_mgr_poll(mgr, 5);
  CHECK(raw_has(&k, "HTTP/1.1 100 Continue\r\n\r\n"));
  done(mgr, &k);
}

static void test_close_in_handlers(struct mg_mgr *mgr, struct srv *s) {
  struct cli k;
  s->close_in_hdrs = true;
  raw_client(mgr, &k, "GET /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n", 0);
  int msgs = s->msgs;
  run(mgr, &k, 99);
  CHECK(k.closed && s->msgs == msgs); /* no MSG after close in HDRS */
  done(mgr, &k);
  s->close_in_hdrs = false;

  s->close_in_msg = true;
  raw_client(mgr, &k, "GET /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n", 0);
  msgs = s->msgs;
  run(mgr, &k, 99);
  CHECK(k.closed && s->msgs == msgs + 1); /* pipelined rest dropped */
  done(mgr, &k);
  s->close_in_msg = false;
}

static void test_connection_close(struct mg_mgr *mgr, struct srv *s) {
  struct cli k;
  /* HTTP/1.0 without keep-alive: the server closes after the response. */
  raw_client(mgr, &k, "GET /ten HTTP/1.0\r\n\r\n", 0);
  run(mgr, &k, 99);
  CHECK(k.closed && raw_has(&k, "/ten:0"));
  done(mgr, &k);
  /* "Connection: close" ends the pipeline after its response. */
  raw_client(mgr, &k,
             "GET /one HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n", 0);
  run(mgr, &k, 99);
  CHECK(k.closed && raw_has(&k, "/one:0") && !raw_has(&k, "/two"));
  done(mgr, &k);
  /* HTTP/1.0 keep-alive stays open. */
  raw_client(mgr, &k, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0);
  for (int i = 0; i < 40; i++) mg_mgr_poll(mgr, 5);
  CHECK(!k.closed && raw_has(&k, "/ka:0"));
  done(mgr, &k);
  /* HEAD: the length of the GET, no body. */
  raw_client(mgr, &k, "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /g HTTP/1.1\r\nHost: h\r\n\r\n", 0);
  for (int i = 0; i < 100 && !raw_has(&k, "/g:0"); i++) mg_mgr_poll(mgr, 5);
  CHECK(raw_has(&k, "Content-Length: 4\r\n\r\nHTTP/1.1 200"));
  CHECK(!raw_has(&k, "/h:0"));
  done(mgr, &k);
  (void) s;
}

static void test_request_timeout(struct mg_mgr *mgr, struct srv *s) {
  struct cli k;
  int errors = s->errors;
  /* A head that never completes: 408 after the (300 ms) request timeout. */
  raw_client(mgr, &k, "GET /slow HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n", 0);
  uint64_t t0 = mg_millis();
  for (int i = 0; i < 400 && !k.closed; i++) mg_mgr_poll(mgr, 5);
  CHECK(k.closed && raw_has(&k, "HTTP/1.1 408 Request Timeout"));
  CHECK(mg_millis() - t0 >= 300);
  CHECK(s->errors == errors + 1);
  done(mgr, &k);
  /* An idle keep-alive connection with nothing pending is left open. */
  raw_client(mgr, &k, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", 0);
  t0 = mg_millis();
  while (mg_millis() - t0 < 500) mg_mgr_poll(mgr, 5);
  CHECK(!k.closed && raw_has(&k, "/ok:0"));
  done(mgr, &k);
}

static void test_deferred_replies(struct mg_mgr *mgr, struct srv *s) {
  struct cli k;
  /* Replies given after the handler returned still match their pipelined
   * request: HEAD gets no body, Connection: close closes after its reply. */
  s->deferred_n = 0;
  raw_client(mgr, &k,
             "GET /defer1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /defer2 HTTP/1.1\r\nHost: h\r\n\r\n"
             "GET /defer3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0);
  for (int i = 0; i < 100 && s->deferred_n < 3; i++) mg_mgr_poll(mgr, 5);
  CHECK(s->deferred_n == 3);
  if (s->deferred_n == 3) {
    mg_http_reply(s->deferred, 200, "", "one");
    mg_http_reply(s->deferred, 200, "", "two");
    mg_http_reply(s->deferred, 200, "", "three");
  }
  run(mgr, &k, 99);
  CHECK(k.closed);
  CHECK(raw_has(&k, "Content-Length: 3\r\n\r\noneHTTP/1.1 200 OK\r\n"
                    "Content-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\n"
                    "Content-Length: 5\r\n\r\nthree"));
  done(mgr, &k);
}

static void test_takeover_in_hdrs(struct mg_mgr *mgr, struct srv *s) {
  struct cli k;
  int msgs = s->msgs;
  raw_client(mgr, &k, "PUT /takeover HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", 0);
  for (int i = 0; i < 100 && !raw_has(&k, "took 10"); i++) mg_mgr_poll(mgr, 5);
  CHECK(raw_has(&k, "took 10") && s->msgs == msgs);
  done(mgr, &k);
}

static void write_file(const char *path, const char *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  if (fp == NULL) return;
  fwrite(data, 1, len, fp);
  fclose(fp);
}

static void test_static(struct mg_mgr *mgr, struct srv *s, const char *dir) {
  char path[256];
  struct cli k;
  size_t big = 3u * 1024u * 1024u + 17u;
  char *data = (char *) malloc(big);
  for (size_t i = 0; i < big; i++) data[i] = (char) ('a' + i % 26);
  mg_snprintf(path, sizeof(path), "%s/big.bin", dir);
  write_file(path, data, big);
  mg_snprintf(path, sizeof(path), "%s/index.html", dir);
  write_file(path, "<h1>hi</h1>", 11);
  s->root = dir;

  raw_client(mgr, &k, "GET /static/ HTTP/1.1\r\nHost: h\r\n\r\n", 0);
  for (int i = 0; i < 100 && !raw_has(&k, "<h1>hi</h1>"); i++) mg_mgr_poll(mgr, 5);
  CHECK(raw_has(&k, "HTTP/1.1 200 OK") && raw_has(&k, "text/html"));
  done(mgr, &k);

  /* A large file streams through the send buffer, and a pipelined request
   * behind it is answered afterwards, in order. */
  raw_client(mgr, &k, "GET /static/big.bin HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n", 0);
  /* Poll until both responses are in: a 3 MiB body plus two small heads. */
  for (int i = 0; i < 4000 && k.raw.len < big + 200 && !k.closed; i++)
    mg_mgr_poll(mgr, 1);
  for (int i = 0; i < 100 && !raw_has(&k, "/after:0"); i++) mg_mgr_poll(mgr, 1);
  char *hdr_end = NULL;
  for (size_t i = 0; i + 4 <= k.raw.len; i++) {
    if (memcmp(k.raw.buf + i, "\r\n\r\n", 4) == 0) {
      hdr_end = (char *) k.raw.buf + i + 4;
      break;
    }
  }
  CHECK(hdr_end != NULL);
  if (hdr_end != NULL) {
    size_t off = (size_t) (hdr_end - (char *) k.raw.buf);
    CHECK(k.raw.len >= off + big);
    CHECK(k.raw.len >= off + big && memcmp(hdr_end, data, big) == 0);
    CHECK(raw_has(&k, "/after:0"));
  }
  done(mgr, &k);
  free(data);
  mg_snprintf(path, sizeof(path), "%s/big.bin", dir);
  unlink(path);
  mg_snprintf(path, sizeof(path), "%s/index.html", dir);
  unlink(path);
}

/* A fresh directory for the static file test (no mkdtemp on Windows). */
static bool temp_dir(char *buf, size_t len) {
#ifdef _WIN32
  const char *tmp = getenv("TEMP");
  mg_snprintf(buf, len, "%s/mg_http_test_XXXXXX", tmp != NULL ? tmp : ".");
  return _mktemp(buf) != NULL && mkdir(buf) == 0;
#else
  mg_snprintf(buf, len, "/tmp/mg_http_test_XXXXXX");
  return mkdtemp(buf) != NULL;
#endif
}

int main(void) {
  struct mg_mgr mgr;
  struct srv s;
  char dir[256];
  memset(&s, 0, sizeof(s));
  mg_mgr_init(&mgr);
  struct mg_connection *lc = mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, &s);
  CHECK(lc != NULL);
  if (lc == NULL) return 1;
  mg_snprintf(s_url, sizeof(s_url), "http://127.0.0.1:%u", mg_ntohs(lc->loc.port));
  test_basic(&mgr, &s);
  test_bad_input(&mgr, &s);
  test_close_in_handlers(&mgr, &s);
  test_connection_close(&mgr, &s);
  test_request_timeout(&mgr, &s);
  test_deferred_replies(&mgr, &s);
  test_takeover_in_hdrs(&mgr, &s);
  bool have_dir = temp_dir(dir, sizeof(dir));
  CHECK(have_dir);
  if (have_dir) {
    test_static(&mgr, &s, dir);
    rmdir(dir);
  }
  mg_mgr_free(&mgr);
  printf("%d passed, %d failed\n", s_passed, s_failed);
  return s_failed == 0 ? 0 : 1;
}
