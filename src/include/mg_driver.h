/* The Ethernet driver contract: four calls, no knowledge of the stack above.
 * Implementations live in src/drivers/ (tap, in-memory link, serial framing,
 * lan9118, stm32-eth, w5500 ...). ctx is the driver's own state object. */
#ifndef MG_DRIVER_H
#define MG_DRIVER_H

#include "mg_base.h"

#ifdef __cplusplus
extern "C" {
#endif

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
};

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_H */
