/* HTTP client side: an outbound connection parsed by the same protocol
 * handler as the server (responses instead of requests). The application
 * writes the request itself (mg_printf) once MG_EV_CONNECT arrives.
 *
 * A response to HEAD carries Content-Length but no body, so the parser must
 * know which responses answer HEAD requests. The requests are bytes the
 * application queued, so we read their start lines back from c->send before
 * they are sent: the protocol handler runs before the application's handler,
 * so c->fn is wrapped to look at c->send right after the application ran
 * (the core writes only after the event returns). Request bodies are stepped
 * over by their framing; a chunked body streamed out piece by piece, or
 * anything we cannot parse, ends the sniffing and HEAD responses then fall
 * back to waiting for the close. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include "http_internal.h"

static void lose(struct mg_http_state *st) {
  st->out_lost = 1;
  st->q_len = 0, st->q_head = st->q_close = 0;
}

static void push(struct mg_http_state *st, bool head) {
  if (st->q_len == 32) { /* responses never came: forget the oldest */
    st->q_head >>= 1, st->q_len--;
  }
  if (head) st->q_head |= 1u << st->q_len;
  st->q_len++;
}

void mg_http_sniff(struct mg_connection *c, struct mg_http_state *st) {
  while (!st->out_lost && st->out_pos < c->send.len) {
    const char *p = (const char *) c->send.buf + st->out_pos;
    size_t left = c->send.len - st->out_pos;
    struct mg_http_message hm;
    uint64_t clen = 0;
    int n, framing;
    if (st->out_skip > 0) {
      size_t k = st->out_skip < left ? (size_t) st->out_skip : left;
      st->out_pos += k, st->out_skip -= k;
      continue;
    }
    if (st->out_chunked) {
      size_t body_len;
      long w = mg_http_chunked_len(p, left, &body_len);
      if (w < 0) lose(st);
      if (w <= 0) return; /* waits for the rest of the body */
      st->out_pos += (size_t) w, st->out_chunked = 0;
      continue;
    }
    n = mg_http_parse(p, left, &hm);
    if (n == 0) return; /* head not complete yet */
    framing = n < 0 ? -1 : mg_http_body_framing(&hm, false, &clen);
    if (n < 0 || mg_str_starts_with(hm.method, "HTTP/", false) || framing < 0 ||
        framing == MG_HTTP_BODY_TO_CLOSE) {
      lose(st);
      return;
    }
    push(st, mg_str_eq(hm.method, "HEAD"));
    st->out_pos += (size_t) n;
    st->out_skip = framing == MG_HTTP_BODY_LENGTH ? clen : 0;
    st->out_chunked = framing == MG_HTTP_BODY_CHUNKED;
  }
}

void mg_http_sniff_sent(struct mg_http_state *st, size_t n) {
  if (n <= st->out_pos) {
    st->out_pos -= n;
  } else {
    /* Sent before we saw them: only harmless inside a Content-Length body. */
    size_t unseen = n - st->out_pos;
    st->out_pos = 0;
    if (!st->out_chunked && st->out_skip >= unseen) {
      st->out_skip -= unseen;
    } else {
      lose(st);
    }
  }
}

/* c->fn of clients made by mg_http_connect: the application's handler, then
 * a look at what it queued. */
static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct mg_http_state *st = (struct mg_http_state *) c->pfn_data;
  if (c->pfn != mg_http_handler || st == NULL) return; /* not reached */
  if (st->user_fn != NULL) st->user_fn(c, ev, ev_data);
  if (c->pfn == mg_http_handler && c->pfn_data == st && c->fn == client_fn)
    mg_http_sniff(c, st);
}

void mg_http_client_release(struct mg_connection *c, struct mg_http_state *st) {
  if (c->fn == client_fn) c->fn = st->user_fn;
}

void mg_http_client_wrap(struct mg_connection *c) {
  struct mg_http_state *st = mg_http_state(c);
  if (st == NULL || c->fn == client_fn) return; /* no memory: no sniffing */
  st->user_fn = c->fn;
  c->fn = client_fn;
}

struct mg_connection *mg_http_connect(struct mg_mgr *mgr, const char *url,
                                      mg_event_handler_t fn, void *fn_data) {
  struct mg_connection *c = mg_connect(mgr, url, fn, fn_data);
  if (c != NULL) mg_http_attach(c);
  return c;
}

#endif /* MG_ENABLE_HTTP */
