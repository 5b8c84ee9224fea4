/* MD5 message digest (RFC 1321). Kept for HTTP digest-style uses and
 * compatibility; not for security. */
#include <string.h>

#include "mg_util.h"
#include "util_md.h"

#define MD5_ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static uint32_t md5_le32(const unsigned char *p) {
  return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) |
         ((uint32_t) p[3] << 24);
}

/* Per-step shift amounts, four per round. */
static const unsigned char md5_shift[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

/* T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4. */
static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

static void md5_block(uint32_t *st, const unsigned char *blk) {
  uint32_t x[16], a = st[0], b = st[1], c = st[2], d = st[3];
  int i;
  for (i = 0; i < 16; i++) x[i] = md5_le32(blk + 4 * i);
  for (i = 0; i < 64; i++) {
    uint32_t f, tmp;
    int k, round = i / 16;
    switch (round) {
      case 0: f = (b & c) | (~b & d), k = i; break;
      case 1: f = (b & d) | (c & ~d), k = (5 * i + 1) & 15; break;
      case 2: f = b ^ c ^ d, k = (3 * i + 5) & 15; break;
      default: f = c ^ (b | ~d), k = (7 * i) & 15; break;
    }
    tmp = a + f + md5_t[i] + x[k];
    a = d, d = c, c = b;
    b = b + MD5_ROTL(tmp, md5_shift[round][i & 3]);
  }
  st[0] += a, st[1] += b, st[2] += c, st[3] += d;
}

void mg_md5_init(struct mg_md5_ctx *ctx) {
  ctx->state[0] = 0x67452301;
  ctx->state[1] = 0xefcdab89;
  ctx->state[2] = 0x98badcfe;
  ctx->state[3] = 0x10325476;
  ctx->total = 0;
}

void mg_md5_update(struct mg_md5_ctx *ctx, const void *data, size_t len) {
  mg_md_update(ctx->state, ctx->block, &ctx->total, md5_block, data, len);
}

void mg_md5_final(struct mg_md5_ctx *ctx, unsigned char digest[16]) {
  int i;
  mg_md_pad(ctx->state, ctx->block, ctx->total, md5_block, false);
  for (i = 0; i < 16; i++)
    digest[i] = (unsigned char) (ctx->state[i / 4] >> (8 * (i % 4)));
}
