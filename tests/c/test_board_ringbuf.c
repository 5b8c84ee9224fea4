/* The board console's receive ring (boards/common/ringbuf.h): FIFO order,
 * wrap-around of the free-running indices, overflow accounting. */
#include <stdint.h>
#include <string.h>

#include "../../boards/common/ringbuf.h"
#include "mg_test.h"

static void test_fifo_and_wrap(void) {
  uint8_t storage[8], out[16];
  struct ringbuf r;
  ringbuf_init(&r, storage, sizeof(storage));
  CHECK(ringbuf_used(&r) == 0);
  CHECK(ringbuf_pop(&r, out, sizeof(out)) == 0);
  /* Many rounds of 5 in / 5 out: the indices pass the capacity repeatedly. */
  for (int round = 0; round < 100; round++) {
    for (int i = 0; i < 5; i++) CHECK(ringbuf_push(&r, (uint8_t) (round + i)) == 1);
    CHECK(ringbuf_used(&r) == 5);
    CHECK(ringbuf_pop(&r, out, 3) == 3);
    CHECK(ringbuf_pop(&r, out + 3, sizeof(out) - 3) == 2);
    for (int i = 0; i < 5; i++) CHECK(out[i] == (uint8_t) (round + i));
  }
  CHECK(r.dropped == 0);
}

static void test_overflow_drops_newest(void) {
  uint8_t storage[4], out[8];
  struct ringbuf r;
  ringbuf_init(&r, storage, sizeof(storage));
  for (int i = 0; i < 6; i++) ringbuf_push(&r, (uint8_t) i);
  CHECK(ringbuf_used(&r) == 4);
  CHECK(ringbuf_full(&r));
  CHECK(r.dropped == 2);
  CHECK(ringbuf_pop(&r, out, sizeof(out)) == 4);
  CHECK(memcmp(out, "\x00\x01\x02\x03", 4) == 0);
  CHECK(!ringbuf_full(&r));
  CHECK(ringbuf_push(&r, 9) == 1); /* room again after the pop */
}

static void test_index_wrap_at_uint32_max(void) {
  uint8_t storage[4], out[4];
  struct ringbuf r;
  ringbuf_init(&r, storage, sizeof(storage));
  r.head = r.tail = UINT32_MAX - 1u; /* as after ~4 G bytes */
  for (int i = 0; i < 4; i++) CHECK(ringbuf_push(&r, (uint8_t) (10 + i)) == 1);
  CHECK(ringbuf_push(&r, 99) == 0);
  CHECK(ringbuf_pop(&r, out, 4) == 4);
  CHECK(out[0] == 10 && out[3] == 13);
  CHECK(ringbuf_used(&r) == 0);
}

int main(void) {
  test_fifo_and_wrap();
  test_overflow_drops_newest();
  test_index_wrap_at_uint32_max();
  return TEST_REPORT();
}
