/* virtio-net driver against a model of a virtio-mmio network device: the
 * driver's register reads and writes go to the model, which walks the
 * descriptor, available and used rings in the driver's memory the way a
 * device does (legacy queue placement computed as QEMU computes it). */
#define _DEFAULT_SOURCE /* mmap MAP_ANONYMOUS */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MG_ENABLE_DRIVER_VIRTIO_NET 1
#include "mg_base.h"

struct model;
static uint32_t model_rd32(uintptr_t a);
static void model_wr32(uintptr_t a, uint32_t v);
static uint8_t model_rd8(uintptr_t a);
static void model_wr8(uintptr_t a, uint8_t v);
#define VIRTIO_RD32(a) model_rd32((uintptr_t) (a))
#define VIRTIO_WR32(a, v) model_wr32((uintptr_t) (a), (v))
#define VIRTIO_RD8(a) model_rd8((uintptr_t) (a))
#define VIRTIO_WR8(a, v) model_wr8((uintptr_t) (a), (v))

#include "../../src/drivers/virtio_net.c"
#include "mg_test.h"

#define SLOT0 0x10001000u
#define STRIDE 0x1000u
#define NSLOTS 8u
#define NET_SLOT 5u /* where the model's network device sits */
#define F_CSUM (1u << 0)
#define F_MRG_RXBUF (1u << 15)

struct mq {                    /* one queue as the device sees it */
  uint32_t num, align, pfn, ready;
  uint64_t desc, driver, device;
  uint16_t last_avail;         /* next available entry the device takes */
};

struct model {
  uint32_t version;
  uint32_t feat[2];            /* offered */
  uint32_t drv_feat[2];        /* accepted by the driver */
  uint32_t feat_sel, drv_feat_sel;
  uint32_t status, page_size, queue_sel, isr;
  struct mq q[2];
  uint8_t config[8];           /* mac[6], status (le16) */
  bool tx_hold;                /* do not process TX on notify */
  bool no_notify;              /* set VRING_USED_F_NO_NOTIFY in the used rings */
  int notifies[2];
  int bad_accesses;            /* registers the driver must not touch */
  /* Frames the device "sent", header included. */
  uint8_t sent[8][MG_VIRTIO_NET_BUF];
  uint32_t sent_len[8];
  unsigned n_sent;
  unsigned tx_total;
  int tx_bad_hdr;              /* TX headers that were not all zero */
};

static struct model M;
/* The driver state lives where a 32-bit device can reach it: the legacy
 * transport takes a queue's address as a 32-bit page number. */
static struct mg_virtio_net *ND;
static struct mg_virtio_net s_high; /* wherever the host put .bss */

static void model_reset_queues(void) {
  memset(M.q, 0, sizeof(M.q));
  M.isr = 0;
}

static void model_setup(uint32_t version) {
  memset(&M, 0, sizeof(M));
  M.version = version;
  /* Offers more than the driver may take: offloads and mergeable buffers
   * would change the frame format. */
  M.feat[0] = F_CSUM | VNET_F_MAC | F_MRG_RXBUF | VNET_F_STATUS;
  M.feat[1] = version == 2 ? VIRTIO_F_VERSION_1_HI : 0;
  static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  memcpy(M.config, mac, 6);
  M.config[6] = VNET_S_LINK_UP;
  memset(ND, 0, sizeof(*ND));
}

static struct mq *qsel(void) {
  return M.queue_sel < 2 ? &M.q[M.queue_sel] : NULL;
}

