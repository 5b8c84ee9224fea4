/* Fuzz target: mg_ed25519_verify and SHA-512 on arbitrary bytes.
 *
 * Input: [mode][pub 32][sig 64][message...] (short inputs are zero-padded).
 * Even mode: the fields are verified as they are. The answer must be the
 * same twice, and false whenever S >= L or the key's y >= p (RFC 8032
 * 5.1.3 and 5.1.7). Odd mode: the fields are XORed onto RFC 8032 TEST 1
 * (empty message), and the result must be true exactly when nothing
 * changed: any other key, signature or message would be a forgery.
 * Every input also checks that SHA-512 fed in two pieces (split at a point
 * taken from the input) equals the one-shot digest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "mismatch %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                          \
    }                                                                   \
  } while (0)

/* RFC 8032 section 7.1, TEST 1: public key, then signature. */
static const uint8_t t1_pub[32] = {
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
    0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
    0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
static const uint8_t t1_sig[64] = {
    0xe5, 0x56, 0x43, 0x00, 0xc3, 0x60, 0xac, 0x72, 0x90, 0x86, 0xe2,
    0xcc, 0x80, 0x6e, 0x82, 0x8a, 0x84, 0x87, 0x7f, 0x1e, 0xb8, 0xe5,
    0xd9, 0x74, 0xd8, 0x73, 0xe0, 0x65, 0x22, 0x49, 0x01, 0x55, 0x5f,
    0xb8, 0x82, 0x15, 0x90, 0xa3, 0x3b, 0xac, 0xc6, 0x1e, 0x39, 0x70,
    0x1c, 0xf9, 0xb4, 0x6b, 0xd2, 0x5b, 0xf5, 0xf0, 0x59, 0x5b, 0xbe,
    0x24, 0x65, 0x51, 0x41, 0x43, 0x8e, 0x7a, 0x10, 0x0b};
/* L, little-endian. */
static const uint8_t order[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
    0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x10};

/* Compares little-endian 32-byte numbers: <0, 0, >0 like memcmp. */
static int cmp_le(const uint8_t a[32], const uint8_t b[32]) {
  int i;
  for (i = 31; i >= 0; i--)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

static void check_sha512(const uint8_t *data, size_t size) {
  struct mg_sha512_ctx ctx;
  uint8_t one[64], two[64];
  size_t cut = size > 0 ? data[size - 1] % (size + 1) : 0;
  mg_sha512(one, data, size);
  mg_sha512_init(&ctx);
  mg_sha512_update(&ctx, data, cut);
  mg_sha512_update(&ctx, data + cut, size - cut);
  mg_sha512_final(&ctx, two);
  REQUIRE(memcmp(one, two, 64) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t fields[96], pub[32], sig[64], p_minus_1[32];
  const uint8_t *msg = size > 97 ? data + 97 : NULL;
  size_t mlen = size > 97 ? size - 97 : 0, i;
  bool ok, changed = false;
  check_sha512(data, size);
  if (size == 0) return 0;
  memset(fields, 0, sizeof(fields));
  memcpy(fields, data + 1, size - 1 < 96 ? size - 1 : 96);
  memcpy(pub, fields, 32);
  memcpy(sig, fields + 32, 64);
  if (data[0] & 1) {
    for (i = 0; i < 96; i++) changed |= fields[i] != 0;
    for (i = 0; i < 32; i++) pub[i] ^= t1_pub[i];
    for (i = 0; i < 64; i++) sig[i] ^= t1_sig[i];
    ok = mg_ed25519_verify(sig, msg, mlen, pub);
    REQUIRE(ok == (!changed && mlen == 0));
    return 0;
  }
  ok = mg_ed25519_verify(sig, msg, mlen, pub);
  REQUIRE(ok == mg_ed25519_verify(sig, msg, mlen, pub));
  if (cmp_le(sig + 32, order) >= 0) REQUIRE(!ok);
  memset(p_minus_1, 0xff, sizeof(p_minus_1)); /* p - 1 = 2^255 - 20 */
  p_minus_1[0] = 0xec;
  p_minus_1[31] = 0x7f;
  memcpy(fields, pub, 32);
  fields[31] &= 0x7f; /* y alone */
  if (cmp_le(fields, p_minus_1) > 0) REQUIRE(!ok);
  return 0;
}
