/* DNS message codec (RFC 1035): queries out, responses in, no I/O. */
#include "mg.h"

#if MG_ENABLE_DNS

static uint16_t rd16(const uint8_t *p) {
  return (uint16_t) ((p[0] << 8) | p[1]);
}

size_t mg_dns_query(uint8_t *buf, size_t len, uint16_t txid,
                    struct mg_str name, uint16_t qtype) {
  size_t n = 12, i = 0;
  if (name.len > 0 && name.buf[name.len - 1] == '.') name.len--;
  if (name.len == 0 || name.len > 253 || len < name.len + 2 + 12 + 4) return 0;
  if (name.buf[name.len - 1] == '.') return 0; /* "a.." : empty last label */
  memset(buf, 0, 12);
  buf[0] = (uint8_t) (txid >> 8);
  buf[1] = (uint8_t) txid;
  buf[2] = 0x01; /* RD: recursion desired */
  buf[5] = 1;    /* one question */
  while (i < name.len) {
    size_t j = i;
    while (j < name.len && name.buf[j] != '.') j++;
    if (j == i || j - i > 63) return 0; /* empty or oversized label */
    buf[n++] = (uint8_t) (j - i);
    memcpy(buf + n, name.buf + i, j - i);
    n += j - i;
    i = j + 1;
  }
  buf[n++] = 0;
  buf[n++] = (uint8_t) (qtype >> 8);
  buf[n++] = (uint8_t) qtype;
  buf[n++] = 0;
  buf[n++] = 1; /* class IN */
  return n;
}

size_t mg_dns_name(const uint8_t *msg, size_t len, size_t ofs, char *out,
                   size_t outlen) {
  size_t used = 0, pos = ofs, o = 0, limit = ofs;
  bool jumped = false;
  if (outlen == 0) return 0;
  out[0] = '\0';
  for (;;) {
    uint8_t l;
    if (pos >= len) return 0;
    l = msg[pos];
    if ((l & 0xc0) == 0xc0) {
      size_t target;
      if (pos + 1 >= len) return 0;
      target = ((size_t) (l & 0x3f) << 8) | msg[pos + 1];
      /* Only strictly backwards jumps: every step makes progress towards
       * the start, so a pointer loop is impossible. */
      if (target >= limit) return 0;
      if (!jumped) used = pos + 2 - ofs;
      jumped = true;
      limit = target;
      pos = target;
      continue;
    }
    if (l & 0xc0) return 0; /* reserved label types */
    if (l == 0) {
      if (!jumped) used = pos + 1 - ofs;
      break;
    }
    if (pos + 1 + l > len) return 0;
    if (o + l + 2 > outlen || o + l + 1 > 255) return 0;
    if (o > 0) out[o++] = '.';
    {
      size_t k;
      for (k = 0; k < l; k++) {
        char ch = (char) msg[pos + 1 + k];
        out[o++] = (ch >= 'A' && ch <= 'Z') ? (char) (ch + 32) : ch;
      }
    }
    out[o] = '\0';
    pos += 1 + (size_t) l;
  }
  return used;
}

bool mg_dns_parse(const uint8_t *buf, size_t len, struct mg_dns_answer *a) {
  size_t ofs = 12, n, i;
  uint16_t qd, an;
  memset(a, 0, sizeof(*a));
  if (len < 12 || !(buf[2] & 0x80)) return false; /* not a response */
  a->txid = rd16(buf);
  a->truncated = (buf[2] & 0x02) != 0;
  a->rcode = buf[3] & 0x0f;
  qd = rd16(buf + 4);
  an = rd16(buf + 6);
  if (qd != 1) return false;
  n = mg_dns_name(buf, len, ofs, a->qname, sizeof(a->qname));
  if (n == 0 || ofs + n + 4 > len) return false;
  ofs += n;
  a->qtype = rd16(buf + ofs);
  ofs += 4;
  for (i = 0; i < an; i++) {
    char name[256];
    uint16_t type, cls, rdlen;
    n = mg_dns_name(buf, len, ofs, name, sizeof(name));
    /* A broken record ends the useful part of a truncated (TC) message;
     * in any other message it makes the whole message garbage. */
    if (n == 0 || ofs + n + 10 > len) return a->truncated;
    ofs += n;
    type = rd16(buf + ofs);
    cls = rd16(buf + ofs + 2);
    rdlen = rd16(buf + ofs + 8);
    if (ofs + 10 + rdlen > len) return a->truncated;
    if (cls == 1 && !a->found &&
        ((type == MG_DNS_TYPE_A && rdlen == 4) ||
         (type == MG_DNS_TYPE_AAAA && rdlen == 16))) {
      a->found = true;
      a->addr.is_ip6 = type == MG_DNS_TYPE_AAAA;
      memcpy(a->addr.ip, buf + ofs + 10, rdlen);
      a->ttl = ((uint32_t) rd16(buf + ofs + 4) << 16) | rd16(buf + ofs + 6);
    }
    ofs += 10 + (size_t) rdlen;
  }
  return true;
}

bool mg_dns_resolv_conf(struct mg_str text, char *buf, size_t len) {
  struct mg_str line, rest = text;
  while (rest.len > 0) {
    struct mg_str word, addr;
    struct mg_addr a;
    size_t i;
    if (!mg_str_split(rest, '\n', &line, &rest)) rest.len = 0;
    line = mg_str_trim(line);
    while (line.len > 0 && line.buf[line.len - 1] == '\r') line.len--;
    /* "nameserver" then blanks then the address (then maybe a comment). */
    for (i = 0; i < line.len && line.buf[i] != ' ' && line.buf[i] != '\t'; i++) {
    }
    word = mg_str_n(line.buf, i);
    if (!mg_str_eq(word, "nameserver")) continue;
    addr = mg_str_trim(mg_str_n(line.buf + i, line.len - i));
    for (i = 0; i < addr.len && addr.buf[i] != ' ' && addr.buf[i] != '\t' &&
                addr.buf[i] != '#' && addr.buf[i] != ';';
         i++) {
    }
    addr.len = i;
    if (addr.len == 0 || !mg_aton(addr, &a) || a.port != 0) continue;
    if (a.is_ip6) {
      mg_snprintf(buf, len, "udp://[%.*s]:53", (int) addr.len, addr.buf);
    } else {
      mg_snprintf(buf, len, "udp://%.*s:53", (int) addr.len, addr.buf);
    }
    return true;
  }
  return false;
}

#endif /* MG_ENABLE_DNS */
