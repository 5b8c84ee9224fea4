/* WIZnet W5500 in MACRAW mode (see mg_driver_w5500.h). Every wait on the
 * chip is bounded, so a missing chip or a dead bus gives an error, not a
 * hang. */
#include "mg_driver_w5500.h"

#if MG_ENABLE_DRIVER_W5500

/* ---- SPI frame: 16-bit address, control byte, data. ---- */
#define W_CTRL_BSB_SHIFT 3u       /* block select, bits 7..3 */
#define W_CTRL_WRITE (1u << 2)    /* RWB */
#define W_CTRL_OM_VDM 0u          /* variable length: CS frames the data */
#define W_HDR_LEN 3u

/* Block select: common registers, then per socket n a register block,
 * its TX buffer and its RX buffer. */
#define W_BSB_COMMON 0u
#define W_BSB_SOCK_REG(n) ((n) * 4u + 1u)
#define W_BSB_SOCK_TX(n) ((n) * 4u + 2u)
#define W_BSB_SOCK_RX(n) ((n) * 4u + 3u)
#define W_SOCKETS 8u

/* ---- Common registers. ---- */
#define W_MR 0x0000u
#define W_SHAR 0x0009u            /* 6 bytes: source MAC address */
#define W_PHYCFGR 0x002Eu
#define W_VERSIONR 0x0039u
#define W_MR_RST (1u << 7)        /* software reset, self-clearing */
#define W_PHYCFGR_LNK (1u << 0)
#define W_VERSION 0x04u

/* ---- Socket registers. ---- */
#define S_MR 0x0000u
#define S_CR 0x0001u
#define S_SR 0x0003u
#define S_RXBUF_SIZE 0x001Eu
#define S_TXBUF_SIZE 0x001Fu
#define S_TX_FSR 0x0020u
#define S_TX_RD 0x0022u
#define S_TX_WR 0x0024u
#define S_RX_RSR 0x0026u
#define S_RX_RD 0x0028u
#define S_MR_MACRAW 0x04u
#define S_MR_MFEN (1u << 7)       /* MAC filter: own address + broadcast/multicast */
#define S_CR_OPEN 0x01u
#define S_CR_CLOSE 0x10u
#define S_CR_SEND 0x20u
#define S_CR_RECV 0x40u
#define S_SR_CLOSED 0x00u
#define S_SR_MACRAW 0x42u

/* Socket 0 gets all 16 KiB of TX and of RX memory; the others none. */
#define W_SOCK 0u
#define W_BUF_KIB 16u
#define W_BUF_SIZE (W_BUF_KIB * 1024u)
#define W_BUF_MASK (W_BUF_SIZE - 1u)
#define W_RX_HDR_LEN 2u           /* MACRAW: big-endian length incl. itself */

#define ETH_HDR_LEN 14u
#define ETH_MIN_FRAME 60u         /* without FCS; runts are padded */
#define ETH_MAX_FRAME 1514u       /* without FCS, no VLAN tag */

#define W_SPIN_LIMIT 10000u       /* register polls before giving up */
#define W_RX_FRAMES_PER_CALL 8u   /* bad frames skipped per rx() call */
#define W_LINK_CHECK_MS 500u

static void xfer(struct mg_w5500 *w, uint8_t bsb, uint16_t addr, bool write,
                 const uint8_t *tx, uint8_t *rx, size_t len) {
  uint8_t hdr[W_HDR_LEN] = {
      (uint8_t) (addr >> 8), (uint8_t) addr,
      (uint8_t) ((bsb << W_CTRL_BSB_SHIFT) | (write ? W_CTRL_WRITE : 0u) |
                 W_CTRL_OM_VDM)};
  w->spi_begin(w->spi);
  w->spi_txn(w->spi, hdr, NULL, sizeof(hdr));
  w->spi_txn(w->spi, tx, rx, len);
  w->spi_end(w->spi);
}

static void write_bytes(struct mg_w5500 *w, uint8_t bsb, uint16_t addr,
                        const uint8_t *buf, size_t len) {
  xfer(w, bsb, addr, true, buf, NULL, len);
}

static void read_bytes(struct mg_w5500 *w, uint8_t bsb, uint16_t addr,
                       uint8_t *buf, size_t len) {
  xfer(w, bsb, addr, false, NULL, buf, len);
}

