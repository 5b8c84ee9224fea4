/* HTTP glue: the protocol handler (c->pfn) that turns received bytes into
 * MG_EV_HTTP_HDRS / MG_EV_HTTP_MSG for servers and clients, plus
 * mg_http_listen. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

struct mg_http_state *mg_http_state(struct mg_connection *c) {
  if (c->pfn != mg_http_handler || c->is_listening) return NULL;
  /* Accepted children inherit the listener's pfn_data, which stays NULL. */
  if (c->pfn_data == NULL) {
    struct mg_http_state *st = calloc(1, sizeof(*st));
    if (st != NULL) st->body_rate = MG_HTTP_BODY_MIN_RATE;
    c->pfn_data = st;
  }
  return (struct mg_http_state *) c->pfn_data;
}

void mg_http_attach(struct mg_connection *c) {
  c->pfn = mg_http_handler;
  c->pfn_data = NULL;
  if (c->is_client) mg_http_client_wrap(c);
}

bool mg_http_answering_head(struct mg_connection *c) {
  struct mg_http_state *st = mg_http_state(c);
  return st != NULL && st->q_len > 0 && (st->q_head & 1u);
}

void mg_http_response_done(struct mg_connection *c) {
  struct mg_http_state *st = mg_http_state(c);
  bool close;
  if (st == NULL || st->q_len == 0) return;
  close = (st->q_close & 1u) != 0;
  st->q_head >>= 1, st->q_close >>= 1, st->q_len--;
  if (close && st->fd == NULL) c->is_draining = 1;
}

/* Remembers what the response to a just-parsed request must respect. */
static void push_request(struct mg_http_state *st, bool head, bool close) {
  if (st->q_len == 32) { /* nobody answers (raw sends?): forget the oldest */
    st->q_head >>= 1, st->q_close >>= 1, st->q_len--;
  }
  if (head) st->q_head |= 1u << st->q_len;
  if (close) st->q_close |= 1u << st->q_len;
  st->q_len++;
}

/* True when a comma-separated header value lists token (any case). */
static bool has_token(struct mg_str v, const char *token) {
  struct mg_str item;
  while (v.len > 0) {
    mg_str_split(v, ',', &item, &v);
    if (mg_str_ieq(mg_str_trim(item), token)) return true;
  }
  return false;
}

/* Persistent connections are the default from HTTP/1.1 on. */
static bool wants_close(struct mg_http_message *hm) {
  struct mg_str *h = mg_http_get_header(hm, "Connection");
  bool v10 = mg_str_eq(hm->proto, "HTTP/1.0");
  if (h == NULL) return v10;
  return has_token(*h, "close") || (v10 && !has_token(*h, "keep-alive"));
}

static void state_free(struct mg_http_state *st) {
  mg_http_file_done(st);
  free(st);
}

/* The handler was replaced from inside an event (e.g. a WebSocket upgrade):
 * the new protocol owns pfn_data now, so only our own state is released. */
static bool switched(struct mg_connection *c, struct mg_http_state *st) {
  if (c->pfn == mg_http_handler) return false;
  if (c->pfn_data == st) c->pfn_data = NULL;
  mg_http_client_release(c, st);
  state_free(st);
  return true;
}

static uint64_t deadline(struct mg_http_state *st);

void mg_http_set_request_timeout(struct mg_connection *c, uint32_t ms) {
  struct mg_http_state *st = mg_http_state(c);
  if (st == NULL) return;
  st->timeout_ms = ms;
  if (st->expire != 0) st->expire = deadline(st); /* a pending request too */
}

void mg_http_set_keepalive_timeout(struct mg_connection *c, uint32_t ms) {
  struct mg_http_state *st = mg_http_state(c);
  if (st != NULL) st->keepalive_ms = ms;
}

void mg_http_set_body_min_rate(struct mg_connection *c, uint32_t bytes_per_s) {
  struct mg_http_state *st = mg_http_state(c);
  if (st != NULL) st->body_rate = bytes_per_s;
}

/* A server connection with nothing in flight, quiet for the keep-alive
 * limit, is closed (see MG_HTTP_KEEPALIVE_MS). */
static void close_if_idle(struct mg_connection *c, struct mg_http_state *st,
                          uint64_t now) {
  uint32_t limit = st->keepalive_ms != 0 ? st->keepalive_ms
                                         : MG_HTTP_KEEPALIVE_MS;
  bool idle = !c->is_client && st->q_len == 0 && c->recv.len == 0 &&
              c->send.len == 0 && st->fd == NULL && !c->is_closing &&
              !c->is_draining;
  if (!idle || st->last_io == 0) {
    st->last_io = now; /* busy, or the first look at this connection */
  } else if (now > st->last_io && now - st->last_io > limit) {
    /* now > last_io: events raised inside this MG_EV_POLL (a file's last
     * bytes) stamp last_io later than the poll's own clock. */
    c->is_closing = 1;
  }
}