/* Ring addresses of a queue (legacy: from the PFN, QEMU's arithmetic). */
static struct mg_virtq_desc *q_desc(const struct mq *q) {
  if (M.version == 1) return (struct mg_virtq_desc *) (uintptr_t) ((uint64_t) q->pfn * M.page_size);
  return (struct mg_virtq_desc *) (uintptr_t) q->desc;
}
static uint8_t *q_avail(const struct mq *q) {
  if (M.version == 1) return (uint8_t *) q_desc(q) + 16u * q->num;
  return (uint8_t *) (uintptr_t) q->driver;
}
static uint8_t *q_used(const struct mq *q) {
  if (M.version == 1) {
    uintptr_t end = (uintptr_t) q_avail(q) + 4u + 2u * q->num;
    return (uint8_t *) ((end + q->align - 1u) & ~(uintptr_t) (q->align - 1u));
  }
  return (uint8_t *) (uintptr_t) q->device;
}
static uint16_t get16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static void put16(uint8_t *p, uint16_t v) {
  memcpy(p, &v, 2);
}
static uint16_t avail_idx(const struct mq *q) {
  return get16(q_avail(q) + 2);
}
static void used_push(struct mq *q, uint32_t id, uint32_t len) {
  uint8_t *u = q_used(q);
  uint16_t idx = get16(u + 2);
  memcpy(u + 4 + 8u * (idx % q->num), &id, 4);
  memcpy(u + 8 + 8u * (idx % q->num), &len, 4);
  put16(u + 2, (uint16_t) (idx + 1u));
  put16(u, M.no_notify ? VQ_USED_F_NO_NOTIFY : 0);
  M.isr |= 1u;
}
static bool queue_live(const struct mq *q) {
  return (M.status & VSTAT_DRIVER_OK) && q->num != 0 &&
         (M.version == 1 ? q->pfn != 0 : q->ready != 0);
}
static unsigned hdr_len(void) {
  return M.version == 2 ? VNET_HDR_MODERN : VNET_HDR_LEGACY;
}

/* The device side of transmit: every available buffer becomes a frame. */
static void model_process_tx(void) {
  struct mq *q = &M.q[TXQ];
  if (!queue_live(q)) return;
  while (q->last_avail != avail_idx(q)) {
    uint16_t id = get16(q_avail(q) + 4 + 2u * (q->last_avail % q->num));
    q->last_avail++;
    struct mg_virtq_desc *d = &q_desc(q)[id];
    const uint8_t *buf = (const uint8_t *) (uintptr_t) d->addr;
    for (unsigned i = 0; i < hdr_len(); i++) {
      if (buf[i] != 0) M.tx_bad_hdr++;
    }
    unsigned slot = M.n_sent % 8u;
    memcpy(M.sent[slot], buf, d->len);
    M.sent_len[slot] = d->len;
    M.n_sent++;
    M.tx_total++;
    used_push(q, id, 0);
  }
}

/* The device side of receive: fills the next available buffer. */
static bool model_deliver(const void *frame, uint32_t len) {
  struct mq *q = &M.q[RXQ];
  if (!queue_live(q) || q->last_avail == avail_idx(q)) return false;
  uint16_t id = get16(q_avail(q) + 4 + 2u * (q->last_avail % q->num));
  q->last_avail++;
  struct mg_virtq_desc *d = &q_desc(q)[id];
  if (!(d->flags & VQ_DESC_F_WRITE) || d->len < hdr_len() + len) return false;
  uint8_t *buf = (uint8_t *) (uintptr_t) d->addr;
  memset(buf, 0, hdr_len());
  if (M.version == 2) put16(buf + 10, 1); /* num_buffers */
  memcpy(buf + hdr_len(), frame, len);
  used_push(q, id, hdr_len() + len);
  return true;
}

/* A used entry as a broken device would write it. */
static void model_used_raw(uint32_t id, uint32_t len) {
  struct mq *q = &M.q[RXQ];
  q->last_avail++;
  used_push(q, id, len);
}

