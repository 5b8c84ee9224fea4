/* W5500 MACRAW driver against a simulated chip: the SPI bytes the driver
 * sends are decoded frame by frame (address, control byte, data) into reads
 * and writes of a register and buffer model, and socket commands act on the
 * model the way the datasheet describes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MG_ENABLE_DRIVER_W5500 1
#include "../../src/drivers/w5500.c"
#include "mg_test.h"

#define BUF 16384u
#define SOCK_REGS 0x30u

struct chip {
  uint8_t version;
  uint8_t common[0x40];
  uint8_t sock[8][SOCK_REGS];
  uint8_t txbuf[BUF], rxbuf[BUF];
  uint16_t tx_rd, rx_wr;   /* chip-side pointers */
  /* SPI decoding. */
  bool selected;
  size_t pos;              /* byte index in the current frame */
  uint16_t addr;
  uint8_t ctrl;
  int protocol_errors;     /* bytes outside a CS frame, bad OM bits */
  /* What the chip did. */
  uint8_t sent[4][1600];
  size_t sent_len[4], n_sent;
  int sends, recvs, opens;
  int tear_rsr;            /* next RX_RSR reads return a torn value */
};

static uint16_t get16(const uint8_t *p) {
  return (uint16_t) ((p[0] << 8) | p[1]);
}
static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

/* Registers computed from the pointers whenever they are read. */
static void refresh(struct chip *c) {
  uint8_t *s = c->sock[0];
  put16(s + S_TX_FSR, (uint16_t) (BUF - (uint16_t) (get16(s + S_TX_WR) - c->tx_rd)));
  put16(s + S_TX_RD, c->tx_rd);
  put16(s + S_RX_RSR, (uint16_t) (c->rx_wr - get16(s + S_RX_RD)));
}

static void command(struct chip *c, uint8_t cmd) {
  uint8_t *s = c->sock[0];
  if (cmd == S_CR_OPEN) {
    c->opens++;
    s[S_SR] = (s[S_MR] & 0x0Fu) == S_MR_MACRAW ? S_SR_MACRAW : 0x00;
    c->tx_rd = 0;
    c->rx_wr = 0;
    put16(s + S_TX_WR, 0);
    put16(s + S_RX_RD, 0);
  } else if (cmd == S_CR_CLOSE) {
    s[S_SR] = 0;
  } else if (cmd == S_CR_SEND && s[S_SR] == S_SR_MACRAW) {
    uint16_t wr = get16(s + S_TX_WR), n = (uint16_t) (wr - c->tx_rd);
    if (c->n_sent < 4 && n <= sizeof(c->sent[0])) {
      for (uint16_t i = 0; i < n; i++) {
        c->sent[c->n_sent][i] = c->txbuf[(uint16_t) (c->tx_rd + i) & (BUF - 1)];
      }
      c->sent_len[c->n_sent++] = n;
    }
    c->tx_rd = wr;
    c->sends++;
  } else if (cmd == S_CR_RECV) {
    c->recvs++;
  }
  s[S_CR] = 0; /* command taken */
}

static uint8_t *cell(struct chip *c, uint8_t bsb, uint16_t addr) {
  if (bsb == W_BSB_COMMON) return addr < sizeof(c->common) ? &c->common[addr] : NULL;
  if (bsb == W_BSB_SOCK_REG(0)) return addr < SOCK_REGS ? &c->sock[0][addr] : NULL;
  /* Buffer offsets wrap at the socket's buffer size (16 KiB as set). */
  if (bsb == W_BSB_SOCK_TX(0)) return &c->txbuf[addr & (BUF - 1)];
  if (bsb == W_BSB_SOCK_RX(0)) return &c->rxbuf[addr & (BUF - 1)];
  for (uint8_t n = 1; n < 8; n++) {
    if (bsb == W_BSB_SOCK_REG(n)) return addr < SOCK_REGS ? &c->sock[n][addr] : NULL;
  }
  return NULL;
}

