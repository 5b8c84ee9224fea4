/* Numeric address parsing and formatting (no DNS here). */
#include <string.h>

#include "mg_core.h"

static bool parse_ip4(struct mg_str s, uint8_t out[4]) {
  size_t i, octet = 0;
  unsigned v = 0, digits = 0;
  for (i = 0; i <= s.len; i++) {
    char ch = i < s.len ? s.buf[i] : '.';
    if (ch >= '0' && ch <= '9') {
      v = v * 10 + (unsigned) (ch - '0');
      if (++digits > 3 || v > 255) return false;
    } else if (ch == '.') {
      if (digits == 0 || octet >= 4) return false;
      out[octet++] = (uint8_t) v;
      v = digits = 0;
    } else {
      return false;
    }
  }
  return octet == 4;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* RFC 4291 text form: up to 8 groups, one "::" allowed, optional trailing
 * dotted IPv4. */
static bool parse_ip6(struct mg_str s, uint8_t out[16]) {
  uint16_t groups[8];
  size_t n = 0, i = 0;
  int gap = -1;
  memset(groups, 0, sizeof(groups));
  if (s.len >= 2 && s.buf[0] == ':' && s.buf[1] == ':') {
    gap = 0;
    i = 2;
  } else if (s.len > 0 && s.buf[0] == ':') {
    return false;
  }
  while (i < s.len) {
    size_t start = i;
    unsigned v = 0;
    int h;
    if (n >= 8) return false;
    while (i < s.len && (h = hexval(s.buf[i])) >= 0 && i - start < 4) {
      v = (v << 4) | (unsigned) h;
      i++;
    }
    if (i < s.len && s.buf[i] == '.') { /* embedded IPv4 tail */
      uint8_t v4[4];
      if (n > 6 || !parse_ip4(mg_str_n(s.buf + start, s.len - start), v4))
        return false;
      groups[n++] = (uint16_t) ((v4[0] << 8) | v4[1]);
      groups[n++] = (uint16_t) ((v4[2] << 8) | v4[3]);
      i = s.len;
      break;
    }
    if (i == start) return false;
    groups[n++] = (uint16_t) v;
    if (i == s.len) break;
    if (s.buf[i] != ':') return false;
    i++;
    if (i < s.len && s.buf[i] == ':') {
      if (gap >= 0) return false;
      gap = (int) n;
      i++;
    } else if (i == s.len) {
      return false; /* trailing single colon */
    }
  }
  if (gap < 0 && n != 8) return false;
  if (gap >= 0) {
    size_t tail = n - (size_t) gap, k;
    if (n >= 8) return false;
    for (k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k];
    for (k = (size_t) gap; k < 8 - tail; k++) groups[k] = 0;
  }
  for (i = 0; i < 8; i++) {
    out[2 * i] = (uint8_t) (groups[i] >> 8);
    out[2 * i + 1] = (uint8_t) (groups[i] & 0xff);
  }
  return true;
}

static bool parse_port(struct mg_str s, uint16_t *port) {
  uint64_t v;
  if (!mg_str_to_u64(s, &v) || v > 65535) return false;
  *port = mg_htons((uint16_t) v);
  return true;
}

bool mg_aton(struct mg_str s, struct mg_addr *a) {
  struct mg_str host = s, port = mg_str_n(NULL, 0);
  memset(a, 0, sizeof(*a));
  if (s.len > 0 && s.buf[0] == '[') {
    const char *close = (const char *) memchr(s.buf, ']', s.len);
    size_t hl;
    if (close == NULL) return false;
    hl = (size_t) (close - s.buf);
    host = mg_str_n(s.buf + 1, hl - 1);
    if (hl + 1 < s.len) {
      if (s.buf[hl + 1] != ':') return false;
      port = mg_str_n(close + 2, s.len - hl - 2);
      if (!parse_port(port, &a->port)) return false;
    }
    a->is_ip6 = 1;
    return parse_ip6(host, a->ip);
  }
  if (parse_ip4(s, a->ip)) return true;
  if (parse_ip6(s, a->ip)) {
    a->is_ip6 = 1;
    return true;
  }
  /* v4:port */
  {
    const char *colon = (const char *) memchr(s.buf, ':', s.len);
    if (colon == NULL) return false;
    host = mg_str_n(s.buf, (size_t) (colon - s.buf));
    port = mg_str_n(colon + 1, s.len - host.len - 1);
    return parse_ip4(host, a->ip) && parse_port(port, &a->port);
  }
}

char *mg_ntoa(const struct mg_addr *a, char *buf, size_t len) {
  if (a->is_ip6) {
    mg_snprintf(buf, len,
                "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:"
                "%02x%02x:%02x%02x",
                a->ip[0], a->ip[1], a->ip[2], a->ip[3], a->ip[4], a->ip[5],
                a->ip[6], a->ip[7], a->ip[8], a->ip[9], a->ip[10], a->ip[11],
                a->ip[12], a->ip[13], a->ip[14], a->ip[15]);
  } else {
    mg_snprintf(buf, len, "%u.%u.%u.%u", a->ip[0], a->ip[1], a->ip[2],
                a->ip[3]);
  }
  return buf;
}