static uint32_t request_ms(struct mg_http_state *st) {
  return st->timeout_ms != 0 ? st->timeout_ms : MG_HTTP_IDLE_TIMEOUT_MS;
}

static uint64_t deadline(struct mg_http_state *st) {
  return mg_millis() + request_ms(st);
}

/* After a refusal: no more parsing; close once the answer is out and the
 * client stopped sending (see MG_HTTP_LINGER_MS). */
static void linger(struct mg_connection *c) {
  struct mg_http_state *st = mg_http_state(c);
  uint64_t now = mg_millis();
  c->recv.len = 0;
  if (st == NULL) {
    c->is_draining = 1;
    return;
  }
  st->linger_quiet = now + MG_HTTP_LINGER_QUIET_MS;
  st->linger_end = now + MG_HTTP_LINGER_MS;
}

/* Answers a request we cannot parse, reports why, and closes once sent. */
static void fail(struct mg_connection *c, long err) {
  int code = err == MG_HTTP_ERR_HEAD_BIG || err == MG_HTTP_ERR_FIELDS ? 431
             : err == MG_HTTP_ERR_BODY_BIG                          ? 413
             : err == MG_HTTP_ERR_TE                                ? 501
             : err == MG_HTTP_ERR_VERSION                           ? 505
                                                                    : 400;
  if (c->is_client) {
    mg_error(c, "bad HTTP response: %s",
             err == MG_HTTP_ERR_FIELDS     ? "too many header fields"
             : err == MG_HTTP_ERR_HEAD_BIG ? "head too large"
             : err == MG_HTTP_ERR_BODY_BIG ? "body too large"
             : err == MG_HTTP_ERR_TE       ? "unknown transfer coding"
                                           : "malformed");
    return;
  }
  const char *reason = mg_http_reason(code);
  mg_printf(c,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
            "Content-Length: %u\r\nConnection: close\r\n\r\n%s\n",
            code, reason, (unsigned) strlen(reason) + 1, reason);
  linger(c);
  char msg[64];
  mg_snprintf(msg, sizeof(msg), "HTTP %d %s", code, reason);
  mg_call(c, MG_EV_ERROR, msg);
}

/* Answers a request that is too slow with 408 and closes once sent. */
static void too_slow(struct mg_connection *c, const char *why) {
  mg_printf(c,
            "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n");
  linger(c);
  mg_call(c, MG_EV_ERROR, (void *) why);
}

/* A body being received must bring body_rate bytes/s on average over each
 * window of the request timeout, so a trickle (which re-arms the deadline
 * with every byte) is cut too. Time in which we did not read (receive buffer
 * full, or paused by backpressure) does not count against the client. */
static bool body_too_slow(struct mg_connection *c, struct mg_http_state *st,
                          uint64_t now) {
  uint64_t window = request_ms(st);
  bool slow;
  if (st->body_t0 == 0 || st->body_rate == 0) return false;
  if (c->is_full || st->paused) { /* not reading or parsing: start over */
    st->body_t0 = now, st->body_got = 0;
    return false;
  }
  if (now < st->body_t0 + window) return false;
  /* Nothing at all came and the bytes we have wait in recv: a stall, which
   * the request timeout (same window, armed a moment later) reports. */
  if (st->body_got == 0 && st->expire != 0 && c->recv.len > 0) return false;
  slow = st->body_got * 1000 < (uint64_t) st->body_rate * window;
  st->body_t0 = now, st->body_got = 0; /* the next window */
  return slow;
}

/* Bytes of an incomplete head checked at every read until this many have
 * arrived (junk is refused at once); later the head is checked again when
 * its first line end arrives, and when complete. Bounds the work a sender
 * trickling a large head can cause to linear. */
#define EARLY_CHECK_BYTES 1024

static bool early_check_due(struct mg_connection *c, struct mg_http_state *st,
                            size_t seen) {
  bool lf = false;
  if (!st->line_seen && seen < c->recv.len) {
    lf = memchr(c->recv.buf + seen, '\n', c->recv.len - seen) != NULL;
    st->line_seen = lf;
  }
  return seen < EARLY_CHECK_BYTES || lf || c->recv.len > MG_HTTP_MAX_HEAD_SIZE;
}

/* Looks for the blank line ending the head from where the last search
 * stopped, so a byte-at-a-time sender costs linear time, not quadratic. */
