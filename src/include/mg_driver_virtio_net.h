/* virtio-net over the virtio-mmio transport (OASIS virtio 1.x, sections
 * "Virtio Over MMIO" and "Network Device"), on the mg_driver contract. Works
 * with the legacy transport (version 1, what QEMU's virtio-mmio presents by
 * default) and the modern one (version 2, QEMU -global
 * virtio-mmio.force-legacy=false). poll() and rx() look at the used rings;
 * a board that wires the device's interrupt calls mg_virtio_net_isr() from
 * its handler (received frames interrupt, sent ones do not). One receive and
 * one transmit split virtqueue of
 * MG_VIRTIO_NET_QSIZE buffers each, all inside struct mg_virtio_net.
 *
 * Usage: mg_virtio_net_probe() finds the transport (or set base yourself),
 * mg_virtio_net_mac() reads the device's MAC, then pass &mg_driver_virtio_net
 * and the struct to the stack. The struct must not move after init. */
#ifndef MG_DRIVER_VIRTIO_NET_H
#define MG_DRIVER_VIRTIO_NET_H

#include "mg_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MG_VIRTIO_NET_QSIZE and MG_VIRTIO_NET_TX_WAIT_MS: see mg_config.h. */
#define MG_VIRTIO_NET_BUF 1536u /* one buffer: virtio-net header + frame */

/* One split virtqueue laid out as the legacy transport wants it: the used
 * ring follows the available ring at the 8-byte alignment we announce
 * (QueueAlign); the queue itself starts on a 4 KiB page (QueuePFN), see
 * struct mg_virtio_net. */
struct mg_virtq {
  struct mg_virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
  } desc[MG_VIRTIO_NET_QSIZE];
  struct {
    uint16_t flags, idx, ring[MG_VIRTIO_NET_QSIZE], used_event;
  } avail;
  struct {
    uint16_t flags, idx;
    struct {
      uint32_t id, len;
    } ring[MG_VIRTIO_NET_QSIZE];
    uint16_t avail_event;
  } used;
};

struct mg_virtio_net {
  /* Each queue starts a 4 KiB page (legacy transport); the buffers fill
   * the rest of the pages. */
  struct mg_virtq rxq __attribute__((aligned(4096)));
  uint8_t rxbuf[MG_VIRTIO_NET_QSIZE][MG_VIRTIO_NET_BUF];
  struct mg_virtq txq __attribute__((aligned(4096)));
  uint8_t txbuf[MG_VIRTIO_NET_QSIZE][MG_VIRTIO_NET_BUF];
  uintptr_t base;        /* transport registers (set by the board or probe) */
  /* Driver state and counters, zero-initialise. */
  uint32_t version;      /* transport version: 1 legacy, 2 modern */
  uint32_t features;     /* negotiated feature bits 0..31 */
  uint16_t hdr_len;      /* virtio-net header in front of each frame */
  uint16_t rx_used;      /* next used-ring entry of the RX queue to take */
  uint16_t tx_used;      /* next used-ring entry of the TX queue to reclaim */
  uint16_t tx_free;      /* TX descriptors not with the device */
  uint16_t tx_stack[MG_VIRTIO_NET_QSIZE]; /* their ids */
  bool ready;            /* init succeeded */
  uint32_t rx_frames, tx_frames;
  uint32_t rx_errors;    /* buffers returned with a bad length */
  uint32_t tx_errors;    /* frames refused: too long, no free buffer */
};

extern const struct mg_driver mg_driver_virtio_net;

/* Looks at count transports from first, stride bytes apart, for a network
 * device (device id 1) and sets nd->base to the first one found. */
bool mg_virtio_net_probe(struct mg_virtio_net *nd, uintptr_t first,
                         uintptr_t stride, unsigned count);

/* Reads the MAC from the device's configuration space. False when the
 * device does not offer one (feature VIRTIO_NET_F_MAC) or base is unset. */
bool mg_virtio_net_mac(const struct mg_virtio_net *nd, uint8_t mac[6]);

/* Interrupt handler body: acknowledges the device's interrupt so the line
 * drops; the frames themselves are taken by rx() in the main loop. */
void mg_virtio_net_isr(struct mg_virtio_net *nd);

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_VIRTIO_NET_H */
