/* Fuzz target: the stream framing codec (mg_driver_stream.h), fed the input
 * in pieces whose sizes come from the input's first byte.
 * Invariants (abort() on violation):
 *  - mg_stream_parse never claims more bytes than it was given, and a frame
 *    it returns lies inside the buffer, right after its header, within max;
 *  - it makes progress or asks for more (no livelock): a call that returns 0
 *    leaves the decoder state unchanged;
 *  - re-encoding each returned frame (mg_stream_hdr + bytes) and decoding
 *    the concatenation yields the same frames, with no oversized skips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_driver_stream.h"
#include "mg_stack.h"

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "invariant failed %s:%d: %s\n", __FILE__, __LINE__, \
              #cond);                                                   \
      abort();                                                          \
    }                                                                   \
  } while (0)

#define MAX_FRAME 300 /* small, so both whole and oversized frames occur */

static uint8_t s_buf[8192], s_out[8192], s_out2[8192];

/* Decodes data in pieces of `step` bytes; appends frames, re-encoded, to out. */
static size_t decode(const uint8_t *data, size_t size, size_t step, uint8_t *out,
                     struct mg_stream_dec *d) {
  size_t have = 0, fed = 0, olen = 0;
  for (;;) {
    size_t used, flen;
    const uint8_t *frame;
    if (fed < size) {
      size_t k = size - fed < step ? size - fed : step;
      memcpy(s_buf + have, data + fed, k);
      have += k;
      fed += k;
    }
    do {
      struct mg_stream_dec before = *d;
      used = mg_stream_parse(d, s_buf, have, MAX_FRAME, &frame, &flen);
      REQUIRE(used <= have);
      if (used == 0) {
        REQUIRE(frame == NULL && d->skip == before.skip && d->bad == before.bad);
      }
      if (frame != NULL) {
        REQUIRE(frame == s_buf + MG_STREAM_HDR && flen <= MAX_FRAME);
        REQUIRE(used == MG_STREAM_HDR + flen);
        mg_stream_hdr(out + olen, flen);
        memcpy(out + olen + MG_STREAM_HDR, frame, flen);
        olen += MG_STREAM_HDR + flen;
      }
      memmove(s_buf, s_buf + used, have - used);
      have -= used;
    } while (used > 0);
    if (fed >= size) break;
  }
  return olen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mg_stream_dec d = {0, 0}, d2 = {0, 0};
  size_t step, olen, olen2;
  if (size == 0 || size > 4096) return 0;
  step = 1 + data[0] % 64;
  olen = decode(data + 1, size - 1, step, s_out, &d);
  olen2 = decode(s_out, olen, 4096, s_out2, &d2);
  REQUIRE(olen2 == olen && memcmp(s_out, s_out2, olen) == 0 && d2.bad == 0);
  return 0;
}
