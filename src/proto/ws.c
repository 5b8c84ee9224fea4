/* WebSocket glue: server upgrade, client handshake, frame reassembly,
 * automatic pong, close handshake and protocol-error closes. */
#include "mg.h"

#if MG_ENABLE_WS

#include <stdlib.h>
#include <string.h>

struct ws_state {
  size_t msg_len;      /* reassembled fragment bytes at the front of recv */
  uint8_t msg_op;      /* opcode of the fragmented message in progress */
  uint8_t close_sent;  /* we sent a close frame */
  uint8_t failed;      /* protocol error: ignore further input */
  uint8_t handshake;   /* client: waiting for the 101 response */
  uint64_t hs_expire;  /* client: mg_millis() deadline of that response */
  uint64_t rng;        /* client: masking key generator */
  char accept[29];     /* client: expected Sec-WebSocket-Accept */
  size_t req_len;      /* client: upgrade request kept until connected */
  char req[1];         /* (allocated past the struct) */
};

static struct ws_state *ws_state_new(size_t req_len) {
  struct ws_state *st =
      (struct ws_state *) calloc(1, sizeof(struct ws_state) + req_len);
  return st;
}

/* Masking keys need not be secret, only unpredictable to the peer: one
 * random seed per connection, then xorshift, instead of a system call per
 * frame. */
static void next_mask(struct mg_connection *c, uint8_t mask[4]) {
  struct ws_state *st =
      c->pfn == mg_ws_handler ? (struct ws_state *) c->pfn_data : NULL;
  uint64_t x;
  if (st == NULL) {
    if (!mg_random(mask, 4)) memset(mask, 0x5a, 4);
    return;
  }
  if (st->rng == 0 && (!mg_random(&st->rng, sizeof(st->rng)) || st->rng == 0))
    st->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t) c->id;
  x = st->rng;
  x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  st->rng = x;
  memcpy(mask, &x, 4);
}

size_t mg_ws_send(struct mg_connection *c, const void *buf, size_t len,
                  int op) {
  uint8_t hdr[14], mask[4];
  size_t hl, start = c->send.len;
  bool masked = c->is_client && !c->is_listening;
  if (masked) next_mask(c, mask);
  hl = mg_ws_build_header(hdr, op, len, masked ? mask : NULL);
  if (!mg_send(c, hdr, hl) || !mg_send(c, buf, len)) {
    c->send.len = start; /* no half frame on the wire */
    return 0;
  }
  if (masked && len > 0) mg_ws_mask(c->send.buf + start + hl, len, mask, 0);
  if ((op & 0x0f) == WEBSOCKET_OP_CLOSE && c->pfn == mg_ws_handler &&
      c->pfn_data != NULL)
    ((struct ws_state *) c->pfn_data)->close_sent = 1;
  return hl + len;
}

static void send_close(struct mg_connection *c, unsigned code) {
  uint8_t p[2] = {(uint8_t) (code >> 8), (uint8_t) code};
  mg_ws_send(c, p, code ? 2 : 0, WEBSOCKET_OP_CLOSE);
}

/* Protocol violation: close frame with code, flush it, then close. */
static void ws_fail(struct mg_connection *c, struct ws_state *st, unsigned code,
                    const char *why) {
  char msg[96];
  st->failed = 1;
  if (!st->close_sent) send_close(c, code);
  c->recv.len = 0;
  st->msg_len = 0;
  c->is_draining = 1;
  mg_snprintf(msg, sizeof(msg), "WebSocket error %u: %s", code, why);
  MG_DEBUG("conn %lu: %s", c->id, msg);
  mg_call(c, MG_EV_ERROR, msg);
}

static bool op_reserved(uint8_t op) {
  return (op >= 3 && op <= 7) || op >= 11;
}

/* Handles one complete control frame whose payload is p (unmasked). */
static void control(struct mg_connection *c, struct ws_state *st, uint8_t b0,
                    uint8_t *p, size_t n) {
  struct mg_ws_message m;
  uint8_t op = b0 & 0x0f;
  m.data = mg_str_n((const char *) p, n);
  m.flags = b0;
  if (op == WEBSOCKET_OP_CLOSE) {
    int bad = mg_ws_check_close(p, n);
    if (bad) {
      ws_fail(c, st, (unsigned) bad, "invalid close frame");
      return;
    }
    mg_call(c, MG_EV_WS_CTL, &m);
    /* Echo the status code, then the side that answered closes. */
    if (!st->close_sent) mg_ws_send(c, p, n >= 2 ? 2 : 0, WEBSOCKET_OP_CLOSE);
    c->is_draining = 1;
    st->failed = 1; /* nothing after a close frame is read */
    return;
  }
  if (op == WEBSOCKET_OP_PING && !st->close_sent)
    mg_ws_send(c, p, n, WEBSOCKET_OP_PONG);
  mg_call(c, MG_EV_WS_CTL, &m);
}

