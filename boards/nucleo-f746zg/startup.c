/* Vector table of the STM32F746 (Cortex-M7 + 98 external interrupts). The
 * handlers live in boards/common/cortex_m_startup.c and board.c. */
#include "board.h"

extern uint32_t __stack_top[];

void board_reset_handler(void);
void board_hardfault_isr(void);
void board_default_isr(void);
void board_systick_isr(void);
void board_usart3_isr(void);
void board_eth_isr(void);

#define D board_default_isr
#define D8 D, D, D, D, D, D, D, D

/* System exceptions, then external interrupts 0..97. NULL = reserved. */
__attribute__((section(".isr_vector"), used))
const vector_t board_vector_table[CM_EXTERNAL_IRQ_BASE + F7_NUM_IRQS] = {
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
    D8, D8, D8, D8,            /* IRQ 0-31 */
    D, D, D, D, D, D, D,       /* IRQ 32-38 */
    board_usart3_isr,          /* IRQ 39 = F7_IRQ_USART3 */
    D8, D8,                    /* IRQ 40-55 */
    D, D, D, D, D,             /* IRQ 56-60 */
    board_eth_isr,             /* IRQ 61 = F7_IRQ_ETH */
    D8, D8, D8, D8,            /* IRQ 62-93 */
    D, D, D, D,                /* IRQ 94-97 */
};
#undef D8
#undef D

_Static_assert(F7_IRQ_USART3 == 39 && F7_IRQ_ETH == 61 && F7_NUM_IRQS == 98,
               "the vector table above places these handlers by position");
