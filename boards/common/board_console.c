/* The shared console and idle half of board_api.h (see board_console.h). */
#include <string.h>

#include "board.h"
#include "board_console.h"

void board_console_write(const void *buf, size_t len) {
  const uint8_t *p = (const uint8_t *) buf;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == '\n') board_uart_putc('\r');
    board_uart_putc(p[i]);
  }
}

/* The core's log lines go to the console, one per line. */
void mg_log_default_sink(const char *line) {
  board_console_write(line, strlen(line));
  board_console_write("\n", 1);
}

size_t board_console_read(void *buf, size_t len) {
  struct board_console *con = board_console_state();
  size_t n = ringbuf_pop(&con->rx, (uint8_t *) buf, len);
  if (con->rx_paused && con->rx_resume != NULL && !ringbuf_full(&con->rx)) {
    con->rx_resume();
  }
  return n;
}

uint32_t board_console_dropped(void) {
  struct board_console *con = board_console_state();
  return con->rx.dropped + con->rx_overruns;
}

void board_idle(void) {
  struct board_console *con = board_console_state();
  uint32_t mask = cm_irq_save();
  /* Interrupts are masked while deciding, so a wake-up between the check and
   * the WFI still ends the sleep (WFI wakes on a pending interrupt). */
  if (!con->wake && ringbuf_used(&con->rx) == 0) cm_wfi();
  con->wake = false;
  cm_irq_restore(mask);
}
