/* Minimal assertion helpers for the C unit tests: each test file is a plain
 * program whose last line reports "N passed, M failed". */
#ifndef MG_TEST_H
#define MG_TEST_H
#ifdef MG_TEST_TARGET
/* Built into the on-target test firmware (tests/target): CHECK reports each
 * test function as a case on the board's console instead. */
#include "mg_target_test.h"
#else
#include <stdio.h>

static int s_passed, s_failed;

#define CHECK(cond)                                                \
  do {                                                             \
    if (cond) {                                                    \
      s_passed++;                                                  \
    } else {                                                       \
      s_failed++;                                                  \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    }                                                              \
  } while (0)

#define TEST_REPORT()                                            \
  (printf("%d passed, %d failed\n", s_passed, s_failed), s_failed ? 1 : 0)
#endif /* MG_TEST_TARGET */
#endif
