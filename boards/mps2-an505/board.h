/* Arm MPS2 with the AN505 FPGA image (Cortex-M33, ARMv8-M Mainline with
 * TrustZone, behind the SSE-200 subsystem), as QEMU's "mps2-an505" machine
 * models it. The firmware runs in the Secure state, where the core leaves
 * reset: with the SAU off every address is Secure, and the peripheral and
 * memory protection controllers keep their reset setting (all Secure), so
 * everything is reached through its Secure alias (address bit 28 set).
 * Facts: Arm AN505 application note and the machine's map in QEMU
 * (`info mtree -f`). */
#ifndef BOARD_MPS2_AN505_H
#define BOARD_MPS2_AN505_H

#include "board_api.h"
#include "cmsdk_uart.h"
#include "cortex_m.h"

#define BOARD_NAME "mps2-an505"

/* Clocks. */
#define MPS2_SYSCLK_HZ 20000000u /* CPU and APB peripheral clock */
#define MPS2_TICK_HZ 1000u       /* SysTick rate: the mg_millis() resolution */

/* Peripherals, Secure aliases (the Non-secure ones are 0x10000000 lower). */
#define MPS2_UART0_BASE 0x50200000u
#define MPS2_LAN9118_BASE 0x52000000u
/* The SSE-200's Secure CMSDK APB watchdog (boards/common/cmsdk_wdog.c),
 * counting the 20 MHz main clock (its S32K one counts 32 kHz, the Non-secure
 * one sits at 0x40081000). */
#define BOARD_WDOG_BASE 0x50081000u
#define BOARD_WDOG_HZ MPS2_SYSCLK_HZ

/* External interrupt numbers (NVIC). 0..31 belong to the SSE-200 itself;
 * the FPGA's devices start at 32. */
#define MPS2_IRQ_UART0_RX 32u
#define MPS2_IRQ_UART0_TX 33u
#define MPS2_IRQ_UART0_COMBINED 42u
#define MPS2_IRQ_LAN9118 48u
#define MPS2_NUM_IRQS 92u

/* Console settings. */
#define MPS2_CONSOLE_BAUD 115200u
#define MPS2_CONSOLE_RX_RING 512u /* bytes, power of two */

#endif /* BOARD_MPS2_AN505_H */
