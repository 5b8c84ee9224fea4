/* Vector table of the LM3S6965 (Cortex-M3 + 48 external interrupts). The
 * handlers live in boards/common/cortex_m_startup.c and board.c. */
#include "board.h"

extern uint32_t __stack_top[];

void board_reset_handler(void);
void board_hardfault_isr(void);
void board_default_isr(void);
void board_systick_isr(void);
void board_uart0_isr(void);
void board_enet_isr(void);

#define D board_default_isr

/* System exceptions, then external interrupts 0..47. NULL = reserved. */
__attribute__((section(".isr_vector"), used))
const vector_t board_vector_table[CM_EXTERNAL_IRQ_BASE + LM3S_NUM_IRQS] = {
    (vector_t) (uintptr_t) __stack_top, /* initial main stack pointer */
    board_reset_handler,
    D,                   /* NMI */
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
    /* IRQ 0-4: GPIO A-E, 5: UART0 (LM3S_IRQ_UART0), 6: UART1, 7: SSI0,
     * 8: I2C0, 9-17: PWM, QEI, ADC, 18: watchdog, 19-24: timers 0-2,
     * 25-27: comparators, 28: system control, 29: flash, 30-31: GPIO F-G,
     * 32: GPIO H, 33: UART2, 34: SSI1, 35-36: timer 3, 37: I2C1, 38: QEI1,
     * 39-41: CAN, 42: Ethernet (LM3S_IRQ_ENET), 43: hibernation, 44-47: more. */
    D, D, D, D, D, board_uart0_isr, D, D,
    D, D, D, D, D, D, D, D,
    D, D, D, D, D, D, D, D,
    D, D, D, D, D, D, D, D,
    D, D, D, D, D, D, D, D,
    D, D, board_enet_isr, D, D, D, D, D,
};
#undef D

_Static_assert(LM3S_IRQ_UART0 == 5 && LM3S_IRQ_ENET == 42,
               "the vector table above places these handlers by position");
