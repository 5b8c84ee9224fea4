/* Vector table of mps2-an385 (Cortex-M3 + 32 external interrupts). The
 * handlers live in boards/common/cortex_m_startup.c and board.c. */
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

/* System exceptions, then external interrupts 0..31. NULL = reserved. */
__attribute__((section(".isr_vector"), used))
const vector_t board_vector_table[CM_EXTERNAL_IRQ_BASE + MPS2_NUM_IRQS] = {
    (vector_t) (uintptr_t) __stack_top, /* initial main stack pointer */
    board_reset_handler,
    board_nmi_isr,       /* NMI: the watchdog (cmsdk_wdog.c) */
    board_hardfault_isr, /* HardFault */
    board_hardfault_isr, /* MemManage */
    board_hardfault_isr, /* BusFault */
    board_hardfault_isr, /* UsageFault */
    NULL, NULL, NULL, NULL,
    D,                   /* SVCall */
    D,                   /* DebugMonitor */
    NULL,
    D,                   /* PendSV */
    board_systick_isr,   /* SysTick */
    /* IRQ 0: UART0 RX (MPS2_IRQ_UART0_RX), 1: UART0 TX, 2-12: other UARTs,
     * timers, GPIO ..., 13: LAN9118 (MPS2_IRQ_LAN9118), 14-31: more. */
    board_uart0_rx_isr, D, D, D, D, D, D, D,
    D, D, D, D, D, board_lan9118_isr, D, D,
    D, D, D, D, D, D, D, D,
    D, D, D, D, D, D, D, D,
};
#undef D

_Static_assert(MPS2_IRQ_UART0_RX == 0 && MPS2_IRQ_LAN9118 == 13,
               "the vector table above places these handlers by position");