static bool head_complete(struct mg_connection *c, struct mg_http_state *st) {
  const char *s = (const char *) c->recv.buf;
  size_t i = st->scanned > 3 ? st->scanned - 3 : 0;
  for (; i < c->recv.len; i++) {
    if (s[i] != '\n') continue;
    if (i + 1 < c->recv.len && s[i + 1] == '\n') return true;
    if (i + 2 < c->recv.len && s[i + 1] == '\r' && s[i + 2] == '\n')
      return true;
  }
  st->scanned = c->recv.len;
  return false;
}

static void process(struct mg_connection *c, struct mg_http_state *st) {
  if (st->linger_end != 0) return; /* refused: input is discarded */
  /* A WebSocket upgrade ends HTTP parsing even if the handler stays. */
  while (!c->is_closing && !c->is_draining && !c->is_websocket &&
         st->fd == NULL && c->recv.len > 0) {
    /* A peer that pipelines requests but does not read the answers gets no
     * more of them until it has read enough (see MG_SEND_HIGH_WATER). */
    if (mg_send_backlogged(c)) {
      st->paused = 1;
      return;
    }
    struct mg_http_message hm;
    int framing;
    long n;
    size_t seen = st->scanned; /* head bytes looked at before this read */
    if (!st->hdrs_done && !head_complete(c, st)) {
      /* Still let the parser see incomplete input so junk and floods are
       * refused without waiting for a blank line. */
      if (early_check_due(c, st, seen)) {
        n = mg_http_parse((const char *) c->recv.buf, c->recv.len, &hm);
        if (n < 0) fail(c, n);
      }
      return;
    }
    size_t n0 = c->recv.len; /* to notice handlers that consume bytes */
    /* Client: does this response answer a HEAD (no body despite headers)? */
    n = mg_http_frame((const char *) c->recv.buf, c->recv.len,
                      c->is_client && st->q_len > 0 && (st->q_head & 1u), &hm,
                      &framing);
    if (n < 0) {
      fail(c, n);
      return;
    }
    if (hm.head.len == 0) return; /* cannot happen once the head is there */
    if (!st->hdrs_done) {
      struct mg_http_message h = hm;
      int bad = c->is_client ? 0 : mg_http_check_request(&hm);
      if (bad != 0) {
        fail(c, bad);
        return;
      }
      st->hdrs_done = 1;
      h.body = mg_str_n(h.head.buf + h.head.len, 0);
      h.message = h.head;
      mg_call(c, MG_EV_HTTP_HDRS, &h);
      if (switched(c, st) || c->is_closing) return;
      /* The handler consumed received bytes itself: hm is stale now. */
      if (c->recv.len != n0) return;
    }
    if (n == 0) {
      if (c->is_client && framing == MG_HTTP_BODY_TO_CLOSE) st->to_close = 1;
      /* Server: the body is due now; its first rate window begins. */
      if (!c->is_client && st->body_t0 == 0) {
        st->body_t0 = mg_millis();
        st->body_got = 0;
      }
      /* The client waits for our go-ahead before sending a body. */
      struct mg_str *ex = mg_http_get_header(&hm, "Expect");
      if (!c->is_client && !st->continued && ex != NULL &&
          mg_str_ieq(*ex, "100-continue")) {
        st->continued = 1;
        mg_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
      }
      return;
    }
    if (framing == MG_HTTP_BODY_CHUNKED) {
      char *b = (char *) hm.body.buf;
      hm.body.len = mg_http_dechunk(b, hm.body.len);
      hm.message.len = (size_t) (b + hm.body.len - hm.message.buf);
    }
    if (!c->is_client) {
      push_request(st, mg_str_eq(hm.method, "HEAD"), wants_close(&hm));
    } else if (mg_http_status(&hm) >= 200 && st->q_len > 0) {
      st->q_head >>= 1, st->q_len--; /* its request is answered */
    }
    st->hdrs_done = st->continued = st->line_seen = 0;
    st->scanned = 0;
    st->expire = 0;
    st->body_t0 = 0;
    mg_call(c, MG_EV_HTTP_MSG, &hm);
    if (switched(c, st)) {
      /* Bytes after the upgrade request belong to the new protocol. */
      if (c->recv.len == n0) mg_iobuf_del(&c->recv, 0, (size_t) n);
      return;
    }
    if (c->recv.len != n0) return; /* the handler consumed them */
    mg_iobuf_del(&c->recv, 0, (size_t) n);
    /* Consumed bytes make room again: let the core resume reading. */
    mg_send_backlogged(c);
  }
}

