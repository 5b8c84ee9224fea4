/* Stellaris LM3S6965 Ethernet MAC driver (see mg_driver_stellaris_enet.h for
 * the FIFO layout). Register facts from the LM3S6965 data sheet; QEMU's
 * `stellaris_enet` model follows it, minus the PHY (see poll()). Every wait
 * on the hardware is bounded: a wedged MAC gives an error, never a hang. */
#include "mg_driver_stellaris_enet.h"

#if MG_ENABLE_DRIVER_STELLARIS_ENET

/* Register access. A host test defines SE_REG_READ / SE_REG_WRITE to route
 * the accesses into its model of the MAC; firmware gets plain MMIO. */
#ifndef SE_REG_READ
#define SE_REG_READ(e, off) (*(volatile uint32_t *) ((e)->base + (off)))
#define SE_REG_WRITE(e, off, v) \
  (*(volatile uint32_t *) ((e)->base + (off)) = (v))
#endif

#define ETH_HDR_LEN 14u
#define ETH_MAX_FRAME 1514u /* without FCS, no VLAN tag */
#define SE_SPIN_LIMIT 100000u
#define SE_LINK_CHECK_MS 500u

static inline uint32_t rd(const struct mg_stellaris_enet *e, uint32_t off) {
  return SE_REG_READ(e, off);
}
static inline void wr(const struct mg_stellaris_enet *e, uint32_t off,
                      uint32_t v) {
  SE_REG_WRITE(e, off, v);
}

static bool wait_clear(const struct mg_stellaris_enet *e, uint32_t off,
                       uint32_t mask) {
  for (uint32_t i = 0; i < SE_SPIN_LIMIT; i++) {
    if ((rd(e, off) & mask) == 0) return true;
  }
  return false;
}

/* ---- MII management of the internal PHY. ---- */
static bool phy_read(const struct mg_stellaris_enet *e, uint32_t reg,
                     uint16_t *val) {
  if (!wait_clear(e, SE_MACMCTL, SE_MCTL_START)) return false;
  wr(e, SE_MACMCTL, ((reg << SE_MCTL_REGADR_SHIFT) & SE_MCTL_REGADR_MASK) |
                        SE_MCTL_START);
  if (!wait_clear(e, SE_MACMCTL, SE_MCTL_START)) return false;
  *val = (uint16_t) rd(e, SE_MACMRXD);
  return true;
}

static bool phy_write(const struct mg_stellaris_enet *e, uint32_t reg,
                      uint16_t val) {
  if (!wait_clear(e, SE_MACMCTL, SE_MCTL_START)) return false;
  wr(e, SE_MACMTXD, val);
  wr(e, SE_MACMCTL, ((reg << SE_MCTL_REGADR_SHIFT) & SE_MCTL_REGADR_MASK) |
                        SE_MCTL_WRITE | SE_MCTL_START);
  return wait_clear(e, SE_MACMCTL, SE_MCTL_START);
}

/* Empties the RX FIFO; the receiver is off while it happens, as the data
 * sheet asks, then back to `rctl`. */
static void rx_fifo_reset(struct mg_stellaris_enet *e, uint32_t rctl) {
  wr(e, SE_MACRCTL, rctl & ~SE_RCTL_RXEN);
  wr(e, SE_MACRCTL, (rctl & ~SE_RCTL_RXEN) | SE_RCTL_RSTFIFO);
  wr(e, SE_MACRCTL, rctl);
}

#define SE_RCTL_RUN (SE_RCTL_RXEN | SE_RCTL_AMUL | SE_RCTL_BADCRC)

static bool se_init(void *ctx, const uint8_t mac[6]) {
  struct mg_stellaris_enet *e = (struct mg_stellaris_enet *) ctx;
  if (e == NULL || e->base == 0 || mac == NULL) return false;
  wr(e, SE_MACIM, 0);
  wr(e, SE_MACRCTL, 0);
  wr(e, SE_MACTCTL, 0);
  wr(e, SE_MACIACK, SE_INT_ALL);
  if (e->sysclk_hz != 0) {
    /* Smallest divider that keeps MDC at or under 2.5 MHz. */
    uint32_t div = (e->sysclk_hz + 2u * SE_MDC_MAX_HZ - 1u) / (2u * SE_MDC_MAX_HZ);
    if (div > 0) div--;
    wr(e, SE_MACMDV, div > SE_MACMDV_MASK ? SE_MACMDV_MASK : div);
  }
  wr(e, SE_MACIA0, (uint32_t) mac[0] | ((uint32_t) mac[1] << 8) |
                       ((uint32_t) mac[2] << 16) | ((uint32_t) mac[3] << 24));
  wr(e, SE_MACIA1, (uint32_t) mac[4] | ((uint32_t) mac[5] << 8));
  wr(e, SE_MACTHR, SE_MACTHR_OFF); /* transmit on NEWTX, whole frames */
  if (!phy_write(e, SE_PHY_MR0, SE_PHY_MR0_ANEGEN | SE_PHY_MR0_RANEG)) {
    MG_ERROR("stellaris_enet: PHY management timed out");
    return false;
  }
  rx_fifo_reset(e, SE_RCTL_RUN);
  wr(e, SE_MACTCTL, SE_TCTL_TXEN | SE_TCTL_PADEN | SE_TCTL_CRC | SE_TCTL_DUPLEX);
  wr(e, SE_MACIACK, SE_INT_ALL);
  wr(e, SE_MACIM, e->use_irq ? SE_INT_RX : 0);
  e->link_up = false;
  e->link_checked = 0;
  return true;
}

/* Bytes [from, from + 4) of the frame as one little-endian FIFO word; bytes
 * past len are 0. */
