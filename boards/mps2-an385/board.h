/* Arm MPS2 with the AN385 FPGA image (Cortex-M3), as QEMU's "mps2-an385"
 * machine models it. Facts: Arm AN385 application note and QEMU's model. */
#ifndef BOARD_MPS2_AN385_H
#define BOARD_MPS2_AN385_H

#include "board_api.h"
#include "cmsdk_uart.h"
#include "cortex_m.h"

#define BOARD_NAME "mps2-an385"

/* Clocks. */
#define MPS2_SYSCLK_HZ 25000000u /* CPU and peripheral clock */
#define MPS2_TICK_HZ 1000u       /* SysTick rate: the mg_millis() resolution */

/* Peripherals on the APB / AHB. */
#define MPS2_UART0_BASE 0x40004000u
#define MPS2_LAN9118_BASE 0x40200000u
/* The CMSDK APB watchdog (boards/common/cmsdk_wdog.c), counting WDOGCLK = the
 * 25 MHz peripheral clock; QEMU wires its interrupt to the NMI. */
#define BOARD_WDOG_BASE 0x40008000u
#define BOARD_WDOG_HZ MPS2_SYSCLK_HZ

/* External interrupt numbers (NVIC). */
#define MPS2_IRQ_UART0_RX 0u
#define MPS2_IRQ_UART0_TX 1u
#define MPS2_IRQ_LAN9118 13u
#define MPS2_NUM_IRQS 32u

/* Console settings. */
#define MPS2_CONSOLE_BAUD 115200u
#define MPS2_CONSOLE_RX_RING 512u /* bytes, power of two */

#endif /* BOARD_MPS2_AN385_H */
