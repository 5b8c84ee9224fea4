/* STM32 Ethernet MAC (the Synopsys MAC/DMA found in STM32F4/F7 "ETH") with an
 * RMII PHY on MDIO, on the mg_driver contract. Facts: ST RM0385 (STM32F75x/
 * F74x) chapter "Ethernet (ETH)", IEEE 802.3 clause 22 for the PHY.
 *
 * The board enables the ETH clocks, selects RMII in SYSCFG, muxes the pins,
 * and provides the DMA area: descriptors and buffers the Ethernet DMA can
 * reach (on STM32F7: SRAM1/SRAM2; if the D-cache is on, the area must be in
 * a non-cacheable MPU region). Then init() resets the DMA, programs the MAC
 * and starts PHY auto-negotiation; poll() follows the link and sets the MAC's
 * speed and duplex from what the PHY negotiated. */
#ifndef MG_DRIVER_STM32_ETH_H
#define MG_DRIVER_STM32_ETH_H

#include "mg_driver.h"

#ifndef MG_ENABLE_DRIVER_STM32_ETH
#define MG_ENABLE_DRIVER_STM32_ETH 0
#endif

#ifndef MG_STM32_ETH_RX_DESCS
#define MG_STM32_ETH_RX_DESCS 4
#endif
#ifndef MG_STM32_ETH_TX_DESCS
#define MG_STM32_ETH_TX_DESCS 4
#endif
/* Each buffer holds a whole frame (1518 with FCS), rounded to 32 bytes. */
#define MG_STM32_ETH_BUF_SIZE 1536

#ifdef __cplusplus
extern "C" {
#endif

/* A DMA descriptor in the normal (4-word) format, chained mode. */
struct mg_stm32_eth_desc {
  volatile uint32_t des0, des1, des2, des3;
};

/* Everything the Ethernet DMA reads or writes. */
struct mg_stm32_eth_dma {
  struct mg_stm32_eth_desc rx[MG_STM32_ETH_RX_DESCS];
  struct mg_stm32_eth_desc tx[MG_STM32_ETH_TX_DESCS];
  uint8_t rxbuf[MG_STM32_ETH_RX_DESCS][MG_STM32_ETH_BUF_SIZE];
  uint8_t txbuf[MG_STM32_ETH_TX_DESCS][MG_STM32_ETH_BUF_SIZE];
};

struct mg_stm32_eth {
  /* Set by the board. */
  uintptr_t base;               /* ETH register block (0x40028000 on F4/F7) */
  struct mg_stm32_eth_dma *dma; /* DMA-reachable memory, 4-byte aligned */
  uint8_t phy_addr;             /* MDIO address of the PHY */
  uint8_t mdc_clock_range;      /* MACMIIAR.CR for this HCLK (see RM) */
  bool use_irq;                 /* raise the ETH interrupt on received frames */
  /* Driver state and counters, zero-initialise. */
  uint8_t rx_next, tx_next;
  bool link_up;
  uint64_t link_checked;        /* mg_millis() of the last PHY read */
  uint32_t rx_frames, tx_frames, rx_errors, tx_errors;
};

extern const struct mg_driver mg_driver_stm32_eth;

/* Interrupt handler body: acknowledges the DMA receive event. */
void mg_stm32_eth_isr(struct mg_stm32_eth *eth);

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_STM32_ETH_H */
