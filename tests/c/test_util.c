/* Utilities: RFC/FIPS test vectors for encodings and hashes, JSON paths
 * (valid and malformed), glob matching, URL encoding, key=value lookup and
 * the JSON-RPC dispatcher, MG_ASSERT. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

static struct mg_str S(const char *s) {
  struct mg_str r = {s, strlen(s)};
  return r;
}

static void hex(const unsigned char *d, size_t n, char *out) {
  static const char h[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) out[2 * i] = h[d[i] >> 4], out[2 * i + 1] = h[d[i] & 15];
  out[2 * n] = '\0';
}

/* ---- base64, RFC 4648 section 10 ---- */
static void test_base64(void) {
  static const char *v[][2] = {{"", ""},         {"f", "Zg=="},
                               {"fo", "Zm8="},   {"foo", "Zm9v"},
                               {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                               {"foobar", "Zm9vYmFy"}};
  char buf[64];
  size_t i, n;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    n = mg_base64_encode((const unsigned char *) v[i][0], strlen(v[i][0]), buf,
                         sizeof(buf));
    CHECK(n == strlen(v[i][1]) && strcmp(buf, v[i][1]) == 0);
    n = mg_base64_decode(v[i][1], strlen(v[i][1]), buf, sizeof(buf));
    CHECK(n == strlen(v[i][0]) && memcmp(buf, v[i][0], n) == 0 &&
          buf[n] == '\0');
  }
  // All 256 byte values round-trip; the output alphabet is the standard one.
  {
    unsigned char all[256], back[256];
    char enc[400];
    for (i = 0; i < 256; i++) all[i] = (unsigned char) i;
    n = mg_base64_encode(all, 256, enc, sizeof(enc));
    CHECK(n == MG_BASE64_ENCODED_LEN(256));
    CHECK(strncmp(enc, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44) == 0);
    CHECK(mg_base64_encode((const unsigned char *) "\xfb\xff", 2, enc, sizeof(enc)) == 4 &&
          strcmp(enc, "+/8=") == 0);
    n = mg_base64_encode(all, 256, enc, sizeof(enc));
    CHECK(mg_base64_decode(enc, n, (char *) back, sizeof(back)) == 0);  // dst too small
    {
      char big[260];
      CHECK(mg_base64_decode(enc, n, big, sizeof(big)) == 256 &&
            memcmp(big, all, 256) == 0);
    }
  }
  // Output buffer too small: 0 and nothing written past it.
  memset(buf, 'x', sizeof(buf));
  CHECK(mg_base64_encode((const unsigned char *) "foo", 3, buf, 4) == 0);
  CHECK(mg_base64_encode((const unsigned char *) "foo", 3, buf, 5) == 4);
  // Lenient forms: missing padding, trailing newline.
  n = mg_base64_decode("Zm8", 3, buf, sizeof(buf));
  CHECK(n == 2 && memcmp(buf, "fo", 2) == 0);
  n = mg_base64_decode("Zm9vYmE\r\n", 9, buf, sizeof(buf));
  CHECK(n == 5 && memcmp(buf, "fooba", 5) == 0);
  // Invalid: bad characters, impossible lengths, misplaced padding.
  CHECK(mg_base64_decode("Zm9v!", 5, buf, sizeof(buf)) == 0);
  CHECK(mg_base64_decode("Z", 1, buf, sizeof(buf)) == 0);
  CHECK(mg_base64_decode("Zg=", 3, buf, sizeof(buf)) == 0);
  CHECK(mg_base64_decode("Zg==Zg==", 8, buf, sizeof(buf)) == 0);
  CHECK(mg_base64_decode("====", 4, buf, sizeof(buf)) == 0);
  CHECK(mg_base64_decode("Zm 9v", 5, buf, sizeof(buf)) == 0);
}

/* ---- hashes ---- */
static void md5_hex(const void *p, size_t n, char *out) {
  struct mg_md5_ctx c;
  unsigned char d[16];
  mg_md5_init(&c);
  mg_md5_update(&c, p, n);
  mg_md5_final(&c, d);
  hex(d, 16, out);
}

static void sha1_hex(const void *p, size_t n, char *out) {
  struct mg_sha1_ctx c;
  unsigned char d[20];
  mg_sha1_init(&c);
  mg_sha1_update(&c, p, n);
  mg_sha1_final(&c, d);
  hex(d, 20, out);
}

