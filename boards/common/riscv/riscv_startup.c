/* Reset entry, trap vector and C runtime set-up shared by RISC-V boards
 * (machine mode, no OS). The image runs where it was loaded (RAM), so .data
 * needs no copy; .bss and the thread-local block picolibc uses for errno are
 * set up here before board_init() and main(). */
#include <stdlib.h>
#include <string.h>

#include "board.h"

extern uint8_t __bss_start[], __bss_end[];
extern uint8_t __tls_base[], __tdata_end[], __tbss_start[], __tbss_end[];

int main(void);
void board_c_start(void);
void board_trap_entry(void);
void board_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval);

/* First instruction of the image (ENTRY in the linker script): stack and
 * global pointer, other harts parked, then C. */
__attribute__((naked, section(".text.start"))) void _start(void) {
  __asm__ volatile(
      ".option push\n\t"
      ".option norelax\n\t"
      "la gp, __global_pointer$\n\t"
      ".option pop\n\t"
      "csrr t0, mhartid\n\t"
      "bnez t0, 2f\n\t"
      "la sp, __stack_top\n\t"
      "j board_c_start\n"
      "2:\n\t"
      "wfi\n\t"
      "j 2b\n\t");
}

void board_c_start(void) {
  memset(__bss_start, 0, (size_t) (__bss_end - __bss_start));
  /* picolibc keeps errno in thread-local storage at tp. */
  memset(__tbss_start, 0, (size_t) (__tbss_end - __tbss_start));
  __asm__ volatile("mv tp, %0" ::"r"(__tls_base));
  rv_csr_write(mtvec, (uint32_t) (uintptr_t) board_trap_entry);
  board_init();
  exit(main());
}

/* Saves the caller-saved registers, runs board_trap() on the interrupted
 * stack and returns with mret. mtvec direct mode: 4-byte aligned. */
__attribute__((naked, aligned(4))) void board_trap_entry(void) {
  __asm__ volatile(
      "addi sp, sp, -64\n\t"
      "sw ra, 0(sp)\n\t"
      "sw t0, 4(sp)\n\t"
      "sw t1, 8(sp)\n\t"
      "sw t2, 12(sp)\n\t"
      "sw a0, 16(sp)\n\t"
      "sw a1, 20(sp)\n\t"
      "sw a2, 24(sp)\n\t"
      "sw a3, 28(sp)\n\t"
      "sw a4, 32(sp)\n\t"
      "sw a5, 36(sp)\n\t"
      "sw a6, 40(sp)\n\t"
      "sw a7, 44(sp)\n\t"
      "sw t3, 48(sp)\n\t"
      "sw t4, 52(sp)\n\t"
      "sw t5, 56(sp)\n\t"
      "sw t6, 60(sp)\n\t"
      "csrr a0, mcause\n\t"
      "csrr a1, mepc\n\t"
      "csrr a2, mtval\n\t"
      "call board_trap\n\t"
      "lw ra, 0(sp)\n\t"
      "lw t0, 4(sp)\n\t"
      "lw t1, 8(sp)\n\t"
      "lw t2, 12(sp)\n\t"
      "lw a0, 16(sp)\n\t"
      "lw a1, 20(sp)\n\t"
      "lw a2, 24(sp)\n\t"
      "lw a3, 28(sp)\n\t"
      "lw a4, 32(sp)\n\t"
      "lw a5, 36(sp)\n\t"
      "lw a6, 40(sp)\n\t"
      "lw a7, 44(sp)\n\t"
      "lw t3, 48(sp)\n\t"
      "lw t4, 52(sp)\n\t"
      "lw t5, 56(sp)\n\t"
      "lw t6, 60(sp)\n\t"
      "addi sp, sp, 64\n\t"
      "mret\n\t");
}

static void put_hex(const char *label, uint32_t v) {
  static const char k_digits[] = "0123456789abcdef";
  char buf[8];
  for (int i = 0; i < 8; i++) buf[i] = k_digits[(v >> (28 - 4 * i)) & 0xFu];
  board_console_write(label, strlen(label));
  board_console_write(buf, sizeof(buf));
}

void board_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval) {
  if (mcause == (RV_MCAUSE_INTERRUPT | RV_IRQ_MTIMER)) {
    board_timer_isr();
    return;
  }
  if (mcause == (RV_MCAUSE_INTERRUPT | RV_IRQ_MEXTERNAL)) {
    board_external_isr();
    return;
  }
  /* An exception (or an interrupt nobody enabled): say where, then stop. */
  put_hex("\nfault: mcause=", mcause);
  put_hex(" mepc=", mepc);
  put_hex(" mtval=", mtval);
  board_console_write("\n", 1);
  board_exit(BOARD_EXIT_FAULT);
}