static uint32_t model_rd32(uintptr_t a) {
  if (a < SLOT0 || a >= SLOT0 + NSLOTS * STRIDE) {
    M.bad_accesses++;
    return 0;
  }
  unsigned slot = (unsigned) ((a - SLOT0) / STRIDE);
  uint32_t off = (uint32_t) ((a - SLOT0) % STRIDE);
  if (slot != NET_SLOT) { /* slot 0: nothing; others: an empty transport */
    if (slot == 0) return 0xFFFFFFFFu;
    if (off == VMMIO_MAGIC) return VMMIO_MAGIC_VALUE;
    if (off == VMMIO_VERSION) return 1;
    if (off == VMMIO_DEVICE_ID) return slot == 2 ? 2u : 0u; /* 2: a block device */
    return 0;
  }
  struct mq *q = qsel();
  switch (off) {
    case VMMIO_MAGIC: return VMMIO_MAGIC_VALUE;
    case VMMIO_VERSION: return M.version;
    case VMMIO_DEVICE_ID: return VIRTIO_ID_NET;
    case VMMIO_DEVICE_FEATURES: return M.feat_sel < 2 ? M.feat[M.feat_sel] : 0;
    case VMMIO_QUEUE_NUM_MAX: return q ? 256u : 0u;
    case VMMIO_QUEUE_READY: return q ? q->ready : 0;
    case VMMIO_QUEUE_PFN: return q ? q->pfn : 0;
    case VMMIO_INTERRUPT_STATUS: return M.isr;
    case VMMIO_STATUS: return M.status;
    default: M.bad_accesses++; return 0;
  }
}

static void model_wr32(uintptr_t a, uint32_t v) {
  if (a < SLOT0 + NET_SLOT * STRIDE || a >= SLOT0 + (NET_SLOT + 1) * STRIDE) {
    M.bad_accesses++;
    return;
  }
  uint32_t off = (uint32_t) (a - SLOT0 - NET_SLOT * STRIDE);
  struct mq *q = qsel();
  bool legacy = M.version == 1;
  switch (off) {
    case VMMIO_DEVICE_FEATURES_SEL: M.feat_sel = v; break;
    case VMMIO_DRIVER_FEATURES_SEL: M.drv_feat_sel = v; break;
    case VMMIO_DRIVER_FEATURES:
      if (M.drv_feat_sel < 2) M.drv_feat[M.drv_feat_sel] = v;
      break;
    case VMMIO_GUEST_PAGE_SIZE:
      if (!legacy) M.bad_accesses++;
      M.page_size = v;
      break;
    case VMMIO_QUEUE_SEL: M.queue_sel = v; break;
    case VMMIO_QUEUE_NUM:
      if (q) q->num = v;
      break;
    case VMMIO_QUEUE_ALIGN:
      if (!legacy || !q) M.bad_accesses++;
      else q->align = v;
      break;
    case VMMIO_QUEUE_PFN:
      if (!legacy || !q) M.bad_accesses++;
      else q->pfn = v;
      break;
    case VMMIO_QUEUE_READY:
      if (legacy || !q) M.bad_accesses++;
      else q->ready = v;
      break;
    case VMMIO_QUEUE_DESC_LOW: case VMMIO_QUEUE_DESC_HIGH:
    case VMMIO_QUEUE_DRIVER_LOW: case VMMIO_QUEUE_DRIVER_HIGH:
    case VMMIO_QUEUE_DEVICE_LOW: case VMMIO_QUEUE_DEVICE_HIGH: {
      if (legacy || !q) {
        M.bad_accesses++;
        break;
      }
      uint64_t *f = off < VMMIO_QUEUE_DRIVER_LOW ? &q->desc
                    : off < VMMIO_QUEUE_DEVICE_LOW ? &q->driver : &q->device;
      if (off & 4u) *f = (*f & 0xFFFFFFFFu) | ((uint64_t) v << 32);
      else *f = (*f & ~(uint64_t) 0xFFFFFFFFu) | v;
      break;
    }
    case VMMIO_QUEUE_NOTIFY:
      if (v < 2) M.notifies[v]++;
      if (v == TXQ && !M.tx_hold) model_process_tx();
      break;
    case VMMIO_INTERRUPT_ACK: M.isr &= ~v; break;
    case VMMIO_STATUS:
      if (v == 0) {
        M.status = 0;
        model_reset_queues();
        break;
      }
      /* FEATURES_OK only sticks for a subset of what was offered. */
      if ((v & VSTAT_FEATURES_OK) &&
          ((M.drv_feat[0] & ~M.feat[0]) || (M.drv_feat[1] & ~M.feat[1]))) {
        v &= ~VSTAT_FEATURES_OK;
      }
      M.status = v;
      break;
    default: M.bad_accesses++; break;
  }
}

