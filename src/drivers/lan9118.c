/* LAN9118 Ethernet driver (see mg_driver_lan9118.h). Register facts from the
 * SMSC LAN9118 datasheet; QEMU's model follows it closely. Every wait on the
 * hardware is bounded, so a missing or wedged chip gives an error, not a
 * hang. */
#include "mg_driver_lan9118.h"

#if MG_ENABLE_DRIVER_LAN9118

/* ---- System control and status registers (byte offsets). ---- */
#define L9_RX_DATA_FIFO 0x00u   /* read port of the RX data FIFO */
#define L9_TX_DATA_FIFO 0x20u   /* write port of the TX data FIFO */
#define L9_RX_STATUS_FIFO 0x40u /* pops one RX status word */
#define L9_TX_STATUS_FIFO 0x48u /* pops one TX status word */
#define L9_ID_REV 0x50u
#define L9_IRQ_CFG 0x54u
#define L9_INT_STS 0x58u
#define L9_INT_EN 0x5Cu
#define L9_BYTE_TEST 0x64u
#define L9_FIFO_INT 0x68u
#define L9_RX_CFG 0x6Cu
#define L9_TX_CFG 0x70u
#define L9_HW_CFG 0x74u
#define L9_RX_FIFO_INF 0x7Cu
#define L9_TX_FIFO_INF 0x80u
#define L9_PMT_CTRL 0x84u
#define L9_MAC_CSR_CMD 0xA4u
#define L9_MAC_CSR_DATA 0xA8u
#define L9_E2P_CMD 0xB0u

#define L9_BYTE_TEST_VALUE 0x87654321u /* fixed pattern: proves bus width/order */
#define L9_IRQ_CFG_TYPE_PUSH_PULL (1u << 0)
#define L9_IRQ_CFG_POL_HIGH (1u << 4)
#define L9_IRQ_CFG_EN (1u << 8)
#define L9_INT_RSFL (1u << 3)            /* RX status FIFO above its level */
#define L9_INT_ALL 0xFFFFFFFFu
#define L9_FIFO_INT_RXSL_MASK 0xFFu      /* RX status level: IRQ when count > it */
#define L9_TX_CFG_TX_ON (1u << 1)
#define L9_TX_CFG_TXSAO (1u << 2)        /* TX status may overrun: never stalls TX */
#define L9_HW_CFG_SRST (1u << 0)
#define L9_HW_CFG_MBO (1u << 20)         /* "must be one" on writes */
#define L9_PMT_CTRL_READY (1u << 0)
#define L9_FIFO_INF_STATUS_USED(v) (((v) >> 16) & 0xFFu)
#define L9_TX_FIFO_INF_DATA_FREE(v) ((v) & 0xFFFFu)
#define L9_RX_STS_ERROR (1u << 15)
#define L9_RX_STS_LENGTH(v) (((v) >> 16) & 0x3FFFu) /* includes the FCS */
#define L9_TX_STS_ERROR (1u << 15)
#define L9_TX_CMD_A_FIRST_SEG (1u << 13)
#define L9_TX_CMD_A_LAST_SEG (1u << 12)
#define L9_TX_CMD_B_TAG_SHIFT 16u
#define L9_TX_CMD_WORDS 2u               /* command A and B precede the data */
#define L9_E2P_CMD_MAC_LOADED (1u << 8)
#define L9_MAC_CSR_BUSY (1u << 31)
#define L9_MAC_CSR_READ (1u << 30)

/* ---- MAC registers, reached through MAC_CSR_CMD/DATA. ---- */
#define L9_MAC_CR 1u
#define L9_MAC_ADDRH 2u
#define L9_MAC_ADDRL 3u
#define L9_MAC_MII_ACC 6u
#define L9_MAC_MII_DATA 7u
#define L9_MAC_CR_RXEN (1u << 2)
#define L9_MAC_CR_TXEN (1u << 3)
#define L9_MAC_CR_PRMS (1u << 18) /* promiscuous: QEMU resets with it set */
#define L9_MAC_CR_FDPX (1u << 20)
#define L9_MII_ACC_BUSY (1u << 0)
#define L9_MII_ACC_WRITE (1u << 1)
#define L9_MII_ACC_REG_SHIFT 6u
#define L9_MII_ACC_PHY_SHIFT 11u
#define L9_INTERNAL_PHY_ADDR 1u

