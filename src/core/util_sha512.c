/* SHA-512 (FIPS 180-4 sections 5.3.5 and 6.4). Ed25519 (RFC 8032) hashes
 * with it. 128-byte blocks and 64-bit words, so it keeps its own buffering
 * instead of the 64-byte helpers of util_md.c. */
#include <string.h>

#include "mg_util.h"

#define SHA512_ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

/* First 64 bits of the fractional parts of the cube roots of the first 80
 * primes (FIPS 180-4 section 4.2.3). */
static const uint64_t sha512_k[80] = {
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc, 0x3956c25bf348b538, 0x59f111f1b605d019,
    0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242,
    0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
    0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65, 0x2de92c6f592b0275,
    0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f,
    0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
    0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc,
    0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6,
    0x92722c851482353b, 0xa2bfe8a14cf10364, 0xa81a664bbc423001,
    0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
    0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc,
    0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915,
    0xc67178f2e372532b, 0xca273eceea26619c, 0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba,
    0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec, 0x6c44198c4a475817};

static uint64_t sha512_be64(const unsigned char *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

/* The message schedule is kept as a 16-word ring: w[t & 15] holds W(t),
 * which saves 512 bytes of stack against the 80-word array of the spec. */
static void sha512_block(uint64_t *st, const unsigned char *blk) {
  uint64_t w[16], v[8];
  int t, i;
  for (t = 0; t < 16; t++) w[t] = sha512_be64(blk + 8 * t);
  memcpy(v, st, sizeof(v));
  for (t = 0; t < 80; t++) {
    uint64_t a = v[0], e = v[4], t1, t2;
    if (t >= 16) {
      uint64_t x = w[(t - 15) & 15], y = w[(t - 2) & 15];
      uint64_t s0 = SHA512_ROTR(x, 1) ^ SHA512_ROTR(x, 8) ^ (x >> 7);
      uint64_t s1 = SHA512_ROTR(y, 19) ^ SHA512_ROTR(y, 61) ^ (y >> 6);
      w[t & 15] += s0 + w[(t - 7) & 15] + s1;
    }
    t1 = v[7] + (SHA512_ROTR(e, 14) ^ SHA512_ROTR(e, 18) ^ SHA512_ROTR(e, 41)) +
         ((e & v[5]) ^ (~e & v[6])) + sha512_k[t] + w[t & 15];
    t2 = (SHA512_ROTR(a, 28) ^ SHA512_ROTR(a, 34) ^ SHA512_ROTR(a, 39)) +
         ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
    for (i = 7; i > 0; i--) v[i] = v[i - 1];
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (i = 0; i < 8; i++) st[i] += v[i];
}

void mg_sha512_init(struct mg_sha512_ctx *ctx) {
  /* First 64 bits of the fractional parts of the square roots of the first
   * 8 primes (FIPS 180-4 section 5.3.5). */
  static const uint64_t h0[8] = {0x6a09e667f3bcc908, 0xbb67ae8584caa73b,
                                 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
                                 0x510e527fade682d1, 0x9b05688c2b3e6c1f,
                                 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179};
  memcpy(ctx->state, h0, sizeof(h0));
  ctx->total = 0;
}

void mg_sha512_update(struct mg_sha512_ctx *ctx, const void *data,
                      size_t len) {
  const unsigned char *p = (const unsigned char *) data;
  size_t used = (size_t) (ctx->total & 127);
  if (len == 0) return;
  ctx->total += len;
  if (used > 0) { /* top up the pending partial block first */
    size_t take = 128 - used < len ? 128 - used : len;
    memcpy(ctx->block + used, p, take);
    p += take, len -= take, used += take;
    if (used < 128) return;
    sha512_block(ctx->state, ctx->block);
  }
  for (; len >= 128; p += 128, len -= 128) sha512_block(ctx->state, p);
  if (len > 0) memcpy(ctx->block, p, len);
}

void mg_sha512_final(struct mg_sha512_ctx *ctx, unsigned char digest[64]) {
  size_t used = (size_t) (ctx->total & 127);
  int i;
  ctx->block[used++] = 0x80;
  if (used > 112) { /* no room for the 16-byte length: one more block */
    memset(ctx->block + used, 0, 128 - used);
    sha512_block(ctx->state, ctx->block);
    used = 0;
  }
  memset(ctx->block + used, 0, 128 - used);
  /* The length field is 128 bits of bit count; bytes 112..118 stay zero
   * and byte 119 takes the top 3 bits of the 64-bit byte count. */
  ctx->block[119] = (unsigned char) (ctx->total >> 61);
  for (i = 0; i < 8; i++)
    ctx->block[120 + i] = (unsigned char) ((ctx->total << 3) >> (56 - 8 * i));
  sha512_block(ctx->state, ctx->block);
  for (i = 0; i < 64; i++)
    digest[i] = (unsigned char) (ctx->state[i / 8] >> (56 - 8 * (i % 8)));
}

void mg_sha512(unsigned char digest[64], const void *data, size_t len) {
  struct mg_sha512_ctx ctx;
  mg_sha512_init(&ctx);
  mg_sha512_update(&ctx, data, len);
  mg_sha512_final(&ctx, digest);
}
