/* STM32F4/F7 Ethernet MAC + DMA driver with a clause-22 RMII PHY (see
 * mg_driver_stm32_eth.h). Register facts from ST RM0385. Frames sit whole in
 * one 1536-byte buffer per descriptor; descriptors are chained (DES3 points
 * to the next). Every wait on the hardware is bounded. */
#include "mg_driver_stm32_eth.h"

#if MG_ENABLE_DRIVER_STM32_ETH

#include <stdatomic.h>
#include <string.h>

/* ---- MAC registers (byte offsets from the ETH base). ---- */
#define ETH_MACCR 0x0000u
#define ETH_MACFFR 0x0004u
#define ETH_MACMIIAR 0x0010u
#define ETH_MACMIIDR 0x0014u
#define ETH_MACA0HR 0x0040u
#define ETH_MACA0LR 0x0044u
#define MACCR_RE (1u << 2)
#define MACCR_TE (1u << 3)
#define MACCR_DM (1u << 11)  /* full duplex */
#define MACCR_FES (1u << 14) /* 100 Mbit/s */
#define MACFFR_PERFECT_AND_BROADCAST 0u /* PM=0, BFD=0, no hash */
#define MACMIIAR_MB (1u << 0)  /* busy */
#define MACMIIAR_MW (1u << 1)  /* write */
#define MACMIIAR_CR_SHIFT 2u
#define MACMIIAR_CR_MASK 0x7u
#define MACMIIAR_MR_SHIFT 6u
#define MACMIIAR_PA_SHIFT 11u
#define MACA0HR_MO (1u << 31)  /* always 1 */

/* ---- DMA registers. ---- */
#define ETH_DMABMR 0x1000u
#define ETH_DMATPDR 0x1004u
#define ETH_DMARPDR 0x1008u
#define ETH_DMARDLAR 0x100Cu
#define ETH_DMATDLAR 0x1010u
#define ETH_DMASR 0x1014u
#define ETH_DMAOMR 0x1018u
#define ETH_DMAIER 0x101Cu
#define DMABMR_SR (1u << 0)    /* software reset of MAC and DMA */
#define DMABMR_PBL_32 (32u << 8)
#define DMABMR_FB (1u << 16)   /* fixed bursts */
#define DMABMR_RDP_32 (32u << 17)
#define DMABMR_USP (1u << 23)  /* RX burst length from RDP */
#define DMABMR_AAB (1u << 25)  /* address-aligned bursts */
#define DMASR_TBUS (1u << 2)   /* TX buffer unavailable: DMA suspended */
#define DMASR_RS (1u << 6)     /* frame received */
#define DMASR_RBUS (1u << 7)   /* RX buffer unavailable: DMA suspended */
#define DMASR_NIS (1u << 16)   /* normal interrupt summary */
#define DMASR_ALL 0x0001E7FFu  /* every write-1-to-clear status bit */
#define DMAOMR_SR (1u << 1)    /* start receive */
#define DMAOMR_ST (1u << 13)   /* start transmit */
#define DMAOMR_FTF (1u << 20)  /* flush TX FIFO */
#define DMAOMR_TSF (1u << 21)  /* TX store and forward */
#define DMAOMR_RSF (1u << 25)  /* RX store and forward */
#define DMAIER_RIE (1u << 6)
#define DMAIER_NISE (1u << 16)

/* ---- Descriptor bits. ---- */
#define TDES0_OWN (1u << 31)
#define TDES0_IC (1u << 30)
#define TDES0_LS (1u << 29)
#define TDES0_FS (1u << 28)
#define TDES0_TCH (1u << 20)
#define TDES0_ES (1u << 15)
#define TDES1_TBS1_MASK 0x1FFFu
#define RDES0_OWN (1u << 31)
#define RDES0_FL(v) (((v) >> 16) & 0x3FFFu) /* frame length incl. FCS */
#define RDES0_ES (1u << 15)
#define RDES0_FS (1u << 9)
#define RDES0_LS (1u << 8)
#define RDES1_RCH (1u << 14)

/* ---- IEEE 802.3 clause 22 PHY registers. ---- */
#define PHY_BMCR 0u
#define PHY_BMSR 1u
#define PHY_ANAR 4u
#define PHY_ANLPAR 5u
#define PHY_BMCR_RESET (1u << 15)
#define PHY_BMCR_AN_ENABLE (1u << 12)
#define PHY_BMCR_AN_RESTART (1u << 9)
#define PHY_BMSR_LINK_UP (1u << 2)
#define PHY_AN_10_HD (1u << 5)
#define PHY_AN_10_FD (1u << 6)
#define PHY_AN_100_HD (1u << 7)
#define PHY_AN_100_FD (1u << 8)

