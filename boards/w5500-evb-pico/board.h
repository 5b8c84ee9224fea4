/* WIZnet W5500-EVB-Pico: Raspberry Pi RP2040 (dual Cortex-M0+, only core 0
 * used), 2 MiB QSPI flash, 12 MHz crystal, W5500 Ethernet on SPI0 (SCK
 * GPIO18, MOSI GPIO19, MISO GPIO16, CS GPIO17, RST GPIO20, INT GPIO21),
 * console on UART0 (TX GPIO0, RX GPIO1). Facts: RP2040 datasheet (register
 * maps, reset and clock blocks, PL011/PL022 as integrated), the board's
 * schematic for the pins. */
#ifndef BOARD_W5500_EVB_PICO_H
#define BOARD_W5500_EVB_PICO_H

#include "board_api.h"
#include "cortex_m.h"

#define BOARD_NAME "w5500-evb-pico"

/* ---- Clocks: clk_ref = clk_sys = clk_peri = the 12 MHz crystal, no PLL. */
#define RP_XOSC_HZ 12000000u
#define RP_ROSC_NOMINAL_HZ 6500000u /* reset clock; varies 1.8..12 MHz by chip */
#define RP_TICK_HZ 1000u

/* Atomic aliases of every APB/AHB peripheral register. */
#define RP_ALIAS_SET 0x2000u
#define RP_ALIAS_CLR 0x3000u

/* ---- RESETS. ---- */
#define RP_RESETS_BASE 0x4000C000u
#define RESETS_RESET 0x00u
#define RESETS_RESET_DONE 0x08u
#define RESETS_IO_BANK0 (1u << 5)
#define RESETS_PADS_BANK0 (1u << 8)
#define RESETS_SPI0 (1u << 16)
#define RESETS_UART0 (1u << 22)

/* ---- XOSC. ---- */
#define RP_XOSC_BASE 0x40024000u
#define XOSC_CTRL 0x00u
#define XOSC_STATUS 0x04u
#define XOSC_STARTUP 0x0Cu
#define XOSC_CTRL_FREQ_1_15MHZ 0xAA0u
#define XOSC_CTRL_ENABLE (0xFABu << 12)
#define XOSC_STATUS_STABLE (1u << 31)
#define XOSC_STARTUP_CYCLES 256u    /* STARTUP.DELAY counts in units of 256 */
#define XOSC_STARTUP_MS 1u

/* ---- CLOCKS: each clock has CTRL, DIV, SELECTED. ---- */
#define RP_CLOCKS_BASE 0x40008000u
#define CLK_REF_CTRL 0x30u
#define CLK_REF_SELECTED 0x38u
#define CLK_SYS_CTRL 0x3Cu
#define CLK_SYS_SELECTED 0x44u
#define CLK_PERI_CTRL 0x48u
#define CLK_REF_SRC_MASK 0x3u
#define CLK_REF_SRC_XOSC 0x2u
#define CLK_REF_SELECTED_XOSC (1u << 2)  /* one-hot: which source is live */
#define CLK_SYS_SRC_MASK 0x1u
#define CLK_SYS_SRC_REF 0x0u
#define CLK_SYS_SELECTED_REF (1u << 0)
#define CLK_PERI_ENABLE (1u << 11)
#define CLK_PERI_AUXSRC_MASK (0x7u << 5)
#define CLK_PERI_AUXSRC_SYS (0x0u << 5)

/* ---- ROSC: still running after the switch; its RANDOMBIT is our only
 * entropy source. ---- */
#define RP_ROSC_BASE 0x40060000u
#define ROSC_RANDOMBIT 0x1Cu

/* ---- GPIO: IO_BANK0 function select, PADS_BANK0, SIO for software pins. */
#define RP_IO_BANK0_BASE 0x40014000u
#define IO_GPIO_CTRL(n) (0x004u + 8u * (n))
#define IO_FUNC_SPI 1u
#define IO_FUNC_UART 2u
#define IO_FUNC_SIO 5u
#define RP_PADS_BANK0_BASE 0x4001C000u
#define PADS_GPIO(n) (0x04u + 4u * (n))
#define PADS_PUE (1u << 3)
#define PADS_PDE (1u << 2)
#define PADS_IE (1u << 6)
#define RP_SIO_BASE 0xD0000000u
#define SIO_GPIO_OUT_SET 0x14u
#define SIO_GPIO_OUT_CLR 0x18u
#define SIO_GPIO_OE_SET 0x24u

#define PIN_UART_TX 0u
#define PIN_UART_RX 1u
#define PIN_SPI_MISO 16u
#define PIN_W5500_CS 17u  /* driven by software: CS spans a whole frame */
#define PIN_SPI_SCK 18u
#define PIN_SPI_MOSI 19u
#define PIN_W5500_RST 20u
#define W5500_RESET_LOW_MS 1u   /* datasheet: RSTn low for at least 500 us */
#define W5500_RESET_WAIT_MS 2u  /* internal PLL lock after RSTn rises: 1 ms */

/* ---- UART0 (Arm PL011). ---- */
#define RP_UART0_BASE 0x40034000u
#define UART_DR 0x00u
#define UART_FR 0x18u
#define UART_IBRD 0x24u
#define UART_FBRD 0x28u
#define UART_LCR_H 0x2Cu
#define UART_CR 0x30u
#define UART_IMSC 0x38u
#define UART_ICR 0x44u
#define UART_FR_RXFE (1u << 4)
#define UART_FR_TXFF (1u << 5)
#define UART_DR_OE (1u << 11)
#define UART_LCR_H_WLEN8 (0x3u << 5)
#define UART_LCR_H_FEN (1u << 4)
#define UART_CR_UARTEN (1u << 0)
#define UART_CR_TXE (1u << 8)
#define UART_CR_RXE (1u << 9)
#define UART_IMSC_RXIM (1u << 4)
#define UART_IMSC_RTIM (1u << 6)   /* receive timeout: FIFO below level, idle */
#define UART_ICR_ALL 0x7FFu
#define UART_FBRD_BITS 6u          /* fractional divisor in 1/64 */
#define RP_CONSOLE_BAUD 115200u
#define RP_CONSOLE_RX_RING 512u

/* ---- SPI0 (Arm PL022). ---- */
#define RP_SPI0_BASE 0x4003C000u
#define SPI_CR0 0x00u
#define SPI_CR1 0x04u
#define SPI_DR 0x08u
#define SPI_SR 0x0Cu
#define SPI_CPSR 0x10u
#define SPI_CR0_DSS_8BIT 0x7u      /* data size - 1 */
#define SPI_CR1_SSE (1u << 1)
#define SPI_SR_TNF (1u << 1)
#define SPI_SR_RNE (1u << 2)
#define SPI_SR_BSY (1u << 4)
#define SPI_CPSR_DIV 2u            /* smallest prescaler: 6 MHz SCK (mode 0) */
#define SPI_SPIN_LIMIT 100000u

/* ---- Interrupts: 26 external lines. ---- */
#define RP_IRQ_UART0 20u
#define RP_NUM_IRQS 26u

#endif /* BOARD_W5500_EVB_PICO_H */
