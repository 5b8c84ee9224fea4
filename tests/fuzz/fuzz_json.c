/* Fuzz target: the JSON parser (mg_json_get and its typed getters), JSON
 * string escaping and the JSON-RPC dispatcher. Besides "no crash, no
 * sanitizer report" it checks invariants and abort()s on a violation:
 *  - a found token lies inside the input and is itself a valid document;
 *  - an invalid document yields no element for any path;
 *  - escaping then unescaping any bytes is the identity, and the escaped
 *    text is a valid JSON string;
 *  - every JSON-RPC response is a valid JSON document.
 * If the input contains a newline, the part before it is used as a path. */
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

static void check_path(struct mg_str doc, const char *path, bool doc_valid) {
  long len = -1, ofs = mg_json_get(doc, path, &len);
  double d;
  bool b;
  int64_t v;
  if (ofs < 0) {
    REQUIRE(ofs == MG_JSON_INVALID || ofs == MG_JSON_TOO_DEEP ||
            ofs == MG_JSON_NOT_FOUND);
    if (!doc_valid) REQUIRE(ofs != MG_JSON_NOT_FOUND);
    REQUIRE(!mg_json_get_num(doc, path, &d));
    REQUIRE(!mg_json_get_bool(doc, path, &b));
    REQUIRE(!mg_json_get_i64(doc, path, &v));
    return;
  }
  REQUIRE(doc_valid);
  REQUIRE(len > 0 && (size_t) ofs + (size_t) len <= doc.len);
  {
    struct mg_str tok = {doc.buf + ofs, (size_t) len};
    long len2 = -1;
    char *buf = (char *) malloc((size_t) len);
    REQUIRE(buf != NULL);
    REQUIRE(mg_json_get(tok, "$", &len2) == 0 && len2 == len);
    if (tok.buf[0] == '"') {
      long n = mg_json_get_str(doc, path, buf, (size_t) len);
      REQUIRE(n >= 0 && n < len);
    } else {
      REQUIRE(mg_json_get_str(doc, path, buf, (size_t) len) == -1);
    }
    free(buf);
  }
  (void) mg_json_get_num(doc, path, &d);
  (void) mg_json_get_bool(doc, path, &b);
  (void) mg_json_get_i64(doc, path, &v);
}

static void check_escape(struct mg_str s) {
  size_t cap = 6 * s.len + 3, n;
  char *esc = (char *) malloc(cap), *back = (char *) malloc(s.len + 1);
  struct mg_str e;
  long len = -1;
  REQUIRE(esc != NULL && back != NULL);
  esc[0] = '"';
  n = mg_json_escape(s, esc + 1, cap - 2);
  REQUIRE(n + 2 < cap);
  e.buf = esc + 1, e.len = n;
  REQUIRE(mg_json_unescape(e, back, s.len + 1) == (long) s.len);
  REQUIRE(s.len == 0 || memcmp(back, s.buf, s.len) == 0);
  esc[n + 1] = '"';
  e.buf = esc, e.len = n + 2;
  REQUIRE(mg_json_get(e, "$", &len) == 0 && len == (long) e.len);
  free(esc);
  free(back);
}

struct out {
  char buf[16384];
  size_t len;
  bool overflow;
};

static void sink(const char *buf, size_t len, void *arg) {
  struct out *o = (struct out *) arg;
  if (o->len + len > sizeof(o->buf)) {
    o->overflow = true;
    return;
  }
  memcpy(o->buf + o->len, buf, len);
  o->len += len;
}

static void rpc_echo(struct mg_rpc_req *r) {
  mg_rpc_ok(r, r->params.len > 0 ? r->params : mg_str("null"));
}

static void rpc_fail(struct mg_rpc_req *r) {
  mg_rpc_err(r, -1, r->method);
}

static void check_rpc(struct mg_str frame) {
  struct mg_rpc *head = NULL, n1, n2;
  struct mg_rpc_req r;
  static struct out o;
  memset(&r, 0, sizeof(r));
  o.len = 0, o.overflow = false;
  mg_rpc_add(&head, &n1, mg_str("#"), rpc_echo, NULL);
  mg_rpc_add(&head, &n2, mg_str("f*"), rpc_fail, NULL);
  r.head = head, r.frame = frame, r.out = sink, r.out_arg = &o;
  mg_rpc_process(&r);
  REQUIRE(r.responded || o.len == 0);
  if (o.len > 0 && !o.overflow) {
    struct mg_str out = {o.buf, o.len};
    REQUIRE(mg_json_get(out, "$", NULL) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *paths[] = {"$", "$.a", "$[0]", "$.a.b[1]", "$.id",
                                "$.method", "$.params[0].x", "$[1][0]"};
  struct mg_str doc = {(const char *) data, size};
  const uint8_t *nl = (const uint8_t *) memchr(data, '\n', size);
  long top = mg_json_get(doc, "$", NULL);
  bool valid = top >= 0;
  size_t i;
  for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    check_path(doc, paths[i], valid);
  }
  if (nl != NULL && (size_t) (nl - data) < 256) {  // "<path>\n<document>"
    char path[256];
    struct mg_str rest = {(const char *) nl + 1, size - (size_t) (nl - data) - 1};
    size_t plen = (size_t) (nl - data);
    memcpy(path, data, plen);
    path[plen] = '\0';
    check_path(rest, path, mg_json_get(rest, "$", NULL) >= 0);
  }
  check_escape(doc);
  check_rpc(doc);
  return 0;
}
