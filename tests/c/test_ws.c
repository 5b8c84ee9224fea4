/* WebSocket: frame codec, UTF-8 checker, accept key, close payload check,
 * and a server + client in one manager over loopback (echo, fragments,
 * ping/pong, close handshake, bad frames). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

#if MG_ENABLE_WS

static void test_header_codec(void) {
  uint8_t buf[16], mask[4] = {1, 2, 3, 4};
  struct mg_ws_frame f;
  size_t lens[] = {0, 1, 125, 126, 65535, 65536, 1000000};
  size_t i;
  for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    size_t hl = mg_ws_build_header(buf, WEBSOCKET_OP_BINARY, lens[i], mask);
    size_t k;
    CHECK(mg_ws_parse_header(buf, hl, &f) == (int) hl);
    CHECK(f.payload_len == lens[i]);
    CHECK(f.b0 == 0x82 && f.masked == 1 && memcmp(f.mask, mask, 4) == 0);
    /* Every strict prefix is incomplete, never an error. */
    for (k = 0; k < hl; k++) CHECK(mg_ws_parse_header(buf, k, &f) == 0);
  }
  CHECK(mg_ws_build_header(buf, 1, 5, NULL) == 2 && buf[0] == 0x81 &&
        buf[1] == 5);
  /* Non-minimal and top-bit lengths are refused. */
  {
    uint8_t a[] = {0x82, 126, 0, 5};
    uint8_t b[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    uint8_t d[] = {0x82, 127, 0, 0, 0, 0, 0, 0, 1, 0};
    CHECK(mg_ws_parse_header(a, sizeof(a), &f) == -1);
    CHECK(mg_ws_parse_header(b, sizeof(b), &f) == -1);
    CHECK(mg_ws_parse_header(d, sizeof(d), &f) == -1);
  }
  /* Masking twice restores; masking in pieces equals masking at once. */
  {
    uint8_t x[11] = "hello world", y[11];
    memcpy(y, x, 11);
    mg_ws_mask(y, 11, mask, 0);
    CHECK(memcmp(x, y, 11) != 0);
    mg_ws_mask(y, 3, mask, 0);
    mg_ws_mask(y + 3, 8, mask, 3);
    CHECK(memcmp(x, y, 11) == 0);
  }
}

static void test_utf8(void) {
  struct {
    const char *s;
    bool ok;
  } v[] = {
      {"", true},
      {"plain", true},
      {"\xc3\xa9", true},                 /* e acute */
      {"\xe2\x82\xac", true},             /* euro */
      {"\xf0\x9f\x98\x80", true},         /* emoji */
      {"\xf4\x8f\xbf\xbf", true},         /* U+10FFFF */
      {"\xc3", false},                    /* truncated */
      {"\xc0\xaf", false},                /* overlong '/' */
      {"\xe0\x80\xaf", false},            /* overlong */
      {"\xed\xa0\x80", false},            /* surrogate */
      {"\xf4\x90\x80\x80", false},        /* > U+10FFFF */
      {"\xff", false},
      {"\x80", false},
      {"a\xe2\x82", false},
  };
  size_t i;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    CHECK(mg_utf8_valid((const uint8_t *) v[i].s, strlen(v[i].s)) == v[i].ok);
}

static void test_accept_and_close(void) {
  char out[29];
  mg_ws_accept_key(mg_str("dGhlIHNhbXBsZSBub25jZQ=="), out);
  CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0); /* RFC 6455 1.3 */
  CHECK(mg_ws_check_close((const uint8_t *) "", 0) == 0);
  CHECK(mg_ws_check_close((const uint8_t *) "\x03", 1) == 1002);
  CHECK(mg_ws_check_close((const uint8_t *) "\x03\xe8ok", 4) == 0);
  CHECK(mg_ws_check_close((const uint8_t *) "\x03\xed", 2) == 1002); /* 1005 */
  CHECK(mg_ws_check_close((const uint8_t *) "\x03\xe7", 2) == 1002); /* 999 */
  CHECK(mg_ws_check_close((const uint8_t *) "\x0f\xa0", 2) == 0);    /* 4000 */
  CHECK(mg_ws_check_close((const uint8_t *) "\x03\xe8\xff", 3) == 1007);
}

#ifndef MG_TEST_TARGET /* sockets on 127.0.0.1: host only */
/* ---- Loopback server + client ---- */
struct ctx {
  int srv_open, cli_open, srv_msgs, cli_msgs, cli_ctl, srv_ctl, closes,
      errors;
  char last[64];
  uint8_t last_flags;
  struct mg_connection *cli;
};

