/* What picolibc needs from a board without an OS: the standard streams on
 * the console (picolibc's tinystdio takes a FILE with put/get functions
 * instead of newlib's _write/_read), sbrk() for malloc bounded by the linker
 * script's __heap_start..__heap_end, and _exit() -> board_exit(). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "board_api.h"

static int con_put(char c, FILE *f) {
  (void) f;
  board_console_write(&c, 1);
  return (unsigned char) c;
}

static int con_get(FILE *f) {
  (void) f;
  unsigned char c;
  while (board_console_read(&c, 1) == 0) board_idle(); /* block */
  return c;
}

static FILE s_console = FDEV_SETUP_STREAM(con_put, con_get, NULL, _FDEV_SETUP_RW);
FILE *const stdin = &s_console;
FILE *const stdout = &s_console;
FILE *const stderr = &s_console;

extern uint8_t __heap_start[], __heap_end[]; /* from the linker script */

void *_sbrk(ptrdiff_t incr);
void *sbrk(ptrdiff_t incr);

void *_sbrk(ptrdiff_t incr) {
  static uint8_t *brk = NULL;
  if (brk == NULL) brk = __heap_start;
  if ((incr > 0 && incr > __heap_end - brk) ||
      (incr < 0 && -incr > brk - __heap_start)) {
    errno = ENOMEM;
    return (void *) -1;
  }
  uint8_t *prev = brk;
  brk += incr;
  return prev;
}

/* picolibc's malloc asks sbrk(); ours replaces the library's. */
void *sbrk(ptrdiff_t incr) {
  return _sbrk(incr);
}

void _exit(int status) {
  board_exit(status);
}