static uint8_t read8(struct mg_w5500 *w, uint8_t bsb, uint16_t addr) {
  uint8_t v = 0;
  read_bytes(w, bsb, addr, &v, 1);
  return v;
}

static void write8(struct mg_w5500 *w, uint8_t bsb, uint16_t addr, uint8_t v) {
  write_bytes(w, bsb, addr, &v, 1);
}

static uint16_t read16_once(struct mg_w5500 *w, uint8_t bsb, uint16_t addr) {
  uint8_t b[2] = {0, 0};
  read_bytes(w, bsb, addr, b, sizeof(b));
  return (uint16_t) ((b[0] << 8) | b[1]);
}

/* The chip updates 16-bit counters while we read them byte by byte: the
 * datasheet's advice is to read until two reads agree. */
static uint16_t read16(struct mg_w5500 *w, uint8_t bsb, uint16_t addr) {
  uint16_t prev = read16_once(w, bsb, addr);
  for (uint32_t i = 0; i < W_SPIN_LIMIT; i++) {
    uint16_t v = read16_once(w, bsb, addr);
    if (v == prev) return v;
    prev = v;
  }
  return prev;
}

static void write16(struct mg_w5500 *w, uint8_t bsb, uint16_t addr, uint16_t v) {
  uint8_t b[2] = {(uint8_t) (v >> 8), (uint8_t) v};
  write_bytes(w, bsb, addr, b, sizeof(b));
}

/* Issues a socket command; the chip clears Sn_CR once it took it. */
static bool sock_cmd(struct mg_w5500 *w, uint8_t cmd) {
  write8(w, W_BSB_SOCK_REG(W_SOCK), S_CR, cmd);
  for (uint32_t i = 0; i < W_SPIN_LIMIT; i++) {
    if (read8(w, W_BSB_SOCK_REG(W_SOCK), S_CR) == 0) return true;
  }
  return false;
}

/* Buffer access at a ring offset: split where the ring wraps, so nothing
 * depends on how the chip maps offsets past the end. */
static void buf_io(struct mg_w5500 *w, uint8_t bsb, uint16_t ptr, bool write,
                   const uint8_t *tx, uint8_t *rx, size_t len) {
  size_t off = ptr & W_BUF_MASK;
  size_t first = len < W_BUF_SIZE - off ? len : W_BUF_SIZE - off;
  xfer(w, bsb, (uint16_t) off, write, tx, rx, first);
  if (first < len) {
    xfer(w, bsb, 0, write, tx == NULL ? NULL : tx + first,
         rx == NULL ? NULL : rx + first, len - first);
  }
}

static bool sock_open(struct mg_w5500 *w) {
  uint8_t reg = W_BSB_SOCK_REG(W_SOCK);
  if (!sock_cmd(w, S_CR_CLOSE)) return false;
  write8(w, reg, S_MR, S_MR_MACRAW | S_MR_MFEN);
  if (!sock_cmd(w, S_CR_OPEN)) return false;
  for (uint32_t i = 0; i < W_SPIN_LIMIT; i++) {
    if (read8(w, reg, S_SR) == S_SR_MACRAW) return true;
  }
  return false;
}

static bool w5500_init(void *ctx, const uint8_t mac[6]) {
  struct mg_w5500 *w = (struct mg_w5500 *) ctx;
  if (w == NULL || w->spi_begin == NULL || w->spi_end == NULL || w->spi_txn == NULL) {
    return false;
  }
  uint8_t ver = read8(w, W_BSB_COMMON, W_VERSIONR);
  if (ver != W_VERSION) {
    MG_ERROR("w5500: no chip (VERSIONR %x, want %x)", (unsigned) ver, W_VERSION);
    return false;
  }
  write8(w, W_BSB_COMMON, W_MR, W_MR_RST);
  uint32_t i;
  for (i = 0; i < W_SPIN_LIMIT; i++) {
    if ((read8(w, W_BSB_COMMON, W_MR) & W_MR_RST) == 0) break;
  }
  if (i == W_SPIN_LIMIT) {
    MG_ERROR("w5500: software reset did not complete");
    return false;
  }
  write_bytes(w, W_BSB_COMMON, W_SHAR, mac, 6);
  for (uint8_t n = 0; n < W_SOCKETS; n++) {
    uint8_t kib = n == W_SOCK ? (uint8_t) W_BUF_KIB : 0;
    write8(w, (uint8_t) W_BSB_SOCK_REG(n), S_RXBUF_SIZE, kib);
    write8(w, (uint8_t) W_BSB_SOCK_REG(n), S_TXBUF_SIZE, kib);
  }
  if (!sock_open(w)) {
    MG_ERROR("w5500: socket 0 did not open in MACRAW mode");
    return false;
  }
  w->link_checked = 0;
  w->link_up = false;
  return true;
}

