/* ARMv7-M architecture facts shared by every Cortex-M3/M4/M7 board (and
 * ARMv8-M Mainline, Cortex-M33, where its registers are the same):
 * System Control Space registers (SysTick, NVIC, SCB), interrupt masking,
 * sleep, and Arm semihosting. Board-specific facts live in boards/<name>/. */
#ifndef BOARDS_CORTEX_M_H
#define BOARDS_CORTEX_M_H

#include <stdbool.h>
#include <stdint.h>

#define CM_REG32(addr) (*(volatile uint32_t *) (uintptr_t) (addr))

/* SysTick (ARMv7-M ARM, B3.3). */
#define CM_SYST_CSR 0xE000E010u /* control and status */
#define CM_SYST_RVR 0xE000E014u /* reload value */
#define CM_SYST_CVR 0xE000E018u /* current value (write clears) */
#define CM_SYST_CSR_ENABLE (1u << 0)
#define CM_SYST_CSR_TICKINT (1u << 1)
#define CM_SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define CM_SYST_RVR_MAX 0x00FFFFFFu /* 24-bit counter */

/* NVIC: one bit per external interrupt, 32 per word. */
#define CM_NVIC_ISER0 0xE000E100u /* set-enable */
#define CM_NVIC_ICER0 0xE000E180u /* clear-enable */
#define CM_NVIC_ICPR0 0xE000E280u /* clear-pending */
#define CM_NVIC_IPR0 0xE000E400u  /* priority bytes */

/* SCB. */
#define CM_SCB_ICSR 0xE000ED04u
#define CM_SCB_VTOR 0xE000ED08u
#define CM_SCB_AIRCR 0xE000ED0Cu
#define CM_SCB_CCR 0xE000ED14u  /* configuration and control */
#define CM_SCB_CCR_DIV_0_TRP (1u << 4)
#define CM_SCB_CFSR 0xE000ED28u /* configurable fault status */
#define CM_SCB_HFSR 0xE000ED2Cu /* hard fault status */
#define CM_SCB_MMFAR 0xE000ED34u /* MemManage fault address */
#define CM_SCB_BFAR 0xE000ED38u  /* BusFault address */
#define CM_SCB_SFSR 0xE000EDE4u /* ARMv8-M with TrustZone: secure fault status */
#define CM_SCB_CPACR 0xE000ED88u /* coprocessor access control */
#define CM_SCB_CPACR_CP10_CP11_FULL (0xFu << 20)
#define CM_SCB_AIRCR_VECTKEY (0x05FAu << 16)
#define CM_SCB_AIRCR_SYSRESETREQ (1u << 2)
#define CM_ICSR_VECTACTIVE_MASK 0x1FFu

/* An entry of the vector table; each board defines board_vector_table[]
 * (initial stack pointer first, then the handlers) in its startup.c. */
typedef void (*vector_t)(void);
extern const vector_t board_vector_table[];

/* Exception numbers below 16 are the core's; external IRQ n is 16 + n. */
#define CM_EXTERNAL_IRQ_BASE 16u

/* Polls a register until (value & mask) == want, at most spins times;
 * false if the hardware never got there (callers fall back, never hang). */
static inline bool cm_wait_bits(uint32_t addr, uint32_t mask, uint32_t want,
                                uint32_t spins) {
  for (uint32_t i = 0; i < spins; i++) {
    if ((CM_REG32(addr) & mask) == want) return true;
  }
  return false;
}

static inline uint32_t cm_irq_save(void) {
  uint32_t primask;
  __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
  return primask;
}

static inline void cm_irq_restore(uint32_t primask) {
  __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

/* Sleeps until an interrupt is pending. Called with interrupts masked
 * (PRIMASK=1) it still wakes, and the handler runs once the mask is lifted:
 * that closes the race between "is there work?" and going to sleep. */
static inline void cm_wfi(void) {
  __asm__ volatile("dsb\n\twfi\n\tisb" ::: "memory");
}

static inline void cm_nvic_enable(unsigned irq) {
  CM_REG32(CM_NVIC_ICPR0 + 4u * (irq / 32u)) = 1u << (irq % 32u);
  CM_REG32(CM_NVIC_ISER0 + 4u * (irq / 32u)) = 1u << (irq % 32u);
}

static inline void cm_nvic_disable(unsigned irq) {
  CM_REG32(CM_NVIC_ICER0 + 4u * (irq / 32u)) = 1u << (irq % 32u);
}

/* Starts SysTick on the CPU clock with one interrupt every `cycles`. */
static inline bool cm_systick_start(uint32_t cycles) {
  if (cycles == 0 || cycles - 1u > CM_SYST_RVR_MAX) return false;
  CM_REG32(CM_SYST_RVR) = cycles - 1u;
  CM_REG32(CM_SYST_CVR) = 0;
  CM_REG32(CM_SYST_CSR) =
      CM_SYST_CSR_ENABLE | CM_SYST_CSR_TICKINT | CM_SYST_CSR_CLKSOURCE_CPU;
  return true;
}

/* ---- Arm semihosting (only answered when a debugger or QEMU -semihosting
 * listens; otherwise the BKPT escalates to a HardFault). ---- */
#define CM_SEMIHOST_SYS_EXIT 0x18u
#define CM_SEMIHOST_SYS_EXIT_EXTENDED 0x20u
#define CM_SEMIHOST_ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* Asks the host to stop with `status` as the exit code. Returns only when
 * the host ignored the request. */
void cm_semihost_exit(int status);

#endif /* BOARDS_CORTEX_M_H */
