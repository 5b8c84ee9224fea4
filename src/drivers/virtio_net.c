/* virtio-net over virtio-mmio, legacy (version 1) and modern (version 2)
 * transports, polled (see mg_driver_virtio_net.h). Facts: OASIS virtio 1.x
 * (MMIO register layout, split virtqueues, device status and feature
 * negotiation, the virtio-net header and configuration). */
#include "mg_driver_virtio_net.h"

#if MG_ENABLE_DRIVER_VIRTIO_NET

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* Register access, replaceable by the host test's device model. */
#ifndef VIRTIO_RD32
#define VIRTIO_RD32(a) (*(volatile uint32_t *) (a))
#define VIRTIO_WR32(a, v) (*(volatile uint32_t *) (a) = (v))
#define VIRTIO_RD8(a) (*(volatile uint8_t *) (a))
#define VIRTIO_WR8(a, v) (*(volatile uint8_t *) (a) = (v))
#endif

/* ---- virtio-mmio registers (byte offsets). ---- */
#define VMMIO_MAGIC 0x000u /* "virt" little-endian */
#define VMMIO_VERSION 0x004u
#define VMMIO_DEVICE_ID 0x008u
#define VMMIO_DEVICE_FEATURES 0x010u
#define VMMIO_DEVICE_FEATURES_SEL 0x014u
#define VMMIO_DRIVER_FEATURES 0x020u
#define VMMIO_DRIVER_FEATURES_SEL 0x024u
#define VMMIO_GUEST_PAGE_SIZE 0x028u /* legacy */
#define VMMIO_QUEUE_SEL 0x030u
#define VMMIO_QUEUE_NUM_MAX 0x034u
#define VMMIO_QUEUE_NUM 0x038u
#define VMMIO_QUEUE_ALIGN 0x03Cu /* legacy */
#define VMMIO_QUEUE_PFN 0x040u   /* legacy */
#define VMMIO_QUEUE_READY 0x044u /* modern */
#define VMMIO_QUEUE_NOTIFY 0x050u
#define VMMIO_INTERRUPT_STATUS 0x060u
#define VMMIO_INTERRUPT_ACK 0x064u
#define VMMIO_STATUS 0x070u
#define VMMIO_QUEUE_DESC_LOW 0x080u /* modern, and the five after it */
#define VMMIO_QUEUE_DESC_HIGH 0x084u
#define VMMIO_QUEUE_DRIVER_LOW 0x090u
#define VMMIO_QUEUE_DRIVER_HIGH 0x094u
#define VMMIO_QUEUE_DEVICE_LOW 0x0A0u
#define VMMIO_QUEUE_DEVICE_HIGH 0x0A4u
#define VMMIO_CONFIG 0x100u
#define VMMIO_MAGIC_VALUE 0x74726976u
#define VIRTIO_ID_NET 1u

/* Device status bits. */
#define VSTAT_ACKNOWLEDGE 1u
#define VSTAT_DRIVER 2u
#define VSTAT_DRIVER_OK 4u
#define VSTAT_FEATURES_OK 8u
#define VSTAT_NEEDS_RESET 64u
#define VSTAT_FAILED 128u

/* Feature bits: word 0, and VERSION_1 (bit 32) as bit 0 of word 1. */
#define VNET_F_MAC (1u << 5)
#define VNET_F_STATUS (1u << 16)
#define VIRTIO_F_VERSION_1_HI (1u << 0)

/* virtio-net configuration: mac[6], then status (bit 0 link up). */
#define VNET_CFG_MAC 0u
#define VNET_CFG_STATUS 6u
#define VNET_S_LINK_UP 1u

/* The virtio-net header: 10 bytes (flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset), plus num_buffers (12) on modern devices. */
#define VNET_HDR_LEGACY 10u
#define VNET_HDR_MODERN 12u

#define VQ_DESC_F_WRITE 2u        /* the device writes this buffer */
#define VQ_AVAIL_F_NO_INTERRUPT 1u /* the driver needs no interrupt for used buffers */
#define VQ_USED_F_NO_NOTIFY 1u    /* the device asks not to be notified */
#define LEGACY_PAGE 4096u
#define LEGACY_ALIGN 8u           /* our QueueAlign: used ring alignment */
#define RXQ 0u
#define TXQ 1u
#define QSIZE MG_VIRTIO_NET_QSIZE
#define ETH_MIN_HDR 14u

_Static_assert((QSIZE & (QSIZE - 1)) == 0 && QSIZE >= 4 && QSIZE <= 256,
               "queue size: a power of two from 4");
