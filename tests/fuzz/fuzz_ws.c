/* Fuzz target: the WebSocket frame codec and the connection glue.
 * Invariants (abort() on violation):
 *  - a parsed header lies inside the input; re-encoding a FIN frame without
 *    RSV bits gives the same header bytes;
 *  - fed to a server-side and a client-side connection (in two pieces),
 *    every delivered message lies inside the receive buffer, is no longer
 *    than MG_WS_MAX_MSG_SIZE and, when text, is valid UTF-8; every byte the
 *    glue queues for sending is a sequence of well-formed frames. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "invariant failed %s:%d: %s\n", __FILE__, __LINE__, \
              #cond);                                                   \
      abort();                                                          \
    }                                                                   \
  } while (0)

static void user_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_WS_MSG || ev == MG_EV_WS_CTL) {
    struct mg_ws_message *m = (struct mg_ws_message *) ev_data;
    REQUIRE(m->data.len <= MG_WS_MAX_MSG_SIZE);
    if (m->data.len > 0) {
      REQUIRE((const unsigned char *) m->data.buf >= c->recv.buf);
      REQUIRE((const unsigned char *) m->data.buf + m->data.len <=
              c->recv.buf + c->recv.len);
    }
    if (ev == MG_EV_WS_MSG && (m->flags & 0x0f) == WEBSOCKET_OP_TEXT)
      REQUIRE(mg_utf8_valid((const uint8_t *) m->data.buf, m->data.len));
    /* Echo, as applications do: must not disturb the parser. */
    if (ev == MG_EV_WS_MSG) mg_ws_send(c, m->data.buf, m->data.len, m->flags);
  }
}

static void check_output(const struct mg_connection *c) {
  size_t ofs = 0;
  while (ofs < c->send.len) {
    struct mg_ws_frame f;
    int hl = mg_ws_parse_header(c->send.buf + ofs, c->send.len - ofs, &f);
    REQUIRE(hl > 0);
    REQUIRE((f.b0 & 0x70) == 0 && (f.b0 & 0x80));
    REQUIRE(f.masked == (c->is_client ? 1 : 0));
    REQUIRE(ofs + (size_t) hl + f.payload_len <= c->send.len);
    ofs += (size_t) hl + (size_t) f.payload_len;
  }
}

static void feed(const uint8_t *data, size_t size, bool client) {
  struct mg_mgr mgr;
  struct mg_connection *c;
  struct mg_http_message hm;
  const char *req =
      "GET / HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  mg_mgr_init_net(&mgr, NULL);
  c = mg_alloc_conn(&mgr);
  REQUIRE(c != NULL);
  mg_add_conn(c);
  c->fn = user_fn;
  REQUIRE(mg_http_parse(req, strlen(req), &hm) > 0);
  REQUIRE(mg_ws_upgrade(c, &hm, NULL));
  c->is_client = client; /* the same state serves both roles */
  c->fd = (void *) 1;    /* "connected" (no transport: never used) */
  c->send.len = 0;       /* drop the 101 response */
  mg_iobuf_add(&c->recv, 0, data, cut);
  mg_call(c, MG_EV_READ, NULL);
  if (!c->is_closing && !c->is_draining) {
    mg_iobuf_add(&c->recv, c->recv.len, data + cut, size - cut);
    mg_call(c, MG_EV_READ, NULL);
    mg_call(c, MG_EV_POLL, NULL);
  }
  check_output(c);
  mg_call(c, MG_EV_CLOSE, NULL);
  mgr.conns = NULL;
  c->fd = NULL;
  mg_free_conn(c);
  mg_mgr_free(&mgr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mg_ws_frame f;
  int hl = mg_ws_parse_header(data, size, &f);
  if (hl > 0) {
    uint8_t out[16];
    REQUIRE((size_t) hl <= size && hl >= 2 && hl <= 14);
    if ((f.b0 & 0xf0) == 0x80) {
      size_t n = mg_ws_build_header(out, f.b0 & 0x0f, f.payload_len,
                                    f.masked ? f.mask : NULL);
      REQUIRE(n == (size_t) hl && memcmp(out, data, n) == 0);
    }
  } else {
    REQUIRE(hl == 0 || hl == -1);
  }
  (void) mg_utf8_valid(data, size);
  (void) mg_ws_check_close(data, size);
  feed(data, size, false);
  feed(data, size, true);
  return 0;
}