static uint8_t spi_byte(struct chip *c, uint8_t in) {
  if (!c->selected) {
    c->protocol_errors++;
    return 0;
  }
  size_t pos = c->pos++;
  if (pos == 0) c->addr = (uint16_t) (in << 8);
  if (pos == 1) c->addr |= in;
  if (pos == 2) {
    c->ctrl = in;
    if ((in & 0x03u) != W_CTRL_OM_VDM) c->protocol_errors++;
  }
  if (pos < W_HDR_LEN) return 0;
  uint8_t bsb = (uint8_t) (c->ctrl >> W_CTRL_BSB_SHIFT);
  uint16_t a = c->addr++;
  uint8_t *p = cell(c, bsb, a);
  if (p == NULL) {
    c->protocol_errors++;
    return 0;
  }
  if (c->ctrl & W_CTRL_WRITE) {
    if (bsb == W_BSB_COMMON && a == W_MR && (in & W_MR_RST)) {
      memset(c->common, 0, sizeof(c->common)); /* reset, self-clearing */
      return 0;
    }
    *p = in;
    if (bsb == W_BSB_SOCK_REG(0) && a == S_CR) command(c, in);
    return 0;
  }
  if (bsb == W_BSB_COMMON && a == W_VERSIONR) return c->version;
  if (bsb == W_BSB_SOCK_REG(0)) {
    refresh(c);
    if (a == S_RX_RSR && c->tear_rsr > 0) {
      c->tear_rsr--;
      return 0x00; /* high byte caught mid-update: looks short */
    }
  }
  return *p;
}

static void m_begin(void *spi) {
  struct chip *c = (struct chip *) spi;
  if (c->selected) c->protocol_errors++;
  c->selected = true;
  c->pos = 0;
}
static void m_end(void *spi) {
  struct chip *c = (struct chip *) spi;
  if (!c->selected) c->protocol_errors++;
  c->selected = false;
}
static void m_txn(void *spi, const uint8_t *tx, uint8_t *rx, size_t len) {
  struct chip *c = (struct chip *) spi;
  for (size_t i = 0; i < len; i++) {
    uint8_t r = spi_byte(c, tx ? tx[i] : 0);
    if (rx) rx[i] = r;
  }
}

/* What the network does: a frame arrives in the RX ring with its header. */
static void queue_rx(struct chip *c, const uint8_t *frame, uint16_t len) {
  uint16_t total = (uint16_t) (len + W_RX_HDR_LEN);
  c->rxbuf[c->rx_wr & (BUF - 1)] = (uint8_t) (total >> 8);
  c->rxbuf[(uint16_t) (c->rx_wr + 1) & (BUF - 1)] = (uint8_t) total;
  for (uint16_t i = 0; i < len; i++) {
    c->rxbuf[(uint16_t) (c->rx_wr + 2 + i) & (BUF - 1)] = frame[i];
  }
  c->rx_wr = (uint16_t) (c->rx_wr + total);
}

static const uint8_t k_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

static struct chip *new_chip(struct mg_w5500 *w) {
  struct chip *c = (struct chip *) calloc(1, sizeof(*c));
  c->version = W_VERSION;
  memset(c->sock, 0xA5, sizeof(c->sock)); /* junk until the driver sets it */
  memset(w, 0, sizeof(*w));
  w->spi = c;
  w->spi_begin = m_begin;
  w->spi_end = m_end;
  w->spi_txn = m_txn;
  return c;
}

static void fill(uint8_t *f, size_t len, uint8_t seed) {
  for (size_t i = 0; i < len; i++) f[i] = (uint8_t) (seed + i * 7u);
}

static void test_init(void) {
  struct mg_w5500 w;
  struct chip *c = new_chip(&w);
  CHECK(mg_driver_w5500.init(&w, k_mac));
  CHECK(memcmp(c->common + W_SHAR, k_mac, 6) == 0);
  CHECK(c->sock[0][S_RXBUF_SIZE] == 16 && c->sock[0][S_TXBUF_SIZE] == 16);
  for (int n = 1; n < 8; n++) CHECK(c->sock[n][S_RXBUF_SIZE] == 0 && c->sock[n][S_TXBUF_SIZE] == 0);
  CHECK(c->sock[0][S_MR] == (S_MR_MACRAW | S_MR_MFEN));
  CHECK(c->sock[0][S_SR] == S_SR_MACRAW);
  CHECK(c->opens == 1);
  CHECK(c->protocol_errors == 0 && !c->selected);
  /* Link follows PHYCFGR.LNK. */
  c->common[W_PHYCFGR] = W_PHYCFGR_LNK;
  CHECK(mg_driver_w5500.poll(&w));
  free(c);
}

static void test_bad_version(void) {
  struct mg_w5500 w;
  struct chip *c = new_chip(&w);
  c->version = 0xFF; /* nothing on the bus reads as all ones */
  CHECK(!mg_driver_w5500.init(&w, k_mac));
  CHECK(c->opens == 0);
  c->version = 0x03;
  CHECK(!mg_driver_w5500.init(&w, k_mac));
  struct mg_w5500 none;
  memset(&none, 0, sizeof(none));
  CHECK(!mg_driver_w5500.init(&none, k_mac)); /* no SPI functions */
  free(c);
}

