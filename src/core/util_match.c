/* Glob matching with captures: '?' one byte, '*' a run without '/', '#' any
 * run.
 *
 * A greedy matcher with one backtrack point is wrong once '*' cannot cross
 * '/' (e.g. "x/y/z" against the pattern '#', '/', '*'), and general
 * backtracking is exponential.
 * Instead we run the pattern as an automaton over the string backwards:
 * R(j) is the set of pattern positions i such that p[i:] matches s[j:].
 * One pass from the end answers "does it match" (0 in R(0)); captures are
 * then fixed left to right, each wildcard taking the shortest run after which
 * the rest of the pattern still matches (one more pass per wildcard). Memory
 * is two bitsets of the pattern length, on the stack. */
#include <string.h>

#include "mg_util.h"

#define MATCH_WORDS ((MG_MATCH_MAX_PATTERN + 1 + 31) / 32)

static bool match_bit(const uint32_t *b, size_t i) {
  return (b[i >> 5] >> (i & 31)) & 1u;
}

static void match_put(uint32_t *b, size_t i, bool v) {
  if (v) {
    b[i >> 5] |= 1u << (i & 31);
  } else {
    b[i >> 5] &= ~(1u << (i & 31));
  }
}

static bool match_is_wild(char c) {
  return c == '?' || c == '*' || c == '#';
}

/* Computes R(j) for j = s.len down to jmin, only for states >= lo (lower
 * states never influence higher ones). Returns the lowest j in
 * [jmin, jmax] with state q in R(j), or (size_t) -1 if there is none. */
static size_t match_pass(struct mg_str s, struct mg_str p, size_t lo,
                         size_t jmin, size_t jmax, size_t q) {
  uint32_t a[MATCH_WORDS], b[MATCH_WORDS], *cur = a, *nxt = b, *tmp;
  size_t m = p.len, i, j = s.len, best = (size_t) -1;
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  // R(n): the end of the pattern, reached backwards through '*'/'#' runs.
  match_put(cur, m, true);
  for (i = m; i > lo; i--) {
    char pc = p.buf[i - 1];
    match_put(cur, i - 1, (pc == '*' || pc == '#') && match_bit(cur, i));
  }
  if (j <= jmax && match_bit(cur, q)) best = j;
  while (j > jmin) {
    unsigned char c = (unsigned char) s.buf[--j];
    match_put(nxt, m, false);
    for (i = m; i > lo; i--) {
      size_t k = i - 1;
      char pc = p.buf[k];
      bool v;
      if (pc == '#') {
        v = match_bit(cur, k) || match_bit(nxt, k + 1);
      } else if (pc == '*') {
        v = (c != '/' && match_bit(cur, k)) || match_bit(nxt, k + 1);
      } else if (pc == '?') {
        v = match_bit(cur, k + 1);
      } else {
        v = (unsigned char) pc == c && match_bit(cur, k + 1);
      }
      match_put(nxt, k, v);
    }
    tmp = cur, cur = nxt, nxt = tmp;
    if (j <= jmax && match_bit(cur, q)) best = j;
  }
  return best;
}

size_t mg_match_ncaps(struct mg_str p) {
  size_t i, n = 0;
  for (i = 0; i < p.len; i++) n += match_is_wild(p.buf[i]) ? 1 : 0;
  return n;
}

bool mg_match(struct mg_str s, struct mg_str p, struct mg_str *caps,
              size_t ncaps) {
  size_t i = 0, j = 0, k = 0;
  if (p.len > MG_MATCH_MAX_PATTERN) return false;
  if ((s.buf == NULL && s.len > 0) || (p.buf == NULL && p.len > 0))
    return false;
  if (s.buf == NULL) s.buf = "";  // captures then point at valid memory
  if (p.buf == NULL) p.buf = "";
  if (match_pass(s, p, 0, 0, 0, 0) != 0) return false;
  if (caps == NULL) ncaps = 0;
  // Invariant from here on: p[i:] matches s[j:].
  while (k < ncaps && i < p.len) {
    char pc = p.buf[i];
    if (!match_is_wild(pc)) {
      i++, j++;  // literal, known to match
    } else if (pc == '?') {
      caps[k].buf = s.buf + j, caps[k].len = 1, k++;
      i++, j++;
    } else {
      size_t jmax = s.len, end;
      if (pc == '*') {  // cannot run past the next '/'
        for (jmax = j; jmax < s.len && s.buf[jmax] != '/'; jmax++) continue;
      }
      end = match_pass(s, p, i + 1, j, jmax, i + 1);
      if (end == (size_t) -1 || end < j) return false;  // cannot happen
      caps[k].buf = s.buf + j, caps[k].len = end - j, k++;
      i++, j = end;
    }
  }
  return true;
}
