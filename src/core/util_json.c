/* JSON (RFC 8259) element lookup by path, number/string conversions and
 * string escaping. One linear pass, no allocation, nesting bounded by
 * MG_JSON_MAX_DEPTH, so it is safe on untrusted input (see tests/fuzz). */
#include <limits.h>
#include <string.h>

#include "mg_util.h"

static bool json_is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int json_hex(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads 4 hex digits at s[i..i+4); -1 if malformed or truncated. */
static long json_hex4(const unsigned char *s, size_t n, size_t i) {
  long v = 0;
  size_t k;
  if (i + 4 > n) return -1;
  for (k = 0; k < 4; k++) {
    int h = json_hex(s[i + k]);
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

/* Scans a string whose opening quote is at s[i]; returns the index just past
 * the closing quote, or -1. */
static long json_scan_string(const unsigned char *s, size_t n, size_t i) {
  for (i++; i < n;) {
    unsigned char c = s[i];
    if (c == '"') return (long) (i + 1);
    if (c < 0x20) return -1;  // raw control characters are not allowed
    if (c != '\\') {
      i++;
      continue;
    }
    if (i + 1 >= n) return -1;
    c = s[i + 1];
    if (c == 'u') {
      if (json_hex4(s, n, i + 2) < 0) return -1;
      i += 6;
    } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
               c == 'n' || c == 'r' || c == 't') {
      i += 2;
    } else {
      return -1;
    }
  }
  return -1;
}

static size_t json_digits(const unsigned char *s, size_t n, size_t i) {
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? starting at s[i]. */
static long json_scan_number(const unsigned char *s, size_t n, size_t i) {
  size_t j;
  if (i < n && s[i] == '-') i++;
  if (i >= n) return -1;
  if (s[i] == '0') {
    i++;
  } else {
    j = json_digits(s, n, i);
    if (j == i) return -1;
    i = j;
  }
  if (i < n && s[i] == '.') {
    j = json_digits(s, n, i + 1);
    if (j == i + 1) return -1;
    i = j;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    j = json_digits(s, n, i);
    if (j == i) return -1;
    i = j;
  }
  return (long) i;
}

static long json_scan_word(const unsigned char *s, size_t n, size_t i,
                           const char *word) {
  size_t len = strlen(word);
  if (i + len > n || memcmp(s + i, word, len) != 0) return -1;
  return (long) (i + len);
}

/* Writes code point cp as UTF-8 (surrogates as plain 3-byte sequences). */
static int json_utf8(unsigned long cp, unsigned char out[4]) {
  if (cp < 0x80) {
    out[0] = (unsigned char) cp;
    return 1;
  } else if (cp < 0x800) {
    out[0] = (unsigned char) (0xc0 | (cp >> 6));
    out[1] = (unsigned char) (0x80 | (cp & 0x3f));
    return 2;
  } else if (cp < 0x10000) {
    out[0] = (unsigned char) (0xe0 | (cp >> 12));
    out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
    out[2] = (unsigned char) (0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (unsigned char) (0xf0 | (cp >> 18));
  out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
  out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
  out[3] = (unsigned char) (0x80 | (cp & 0x3f));
  return 4;
}

/* Decodes the escape sequence starting at s[*i] == '\\' into out, advancing
 * *i past it. Returns the number of bytes written or -1. */
static int json_unescape_one(const unsigned char *s, size_t n, size_t *i,
                             unsigned char out[4]) {
  long cp, lo;
  if (*i + 1 >= n) return -1;
  switch (s[*i + 1]) {
    case '"': out[0] = '"'; break;
    case '\\': out[0] = '\\'; break;
    case '/': out[0] = '/'; break;
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u':
      if ((cp = json_hex4(s, n, *i + 2)) < 0) return -1;
      *i += 6;
      // A high surrogate followed by an escaped low one is one code point.
      if (cp >= 0xd800 && cp <= 0xdbff && *i + 1 < n && s[*i] == '\\' &&
          s[*i + 1] == 'u' && (lo = json_hex4(s, n, *i + 2)) >= 0xdc00 &&
          lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        *i += 6;
      }
      return json_utf8((unsigned long) cp, out);
    default: return -1;
  }
  *i += 2;
  return 1;
}

long mg_json_unescape(struct mg_str str, char *buf, size_t len) {
  const unsigned char *s = (const unsigned char *) str.buf;
  size_t i = 0, o = 0;
  while (i < str.len) {
    unsigned char tmp[4];
    int k = 1;
    if (s[i] == '\\') {
      if ((k = json_unescape_one(s, str.len, &i, tmp)) < 0) return -1;
    } else {
      tmp[0] = s[i++];
    }
    if (o + (size_t) k >= len) return -1;  // keep room for the NUL
    memcpy(buf + o, tmp, (size_t) k);
    o += (size_t) k;
  }
  if (len == 0) return -1;
  buf[o] = '\0';
  return (long) o;
}

/* Compares a JSON key body (escapes allowed) with a path key. */
static bool json_key_eq(const unsigned char *k, size_t klen, const char *p,
                        size_t plen) {
  size_t i = 0, o = 0;
  while (i < klen) {
    unsigned char tmp[4];
    int m = 1;
    if (k[i] == '\\') {
      if ((m = json_unescape_one(k, klen, &i, tmp)) < 0) return false;
    } else {
      tmp[0] = k[i++];
    }
    if (o + (size_t) m > plen || memcmp(p + o, tmp, (size_t) m) != 0)
      return false;
    o += (size_t) m;
  }
  return o == plen;
}

/* Path component at p: ".key" or "[index]". Sets *next past it. For keys,
 * key and keylen describe the name; for indexes *index is the value (or -1 when
 * it is too large to ever match). Returns false on malformed syntax. */
static bool json_path_part(const char *p, const char **next, const char **key,
                           size_t *keylen, long *index) {
  if (*p == '.') {
    size_t n = 0;
    while (p[1 + n] != '\0' && p[1 + n] != '.' && p[1 + n] != '[') n++;
    *key = p + 1, *keylen = n, *next = p + 1 + n, *index = -1;
    return true;
  }
  if (*p == '[') {
    long v = 0;
    size_t n = 0;
    while (p[1 + n] >= '0' && p[1 + n] <= '9') {
      if (v >= 0) v = v > 100000000L ? -1 : v * 10 + (p[1 + n] - '0');
      n++;
    }
    if (n == 0 || p[1 + n] != ']') return false;
    *key = NULL, *keylen = 0, *next = p + 2 + n, *index = v;
    return true;
  }
  return false;
}

static bool json_path_valid(const char *path) {
  const char *p, *key;
  size_t klen;
  long idx;
  if (path == NULL || path[0] != '$') return false;
  for (p = path + 1; *p != '\0';) {
    if (!json_path_part(p, &p, &key, &klen, &idx)) return false;
  }
  return true;
}

enum { JSON_VALUE, JSON_AFTER, JSON_KEY };

long mg_json_get(struct mg_str json, const char *path, long *toklen) {
  const unsigned char *s = (const unsigned char *) json.buf;
  size_t n = json.len, i = 0;
  unsigned char stack[MG_JSON_MAX_DEPTH];  // '{' or '[' per open level
  int depth = 0, state = JSON_VALUE;
  // Path matching: the container at depth `mdepth` is on the path and its
  // members are compared with the component at `pc`; -1 = no more matching.
  // `cand` marks the next value as the one selected by that component.
  const char *pc = path == NULL ? NULL : path + 1;
  int mdepth = json_path_valid(path) ? 0 : -1, target_depth = -1;
  long idx = 0, start = -1, end = -1;
  bool cand = mdepth == 0;

  if (s == NULL && n > 0) return MG_JSON_INVALID;
  for (;;) {
    while (i < n && json_is_ws(s[i])) i++;
    if (state == JSON_VALUE) {
      long e;
      unsigned char c;
      if (i >= n) return MG_JSON_INVALID;
      c = s[i];
      if (cand) {
        cand = false;
        if (*pc == '\0') {  // this value is the target
          start = (long) i, target_depth = depth, mdepth = -1;
        } else if (c == '{' || c == '[') {
          mdepth = depth + 1, idx = 0;  // descend: compare its members
        } else {
          mdepth = -1;  // path continues into a scalar: not found
        }
      }
      if (c == '{' || c == '[') {
        if (depth >= MG_JSON_MAX_DEPTH) return MG_JSON_TOO_DEEP;
        stack[depth++] = c;
        i++;
        while (i < n && json_is_ws(s[i])) i++;
        if (i < n && s[i] == (c == '{' ? '}' : ']')) {
          state = JSON_AFTER;  // empty container: the closer is handled there
          continue;
        }
        if (c == '{') {
          state = JSON_KEY;
          continue;
        }
        // first array element: fall through to the element check below
      } else {
        if (c == '"') {
          e = json_scan_string(s, n, i);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          e = json_scan_number(s, n, i);
        } else if (c == 't') {
          e = json_scan_word(s, n, i, "true");
        } else if (c == 'f') {
          e = json_scan_word(s, n, i, "false");
        } else if (c == 'n') {
          e = json_scan_word(s, n, i, "null");
        } else {
          e = -1;
        }
        if (e < 0) return MG_JSON_INVALID;
        i = (size_t) e;
        if (start >= 0 && end < 0 && depth == target_depth) end = (long) i;
        state = JSON_AFTER;
        continue;
      }
    } else if (state == JSON_KEY) {
      long e;
      if (i >= n || s[i] != '"') return MG_JSON_INVALID;
      if ((e = json_scan_string(s, n, i)) < 0) return MG_JSON_INVALID;
      if (depth == mdepth && *pc == '.') {
        const char *key, *next;
        size_t klen;
        long unused;
        json_path_part(pc, &next, &key, &klen, &unused);
        if (json_key_eq(s + i + 1, (size_t) e - i - 2, key, klen)) {
          cand = true, pc = next;
        }
      }
      i = (size_t) e;
      while (i < n && json_is_ws(s[i])) i++;
      if (i >= n || s[i] != ':') return MG_JSON_INVALID;
      i++;
      state = JSON_VALUE;
      continue;
    } else {  // JSON_AFTER: a value just ended
      unsigned char c;
      if (depth == 0) {
        if (i != n) return MG_JSON_INVALID;  // trailing garbage
        break;
      }
      if (i >= n) return MG_JSON_INVALID;
      c = s[i++];
      if (c == ',') {
        if (stack[depth - 1] == '{') {
          state = JSON_KEY;
          continue;
        }
        state = JSON_VALUE;  // next array element: element check below
      } else if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
        if (depth == mdepth) mdepth = -1;  // left the path's container
        depth--;
        if (start >= 0 && end < 0 && depth == target_depth) end = (long) i;
        continue;
      } else {
        return MG_JSON_INVALID;
      }
    }
    // Reached when the next value is an array element.
    state = JSON_VALUE;
    if (depth == mdepth) {
      const char *key, *next;
      size_t klen;
      long want;
      if (*pc == '[' && json_path_part(pc, &next, &key, &klen, &want) &&
          want == idx) {
        cand = true, pc = next;
      }
      idx++;
    }
  }
  if (start < 0) return MG_JSON_NOT_FOUND;
  if (toklen != NULL) *toklen = end - start;
  return start;
}

bool mg_json_get_bool(struct mg_str json, const char *path, bool *v) {
  long len, ofs = mg_json_get(json, path, &len);
  if (ofs < 0) return false;
  if (len == 4 && memcmp(json.buf + ofs, "true", 4) == 0) {
    *v = true;
  } else if (len == 5 && memcmp(json.buf + ofs, "false", 5) == 0) {
    *v = false;
  } else {
    return false;
  }
  return true;
}

/* Exactly representable powers of ten (10^22 is the largest one). */
static const double json_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                    1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                                    1e18, 1e19, 1e20, 1e21, 1e22};

/* Converts a validated JSON number token. Up to 19 significant digits are
 * kept; m * 10^e is exact when m < 2^53 and |e| <= 22 (one correctly rounded
 * operation), otherwise scaled stepwise. No libc strtod: it is locale
 * dependent and pulls in malloc on newlib. */
static double json_to_double(const unsigned char *s, size_t n) {
  size_t i = 0;
  uint64_t m = 0;
  int digits = 0;
  long exp10 = 0, e = 0;
  bool neg = false, eneg = false;
  double v;
  if (i < n && s[i] == '-') neg = true, i++;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    if (digits < 19) {
      m = m * 10 + (uint64_t) (s[i] - '0');
      if (m > 0) digits++;
    } else {
      exp10++;  // dropped integer digit
    }
  }
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (digits < 19) {
        m = m * 10 + (uint64_t) (s[i] - '0');
        if (m > 0) digits++;
        exp10--;
      }
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (e < 100000) e = e * 10 + (s[i] - '0');
    }
  }
  exp10 += eneg ? -e : e;
  v = (double) m;
  if (m == 0) {
    v = 0.0;
  } else if (m < (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
    v = exp10 >= 0 ? v * json_pow10[exp10] : v / json_pow10[-exp10];
  } else {
    // Scale in steps; stop early once the value is 0 or infinite.
    while (exp10 > 0 && v < 1e308) {
      long k = exp10 > 22 ? 22 : exp10;
      v *= json_pow10[k], exp10 -= k;
    }
    while (exp10 < 0 && v > 0.0) {
      long k = exp10 < -22 ? 22 : -exp10;
      v /= json_pow10[k], exp10 += k;
    }
    if (exp10 > 0) v = v * 1e308 * 10.0;  // overflow to infinity
  }
  return neg ? -v : v;
}

bool mg_json_get_num(struct mg_str json, const char *path, double *v) {
  long len, ofs = mg_json_get(json, path, &len);
  const unsigned char *s = (const unsigned char *) json.buf;
  if (ofs < 0 || !(s[ofs] == '-' || (s[ofs] >= '0' && s[ofs] <= '9')))
    return false;
  *v = json_to_double(s + ofs, (size_t) len);
  return true;
}

bool mg_json_get_i64(struct mg_str json, const char *path, int64_t *v) {
  long len, ofs = mg_json_get(json, path, &len), i;
  const unsigned char *s = (const unsigned char *) json.buf;
  bool neg;
  uint64_t acc = 0, limit;
  if (ofs < 0 || !(s[ofs] == '-' || (s[ofs] >= '0' && s[ofs] <= '9')))
    return false;
  s += ofs;
  for (i = 0; i < len; i++) {
    if (s[i] == 'e' || s[i] == 'E') {  // exponent: go through double
      double d = json_to_double(s, (size_t) len);
      if (d >= 9223372036854775807.0) {
        *v = INT64_MAX;
      } else if (d <= -9223372036854775808.0) {
        *v = INT64_MIN;
      } else {
        *v = (int64_t) d;  // C truncates toward zero
      }
      return true;
    }
  }
  // Integer part only, digit by digit: exact, saturating.
  neg = s[0] == '-';
  limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
  for (i = neg ? 1 : 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
    unsigned d = (unsigned) (s[i] - '0');
    acc = acc > (limit - d) / 10 ? limit : acc * 10 + d;
  }
  if (neg) {
    *v = acc == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) acc;
  } else {
    *v = (int64_t) acc;
  }
  return true;
}

