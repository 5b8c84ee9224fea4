/* Fuzz target: mg_match against an independent reference.
 *
 * Input: "<pattern>\n<string>" (no newline: the whole input is the pattern
 * and the string is empty). For small inputs the result and every capture are
 * compared with a plain memoised dynamic program over (pattern position,
 * string position) that picks, wildcard by wildcard, the shortest capture
 * after which the rest still matches; mismatches abort(). Large inputs only
 * have to finish without sanitizer reports. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define REF_MAX_P 48
#define REF_MAX_S 160

/* memo[i][j]: 0 unknown, 1 p[i:] matches s[j:], 2 it does not */
static unsigned char memo[REF_MAX_P + 1][REF_MAX_S + 1];

static bool ref_can(const char *p, size_t pn, const char *s, size_t sn,
                    size_t i, size_t j) {
  bool r;
  if (memo[i][j] != 0) return memo[i][j] == 1;
  if (i == pn) {
    r = j == sn;
  } else if (p[i] == '#') {
    r = ref_can(p, pn, s, sn, i + 1, j) ||
        (j < sn && ref_can(p, pn, s, sn, i, j + 1));
  } else if (p[i] == '*') {
    r = ref_can(p, pn, s, sn, i + 1, j) ||
        (j < sn && s[j] != '/' && ref_can(p, pn, s, sn, i, j + 1));
  } else if (p[i] == '?') {
    r = j < sn && ref_can(p, pn, s, sn, i + 1, j + 1);
  } else {
    r = j < sn && s[j] == p[i] && ref_can(p, pn, s, sn, i + 1, j + 1);
  }
  memo[i][j] = r ? 1 : 2;
  return r;
}

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "mismatch %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                          \
    }                                                                   \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *nl = (const char *) memchr(data, '\n', size);
  struct mg_str p = {(const char *) data, nl ? (size_t) (nl - (const char *) data) : size};
  struct mg_str s = {nl ? nl + 1 : "", nl ? size - p.len - 1 : 0};
  struct mg_str caps[REF_MAX_P + 1];
  size_t ncaps = mg_match_ncaps(p), k = 0, i = 0, j = 0;
  bool got = mg_match(s, p, caps, sizeof(caps) / sizeof(caps[0]));
  REQUIRE(ncaps <= p.len);
  if (p.len > REF_MAX_P || s.len > REF_MAX_S) return 0;
  memset(memo, 0, sizeof(memo));
  REQUIRE(got == ref_can(p.buf, p.len, s.buf, s.len, 0, 0));
  if (!got) return 0;
  // Walk the reference's choice and compare captures one by one.
  while (i < p.len) {
    char c = p.buf[i];
    if (c == '?') {
      REQUIRE(caps[k].buf == s.buf + j && caps[k].len == 1);
      k++, i++, j++;
    } else if (c == '*' || c == '#') {
      size_t end = j;
      while (!ref_can(p.buf, p.len, s.buf, s.len, i + 1, end)) end++;
      REQUIRE(caps[k].buf == s.buf + j && caps[k].len == end - j);
      k++, i++, j = end;
    } else {
      i++, j++;
    }
  }
  REQUIRE(k == ncaps && j == s.len);
  return 0;
}
