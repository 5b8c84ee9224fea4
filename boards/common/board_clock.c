/* The millisecond clock every board shares: its SysTick interrupt (named
 * board_systick_isr in each board's vector table, at 1 kHz; it checks the
 * stack guard in cortex_m_startup.c, then calls board_systick_tick) counts,
 * and mg_millis() reads the count. */
#include "board.h"

static volatile uint64_t s_ms; /* milliseconds since boot */

void board_systick_tick(void);
void board_systick_tick(void) {
  s_ms++;
}

uint64_t mg_millis(void) {
  uint32_t mask = cm_irq_save(); /* a 64-bit read is two loads on the M3 */
  uint64_t ms = s_ms;
  cm_irq_restore(mask);
  return ms;
}