#define ETH_HDR_LEN 14u
#define ETH_FCS_LEN 4u
#define ETH_MAX_FRAME 1514u /* without FCS; the MAC pads and appends the FCS */

#define SPIN_LIMIT 1000000u     /* register polls before giving up */
#define MAC_SETTLE_SPINS 1000u  /* MAC registers cross clock domains */
#define LINK_CHECK_MS 500u

static inline volatile uint32_t *reg(const struct mg_stm32_eth *e, uint32_t off) {
  return (volatile uint32_t *) (e->base + off);
}
static inline uint32_t rd(const struct mg_stm32_eth *e, uint32_t off) {
  return *reg(e, off);
}
static inline void wr(const struct mg_stm32_eth *e, uint32_t off, uint32_t v) {
  *reg(e, off) = v;
}

/* The MAC runs on the PHY's clocks: a write takes a few of them to land,
 * and a second write right after it can be lost. Write, read back, let it
 * settle, write again. */
static void wr_mac(const struct mg_stm32_eth *e, uint32_t off, uint32_t v) {
  wr(e, off, v);
  (void) rd(e, off);
  for (volatile uint32_t i = 0; i < MAC_SETTLE_SPINS; i++) {
  }
  wr(e, off, v);
}

/* Descriptor memory must be written before ownership passes to the DMA. */
static inline void dma_barrier(void) {
  atomic_thread_fence(memory_order_seq_cst);
}

static bool mdio_wait(const struct mg_stm32_eth *e) {
  for (uint32_t i = 0; i < SPIN_LIMIT; i++) {
    if ((rd(e, ETH_MACMIIAR) & MACMIIAR_MB) == 0) return true;
  }
  return false;
}

static uint32_t mdio_cmd(const struct mg_stm32_eth *e, uint32_t phy_reg) {
  return ((uint32_t) e->phy_addr << MACMIIAR_PA_SHIFT) |
         (phy_reg << MACMIIAR_MR_SHIFT) |
         (((uint32_t) e->mdc_clock_range & MACMIIAR_CR_MASK) << MACMIIAR_CR_SHIFT) |
         MACMIIAR_MB;
}

static bool phy_read(const struct mg_stm32_eth *e, uint32_t phy_reg,
                     uint16_t *val) {
  if (!mdio_wait(e)) return false;
  wr(e, ETH_MACMIIAR, mdio_cmd(e, phy_reg));
  if (!mdio_wait(e)) return false;
  *val = (uint16_t) rd(e, ETH_MACMIIDR);
  return true;
}

static bool phy_write(const struct mg_stm32_eth *e, uint32_t phy_reg,
                      uint16_t val) {
  if (!mdio_wait(e)) return false;
  wr(e, ETH_MACMIIDR, val);
  wr(e, ETH_MACMIIAR, mdio_cmd(e, phy_reg) | MACMIIAR_MW);
  return mdio_wait(e);
}

static void setup_rings(struct mg_stm32_eth *e) {
  struct mg_stm32_eth_dma *d = e->dma;
  for (unsigned i = 0; i < MG_STM32_ETH_RX_DESCS; i++) {
    d->rx[i].des1 = RDES1_RCH | MG_STM32_ETH_BUF_SIZE;
    d->rx[i].des2 = (uint32_t) (uintptr_t) d->rxbuf[i];
    d->rx[i].des3 = (uint32_t) (uintptr_t) &d->rx[(i + 1) % MG_STM32_ETH_RX_DESCS];
    d->rx[i].des0 = RDES0_OWN; /* hand every buffer to the DMA */
  }
  for (unsigned i = 0; i < MG_STM32_ETH_TX_DESCS; i++) {
    d->tx[i].des0 = TDES0_TCH; /* owned by us until a frame is queued */
    d->tx[i].des1 = 0;
    d->tx[i].des2 = (uint32_t) (uintptr_t) d->txbuf[i];
    d->tx[i].des3 = (uint32_t) (uintptr_t) &d->tx[(i + 1) % MG_STM32_ETH_TX_DESCS];
  }
  e->rx_next = e->tx_next = 0;
  dma_barrier();
  wr(e, ETH_DMARDLAR, (uint32_t) (uintptr_t) &d->rx[0]);
  wr(e, ETH_DMATDLAR, (uint32_t) (uintptr_t) &d->tx[0]);
}