/* Client whose response body runs until the peer closes: deliver it now. */
/* Answers the requests that waited for the send buffer to drain. */
static void resume(struct mg_connection *c, struct mg_http_state *st) {
  if (!st->paused || st->fd != NULL || mg_send_backlogged(c)) return;
  st->paused = 0;
  process(c, st);
}

static void finish_at_close(struct mg_connection *c, struct mg_http_state *st) {
  struct mg_http_message hm;
  int n = mg_http_parse((const char *) c->recv.buf, c->recv.len, &hm);
  if (n <= 0) return;
  hm.body = mg_str_n((const char *) c->recv.buf + n, c->recv.len - (size_t) n);
  hm.message = mg_str_n(hm.head.buf, hm.head.len + hm.body.len);
  st->to_close = 0;
  mg_call(c, MG_EV_HTTP_MSG, &hm);
}

void mg_http_handler(struct mg_connection *c, int ev, void *ev_data) {
  struct mg_http_state *st;
  (void) ev_data;
  if (c->is_listening) return;
  if (ev == MG_EV_CLOSE) {
    st = (struct mg_http_state *) c->pfn_data;
    if (st == NULL) return;
    if (st->to_close && c->is_client && c->recv.len > 0) finish_at_close(c, st);
    if (c->pfn_data == st) c->pfn_data = NULL;
    mg_http_client_release(c, st);
    state_free(st);
    return;
  }
  if ((st = mg_http_state(c)) == NULL) {
    if (ev == MG_EV_READ) mg_error(c, "out of memory");
    return;
  }
  if (c->is_client) {
    /* Requests queued outside the application's handler (timers, other
     * connections) are examined at the next event, before they are sent. */
    if (ev == MG_EV_WRITE) mg_http_sniff_sent(st, (size_t) *(long *) ev_data);
    mg_http_sniff(c, st);
  }
  switch (ev) {
    case MG_EV_READ:
      st->last_io = mg_millis();
      if (st->linger_end != 0) {
        c->recv.len = 0;
        st->linger_quiet = st->last_io + MG_HTTP_LINGER_QUIET_MS;
        break;
      }
      /* A body that keeps arriving keeps its request alive. */
      if (!c->is_client && st->hdrs_done)
        st->expire = deadline(st);
      /* What arrived counts for the body rate, even bytes a handler takes
       * out of c->recv itself. */
      if (st->body_t0 != 0) st->body_got += (uint64_t) *(long *) ev_data;
      process(c, st);
      if (c->pfn == mg_http_handler && c->pfn_data == st && !c->is_client) {
        /* Partial request bytes left over start (or keep) a deadline. */
        if (c->recv.len == 0) {
          st->expire = 0;
        } else if (st->expire == 0) {
          st->expire = deadline(st);
        }
      }
      break;
    case MG_EV_WRITE:
      st->last_io = mg_millis();
      if (st->pumping) break; /* our own report of zero-copy bytes */
      if (st->fd != NULL) {
        mg_http_pump(c, st);
        if (st->fd == NULL) process(c, st); /* pipelined requests waited */
      }
      resume(c, st);
      mg_http_report_sent(c, st);
      break;
    case MG_EV_POLL:
      if (st->linger_end != 0) {
        uint64_t now = *(uint64_t *) ev_data;
        if (now >= st->linger_end) {
          c->is_closing = 1;
        } else if (now >= st->linger_quiet && c->send.len == 0) {
          c->is_draining = 1;
        }
        break;
      }
      /* A request that stalls half-way (slowloris) is cut off; never while
       * a file is still streaming out. */
      if (!c->is_client && st->fd == NULL && !c->is_closing &&
          !c->is_draining) {
        if (!st->paused && st->expire != 0 && c->recv.len > 0 &&
            mg_millis() > st->expire) {
          too_slow(c, "HTTP request timeout");
          break;
        }
        if (body_too_slow(c, st, *(uint64_t *) ev_data)) {
          too_slow(c, "HTTP body too slow");
          break;
        }
      }
      if (st->fd != NULL) {
        mg_http_pump(c, st);
        if (st->fd == NULL) process(c, st);
      }
      resume(c, st);
      mg_http_report_sent(c, st);
      if (c->pfn == mg_http_handler && c->pfn_data == st)
        close_if_idle(c, st, *(uint64_t *) ev_data);
      break;
    default:
      break;
  }
}

struct mg_connection *mg_http_listen(struct mg_mgr *mgr, const char *url,
                                     mg_event_handler_t fn, void *fn_data) {
  struct mg_connection *c = mg_listen(mgr, url, fn, fn_data);
  if (c != NULL) mg_http_attach(c);
  return c;
}

#endif /* MG_ENABLE_HTTP */