static void test_tx(void) {
  struct mg_w5500 w;
  struct chip *c = new_chip(&w);
  CHECK(mg_driver_w5500.init(&w, k_mac));
  uint8_t f[1514];
  fill(f, sizeof(f), 3);
  /* Start near the end of the ring so the frame wraps. */
  uint16_t start = (uint16_t) (BUF * 4u - 100u); /* free-running pointer */
  c->tx_rd = start;
  put16(c->sock[0] + S_TX_WR, start);
  CHECK(mg_driver_w5500.tx(&w, f, sizeof(f)));
  CHECK(c->sends == 1 && c->n_sent == 1);
  CHECK(c->sent_len[0] == sizeof(f) && memcmp(c->sent[0], f, sizeof(f)) == 0);
  CHECK(get16(c->sock[0] + S_TX_WR) == (uint16_t) (start + sizeof(f)));
  /* A runt goes out padded to 60 bytes with zeros. */
  CHECK(mg_driver_w5500.tx(&w, f, 20));
  CHECK(c->n_sent == 2 && c->sent_len[1] == ETH_MIN_FRAME);
  CHECK(memcmp(c->sent[1], f, 20) == 0 && c->sent[1][20] == 0 && c->sent[1][59] == 0);
  /* Bad sizes are refused without touching the chip. */
  CHECK(!mg_driver_w5500.tx(&w, f, 10));
  CHECK(!mg_driver_w5500.tx(&w, f, 1515));
  /* No room: the chip has not sent what is queued. */
  c->tx_rd = (uint16_t) (get16(c->sock[0] + S_TX_WR) - (BUF - 100u));
  CHECK(!mg_driver_w5500.tx(&w, f, 200));
  CHECK(c->sends == 2 && w.tx_errors == 1 && w.tx_frames == 2);
  CHECK(c->protocol_errors == 0);
  free(c);
}

static void test_rx(void) {
  struct mg_w5500 w;
  struct chip *c = new_chip(&w);
  CHECK(mg_driver_w5500.init(&w, k_mac));
  uint8_t buf[1600], a[1514], b[64];
  CHECK(mg_driver_w5500.rx(&w, buf, sizeof(buf)) == 0); /* nothing yet */
  /* The ring pointer sits so that frame a's header and data wrap. */
  uint16_t start = (uint16_t) (BUF - 1u);
  c->rx_wr = start;
  put16(c->sock[0] + S_RX_RD, start);
  fill(a, sizeof(a), 9);
  fill(b, sizeof(b), 200);
  queue_rx(c, a, sizeof(a));
  queue_rx(c, b, sizeof(b));
  c->tear_rsr = 1;
  CHECK(mg_driver_w5500.rx(&w, buf, sizeof(buf)) == sizeof(a));
  CHECK(memcmp(buf, a, sizeof(a)) == 0);
  CHECK(get16(c->sock[0] + S_RX_RD) == (uint16_t) (start + sizeof(a) + 2u));
  CHECK(c->recvs == 1);
  CHECK(mg_driver_w5500.rx(&w, buf, sizeof(buf)) == sizeof(b));
  CHECK(memcmp(buf, b, sizeof(b)) == 0);
  CHECK(get16(c->sock[0] + S_RX_RD) == c->rx_wr && c->recvs == 2);
  CHECK(mg_driver_w5500.rx(&w, buf, sizeof(buf)) == 0);
  /* Too big for the caller: dropped, the next frame still comes through. */
  queue_rx(c, a, sizeof(a));
  queue_rx(c, b, sizeof(b));
  CHECK(mg_driver_w5500.rx(&w, buf, 100) == sizeof(b));
  CHECK(memcmp(buf, b, sizeof(b)) == 0 && w.rx_errors == 1);
  CHECK(w.rx_frames == 3 && c->protocol_errors == 0);
  free(c);
}

static void test_rx_corrupt_header(void) {
  struct mg_w5500 w;
  struct chip *c = new_chip(&w);
  CHECK(mg_driver_w5500.init(&w, k_mac));
  uint8_t buf[1600], f[100];
  fill(f, sizeof(f), 1);
  queue_rx(c, f, sizeof(f));
  put16(c->rxbuf, 0xFFF0); /* length bigger than what the chip holds */
  CHECK(mg_driver_w5500.rx(&w, buf, sizeof(buf)) == 0);
  CHECK(w.reopens == 1 && c->opens == 2 && c->sock[0][S_SR] == S_SR_MACRAW);
  /* After the re-open the socket works again. */
  queue_rx(c, f, sizeof(f));
  CHECK(mg_driver_w5500.rx(&w, buf, sizeof(buf)) == sizeof(f));
  CHECK(memcmp(buf, f, sizeof(f)) == 0);
  free(c);
}

int main(void) {
  test_init();
  test_bad_version();
  test_tx();
  test_rx();
  test_rx_corrupt_header();
  return TEST_REPORT();
}
