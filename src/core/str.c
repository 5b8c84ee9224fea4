/* String views and bounded formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_base.h"

struct mg_str mg_str(const char *s) {
  struct mg_str r = {s, s == NULL ? 0 : strlen(s)};
  return r;
}

struct mg_str mg_str_n(const char *s, size_t n) {
  struct mg_str r = {s, n};
  return r;
}

static int lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int mg_strcmp(struct mg_str a, struct mg_str b) {
  size_t n = a.len < b.len ? a.len : b.len;
  int r = n == 0 ? 0 : memcmp(a.buf, b.buf, n);
  if (r != 0) return r;
  return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

int mg_strcasecmp(struct mg_str a, struct mg_str b) {
  size_t i, n = a.len < b.len ? a.len : b.len;
  for (i = 0; i < n; i++) {
    int d = lower((unsigned char) a.buf[i]) - lower((unsigned char) b.buf[i]);
    if (d != 0) return d;
  }
  return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

bool mg_str_eq(struct mg_str a, const char *s) {
  return mg_strcmp(a, mg_str(s)) == 0;
}

bool mg_str_ieq(struct mg_str a, const char *s) {
  return mg_strcasecmp(a, mg_str(s)) == 0;
}

bool mg_str_starts_with(struct mg_str s, const char *prefix, bool ignore_case) {
  struct mg_str p = mg_str(prefix);
  if (s.len < p.len) return false;
  s.len = p.len;
  return ignore_case ? mg_strcasecmp(s, p) == 0 : mg_strcmp(s, p) == 0;
}

struct mg_str mg_str_trim(struct mg_str s) {
  while (s.len > 0 && (s.buf[0] == ' ' || s.buf[0] == '\t')) s.buf++, s.len--;
  while (s.len > 0 && (s.buf[s.len - 1] == ' ' || s.buf[s.len - 1] == '\t'))
    s.len--;
  return s;
}

bool mg_str_split(struct mg_str s, char sep, struct mg_str *head,
                  struct mg_str *tail) {
  const char *p = s.len == 0 ? NULL : (const char *) memchr(s.buf, sep, s.len);
  if (p == NULL) {
    if (head != NULL) *head = s;
    if (tail != NULL) *tail = mg_str_n(s.buf + s.len, 0);
    return false;
  }
  if (head != NULL) *head = mg_str_n(s.buf, (size_t) (p - s.buf));
  if (tail != NULL) *tail = mg_str_n(p + 1, s.len - (size_t) (p - s.buf) - 1);
  return true;
}

bool mg_str_to_u64(struct mg_str s, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (s.len == 0) return false;
  for (i = 0; i < s.len; i++) {
    unsigned d = (unsigned) (unsigned char) s.buf[i] - '0';
    if (d > 9) return false;
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

size_t mg_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap) {
  int n = vsnprintf(buf, len, fmt, ap);
  return n < 0 ? 0 : (size_t) n;
}

size_t mg_snprintf(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  size_t n;
  va_start(ap, fmt);
  n = mg_vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  return n;
}

char *mg_vmprintf(char *small, size_t small_len, size_t *n, const char *fmt,
                  va_list ap) {
  char *p = small;
  va_list ap2;
  va_copy(ap2, ap);
  *n = mg_vsnprintf(small, small_len, fmt, ap2);
  va_end(ap2);
  if (*n >= small_len) {
    if ((p = (char *) malloc(*n + 1)) != NULL) {
      va_copy(ap2, ap);
      mg_vsnprintf(p, *n + 1, fmt, ap2);
      va_end(ap2);
    } else {
      p = small, *n = small_len - 1; /* out of memory: truncated */
    }
  }
  return p;
}
