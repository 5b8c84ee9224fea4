/* Console and idle logic every board shares: the board's UART receive
 * interrupt pushes into a ring, the main loop pops; output turns "\n" into
 * "\r\n"; board_idle() sleeps until an interrupt signalled work. A board
 * provides the two hooks below and implements nothing else of board_api.h's
 * console part. */
#ifndef BOARDS_BOARD_CONSOLE_H
#define BOARDS_BOARD_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "ringbuf.h"

struct board_console {
  struct ringbuf rx;             /* filled by the UART receive interrupt */
  volatile uint32_t rx_overruns; /* bytes the UART itself lost */
  volatile bool wake;            /* an interrupt other than the tick signalled work */
  /* Receive flow control, for a UART that can hold a byte back: when the ring
   * is full the interrupt leaves the byte in the UART, turns its receive
   * interrupt off and sets rx_paused; board_console_read() calls rx_resume()
   * once it made room. A board without it (rx_resume NULL) drops and counts. */
  volatile bool rx_paused;
  void (*rx_resume)(void);
};

/* Board hooks: the board's one console state, and a blocking UART write of
 * one byte (bounded wait where the hardware could stall). */
struct board_console *board_console_state(void);
void board_uart_putc(uint8_t c);

#endif /* BOARDS_BOARD_CONSOLE_H */
