/* RISC-V machine-mode facts and helpers shared by RISC-V boards (privileged
 * architecture spec: CSR numbers and bits, CLINT timer layout). */
#ifndef BOARDS_RISCV_H
#define BOARDS_RISCV_H

#include <stdint.h>

#define RV_REG32(addr) (*(volatile uint32_t *) (uintptr_t) (addr))
#define RV_REG8(addr) (*(volatile uint8_t *) (uintptr_t) (addr))

/* mstatus / mie / mip bits. */
#define RV_MSTATUS_MIE (1u << 3)
#define RV_MIE_MTIE (1u << 7)  /* machine timer interrupt enable */
#define RV_MIE_MEIE (1u << 11) /* machine external interrupt enable (PLIC) */
/* mcause: the top bit marks an interrupt, the rest is the cause code. */
#define RV_MCAUSE_INTERRUPT (1u << 31)
#define RV_IRQ_MTIMER 7u
#define RV_IRQ_MEXTERNAL 11u

/* CLINT: mtimecmp of hart 0 and the shared mtime, 64-bit each. */
#define RV_CLINT_MTIMECMP0 0x4000u
#define RV_CLINT_MTIME 0xBFF8u

#define rv_csr_read(csr)                                   \
  ({                                                       \
    uint32_t v_;                                           \
    __asm__ volatile("csrr %0, " #csr : "=r"(v_));         \
    v_;                                                    \
  })
#define rv_csr_write(csr, v) __asm__ volatile("csrw " #csr ", %0" ::"r"(v))
#define rv_csr_set(csr, v) __asm__ volatile("csrs " #csr ", %0" ::"r"(v))

/* Masks machine interrupts; returns the previous mstatus.MIE. */
static inline uint32_t rv_irq_save(void) {
  uint32_t prev;
  __asm__ volatile("csrrci %0, mstatus, 8" : "=r"(prev)::"memory");
  return prev & RV_MSTATUS_MIE;
}
static inline void rv_irq_restore(uint32_t mie) {
  if (mie) __asm__ volatile("csrsi mstatus, 8" ::: "memory");
}
static inline void rv_irq_enable(void) {
  __asm__ volatile("csrsi mstatus, 8" ::: "memory");
}
/* WFI returns once an interrupt enabled in mie is pending, even while
 * mstatus.MIE masks it: the same "check, then sleep" contract as WFI on
 * Cortex-M with PRIMASK set. */
static inline void rv_wfi(void) {
  __asm__ volatile("wfi" ::: "memory");
}

/* The 64-bit CLINT mtime read as two 32-bit halves on RV32: read high,
 * low, high again until the high half did not change in between. */
uint64_t rv_mtime(void);
/* Starts the periodic machine timer interrupt (period in mtime ticks). */
void rv_timer_start(uint32_t period);

#endif /* BOARDS_RISCV_H */
