/* QEMU's RISC-V "virt" machine with a 32-bit hart (qemu-system-riscv32 -M
 * virt -bios none): a plain image runs in machine mode from DRAM, the
 * bootloader and the update slots' builds in place from pflash0. Facts:
 * QEMU's virt machine (info mtree, info qtree), the NS16550A and CLINT
 * register layouts. */
#ifndef BOARD_RISCV32_VIRT_H
#define BOARD_RISCV32_VIRT_H

#include "board_api.h"
#include "riscv/riscv.h"

#define BOARD_NAME "riscv32-virt"

/* Memory map. */
#define VIRT_TEST_BASE 0x00100000u   /* sifive_test: exit / reset QEMU */
#define RV_CLINT_BASE 0x02000000u    /* mtime, mtimecmp */
#define VIRT_PLIC_BASE 0x0C000000u   /* platform-level interrupt controller */
#define VIRT_UART0_BASE 0x10000000u  /* NS16550A */
#define VIRT_VIRTIO_BASE 0x10001000u /* first virtio-mmio transport */
#define VIRT_VIRTIO_STRIDE 0x1000u
#define VIRT_VIRTIO_SLOTS 8u
#define VIRT_VIRTIO_IRQ0 1u          /* PLIC source of slot 0; slot n is 1 + n */
/* pflash0, the first of the two cfi.pflash01 chips (Intel command set): a
 * 32-bit bank of two x16 devices, 128 erase blocks of 256 KiB. It holds the
 * bootloader, the boot state and the update slots (board.toml [slots]). */
#define VIRT_FLASH_BASE 0x20000000u
#define VIRT_FLASH_SIZE 0x02000000u
#define VIRT_FLASH_BLOCK 0x00040000u

/* PLIC: a priority word per source, then per context (context 0 = hart 0
 * in machine mode) enable bits, a priority threshold and claim/complete. */
#define PLIC_PRIORITY(irq) (VIRT_PLIC_BASE + 4u * (irq))
#define PLIC_ENABLE_CTX0(irq) (VIRT_PLIC_BASE + 0x2000u + 4u * ((irq) / 32u))
#define PLIC_THRESHOLD_CTX0 (VIRT_PLIC_BASE + 0x200000u)
#define PLIC_CLAIM_CTX0 (VIRT_PLIC_BASE + 0x200004u)

/* Clocks. */
#define RV_MTIME_HZ 10000000u     /* CLINT timebase of virt */
#define VIRT_TICK_HZ 1000u        /* board tick: console and network polling */
#define VIRT_UART_CLK_HZ 3686400u /* the 16550's input clock */

/* sifive_test commands (written as one 32-bit word). */
#define VIRT_TEST_PASS 0x5555u
#define VIRT_TEST_FAIL 0x3333u /* | status << 16 */
#define VIRT_TEST_RESET 0x7777u

/* NS16550A registers (byte offsets, register shift 0) and bits. */
#define UART_RBR 0u /* read: receive buffer */
#define UART_THR 0u /* write: transmit holding */
#define UART_DLL 0u /* with LCR.DLAB */
#define UART_IER 1u
#define UART_DLM 1u /* with LCR.DLAB */
#define UART_FCR 2u /* write only */
#define UART_LCR 3u
#define UART_LSR 5u
#define UART_LCR_8N1 0x03u
#define UART_LCR_DLAB 0x80u
/* FIFOs on (not cleared: input may already wait), receive trigger level 14
 * bytes: QEMU hands over up to the trigger level at a time, so a level of 1
 * would deliver one byte per poll. */
#define UART_FCR_ENABLE_TRIG14 0xC1u
#define UART_LSR_DR 0x01u           /* a byte is waiting */
#define UART_LSR_OE 0x02u           /* overrun: a byte was lost */
#define UART_LSR_THRE 0x20u         /* transmit holding register empty */

/* Console settings. */
#define VIRT_CONSOLE_BAUD 115200u
#define VIRT_CONSOLE_RX_RING 512u /* bytes, power of two */

/* The hooks of boards/common/riscv: the trap handler calls board_timer_isr()
 * (riscv_clock.c), which calls the board's board_tick(), and the board's
 * board_external_isr() for a PLIC interrupt. */
void board_timer_isr(void);
void board_tick(void);
void board_external_isr(void);

/* Resets the machine (QEMU reloads the -kernel image). */
void board_reboot(void) __attribute__((noreturn));

/* boards/common/board_console.c is written with the Cortex-M names of the
 * three primitives it needs; these are their RISC-V equivalents. */
#define cm_irq_save rv_irq_save
#define cm_irq_restore rv_irq_restore
#define cm_wfi rv_wfi

#endif /* BOARD_RISCV32_VIRT_H */
