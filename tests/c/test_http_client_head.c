/* The HTTP client learns which of the requests it queued are HEAD requests,
 * so a response with Content-Length but no body completes at once and the
 * next response on the connection parses cleanly: sequential and pipelined
 * requests, a request body that looks like a HEAD request, a request queued
 * from a timer, and chunked request bodies. */
#include <stdio.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

static void server_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    /* HEAD answers get the GET's Content-Length without a body. */
    mg_http_reply(c, 200, "", "uri=%.*s body=%.*s", (int) hm->uri.len,
                  hm->uri.buf, (int) hm->body.len, hm->body.buf);
  }
}

struct cli {
  const char *req; /* sent at connect */
  int n;
  char got[8][64];
  long lens[8];
};

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct cli *k = (struct cli *) c->fn_data;
  if (ev == MG_EV_CONNECT && k->req != NULL) {
    mg_printf(c, "%s", k->req);
  } else if (ev == MG_EV_HTTP_MSG && k->n < 8) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    struct mg_str *cl = mg_http_get_header(hm, "Content-Length");
    snprintf(k->got[k->n], sizeof(k->got[0]), "%d:%.*s", mg_http_status(hm),
             (int) hm->body.len, hm->body.buf);
    k->lens[k->n++] = cl != NULL ? (long) cl->len : -1;
  }
}

static struct mg_connection *s_timer_conn;
static void timer_fn(void *arg) {
  (void) arg;
  mg_printf(s_timer_conn, "HEAD /t HTTP/1.1\r\nHost: h\r\n\r\nGET /u HTTP/1.1\r\nHost: h\r\n\r\n");
}

static void run(struct mg_mgr *mgr, struct cli *k, int want) {
  for (int i = 0; i < 400 && k->n < want; i++) mg_mgr_poll(mgr, 5);
}

int main(void) {
  struct mg_mgr mgr;
  char url[64];
  mg_mgr_init(&mgr);
  struct mg_connection *lc =
      mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return 1;
  snprintf(url, sizeof(url), "http://127.0.0.1:%u", mg_ntohs(lc->loc.port));

  /* Pipelined: HEAD, GET, POST whose body is a HEAD request, HEAD, GET. */
  struct cli a = {"HEAD /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                  "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                  "POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n"
                  "HEAD /x HTTP/1.1\r\n\r\n"
                  "HEAD /4 HTTP/1.1\r\nHost: h\r\n\r\n"
                  "GET /5 HTTP/1.1\r\nHost: h\r\n\r\n",
                  0,
                  {{0}},
                  {0}};
  struct mg_connection *ca = mg_http_connect(&mgr, url, client_fn, &a);
  run(&mgr, &a, 5);
  CHECK(a.n == 5);
  CHECK(strcmp(a.got[0], "200:") == 0 && a.lens[0] > 0);
  CHECK(strcmp(a.got[1], "200:uri=/2 body=") == 0);
  CHECK(strcmp(a.got[2], "200:uri=/3 body=HEAD /x HTTP/1.1\r\n\r\n") == 0);
  CHECK(strcmp(a.got[3], "200:") == 0);
  CHECK(strcmp(a.got[4], "200:uri=/5 body=") == 0);

  /* The same connection, requests queued from a timer (outside any
   * handler of the connection). */
  s_timer_conn = ca;
  mg_timer_add(&mgr, 1, MG_TIMER_ONCE | MG_TIMER_AUTODELETE, timer_fn, NULL);
  run(&mgr, &a, 7);
  CHECK(a.n == 7);
  CHECK(strcmp(a.got[5], "200:") == 0);
  CHECK(strcmp(a.got[6], "200:uri=/u body=") == 0);

  /* A complete chunked request body is stepped over too. */
  struct cli b = {"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "4\r\nab\r\n\r\n0\r\n\r\n"
                  "HEAD /d HTTP/1.1\r\nHost: h\r\n\r\n"
                  "GET /e HTTP/1.1\r\nHost: h\r\n\r\n",
                  0,
                  {{0}},
                  {0}};
  mg_http_connect(&mgr, url, client_fn, &b);
  run(&mgr, &b, 3);
  CHECK(b.n == 3);
  CHECK(strcmp(b.got[0], "200:uri=/c body=ab\r\n") == 0);
  CHECK(strcmp(b.got[1], "200:") == 0);
  CHECK(strcmp(b.got[2], "200:uri=/e body=") == 0);

  mg_mgr_free(&mgr);
  return TEST_REPORT();
}