/* ---- IEEE 802.3 clause 22 PHY registers. ---- */
#define PHY_BMCR 0u
#define PHY_BMSR 1u
#define PHY_BMCR_AN_RESTART (1u << 9)
#define PHY_BMCR_AN_ENABLE (1u << 12)
#define PHY_BMSR_LINK_UP (1u << 2)

/* ---- Ethernet framing. ---- */
#define ETH_MIN_FRAME 60u   /* without FCS; shorter frames are padded */
#define ETH_MAX_FRAME 1514u /* without FCS, no VLAN tag */
#define ETH_HDR_LEN 14u
#define ETH_FCS_LEN 4u

#define L9_SPIN_LIMIT 100000u     /* register polls before giving up */
#define L9_LINK_CHECK_MS 500u     /* PHY status read at most this often */

static inline volatile uint32_t *reg(const struct mg_lan9118 *e, uint32_t off) {
  return (volatile uint32_t *) (e->base + off);
}
static inline uint32_t rd(const struct mg_lan9118 *e, uint32_t off) {
  return *reg(e, off);
}
static inline void wr(const struct mg_lan9118 *e, uint32_t off, uint32_t v) {
  *reg(e, off) = v;
}

/* Waits until (register & mask) == want; false on timeout. */
static bool wait_reg(const struct mg_lan9118 *e, uint32_t off, uint32_t mask,
                     uint32_t want) {
  for (uint32_t i = 0; i < L9_SPIN_LIMIT; i++) {
    if ((rd(e, off) & mask) == want) return true;
  }
  return false;
}

static bool mac_read(const struct mg_lan9118 *e, uint32_t idx, uint32_t *val) {
  if (!wait_reg(e, L9_MAC_CSR_CMD, L9_MAC_CSR_BUSY, 0)) return false;
  wr(e, L9_MAC_CSR_CMD, L9_MAC_CSR_BUSY | L9_MAC_CSR_READ | idx);
  if (!wait_reg(e, L9_MAC_CSR_CMD, L9_MAC_CSR_BUSY, 0)) return false;
  *val = rd(e, L9_MAC_CSR_DATA);
  return true;
}

static bool mac_write(const struct mg_lan9118 *e, uint32_t idx, uint32_t val) {
  if (!wait_reg(e, L9_MAC_CSR_CMD, L9_MAC_CSR_BUSY, 0)) return false;
  wr(e, L9_MAC_CSR_DATA, val);
  wr(e, L9_MAC_CSR_CMD, L9_MAC_CSR_BUSY | idx);
  return wait_reg(e, L9_MAC_CSR_CMD, L9_MAC_CSR_BUSY, 0);
}

static bool mii_wait(const struct mg_lan9118 *e) {
  for (uint32_t i = 0; i < L9_SPIN_LIMIT; i++) {
    uint32_t v;
    if (!mac_read(e, L9_MAC_MII_ACC, &v)) return false;
    if ((v & L9_MII_ACC_BUSY) == 0) return true;
  }
  return false;
}

static uint32_t mii_cmd(uint32_t phy_reg) {
  return (L9_INTERNAL_PHY_ADDR << L9_MII_ACC_PHY_SHIFT) |
         (phy_reg << L9_MII_ACC_REG_SHIFT) | L9_MII_ACC_BUSY;
}

static bool phy_read(const struct mg_lan9118 *e, uint32_t phy_reg,
                     uint16_t *val) {
  uint32_t v;
  if (!mii_wait(e) || !mac_write(e, L9_MAC_MII_ACC, mii_cmd(phy_reg)) ||
      !mii_wait(e) || !mac_read(e, L9_MAC_MII_DATA, &v)) {
    return false;
  }
  *val = (uint16_t) v;
  return true;
}

static bool phy_write(const struct mg_lan9118 *e, uint32_t phy_reg,
                      uint16_t val) {
  return mii_wait(e) && mac_write(e, L9_MAC_MII_DATA, val) &&
         mac_write(e, L9_MAC_MII_ACC, mii_cmd(phy_reg) | L9_MII_ACC_WRITE) &&
         mii_wait(e);
}

static void drain_tx_status(struct mg_lan9118 *e) {
  while (L9_FIFO_INF_STATUS_USED(rd(e, L9_TX_FIFO_INF)) > 0) {
    if (rd(e, L9_TX_STATUS_FIFO) & L9_TX_STS_ERROR) e->tx_errors++;
  }
}

