/* SHA-256 (FIPS 180-4 section 6.2) and HMAC-SHA-256 (RFC 2104). Used by OTA
 * image checks and by the Python binding. */
#include <string.h>

#include "mg_util.h"
#include "util_md.h"

#define SHA256_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* First 32 bits of the fractional parts of the cube roots of the first 64
 * primes (FIPS 180-4 section 4.2.2). */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t sha256_be32(const unsigned char *p) {
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
         ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static void sha256_block(uint32_t *st, const unsigned char *blk) {
  uint32_t w[64], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4],
                  f = st[5], g = st[6], h = st[7];
  int t;
  for (t = 0; t < 16; t++) w[t] = sha256_be32(blk + 4 * t);
  for (t = 16; t < 64; t++) {
    uint32_t x = w[t - 15], y = w[t - 2];
    uint32_t s0 = SHA256_ROTR(x, 7) ^ SHA256_ROTR(x, 18) ^ (x >> 3);
    uint32_t s1 = SHA256_ROTR(y, 17) ^ SHA256_ROTR(y, 19) ^ (y >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  for (t = 0; t < 64; t++) {
    uint32_t s1 = SHA256_ROTR(e, 6) ^ SHA256_ROTR(e, 11) ^ SHA256_ROTR(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = h + s1 + ch + sha256_k[t] + w[t];
    uint32_t s0 = SHA256_ROTR(a, 2) ^ SHA256_ROTR(a, 13) ^ SHA256_ROTR(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    h = g, g = f, f = e, e = d + t1;
    d = c, c = b, b = a, a = t1 + s0 + maj;
  }
  st[0] += a, st[1] += b, st[2] += c, st[3] += d;
  st[4] += e, st[5] += f, st[6] += g, st[7] += h;
}

void mg_sha256_init(struct mg_sha256_ctx *ctx) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
  memcpy(ctx->state, h0, sizeof(h0));
  ctx->total = 0;
}

void mg_sha256_update(struct mg_sha256_ctx *ctx, const void *data,
                      size_t len) {
  mg_md_update(ctx->state, ctx->block, &ctx->total, sha256_block, data, len);
}

void mg_sha256_final(struct mg_sha256_ctx *ctx, unsigned char digest[32]) {
  int i;
  mg_md_pad(ctx->state, ctx->block, ctx->total, sha256_block, true);
  for (i = 0; i < 32; i++)
    digest[i] = (unsigned char) (ctx->state[i / 4] >> (24 - 8 * (i % 4)));
}

void mg_sha256(unsigned char digest[32], const void *data, size_t len) {
  struct mg_sha256_ctx ctx;
  mg_sha256_init(&ctx);
  mg_sha256_update(&ctx, data, len);
  mg_sha256_final(&ctx, digest);
}

void mg_hmac_sha256(unsigned char mac[32], const void *key, size_t keylen,
                    const void *data, size_t datalen) {
  unsigned char k[64], pad[64], inner[32];
  struct mg_sha256_ctx ctx;
  int i;
  memset(k, 0, sizeof(k));
  if (keylen > sizeof(k)) {  // long keys are hashed first (RFC 2104)
    mg_sha256(k, key, keylen);
  } else if (keylen > 0) {
    memcpy(k, key, keylen);
  }
  for (i = 0; i < 64; i++) pad[i] = (unsigned char) (k[i] ^ 0x36);
  mg_sha256_init(&ctx);
  mg_sha256_update(&ctx, pad, sizeof(pad));
  mg_sha256_update(&ctx, data, datalen);
  mg_sha256_final(&ctx, inner);
  for (i = 0; i < 64; i++) pad[i] = (unsigned char) (k[i] ^ 0x5c);
  mg_sha256_init(&ctx);
  mg_sha256_update(&ctx, pad, sizeof(pad));
  mg_sha256_update(&ctx, inner, sizeof(inner));
  mg_sha256_final(&ctx, mac);
}