long mg_json_get_long(struct mg_str json, const char *path, long dflt) {
  int64_t v;
  if (!mg_json_get_i64(json, path, &v)) return dflt;
#if LONG_MAX < INT64_MAX
  if (v > LONG_MAX) return LONG_MAX;
  if (v < LONG_MIN) return LONG_MIN;
#endif
  return (long) v;
}

long mg_json_get_str(struct mg_str json, const char *path, char *buf,
                     size_t len) {
  long tlen = 0, ofs = mg_json_get(json, path, &tlen);
  struct mg_str body;
  if (ofs < 0 || json.buf[ofs] != '"') return -1;
  body.buf = json.buf + ofs + 1, body.len = (size_t) tlen - 2;
  return mg_json_unescape(body, buf, len);
}

size_t mg_json_escape(struct mg_str str, char *buf, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *) str.buf;
  size_t i, o = 0;
  for (i = 0; i < str.len; i++) {
    char tmp[6];
    size_t k = 0, j;
    unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      tmp[k++] = '\\', tmp[k++] = (char) c;
    } else if (c == '\n') {
      tmp[k++] = '\\', tmp[k++] = 'n';
    } else if (c == '\r') {
      tmp[k++] = '\\', tmp[k++] = 'r';
    } else if (c == '\t') {
      tmp[k++] = '\\', tmp[k++] = 't';
    } else if (c == '\b') {
      tmp[k++] = '\\', tmp[k++] = 'b';
    } else if (c == '\f') {
      tmp[k++] = '\\', tmp[k++] = 'f';
    } else if (c < 0x20) {
      tmp[k++] = '\\', tmp[k++] = 'u', tmp[k++] = '0', tmp[k++] = '0';
      tmp[k++] = hex[c >> 4], tmp[k++] = hex[c & 15];
    } else {
      tmp[k++] = (char) c;
    }
    for (j = 0; j < k; j++, o++) {
      if (o + 1 < len) buf[o] = tmp[j];
    }
  }
  if (len > 0) buf[o < len ? o : len - 1] = '\0';
  return o;
}
