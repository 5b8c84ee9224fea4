/* Sans-IO HTTP/1.x message parser: bytes in, a struct mg_http_message out.
 * Nothing here allocates or touches a connection; every loop is bounded by the
 * input length, so the functions are safe to fuzz directly. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include <string.h>

/* RFC 9110 token characters (method, header names). */
static bool is_tchar(unsigned char ch) {
  if (ch >= 'a' && ch <= 'z') return true;
  if (ch >= 'A' && ch <= 'Z') return true;
  if (ch >= '0' && ch <= '9') return true;
  switch (ch) { /* header names are mostly letters and '-': no strchr */
    case '-': case '!': case '#': case '$': case '%': case '&': case '\'':
    case '*': case '+': case '.': case '^': case '_': case '`': case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

/* Field value characters: visible ASCII, obs-text, space and tab. */
static bool is_vchar(unsigned char ch) {
  return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Finds the end of the head: returns the offset just past the blank line, 0
 * when not there yet. Accepts CRLF and bare LF line ends. */
static size_t find_head_end(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '\n') continue;
    if (i + 1 < len && s[i + 1] == '\n') return i + 2;
    if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') return i + 3;
  }
  return 0;
}

/* Next line in [*p, end): returns it without its line ending, advances *p. */
static struct mg_str next_line(const char **p, const char *end) {
  const char *s = *p, *e = s;
  while (e < end && *e != '\n') e++;
  *p = e < end ? e + 1 : end;
  if (e > s && e[-1] == '\r') e--;
  return mg_str_n(s, (size_t) (e - s));
}

static bool is_http_version(struct mg_str v) {
  return v.len == 8 && memcmp(v.buf, "HTTP/", 5) == 0 && v.buf[5] >= '0' &&
         v.buf[5] <= '9' && v.buf[6] == '.' && v.buf[7] >= '0' &&
         v.buf[7] <= '9';
}

static bool parse_request_line(struct mg_str l, struct mg_http_message *hm) {
  size_t i = 0, j;
  while (i < l.len && is_tchar((unsigned char) l.buf[i])) i++;
  if (i == 0 || i > MG_HTTP_MAX_METHOD || i >= l.len || l.buf[i] != ' ')
    return false;
  hm->method = mg_str_n(l.buf, i);
  j = ++i;
  while (i < l.len && l.buf[i] != ' ') {
    unsigned char ch = (unsigned char) l.buf[i];
    if (ch <= 0x20 || ch == 0x7f) return false;
    i++;
  }
  if (i == j || i >= l.len) return false;
  hm->uri = mg_str_n(l.buf + j, i - j);
  hm->proto = mg_str_n(l.buf + i + 1, l.len - i - 1);
  if (!is_http_version(hm->proto)) return false;
  /* The query is whatever follows the first '?'. */
  for (size_t k = 0; k < hm->uri.len; k++) {
    if (hm->uri.buf[k] == '?') {
      hm->query = mg_str_n(hm->uri.buf + k + 1, hm->uri.len - k - 1);
      hm->uri.len = k;
      break;
    }
  }
  return true;
}

/* "HTTP/1.1 200 OK": method = version, uri = code, proto = reason. */
static bool parse_status_line(struct mg_str l, struct mg_http_message *hm) {
  if (l.len < 12 || !is_http_version(mg_str_n(l.buf, 8)) || l.buf[8] != ' ')
    return false;
  for (size_t i = 9; i < 12; i++) {
    if (l.buf[i] < '0' || l.buf[i] > '9') return false;
  }
  if (l.len > 12 && l.buf[12] != ' ') return false;
  hm->method = mg_str_n(l.buf, 8);
  hm->uri = mg_str_n(l.buf + 9, 3);
  hm->proto = l.len > 13 ? mg_str_n(l.buf + 13, l.len - 13) : mg_str_n("", 0);
  for (size_t i = 0; i < hm->proto.len; i++) {
    if (!is_vchar((unsigned char) hm->proto.buf[i])) return false;
  }
  return true;
}

static bool parse_header(struct mg_str l, struct mg_http_header *h) {
  size_t i = 0;
  while (i < l.len && is_tchar((unsigned char) l.buf[i])) i++;
  /* No whitespace allowed between name and colon (RFC 9112 5.1). */
  if (i == 0 || i >= l.len || l.buf[i] != ':') return false;
  h->name = mg_str_n(l.buf, i);
  for (size_t k = i + 1; k < l.len; k++) {
    if (!is_vchar((unsigned char) l.buf[k])) return false;
  }
  h->value = mg_str_trim(mg_str_n(l.buf + i + 1, l.len - i - 1));
  return true;
}

/* The start of s (no line end in it yet) matches pattern, where 'D' stands
 * for a digit: true while it still can become the pattern. */
static bool prefix_matches(const char *s, size_t len, const char *pattern) {
  for (size_t i = 0; i < len && pattern[i] != '\0'; i++) {
    bool digit = s[i] >= '0' && s[i] <= '9';
    if (pattern[i] == 'D' ? !digit : s[i] != pattern[i]) return false;
  }
  return true;
}

/* A start line whose end has not arrived: can it still become valid? */
static bool start_line_prefix_ok(const char *s, size_t len) {
  size_t i = 0, j;
  if (len >= 5 && memcmp(s, "HTTP/", 5) == 0) { /* status line */
    if (!prefix_matches(s, len, "HTTP/D.D DDD")) return false;
    if (len > 12 && s[12] != ' ' && s[12] != '\r') return false;
    for (i = 12; i < len; i++) { /* the reason; a CR only last */
      if (s[i] == '\r' ? i + 1 < len : !is_vchar((unsigned char) s[i]))
        return false;
    }
    return true;
  }
  while (i < len && is_tchar((unsigned char) s[i])) i++;
  if (i == len) return i <= MG_HTTP_MAX_METHOD; /* the method so far */
  if (i == 0 || i > MG_HTTP_MAX_METHOD || s[i] != ' ') return false;
  for (j = ++i; i < len && s[i] != ' '; i++) { /* the request target */
    unsigned char ch = (unsigned char) s[i];
    if (ch <= 0x20 || ch == 0x7f) return false;
  }
  if (i == len) return true;
  if (i == j) return false; /* empty target */
  s += i + 1, len -= i + 1; /* the version */
  if (!prefix_matches(s, len, "HTTP/D.D")) return false;
  return len <= 8 || (len == 9 && s[8] == '\r');
}

/* The request line names HTTP/1.x (checked once the line is parsed). */
static int check_version(const struct mg_http_message *hm) {
  if (hm->method.len >= 5 && memcmp(hm->method.buf, "HTTP/", 5) == 0) return 0;
  return hm->proto.buf[5] == '1' ? 0 : MG_HTTP_ERR_VERSION;
}

/* A head whose blank line has not arrived: checks the complete lines and the
 * start of the last one, so what cannot become a valid head is refused now.
 * Every field line, complete or not, is checked against the field count. */
static int check_partial(const char *s, size_t len, struct mg_http_message *hm) {
  const char *p = s, *e = s + len, *lf = (const char *) memchr(s, '\n', len);
  size_t n = 0, i;
  int rc;
  if (lf == NULL) return start_line_prefix_ok(s, len) ? 0 : MG_HTTP_ERR_BAD;
  if (memchr(s, 0, len) != NULL) return MG_HTTP_ERR_BAD;
  struct mg_str l = next_line(&p, e);
  bool ok = (l.len >= 5 && memcmp(l.buf, "HTTP/", 5) == 0)
                ? parse_status_line(l, hm)
                : parse_request_line(l, hm);
  if (!ok) return MG_HTTP_ERR_BAD;
  if ((rc = check_version(hm)) != 0) return rc;
  while (memchr(p, '\n', (size_t) (e - p)) != NULL) {
    struct mg_http_header h;
    if (!parse_header(next_line(&p, e), &h)) return MG_HTTP_ERR_BAD;
    if (++n > MG_MAX_HTTP_HEADERS) return MG_HTTP_ERR_FIELDS;
  }
  /* The last line so far: a field name up to ':', then its value, or the
   * CR of the blank line. */
  if (p == e || (e - p == 1 && *p == '\r')) return 0;
  if (++n > MG_MAX_HTTP_HEADERS) return MG_HTTP_ERR_FIELDS;
  for (i = 0; p + i < e && is_tchar((unsigned char) p[i]); i++) (void) 0;
  if (p + i == e) return 0;
  if (i == 0 || p[i] != ':') return MG_HTTP_ERR_BAD;
  for (p += i + 1; p < e; p++) {
    if (*p == '\r' ? p + 1 < e : !is_vchar((unsigned char) *p))
      return MG_HTTP_ERR_BAD;
  }
  return 0;
}

int mg_http_parse(const char *buf, size_t len, struct mg_http_message *hm) {
  size_t skip = 0, end;
  int rc;
  memset(hm, 0, sizeof(*hm));
  /* Tolerate empty lines before the start line (RFC 9112 2.2). */
  while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n')) skip++;
  if (skip > 8) return MG_HTTP_ERR_BAD;
  end = find_head_end(buf + skip, len - skip);
  if (end == 0) {
    /* Bytes that can never start a message end it early (a TLS hello on a
     * plain port, binary junk): no point waiting for a blank line. */
    rc = check_partial(buf + skip, len - skip, hm);
    memset(hm, 0, sizeof(*hm));
    if (rc != 0) return rc;
    return len - skip > MG_HTTP_MAX_HEAD_SIZE ? MG_HTTP_ERR_HEAD_BIG : 0;
  }
  if (end > MG_HTTP_MAX_HEAD_SIZE) return MG_HTTP_ERR_HEAD_BIG;
  if (memchr(buf + skip, 0, end) != NULL) return MG_HTTP_ERR_BAD;

  const char *p = buf + skip, *e = buf + skip + end;
  struct mg_str l = next_line(&p, e);
  bool ok = (l.len >= 5 && memcmp(l.buf, "HTTP/", 5) == 0)
                ? parse_status_line(l, hm)
                : parse_request_line(l, hm);
  if (!ok) return MG_HTTP_ERR_BAD;
  if ((rc = check_version(hm)) != 0) return rc;
  size_t n = 0;
  for (;;) {
    l = next_line(&p, e);
    if (l.len == 0) break; /* the blank line */
    struct mg_http_header h;
    if (!parse_header(l, &h)) return MG_HTTP_ERR_BAD;
    /* Never drop a field: one past the limit could change the framing. */
    if (n == MG_MAX_HTTP_HEADERS) return MG_HTTP_ERR_FIELDS;
    hm->headers[n++] = h;
  }
  hm->head = mg_str_n(buf + skip, end);
  hm->message = mg_str_n(buf + skip, end);
  hm->body = mg_str_n(buf + skip + end, 0);
  return (int) (skip + end);
}

static bool is_hex(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
         (ch >= 'A' && ch <= 'F');
}

/* RFC 3986 unreserved and sub-delims characters. */
static bool is_host_char(unsigned char ch) {
  if (ch >= 'a' && ch <= 'z') return true;
  if (ch >= 'A' && ch <= 'Z') return true;
  if (ch >= '0' && ch <= '9') return true;
  return ch != 0 && strchr("-._~!$&'()*+,;=", ch) != NULL;
}

/* What a reg-name (with colon_ok: the inside of an IP literal) consists of:
 * host characters and pct-encoded triplets. */
static bool host_chars_ok(struct mg_str v, bool colon_ok) {
  for (size_t i = 0; i < v.len; i++) {
    unsigned char ch = (unsigned char) v.buf[i];
    if (ch == '%') {
      if (i + 2 >= v.len || !is_hex(v.buf[i + 1]) || !is_hex(v.buf[i + 2]))
        return false;
      i += 2;
    } else if (!is_host_char(ch) && !(colon_ok && ch == ':')) {
      return false;
    }
  }
  return true;
}

/* host = uri-host [":" port], port = *DIGIT (RFC 9110 7.2, RFC 3986 3.2). */
static bool host_ok(struct mg_str v) {
  size_t i = 0;
  if (v.len > 0 && v.buf[0] == '[') { /* IP-literal: IPv6 or IPvFuture */
    while (i < v.len && v.buf[i] != ']') i++;
    if (i == v.len || i == 1 ||
        !host_chars_ok(mg_str_n(v.buf + 1, i - 1), true))
      return false;
    i++;
  } else {
    while (i < v.len && v.buf[i] != ':') i++;
    if (!host_chars_ok(mg_str_n(v.buf, i), false)) return false;
  }
  if (i == v.len) return true;
  if (v.buf[i++] != ':') return false;
  for (; i < v.len; i++) {
    if (v.buf[i] < '0' || v.buf[i] > '9') return false;
  }
  return true;
}

int mg_http_check_request(const struct mg_http_message *hm) {
  const struct mg_str *host = NULL;
  if (hm->method.len == 0 || mg_str_starts_with(hm->method, "HTTP/", false))
    return MG_HTTP_ERR_BAD; /* a response where a request belongs */
  for (size_t i = 0; i < MG_MAX_HTTP_HEADERS && hm->headers[i].name.len; i++) {
    const struct mg_str *name = &hm->headers[i].name;
    if (name->len != 4 || !mg_str_ieq(*name, "Host")) continue;
    if (host != NULL) return MG_HTTP_ERR_BAD; /* more than one */
    host = &hm->headers[i].value;
    if (!host_ok(*host)) return MG_HTTP_ERR_BAD;
  }
  /* From HTTP/1.1 on Host is required (parse_request_line checked the form
   * HTTP/D.D, check_version the major version). */
  if (host == NULL && hm->proto.len == 8 && hm->proto.buf[7] != '0')
    return MG_HTTP_ERR_BAD;
  return 0;
}

struct mg_str *mg_http_get_header(struct mg_http_message *hm,
                                  const char *name) {
  for (size_t i = 0; i < MG_MAX_HTTP_HEADERS && hm->headers[i].name.len; i++) {
    if (mg_str_ieq(hm->headers[i].name, name)) return &hm->headers[i].value;
  }
  return NULL;
}

/* Parses a Content-Length value: digits only, at most 18 of them. */
static bool parse_clen(struct mg_str v, uint64_t *out) {
  if (v.len == 0 || v.len > 18) return false;
  uint64_t n = 0;
  for (size_t i = 0; i < v.len; i++) {
    if (v.buf[i] < '0' || v.buf[i] > '9') return false;
    n = n * 10 + (uint64_t) (v.buf[i] - '0');
  }
  *out = n;
  return true;
}

/* True when the last coding of a Transfer-Encoding list is "chunked". */
static bool last_coding_is_chunked(struct mg_str v) {
  size_t i = v.len;
  while (i > 0 && v.buf[i - 1] != ',') i--;
  return mg_str_ieq(mg_str_trim(mg_str_n(v.buf + i, v.len - i)), "chunked");
}

int mg_http_body_framing(const struct mg_http_message *hm, bool is_head_req,
                         uint64_t *clen) {
  bool is_resp = hm->method.len >= 5 && memcmp(hm->method.buf, "HTTP/", 5) == 0;
  bool have_cl = false, have_te = false, chunked = false;
  uint64_t cl = 0;
  *clen = 0;
  for (size_t i = 0; i < MG_MAX_HTTP_HEADERS && hm->headers[i].name.len; i++) {
    const struct mg_http_header *h = &hm->headers[i];
    if (mg_str_ieq(h->name, "Content-Length")) {
      uint64_t v;
      if (!parse_clen(h->value, &v)) return MG_HTTP_ERR_BAD;
      if (have_cl && v != cl) return MG_HTTP_ERR_BAD; /* conflicting */
      have_cl = true, cl = v;
    } else if (mg_str_ieq(h->name, "Transfer-Encoding")) {
      /* Several TE headers form one list; only the last coding matters. */
      have_te = true;
      chunked = last_coding_is_chunked(h->value);
    }
  }
  if (is_resp) {
    int code = mg_http_status(hm);
    if (is_head_req || (code >= 100 && code < 200) || code == 204 ||
        code == 304)
      return MG_HTTP_BODY_LENGTH;
  }
  /* Both framings at once is a request smuggling pattern: refuse it. */
  if (have_te && have_cl) return MG_HTTP_ERR_BAD;
  if (have_te) {
    if (chunked) return MG_HTTP_BODY_CHUNKED;
    return is_resp ? MG_HTTP_BODY_TO_CLOSE : MG_HTTP_ERR_TE;
  }
  if (have_cl) {
    if (cl > MG_HTTP_MAX_BODY_SIZE) return MG_HTTP_ERR_BODY_BIG;
    *clen = cl;
    return MG_HTTP_BODY_LENGTH;
  }
  return is_resp ? MG_HTTP_BODY_TO_CLOSE : MG_HTTP_BODY_LENGTH;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Reads one CRLF/LF-terminated line at s[*i]; false when incomplete.
 * Bounds the line length so a missing line end is reported early. */
static int chunk_line(const char *s, size_t len, size_t *i, struct mg_str *l) {
  size_t start = *i;
  for (size_t k = start; k < len; k++) {
    if (s[k] == '\n') {
      size_t e = k;
      if (e > start && s[e - 1] == '\r') e--;
      *l = mg_str_n(s + start, e - start);
      *i = k + 1;
      return 1;
    }
    if (k - start > 4096) return MG_HTTP_ERR_BAD;
  }
  return 0;
}

long mg_http_chunked_len(const char *buf, size_t len, size_t *body_len) {
  size_t i = 0;
  uint64_t total = 0;
  *body_len = 0;
  for (;;) {
    struct mg_str l;
    int r = chunk_line(buf, len, &i, &l);
    if (r <= 0) return r;
    /* chunk-size [; extensions] */
    uint64_t n = 0;
    size_t k = 0;
    while (k < l.len && hexval(l.buf[k]) >= 0) {
      if (k >= 15) return MG_HTTP_ERR_BAD; /* absurdly large */
      n = n * 16 + (uint64_t) hexval(l.buf[k]);
      k++;
    }
    if (k == 0) return MG_HTTP_ERR_BAD;
    while (k < l.len && (l.buf[k] == ' ' || l.buf[k] == '\t')) k++;
    if (k < l.len && l.buf[k] != ';') return MG_HTTP_ERR_BAD;
    if (n == 0) break;
    total += n;
    if (total > MG_HTTP_MAX_BODY_SIZE) return MG_HTTP_ERR_BODY_BIG;
    if ((uint64_t) (len - i) < n) return 0;
    i += (size_t) n;
    /* Chunk data is followed by CRLF (or LF). */
    if (i >= len) return 0;
    if (buf[i] == '\r') {
      if (i + 1 >= len) return 0;
      if (buf[i + 1] != '\n') return MG_HTTP_ERR_BAD;
      i += 2;
    } else if (buf[i] == '\n') {
      i += 1;
    } else {
      return MG_HTTP_ERR_BAD;
    }
  }
  /* Trailer fields until an empty line. */
  for (int lines = 0;; lines++) {
    struct mg_str l;
    int r = chunk_line(buf, len, &i, &l);
    if (r <= 0) return r;
    if (l.len == 0) break;
    if (lines > 64 || memchr(l.buf, ':', l.len) == NULL) return MG_HTTP_ERR_BAD;
  }
  *body_len = (size_t) total;
  return (long) i;
}

size_t mg_http_dechunk(char *buf, size_t wire_len) {
  size_t i = 0, o = 0;
  while (i < wire_len) {
    size_t n = 0;
    while (i < wire_len && hexval(buf[i]) >= 0) n = n * 16 + (size_t) hexval(buf[i++]);
    while (i < wire_len && buf[i] != '\n') i++; /* extensions, CR */
    i++;
    if (n == 0 || i + n > wire_len) break;
    memmove(buf + o, buf + i, n);
    o += n, i += n;
    if (i < wire_len && buf[i] == '\r') i++;
    if (i < wire_len && buf[i] == '\n') i++;
  }
  return o;
}

long mg_http_frame(const char *buf, size_t len, bool is_head_req,
                   struct mg_http_message *hm, int *framing) {
  uint64_t clen = 0;
  int n = mg_http_parse(buf, len, hm);
  *framing = MG_HTTP_BODY_LENGTH;
  if (n <= 0) return n;
  int f = mg_http_body_framing(hm, is_head_req, &clen);
  if (f < 0) return f;
  *framing = f;
  size_t start = (size_t) (hm->head.buf - buf), hlen = (size_t) n;
  if (f == MG_HTTP_BODY_TO_CLOSE) return 0;
  if (f == MG_HTTP_BODY_CHUNKED) {
    size_t blen;
    long w = mg_http_chunked_len(buf + hlen, len - hlen, &blen);
    if (w <= 0) return w;
    hm->body = mg_str_n(buf + hlen, (size_t) w);
    hm->message = mg_str_n(buf + start, hlen - start + (size_t) w);
    return (long) hlen + w;
  }
  if ((uint64_t) (len - hlen) < clen) return 0;
  hm->body = mg_str_n(buf + hlen, (size_t) clen);
  hm->message = mg_str_n(buf + start, hlen - start + (size_t) clen);
  return (long) (hlen + (size_t) clen);
}

int mg_http_status(const struct mg_http_message *hm) {
  if (hm->method.len < 5 || memcmp(hm->method.buf, "HTTP/", 5) != 0) return 0;
  if (hm->uri.len != 3) return 0;
  int code = 0;
  for (size_t i = 0; i < 3; i++) {
    if (hm->uri.buf[i] < '0' || hm->uri.buf[i] > '9') return 0;
    code = code * 10 + (hm->uri.buf[i] - '0');
  }
  return code;
}

#endif /* MG_ENABLE_HTTP */
