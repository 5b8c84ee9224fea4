/* Arm semihosting calls used by the boards (see cortex_m.h). */
#include "cortex_m.h"

static uint32_t semihost_call(uint32_t op, uint32_t arg) {
  register uint32_t r0 __asm__("r0") = op;
  register uint32_t r1 __asm__("r1") = arg;
  /* 0xAB is the semihosting immediate for M-profile BKPT. */
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void cm_semihost_exit(int status) {
  /* SYS_EXIT_EXTENDED carries any status; the plain SYS_EXIT can only say
   * "success" (reason ApplicationExit) or "failure" (anything else). */
  uint32_t block[2] = {CM_SEMIHOST_ADP_STOPPED_APPLICATION_EXIT,
                       (uint32_t) status};
  semihost_call(CM_SEMIHOST_SYS_EXIT_EXTENDED, (uint32_t) (uintptr_t) block);
  semihost_call(CM_SEMIHOST_SYS_EXIT,
                status == 0 ? CM_SEMIHOST_ADP_STOPPED_APPLICATION_EXIT : 0u);
}