static bool stm32_eth_init(void *ctx, const uint8_t mac[6]) {
  struct mg_stm32_eth *e = (struct mg_stm32_eth *) ctx;
  uint32_t i;
  if (e == NULL || e->base == 0 || e->dma == NULL) return false;
  /* The reset completes only with the PHY's 50 MHz reference clock running. */
  wr(e, ETH_DMABMR, rd(e, ETH_DMABMR) | DMABMR_SR);
  for (i = 0; i < SPIN_LIMIT && (rd(e, ETH_DMABMR) & DMABMR_SR); i++) {
  }
  if (i == SPIN_LIMIT) {
    MG_ERROR("stm32_eth: DMA reset stuck (no RMII reference clock?)");
    return false;
  }
  uint16_t bmcr = 0;
  if (!phy_write(e, PHY_BMCR, PHY_BMCR_RESET)) {
    MG_ERROR("stm32_eth: no answer on MDIO from PHY %u", e->phy_addr);
    return false;
  }
  for (i = 0; i < SPIN_LIMIT; i++) {
    if (!phy_read(e, PHY_BMCR, &bmcr) || (bmcr & PHY_BMCR_RESET) == 0) break;
  }
  if ((bmcr & PHY_BMCR_RESET) != 0 ||
      !phy_write(e, PHY_BMCR, PHY_BMCR_AN_ENABLE | PHY_BMCR_AN_RESTART)) {
    MG_ERROR("stm32_eth: PHY %u did not come out of reset", e->phy_addr);
    return false;
  }

  wr_mac(e, ETH_MACA0HR, MACA0HR_MO | (uint32_t) mac[4] | ((uint32_t) mac[5] << 8));
  wr_mac(e, ETH_MACA0LR, (uint32_t) mac[0] | ((uint32_t) mac[1] << 8) |
                             ((uint32_t) mac[2] << 16) | ((uint32_t) mac[3] << 24));
  wr_mac(e, ETH_MACFFR, MACFFR_PERFECT_AND_BROADCAST);
  /* 100 Mbit/s full duplex until poll() learns what was negotiated. */
  wr_mac(e, ETH_MACCR, rd(e, ETH_MACCR) | MACCR_FES | MACCR_DM);

  wr(e, ETH_DMABMR, DMABMR_AAB | DMABMR_USP | DMABMR_RDP_32 | DMABMR_FB |
                        DMABMR_PBL_32);
  setup_rings(e);
  wr(e, ETH_DMASR, DMASR_ALL);
  wr(e, ETH_DMAIER, e->use_irq ? (DMAIER_NISE | DMAIER_RIE) : 0);

  /* Start order from the reference manual: MAC TX, flush, DMA TX, MAC RX,
   * DMA RX. */
  wr_mac(e, ETH_MACCR, rd(e, ETH_MACCR) | MACCR_TE);
  wr_mac(e, ETH_DMAOMR, DMAOMR_TSF | DMAOMR_RSF | DMAOMR_FTF);
  for (i = 0; i < SPIN_LIMIT && (rd(e, ETH_DMAOMR) & DMAOMR_FTF); i++) {
  }
  wr_mac(e, ETH_DMAOMR, rd(e, ETH_DMAOMR) | DMAOMR_ST);
  wr_mac(e, ETH_MACCR, rd(e, ETH_MACCR) | MACCR_RE);
  wr_mac(e, ETH_DMAOMR, rd(e, ETH_DMAOMR) | DMAOMR_SR);
  e->link_up = false;
  e->link_checked = 0;
  return true;
}

static bool stm32_eth_tx(void *ctx, const void *frame, size_t len) {
  struct mg_stm32_eth *e = (struct mg_stm32_eth *) ctx;
  struct mg_stm32_eth_desc *d = &e->dma->tx[e->tx_next];
  if (len < ETH_HDR_LEN || len > ETH_MAX_FRAME) return false;
  if (d->des0 & TDES0_OWN) { /* ring full: the DMA is still sending */
    e->tx_errors++;
    return false;
  }
  if (d->des0 & TDES0_ES) e->tx_errors++; /* the last use of it failed */
  memcpy(e->dma->txbuf[e->tx_next], frame, len);
  d->des1 = (uint32_t) len & TDES1_TBS1_MASK;
  dma_barrier();
  d->des0 = TDES0_OWN | TDES0_FS | TDES0_LS | TDES0_TCH | TDES0_IC;
  dma_barrier();
  /* Wake the DMA if it suspended on an empty ring. */
  if (rd(e, ETH_DMASR) & DMASR_TBUS) wr(e, ETH_DMASR, DMASR_TBUS);
  wr(e, ETH_DMATPDR, 0);
  e->tx_next = (uint8_t) ((e->tx_next + 1u) % MG_STM32_ETH_TX_DESCS);
  e->tx_frames++;
  return true;
}

