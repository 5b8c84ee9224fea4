/* Reset and fault handling shared by the Cortex-M boards. Each board's
 * startup.c holds only its vector table, which names these handlers. */
#include <stdlib.h>
#include <string.h>

#include "board_api.h"
#include "cortex_m.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);
void __libc_init_array(void);
void _init(void);
void _fini(void);
void board_reset_handler(void);
void board_hardfault_isr(void);
void board_default_isr(void);

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
#if !defined(__ARM_ARCH_6M__)
  /* Integer division by zero traps (UsageFault DIVBYZERO) instead of
   * quietly giving 0. */
  CM_REG32(CM_SCB_CCR) |= CM_SCB_CCR_DIV_0_TRP;
#endif
  /* The lowest word of the main stack: the tick checks it is intact. */
  __stack_limit[0] = BOARD_STACK_GUARD;
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

/* ---- Faults: one crash record on the console, then stop. ----
 *
 * Every fault (HardFault, MemManage, BusFault, UsageFault, SecureFault, an
 * unexpected interrupt), a failed MG_ASSERT (UDF #0xA5, see mg_config.h) and
 * a stack overflow caught by the guard word print the same line:
 *
 *   *** crash W0 W1 ... Wn SUM ***
 *
 * each W an 8-digit hex word: version (1), kind (0 fault, 1 assert, 2 stack
 * guard; +0x100: the stack pointer was not in RAM, the frame is garbage), active exception number, EXC_RETURN, the stacked r0 r1 r2 r3 r12
 * lr pc xpsr, the stack pointer before the exception, CFSR HFSR DFSR MMFAR
 * BFAR SFSR (0 where the core has none), a count n and n words of stack from
 * that stack pointer up. SUM folds every word: sum = rotl(sum, 5) ^ w, from 0.
 * The SDK (cymongoose.device.crash) finds, checks and decodes it. */
#define CRASH_VERSION 1u
#define CRASH_KIND_FAULT 0
#define CRASH_KIND_ASSERT 1
#define CRASH_NO_FRAME 0x100u /* kind flag: the stack pointer was not in RAM */
#define CRASH_STACK_WORDS 32u
#define THUMB_BKPT_SEMIHOSTING 0xBEABu /* BKPT 0xAB */
#define THUMB_UDF_ASSERT 0xDEA5u       /* UDF #0xA5: MG_ASSERT_FAIL() */
#define FRAME_PC 6                     /* stacked registers: r0-r3 r12 lr pc xpsr */
#define FRAME_XPSR 7
#define EXC_RETURN_STD_FRAME (1u << 4) /* 0: the frame holds FP registers too */
#define XPSR_STACK_ALIGNED (1u << 9)   /* one padding word above the frame */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Bit 2 of EXC_RETURN (in lr) tells which stack holds the frame; then
 * board_fault_report(frame, kind in r1, EXC_RETURN). Thumb-1 only, so the
 * same code serves ARMv6-M. */
#define PICK_FRAME_AND_REPORT         \
  "mov r2, lr\n\t"                    \
  "movs r0, #4\n\t"                   \
  "tst r0, r2\n\t"                    \
  "bne 1f\n\t"                        \
  "mrs r0, msp\n\t"                   \
  "b 2f\n\t"                          \
  "1:\n\t"                            \
  "mrs r0, psp\n\t"                   \
  "2:\n\t"                            \
  "ldr r3, =board_fault_report\n\t"   \
  "bx r3\n\t"                         \
  ".ltorg\n\t"

void board_fault_report(const uint32_t *frame, uint32_t kind,
                        uint32_t exc_return);
void board_systick_tick(void);
void board_systick_isr(void);

__attribute__((naked)) void board_hardfault_isr(void) {
  __asm__ volatile(
#if defined(__ARM_ARCH_8M_MAIN__)
      /* The fault may be the stack limit itself (the frame then stops at
       * MSPLIM): lift the limit so the report can run below it; the board
       * stops afterwards anyway. */
      "movs r0, #0\n\t"
      "msr msplim, r0\n\t"
#endif
      "movs r1, #" STR(CRASH_KIND_FAULT) "\n\t" PICK_FRAME_AND_REPORT);
}

/* An unexpected exception or interrupt: the same record (its number says
 * which). */
void board_default_isr(void) __attribute__((alias("board_hardfault_isr")));

/* The NMI of a board whose watchdog raises it (cmsdk_wdog.c): the first
 * timeout of an armed watchdog. It returns and leaves the watchdog's
 * interrupt raised, so the second timeout resets the system, which is the
 * point: a crash record here would stop the board instead. */
void board_nmi_isr(void);
void board_nmi_isr(void) {
}

/* The 1 kHz tick first checks the guard word at the bottom of the main
 * stack: overwritten means the stack ran past its end (cores without a
 * stack limit register see it no later than a millisecond after), reported
 * with the frame of whatever the tick interrupted. */
