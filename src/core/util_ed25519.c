/* Ed25519 signature verification, written from RFC 8032 (sections 5.1.1 to
 * 5.1.7). Used to check signed firmware images on the device.
 *
 * Field elements mod p = 2^255 - 19 are eight 32-bit limbs, little-endian,
 * kept loosely reduced: any value below 2^256 stands for itself mod p, and
 * only encoding and comparison reduce fully. Since 2^256 = 2 * p + 38, a
 * carry out of the top limb is worth 38 at the bottom. Nothing here is
 * constant-time: verification only ever sees public data (key, message,
 * signature), so plain branches keep the code short and fast.
 *
 * Which check: cofactorless. RFC 8032 section 5.1.7 asks for
 * [8][S]B = [8]R + [8][k]A' and says checking [S]B = R + [k]A' is
 * sufficient. We compute R' = [S]B - [k]A and compare its canonical
 * encoding with the R bytes of the signature, which is what OpenSSL (the
 * backend of the `cryptography` package that signs our images on the host)
 * does, so host and device accept the same signatures, including the rare
 * crafted ones with small-order components. Comparing encodings also
 * rejects a non-canonical R without decoding it. */
#include "mg_util.h"

#if MG_ENABLE_ED25519

typedef uint32_t fe[8];

struct ge { /* extended coordinates: x = X/Z, y = Y/Z, x * y = T/Z */
  fe X, Y, Z, T;
};

/* d = -121665/121666 mod p (RFC 8032 section 5.1). */
static const fe fe_d = {0x135978a3, 0x75eb4dca, 0x4141d8ab, 0x00700a4d,
                        0x7779e898, 0x8cc74079, 0x2b6ffe73, 0x52036cee};
/* 2^((p-1)/4), a square root of -1 mod p. */
static const fe fe_sqrtm1 = {0x4a0ea0b0, 0xc4ee1b27, 0xad2fe478, 0x2f431806,
                             0x3dfbd7a7, 0x2b4d0099, 0x4fc1df0b, 0x2b832480};
/* The base point B: y = 4/5, x positive (even). */
static const fe fe_bx = {0x8f25d51a, 0xc9562d60, 0x9525a7b2, 0x692cc760,
                         0xfdd6dc5c, 0xc0a4e231, 0xcd6e53fe, 0x216936d3};
static const fe fe_by = {0x66666658, 0x66666666, 0x66666666, 0x66666666,
                         0x66666666, 0x66666666, 0x66666666, 0x66666666};
static const fe fe_p = {0xffffffed, 0xffffffff, 0xffffffff, 0xffffffff,
                        0xffffffff, 0xffffffff, 0xffffffff, 0x7fffffff};
/* The group order L = 2^252 + 27742317777372353535851937790883648493. */
static const uint32_t sc_l[8] = {0x5cf5d3ed, 0x5812631a, 0xa2f79cd6,
                                 0x14def9de, 0, 0, 0, 0x10000000};

static void fe_set(fe r, uint32_t v) {
  memset(r, 0, sizeof(fe));
  r[0] = v;
}

/* Adds c * 2^256 (= c * 38 mod p) back in; repeats while that overflows. */
static void fe_carry(fe t, uint64_t c) {
  while (c != 0) {
    int i;
    c *= 38;
    for (i = 0; i < 8; i++) {
      c += t[i];
      t[i] = (uint32_t) c;
      c >>= 32;
    }
  }
}

/* Takes b * 2^256 (= b * 38 mod p) away after a borrow out of the top. */
static void fe_borrow(fe t, uint32_t b) {
  while (b != 0) {
    uint32_t s = 38;
    int i;
    for (i = 0; i < 8; i++) {
      uint64_t v = (uint64_t) t[i] - s;
      t[i] = (uint32_t) v;
      s = (uint32_t) (v >> 63); /* 1 when it went below zero */
    }
    b = s;
  }
}

static void fe_add(fe r, const fe a, const fe b) {
  uint64_t c = 0;
  int i;
  for (i = 0; i < 8; i++) {
    c += (uint64_t) a[i] + b[i];
    r[i] = (uint32_t) c;
    c >>= 32;
  }
  fe_carry(r, c);
}