static bool lan9118_init(void *ctx, const uint8_t mac[6]) {
  struct mg_lan9118 *e = (struct mg_lan9118 *) ctx;
  if (e == NULL || e->base == 0) return false;
  if (rd(e, L9_BYTE_TEST) != L9_BYTE_TEST_VALUE) {
    MG_ERROR("lan9118 at %lx: no chip (BYTE_TEST %lx)", (unsigned long) e->base,
             (unsigned long) rd(e, L9_BYTE_TEST));
    return false;
  }
  wr(e, L9_HW_CFG, L9_HW_CFG_MBO | L9_HW_CFG_SRST);
  if (!wait_reg(e, L9_HW_CFG, L9_HW_CFG_SRST, 0) ||
      !wait_reg(e, L9_PMT_CTRL, L9_PMT_CTRL_READY, L9_PMT_CTRL_READY)) {
    MG_ERROR("lan9118: soft reset did not complete");
    return false;
  }
  uint32_t lo = (uint32_t) mac[0] | ((uint32_t) mac[1] << 8) |
                ((uint32_t) mac[2] << 16) | ((uint32_t) mac[3] << 24);
  uint32_t hi = (uint32_t) mac[4] | ((uint32_t) mac[5] << 8);
  bool ok = mac_write(e, L9_MAC_ADDRL, lo) && mac_write(e, L9_MAC_ADDRH, hi) &&
            phy_write(e, PHY_BMCR, PHY_BMCR_AN_ENABLE | PHY_BMCR_AN_RESTART);
  if (!ok) {
    MG_ERROR("lan9118: MAC/PHY register access timed out");
    return false;
  }
  wr(e, L9_FIFO_INT, rd(e, L9_FIFO_INT) & ~L9_FIFO_INT_RXSL_MASK);
  wr(e, L9_RX_CFG, 0); /* no offset, 4-byte end alignment */
  wr(e, L9_TX_CFG, L9_TX_CFG_TX_ON | L9_TX_CFG_TXSAO);
  /* Perfect filtering on our address plus broadcast: PRMS cleared. */
  if (!mac_write(e, L9_MAC_CR, L9_MAC_CR_TXEN | L9_MAC_CR_RXEN | L9_MAC_CR_FDPX)) {
    return false;
  }
  wr(e, L9_INT_STS, L9_INT_ALL);
  wr(e, L9_INT_EN, e->use_irq ? L9_INT_RSFL : 0);
  /* Both polarity and type bits, else the line idles asserted. */
  wr(e, L9_IRQ_CFG, e->use_irq ? (L9_IRQ_CFG_EN | L9_IRQ_CFG_POL_HIGH |
                                  L9_IRQ_CFG_TYPE_PUSH_PULL)
                               : 0);
  e->link_checked = 0;
  e->link_up = false;
  MG_DEBUG("lan9118 at %lx: id/rev %lx", (unsigned long) e->base,
           (unsigned long) rd(e, L9_ID_REV));
  return true;
}

static bool lan9118_tx(void *ctx, const void *frame, size_t len) {
  struct mg_lan9118 *e = (struct mg_lan9118 *) ctx;
  const uint8_t *p = (const uint8_t *) frame;
  if (len < ETH_HDR_LEN || len > ETH_MAX_FRAME) return false;
  /* The MAC does not pad runts on every model (QEMU does not): do it here. */
  uint32_t wire = len < ETH_MIN_FRAME ? ETH_MIN_FRAME : (uint32_t) len;
  uint32_t words = (wire + 3u) / 4u;
  uint32_t spins = 0;
  while (L9_TX_FIFO_INF_DATA_FREE(rd(e, L9_TX_FIFO_INF)) <
         4u * (words + L9_TX_CMD_WORDS)) {
    if (++spins >= L9_SPIN_LIMIT) {
      e->tx_errors++;
      return false;
    }
  }
  e->tx_tag++;
  wr(e, L9_TX_DATA_FIFO, L9_TX_CMD_A_FIRST_SEG | L9_TX_CMD_A_LAST_SEG | wire);
  wr(e, L9_TX_DATA_FIFO, ((uint32_t) e->tx_tag << L9_TX_CMD_B_TAG_SHIFT) | wire);
  for (uint32_t i = 0; i < words; i++) {
    uint32_t w = 0;
    for (uint32_t j = 0; j < 4u; j++) {
      size_t k = (size_t) i * 4u + j;
      if (k < len) w |= (uint32_t) p[k] << (8u * j); /* bytes past len: pad 0 */
    }
    wr(e, L9_TX_DATA_FIFO, w);
  }
  e->tx_frames++;
  drain_tx_status(e);
  return true;
}

