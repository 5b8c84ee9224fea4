/* CHECK for the on-target test firmware: the same test sources as the host
 * ctest (tests/c), built for a board. Every CHECK goes to mg_tt_check(), which
 * counts it against the test function it is in (a "case") and prints a failure
 * with its file:line at once; the runner (runner.c) prints one framed line per
 * case when the file's main() returns. */
#ifndef MG_TARGET_TEST_H
#define MG_TARGET_TEST_H
#include <stdio.h>

void mg_tt_check(int ok, const char *func, const char *file, int line,
                 const char *expr);

static int s_passed, s_failed;

#define CHECK(cond)                                                  \
  do {                                                               \
    int ok_ = (cond) ? 1 : 0;                                        \
    if (ok_) {                                                       \
      s_passed++;                                                    \
    } else {                                                         \
      s_failed++;                                                    \
    }                                                                \
    mg_tt_check(ok_, __func__, __FILE__, __LINE__, #cond);           \
  } while (0)

#define TEST_REPORT() (s_failed ? 1 : 0)
#endif
