/* Platform pieces of the core for bare-metal targets that the core can
 * implement itself: the lock. Time, randomness and the log sink depend on
 * the board and live in boards/<name>/board.c. */
#include "mg_base.h"

#if MG_ARCH == MG_ARCH_BAREMETAL

#include <stdlib.h>

/* A critical section: with one CPU and no threads, "another thread" is an
 * interrupt handler, so masking interrupts is the lock. The saved mask
 * makes acquire/release correct when called with interrupts already off. */
struct mg_lock {
  uint32_t saved_mask;
};

#if defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
static uint32_t irq_save(void) {
  uint32_t primask;
  __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
  return primask;
}
static void irq_restore(uint32_t primask) {
  __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}
#else
/* Unknown CPU: no interrupt masking. Correct only while no interrupt
 * handler calls into the core (e.g. mg_wakeup); add the CPU's primitive. */
static uint32_t irq_save(void) {
  return 0;
}
static void irq_restore(uint32_t mask) {
  (void) mask;
}
#endif

struct mg_lock *mg_lock_new(void) {
  return (struct mg_lock *) calloc(1, sizeof(struct mg_lock));
}

void mg_lock_free(struct mg_lock *lk) {
  free(lk);
}

void mg_lock_acquire(struct mg_lock *lk) {
  uint32_t mask = irq_save();
  if (lk != NULL) lk->saved_mask = mask;
}

void mg_lock_release(struct mg_lock *lk) {
  irq_restore(lk != NULL ? lk->saved_mask : 0);
}

#endif /* MG_ARCH == MG_ARCH_BAREMETAL */