static void srv_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct ctx *x = (struct ctx *) c->fn_data;
  if (ev == MG_EV_HTTP_MSG) {
    mg_ws_upgrade(c, (struct mg_http_message *) ev_data, "X-A: b\r\n");
  } else if (ev == MG_EV_WS_OPEN) {
    x->srv_open++;
  } else if (ev == MG_EV_WS_MSG) {
    struct mg_ws_message *m = (struct mg_ws_message *) ev_data;
    x->srv_msgs++;
    mg_ws_send(c, m->data.buf, m->data.len, m->flags & 0x0f);
  } else if (ev == MG_EV_WS_CTL) {
    x->srv_ctl++;
  } else if (ev == MG_EV_ERROR) {
    x->errors++;
  }
}

static void cli_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct ctx *x = (struct ctx *) c->fn_data;
  if (ev == MG_EV_WS_OPEN) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    struct mg_str *h = mg_http_get_header(hm, "X-A");
    CHECK(mg_http_status(hm) == 101);
    CHECK(h != NULL && mg_str_eq(*h, "b"));
    CHECK(c->is_websocket);
    x->cli_open++;
  } else if (ev == MG_EV_WS_MSG) {
    struct mg_ws_message *m = (struct mg_ws_message *) ev_data;
    size_t n = m->data.len < sizeof(x->last) - 1 ? m->data.len
                                                   : sizeof(x->last) - 1;
    memcpy(x->last, m->data.buf, n);
    x->last[n] = '\0';
    x->last_flags = m->flags;
    x->cli_msgs++;
  } else if (ev == MG_EV_WS_CTL) {
    x->cli_ctl++;
  } else if (ev == MG_EV_CLOSE) {
    x->closes++;
    if (c == x->cli) x->cli = NULL;
  } else if (ev == MG_EV_ERROR) {
    x->errors++;
  }
}

static bool poll_until(struct mg_mgr *mgr, int *counter, int want) {
  int i;
  for (i = 0; i < 300 && *counter < want; i++) mg_mgr_poll(mgr, 10);
  return *counter >= want;
}

static void test_loopback(void) {
  struct mg_mgr mgr;
  struct ctx x;
  struct mg_connection *lc;
  char url[64];
  memset(&x, 0, sizeof(x));
  mg_mgr_init(&mgr);
  lc = mg_http_listen(&mgr, "http://127.0.0.1:0", srv_fn, &x);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "ws://127.0.0.1:%u/x",
              (unsigned) mg_ntohs(lc->loc.port));
  x.cli = mg_ws_connect(&mgr, url, cli_fn, &x, NULL);
  CHECK(x.cli != NULL);
  CHECK(poll_until(&mgr, &x.cli_open, 1));
  CHECK(x.srv_open == 1);
  mg_ws_send(x.cli, "hello", 5, WEBSOCKET_OP_TEXT);
  CHECK(poll_until(&mgr, &x.cli_msgs, 1));
  CHECK(strcmp(x.last, "hello") == 0 && x.last_flags == 0x81);
  /* Hand-made fragments from the client (masked), a ping in between. */
  {
    uint8_t fr[64], mask[4] = {9, 8, 7, 6};
    size_t n = mg_ws_build_header(fr, 2, 3, mask);
    fr[0] &= 0x7f; /* not FIN */
    memcpy(fr + n, "abc", 3);
    mg_ws_mask(fr + n, 3, mask, 0);
    mg_send(x.cli, fr, n + 3);
    mg_ws_send(x.cli, "p", 1, WEBSOCKET_OP_PING);
    n = mg_ws_build_header(fr, 0, 2, mask);
    memcpy(fr + n, "de", 2);
    mg_ws_mask(fr + n, 2, mask, 0);
    mg_send(x.cli, fr, n + 2);
  }
  CHECK(poll_until(&mgr, &x.cli_msgs, 2));
  CHECK(strcmp(x.last, "abcde") == 0 && x.last_flags == 0x82);
  CHECK(x.cli_ctl == 1 && x.srv_ctl == 1); /* ping seen, pong received */
  /* Invalid UTF-8 text: the server closes with 1007. */
  mg_ws_send(x.cli, "\xc3\x28", 2, WEBSOCKET_OP_TEXT);
  CHECK(poll_until(&mgr, &x.closes, 1));
  CHECK(x.errors >= 1);
  CHECK(x.cli_ctl == 2); /* the close frame */
  CHECK(x.cli_msgs == 2);
  mg_mgr_free(&mgr);
}

#endif /* MG_TEST_TARGET */

/* ---- Many tiny fragments, fed without a socket ---- */
/* The target tests (tests/target) use fewer: the host's needs a 1.4 MB
 * buffer. */
#ifdef MG_TEST_TARGET
#define FRAG_N 1000
#else
#define FRAG_N 200000
#endif
struct frag_ctx {
  int msgs, ctls, bad;
  size_t big_len;
};

