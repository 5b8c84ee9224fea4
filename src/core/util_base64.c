/* Base64 (RFC 4648 section 4): standard alphabet with '=' padding. */
#include "mg_util.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one alphabet character, or -1. */
static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

size_t mg_base64_encode(const unsigned char *p, size_t n, char *buf,
                        size_t len) {
  size_t need = MG_BASE64_ENCODED_LEN(n), i, o = 0;
  if (n > (((size_t) -1) / 4) * 3 - 3 || need + 1 > len) return 0;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = ((uint32_t) p[i] << 16) | ((uint32_t) p[i + 1] << 8) | p[i + 2];
    buf[o++] = b64_alphabet[(v >> 18) & 63];
    buf[o++] = b64_alphabet[(v >> 12) & 63];
    buf[o++] = b64_alphabet[(v >> 6) & 63];
    buf[o++] = b64_alphabet[v & 63];
  }
  if (i < n) {  // one or two bytes left: pad the last quantum
    uint32_t v = (uint32_t) p[i] << 16;
    if (i + 1 < n) v |= (uint32_t) p[i + 1] << 8;
    buf[o++] = b64_alphabet[(v >> 18) & 63];
    buf[o++] = b64_alphabet[(v >> 12) & 63];
    buf[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
    buf[o++] = '=';
  }
  buf[o] = '\0';
  return o;
}

size_t mg_base64_decode(const char *src, size_t n, char *dst, size_t dl) {
  const unsigned char *s = (const unsigned char *) src;
  size_t pad = 0, i, o = 0, rem, out_len;
  uint32_t acc = 0;
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
  while (pad < 2 && n > 0 && s[n - 1] == '=') n--, pad++;
  // Padding is only allowed to complete the last quantum exactly.
  if (pad > 0 && (n + pad) % 4 != 0) return 0;
  rem = n % 4;
  if (rem == 1) return 0;  // 6 bits cannot encode a byte
  out_len = (n / 4) * 3 + (rem == 0 ? 0 : rem - 1);
  if (out_len + 1 > dl) return 0;
  for (i = 0; i < n; i++) {
    int v = b64_value(s[i]);
    if (v < 0) return 0;
    acc = (acc << 6) | (uint32_t) v;
    if ((i & 3) == 3) {
      dst[o++] = (char) (acc >> 16);
      dst[o++] = (char) (acc >> 8);
      dst[o++] = (char) acc;
      acc = 0;
    }
  }
  if (rem == 2) {
    dst[o++] = (char) (acc >> 4);
  } else if (rem == 3) {
    dst[o++] = (char) (acc >> 10);
    dst[o++] = (char) (acc >> 2);
  }
  dst[o] = '\0';
  return o;
}
