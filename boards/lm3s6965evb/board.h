/* TI Stellaris LM3S6965 evaluation board (Cortex-M3), as QEMU's
 * "lm3s6965evb" machine models it. Facts: the LM3S6965 data sheet and
 * QEMU's model (`info mtree` for the map). */
#ifndef BOARD_LM3S6965EVB_H
#define BOARD_LM3S6965EVB_H

#include "board_api.h"
#include "cortex_m.h"

#define BOARD_NAME "lm3s6965evb"

/* Clocks: the PLL (200 MHz from the 8 MHz crystal) divided by 4. */
#define LM3S_SYSCLK_HZ 50000000u  /* CPU and peripheral clock after board_init */
#define LM3S_XTAL_HZ 8000000u     /* the board's crystal: fallback clock */
#define LM3S_TICK_HZ 1000u        /* SysTick rate: the mg_millis() resolution */

/* Peripherals. */
#define LM3S_GPIOA_BASE 0x40004000u
#define LM3S_UART0_BASE 0x4000C000u
#define LM3S_ENET_BASE 0x40048000u
#define LM3S_SYSCTL_BASE 0x400FE000u

/* External interrupt numbers (NVIC). */
#define LM3S_IRQ_UART0 5u
#define LM3S_IRQ_ENET 42u
#define LM3S_NUM_IRQS 48u

/* System control registers (offsets from LM3S_SYSCTL_BASE) and bits. */
#define SYSCTL_RIS 0x050u
#define SYSCTL_MISC 0x058u              /* write 1: clear */
#define SYSCTL_RCC 0x060u
#define SYSCTL_RCGC1 0x104u
#define SYSCTL_RCGC2 0x108u
#define SYSCTL_USER0 0x1E0u             /* MAC address bytes 0..2 */
#define SYSCTL_USER1 0x1E4u             /* MAC address bytes 3..5 */
#define SYSCTL_INT_PLLL (1u << 6)       /* PLL locked */
#define SYSCTL_RCC_OSCSRC_MASK (3u << 4) /* 0: main oscillator */
#define SYSCTL_RCC_XTAL_SHIFT 6u
#define SYSCTL_RCC_XTAL_MASK (0xFu << 6)
#define SYSCTL_RCC_XTAL_8MHZ 0xEu
#define SYSCTL_RCC_BYPASS (1u << 11)    /* system clock from the oscillator, not the PLL */
#define SYSCTL_RCC_PWRDN (1u << 13)     /* PLL powered down */
#define SYSCTL_RCC_USESYSDIV (1u << 22)
#define SYSCTL_RCC_SYSDIV_SHIFT 23u
#define SYSCTL_RCC_SYSDIV_MASK (0xFu << 23)
#define SYSCTL_PLL_HZ 200000000u        /* SYSDIV divides this (plus one) */
#define SYSCTL_RCGC1_UART0 (1u << 0)
#define SYSCTL_RCGC2_GPIOA (1u << 0)
#define SYSCTL_RCGC2_EMAC0 (1u << 28)
#define SYSCTL_RCGC2_EPHY0 (1u << 30)
#define SYSCTL_USER_UNSET 0xFFFFFFFFu   /* erased user register */

/* GPIO port registers and the console pins (PA0 = U0Rx, PA1 = U0Tx). */
#define GPIO_AFSEL 0x420u
#define GPIO_DEN 0x51Cu
#define GPIOA_UART0_PINS 0x03u

/* PL011 UART registers (byte offsets) and bits. */
#define PL011_DR 0x000u
#define PL011_RSR_ECR 0x004u /* read: errors, write: clear them */
#define PL011_FR 0x018u
#define PL011_IBRD 0x024u
#define PL011_FBRD 0x028u
#define PL011_LCRH 0x02Cu
#define PL011_CR 0x030u
#define PL011_IFLS 0x034u
#define PL011_IMSC 0x038u
#define PL011_ICR 0x044u
#define PL011_DR_OE (1u << 11)   /* this byte came after an overrun */
#define PL011_FR_RXFE (1u << 4)  /* receive FIFO empty */
#define PL011_FR_TXFF (1u << 5)  /* transmit FIFO full */
#define PL011_LCRH_FEN (1u << 4) /* FIFOs on */
#define PL011_LCRH_WLEN_8 (3u << 5)
#define PL011_CR_UARTEN (1u << 0)
#define PL011_CR_TXE (1u << 8)
#define PL011_CR_RXE (1u << 9)
#define PL011_INT_RX (1u << 4)   /* receive FIFO at its trigger level */
#define PL011_INT_RT (1u << 6)   /* receive timeout: bytes waiting, line idle */

/* Console settings. */
#define LM3S_CONSOLE_BAUD 115200u
#define LM3S_CONSOLE_RX_RING 512u /* bytes, power of two */

#endif /* BOARD_LM3S6965EVB_H */
