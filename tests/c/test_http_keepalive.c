/* Idle HTTP server connections are closed after the keep-alive limit
 * (mg_http_set_keepalive_timeout, here 200 ms): a connection that never
 * sends, and a keep-alive one after its response. Connections with work in
 * flight stay: a request the application answers late, and a client that
 * keeps sending requests. Raw TCP clients over loopback, one manager. */
#include <stdio.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

#define LIMIT_MS 200

static struct mg_connection *s_slow; /* request answered late */
static uint64_t s_slow_at;

static void server_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_ACCEPT) {
    mg_http_set_keepalive_timeout(c, LIMIT_MS);
  } else if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    if (mg_str_eq(hm->uri, "/slow")) {
      s_slow = c; /* answered from MG_EV_POLL, 3 limits later */
      s_slow_at = mg_millis() + 3 * LIMIT_MS;
    } else {
      mg_http_reply(c, 200, "", "ok");
    }
  } else if (ev == MG_EV_POLL && c == s_slow && mg_millis() >= s_slow_at) {
    mg_http_reply(c, 200, "", "late");
    s_slow = NULL;
  } else if (ev == MG_EV_CLOSE && c == s_slow) {
    s_slow = NULL;
  }
}

/* A raw client: sends `request` on connect (NULL: nothing), and again every
 * `every_ms` until `stop_ms` (0: once). Records replies and the close. */
struct client {
  const char *request;
  uint64_t every_ms, stop_ms;
  uint64_t start, next, last_reply, closed_at;
  int replies;
  char body[16];
};

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct client *cl = (struct client *) c->fn_data;
  uint64_t now = mg_millis();
  (void) ev_data;
  if (ev == MG_EV_CONNECT && cl->request != NULL) {
    mg_printf(c, "%s", cl->request);
    cl->next = now + cl->every_ms;
  } else if (ev == MG_EV_READ) {
    struct mg_http_message hm;
    struct mg_str *cl_hdr;
    uint64_t blen = 0;
    int n;
    /* Whole responses only: head, then Content-Length bytes of body. */
    while ((n = mg_http_parse((const char *) c->recv.buf, c->recv.len,
                              &hm)) > 0 &&
           (cl_hdr = mg_http_get_header(&hm, "Content-Length")) != NULL &&
           mg_str_to_u64(*cl_hdr, &blen) && (size_t) n + blen <= c->recv.len) {
      cl->replies++;
      cl->last_reply = now;
      mg_snprintf(cl->body, sizeof(cl->body), "%.*s", (int) blen,
                  (const char *) c->recv.buf + n);
      mg_iobuf_del(&c->recv, 0, (size_t) n + (size_t) blen);
    }
  } else if (ev == MG_EV_POLL && cl->every_ms > 0 && now >= cl->next &&
             now - cl->start < cl->stop_ms && !c->is_connecting) {
    mg_printf(c, "%s", cl->request);
    cl->next = now + cl->every_ms;
  } else if (ev == MG_EV_CLOSE) {
    cl->closed_at = now;
  }
}

static void run(struct mg_mgr *mgr, const char *url, struct client *cl,
                uint64_t max_ms) {
  uint64_t end;
  cl->start = mg_millis();
  end = cl->start + max_ms;
  CHECK(mg_connect(mgr, url, client_fn, cl) != NULL);
  while (cl->closed_at == 0 && mg_millis() < end) mg_mgr_poll(mgr, 10);
}

/* The clock passed with MG_EV_POLL can be a little older than the stamp of
 * traffic seen during that same poll: never a reason to close. */
static void test_clock_order(void) {
  struct mg_mgr mgr;
  struct mg_connection *c;
  long sent = 10;
  uint64_t before;
  mg_mgr_init(&mgr);
  c = mg_alloc_conn(&mgr);
  mg_add_conn(c);
  c->is_accepted = 1;
  mg_http_attach(c);
  mg_http_set_keepalive_timeout(c, LIMIT_MS);
  before = mg_millis();
  while (mg_millis() == before) {
  } /* let the clock move on */
  c->pfn(c, MG_EV_WRITE, &sent); /* stamps the traffic at mg_millis() */
  c->pfn(c, MG_EV_POLL, &before);
  CHECK(!c->is_closing);
  before += 2 * LIMIT_MS; /* well past the limit: closed */
  c->pfn(c, MG_EV_POLL, &before);
  before += 2 * LIMIT_MS;
  c->pfn(c, MG_EV_POLL, &before);
  CHECK(c->is_closing);
  mg_mgr_free(&mgr);
}

int main(void) {
  test_clock_order();
  struct mg_mgr mgr;
  struct mg_connection *lc;
  char url[64];
  mg_mgr_init(&mgr);
  lc = mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return TEST_REPORT();
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", mg_ntohs(lc->loc.port));

  { /* Never sends a byte: closed after the limit. */
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    run(&mgr, url, &cl, 3000);
    CHECK(cl.closed_at != 0);
    CHECK(cl.closed_at - cl.start >= LIMIT_MS - 10);
    CHECK(cl.closed_at - cl.start < 2000);
  }
  { /* Keep-alive after a response: closed a limit after the reply. */
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    cl.request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    run(&mgr, url, &cl, 3000);
    CHECK(cl.replies == 1 && strcmp(cl.body, "ok") == 0);
    CHECK(cl.closed_at != 0 && cl.closed_at - cl.last_reply >= LIMIT_MS - 10);
  }
  { /* A request answered 3 limits later: the connection waits for it. */
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    cl.request = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    run(&mgr, url, &cl, 5000);
    CHECK(cl.replies == 1 && strcmp(cl.body, "late") == 0);
    CHECK(cl.closed_at - cl.start >= 3 * LIMIT_MS + LIMIT_MS - 20);
  }
  { /* Requests every half limit for 4 limits: served throughout, closed
     * only once they stop. */
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    cl.request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    cl.every_ms = LIMIT_MS / 2;
    cl.stop_ms = 4 * LIMIT_MS;
    run(&mgr, url, &cl, 5000);
    CHECK(cl.replies >= 6);
    CHECK(cl.closed_at - cl.start >= 4 * LIMIT_MS);
    CHECK(cl.closed_at - cl.last_reply >= LIMIT_MS - 10);
  }
  mg_mgr_free(&mgr);
  return TEST_REPORT();
}