/* A legacy device computes where the used ring is: after the descriptors
 * and the available ring, aligned up to QueueAlign. The spec counts the
 * available ring with its used_event field (6 + 2 * QSIZE bytes), QEMU
 * without it (4 + 2 * QSIZE); at 8-byte alignment both land on our layout. */
#define ALIGN_UP(x) (((x) + LEGACY_ALIGN - 1u) & ~(LEGACY_ALIGN - 1u))
_Static_assert(offsetof(struct mg_virtq, used) == ALIGN_UP(16u * QSIZE + 6u + 2u * QSIZE) &&
                   offsetof(struct mg_virtq, used) == ALIGN_UP(16u * QSIZE + 4u + 2u * QSIZE),
               "virtqueue layout differs from the legacy transport's");
_Static_assert(offsetof(struct mg_virtio_net, rxq) % LEGACY_PAGE == 0 &&
                   offsetof(struct mg_virtio_net, txq) % LEGACY_PAGE == 0,
               "queues must start on a page");

static uint32_t rd(const struct mg_virtio_net *nd, uint32_t off) {
  return VIRTIO_RD32(nd->base + off);
}
static void wr(const struct mg_virtio_net *nd, uint32_t off, uint32_t v) {
  VIRTIO_WR32(nd->base + off, v);
}

/* Orders our ring writes against the device's reads and the other way. */
static void mb(void) {
  atomic_thread_fence(memory_order_seq_cst);
}

bool mg_virtio_net_probe(struct mg_virtio_net *nd, uintptr_t first,
                         uintptr_t stride, unsigned count) {
  for (unsigned i = 0; i < count; i++) {
    uintptr_t b = first + i * stride;
    if (VIRTIO_RD32(b + VMMIO_MAGIC) != VMMIO_MAGIC_VALUE) continue;
    uint32_t v = VIRTIO_RD32(b + VMMIO_VERSION);
    if (v != 1u && v != 2u) continue;
    if (VIRTIO_RD32(b + VMMIO_DEVICE_ID) != VIRTIO_ID_NET) continue;
    nd->base = b;
    return true;
  }
  return false;
}

static uint32_t device_features(const struct mg_virtio_net *nd, uint32_t word) {
  wr(nd, VMMIO_DEVICE_FEATURES_SEL, word);
  return rd(nd, VMMIO_DEVICE_FEATURES);
}

bool mg_virtio_net_mac(const struct mg_virtio_net *nd, uint8_t mac[6]) {
  if (nd->base == 0 || (device_features(nd, 0) & VNET_F_MAC) == 0) return false;
  for (unsigned i = 0; i < 6; i++) mac[i] = VIRTIO_RD8(nd->base + VMMIO_CONFIG + VNET_CFG_MAC + i);
  return (mac[0] & 1u) == 0; /* a unicast address */
}

static void set_addr(struct mg_virtio_net *nd, uint32_t lo_reg, const void *p) {
  uint64_t a = (uint64_t) (uintptr_t) p;
  wr(nd, lo_reg, (uint32_t) a);
  wr(nd, lo_reg + 4u, (uint32_t) (a >> 32));
}

/* Hands one queue to the device. */
static bool queue_setup(struct mg_virtio_net *nd, uint32_t q, struct mg_virtq *vq) {
  wr(nd, VMMIO_QUEUE_SEL, q);
  uint32_t max = rd(nd, VMMIO_QUEUE_NUM_MAX);
  if (max < QSIZE) return false; /* 0: no such queue */
  if (nd->version == 2u && rd(nd, VMMIO_QUEUE_READY) != 0) return false;
  memset(vq, 0, sizeof(*vq));
  wr(nd, VMMIO_QUEUE_NUM, QSIZE);
  if (nd->version == 1u) {
    uint64_t pfn = (uint64_t) (uintptr_t) vq / LEGACY_PAGE;
    if (pfn > 0xFFFFFFFFu) return false; /* beyond a 32-bit page number */
    wr(nd, VMMIO_QUEUE_ALIGN, LEGACY_ALIGN);
    wr(nd, VMMIO_QUEUE_PFN, (uint32_t) pfn);
  } else {
    set_addr(nd, VMMIO_QUEUE_DESC_LOW, vq->desc);
    set_addr(nd, VMMIO_QUEUE_DRIVER_LOW, &vq->avail);
    set_addr(nd, VMMIO_QUEUE_DEVICE_LOW, &vq->used);
    wr(nd, VMMIO_QUEUE_READY, 1u);
  }
  return true;
}

