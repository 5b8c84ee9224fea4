/* multipart/form-data (RFC 7578) part iterator over a complete body. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include <string.h>

/* Offset of needle in hay at or after from, or SIZE_MAX. */
static size_t find(struct mg_str hay, size_t from, const char *needle,
                   size_t nlen) {
  if (nlen == 0 || hay.len < nlen) return (size_t) -1;
  for (size_t i = from; i + nlen <= hay.len; i++) {
    if (hay.buf[i] == needle[0] && memcmp(hay.buf + i, needle, nlen) == 0)
      return i;
  }
  return (size_t) -1;
}

/* Length of a line ending at s[i] ("\r\n" or "\n"), 0 if none there. */
static size_t eol(struct mg_str s, size_t i) {
  if (i < s.len && s.buf[i] == '\n') return 1;
  if (i + 1 < s.len && s.buf[i] == '\r' && s.buf[i + 1] == '\n') return 2;
  return 0;
}

size_t mg_http_next_multipart(struct mg_str body, size_t ofs,
                              struct mg_http_part *part) {
  struct mg_str boundary;
  size_t i = 0, e;
  if (part != NULL) memset(part, 0, sizeof(*part));
  if (body.buf == NULL || body.len < 4 || body.buf[0] != '-' ||
      body.buf[1] != '-')
    return 0;
  /* The first line is "--boundary". */
  while (i < body.len && body.buf[i] != '\r' && body.buf[i] != '\n') i++;
  boundary = mg_str_n(body.buf, i); /* with the leading "--" */
  if (boundary.len < 3 || boundary.len > 74) return 0;
  if (ofs >= body.len) return 0;
  /* ofs points at a delimiter line: "--boundary" followed by EOL, or by
   * "--" for the closing delimiter. */
  if (ofs + boundary.len > body.len ||
      memcmp(body.buf + ofs, boundary.buf, boundary.len) != 0)
    return 0;
  i = ofs + boundary.len;
  if ((e = eol(body, i)) == 0) return 0; /* "--" (the end) or garbage */
  i += e;
  /* Part headers. */
  for (int lines = 0;; lines++) {
    size_t ls = i;
    while (i < body.len && body.buf[i] != '\n') i++;
    if (i >= body.len || lines > 32) return 0;
    size_t le = i;
    if (le > ls && body.buf[le - 1] == '\r') le--;
    i++;
    struct mg_str line = mg_str_n(body.buf + ls, le - ls), k, v;
    if (line.len == 0) break;
    if (!mg_str_split(line, ':', &k, &v)) return 0;
    if (part != NULL && mg_str_ieq(mg_str_trim(k), "Content-Disposition")) {
      part->name = mg_http_get_header_var(v, mg_str("name"));
      part->filename = mg_http_get_header_var(v, mg_str("filename"));
    }
  }
  /* The body runs until EOL + "--boundary". */
  size_t b = i, d = b;
  for (;;) {
    d = find(body, d, boundary.buf, boundary.len);
    if (d == (size_t) -1) return 0;
    /* A real delimiter line ends right after the boundary (or its "--"). */
    size_t after = d + boundary.len;
    bool closes = after + 1 < body.len && body.buf[after] == '-' &&
                  body.buf[after + 1] == '-';
    if (!closes && eol(body, after) == 0) {
      d++;
      continue;
    }
    if (d >= b + 2 && body.buf[d - 2] == '\r' && body.buf[d - 1] == '\n') {
      if (part != NULL) part->body = mg_str_n(body.buf + b, d - 2 - b);
      return d;
    }
    if (d >= b + 1 && body.buf[d - 1] == '\n') {
      if (part != NULL) part->body = mg_str_n(body.buf + b, d - 1 - b);
      return d;
    }
    d++;
  }
}

#endif /* MG_ENABLE_HTTP */
