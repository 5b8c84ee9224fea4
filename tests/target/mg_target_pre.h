/* Included before anything else in each test source of target_tests. The
 * host tests check that MG_ASSERT evaluates its condition and does nothing
 * by default; on a board the default is to stop with a crash record, so the
 * test build keeps the host default. */
#define MG_ASSERT_FAIL() ((void) 0)
