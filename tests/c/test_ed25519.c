/* SHA-512 (FIPS 180-4 examples) and Ed25519 verification (RFC 8032 section
 * 7.1 test vectors, tampering, non-canonical encodings). */
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = strlen(s) / 2, i;
  if (n > cap) abort();
  for (i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) abort();
    out[i] = (uint8_t) v;
  }
  return n;
}

static bool sha512_is(const void *data, size_t len, const char *hex) {
  uint8_t want[64], got[64];
  unhex(hex, want, sizeof(want));
  mg_sha512(got, data, len);
  return memcmp(got, want, 64) == 0;
}

static void test_sha512(void) {
  static const char two_block[] =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
      "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  /* Digests of bytes 0, 1, 2, ... (mod 256) around the block and padding
   * boundaries (112: the length no longer fits; 128: one block). */
  static const struct {
    size_t n;
    const char *hex;
  } counts[] = {
      {111, "a1a111449b198d9b1f538bad7f3fc1022b3a5b1a5e90a0bc860de8512746cbc3"
            "1599e6c834de3a3235327af0b51ff57bf7acf1974a73014d9c3953812edc7c8d"},
      {112, "c5fbd731d19d2ae1180f001be72c2c1aaba1d7b094b3748880e24593b8e117a7"
            "50e11c1bd867cc2f96dace8c8b74abd2d5c4f236be444e77d30d1916174070b9"},
      {113, "61b2e77db697dfe5571fff3ed06bd60c41e1e7b7c08a80de01cb16526d9a9a52"
            "d690dfbe792278a60f6e2b4c57a97c729773f26e258d2393890c985d645f6715"},
      {127, "eab89674feaa34e27aebeeff3c0a4d70070bb872d5e9f186cf1dbbdee517b6e3"
            "5724d629ff025a5b07185e911ada7e3c8acf830aa0e4f71777bd2d44f504f7f0"},
      {128, "1dffd5e3adb71d45d2245939665521ae001a317a03720a45732ba1900ca3b835"
            "1fc5c9b4ca513eba6f80bc7b1d1fdad4abd13491cb824d61b08d8c0e1561b3f7"},
      {129, "1d9da57fbbdab09afb3506ab2d223d06109d65c1c8ad197f50138f714bc4c3f2"
            "fe5787922639c680acad1c651f955990425954ce2cba0c5cc83f2667d878eb0f"},
      {239, "cb4c7fd522756d5781ad3a4f590a1d862906b960e7720136cb3fb36b563caa1e"
            "a5689134291fa79c80ccc2b4092b41df32ebdcb36dbe79db483440228c1622a8"},
      {240, "6c48466c9f6c07e4ab762c696b7eeb35cfe236fca73683e5fab873ac3489b4d2"
            "eb3d7afcce7e8165dbbf37aded3b5b0c889c0b7e0f1790a8330d8677429d91a5"},
  };
  uint8_t buf[256], d1[64], d2[64];
  struct mg_sha512_ctx ctx;
  size_t i, n, step;
  /* FIPS 180-4 / NIST example messages. */
  CHECK(sha512_is("", 0,
                  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"));
  CHECK(sha512_is("abc", 3,
                  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"));
  CHECK(sha512_is(two_block, strlen(two_block),
                  "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
                  "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"));
  /* One million 'a', fed in 1000-byte pieces. */
  memset(buf, 'a', sizeof(buf));
  mg_sha512_init(&ctx);
  for (i = 0; i < 1000000; i += 250) mg_sha512_update(&ctx, buf, 250);
  mg_sha512_final(&ctx, d1);
  unhex("e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
        "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
        d2, sizeof(d2));
  CHECK(memcmp(d1, d2, 64) == 0);
  for (i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t) i;
  for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
    CHECK(sha512_is(buf, counts[i].n, counts[i].hex));
  /* Any split of the input gives the one-shot digest. */
  for (n = 0; n <= sizeof(buf); n += 17) {
    mg_sha512(d1, buf, n);
    for (step = 1; step <= 130; step += 43) {
      size_t off;
      mg_sha512_init(&ctx);
      for (off = 0; off < n; off += step)
        mg_sha512_update(&ctx, buf + off, n - off < step ? n - off : step);
      mg_sha512_final(&ctx, d2);
      CHECK(memcmp(d1, d2, 64) == 0);
    }
  }
}

#if MG_ENABLE_ED25519
/* RFC 8032 section 7.1: TEST 1, 2, 3 and TEST SHA(abc) (public key,
 * message, signature). */
static const struct {
  const char *pub, *msg, *sig;
} rfc_vectors[] = {
    {"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
     "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
};

/* L, the group order, little-endian. */
static const char l_hex[] =
    "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

/* Little-endian 256-bit a + b (no overflow in the cases used). */
static void add256(uint8_t r[32], const uint8_t a[32], const uint8_t b[32]) {
  unsigned c = 0;
  int i;
  for (i = 0; i < 32; i++) {
    c += (unsigned) a[i] + b[i];
    r[i] = (uint8_t) c;
    c >>= 8;
  }
}

static void test_rfc_vectors(void) {
  size_t v, bit, mlen, stride;
  for (v = 0; v < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); v++) {
    uint8_t pub[32], sig[64], msg[65]; /* one spare byte for mlen + 1 */
    unhex(rfc_vectors[v].pub, pub, sizeof(pub));
    unhex(rfc_vectors[v].sig, sig, sizeof(sig));
    mlen = unhex(rfc_vectors[v].msg, msg, 64);
    msg[mlen] = 0;
    CHECK(mg_ed25519_verify(sig, msg, mlen, pub));
    /* Every single-bit change of signature, message or key is refused:
     * every bit of TEST 3, every 16th bit of the others (a verification
     * takes milliseconds in a Debug/ASan build). */
    stride = v == 2 ? 1 : 16;
    for (bit = 0; bit < 512; bit += stride) {
      sig[bit / 8] ^= (uint8_t) (1u << (bit % 8));
      CHECK(!mg_ed25519_verify(sig, msg, mlen, pub));
      sig[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    for (bit = 0; bit < 8 * mlen; bit += stride) {
      msg[bit / 8] ^= (uint8_t) (1u << (bit % 8));
      CHECK(!mg_ed25519_verify(sig, msg, mlen, pub));
      msg[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    for (bit = 0; bit < 256; bit += stride) {
      pub[bit / 8] ^= (uint8_t) (1u << (bit % 8));
      CHECK(!mg_ed25519_verify(sig, msg, mlen, pub));
      pub[bit / 8] ^= (uint8_t) (1u << (bit % 8));
    }
    /* A byte more or less of message is another message. */
    if (mlen > 0) CHECK(!mg_ed25519_verify(sig, msg, mlen - 1, pub));
    CHECK(!mg_ed25519_verify(sig, msg, mlen + 1, pub));
    CHECK(mg_ed25519_verify(sig, msg, mlen, pub)); /* all restored */
  }
}

/* S + L is the same scalar mod L: a verifier without the S < L check
 * accepts it (signature malleability). RFC 8032 requires refusing it. */
static void test_noncanonical_s(void) {
  uint8_t pub[32], sig[64], msg[2], l[32], s2[32];
  unhex(rfc_vectors[2].pub, pub, sizeof(pub));
  unhex(rfc_vectors[2].sig, sig, sizeof(sig));
  unhex(rfc_vectors[2].msg, msg, sizeof(msg));
  unhex(l_hex, l, sizeof(l));
  CHECK(mg_ed25519_verify(sig, msg, 2, pub));
  add256(s2, sig + 32, l);
  memcpy(sig + 32, s2, 32);
  CHECK(!mg_ed25519_verify(sig, msg, 2, pub));
  memcpy(sig + 32, l, 32); /* S = L */
  CHECK(!mg_ed25519_verify(sig, msg, 2, pub));
  memset(sig + 32, 0xff, 32);
  CHECK(!mg_ed25519_verify(sig, msg, 2, pub));
}

/* Encodings of the neutral element (x = 0, y = 1). With it as the key,
 * [k]A vanishes and (R = encode([S]B), S) verifies for every message: a
 * legal but degenerate key that shows what the decoder lets through. The
 * same point written non-canonically (y = p + 1, or x = 0 with the sign
 * bit set) must be refused, as must R written with y = p + 1. */
static void test_noncanonical_points(void) {
  uint8_t one[32], y_p1[32], neg0[32], sig[64];
  static const char base_hex[] = /* encode(B) */
      "5866666666666666666666666666666666666666666666666666666666666666";
  memset(one, 0, sizeof(one));
  one[0] = 1;
  memset(y_p1, 0xff, sizeof(y_p1)); /* p + 1 = 2^255 - 18 */
  y_p1[0] = 0xee;
  y_p1[31] = 0x7f;
  memcpy(neg0, one, sizeof(neg0));
  neg0[31] |= 0x80;

  /* S = 1: R' = B. */
  memset(sig, 0, sizeof(sig));
  unhex(base_hex, sig, 32);
  sig[32] = 1;
  CHECK(mg_ed25519_verify(sig, (const uint8_t *) "any", 3, one));
  CHECK(!mg_ed25519_verify(sig, (const uint8_t *) "any", 3, y_p1));
  CHECK(!mg_ed25519_verify(sig, (const uint8_t *) "any", 3, neg0));

  /* S = 0: R' = the neutral element, canonical R = "01 00 .. 00". */
  memset(sig, 0, sizeof(sig));
  memcpy(sig, one, 32);
  CHECK(mg_ed25519_verify(sig, NULL, 0, one));
  memcpy(sig, y_p1, 32);
  CHECK(!mg_ed25519_verify(sig, NULL, 0, one));
  memcpy(sig, neg0, 32);
  CHECK(!mg_ed25519_verify(sig, NULL, 0, one));
}

/* y values with no x on the curve ((y^2 - 1) / (d y^2 + 1) not a square):
 * such a key is refused before any arithmetic on the signature. */
static void test_invalid_keys(void) {
  uint8_t pub[32], sig[64], msg[1] = {0x72};
  unhex(rfc_vectors[1].sig, sig, sizeof(sig));
  memset(pub, 0, sizeof(pub));
  pub[0] = 2; /* y = 2 is not on the curve */
  CHECK(!mg_ed25519_verify(sig, msg, 1, pub));
  memset(pub, 0xff, sizeof(pub)); /* y = 2^255 - 1 >= p */
  CHECK(!mg_ed25519_verify(sig, msg, 1, pub));
  CHECK(!mg_ed25519_verify(NULL, msg, 1, pub));
  CHECK(!mg_ed25519_verify(sig, NULL, 1, pub));
  CHECK(!mg_ed25519_verify(sig, msg, 1, NULL));
}
#endif

int main(void) {
  test_sha512();
#if MG_ENABLE_ED25519
  test_rfc_vectors();
  test_noncanonical_s();
  test_noncanonical_points();
  test_invalid_keys();
#else
  printf("MG_ENABLE_ED25519=0: only SHA-512 tested\n");
#endif
  return TEST_REPORT();
}
