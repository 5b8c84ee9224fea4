/* The millisecond clock of RISC-V boards: mg_millis() divides the CLINT's
 * free-running mtime; a periodic machine timer interrupt (the board's tick)
 * wakes board_idle() and lets the board poll its devices. */
#include "board.h"

uint64_t rv_mtime(void) {
  uint32_t hi, lo;
  do {
    hi = RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIME + 4);
    lo = RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIME);
  } while (hi != RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIME + 4));
  return ((uint64_t) hi << 32) | lo;
}

static uint64_t s_next;   /* mtime of the next tick */
static uint32_t s_period; /* mtime ticks per board tick */

static void set_mtimecmp(uint64_t t) {
  /* High half to all ones first, so no intermediate value fires early. */
  RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIMECMP0 + 4) = 0xFFFFFFFFu;
  RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIMECMP0) = (uint32_t) t;
  RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIMECMP0 + 4) = (uint32_t) (t >> 32);
}

void rv_timer_start(uint32_t period) {
  s_period = period;
  s_next = rv_mtime() + period;
  set_mtimecmp(s_next);
  rv_csr_set(mie, RV_MIE_MTIE);
  rv_irq_enable();
}

/* Called by the trap handler on the machine timer interrupt. */
void board_timer_isr(void) {
  uint64_t now = rv_mtime();
  /* Skip ticks missed while stopped (debugger, slow host): no storm. */
  do s_next += s_period;
  while (s_next <= now);
  set_mtimecmp(s_next);
  board_tick();
}

uint64_t mg_millis(void) {
  return rv_mtime() / (RV_MTIME_HZ / 1000u);
}
