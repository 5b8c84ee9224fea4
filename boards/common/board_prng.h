/* mg_random() for boards without a random number generator the firmware can
 * trust (boards/common/board_prng.c): a splitmix64 generator whose state is
 * seeded by the first call and re-stirred by every call with a word the board
 * supplies. Good for IDs, nonces that only need to differ and TCP initial
 * sequence numbers; NOT for keys. A board with a real RNG implements
 * mg_random() itself and does not link board_prng.c. */
#ifndef BOARDS_BOARD_PRNG_H
#define BOARDS_BOARD_PRNG_H

#include <stdint.h>

/* Supplied by the board: a word that differs from call to call and from boot
 * to boot as much as the board allows (timer phase, uptime, interrupt timing
 * jitter, a noise source). Called by mg_random() from the main loop. */
uint64_t board_prng_stir(void);

#endif /* BOARDS_BOARD_PRNG_H */
