/* JSON-RPC 2.0-style dispatcher: method patterns (mg_match globs) mapped to
 * handlers, responses streamed to an output sink. */
#include <string.h>

#include "mg_util.h"

static void rpc_out(struct mg_rpc_req *r, const char *buf, size_t len) {
  if (r->out != NULL && len > 0) r->out(buf, len, r->out_arg);
}

static void rpc_puts(struct mg_rpc_req *r, const char *s) {
  rpc_out(r, s, strlen(s));
}

static void rpc_int(struct mg_rpc_req *r, long v) {
  char tmp[24];
  size_t n = sizeof(tmp);
  unsigned long u = v < 0 ? 0UL - (unsigned long) v : (unsigned long) v;
  do {
    tmp[--n] = (char) ('0' + u % 10);
    u /= 10;
  } while (u > 0);
  if (v < 0) tmp[--n] = '-';
  rpc_out(r, tmp + n, sizeof(tmp) - n);
}

/* Writes s JSON-escaped, in bounded chunks (6 output bytes per input max). */
static void rpc_esc(struct mg_rpc_req *r, struct mg_str s) {
  char tmp[6 * 32 + 1];
  size_t i;
  for (i = 0; i < s.len; i += 32) {
    struct mg_str part = {s.buf + i, s.len - i < 32 ? s.len - i : 32};
    rpc_out(r, tmp, mg_json_escape(part, tmp, sizeof(tmp)));
  }
}

/* {"id":ID,"error":{"code":C,"message": — the caller writes the message. */
static void rpc_err_head(struct mg_rpc_req *r, int code) {
  rpc_puts(r, "{");
  if (r->id.len > 0) {
    rpc_puts(r, "\"id\":");
    rpc_out(r, r->id.buf, r->id.len);
    rpc_puts(r, ",");
  }
  rpc_puts(r, "\"error\":{\"code\":");
  rpc_int(r, code);
  rpc_puts(r, ",\"message\":");
}

void mg_rpc_add(struct mg_rpc **head, struct mg_rpc *node, struct mg_str method,
                mg_rpc_fn_t fn, void *fn_data) {
  node->method = method;
  node->fn = fn;
  node->fn_data = fn_data;
  node->next = *head;
  *head = node;
}

bool mg_rpc_del(struct mg_rpc **head, struct mg_rpc *node) {
  for (; *head != NULL; head = &(*head)->next) {
    if (*head == node) {
      *head = node->next;
      node->next = NULL;
      return true;
    }
  }
  return false;
}

bool mg_rpc_ok(struct mg_rpc_req *r, struct mg_str result_json) {
  if (r->responded) return false;
  r->responded = true;
  if (r->id.len == 0) return true;  // notification: no response
  rpc_puts(r, "{\"id\":");
  rpc_out(r, r->id.buf, r->id.len);
  rpc_puts(r, ",\"result\":");
  rpc_out(r, result_json.buf, result_json.len);
  rpc_puts(r, "}");
  return true;
}

bool mg_rpc_err(struct mg_rpc_req *r, int code, struct mg_str message) {
  if (r->responded) return false;
  r->responded = true;
  rpc_err_head(r, code);
  rpc_puts(r, "\"");
  rpc_esc(r, message);
  rpc_puts(r, "\"}}");
  return true;
}

bool mg_rpc_err_json(struct mg_rpc_req *r, int code, struct mg_str msg_json) {
  if (r->responded) return false;
  r->responded = true;
  rpc_err_head(r, code);
  rpc_out(r, msg_json.buf, msg_json.len);
  rpc_puts(r, "}}");
  return true;
}

/* The token at path, or an empty view. */
static struct mg_str rpc_token(struct mg_str frame, const char *path) {
  long len = 0, ofs = mg_json_get(frame, path, &len);
  struct mg_str t = {frame.buf, 0};
  if (ofs >= 0) t.buf = frame.buf + ofs, t.len = (size_t) len;
  return t;
}

void mg_rpc_process(struct mg_rpc_req *r) {
  struct mg_str m;
  struct mg_rpc *h;
  r->responded = false;
  r->fn_data = NULL;
  r->id = rpc_token(r->frame, "$.id");
  m = rpc_token(r->frame, "$.method");
  r->params = rpc_token(r->frame, "$.params");
  if (m.len < 2 || m.buf[0] != '"') {
    // Not an object with a string method (batches included): parse error.
    r->method.buf = r->frame.buf, r->method.len = 0;
    mg_rpc_err(r, -32700, r->frame);
    return;
  }
  r->method.buf = m.buf + 1, r->method.len = m.len - 2;
  for (h = r->head; h != NULL; h = h->next) {
    if (mg_match(r->method, h->method, NULL, 0)) break;
  }
  if (h == NULL) {
    // The method body is already valid JSON string text: copy it verbatim.
    rpc_err_head(r, -32601);
    rpc_puts(r, "\"");
    rpc_out(r, r->method.buf, r->method.len);
    rpc_puts(r, " not found\"}}");
    r->responded = true;
    return;
  }
  r->fn_data = h->fn_data;
  h->fn(r);
  if (!r->responded) {
    mg_rpc_err(r, -32603, mg_str("handler produced no response"));
  }
}

void mg_rpc_out_iobuf(const char *buf, size_t len, void *arg) {
  struct mg_iobuf *io = (struct mg_iobuf *) arg;
  mg_iobuf_add(io, io->len, buf, len);
}