static uint32_t frame_word(const uint8_t *p, size_t len, size_t from) {
  uint32_t w = 0;
  for (uint32_t j = 0; j < 4u; j++) {
    if (from + j < len) w |= (uint32_t) p[from + j] << (8u * j);
  }
  return w;
}

static bool se_tx(void *ctx, const void *frame, size_t len) {
  struct mg_stellaris_enet *e = (struct mg_stellaris_enet *) ctx;
  const uint8_t *p = (const uint8_t *) frame;
  if (len < ETH_HDR_LEN || len > ETH_MAX_FRAME) {
    e->tx_errors++;
    return false;
  }
  /* The FIFO holds one frame: wait until the previous one has left. */
  if (!wait_clear(e, SE_MACTR, SE_MACTR_NEWTX)) {
    e->tx_errors++;
    return false;
  }
  if (rd(e, SE_MACRIS) & SE_INT_TXER) {
    e->tx_errors++; /* a previous frame failed; acking also empties the FIFO */
    wr(e, SE_MACIACK, SE_INT_TXER);
  }
  /* Word 0: payload length, then the first two bytes of the frame. */
  wr(e, SE_MACDATA, (uint32_t) (len - ETH_HDR_LEN) |
                        ((uint32_t) p[0] << 16) | ((uint32_t) p[1] << 24));
  for (size_t i = 2; i < len; i += 4) wr(e, SE_MACDATA, frame_word(p, len, i));
  wr(e, SE_MACTR, SE_MACTR_NEWTX); /* the MAC pads runts (PADEN) */
  e->tx_frames++;
  return true;
}

static size_t se_rx(void *ctx, void *buf, size_t len) {
  struct mg_stellaris_enet *e = (struct mg_stellaris_enet *) ctx;
  uint8_t *out = (uint8_t *) buf;
  bool was_reset = false;
  for (;;) {
    if ((rd(e, SE_MACNP) & SE_MACNP_MASK) == 0) {
      if (rd(e, SE_MACRIS) & SE_INT_FOV) {
        e->rx_overruns++;
        wr(e, SE_MACIACK, SE_INT_FOV);
      }
      if (!e->use_irq) return 0;
      /* Empty: acknowledge, then look again, so a frame that landed
       * between the count and the acknowledgement is not left waiting for
       * an interrupt that was just cleared. */
      wr(e, SE_MACIACK, SE_INT_RX);
      if ((rd(e, SE_MACNP) & SE_MACNP_MASK) == 0) {
        wr(e, SE_MACIM, SE_INT_RX);
        return 0;
      }
    }
    uint32_t w = rd(e, SE_MACDATA);
    uint32_t n = w & SE_RX_LEN_MASK; /* length word + frame + FCS */
    if (n < SE_RX_OVERHEAD + ETH_HDR_LEN || n > SE_FIFO_BYTES) {
      /* No frame is that short or that long: the FIFO is out of step with
       * us. Start it over rather than read garbage as frames. */
      e->rx_resets++;
      e->rx_errors++;
      rx_fifo_reset(e, SE_RCTL_RUN);
      if (was_reset) return 0; /* once per call: a broken MAC cannot spin us */
      was_reset = true;
      continue;
    }
    size_t frame_len = n - SE_RX_OVERHEAD;
    bool keep = frame_len <= len;
    uint32_t words = (n + 3u) / 4u;
    /* Byte k of the FIFO stream is frame byte k - 2 (the length word
     * first); bytes past the frame are the FCS and padding. */
    for (uint32_t i = 0;; i++) {
      if (keep) {
        for (uint32_t j = 0; j < 4u; j++) {
          size_t k = (size_t) i * 4u + j;
          if (k >= SE_RX_LEN_HDR && k - SE_RX_LEN_HDR < frame_len) {
            out[k - SE_RX_LEN_HDR] = (uint8_t) (w >> (8u * j));
          }
        }
      }
      if (i + 1u >= words) break;
      w = rd(e, SE_MACDATA);
    }
    if (keep) {
      e->rx_frames++;
      return frame_len;
    }
    e->rx_errors++; /* read out whole and dropped: larger than the buffer */
  }
}

static bool se_poll(void *ctx) {
  struct mg_stellaris_enet *e = (struct mg_stellaris_enet *) ctx;
  uint64_t now = mg_millis();
  if (e->link_checked != 0 && now - e->link_checked < SE_LINK_CHECK_MS) {
    return e->link_up;
  }
  e->link_checked = now == 0 ? 1 : now;
  uint16_t mr1;
  /* The link bit latches low: the second read gives the current state. */
  if (!phy_read(e, SE_PHY_MR1, &mr1) || !phy_read(e, SE_PHY_MR1, &mr1)) {
    e->link_up = false;
  } else if ((mr1 & SE_PHY_MR1_ABILITIES) == 0) {
    /* A real PHY always reports some ability; none means management is not
     * wired to a PHY (QEMU models no PHY: MACMRXD reads 0). The MAC moves
     * frames regardless, so the link is taken as up. */
    if (!e->phy_silent) MG_INFO("stellaris_enet: PHY silent, link assumed up");
    e->phy_silent = true;
    e->link_up = true;
  } else {
    e->phy_silent = false;
    e->link_up = (mr1 & SE_PHY_MR1_LINK) != 0;
  }
  return e->link_up;
}

void mg_stellaris_enet_isr(struct mg_stellaris_enet *e) {
  wr(e, SE_MACIM, 0);
  wr(e, SE_MACIACK, SE_INT_RX);
}

const struct mg_driver mg_driver_stellaris_enet = {
    .name = "stellaris_enet",
    .init = se_init,
    .tx = se_tx,
    .rx = se_rx,
    .poll = se_poll,
};

#endif /* MG_ENABLE_DRIVER_STELLARIS_ENET */