static bool w5500_tx(void *ctx, const void *frame, size_t len) {
  static const uint8_t k_pad[ETH_MIN_FRAME] = {0};
  struct mg_w5500 *w = (struct mg_w5500 *) ctx;
  uint8_t reg = W_BSB_SOCK_REG(W_SOCK);
  if (len < ETH_HDR_LEN || len > ETH_MAX_FRAME) return false;
  size_t wire = len < ETH_MIN_FRAME ? ETH_MIN_FRAME : len;
  if (read16(w, reg, S_TX_FSR) < wire) {
    w->tx_errors++; /* previous frames still going out */
    return false;
  }
  uint16_t wr = read16(w, reg, S_TX_WR);
  buf_io(w, W_BSB_SOCK_TX(W_SOCK), wr, true, (const uint8_t *) frame, NULL, len);
  if (wire > len) {
    buf_io(w, W_BSB_SOCK_TX(W_SOCK), (uint16_t) (wr + len), true, k_pad, NULL,
           wire - len);
  }
  write16(w, reg, S_TX_WR, (uint16_t) (wr + wire));
  if (!sock_cmd(w, S_CR_SEND)) {
    w->tx_errors++;
    return false;
  }
  w->tx_frames++;
  return true;
}

static size_t w5500_rx(void *ctx, void *buf, size_t len) {
  struct mg_w5500 *w = (struct mg_w5500 *) ctx;
  uint8_t reg = W_BSB_SOCK_REG(W_SOCK);
  for (uint32_t k = 0; k < W_RX_FRAMES_PER_CALL; k++) {
    uint16_t avail = read16(w, reg, S_RX_RSR);
    if (avail < W_RX_HDR_LEN) return 0;
    uint16_t rd = read16(w, reg, S_RX_RD);
    uint8_t hdr[W_RX_HDR_LEN];
    buf_io(w, W_BSB_SOCK_RX(W_SOCK), rd, false, NULL, hdr, sizeof(hdr));
    uint16_t total = (uint16_t) ((hdr[0] << 8) | hdr[1]);
    if (total <= W_RX_HDR_LEN || total > avail) {
      /* A header that does not fit what the chip holds: the ring is out of
       * step. The datasheet's remedy is to close and re-open the socket. */
      w->rx_errors++;
      w->reopens++;
      if (!sock_open(w)) w->link_up = false;
      return 0;
    }
    size_t n = (size_t) total - W_RX_HDR_LEN;
    bool keep = n >= ETH_HDR_LEN && n <= len;
    if (keep) {
      buf_io(w, W_BSB_SOCK_RX(W_SOCK), (uint16_t) (rd + W_RX_HDR_LEN), false,
             NULL, (uint8_t *) buf, n);
    }
    write16(w, reg, S_RX_RD, (uint16_t) (rd + total));
    if (!sock_cmd(w, S_CR_RECV)) {
      w->rx_errors++;
      return 0;
    }
    if (keep) {
      w->rx_frames++;
      return n;
    }
    w->rx_errors++; /* runt, or bigger than the caller's buffer: dropped */
  }
  return 0;
}

static bool w5500_poll(void *ctx) {
  struct mg_w5500 *w = (struct mg_w5500 *) ctx;
  uint64_t now = mg_millis();
  if (w->link_checked == 0 || now - w->link_checked >= W_LINK_CHECK_MS) {
    w->link_checked = now == 0 ? 1 : now;
    w->link_up = (read8(w, W_BSB_COMMON, W_PHYCFGR) & W_PHYCFGR_LNK) != 0;
  }
  return w->link_up;
}

const struct mg_driver mg_driver_w5500 = {
    .name = "w5500",
    .init = w5500_init,
    .tx = w5500_tx,
    .rx = w5500_rx,
    .poll = w5500_poll,
};

#endif /* MG_ENABLE_DRIVER_W5500 */
