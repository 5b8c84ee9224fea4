/* The watchdog calls of board_api.h on a board without a watchdog (no
 * BOARD_WDOG_BASE in its board.h): arm() says so by returning false, the
 * bootloader tells the console, and a hung test image waits for a reset from
 * outside (docs/updates.md). */
#include "board.h"

#ifndef BOARD_WDOG_BASE
bool board_watchdog_arm(uint32_t ms) {
  (void) ms;
  return false;
}

void board_watchdog_feed(void) {
}

void board_watchdog_disarm(void) {
}
#endif
