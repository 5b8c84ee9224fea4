/* Reset entry, trap vector and C runtime set-up shared by RISC-V boards
 * (machine mode, no OS). An image that runs from RAM is where it was loaded;
 * one that runs in place from flash (riscv-sections.ld) gets .data (with the
 * RAM functions) and .tdata copied from their load addresses. .bss and the
 * thread-local block picolibc uses for errno are set up here before
 * board_init() and main(). */
#include <stdlib.h>
#include <string.h>

#include "board.h"

extern uint8_t __bss_start[], __bss_end[];
extern uint8_t __data_start[], __data_end[], __data_load[], __tdata_load[];
extern uint32_t __stack_limit[], __stack_top[];
extern uint8_t __tls_base[], __tdata_end[], __tbss_start[], __tbss_end[];

int main(void);
void board_c_start(void);
void board_trap_entry(void);
void board_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval,
                const uint32_t *saved);

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
  if ((uintptr_t) __data_load != (uintptr_t) __data_start) {
    memcpy(__data_start, __data_load, (size_t) (__data_end - __data_start));
  }
  if ((uintptr_t) __tdata_load != (uintptr_t) __tls_base) {
    memcpy(__tls_base, __tdata_load, (size_t) (__tdata_end - __tls_base));
  }
  memset(__bss_start, 0, (size_t) (__bss_end - __bss_start));
  /* picolibc keeps errno in thread-local storage at tp. */
  memset(__tbss_start, 0, (size_t) (__tbss_end - __tbss_start));
  __asm__ volatile("mv tp, %0" ::"r"(__tls_base));
  /* The lowest word of the stack: the tick checks it is intact. */
  __stack_limit[0] = BOARD_STACK_GUARD;
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
      "mv a3, sp\n\t"
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

/* ---- Traps: one crash record on the console, then stop. ----
 * The same line as on Cortex-M (boards/common/cortex_m_startup.c; decoded
 * by cymongoose.device.crash), layout version 2 (RV32):
 *   *** crash 2 kind mcause mepc mtval mstatus sp <16 saved registers>
 *             n <n stack words> sum ***
 * kind 0 trap, 1 assert (a breakpoint: MG_ASSERT_FAIL() is __builtin_trap(),
 * an ebreak), 2 stack guard; the saved registers are those of the trap
 * entry (ra t0 t1 t2 a0-a7 t3-t6), sp the interrupted one, and sum folds
 * every word: sum = rotl(sum, 5) ^ w, from 0. */
#define CRASH_VERSION_RV32 2u
#define CRASH_STACK_WORDS 32
#define RV_CAUSE_BREAKPOINT 3u
#define TRAP_SAVED_WORDS 16 /* what board_trap_entry pushes */

static uint32_t s_crash_sum;

static void put_word(uint32_t v) {
  static const char k_digits[] = "0123456789abcdef";
  char buf[9];
  buf[0] = ' ';
  for (int i = 0; i < 8; i++) buf[1 + i] = k_digits[(v >> (28 - 4 * i)) & 0xFu];
  board_console_write(buf, sizeof(buf));
  s_crash_sum = ((s_crash_sum << 5) | (s_crash_sum >> 27)) ^ v;
}

static void crash_report(uint32_t kind, uint32_t mcause, uint32_t mepc,
                         uint32_t mtval, const uint32_t *saved) {
  const uint32_t *sp = saved + TRAP_SAVED_WORDS;
  intptr_t n = __stack_top - sp; /* words left up to the top of RAM */
  if (n < 0) n = 0;
  if (n > CRASH_STACK_WORDS) n = CRASH_STACK_WORDS;
  board_console_write("\n*** crash", 10);
  s_crash_sum = 0;
  put_word(CRASH_VERSION_RV32);
  put_word(kind);
  put_word(mcause);
  put_word(mepc);
  put_word(mtval);
  put_word(rv_csr_read(mstatus));
  put_word((uint32_t) (uintptr_t) sp);
  for (int i = 0; i < TRAP_SAVED_WORDS; i++) put_word(saved[i]);
  put_word((uint32_t) n);
  for (intptr_t i = 0; i < n; i++) put_word(sp[i]);
  put_word(s_crash_sum);
  board_console_write(" ***\n", 5);
#if BOARD_FAULT_RESET
  board_reboot();
#else
  board_exit(BOARD_EXIT_FAULT);
#endif
}

void board_trap(uint32_t mcause, uint32_t mepc, uint32_t mtval,
                const uint32_t *saved) {
  if (mcause == (RV_MCAUSE_INTERRUPT | RV_IRQ_MTIMER)) {
    if (__stack_limit[0] != BOARD_STACK_GUARD) {
      crash_report(BOARD_CRASH_KIND_STACK, mcause, mepc, mtval, saved);
    }
    board_timer_isr();
    return;
  }
  if (mcause == (RV_MCAUSE_INTERRUPT | RV_IRQ_MEXTERNAL)) {
    board_external_isr();
    return;
  }
  /* An exception (or an interrupt nobody enabled). */
  crash_report(mcause == RV_CAUSE_BREAKPOINT ? 1u : 0u, mcause, mepc, mtval,
               saved);
}