static void frag_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct frag_ctx *x = (struct frag_ctx *) c->fn_data;
  struct mg_ws_message *m = (struct mg_ws_message *) ev_data;
  if (ev == MG_EV_WS_MSG) {
    x->msgs++;
    if (x->msgs == 1 && !mg_str_eq(m->data, "hi")) x->bad++;
    if (x->msgs == 3 && !mg_str_eq(m->data, "end")) x->bad++;
    if (x->msgs == 2) {
      size_t i;
      x->big_len = m->data.len;
      if (m->flags != 0x82) x->bad++;
      for (i = 0; i < m->data.len; i++)
        if ((uint8_t) m->data.buf[i] != (uint8_t) ('a' + i % 26)) x->bad++;
    }
  } else if (ev == MG_EV_WS_CTL) {
    x->ctls++;
  } else if (ev == MG_EV_ERROR) {
    x->bad++;
  }
}

/* Appends one masked client frame (b0, payload p) to buf at *n. */
static void put_frame(uint8_t *buf, size_t *n, uint8_t b0, const void *p,
                      size_t len, uint32_t seed) {
  uint8_t mask[4] = {(uint8_t) seed, (uint8_t) (seed >> 8), 0x5a, 0xa5};
  size_t hl = mg_ws_build_header(buf + *n, b0 & 0x0f, len, mask);
  buf[*n] = b0;
  memcpy(buf + *n + hl, p, len);
  mg_ws_mask(buf + *n + hl, len, mask, 0);
  *n += hl + len;
}

/* A message in FRAG_N one-byte fragments (a ping among them) between two
 * whole messages, arriving in uneven pieces: delivered intact, and the
 * buffer ends empty. Reassembly used to move the rest of the buffer per
 * fragment, quadratic in a read that holds many fragments (timing:
 * bench/ws_fragments_bench.py). */
static void test_many_fragments(void) {
  struct mg_mgr mgr;
  struct mg_connection *c;
  struct mg_http_message hm;
  struct frag_ctx x;
  const char *req =
      "GET / HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  size_t cap = (size_t) FRAG_N * 7 + 64, n = 0, i, cuts[4], prev = 0;
  uint8_t *buf = (uint8_t *) malloc(cap);
  CHECK(buf != NULL);
  if (buf == NULL) return;
  memset(&x, 0, sizeof(x));
  put_frame(buf, &n, 0x81, "hi", 2, 1);
  for (i = 0; i < FRAG_N; i++) {
    uint8_t ch = (uint8_t) ('a' + i % 26);
    uint8_t b0 = (uint8_t) ((i == 0 ? WEBSOCKET_OP_BINARY : 0) |
                            (i == FRAG_N - 1 ? 0x80 : 0));
    put_frame(buf, &n, b0, &ch, 1, (uint32_t) i);
    if (i == FRAG_N / 2) put_frame(buf, &n, 0x89, "p", 1, 7);
  }
  put_frame(buf, &n, 0x82, "end", 3, 2);
  mg_mgr_init_net(&mgr, NULL);
  c = mg_alloc_conn(&mgr);
  CHECK(c != NULL);
  if (c == NULL) {
    free(buf);
    return;
  }
  mg_add_conn(c);
  c->fn = frag_fn;
  c->fn_data = &x;
  CHECK(mg_http_parse(req, strlen(req), &hm) > 0);
  CHECK(mg_ws_upgrade(c, &hm, NULL));
  c->fd = (void *) 1; /* "connected" (no transport: never used) */
  c->send.len = 0;    /* drop the 101 response */
  /* Pieces end inside a header, inside the ping and at an odd place. */
  cuts[0] = 5, cuts[1] = n / 3 + 1, cuts[2] = n / 2 + 3, cuts[3] = n;
  for (i = 0; i < 4; i++) {
    mg_iobuf_add(&c->recv, c->recv.len, buf + prev, cuts[i] - prev);
    mg_call(c, MG_EV_READ, NULL);
    prev = cuts[i];
  }
  CHECK(x.bad == 0);
  CHECK(x.msgs == 3 && x.big_len == FRAG_N);
  CHECK(x.ctls == 1);
  CHECK(c->recv.len == 0);
  /* The pong answering the ping is the only output. */
  CHECK(c->send.len == 3 && c->send.buf[0] == 0x8a && c->send.buf[2] == 'p');
  mg_call(c, MG_EV_CLOSE, NULL);
  mgr.conns = NULL;
  c->fd = NULL;
  mg_free_conn(c);
  mg_mgr_free(&mgr);
  free(buf);
}

int main(void) {
  test_header_codec();
  test_utf8();
  test_accept_and_close();
#ifndef MG_TEST_TARGET
  test_loopback();
#endif
  test_many_fragments();
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built with MG_ENABLE_WS=0\n");
  return TEST_REPORT();
}
#endif
