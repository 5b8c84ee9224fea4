/* The Arm CMSDK APB UART, the console UART of the MPS2 boards (AN385, AN505):
 * register offsets and bits. Each board gives the base address. */
#ifndef BOARDS_CMSDK_UART_H
#define BOARDS_CMSDK_UART_H

/* Registers (byte offsets) and bits. */
#define CMSDK_UART_DATA 0x00u
#define CMSDK_UART_STATE 0x04u
#define CMSDK_UART_CTRL 0x08u
#define CMSDK_UART_INTSTATUS 0x0Cu /* read: status, write 1: clear */
#define CMSDK_UART_BAUDDIV 0x10u
#define CMSDK_UART_STATE_TX_FULL (1u << 0)
#define CMSDK_UART_STATE_RX_FULL (1u << 1)
#define CMSDK_UART_STATE_TX_OVERRUN (1u << 2)
#define CMSDK_UART_STATE_RX_OVERRUN (1u << 3)
#define CMSDK_UART_CTRL_TX_EN (1u << 0)
#define CMSDK_UART_CTRL_RX_EN (1u << 1)
#define CMSDK_UART_CTRL_TX_IRQ_EN (1u << 2)
#define CMSDK_UART_CTRL_RX_IRQ_EN (1u << 3)
#define CMSDK_UART_INT_TX (1u << 0)
#define CMSDK_UART_INT_RX (1u << 1)
#define CMSDK_UART_BAUDDIV_MIN 16u

#endif /* BOARDS_CMSDK_UART_H */
