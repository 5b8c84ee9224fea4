/* Block buffering and padding shared by MD5, SHA-1 and SHA-256. */
#include <string.h>

#include "util_md.h"

void mg_md_update(uint32_t *state, unsigned char block[64], uint64_t *total,
                  mg_md_block_fn fn, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *) data;
  size_t used = (size_t) (*total & 63);
  if (len == 0) return;
  *total += len;
  if (used > 0) { /* top up the pending partial block first */
    size_t take = 64 - used < len ? 64 - used : len;
    memcpy(block + used, p, take);
    p += take, len -= take, used += take;
    if (used < 64) return;
    fn(state, block);
  }
  for (; len >= 64; p += 64, len -= 64) fn(state, p);
  if (len > 0) memcpy(block, p, len);
}

void mg_md_pad(uint32_t *state, unsigned char block[64], uint64_t total,
               mg_md_block_fn fn, bool big_endian_length) {
  uint64_t bits = total * 8;
  size_t used = (size_t) (total & 63);
  int i;
  block[used++] = 0x80;
  if (used > 56) {
    memset(block + used, 0, 64 - used);
    fn(state, block);
    used = 0;
  }
  memset(block + used, 0, 56 - used);
  for (i = 0; i < 8; i++)
    block[56 + i] = (unsigned char) (bits >> (big_endian_length ? 56 - 8 * i : 8 * i));
  fn(state, block);
}