static void fe_sub(fe r, const fe a, const fe b) {
  uint32_t s = 0;
  int i;
  for (i = 0; i < 8; i++) {
    uint64_t v = (uint64_t) a[i] - b[i] - s;
    r[i] = (uint32_t) v;
    s = (uint32_t) (v >> 63);
  }
  fe_borrow(r, s);
}

/* Schoolbook 256 x 256 -> 512 bits, then the top half folds in times 38. */
static void fe_mul(fe r, const fe a, const fe b) {
  uint32_t w[16];
  uint64_t c;
  int i, j;
  memset(w, 0, sizeof(w));
  for (i = 0; i < 8; i++) {
    c = 0;
    for (j = 0; j < 8; j++) { /* at most 2^64 - 1: cannot overflow */
      c += (uint64_t) a[i] * b[j] + w[i + j];
      w[i + j] = (uint32_t) c;
      c >>= 32;
    }
    w[i + 8] = (uint32_t) c;
  }
  c = 0;
  for (i = 0; i < 8; i++) {
    c += (uint64_t) w[i + 8] * 38 + w[i];
    r[i] = (uint32_t) c;
    c >>= 32;
  }
  fe_carry(r, c);
}

/* r = a mod p, fully reduced (a < 2^256 = 2p + 38: at most two steps). */
static void fe_reduce(fe r, const fe a) {
  fe t;
  memcpy(r, a, sizeof(fe));
  for (;;) {
    uint32_t s = 0;
    int i;
    for (i = 0; i < 8; i++) {
      uint64_t v = (uint64_t) r[i] - fe_p[i] - s;
      t[i] = (uint32_t) v;
      s = (uint32_t) (v >> 63);
    }
    if (s) return; /* r < p */
    memcpy(r, t, sizeof(fe));
  }
}

static bool fe_eq(const fe a, const fe b) {
  fe x, y;
  fe_reduce(x, a);
  fe_reduce(y, b);
  return memcmp(x, y, sizeof(fe)) == 0;
}

static bool fe_is_zero(const fe a) {
  fe z;
  fe_set(z, 0);
  return fe_eq(a, z);
}

static bool fe_is_odd(const fe a) { /* the "sign" of RFC 8032 */
  fe x;
  fe_reduce(x, a);
  return (x[0] & 1) != 0;
}

static void fe_from_bytes(fe r, const uint8_t s[32]) {
  int i;
  for (i = 0; i < 8; i++)
    r[i] = (uint32_t) s[4 * i] | (uint32_t) s[4 * i + 1] << 8 |
           (uint32_t) s[4 * i + 2] << 16 | (uint32_t) s[4 * i + 3] << 24;
}

static void fe_to_bytes(uint8_t s[32], const fe a) {
  fe x;
  int i;
  fe_reduce(x, a);
  for (i = 0; i < 32; i++) s[i] = (uint8_t) (x[i / 4] >> (8 * (i % 4)));
}

static void fe_sqn(fe r, const fe a, int n) { /* r = a^(2^n) */
  memcpy(r, a, sizeof(fe));
  while (n-- > 0) fe_mul(r, r, r);
}

/* r = a^(2^250 - 1), the common part of both exponents used here. Writing
 * t(k) = a^(2^k - 1): t(j + k) = t(j)^(2^k) * t(k), so 250 squarings and
 * 11 multiplications get there (plain square-and-multiply needs 250
 * multiplications). */
static void fe_pow250(fe r, const fe a) {
  fe t2, t5, t10, t50, t;
  fe_sqn(t, a, 1);
  fe_mul(t2, t, a);       /* t(2) */
  fe_sqn(t, t2, 2);
  fe_mul(t, t, t2);       /* t(4) */
  fe_sqn(t, t, 1);
  fe_mul(t5, t, a);       /* t(5) */
  fe_sqn(t, t5, 5);
  fe_mul(t10, t, t5);     /* t(10) */
  fe_sqn(t, t10, 10);
  fe_mul(t, t, t10);      /* t(20) */
  fe_sqn(r, t, 20);
  fe_mul(t, r, t);        /* t(40) */
  fe_sqn(t, t, 10);
  fe_mul(t50, t, t10);    /* t(50) */
  fe_sqn(t, t50, 50);
  fe_mul(t, t, t50);      /* t(100) */
  fe_sqn(r, t, 100);
  fe_mul(t, r, t);        /* t(200) */
  fe_sqn(t, t, 50);
  fe_mul(r, t, t50);      /* t(250) */
}

