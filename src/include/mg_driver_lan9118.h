/* SMSC/Microchip LAN9118 Ethernet controller (MAC + PHY behind a 32-bit
 * memory-mapped register block), on the mg_driver contract. Used by the Arm
 * MPS2 boards and by QEMU's mps2-an385 model.
 *
 * Usage: fill a struct mg_lan9118 with the base address, pass
 * &mg_driver_lan9118 and the struct to the stack. If the board wires the
 * chip's interrupt, set use_irq and call mg_lan9118_isr() from the handler:
 * then a received frame wakes a sleeping CPU. */
#ifndef MG_DRIVER_LAN9118_H
#define MG_DRIVER_LAN9118_H

#include "mg_driver.h"

#ifndef MG_ENABLE_DRIVER_LAN9118
#define MG_ENABLE_DRIVER_LAN9118 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct mg_lan9118 {
  uintptr_t base;         /* register block address (set by the board) */
  bool use_irq;           /* drive the IRQ pin on received frames */
  /* Driver state and counters, zero-initialise. */
  uint16_t tx_tag;        /* rolling tag put in each TX command */
  bool link_up;           /* last PHY link state seen */
  uint64_t link_checked;  /* mg_millis() of the last PHY read */
  uint32_t rx_frames;     /* frames delivered */
  uint32_t tx_frames;     /* frames queued */
  uint32_t rx_errors;     /* frames dropped: CRC/length errors, too big */
  uint32_t tx_errors;     /* TX FIFO stuck or error status */
};

extern const struct mg_driver mg_driver_lan9118;

/* Reads the station address the chip loaded from its EEPROM at reset (QEMU:
 * the -nic/-net macaddr). False when there is none or it is not a usable
 * unicast address; callers then pick their own. Works before init(). */
bool mg_lan9118_eeprom_mac(const struct mg_lan9118 *eth, uint8_t mac[6]);

/* Interrupt handler body: masks the receive interrupt until rx() has drained
 * the FIFO (which re-arms it), so a pending frame cannot storm the CPU. */
void mg_lan9118_isr(struct mg_lan9118 *eth);

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_LAN9118_H */