static void deliver(struct mg_connection *c, struct ws_state *st, uint8_t op,
                    uint8_t *p, size_t n) {
  struct mg_ws_message m;
  if (op == WEBSOCKET_OP_TEXT && !mg_utf8_valid(p, n)) {
    ws_fail(c, st, 1007, "invalid UTF-8 in a text message");
    return;
  }
  m.data = mg_str_n((const char *) p, n);
  m.flags = (uint8_t) (0x80 | op);
  mg_call(c, MG_EV_WS_MSG, &m);
}

/* Consumes every complete frame in c->recv. Unfragmented messages are
 * delivered where they lie; fragment payloads are unmasked and copied down to
 * the end of the message at the front of the buffer until the final one
 * arrives. Bytes between that end (msg_len) and pos are consumed frames: they
 * are removed once, after the loop, so each received byte moves at most
 * twice however many fragments a read holds (deleting each fragment's header
 * on its own moved the rest of the buffer per fragment: quadratic). */
static void ws_process(struct mg_connection *c, struct ws_state *st) {
  size_t pos = st->msg_len;
  while (!st->failed && !c->is_closing && c->pfn == mg_ws_handler &&
         pos < c->recv.len) {
    struct mg_ws_frame f;
    uint8_t *base = c->recv.buf + pos, op, *p;
    int hl = mg_ws_parse_header(base, c->recv.len - pos, &f);
    size_t plen;
    const char *why = NULL;
    unsigned code = 1002;
    if (hl == 0) break;
    /* Echoes and pongs for a peer that does not read wait until it has
     * read enough (MG_SEND_HIGH_WATER); MG_EV_POLL brings us back. */
    if (mg_send_backlogged(c)) break;
    op = f.b0 & 0x0f;
    if (hl < 0) {
      why = "bad frame length";
    } else if (f.b0 & 0x70) {
      why = "reserved bits set";
    } else if (op_reserved(op)) {
      why = "reserved opcode";
    } else if (!c->is_client && !f.masked) {
      why = "unmasked client frame";
    } else if (c->is_client && f.masked) {
      why = "masked server frame";
    } else if (op >= 8 && (!(f.b0 & 0x80) || f.payload_len > 125)) {
      why = "bad control frame";
    } else if (op < 8 && f.payload_len + st->msg_len > MG_WS_MAX_MSG_SIZE) {
      why = "message too big", code = 1009;
    } else if (op == WEBSOCKET_OP_CONTINUE && st->msg_op == 0) {
      why = "continuation without a message";
    } else if (op != WEBSOCKET_OP_CONTINUE && op < 8 && st->msg_op != 0) {
      why = "new message inside a fragmented one";
    }
    if (why != NULL) {
      ws_fail(c, st, code, why);
      return;
    }
    plen = (size_t) f.payload_len;
    if (c->recv.len - pos - (size_t) hl < plen) break; /* incomplete */
    p = base + hl;
    if (f.masked) mg_ws_mask(p, plen, f.mask, 0);
    if (op >= 8) {
      control(c, st, f.b0, p, plen);
      pos += (size_t) hl + plen;
    } else if ((f.b0 & 0x80) && op != WEBSOCKET_OP_CONTINUE) {
      deliver(c, st, op, p, plen);
      pos += (size_t) hl + plen;
    } else {
      /* A fragment: append its payload to the message at the front. */
      memmove(c->recv.buf + st->msg_len, p, plen);
      st->msg_len += plen;
      pos += (size_t) hl + plen;
      if (op != WEBSOCKET_OP_CONTINUE) st->msg_op = op;
      if (f.b0 & 0x80) {
        uint8_t mop = st->msg_op;
        size_t n = st->msg_len;
        st->msg_op = 0;
        st->msg_len = 0; /* [0, pos) is consumed once delivered */
        deliver(c, st, mop, c->recv.buf, n);
      }
    }
  }
  if (st->failed || c->pfn != mg_ws_handler) return;
  if (pos > st->msg_len) mg_iobuf_del(&c->recv, st->msg_len, pos - st->msg_len);
}

/* Client: the response to our upgrade request. */
static void ws_handshake(struct mg_connection *c, struct ws_state *st) {
  struct mg_http_message hm;
  struct mg_str *acc;
  int n = mg_http_parse((const char *) c->recv.buf, c->recv.len, &hm);
  if (n == 0) return;
  if (n < 0) {
    mg_error(c, "WebSocket handshake failed: bad HTTP response");
    return;
  }
  if (mg_http_status(&hm) != 101) {
    mg_error(c, "WebSocket handshake failed: HTTP status %d",
             mg_http_status(&hm));
    return;
  }
  acc = mg_http_get_header(&hm, "Sec-WebSocket-Accept");
  if (acc == NULL || !mg_str_eq(*acc, st->accept)) {
    mg_error(c, "WebSocket handshake failed: bad Sec-WebSocket-Accept");
    return;
  }
  st->handshake = 0;
  c->is_websocket = 1;
  mg_call(c, MG_EV_WS_OPEN, &hm);
  mg_iobuf_del(&c->recv, 0, (size_t) n);
}

