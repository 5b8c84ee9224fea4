/* The Ethernet driver contract: four calls (plus optional offloads), no
 * knowledge of the stack above.
 * Implementations live in src/drivers/ (tap, in-memory link, serial framing,
 * lan9118, stm32-eth, w5500 ...). ctx is the driver's own state object. */
#ifndef MG_DRIVER_H
#define MG_DRIVER_H

#include "mg_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Offload metadata of one frame, for drivers that checksum and segment on
 * the stack's behalf (the Linux TAP driver with IFF_VNET_HDR: the fields
 * mirror struct virtio_net_hdr). Offsets count from the frame's start. */
#define MG_FRAME_CSUM_PARTIAL 1u /* tx: the L4 checksum field holds the
  pseudo-header sum (folded, not complemented); the driver sums from
  csum_start to the end and stores the complement at csum_start +
  csum_offset. rx: a local sender left the checksum like that; the bytes
  never crossed a wire, so they are trusted. */
#define MG_FRAME_CSUM_VALID 2u /* rx: the L4 checksum was already verified */
struct mg_frame_meta {
  uint8_t flags;        /* MG_FRAME_CSUM_* */
  uint16_t gso_size;    /* tx: a TCP/IPv4 frame larger than the MTU that the
                           driver cuts into segments of this payload size,
                           with CSUM_PARTIAL; 0 = one frame on the wire */
  uint16_t csum_start, csum_offset;
};

struct mg_driver {
  const char *name;
  /* Brings the interface up with this MAC address; false on failure. */
  bool (*init)(void *ctx, const uint8_t mac[6]);
  /* Queues one Ethernet frame (no FCS); false when it could not be sent. */
  bool (*tx)(void *ctx, const void *frame, size_t len);
  /* Copies one received frame into buf; returns its length, 0 when none. */
  size_t (*rx)(void *ctx, void *buf, size_t len);
  /* Services the hardware; returns true while the link is up. */
  bool (*poll)(void *ctx);
  /* Optional offloads (NULL in drivers without them, e.g. every firmware
   * driver). offload: after init, the largest frame (Ethernet header
   * included) tx_meta accepts and rx_meta may return; 0 = offloads are off,
   * use tx/rx. tx_meta takes m == NULL for a plain frame. */
  size_t (*offload)(void *ctx);
  bool (*tx_meta)(void *ctx, const void *frame, size_t len,
                  const struct mg_frame_meta *m);
  size_t (*rx_meta)(void *ctx, void *buf, size_t len, struct mg_frame_meta *m);
};

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_H */