__attribute__((naked)) void board_systick_isr(void) {
  __asm__ volatile(
      "ldr r0, =__stack_limit\n\t"
      "ldr r0, [r0]\n\t"
      "ldr r1, =" STR(BOARD_STACK_GUARD) "\n\t"
      "cmp r0, r1\n\t"
      "bne 3f\n\t"
      "ldr r0, =board_systick_tick\n\t"
      "bx r0\n\t"
      "3:\n\t"
#if defined(__ARM_ARCH_8M_MAIN__)
      "movs r0, #0\n\t" /* the stack is at its end: lift the limit, as above */
      "msr msplim, r0\n\t"
#endif
      "movs r1, #" STR(BOARD_CRASH_KIND_STACK) "\n\t" PICK_FRAME_AND_REPORT);
}

static uint32_t s_crash_sum;

static void put_word(uint32_t v) {
  static const char k_digits[] = "0123456789abcdef";
  char buf[9];
  buf[0] = ' ';
  for (int i = 0; i < 8; i++) buf[1 + i] = k_digits[(v >> (28 - 4 * i)) & 0xFu];
  board_console_write(buf, sizeof(buf));
  s_crash_sum = ((s_crash_sum << 5) | (s_crash_sum >> 27)) ^ v;
}

static bool in_range(uintptr_t p, const void *lo, const void *hi) {
  return p >= (uintptr_t) lo && p < (uintptr_t) hi;
}
/* The frame and the stack copy are read only from RAM, so a broken stack
 * pointer cannot fault the report itself. */
static bool in_ram(uintptr_t p, uint32_t bytes) {
  return in_range(p, __data_start, __stack_top) &&
         (uintptr_t) __stack_top - p >= bytes;
}

void board_fault_report(const uint32_t *frame, uint32_t kind,
                        uint32_t exc_return) {
  if (((uintptr_t) frame & 3u) != 0 || !in_ram((uintptr_t) frame, 32)) {
    kind |= CRASH_NO_FRAME; /* the words printed as the frame mean nothing */
    frame = __stack_top - 8;
  }
  uint32_t pc = frame[FRAME_PC];
  if ((pc & 1u) == 0 && in_range(pc, board_vector_table, __data_load)) {
    uint16_t insn = *(const volatile uint16_t *) (uintptr_t) pc;
    if (insn == THUMB_BKPT_SEMIHOSTING) {
      /* A semihosting call with nobody listening (QEMU without
       * -semihosting, a board without a debugger): say so and halt rather
       * than fault again inside board_exit(). */
      static const char k_msg[] = "\nboard: semihosting unavailable, halted\n";
      board_console_write(k_msg, sizeof(k_msg) - 1);
      for (;;) cm_wfi();
    }
    if (insn == THUMB_UDF_ASSERT && kind == CRASH_KIND_FAULT) {
      kind = CRASH_KIND_ASSERT;
    }
  }
  const uint32_t *sp = frame + 8;
  if ((exc_return & EXC_RETURN_STD_FRAME) == 0) sp += 18; /* s0-s15 fpscr pad */
  if (frame[FRAME_XPSR] & XPSR_STACK_ALIGNED) sp++;
  intptr_t n = __stack_top - sp; /* words left up to the top of RAM */
  if (n < 0) n = 0;
  if (n > (intptr_t) CRASH_STACK_WORDS) n = CRASH_STACK_WORDS;
  board_console_write("\n*** crash", 10);
  s_crash_sum = 0;
  put_word(CRASH_VERSION);
  put_word(kind);
  put_word(CM_REG32(CM_SCB_ICSR) & CM_ICSR_VECTACTIVE_MASK);
  put_word(exc_return);
  for (int i = 0; i < 8; i++) put_word(frame[i]);
  put_word((uint32_t) (uintptr_t) sp);
  /* CFSR HFSR DFSR MMFAR BFAR (consecutive registers), then SFSR. */
  for (uint32_t a = CM_SCB_CFSR; a <= CM_SCB_BFAR; a += 4) {
#if defined(__ARM_ARCH_6M__) /* ARMv6-M has no fault status registers */
    put_word(0);
#else
    put_word(CM_REG32(a));
#endif
  }
#if defined(__ARM_ARCH_8M_MAIN__) /* TrustZone: Secure fault status */
  put_word(CM_REG32(CM_SCB_SFSR));
#else
  put_word(0);
#endif
  put_word((uint32_t) n);
  for (intptr_t i = 0; i < n; i++) put_word(sp[i]);
  put_word(s_crash_sum);
  board_console_write(" ***\n", 5);
#if BOARD_FAULT_RESET
  CM_REG32(CM_SCB_AIRCR) = CM_SCB_AIRCR_VECTKEY | CM_SCB_AIRCR_SYSRESETREQ;
  for (;;) cm_wfi();
#else
  board_exit(BOARD_EXIT_FAULT);
#endif
}