static uint8_t model_rd8(uintptr_t a) {
  uintptr_t cfg = SLOT0 + NET_SLOT * STRIDE + VMMIO_CONFIG;
  if (a < cfg || a >= cfg + sizeof(M.config)) {
    M.bad_accesses++;
    return 0;
  }
  return M.config[a - cfg];
}

static void model_wr8(uintptr_t a, uint8_t v) {
  uintptr_t cfg = SLOT0 + NET_SLOT * STRIDE + VMMIO_CONFIG;
  /* Only a legacy device lets the driver set its MAC. */
  if (a < cfg || a >= cfg + 6 || M.version != 1) {
    M.bad_accesses++;
    return;
  }
  M.config[a - cfg] = v;
}

static const uint8_t k_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static bool up(uint32_t version) {
  model_setup(version);
  if (!mg_virtio_net_probe(ND, SLOT0, STRIDE, NSLOTS)) return false;
  return mg_driver_virtio_net.init(ND, k_mac);
}

/* A frame whose bytes encode n, so each one can be recognised. */
static size_t make_frame(uint8_t *f, uint32_t n, size_t len) {
  memset(f, 0xFF, 6);
  memcpy(f + 6, k_mac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  for (size_t i = 14; i < len; i++) f[i] = (uint8_t) (n * 7u + i);
  memcpy(f + 14, &n, 4);
  return len;
}

static void test_probe(void) {
  model_setup(1);
  CHECK(mg_virtio_net_probe(ND, SLOT0, STRIDE, NSLOTS));
  CHECK(ND->base == SLOT0 + NET_SLOT * STRIDE);
  /* Only empty and non-network transports before it. */
  memset(ND, 0, sizeof(*ND));
  CHECK(!mg_virtio_net_probe(ND, SLOT0, STRIDE, NET_SLOT));
  CHECK(ND->base == 0);
  /* No device: init refuses instead of touching address 0. */
  CHECK(!mg_driver_virtio_net.init(ND, k_mac));
  CHECK(M.bad_accesses == 0);
}

static void test_init(uint32_t version) {
  CHECK(up(version));
  CHECK(ND->ready);
  CHECK(M.status == (VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_DRIVER_OK |
                     (version == 2 ? VSTAT_FEATURES_OK : 0)));
  /* Only MAC and STATUS of word 0; VERSION_1 on a modern device. */
  CHECK(M.drv_feat[0] == (VNET_F_MAC | VNET_F_STATUS));
  CHECK(M.drv_feat[1] == (version == 2 ? VIRTIO_F_VERSION_1_HI : 0));
  CHECK(ND->hdr_len == hdr_len());
  CHECK(M.q[RXQ].num == MG_VIRTIO_NET_QSIZE && M.q[TXQ].num == MG_VIRTIO_NET_QSIZE);
  if (version == 1) {
    CHECK(M.page_size == 4096);
    CHECK(q_desc(&M.q[RXQ]) == ND->rxq.desc && q_desc(&M.q[TXQ]) == ND->txq.desc);
    /* The device's idea of the used ring is the driver's. */
    CHECK(q_used(&M.q[RXQ]) == (uint8_t *) &ND->rxq.used);
    CHECK(q_used(&M.q[TXQ]) == (uint8_t *) &ND->txq.used);
  } else {
    CHECK(M.q[RXQ].ready == 1 && M.q[TXQ].ready == 1);
    CHECK(q_avail(&M.q[RXQ]) == (uint8_t *) &ND->rxq.avail);
    CHECK(q_used(&M.q[TXQ]) == (uint8_t *) &ND->txq.used);
  }
  /* Every receive buffer is offered, and the device was told. */
  CHECK(avail_idx(&M.q[RXQ]) == MG_VIRTIO_NET_QSIZE);
  CHECK(M.notifies[RXQ] == 1);
  CHECK(mg_driver_virtio_net.poll(ND));
  CHECK(M.bad_accesses == 0);
}

static void test_init_refused(void) {
  /* A modern device without VERSION_1 cannot be driven. */
  model_setup(2);
  M.feat[1] = 0;
  CHECK(mg_virtio_net_probe(ND, SLOT0, STRIDE, NSLOTS));
  CHECK(!mg_driver_virtio_net.init(ND, k_mac));
  CHECK(M.status & VSTAT_FAILED);
  CHECK(!ND->ready);
  CHECK(!mg_driver_virtio_net.tx(ND, "x", 1));
  uint8_t buf[64];
  CHECK(mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) == 0);
  CHECK(!mg_driver_virtio_net.poll(ND));
  /* An unknown transport version. */
  model_setup(3);
  ND->base = SLOT0 + NET_SLOT * STRIDE;
  CHECK(!mg_driver_virtio_net.init(ND, k_mac));
}