/* r = a^(p-2) = 1/a: p - 2 = 2^255 - 21 = (2^250 - 1) * 2^5 + 11. */
static void fe_invert(fe r, const fe a) {
  fe a2, a11;
  fe_mul(a2, a, a);
  fe_sqn(a11, a2, 2);     /* a^8 */
  fe_mul(a11, a11, a2);
  fe_mul(a11, a11, a);    /* a^11 */
  fe_pow250(r, a);
  fe_sqn(r, r, 5);
  fe_mul(r, r, a11);
}

/* r = a^((p-5)/8): (p - 5) / 8 = 2^252 - 3 = (2^250 - 1) * 4 + 1. */
static void fe_pow_p58(fe r, const fe a) {
  fe_pow250(r, a);
  fe_sqn(r, r, 2);
  fe_mul(r, r, a);
}

/* RFC 8032 section 5.1.4: the unified addition, valid for every pair of
 * points (doubling and the neutral element included). */
static void ge_add(struct ge *r, const struct ge *p, const struct ge *q) {
  fe a, b, c, d, e, f, g, h;
  fe_sub(a, p->Y, p->X);
  fe_sub(h, q->Y, q->X);
  fe_mul(a, a, h);
  fe_add(b, p->Y, p->X);
  fe_add(h, q->Y, q->X);
  fe_mul(b, b, h);
  fe_mul(c, p->T, q->T);
  fe_mul(c, c, fe_d);
  fe_add(c, c, c);
  fe_mul(d, p->Z, q->Z);
  fe_add(d, d, d);
  fe_sub(e, b, a);
  fe_sub(f, d, c);
  fe_add(g, d, c);
  fe_add(h, b, a);
  fe_mul(r->X, e, f);
  fe_mul(r->Y, g, h);
  fe_mul(r->T, e, h);
  fe_mul(r->Z, f, g);
}

/* RFC 8032 section 5.1.4: doubling, four multiplications fewer. */
static void ge_double(struct ge *r, const struct ge *p) {
  fe a, b, c, e, f, g, h;
  fe_mul(a, p->X, p->X);
  fe_mul(b, p->Y, p->Y);
  fe_mul(c, p->Z, p->Z);
  fe_add(c, c, c);
  fe_add(h, a, b);
  fe_add(e, p->X, p->Y);
  fe_mul(e, e, e);
  fe_sub(e, h, e);
  fe_sub(g, a, b);
  fe_add(f, c, g);
  fe_mul(r->X, e, f);
  fe_mul(r->Y, g, h);
  fe_mul(r->T, e, h);
  fe_mul(r->Z, f, g);
}

/* RFC 8032 section 5.1.3. False for a y >= p, a y with no x on the curve,
 * and x = 0 with the sign bit set: each is a non-canonical or invalid
 * encoding. */
static bool ge_decode(struct ge *r, const uint8_t s[32]) {
  uint8_t ybytes[32];
  fe y, y2, u, v, v3, x, t, one;
  bool sign = (s[31] & 0x80) != 0;
  memcpy(ybytes, s, 32);
  ybytes[31] &= 0x7f;
  fe_from_bytes(y, ybytes);
  fe_reduce(t, y);
  if (memcmp(t, y, sizeof(fe)) != 0) return false; /* y >= p */
  fe_set(one, 1);
  fe_mul(y2, y, y);
  fe_sub(u, y2, one);     /* u = y^2 - 1 */
  fe_mul(v, y2, fe_d);
  fe_add(v, v, one);      /* v = d y^2 + 1 */
  fe_mul(v3, v, v);
  fe_mul(v3, v3, v);      /* v^3 */
  fe_mul(t, v3, v3);
  fe_mul(t, t, v);
  fe_mul(t, t, u);        /* u v^7 */
  fe_pow_p58(x, t);       /* (u v^7)^((p-5)/8) */
  fe_mul(x, x, v3);
  fe_mul(x, x, u);        /* x = u v^3 (u v^7)^((p-5)/8) */
  fe_mul(t, x, x);
  fe_mul(t, t, v);        /* v x^2 */
  if (!fe_eq(t, u)) {
    fe_add(t, t, u);
    if (!fe_is_zero(t)) return false; /* neither u nor -u: not a square */
    fe_mul(x, x, fe_sqrtm1);
  }
  if (fe_is_zero(x) && sign) return false;
  if (fe_is_odd(x) != sign) {
    fe_set(t, 0);
    fe_sub(x, t, x);
  }
  memcpy(r->X, x, sizeof(fe));
  memcpy(r->Y, y, sizeof(fe));
  fe_set(r->Z, 1);
  fe_mul(r->T, x, y);
  return true;
}

