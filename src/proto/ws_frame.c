/* WebSocket frame codec, UTF-8 check and handshake key: no I/O. */
#include "mg.h"

#if MG_ENABLE_WS

int mg_ws_parse_header(const uint8_t *buf, size_t len, struct mg_ws_frame *f) {
  size_t hl = 2, i;
  uint64_t n;
  if (len < 2) return 0;
  f->b0 = buf[0];
  f->masked = (uint8_t) (buf[1] >> 7);
  n = buf[1] & 0x7f;
  if (n == 126) {
    if (len < 4) return 0;
    n = ((uint64_t) buf[2] << 8) | buf[3];
    if (n < 126) return -1; /* RFC 6455 5.2: minimal length encoding */
    hl = 4;
  } else if (n == 127) {
    if (len < 10) return 0;
    if (buf[2] & 0x80) return -1; /* most significant bit must be 0 */
    for (n = 0, i = 2; i < 10; i++) n = (n << 8) | buf[i];
    if (n < 65536) return -1;
    hl = 10;
  }
  if (f->masked) {
    if (len < hl + 4) return 0;
    memcpy(f->mask, buf + hl, 4);
    hl += 4;
  } else {
    memset(f->mask, 0, 4);
  }
  f->payload_len = n;
  f->header_len = hl;
  return (int) hl;
}

size_t mg_ws_build_header(uint8_t *out, int op, uint64_t len,
                          const uint8_t *mask) {
  size_t hl = 2;
  int i;
  out[0] = (uint8_t) (0x80 | (op & 0x0f));
  if (len < 126) {
    out[1] = (uint8_t) len;
  } else if (len < 65536) {
    out[1] = 126;
    out[2] = (uint8_t) (len >> 8);
    out[3] = (uint8_t) len;
    hl = 4;
  } else {
    out[1] = 127;
    for (i = 0; i < 8; i++) out[2 + i] = (uint8_t) (len >> (56 - 8 * i));
    hl = 10;
  }
  if (mask != NULL) {
    out[1] |= 0x80;
    memcpy(out + hl, mask, 4);
    hl += 4;
  }
  return hl;
}

void mg_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t ofs) {
  size_t i;
  for (i = 0; i < len; i++) data[i] ^= mask[(ofs + i) & 3];
}

bool mg_utf8_valid(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t b = s[i];
    size_t n, k;
    uint32_t cp, min;
    if (b < 0x80) {
      i++;
      continue;
    }
    if ((b & 0xe0) == 0xc0) {
      n = 1, cp = b & 0x1f, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
      n = 2, cp = b & 0x0f, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
      n = 3, cp = b & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (len - i <= n) return false;
    for (k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

void mg_ws_accept_key(struct mg_str key, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  struct mg_sha1_ctx ctx;
  unsigned char digest[20];
  mg_sha1_init(&ctx);
  mg_sha1_update(&ctx, key.buf, key.len);
  mg_sha1_update(&ctx, guid, sizeof(guid) - 1);
  mg_sha1_final(&ctx, digest);
  mg_base64_encode(digest, sizeof(digest), out, 29);
  out[28] = '\0';
}

int mg_ws_check_close(const uint8_t *p, size_t len) {
  unsigned code;
  if (len == 0) return 0;
  if (len == 1) return 1002;
  code = ((unsigned) p[0] << 8) | p[1];
  /* Codes a peer may send (RFC 6455 7.4): 1000-1003, 1007-1011, the
   * IANA-registered 1012-1014, and 3000-4999. 1004-1006, 1015 are reserved. */
  if (code < 1000 || (code >= 1004 && code <= 1006) ||
      (code >= 1015 && code < 3000) || code >= 5000)
    return 1002;
  if (!mg_utf8_valid(p + 2, len - 2)) return 1007;
  return 0;
}

#endif /* MG_ENABLE_WS */
