/* Reset and fault handling shared by the Cortex-M boards. Each board's
 * startup.c holds only its vector table, which names these handlers. */
#include <stdlib.h>
#include <string.h>

#include "board_api.h"
#include "cortex_m.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[];

int main(void);
void __libc_init_array(void);
void _init(void);
void _fini(void);
void board_reset_handler(void);
void board_hardfault_isr(void);
void board_default_isr(void);
void board_fault_report(const uint32_t *frame);

void board_reset_handler(void) {
#if defined(__ARM_FP)
  /* Grant full access to the FPU (coprocessors 10 and 11) before any
   * floating-point instruction runs. */
  CM_REG32(CM_SCB_CPACR) |= CM_SCB_CPACR_CP10_CP11_FULL;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_8M_MAIN__)
  /* ARMv8-M Mainline checks the main stack against a limit register: a
   * stack overflow then faults (UsageFault STKOF) instead of silently
   * overwriting the heap below it. */
  __asm__ volatile("msr msplim, %0" ::"r"(__stack_limit) : "memory");
#endif
  /* Interrupts use this table wherever the boot alias put us. */
  CM_REG32(CM_SCB_VTOR) = (uint32_t) (uintptr_t) board_vector_table;
  memcpy(__data_start, __data_load,
         (size_t) ((uintptr_t) __data_end - (uintptr_t) __data_start));
  memset(__bss_start, 0,
         (size_t) ((uintptr_t) __bss_end - (uintptr_t) __bss_start));
  __libc_init_array(); /* C constructors, if any */
  board_init();
  exit(main());
}

/* Linked with -nostartfiles, so the crti/crtn hooks __libc_init_array calls
 * are ours, and empty. */
void _init(void) {
}
void _fini(void) {
}

/* ---- Faults: report where, then stop with BOARD_EXIT_FAULT. ---- */
#define THUMB_BKPT_SEMIHOSTING 0xBEABu /* BKPT 0xAB */
#define FRAME_LR 5                     /* stacked registers: r0-r3 r12 lr pc xpsr */
#define FRAME_PC 6

static void put_hex(const char *label, uint32_t v) {
  static const char k_digits[] = "0123456789abcdef";
  char buf[8];
  for (int i = 0; i < 8; i++) buf[i] = k_digits[(v >> (28 - 4 * i)) & 0xFu];
  board_console_write(label, strlen(label));
  board_console_write(buf, sizeof(buf));
}

/* Picks the stack the exception frame was pushed on and hands it over. */
__attribute__((naked)) void board_hardfault_isr(void) {
  /* Bit 2 of EXC_RETURN (in lr) tells which stack holds the frame. */
#if defined(__ARM_ARCH_6M__)
  /* ARMv6-M (Cortex-M0/M0+): no IT blocks, no tst with an immediate. */
  __asm__ volatile(
      "movs r0, #4\n\t"
      "mov r1, lr\n\t"
      "tst r0, r1\n\t"
      "bne 1f\n\t"
      "mrs r0, msp\n\t"
      "b 2f\n\t"
      "1:\n\t"
      "mrs r0, psp\n\t"
      "2:\n\t"
      "ldr r1, =board_fault_report\n\t"
      "bx r1\n\t"
      ".ltorg\n\t");
#else
  __asm__ volatile(
#if defined(__ARM_ARCH_8M_MAIN__)
      /* The fault may be the stack limit itself (the frame then stops at
       * MSPLIM): lift the limit so the report can run below it; the board
       * stops afterwards anyway. */
      "movs r0, #0\n\t"
      "msr msplim, r0\n\t"
#endif
      "tst lr, #4\n\t"
      "ite eq\n\t"
      "mrseq r0, msp\n\t"
      "mrsne r0, psp\n\t"
      "b board_fault_report\n\t");
#endif
}

void board_fault_report(const uint32_t *frame) {
  uint32_t pc = frame[FRAME_PC];
  if ((pc & 1u) == 0 &&
      *(const volatile uint16_t *) (uintptr_t) pc == THUMB_BKPT_SEMIHOSTING) {
    /* A semihosting call with nobody listening (QEMU without -semihosting,
     * a board without a debugger): say so and halt rather than fault again
     * inside board_exit(). */
    static const char k_msg[] = "\nboard: semihosting unavailable, halted\n";
    board_console_write(k_msg, sizeof(k_msg) - 1);
    for (;;) cm_wfi();
  }
  put_hex("\n*** fault: pc=", pc);
  put_hex(" lr=", frame[FRAME_LR]);
#if !defined(__ARM_ARCH_6M__) /* ARMv6-M has no fault status registers */
  put_hex(" cfsr=", CM_REG32(CM_SCB_CFSR));
  put_hex(" hfsr=", CM_REG32(CM_SCB_HFSR));
#endif
#if defined(__ARM_ARCH_8M_MAIN__) /* TrustZone: Secure fault status */
  put_hex(" sfsr=", CM_REG32(CM_SCB_SFSR));
#endif
  board_console_write("\n", 1);
  board_exit(BOARD_EXIT_FAULT);
}

void board_default_isr(void) {
  put_hex("\n*** unexpected exception ",
          CM_REG32(CM_SCB_ICSR) & CM_ICSR_VECTACTIVE_MASK);
  board_console_write("\n", 1);
  board_exit(BOARD_EXIT_FAULT);
}