static void notify(struct mg_virtio_net *nd, uint32_t q, const struct mg_virtq *vq) {
  mb(); /* the new avail.idx is visible before we look and kick */
  if ((*(volatile const uint16_t *) &vq->used.flags & VQ_USED_F_NO_NOTIFY) == 0) {
    wr(nd, VMMIO_QUEUE_NOTIFY, q);
  }
}

/* Puts descriptor id on the available ring of vq (not yet notified). */
static void avail_push(struct mg_virtq *vq, uint16_t id) {
  uint16_t idx = vq->avail.idx;
  vq->avail.ring[idx % QSIZE] = id;
  mb(); /* the entry before the index that publishes it */
  *(volatile uint16_t *) &vq->avail.idx = (uint16_t) (idx + 1u);
}

static bool fail(struct mg_virtio_net *nd) {
  wr(nd, VMMIO_STATUS, rd(nd, VMMIO_STATUS) | VSTAT_FAILED);
  return false;
}

static bool vnet_init(void *ctx, const uint8_t mac[6]) {
  struct mg_virtio_net *nd = (struct mg_virtio_net *) ctx;
  nd->ready = false;
  if (nd->base == 0 || rd(nd, VMMIO_MAGIC) != VMMIO_MAGIC_VALUE ||
      rd(nd, VMMIO_DEVICE_ID) != VIRTIO_ID_NET) {
    return false;
  }
  nd->version = rd(nd, VMMIO_VERSION);
  if (nd->version != 1u && nd->version != 2u) return false;

  wr(nd, VMMIO_STATUS, 0); /* reset */
  wr(nd, VMMIO_STATUS, VSTAT_ACKNOWLEDGE);
  wr(nd, VMMIO_STATUS, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER);

  /* Only what we use: the MAC and the link status; no offloads, no
   * mergeable buffers, so every frame sits whole in one buffer. */
  nd->features = device_features(nd, 0) & (VNET_F_MAC | VNET_F_STATUS);
  uint32_t hi = 0;
  if (nd->version == 2u) {
    if ((device_features(nd, 1) & VIRTIO_F_VERSION_1_HI) == 0) return fail(nd);
    hi = VIRTIO_F_VERSION_1_HI;
  }
  wr(nd, VMMIO_DRIVER_FEATURES_SEL, 0);
  wr(nd, VMMIO_DRIVER_FEATURES, nd->features);
  wr(nd, VMMIO_DRIVER_FEATURES_SEL, 1);
  wr(nd, VMMIO_DRIVER_FEATURES, hi);
  uint32_t st = VSTAT_ACKNOWLEDGE | VSTAT_DRIVER;
  if (nd->version == 2u) {
    st |= VSTAT_FEATURES_OK;
    wr(nd, VMMIO_STATUS, st);
    if ((rd(nd, VMMIO_STATUS) & VSTAT_FEATURES_OK) == 0) return fail(nd);
    nd->hdr_len = VNET_HDR_MODERN;
  } else {
    wr(nd, VMMIO_GUEST_PAGE_SIZE, LEGACY_PAGE);
    nd->hdr_len = VNET_HDR_LEGACY;
  }

  /* The device filters received frames by its own address: the stack's
   * must be the same. A legacy device takes a new one in its config. */
  if (nd->features & VNET_F_MAC) {
    uint8_t cur[6];
    for (unsigned i = 0; i < 6; i++) cur[i] = VIRTIO_RD8(nd->base + VMMIO_CONFIG + i);
    if (memcmp(cur, mac, 6) != 0) {
      if (nd->version != 1u) return fail(nd);
      for (unsigned i = 0; i < 6; i++) VIRTIO_WR8(nd->base + VMMIO_CONFIG + i, mac[i]);
    }
  }

  if (!queue_setup(nd, RXQ, &nd->rxq) || !queue_setup(nd, TXQ, &nd->txq)) return fail(nd);
  for (uint16_t i = 0; i < QSIZE; i++) {
    nd->rxq.desc[i].addr = (uint64_t) (uintptr_t) nd->rxbuf[i];
    nd->rxq.desc[i].len = MG_VIRTIO_NET_BUF;
    nd->rxq.desc[i].flags = VQ_DESC_F_WRITE;
    avail_push(&nd->rxq, i);
    nd->txq.desc[i].addr = (uint64_t) (uintptr_t) nd->txbuf[i];
    nd->tx_stack[i] = i;
  }
  nd->tx_free = QSIZE;
  nd->rx_used = nd->tx_used = 0;
  /* Sent buffers are reclaimed lazily: no interrupt for them. */
  nd->txq.avail.flags = VQ_AVAIL_F_NO_INTERRUPT;
  wr(nd, VMMIO_STATUS, st | VSTAT_DRIVER_OK);
  nd->ready = true;
  notify(nd, RXQ, &nd->rxq);
  return true;
}

