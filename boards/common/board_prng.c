/* The generator behind mg_random() of boards without a trusted RNG (see
 * board_prng.h). mg_random() is called from the main loop only, never from an
 * interrupt handler, so the state needs no lock. */
#include <stdbool.h>
#include <string.h>

#include "board_prng.h"
#include "mg_base.h"

static uint64_t s_state;
static bool s_seeded;

/* splitmix64 (Steele, Lea, Flood): a Weyl sequence through a 64-bit mixer. */
static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool mg_random(void *buf, size_t len) {
  uint8_t *out = (uint8_t *) buf;
  uint64_t stir = board_prng_stir();
  if (!s_seeded) {
    s_state = stir ^ (uint64_t) (uintptr_t) &s_state;
    s_seeded = true;
  } else {
    s_state ^= stir;
  }
  while (len > 0) {
    uint64_t r = splitmix64(&s_state);
    size_t n = len < sizeof(r) ? len : sizeof(r);
    memcpy(out, &r, n);
    out += n;
    len -= n;
  }
  return true;
}