static void ge_encode(uint8_t s[32], const struct ge *p) {
  fe zi, x, y;
  fe_invert(zi, p->Z);
  fe_mul(x, p->X, zi);
  fe_mul(y, p->Y, zi);
  fe_to_bytes(s, y);
  if (fe_is_odd(x)) s[31] |= 0x80;
}

/* r = h mod L for a 512-bit little-endian h: shift in one bit at a time and
 * subtract L whenever the remainder reaches it (r stays below 2^253). */
static void sc_reduce(uint32_t r[8], const uint8_t h[64]) {
  int bit, i;
  memset(r, 0, 8 * sizeof(uint32_t));
  for (bit = 511; bit >= 0; bit--) {
    uint32_t t[8], s = 0;
    for (i = 7; i > 0; i--) r[i] = r[i] << 1 | r[i - 1] >> 31;
    r[0] = r[0] << 1 | ((h[bit / 8] >> (bit % 8)) & 1);
    for (i = 0; i < 8; i++) {
      uint64_t v = (uint64_t) r[i] - sc_l[i] - s;
      t[i] = (uint32_t) v;
      s = (uint32_t) (v >> 63);
    }
    if (!s) memcpy(r, t, sizeof(t)); /* r >= L */
  }
}

/* True when the 32-byte little-endian scalar s is below L. */
static bool sc_is_canonical(const uint8_t s[32]) {
  int i;
  for (i = 31; i >= 0; i--) {
    uint8_t l = (uint8_t) (sc_l[i / 4] >> (8 * (i % 4)));
    if (s[i] != l) return s[i] < l;
  }
  return false; /* s == L */
}

bool mg_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                       const uint8_t pub[32]) {
  struct mg_sha512_ctx ctx;
  uint8_t h[64], rcheck[32];
  uint32_t k[8], s[8];
  struct ge tab[4], acc;
  int i;
  if (sig == NULL || pub == NULL || (msg == NULL && len > 0)) return false;
  if (!sc_is_canonical(sig + 32)) return false;
  if (!ge_decode(&tab[2], pub)) return false;
  /* k = SHA-512(R || A || M) mod L */
  mg_sha512_init(&ctx);
  mg_sha512_update(&ctx, sig, 32);
  mg_sha512_update(&ctx, pub, 32);
  mg_sha512_update(&ctx, msg, len);
  mg_sha512_final(&ctx, h);
  sc_reduce(k, h);
  fe_from_bytes(s, sig + 32);
  /* tab[1] = B, tab[2] = -A, tab[3] = B - A; tab[0] is not used. */
  memcpy(tab[1].X, fe_bx, sizeof(fe));
  memcpy(tab[1].Y, fe_by, sizeof(fe));
  fe_set(tab[1].Z, 1);
  fe_mul(tab[1].T, fe_bx, fe_by);
  fe_set(acc.X, 0);
  fe_sub(tab[2].X, acc.X, tab[2].X);
  fe_sub(tab[2].T, acc.X, tab[2].T);
  ge_add(&tab[3], &tab[1], &tab[2]);
  /* R' = [S]B + [k](-A), both scalars scanned together from the top bit
   * (Shamir's trick): one doubling per bit, one addition when either bit
   * is set. acc starts as the neutral element (0, 1). */
  fe_set(acc.X, 0);
  fe_set(acc.Y, 1);
  fe_set(acc.Z, 1);
  fe_set(acc.T, 0);
  for (i = 255; i >= 0; i--) {
    int idx = (int) ((s[i / 32] >> (i % 32)) & 1) |
              (int) (((k[i / 32] >> (i % 32)) & 1) << 1);
    ge_double(&acc, &acc);
    if (idx != 0) ge_add(&acc, &acc, &tab[idx]);
  }
  ge_encode(rcheck, &acc);
  return memcmp(rcheck, sig, 32) == 0;
}

#endif /* MG_ENABLE_ED25519 */
