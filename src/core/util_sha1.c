/* SHA-1 (FIPS 180-4 section 6.1). Needed by the WebSocket handshake
 * (RFC 6455 Sec-WebSocket-Accept); not for new security uses. */
#include <string.h>

#include "mg_util.h"
#include "util_md.h"

#define SHA1_ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static uint32_t sha1_be32(const unsigned char *p) {
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
         ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static void sha1_block(uint32_t *st, const unsigned char *blk) {
  uint32_t w[16], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];
  int t;
  for (t = 0; t < 16; t++) w[t] = sha1_be32(blk + 4 * t);
  for (t = 0; t < 80; t++) {
    uint32_t f, k, tmp;
    if (t >= 16) {  // message schedule kept in a 16-word ring
      uint32_t x = w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^
                   w[t & 15];
      w[t & 15] = SHA1_ROTL(x, 1);
    }
    if (t < 20) {
      f = (b & c) | (~b & d), k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d, k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d, k = 0xca62c1d6;
    }
    tmp = SHA1_ROTL(a, 5) + f + e + k + w[t & 15];
    e = d, d = c, c = SHA1_ROTL(b, 30), b = a, a = tmp;
  }
  st[0] += a, st[1] += b, st[2] += c, st[3] += d, st[4] += e;
}

void mg_sha1_init(struct mg_sha1_ctx *ctx) {
  ctx->state[0] = 0x67452301;
  ctx->state[1] = 0xefcdab89;
  ctx->state[2] = 0x98badcfe;
  ctx->state[3] = 0x10325476;
  ctx->state[4] = 0xc3d2e1f0;
  ctx->total = 0;
}

void mg_sha1_update(struct mg_sha1_ctx *ctx, const void *data, size_t len) {
  mg_md_update(ctx->state, ctx->block, &ctx->total, sha1_block, data, len);
}

void mg_sha1_final(struct mg_sha1_ctx *ctx, unsigned char digest[20]) {
  int i;
  mg_md_pad(ctx->state, ctx->block, ctx->total, sha1_block, true);
  for (i = 0; i < 20; i++)
    digest[i] = (unsigned char) (ctx->state[i / 4] >> (24 - 8 * (i % 4)));
}
