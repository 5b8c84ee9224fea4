/* Percent-encoding (RFC 3986 section 2.1). */
#include "mg_util.h"

static bool url_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

size_t mg_url_encode(const char *s, size_t n, char *buf, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t i, o = 0;
  if (len == 0) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    if (url_unreserved(c)) {
      if (o + 1 >= len) return 0;
      buf[o++] = (char) c;
    } else {
      if (o + 3 >= len) return 0;
      buf[o++] = '%', buf[o++] = hex[c >> 4], buf[o++] = hex[c & 15];
    }
  }
  buf[o] = '\0';
  return o;
}

static int url_hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long mg_url_decode(const char *s, size_t n, char *buf, size_t len, bool form) {
  size_t i, o = 0;
  for (i = 0; i < n; i++, o++) {
    unsigned char c = (unsigned char) s[i];
    if (o + 1 >= len) return -1;
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= n) return -1;
      hi = url_hexval((unsigned char) s[i + 1]);
      lo = url_hexval((unsigned char) s[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      buf[o] = (char) ((hi << 4) | lo);
      i += 2;
    } else if (c == '+' && form) {
      buf[o] = ' ';
    } else {
      buf[o] = (char) c;
    }
  }
  if (len == 0) return -1;
  buf[o] = '\0';
  return (long) o;
}
