/* Cortex-M: the image's payload starts with its vector table. */
#include "board_api.h"
#include "cortex_m.h"
#include "jump.h"

/* Hands the CPU over as if the slot's image had been reset into: nothing of
 * ours may interrupt it (SysTick stopped, every NVIC line disabled and
 * cleared), its vector table in VTOR, its stack. */
void boot_jump(const struct mg_image_header *h) {
  uint32_t vectors = h->load_addr;
  const volatile uint32_t *vt = (const volatile uint32_t *) (uintptr_t) vectors;
  uint32_t sp = vt[0], pc = vt[1];
  __asm__ volatile("cpsid i" ::: "memory");
  CM_REG32(CM_SYST_CSR) = 0;
  for (unsigned i = 0; i < 16; i++) {
    CM_REG32(CM_NVIC_ICER0 + 4 * i) = 0xffffffffu;
    CM_REG32(CM_NVIC_ICPR0 + 4 * i) = 0xffffffffu;
  }
  CM_REG32(CM_SCB_VTOR) = vectors;
  __asm__ volatile("dsb\n\tisb\n\tmsr msp, %0\n\tcpsie i\n\tbx %1" ::"r"(sp), "r"(pc)
                   : "memory");
  __builtin_unreachable();
}