static size_t lan9118_rx(void *ctx, void *buf, size_t len) {
  struct mg_lan9118 *e = (struct mg_lan9118 *) ctx;
  uint8_t *out = (uint8_t *) buf;
  while (L9_FIFO_INF_STATUS_USED(rd(e, L9_RX_FIFO_INF)) > 0) {
    uint32_t sts = rd(e, L9_RX_STATUS_FIFO);
    uint32_t n = L9_RX_STS_LENGTH(sts), words = (n + 3u) / 4u;
    /* Bad or oversized frames are read out and dropped: the data FIFO
     * must always be drained by exactly the frame's words. */
    bool keep = (sts & L9_RX_STS_ERROR) == 0 &&
                n >= ETH_HDR_LEN + ETH_FCS_LEN && n - ETH_FCS_LEN <= len;
    size_t frame_len = keep ? n - ETH_FCS_LEN : 0;
    for (uint32_t i = 0; i < words; i++) {
      uint32_t w = rd(e, L9_RX_DATA_FIFO);
      for (uint32_t j = 0; j < 4u; j++) {
        size_t k = (size_t) i * 4u + j;
        if (k < frame_len) out[k] = (uint8_t) (w >> (8u * j));
      }
    }
    if (keep) {
      e->rx_frames++;
      return frame_len;
    }
    e->rx_errors++;
  }
  if (e->use_irq) {
    /* FIFO empty: acknowledge and re-arm the receive interrupt. */
    wr(e, L9_INT_STS, L9_INT_RSFL);
    wr(e, L9_INT_EN, L9_INT_RSFL);
  }
  return 0;
}

static bool lan9118_poll(void *ctx) {
  struct mg_lan9118 *e = (struct mg_lan9118 *) ctx;
  drain_tx_status(e);
  uint64_t now = mg_millis();
  if (e->link_checked == 0 || now - e->link_checked >= L9_LINK_CHECK_MS) {
    uint16_t bmsr;
    e->link_checked = now == 0 ? 1 : now;
    /* BMSR's link bit latches low: the second read gives the current state. */
    if (phy_read(e, PHY_BMSR, &bmsr) && phy_read(e, PHY_BMSR, &bmsr)) {
      e->link_up = (bmsr & PHY_BMSR_LINK_UP) != 0;
    } else {
      e->link_up = false;
    }
  }
  return e->link_up;
}

bool mg_lan9118_eeprom_mac(const struct mg_lan9118 *e, uint8_t mac[6]) {
  uint32_t lo, hi;
  if (e == NULL || e->base == 0 || rd(e, L9_BYTE_TEST) != L9_BYTE_TEST_VALUE ||
      (rd(e, L9_E2P_CMD) & L9_E2P_CMD_MAC_LOADED) == 0 ||
      !mac_read(e, L9_MAC_ADDRL, &lo) || !mac_read(e, L9_MAC_ADDRH, &hi)) {
    return false;
  }
  uint8_t m[6] = {(uint8_t) lo, (uint8_t) (lo >> 8), (uint8_t) (lo >> 16),
                  (uint8_t) (lo >> 24), (uint8_t) hi, (uint8_t) (hi >> 8)};
  bool all_zero = (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
  if (all_zero || (m[0] & 1u) != 0) return false; /* unset, or multicast */
  for (int i = 0; i < 6; i++) mac[i] = m[i];
  return true;
}

void mg_lan9118_isr(struct mg_lan9118 *e) {
  wr(e, L9_INT_EN, 0);
  wr(e, L9_INT_STS, L9_INT_RSFL);
}

const struct mg_driver mg_driver_lan9118 = {
    .name = "lan9118",
    .init = lan9118_init,
    .tx = lan9118_tx,
    .rx = lan9118_rx,
    .poll = lan9118_poll,
};

#endif /* MG_ENABLE_DRIVER_LAN9118 */
