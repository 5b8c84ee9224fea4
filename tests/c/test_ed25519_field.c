/* The field arithmetic of util_ed25519.c (static, so the file is included)
 * on the values where carries and borrows wrap more than once: 0, p - 1,
 * p, p + 1, 2p, 2^255, 2^256 - 39 ... 2^256 - 1. Loosely reduced limbs mean
 * every value below 2^256 is a valid input. Checked with exact known
 * reductions and with identities of the field. */
#include "mg_test.h"

#include "../../src/core/util_ed25519.c"

#if MG_ENABLE_ED25519
/* 2^256 - 1 - k for a small k, and p + k. */
static void top_minus(fe r, uint32_t k) {
  memset(r, 0xff, sizeof(fe));
  r[0] -= k;
}

static void p_plus(fe r, uint32_t k) {
  memcpy(r, fe_p, sizeof(fe));
  r[0] += k; /* no carry for the k used here */
}

static bool is_small(const fe a, uint32_t v) { /* a == v mod p */
  fe x;
  fe_set(x, v);
  return fe_eq(a, x);
}

#define NVALS 16
static void edge_values(fe v[NVALS]) {
  int i;
  fe_set(v[0], 0);
  fe_set(v[1], 1);
  fe_set(v[2], 19);
  fe_set(v[3], 38);
  p_plus(v[4], 0);
  p_plus(v[5], 0);
  v[5][0] -= 1; /* p - 1 */
  p_plus(v[6], 1);
  p_plus(v[7], 18);
  memcpy(v[8], fe_p, sizeof(fe)); /* 2p = 2^256 - 38 */
  for (i = 7; i > 0; i--) v[8][i] = v[8][i] << 1 | v[8][i - 1] >> 31;
  v[8][0] <<= 1;
  memset(v[9], 0, sizeof(fe));
  v[9][7] = 0x80000000u; /* 2^255 */
  top_minus(v[10], 38);  /* 2^256 - 39 */
  top_minus(v[11], 37);  /* 2^256 - 38 = 2p */
  top_minus(v[12], 0);   /* 2^256 - 1 */
  top_minus(v[13], 1);
  for (i = 0; i < 8; i++) v[14][i] = 0x9e3779b9u * (uint32_t) (i + 1);
  memcpy(v[15], fe_d, sizeof(fe));
}

static void test_reduce(void) {
  fe v[NVALS], r;
  edge_values(v);
  CHECK(is_small(v[4], 0));  /* p */
  CHECK(is_small(v[6], 1));  /* p + 1 */
  CHECK(is_small(v[7], 18)); /* p + 18 */
  CHECK(is_small(v[8], 0));  /* 2p */
  CHECK(is_small(v[9], 19)); /* 2^255 */
  CHECK(is_small(v[11], 0)); /* 2^256 - 38 */
  CHECK(is_small(v[12], 37)); /* 2^256 - 1 = 2p + 37 */
  fe_reduce(r, v[5]);
  CHECK(memcmp(r, v[5], sizeof(fe)) == 0); /* p - 1 is already reduced */
  fe_add(r, v[5], v[1]);
  CHECK(is_small(r, 0));
}

static void test_identities(void) {
  fe v[NVALS], s, t, u, w, one;
  int i, j, k;
  edge_values(v);
  fe_set(one, 1);
  for (i = 0; i < NVALS; i++) {
    fe_sub(t, v[i], v[i]);
    CHECK(is_small(t, 0));
    fe_mul(t, v[i], one);
    CHECK(fe_eq(t, v[i]));
    if (!is_small(v[i], 0)) { /* a * (1/a) = 1 */
      fe_invert(t, v[i]);
      fe_mul(t, t, v[i]);
      CHECK(is_small(t, 1));
    }
    for (j = 0; j < NVALS; j++) {
      fe_add(s, v[i], v[j]);
      fe_sub(t, s, v[j]);
      CHECK(fe_eq(t, v[i])); /* (a + b) - b = a */
      fe_sub(t, v[i], v[j]);
      fe_add(t, t, v[j]);
      CHECK(fe_eq(t, v[i])); /* (a - b) + b = a */
      fe_mul(s, v[i], v[j]);
      fe_mul(t, v[j], v[i]);
      CHECK(fe_eq(s, t));
      for (k = 0; k < NVALS; k += 3) { /* a (b + c) = a b + a c */
        fe_add(u, v[j], v[k]);
        fe_mul(u, v[i], u);
        fe_mul(w, v[i], v[k]);
        fe_add(w, w, s);
        CHECK(fe_eq(u, w));
      }
    }
  }
  /* sqrt(-1)^2 = -1, and the base point is on the curve:
   * -x^2 + y^2 = 1 + d x^2 y^2. */
  fe_mul(t, fe_sqrtm1, fe_sqrtm1);
  fe_add(t, t, one);
  CHECK(is_small(t, 0));
  fe_mul(s, fe_bx, fe_bx);
  fe_mul(t, fe_by, fe_by);
  fe_sub(u, t, s);
  fe_mul(w, s, t);
  fe_mul(w, w, fe_d);
  fe_add(w, w, one);
  CHECK(fe_eq(u, w));
}

/* 512-bit hashes reduce mod L like the long division they stand for. */
static void test_scalar_reduce(void) {
  /* (2^512 - 1) mod L, little-endian (computed with Python integers). */
  static const uint8_t top_mod_l[32] = {
      0x00, 0x0f, 0x9c, 0x44, 0xe3, 0x11, 0x06, 0xa4, 0x47, 0x93, 0x85,
      0x68, 0xa7, 0x1b, 0x0e, 0xd0, 0x65, 0xbe, 0xf5, 0x17, 0xd2, 0x73,
      0xec, 0xce, 0x3d, 0x9a, 0x30, 0x7c, 0x1b, 0x41, 0x99, 0x03};
  uint8_t h[64], got[32];
  uint32_t r[8];
  int i;
  memset(h, 0, sizeof(h));
  for (i = 0; i < 32; i++) h[i] = (uint8_t) (sc_l[i / 4] >> (8 * (i % 4)));
  CHECK(!sc_is_canonical(h)); /* L itself */
  sc_reduce(r, h);
  for (i = 0; i < 8; i++) CHECK(r[i] == 0);
  h[0]--; /* L - 1: the largest canonical scalar, its own residue */
  CHECK(sc_is_canonical(h));
  sc_reduce(r, h);
  CHECK(r[0] == sc_l[0] - 1 && r[3] == sc_l[3] && r[7] == sc_l[7]);
  memset(h, 0xff, sizeof(h));
  sc_reduce(r, h);
  for (i = 0; i < 32; i++) got[i] = (uint8_t) (r[i / 4] >> (8 * (i % 4)));
  CHECK(memcmp(got, top_mod_l, 32) == 0);
}
#endif

int main(void) {
#if MG_ENABLE_ED25519
  test_reduce();
  test_identities();
  test_scalar_reduce();
#else
  printf("MG_ENABLE_ED25519=0: nothing to test\n");
#endif
  return TEST_REPORT();
}