static size_t stm32_eth_rx(void *ctx, void *buf, size_t len) {
  struct mg_stm32_eth *e = (struct mg_stm32_eth *) ctx;
  size_t result = 0;
  /* At most one lap of the ring per call: skip bad frames, stop at the
   * first good one or at a descriptor the DMA still owns. */
  for (unsigned n = 0; n < MG_STM32_ETH_RX_DESCS && result == 0; n++) {
    struct mg_stm32_eth_desc *d = &e->dma->rx[e->rx_next];
    uint32_t sts = d->des0;
    if (sts & RDES0_OWN) break;
    dma_barrier(); /* read the buffer only after seeing OWN clear */
    uint32_t flen = RDES0_FL(sts);
    bool ok = (sts & (RDES0_ES | RDES0_FS | RDES0_LS)) == (RDES0_FS | RDES0_LS) &&
              flen >= ETH_HDR_LEN + ETH_FCS_LEN && flen - ETH_FCS_LEN <= len;
    if (ok) {
      result = flen - ETH_FCS_LEN;
      memcpy(buf, e->dma->rxbuf[e->rx_next], result);
      e->rx_frames++;
    } else {
      e->rx_errors++;
    }
    dma_barrier();
    d->des0 = RDES0_OWN; /* give the buffer back */
    e->rx_next = (uint8_t) ((e->rx_next + 1u) % MG_STM32_ETH_RX_DESCS);
  }
  if (rd(e, ETH_DMASR) & DMASR_RBUS) { /* the DMA ran out of buffers: resume */
    wr(e, ETH_DMASR, DMASR_RBUS);
    wr(e, ETH_DMARPDR, 0);
  }
  return result;
}

/* Sets the MAC to the best mode both link partners advertised. */
static void apply_negotiated_mode(struct mg_stm32_eth *e) {
  uint16_t ours, theirs;
  if (!phy_read(e, PHY_ANAR, &ours) || !phy_read(e, PHY_ANLPAR, &theirs)) return;
  uint16_t common = (uint16_t) (ours & theirs);
  uint32_t cr = rd(e, ETH_MACCR) & ~(MACCR_FES | MACCR_DM);
  if (common & PHY_AN_100_FD) {
    cr |= MACCR_FES | MACCR_DM;
  } else if (common & PHY_AN_100_HD) {
    cr |= MACCR_FES;
  } else if (common & PHY_AN_10_FD) {
    cr |= MACCR_DM;
  } /* else 10 Mbit/s half duplex */
  wr_mac(e, ETH_MACCR, cr);
  MG_INFO("stm32_eth: link up, %s Mbit/s %s duplex",
          (cr & MACCR_FES) ? "100" : "10", (cr & MACCR_DM) ? "full" : "half");
}

static bool stm32_eth_poll(void *ctx) {
  struct mg_stm32_eth *e = (struct mg_stm32_eth *) ctx;
  uint64_t now = mg_millis();
  if (e->link_checked != 0 && now - e->link_checked < LINK_CHECK_MS) {
    return e->link_up;
  }
  e->link_checked = now == 0 ? 1 : now;
  uint16_t bmsr;
  /* BMSR's link bit latches low: the second read gives the current state. */
  bool up = phy_read(e, PHY_BMSR, &bmsr) && phy_read(e, PHY_BMSR, &bmsr) &&
            (bmsr & PHY_BMSR_LINK_UP) != 0;
  if (up && !e->link_up) apply_negotiated_mode(e);
  if (!up && e->link_up) MG_INFO("stm32_eth: link down");
  e->link_up = up;
  return up;
}

void mg_stm32_eth_isr(struct mg_stm32_eth *e) {
  wr(e, ETH_DMASR, DMASR_RS | DMASR_NIS);
}

const struct mg_driver mg_driver_stm32_eth = {
    .name = "stm32_eth",
    .init = stm32_eth_init,
    .tx = stm32_eth_tx,
    .rx = stm32_eth_rx,
    .poll = stm32_eth_poll,
};

#endif /* MG_ENABLE_DRIVER_STM32_ETH */
