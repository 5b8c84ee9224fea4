/* The Arm CMSDK APB watchdog (TRM DDI0479) behind board_watchdog_arm(),
 * board_watchdog_feed() and board_watchdog_disarm() (board_api.h). The board's board.h gives its
 * address (BOARD_WDOG_BASE) and counter clock (BOARD_WDOG_HZ); a board
 * without them gets board_watchdog_none.c.
 *
 * The counter runs down from LOAD; at zero it raises its interrupt and
 * reloads; at the next zero with the interrupt still raised and RESEN set it
 * resets the system. Feeding writes INTCLR, which clears the interrupt and
 * reloads the counter; without it the reset follows the interrupt one period
 * later. */
#include "board.h"

#ifdef BOARD_WDOG_BASE
#define WDOG_LOAD 0x000u
#define WDOG_CONTROL 0x008u
#define WDOG_INTCLR 0x00Cu
#define WDOG_LOCK 0xC00u
#define WDOG_CONTROL_INTEN (1u << 0) /* runs the counter, raises the interrupt */
#define WDOG_CONTROL_RESEN (1u << 1) /* the second timeout resets */
#define WDOG_UNLOCK_KEY 0x1ACCE551u  /* any other value locks the registers */

#define WDOG_REG(off) CM_REG32(BOARD_WDOG_BASE + (off))

bool board_watchdog_arm(uint32_t ms) {
  /* 32-bit arithmetic only: a 64-bit division would pull ~1 KiB of libgcc
   * into the bootloader. Saturates at the 32-bit counter's longest period. */
  const uint32_t per_ms = BOARD_WDOG_HZ / 1000u;
  uint32_t ticks = ms > 0xffffffffu / per_ms ? 0xffffffffu : ms * per_ms;
  if (ticks == 0) ticks = 1;
  WDOG_REG(WDOG_LOCK) = WDOG_UNLOCK_KEY;
  WDOG_REG(WDOG_LOAD) = ticks;
  WDOG_REG(WDOG_INTCLR) = 1; /* a fresh period, no interrupt left over */
  WDOG_REG(WDOG_CONTROL) = WDOG_CONTROL_INTEN | WDOG_CONTROL_RESEN;
  WDOG_REG(WDOG_LOCK) = 0;
  return true;
}

void board_watchdog_feed(void) {
  WDOG_REG(WDOG_LOCK) = WDOG_UNLOCK_KEY;
  WDOG_REG(WDOG_INTCLR) = 1;
  WDOG_REG(WDOG_LOCK) = 0;
}

void board_watchdog_disarm(void) {
  WDOG_REG(WDOG_LOCK) = WDOG_UNLOCK_KEY;
  WDOG_REG(WDOG_CONTROL) = 0;
  WDOG_REG(WDOG_INTCLR) = 1;
  WDOG_REG(WDOG_LOCK) = 0;
}
#endif