void mg_ws_set_handshake_timeout(struct mg_connection *c, uint32_t ms) {
  struct ws_state *st;
  if (c->pfn != mg_ws_handler || (st = (struct ws_state *) c->pfn_data) == NULL)
    return;
  st->hs_expire = ms == 0 ? 0 : mg_millis() + ms;
}

static void ws_free(struct mg_connection *c) {
  free(c->pfn_data);
  c->pfn_data = NULL;
}

void mg_ws_handler(struct mg_connection *c, int ev, void *ev_data) {
  struct ws_state *st = (struct ws_state *) c->pfn_data;
  if (st == NULL || c->is_listening) return;
  switch (ev) {
    case MG_EV_CONNECT:
      if (st->req_len > 0) {
        mg_send(c, st->req, st->req_len);
        st->req_len = 0;
      }
      break;
    case MG_EV_POLL:
      if (st->handshake && st->hs_expire != 0 &&
          *(uint64_t *) ev_data > st->hs_expire && !c->is_closing) {
        mg_error(c, "WebSocket handshake timed out");
        break;
      }
      /* fall through */
    case MG_EV_READ:
      /* POLL covers bytes that arrived together with the upgrade request. */
      if (st->failed || c->recv.len <= st->msg_len) break;
      if (st->handshake) ws_handshake(c, st);
      if (!st->handshake && !c->is_closing && c->pfn == mg_ws_handler)
        ws_process(c, st);
      break;
    case MG_EV_CLOSE:
      ws_free(c);
      break;
    default:
      break;
  }
}

bool mg_ws_upgrade(struct mg_connection *c, struct mg_http_message *hm,
                   const char *extra_headers) {
  struct mg_str *key = mg_http_get_header(hm, "Sec-WebSocket-Key");
  struct ws_state *st;
  char accept[29];
  if (key == NULL || key->len == 0) {
    mg_http_reply(c, 400, "", "Missing Sec-WebSocket-Key\n");
    c->is_draining = 1;
    return false;
  }
  if ((st = ws_state_new(0)) == NULL) {
    mg_error(c, "out of memory");
    return false;
  }
  mg_ws_accept_key(*key, accept);
  mg_printf(c,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
            accept);
  if (extra_headers != NULL) mg_send(c, extra_headers, strlen(extra_headers));
  mg_send(c, "\r\n", 2);
  /* The HTTP layer notices the handler switch and frees its own state. */
  c->pfn = mg_ws_handler;
  c->pfn_data = st;
  c->is_websocket = 1;
  mg_call(c, MG_EV_WS_OPEN, hm);
  return true;
}

struct mg_connection *mg_ws_connect(struct mg_mgr *mgr, const char *url,
                                    mg_event_handler_t fn, void *fn_data,
                                    const char *extra_headers) {
  struct mg_connection *c;
  struct ws_state *st;
  struct mg_str host = mg_url_host(url);
  const char *uri = mg_url_uri(url);
  size_t ulen = strlen(uri), elen = extra_headers ? strlen(extra_headers) : 0;
  size_t cap = ulen + 280 + elen + 256;
  unsigned char nonce[16];
  char key[32], hostport[280];
  long port = mg_url_port_explicit(url);
  if (!mg_random(nonce, sizeof(nonce))) return NULL;
  mg_base64_encode(nonce, sizeof(nonce), key, sizeof(key));
  if ((st = ws_state_new(cap)) == NULL) return NULL;
  mg_ws_accept_key(mg_str(key), st->accept);
  st->handshake = 1;
  st->hs_expire = mg_millis() + MG_WS_HANDSHAKE_MS;
  if (port > 0) {
    mg_snprintf(hostport, sizeof(hostport), "%.*s:%ld", (int) host.len,
                host.buf, port);
  } else {
    mg_snprintf(hostport, sizeof(hostport), "%.*s", (int) host.len, host.buf);
  }
  st->req_len = mg_snprintf(
      st->req, cap + 1,
      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
      "Sec-WebSocket-Version: 13\r\n%s\r\n",
      uri, hostport, key, extra_headers ? extra_headers : "");
  if (st->req_len > cap) st->req_len = cap; /* cannot happen: cap is ample */
  if ((c = mg_connect(mgr, url, fn, fn_data)) == NULL) {
    free(st);
    return NULL;
  }
  c->pfn = mg_ws_handler;
  c->pfn_data = st;
  /* A connect that completed inside mg_connect() missed MG_EV_CONNECT. */
  if (c->fd != NULL && !c->is_connecting && !c->is_resolving &&
      !c->is_closing) {
    mg_send(c, st->req, st->req_len);
    st->req_len = 0;
  }
  return c;
}

#endif /* MG_ENABLE_WS */
