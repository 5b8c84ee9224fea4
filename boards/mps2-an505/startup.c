/* Vector table of mps2-an505 (Cortex-M33 + 92 external interrupts). The
 * handlers live in boards/common/cortex_m_startup.c and mps2_board.c. The
 * table is the Secure one (VTOR_S); the core resets with VTOR_S at
 * 0x10000000, where the linker script puts it. */
#include "board.h"

extern uint32_t __stack_top[];

void board_reset_handler(void);
void board_hardfault_isr(void);
void board_default_isr(void);
void board_nmi_isr(void);
void board_systick_isr(void);
void board_uart0_rx_isr(void);
void board_lan9118_isr(void);

#define D board_default_isr
#define D8 D, D, D, D, D, D, D, D

/* System exceptions, then external interrupts 0..91. NULL = reserved.
 * ARMv8-M adds SecureFault in slot 7 (reserved on ARMv7-M). */
__attribute__((section(".isr_vector"), used))
const vector_t board_vector_table[CM_EXTERNAL_IRQ_BASE + MPS2_NUM_IRQS] = {
    (vector_t) (uintptr_t) __stack_top, /* initial main stack pointer */
    board_reset_handler,
    board_nmi_isr,       /* NMI: the watchdog (cmsdk_wdog.c) */
    board_hardfault_isr, /* HardFault */
    board_hardfault_isr, /* MemManage */
    board_hardfault_isr, /* BusFault */
    board_hardfault_isr, /* UsageFault (also: stack limit hit) */
    board_hardfault_isr, /* SecureFault */
    NULL, NULL, NULL,
    D,                   /* SVCall */
    D,                   /* DebugMonitor */
    NULL,
    D,                   /* PendSV */
    board_systick_isr,   /* SysTick (the Secure one) */
    /* IRQ 0-31: SSE-200 internal (watchdogs, timers, MPC/PPC ...). */
    D8, D8, D8, D8,
    /* IRQ 32: UART0 RX (MPS2_IRQ_UART0_RX), 33-47: other UART lines, SPI
     * ..., 48: LAN9118 (MPS2_IRQ_LAN9118), 49-91: more. */
    board_uart0_rx_isr, D, D, D, D, D, D, D,
    D8,
    board_lan9118_isr, D, D, D, D, D, D, D,
    D8, D8, D8, D8,
    D, D, D, D,
};
#undef D8
#undef D

_Static_assert(MPS2_IRQ_UART0_RX == 32 && MPS2_IRQ_LAN9118 == 48,
               "the vector table above places these handlers by position");