static void test_mac(void) {
  uint8_t mac[6];
  model_setup(1);
  CHECK(mg_virtio_net_probe(ND, SLOT0, STRIDE, NSLOTS));
  CHECK(mg_virtio_net_mac(ND, mac));
  CHECK(memcmp(mac, k_mac, 6) == 0);
  /* Legacy: another address is written to the device (its RX filter). */
  static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 9};
  CHECK(mg_driver_virtio_net.init(ND, other));
  CHECK(memcmp(M.config, other, 6) == 0);
  /* Modern: the address is read-only, a different one is an error. */
  model_setup(2);
  CHECK(mg_virtio_net_probe(ND, SLOT0, STRIDE, NSLOTS));
  CHECK(!mg_driver_virtio_net.init(ND, other));
  CHECK(M.bad_accesses == 0);
  /* No MAC feature: no address. */
  model_setup(1);
  M.feat[0] &= ~VNET_F_MAC;
  CHECK(mg_virtio_net_probe(ND, SLOT0, STRIDE, NSLOTS));
  CHECK(!mg_virtio_net_mac(ND, mac));
}

static void test_tx(uint32_t version) {
  uint8_t f[1514];
  CHECK(up(version));
  size_t n = make_frame(f, 42, 60);
  CHECK(mg_driver_virtio_net.tx(ND, f, n));
  CHECK(M.n_sent == 1);
  CHECK(M.sent_len[0] == hdr_len() + n);
  CHECK(memcmp(M.sent[0] + hdr_len(), f, n) == 0);
  CHECK(M.tx_bad_hdr == 0);
  /* The largest Ethernet frame fits, one byte more than a buffer does not. */
  n = make_frame(f, 43, sizeof(f));
  CHECK(mg_driver_virtio_net.tx(ND, f, n));
  CHECK(M.sent_len[1] == hdr_len() + n && memcmp(M.sent[1] + hdr_len(), f, n) == 0);
  uint8_t big[MG_VIRTIO_NET_BUF];
  memset(big, 0, sizeof(big));
  CHECK(!mg_driver_virtio_net.tx(ND, big, MG_VIRTIO_NET_BUF - hdr_len() + 1));
  CHECK(ND->tx_errors == 1 && M.n_sent == 2);
}