static void sha256_hex(const void *p, size_t n, char *out) {
  unsigned char d[32];
  mg_sha256(d, p, n);
  hex(d, 32, out);
}

static void test_hashes(void) {
  // RFC 1321 appendix A.5
  static const char *md5v[][2] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"1234567890123456789012345678901234567890123456789012345678901234567890"
       "1234567890",
       "57edf4a22be3c955ac49da2e2107b67a"}};
  static const char *abc448 =
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  char out[65], *million;
  size_t i;
  for (i = 0; i < sizeof(md5v) / sizeof(md5v[0]); i++) {
    md5_hex(md5v[i][0], strlen(md5v[i][0]), out);
    CHECK(strcmp(out, md5v[i][1]) == 0);
  }
  // FIPS 180 examples
  sha1_hex("abc", 3, out);
  CHECK(strcmp(out, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0);
  sha1_hex("", 0, out);
  CHECK(strcmp(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == 0);
  sha1_hex(abc448, strlen(abc448), out);
  CHECK(strcmp(out, "84983e441c3bd26ebaae4aa1f95129e5e54670f1") == 0);
  sha256_hex("abc", 3, out);
  CHECK(strcmp(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
  sha256_hex("", 0, out);
  CHECK(strcmp(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
  sha256_hex(abc448, strlen(abc448), out);
  CHECK(strcmp(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
  million = (char *) malloc(1000000);
  if (million != NULL) {
    memset(million, 'a', 1000000);
    sha1_hex(million, 1000000, out);
    CHECK(strcmp(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0);
    sha256_hex(million, 1000000, out);
    CHECK(strcmp(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    free(million);
  }
  // Feeding in two pieces, split at every offset, equals one shot (covers
  // the partial-block paths and the 55/56/64-byte padding edges).
  {
    unsigned char msg[150], d1[32], d2[32], m1[16], m2[16], s1[20], s2[20];
    size_t split, len;
    int bad = 0;
    for (i = 0; i < sizeof(msg); i++) msg[i] = (unsigned char) (i * 7 + 3);
    for (len = 0; len <= sizeof(msg); len += 1) {
      struct mg_sha256_ctx c;
      struct mg_md5_ctx mc;
      struct mg_sha1_ctx sc;
      mg_sha256(d1, msg, len);
      mg_md5_init(&mc), mg_md5_update(&mc, msg, len), mg_md5_final(&mc, m1);
      mg_sha1_init(&sc), mg_sha1_update(&sc, msg, len), mg_sha1_final(&sc, s1);
      for (split = 0; split <= len; split += 5) {
        mg_sha256_init(&c);
        mg_sha256_update(&c, msg, split);
        mg_sha256_update(&c, msg + split, len - split);
        mg_sha256_final(&c, d2);
        mg_md5_init(&mc), mg_md5_update(&mc, msg, split);
        mg_md5_update(&mc, msg + split, len - split), mg_md5_final(&mc, m2);
        mg_sha1_init(&sc), mg_sha1_update(&sc, msg, split);
        mg_sha1_update(&sc, msg + split, len - split), mg_sha1_final(&sc, s2);
        if (memcmp(d1, d2, 32) || memcmp(m1, m2, 16) || memcmp(s1, s2, 20)) bad++;
      }
    }
    CHECK(bad == 0);
  }
}

/* RFC 4231 test cases 1, 2, 3, 6, 7 */
static void test_hmac(void) {
  unsigned char key[131], data[50], mac[32];
  char out[65];
  static const char *tc6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  static const char *tc7 =
      "This is a test using a larger than block-size key and a larger than "
      "block-size data. The key needs to be hashed before being used by the "
      "HMAC algorithm.";
  memset(key, 0x0b, 20);
  mg_hmac_sha256(mac, key, 20, "Hi There", 8);
  hex(mac, 32, out);
  CHECK(strcmp(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7") == 0);
  mg_hmac_sha256(mac, "Jefe", 4, "what do ya want for nothing?", 28);
  hex(mac, 32, out);
  CHECK(strcmp(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0);
  memset(key, 0xaa, sizeof(key));
  memset(data, 0xdd, sizeof(data));
  mg_hmac_sha256(mac, key, 20, data, 50);
  hex(mac, 32, out);
  CHECK(strcmp(out, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe") == 0);
  mg_hmac_sha256(mac, key, 131, tc6, strlen(tc6));
  hex(mac, 32, out);
  CHECK(strcmp(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54") == 0);
  mg_hmac_sha256(mac, key, 131, tc7, strlen(tc7));
  hex(mac, 32, out);
  CHECK(strcmp(out, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2") == 0);
}

static void test_crc32(void) {
  CHECK(mg_crc32(0, "123456789", 9) == 0xCBF43926u);
  CHECK(mg_crc32(0, "", 0) == 0);
  CHECK(mg_crc32(mg_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
  CHECK(mg_crc32(0, "The quick brown fox jumps over the lazy dog", 43) ==
        0x414FA339u);
}

/* ---- JSON ---- */
static long jget(const char *json, const char *path, long *len) {
  return mg_json_get(S(json), path, len);
}

/* The token at path as a C string in buf, or "<err N>". */
static const char *jtok(const char *json, const char *path, char *buf) {
  long len = 0, ofs = jget(json, path, &len);
  if (ofs < 0) {
    sprintf(buf, "<err %ld>", ofs);
  } else {
    memcpy(buf, json + ofs, (size_t) len);
    buf[len] = '\0';
  }
  return buf;
}

static void test_json_get(void) {
  const char *doc =
      " {\"a\": 1, \"b\": {\"c\": [10, 20, {\"d\": \"x\\\"y\"}], \"e\": null},"
      " \"f\": [ ], \"g\": {}, \"h\": true, \"i\": -1.5e2, \"a.b\": 7,"
      " \"k\\u00e9y\": \"v\", \"dup\": 1, \"dup\": 2 } ";
  char b[256];
  CHECK(strcmp(jtok(doc, "$", b), "{\"a\": 1, \"b\": {\"c\": [10, 20, {\"d\": "
                                  "\"x\\\"y\"}], \"e\": null}, \"f\": [ ], "
                                  "\"g\": {}, \"h\": true, \"i\": -1.5e2, "
                                  "\"a.b\": 7, \"k\\u00e9y\": \"v\", \"dup\": "
                                  "1, \"dup\": 2 }") == 0);
  CHECK(strcmp(jtok(doc, "$.a", b), "1") == 0);
  CHECK(strcmp(jtok(doc, "$.b.c", b), "[10, 20, {\"d\": \"x\\\"y\"}]") == 0);
  CHECK(strcmp(jtok(doc, "$.b.c[0]", b), "10") == 0);
  CHECK(strcmp(jtok(doc, "$.b.c[1]", b), "20") == 0);
  CHECK(strcmp(jtok(doc, "$.b.c[2].d", b), "\"x\\\"y\"") == 0);
  CHECK(strcmp(jtok(doc, "$.b.c[3]", b), "<err -3>") == 0);
  CHECK(strcmp(jtok(doc, "$.b.e", b), "null") == 0);
  CHECK(strcmp(jtok(doc, "$.f", b), "[ ]") == 0);
  CHECK(strcmp(jtok(doc, "$.f[0]", b), "<err -3>") == 0);
  CHECK(strcmp(jtok(doc, "$.g", b), "{}") == 0);
  CHECK(strcmp(jtok(doc, "$.h", b), "true") == 0);
  CHECK(strcmp(jtok(doc, "$.i", b), "-1.5e2") == 0);
  CHECK(strcmp(jtok(doc, "$.kéy", b), "\"v\"") == 0);  // escaped key matches
  CHECK(strcmp(jtok(doc, "$.dup", b), "1") == 0);      // first wins
  CHECK(strcmp(jtok(doc, "$.a.b", b), "<err -3>") == 0);  // '.' splits keys
  CHECK(strcmp(jtok(doc, "$.zz", b), "<err -3>") == 0);
  CHECK(strcmp(jtok(doc, "$.a[0]", b), "<err -3>") == 0);
  CHECK(strcmp(jtok(doc, "$.b[0]", b), "<err -3>") == 0);  // object, not array
  CHECK(strcmp(jtok(doc, "$..a", b), "<err -3>") == 0);    // no recursive descent
  CHECK(strcmp(jtok(doc, "a", b), "<err -3>") == 0);       // path must start with $
  CHECK(strcmp(jtok(doc, "$.b.c[x]", b), "<err -3>") == 0);
  CHECK(strcmp(jtok(doc, "$.b.c[1", b), "<err -3>") == 0);
  CHECK(strcmp(jtok("[1,[2,[3]]]", "$[1][1][0]", b), "3") == 0);
  CHECK(strcmp(jtok("[1,[2,[3]]]", "$[1]", b), "[2,[3]]") == 0);
  CHECK(strcmp(jtok("[1,[2,[3]]]", "$[99999999999999999999]", b), "<err -3>") == 0);
  CHECK(strcmp(jtok("\"top\"", "$", b), "\"top\"") == 0);
  CHECK(strcmp(jtok("  42  ", "$", b), "42") == 0);
  CHECK(mg_json_get(S("{\"a\":1}"), NULL, NULL) == MG_JSON_NOT_FOUND);
  {
    // A matched element after siblings that contain nested containers.
    const char *d2 = "{\"x\":{\"y\":[{\"z\":1}]},\"y\":{\"x\":[]},\"t\":[{},[],{\"u\":[5]}]}";
    CHECK(strcmp(jtok(d2, "$.t[2].u[0]", b), "5") == 0);
    CHECK(strcmp(jtok(d2, "$.y.x", b), "[]") == 0);
    CHECK(strcmp(jtok(d2, "$.x.y[0].z", b), "1") == 0);
    CHECK(strcmp(jtok(d2, "$.t[1]", b), "[]") == 0);
  }
}

static void test_json_malformed(void) {
  static const char *bad[] = {
      "",          " ",          "{",          "}",         "[1,]",
      "{\"a\":}",  "{\"a\" 1}",  "{a:1}",      "{\"a\":1,}", "[1 2]",
      "01",        "1.",         ".5",         "-",         "1e",
      "1e+",       "+1",         "tru",        "nul",       "\"abc",
      "\"a\\x\"",  "\"\\u12G4\"", "\"\\u12\"",  "[\"a\nb\"]", "{\"a\":1}}",
      "[1]]",      "[1]x",       "{\"a\":1} 2", "NaN",       "Infinity",
      "{\"a\":[1,{\"b\":2]}}",  "{,}",  "[,1]", "\"\\", "{\"a\"",
  };
  size_t i;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    long r = mg_json_get(S(bad[i]), "$", NULL);
    CHECK(r == MG_JSON_INVALID);
    if (r != MG_JSON_INVALID) fprintf(stderr, "  input: %s -> %ld\n", bad[i], r);
  }
  // A found element does not excuse a broken rest of the document.
  CHECK(mg_json_get(S("{\"a\":1,\"b\":"), "$.a", NULL) == MG_JSON_INVALID);
  // Embedded NUL is just an invalid byte, not an end of input.
  {
    const char nul[] = {'[', '1', '\0', ']'};
    struct mg_str s = {nul, 4};
    CHECK(mg_json_get(s, "$", NULL) == MG_JSON_INVALID);
  }
  // Depth limit.
  {
    char deep[2 * MG_JSON_MAX_DEPTH + 4];
    size_t d;
    for (d = 0; d < MG_JSON_MAX_DEPTH; d++) deep[d] = '[', deep[2 * MG_JSON_MAX_DEPTH - 1 - d] = ']';
    deep[2 * MG_JSON_MAX_DEPTH] = '\0';
    CHECK(mg_json_get(S(deep), "$", NULL) == 0);
    memmove(deep + 1, deep, 2 * MG_JSON_MAX_DEPTH + 1);
    deep[0] = '[';
    strcat(deep, "]");
    CHECK(mg_json_get(S(deep), "$", NULL) == MG_JSON_TOO_DEEP);
  }
  // Non-ASCII bytes inside strings are passed through.
  CHECK(mg_json_get(S("[\"\xc3\xa9\"]"), "$[0]", NULL) == 1);
}

static void test_json_values(void) {
  double d = 0;
  bool b = false;
  int64_t v = 0;
  char buf[64];
  const char *doc =
      "{\"n\":42,\"f\":1.5e2,\"neg\":-7.9,\"pi\":3.14,\"t\":true,\"fa\":false,"
      "\"s\":\"a\\nb\\\"c\\u00e9\\ud83d\\ude00\\/\",\"big\":123456789012345678901,"
      "\"nbig\":-9223372036854775809,\"max\":9223372036854775807,\"e\":2e3,"
      "\"tiny\":1e-400,\"huge\":1e400,\"z\":-0,\"lone\":\"\\udc00\",\"nil\":null}";
  CHECK(mg_json_get_num(S(doc), "$.n", &d) && d == 42.0);
  CHECK(mg_json_get_num(S(doc), "$.f", &d) && d == 150.0);
  CHECK(mg_json_get_num(S(doc), "$.neg", &d) && d == -7.9);
  CHECK(mg_json_get_num(S(doc), "$.pi", &d) && d == 3.14);
  CHECK(mg_json_get_num(S(doc), "$.tiny", &d) && d == 0.0);
  CHECK(mg_json_get_num(S(doc), "$.huge", &d) && isinf(d) && d > 0);
  CHECK(mg_json_get_num(S(doc), "$.big", &d) && d > 1.2345678901e20 && d < 1.2345678902e20);
  CHECK(!mg_json_get_num(S(doc), "$.t", &d));
  CHECK(!mg_json_get_num(S(doc), "$.s", &d));
  CHECK(!mg_json_get_num(S(doc), "$.missing", &d));
  CHECK(mg_json_get_bool(S(doc), "$.t", &b) && b == true);
  CHECK(mg_json_get_bool(S(doc), "$.fa", &b) && b == false);
  CHECK(!mg_json_get_bool(S(doc), "$.nil", &b));
  CHECK(!mg_json_get_bool(S(doc), "$.n", &b));
  CHECK(mg_json_get_i64(S(doc), "$.n", &v) && v == 42);
  CHECK(mg_json_get_i64(S(doc), "$.pi", &v) && v == 3);
  CHECK(mg_json_get_i64(S(doc), "$.neg", &v) && v == -7);
  CHECK(mg_json_get_i64(S(doc), "$.e", &v) && v == 2000);
  CHECK(mg_json_get_i64(S(doc), "$.f", &v) && v == 150);
  CHECK(mg_json_get_i64(S(doc), "$.max", &v) && v == INT64_MAX);
  CHECK(mg_json_get_i64(S(doc), "$.big", &v) && v == INT64_MAX);
  CHECK(mg_json_get_i64(S(doc), "$.nbig", &v) && v == INT64_MIN);
  CHECK(mg_json_get_i64(S(doc), "$.huge", &v) && v == INT64_MAX);
  CHECK(mg_json_get_i64(S(doc), "$.z", &v) && v == 0);
  CHECK(!mg_json_get_i64(S(doc), "$.s", &v));
  CHECK(mg_json_get_long(S(doc), "$.n", -1) == 42);
  CHECK(mg_json_get_long(S(doc), "$.nil", -1) == -1);
  CHECK(mg_json_get_str(S(doc), "$.s", buf, sizeof(buf)) == 12);
  CHECK(memcmp(buf, "a\nb\"c\xc3\xa9\xf0\x9f\x98\x80/", 13) == 0);
  CHECK(mg_json_get_str(S(doc), "$.s", buf, 12) == -1);  // no room for NUL
  CHECK(mg_json_get_str(S(doc), "$.lone", buf, sizeof(buf)) == 3);
  CHECK(memcmp(buf, "\xed\xb0\x80", 3) == 0);
  CHECK(mg_json_get_str(S(doc), "$.n", buf, sizeof(buf)) == -1);
  CHECK(mg_json_get_str(S(doc), "$.nope", buf, sizeof(buf)) == -1);
}

static void test_json_escape(void) {
  char buf[64];
  size_t n = mg_json_escape(S("a\"b\\c\n\x01\x7f\xc3\xa9"), buf, sizeof(buf));
  CHECK(n == strlen(buf) && strcmp(buf, "a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9") == 0);
  // Truncation reports the full length and keeps the NUL.
  n = mg_json_escape(S("\n\n\n"), buf, 4);
  CHECK(n == 6 && strcmp(buf, "\\n\\") == 0);
  // Escape then unescape is the identity for every byte value.
  {
    char raw[256], esc[6 * 256 + 1], back[257];
    struct mg_str r = {raw, 256}, e;
    int i;
    for (i = 0; i < 256; i++) raw[i] = (char) i;
    e.buf = esc, e.len = mg_json_escape(r, esc, sizeof(esc));
    CHECK(mg_json_unescape(e, back, sizeof(back)) == 256 && memcmp(back, raw, 256) == 0);
  }
  CHECK(mg_json_unescape(S("bad\\q"), buf, sizeof(buf)) == -1);
  CHECK(mg_json_unescape(S("\\u00"), buf, sizeof(buf)) == -1);
}

/* ---- glob ---- */
static bool m(const char *s, const char *p) {
  return mg_match(S(s), S(p), NULL, 0);
}

static void test_match(void) {
  struct mg_str caps[4];
  CHECK(m("", ""));
  CHECK(m("", "*"));
  CHECK(m("", "#"));
  CHECK(!m("", "?"));
  CHECK(m("abc", "abc"));
  CHECK(!m("abc", "ab"));
  CHECK(!m("ab", "abc"));
  CHECK(!m("abc", "ABC"));
  CHECK(m("abc", "a?c"));
  CHECK(m("a/c", "a?c"));
  CHECK(m("/api/foo", "/api/*"));
  CHECK(!m("/api/foo/bar", "/api/*"));
  CHECK(m("/api/foo/bar", "/api/#"));
  CHECK(m("/api/foo/bar", "/api/*/bar"));
  CHECK(m("x/y/z", "#/*"));  // needs backtracking into '#'
  CHECK(m("ab/", "*?*"));    // '?' takes the '/'
  CHECK(!m("a/b", "*"));
  CHECK(m("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
          "*a*a*a*a*a*a*a*a*a*a*a*b"));
  CHECK(!m("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
           "*a*a*a*a*a*a*a*a*a*a*a*b"));
  CHECK(mg_match_ncaps(S("/a/*/?/#")) == 3);
  memset(caps, 0, sizeof(caps));
  CHECK(mg_match(S("/api/v1/users/42"), S("/api/*/users/*"), caps, 4));
  CHECK(caps[0].len == 2 && memcmp(caps[0].buf, "v1", 2) == 0);
  CHECK(caps[1].len == 2 && memcmp(caps[1].buf, "42", 2) == 0);
  CHECK(mg_match(S("a/b/c"), S("#/#"), caps, 4));  // earlier captures shortest
  CHECK(caps[0].len == 1 && caps[0].buf[0] == 'a');
  CHECK(caps[1].len == 3 && memcmp(caps[1].buf, "b/c", 3) == 0);
  CHECK(mg_match(S("x/y/z"), S("#/*"), caps, 4));
  CHECK(caps[0].len == 3 && memcmp(caps[0].buf, "x/y", 3) == 0);
  CHECK(caps[1].len == 1 && caps[1].buf[0] == 'z');
  CHECK(mg_match(S("/api/"), S("/api/*"), caps, 4) && caps[0].len == 0);
  CHECK(mg_match(S("a*b"), S("a*b"), caps, 4) && caps[0].len == 1 && caps[0].buf[0] == '*');
  CHECK(mg_match(S("xyz"), S("?#?"), caps, 4));
  CHECK(caps[0].len == 1 && caps[0].buf[0] == 'x' && caps[1].len == 1 &&
        caps[1].buf[0] == 'y' && caps[2].len == 1 && caps[2].buf[0] == 'z');
  // Fewer capture slots than wildcards: the match is still complete.
  CHECK(mg_match(S("a/b"), S("*/*"), caps, 1) && caps[0].len == 1);
  CHECK(!mg_match(S("a/b/c"), S("*/*"), caps, 1));
  {
    static char longp[MG_MATCH_MAX_PATTERN + 2];
    memset(longp, '#', sizeof(longp) - 1);
    CHECK(!m("x", longp));  // over the limit
    longp[MG_MATCH_MAX_PATTERN] = '\0';
    CHECK(m("x", longp));
  }
}

/* ---- URL encoding and key=value lookup ---- */
static void test_urlenc(void) {
  char buf[64];
  long n;
  CHECK(mg_url_encode("a b/é~-._Z9", 12, buf, sizeof(buf)) == 20);
  CHECK(strcmp(buf, "a%20b%2f%c3%a9~-._Z9") == 0);
  CHECK(mg_url_encode("", 0, buf, sizeof(buf)) == 0 && buf[0] == '\0');
  CHECK(mg_url_encode("  ", 2, buf, 6) == 0);  // needs 7
  CHECK(mg_url_encode("  ", 2, buf, 7) == 6);
  n = mg_url_decode("a%20b%2F%c3%a9+x", 16, buf, sizeof(buf), false);
  CHECK(n == 8 && memcmp(buf, "a b/\xc3\xa9+x", 9) == 0);
  n = mg_url_decode("a+b", 3, buf, sizeof(buf), true);
  CHECK(n == 3 && strcmp(buf, "a b") == 0);
  CHECK(mg_url_decode("%4", 2, buf, sizeof(buf), false) == -1);
  CHECK(mg_url_decode("%zz", 3, buf, sizeof(buf), false) == -1);
  CHECK(mg_url_decode("abc", 3, buf, 3, false) == -1);
  CHECK(mg_url_decode("abc", 3, buf, 4, false) == 3);
}

static void test_var(void) {
  struct mg_str v;
  struct mg_str q = S("a=1&Bb=x%20y+z&c=&d&aa=2&=e");
  CHECK(mg_var_get(q, S("a"), &v) && v.len == 1 && v.buf[0] == '1');
  CHECK(mg_var_get(q, S("bB"), &v) && v.len == 7 && memcmp(v.buf, "x%20y+z", 7) == 0);
  CHECK(mg_var_get(q, S("c"), &v) && v.len == 0);
  CHECK(mg_var_get(q, S("d"), &v) && v.len == 0);
  CHECK(mg_var_get(q, S("aa"), &v) && v.len == 1 && v.buf[0] == '2');
  CHECK(mg_var_get(q, S(""), &v) && v.len == 1 && v.buf[0] == 'e');
  CHECK(!mg_var_get(q, S("b"), &v));
  CHECK(!mg_var_get(q, S("zz"), &v));
  CHECK(!mg_var_get(S(""), S("a"), &v));
  CHECK(mg_var_get(S("x=1&y=2"), S("y"), NULL));
}

/* ---- JSON-RPC ---- */
struct rpc_out {
  char buf[512];
  size_t len;
};

static void rpc_sink(const char *buf, size_t len, void *arg) {
  struct rpc_out *o = (struct rpc_out *) arg;
  if (o->len + len < sizeof(o->buf)) memcpy(o->buf + o->len, buf, len), o->len += len;
  o->buf[o->len] = '\0';
}

static void rpc_sum(struct mg_rpc_req *r) {
  double a = 0, b = 0;
  char res[32];
  mg_json_get_num(r->params, "$[0]", &a);
  mg_json_get_num(r->params, "$[1]", &b);
  sprintf(res, "%g", a + b);
  CHECK(mg_rpc_ok(r, S(res)));
  CHECK(!mg_rpc_ok(r, S("1")));  // second response refused
  CHECK(!mg_rpc_err(r, 1, S("x")));
}

static void rpc_fail(struct mg_rpc_req *r) {
  mg_rpc_err(r, *(int *) r->fn_data, S("bad \"thing\"\n"));
}

static void rpc_silent(struct mg_rpc_req *r) {
  (void) r;
}

static const char *rpc_run(struct mg_rpc *head, const char *frame,
                           struct rpc_out *o) {
  struct mg_rpc_req r;
  memset(&r, 0, sizeof(r));
  o->len = 0, o->buf[0] = '\0';
  r.head = head, r.frame = S(frame), r.out = rpc_sink, r.out_arg = o;
  mg_rpc_process(&r);
  return o->buf;
}

static void test_rpc(void) {
  struct mg_rpc *head = NULL, n1, n2, n3, n4;
  struct rpc_out o;
  int code = 42;
  mg_rpc_add(&head, &n1, S("sum"), rpc_sum, NULL);
  mg_rpc_add(&head, &n2, S("fail.*"), rpc_fail, &code);
  mg_rpc_add(&head, &n3, S("silent"), rpc_silent, NULL);
  CHECK(head == &n3 && n3.next == &n2 && n2.next == &n1);
  CHECK(strcmp(rpc_run(head, "{\"id\":1,\"method\":\"sum\",\"params\":[2,3]}", &o),
               "{\"id\":1,\"result\":5}") == 0);
  CHECK(strcmp(rpc_run(head, "{\"method\":\"sum\",\"params\":[2,3],\"id\":\"x\"}", &o),
               "{\"id\":\"x\",\"result\":5}") == 0);
  CHECK(strcmp(rpc_run(head, "{\"method\":\"sum\",\"params\":[2,3]}", &o), "") == 0);
  CHECK(strcmp(rpc_run(head, "{\"id\":2,\"method\":\"fail.now\"}", &o),
               "{\"id\":2,\"error\":{\"code\":42,\"message\":\"bad \\\"thing\\\"\\n\"}}") == 0);
  CHECK(strcmp(rpc_run(head, "{\"method\":\"fail.now\"}", &o),
               "{\"error\":{\"code\":42,\"message\":\"bad \\\"thing\\\"\\n\"}}") == 0);
  CHECK(strcmp(rpc_run(head, "{\"id\":3,\"method\":\"nope\"}", &o),
               "{\"id\":3,\"error\":{\"code\":-32601,\"message\":\"nope not found\"}}") == 0);
  CHECK(strcmp(rpc_run(head, "{\"id\":4,\"method\":\"silent\"}", &o),
               "{\"id\":4,\"error\":{\"code\":-32603,\"message\":\"handler produced no response\"}}") == 0);
  CHECK(strcmp(rpc_run(head, "{\"id\":5}", &o),
               "{\"id\":5,\"error\":{\"code\":-32700,\"message\":\"{\\\"id\\\":5}\"}}") == 0);
  CHECK(strcmp(rpc_run(head, "{\"id\":6,\"method\":7}", &o),
               "{\"id\":6,\"error\":{\"code\":-32700,\"message\":\"{\\\"id\\\":6,\\\"method\\\":7}\"}}") == 0);
  CHECK(strcmp(rpc_run(head, "garbage", &o),
               "{\"error\":{\"code\":-32700,\"message\":\"garbage\"}}") == 0);
  CHECK(strcmp(rpc_run(head, "[{\"id\":1,\"method\":\"sum\"}]", &o),
               "{\"error\":{\"code\":-32700,\"message\":\"[{\\\"id\\\":1,\\\"method\\\":\\\"sum\\\"}]\"}}") == 0);
  // Newest registration wins; deleting restores the older one.
  mg_rpc_add(&head, &n4, S("s*"), rpc_silent, NULL);
  CHECK(strstr(rpc_run(head, "{\"id\":1,\"method\":\"sum\",\"params\":[1,1]}", &o), "-32603") != NULL);
  CHECK(mg_rpc_del(&head, &n4));
  CHECK(!mg_rpc_del(&head, &n4));
  CHECK(strcmp(rpc_run(head, "{\"id\":1,\"method\":\"sum\",\"params\":[1,1]}", &o),
               "{\"id\":1,\"result\":2}") == 0);
  // The iobuf sink collects the same text.
  {
    struct mg_iobuf io;
    struct mg_rpc_req r;
    memset(&r, 0, sizeof(r));
    mg_iobuf_init(&io, 0, 64);
    r.head = head, r.frame = S("{\"id\":9,\"method\":\"sum\",\"params\":[4,5]}");
    r.out = mg_rpc_out_iobuf, r.out_arg = &io;
    mg_rpc_process(&r);
    CHECK(io.len == 19 && memcmp(io.buf, "{\"id\":9,\"result\":9}", 19) == 0);
    mg_iobuf_free(&io);
  }
}

/* MG_ASSERT: the condition runs exactly once and the hook only when it is
 * false (the hook is a macro expanded where MG_ASSERT is used, so a test or
 * an application can replace it; the host default does nothing). */
static int s_assert_hook;
static void test_assert(void) {
  int n = 0;
  MG_ASSERT(++n == 1); /* the host default: nothing happens either way */
  MG_ASSERT(++n == 0);
  CHECK(n == 2);
#undef MG_ASSERT_FAIL
#define MG_ASSERT_FAIL() (s_assert_hook++)
  MG_ASSERT(++n == 3);
  CHECK(n == 3 && s_assert_hook == 0);
  MG_ASSERT(++n == 0);
  CHECK(n == 4 && s_assert_hook == 1);
}

int main(void) {
  test_assert();
  test_base64();
  test_hashes();
  test_hmac();
  test_crc32();
  test_json_get();
  test_json_malformed();
  test_json_values();
  test_json_escape();
  test_match();
  test_urlenc();
  test_var();
  test_rpc();
  return TEST_REPORT();
}
