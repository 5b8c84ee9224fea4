/* RISC-V (machine mode): the image is entered at its entry point, the first
 * byte of its payload (its _start sets the stack, gp and its own mtvec). */
#include "board.h"
#include "jump.h"

/* Machine interrupts off and every source masked, the CLINT timer pushed to
 * the end of time (which also drops a pending tick), then the jump. */
void boot_jump(const struct mg_image_header *h) {
  uint32_t entry = h->entry_addr;
  (void) rv_irq_save();
  rv_csr_write(mie, 0u);
  RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIMECMP0 + 4) = 0xFFFFFFFFu;
  RV_REG32(RV_CLINT_BASE + RV_CLINT_MTIMECMP0) = 0xFFFFFFFFu;
  __asm__ volatile("fence.i\n\tjr %0" ::"r"(entry) : "memory");
  __builtin_unreachable();
}