static void test_tx_full(void) {
  uint8_t f[100];
  CHECK(up(1));
  M.tx_hold = true; /* the device is slow */
  for (uint32_t i = 0; i < MG_VIRTIO_NET_QSIZE; i++) {
    CHECK(mg_driver_virtio_net.tx(ND, f, make_frame(f, i, sizeof(f))));
  }
  uint64_t t0 = mg_millis();
  CHECK(!mg_driver_virtio_net.tx(ND, f, make_frame(f, 99, sizeof(f))));
  CHECK(mg_millis() - t0 >= MG_VIRTIO_NET_TX_WAIT_MS); /* waited, then gave up */
  CHECK(ND->tx_errors == 1);
  CHECK(M.n_sent == 0);
  /* The device catches up; the buffers come back. */
  M.tx_hold = false;
  model_process_tx();
  CHECK(M.n_sent == MG_VIRTIO_NET_QSIZE);
  for (uint32_t i = 0; i < MG_VIRTIO_NET_QSIZE; i++) {
    uint32_t got;
    memcpy(&got, M.sent[i] + hdr_len() + 14, 4);
    CHECK(got == i); /* in order */
  }
  CHECK(mg_driver_virtio_net.tx(ND, f, make_frame(f, 100, sizeof(f))));
  CHECK(M.n_sent == MG_VIRTIO_NET_QSIZE + 1);
}

static void test_rx(uint32_t version) {
  uint8_t f[1514], buf[1600];
  CHECK(up(version));
  CHECK(mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) == 0);
  size_t n = make_frame(f, 7, 342);
  CHECK(model_deliver(f, (uint32_t) n));
  CHECK(mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) == n);
  CHECK(memcmp(buf, f, n) == 0);
  CHECK(mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) == 0);
  /* The buffer went straight back to the device. */
  CHECK(avail_idx(&M.q[RXQ]) == MG_VIRTIO_NET_QSIZE + 1);
  /* A full ring of frames, then the device has no buffer left. */
  for (uint32_t i = 0; i < MG_VIRTIO_NET_QSIZE; i++) {
    CHECK(model_deliver(f, (uint32_t) make_frame(f, 100 + i, 1514)));
  }
  CHECK(!model_deliver(f, 60));
  for (uint32_t i = 0; i < MG_VIRTIO_NET_QSIZE; i++) {
    uint32_t got = 0;
    CHECK(mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) == 1514);
    memcpy(&got, buf + 14, 4);
    CHECK(got == 100 + i);
  }
  CHECK(ND->rx_frames == MG_VIRTIO_NET_QSIZE + 1 && ND->rx_errors == 0);
}

static void test_rx_errors(void) {
  uint8_t f[1514], buf[1600];
  CHECK(up(1));
  /* The caller's buffer is too small: the frame is dropped, counted, and
   * its virtio buffer is given back; the next frame comes through. */
  CHECK(model_deliver(f, (uint32_t) make_frame(f, 1, 1000)));
  CHECK(mg_driver_virtio_net.rx(ND, buf, 999) == 0);
  CHECK(ND->rx_errors == 1);
  CHECK(avail_idx(&M.q[RXQ]) == MG_VIRTIO_NET_QSIZE + 1);
  CHECK(model_deliver(f, (uint32_t) make_frame(f, 2, 1000)));
  CHECK(mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) == 1000);
  /* A device writing nonsense: shorter than a header, longer than the
   * buffer, an id that is not ours. Nothing crashes, all is counted. */
  model_used_raw(0, 3);
  model_used_raw(1, MG_VIRTIO_NET_BUF + 100);
  model_used_raw(MG_VIRTIO_NET_QSIZE + 5, 60);
  CHECK(mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) == 0);
  CHECK(ND->rx_errors == 4);
  CHECK(ND->rx_frames == 1);
}

/* More frames than the 16-bit ring indices count: both rings wrap (the
 * descriptor slots every QSIZE frames, the indices at 65536). */