/* Takes back the TX buffers the device has finished with. */
static void tx_reclaim(struct mg_virtio_net *nd) {
  uint16_t used_idx = *(volatile uint16_t *) &nd->txq.used.idx;
  mb(); /* the index before the entries it covers */
  while (nd->tx_used != used_idx) {
    uint32_t id = nd->txq.used.ring[nd->tx_used % QSIZE].id;
    nd->tx_used++;
    if (id < QSIZE && nd->tx_free < QSIZE) nd->tx_stack[nd->tx_free++] = (uint16_t) id;
  }
}

static bool vnet_tx(void *ctx, const void *frame, size_t len) {
  struct mg_virtio_net *nd = (struct mg_virtio_net *) ctx;
  if (!nd->ready) return false;
  if (len > MG_VIRTIO_NET_BUF - nd->hdr_len) {
    nd->tx_errors++;
    return false;
  }
  tx_reclaim(nd);
  /* All buffers with the device: it sends them soon after the notify (QEMU
   * in its own thread), so wait a little rather than drop the frame, which
   * would cost a TCP retransmission timeout. Bounded by the clock. */
  for (uint64_t start = mg_millis(); nd->tx_free == 0 &&
                                     mg_millis() - start <= MG_VIRTIO_NET_TX_WAIT_MS;) {
    tx_reclaim(nd);
  }
  if (nd->tx_free == 0) {
    nd->tx_errors++;
    return false;
  }
  uint16_t id = nd->tx_stack[--nd->tx_free];
  uint8_t *buf = nd->txbuf[id];
  memset(buf, 0, nd->hdr_len); /* no checksum offload, no GSO */
  memcpy(buf + nd->hdr_len, frame, len);
  nd->txq.desc[id].len = (uint32_t) (nd->hdr_len + len);
  nd->txq.desc[id].flags = 0;
  avail_push(&nd->txq, id);
  notify(nd, TXQ, &nd->txq);
  nd->tx_frames++;
  return true;
}

static size_t vnet_rx(void *ctx, void *buf, size_t len) {
  struct mg_virtio_net *nd = (struct mg_virtio_net *) ctx;
  if (!nd->ready) return 0;
  for (;;) {
    uint16_t used_idx = *(volatile uint16_t *) &nd->rxq.used.idx;
    if (nd->rx_used == used_idx) return 0;
    mb(); /* the index before the entry and the buffer it covers */
    uint32_t id = nd->rxq.used.ring[nd->rx_used % QSIZE].id;
    uint32_t n = nd->rxq.used.ring[nd->rx_used % QSIZE].len;
    nd->rx_used++;
    if (id >= QSIZE) { /* a broken device: nothing to give back */
      nd->rx_errors++;
      continue;
    }
    size_t flen = 0;
    if (n < nd->hdr_len + ETH_MIN_HDR || n > MG_VIRTIO_NET_BUF ||
        n - nd->hdr_len > len) {
      nd->rx_errors++;
    } else {
      flen = n - nd->hdr_len;
      memcpy(buf, nd->rxbuf[id] + nd->hdr_len, flen);
      nd->rx_frames++;
    }
    avail_push(&nd->rxq, (uint16_t) id); /* the buffer goes back at once */
    notify(nd, RXQ, &nd->rxq);
    if (flen > 0) return flen;
  }
}

void mg_virtio_net_isr(struct mg_virtio_net *nd) {
  if (nd->base == 0) return;
  uint32_t isr = rd(nd, VMMIO_INTERRUPT_STATUS);
  if (isr != 0) wr(nd, VMMIO_INTERRUPT_ACK, isr);
}

static bool vnet_poll(void *ctx) {
  struct mg_virtio_net *nd = (struct mg_virtio_net *) ctx;
  if (!nd->ready) return false;
  /* Without an interrupt handler, keep the line quiet from here. */
  mg_virtio_net_isr(nd);
  if (rd(nd, VMMIO_STATUS) & VSTAT_NEEDS_RESET) return false;
  tx_reclaim(nd);
  if (nd->features & VNET_F_STATUS) {
    uint8_t s = VIRTIO_RD8(nd->base + VMMIO_CONFIG + VNET_CFG_STATUS);
    return (s & VNET_S_LINK_UP) != 0;
  }
  return true;
}

const struct mg_driver mg_driver_virtio_net = {
    "virtio-net", vnet_init, vnet_tx, vnet_rx, vnet_poll, NULL, NULL, NULL};

#endif /* MG_ENABLE_DRIVER_VIRTIO_NET */
