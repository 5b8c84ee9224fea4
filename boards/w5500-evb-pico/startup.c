/* Vector table of the RP2040 (Cortex-M0+ + 26 external interrupts) and the
 * boot2 slot. The handlers live in boards/common/cortex_m_startup.c and
 * board.c. */
#include "board.h"

extern uint32_t __stack_top[];

void board_reset_handler(void);
void board_hardfault_isr(void);
void board_default_isr(void);
void board_systick_isr(void);
void board_uart0_isr(void);

/* PLACEHOLDER for the second-stage bootloader, NOT a working boot2. On
 * hardware the bootrom checks a CRC32 over these 256 bytes; with this
 * all-zero block the check fails and the chip stays in its USB (BOOTSEL)
 * mode instead of running the image. To run on a real board, link a boot2
 * built for the board's flash chip (W25Q16JV: the Raspberry Pi SDK's
 * boot2_w25q080 works) into the .boot2 section in place of this array. */
__attribute__((section(".boot2"), used))
const uint8_t board_boot2_placeholder[256] = {0};

#define D board_default_isr
#define D8 D, D, D, D, D, D, D, D

/* System exceptions (ARMv6-M has no MemManage/BusFault/UsageFault/DebugMon),
 * then external interrupts 0..25. NULL = reserved. */
__attribute__((section(".isr_vector"), used))
const vector_t board_vector_table[CM_EXTERNAL_IRQ_BASE + RP_NUM_IRQS] = {
    (vector_t) (uintptr_t) __stack_top, /* initial main stack pointer */
    board_reset_handler,
    D,                   /* NMI */
    board_hardfault_isr, /* HardFault */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    D,                   /* SVCall */
    NULL, NULL,
    D,                   /* PendSV */
    board_systick_isr,   /* SysTick */
    D8, D8,              /* IRQ 0-15 */
    D, D, D, D,          /* IRQ 16-19 */
    board_uart0_isr,     /* IRQ 20 = RP_IRQ_UART0 */
    D, D, D, D, D,       /* IRQ 21-25 */
};
#undef D8
#undef D

_Static_assert(RP_IRQ_UART0 == 20 && RP_NUM_IRQS == 26,
               "the vector table above places these handlers by position");