static void test_wrap(uint32_t version) {
  uint8_t f[200], buf[1600];
  CHECK(up(version));
  uint32_t bad = 0, total = 65536u + 3u * MG_VIRTIO_NET_QSIZE + 1u;
  for (uint32_t i = 0; i < total; i++) {
    size_t n = make_frame(f, i, 60 + (i % 140));
    if (!mg_driver_virtio_net.tx(ND, f, n)) bad++;
    uint32_t got = 0;
    memcpy(&got, M.sent[(M.n_sent - 1) % 8u] + hdr_len() + 14, 4);
    if (got != i || M.sent_len[(M.n_sent - 1) % 8u] != hdr_len() + n) bad++;
    if (!model_deliver(f, (uint32_t) n)) bad++;
    if (mg_driver_virtio_net.rx(ND, buf, sizeof(buf)) != n || memcmp(buf, f, n) != 0) bad++;
  }
  CHECK(bad == 0);
  CHECK(M.tx_total == total && ND->tx_frames == total && ND->rx_frames == total);
  CHECK(avail_idx(&M.q[TXQ]) == (uint16_t) total);
  CHECK(M.tx_bad_hdr == 0);
}

static void test_poll_link_and_notify(void) {
  CHECK(up(2));
  M.isr = 1;
  CHECK(mg_driver_virtio_net.poll(ND));
  CHECK(M.isr == 0); /* acknowledged */
  /* The interrupt handler acknowledges too; no interrupt for sent frames. */
  uint8_t fr[60];
  CHECK(model_deliver(fr, (uint32_t) make_frame(fr, 5, 60)));
  CHECK(M.isr == 1);
  mg_virtio_net_isr(ND);
  CHECK(M.isr == 0);
  CHECK((get16(q_avail(&M.q[TXQ])) & VQ_AVAIL_F_NO_INTERRUPT) != 0);
  CHECK((get16(q_avail(&M.q[RXQ])) & VQ_AVAIL_F_NO_INTERRUPT) == 0);
  M.config[6] = 0;   /* link down */
  CHECK(!mg_driver_virtio_net.poll(ND));
  M.config[6] = VNET_S_LINK_UP;
  CHECK(mg_driver_virtio_net.poll(ND));
  M.status |= VSTAT_NEEDS_RESET;
  CHECK(!mg_driver_virtio_net.poll(ND));
  /* The device asks not to be kicked: the driver does not write
   * QueueNotify (the frame is still queued). */
  CHECK(up(1));
  uint8_t f[60];
  CHECK(mg_driver_virtio_net.tx(ND, f, make_frame(f, 1, 60)));
  int kicks = M.notifies[TXQ];
  M.no_notify = true;
  put16(q_used(&M.q[TXQ]), VQ_USED_F_NO_NOTIFY);
  M.tx_hold = true;
  CHECK(mg_driver_virtio_net.tx(ND, f, make_frame(f, 2, 60)));
  CHECK(M.notifies[TXQ] == kicks);
  CHECK(avail_idx(&M.q[TXQ]) == 2);
}

/* Queues beyond the legacy transport's reach are an init error. */
static void test_legacy_unreachable(void) {
  if ((uint64_t) (uintptr_t) &s_high / 4096u <= 0xFFFFFFFFu) return; /* not here */
  struct mg_virtio_net *keep = ND;
  ND = &s_high;
  CHECK(!up(1));
  CHECK(M.status & VSTAT_FAILED);
  CHECK(M.q[RXQ].pfn == 0 || M.q[TXQ].pfn == 0);
  ND = keep;
}

int main(void) {
  /* A hint low in the address space (Linux honours it when it is free). */
  void *low = mmap((void *) (uintptr_t) 0x20000000u, sizeof(*ND), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (low == MAP_FAILED || (uint64_t) (uintptr_t) low / 4096u > 0xFFFFFFFFu) {
    printf("cannot map the driver state below 16 TiB\n");
    return 1;
  }
  ND = (struct mg_virtio_net *) low;
  test_legacy_unreachable();
  test_probe();
  test_init(1);
  test_init(2);
  test_init_refused();
  test_mac();
  test_tx(1);
  test_tx(2);
  test_tx_full();
  test_rx(1);
  test_rx(2);
  test_rx_errors();
  test_wrap(1);
  test_wrap(2);
  test_poll_link_and_notify();
  munmap(low, sizeof(*ND));
  return TEST_REPORT();
}
