/* What differs between a board and the host build: rebooting and how much
 * memory is left. */
#include "app.h"

#if MG_ARCH == MG_ARCH_BAREMETAL
#include <malloc.h>
#include <stddef.h>

#if defined(__arm__)
#include "cortex_m.h"
#endif

extern uint8_t __heap_end[]; /* from the board's linker script */
void *_sbrk(ptrdiff_t incr); /* boards/common/newlib_syscalls.c */

void platform_reboot(void) {
#if !defined(__arm__)
  board_reboot(); /* the board's own reset (riscv32-virt: sifive_test) */
#else
  /* SYSRESETREQ: a system reset; QEMU reloads the -kernel image. */
  __asm__ volatile("dsb" ::: "memory");
  CM_REG32(CM_SCB_AIRCR) = CM_SCB_AIRCR_VECTKEY | CM_SCB_AIRCR_SYSRESETREQ;
  __asm__ volatile("dsb" ::: "memory");
  for (;;) board_idle();
#endif
}

/* Heap never handed out by _sbrk plus blocks freed back to malloc. */
long platform_free_ram(void) {
  uint8_t *brk = (uint8_t *) _sbrk(0);
  struct mallinfo mi = mallinfo();
  return (long) (__heap_end - brk) + (long) mi.fordblks;
}
#else
void platform_reboot(void) {
  board_reboot();
}

long platform_free_ram(void) {
  return -1; /* a process: the kernel's business */
}
#endif
