/* WIZnet W5500 on the mg_driver contract: the chip's socket 0 in MACRAW mode
 * (raw Ethernet frames in and out of its 16 KiB buffers), the other seven
 * sockets unused. Facts: W5500 datasheet v1.0.x (SPI frame, common and socket
 * register maps, MACRAW receive header).
 *
 * The chip sits on SPI: the board supplies chip-select and the byte transfer
 * as function pointers, so this file touches no MCU register and runs in a
 * host test against a simulated chip. SPI mode 0 or 3, MSB first. The board
 * pulses the chip's reset pin (if wired) before init(). */
#ifndef MG_DRIVER_W5500_H
#define MG_DRIVER_W5500_H

#include "mg_driver.h"

#ifndef MG_ENABLE_DRIVER_W5500
#define MG_ENABLE_DRIVER_W5500 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct mg_w5500 {
  /* Set by the board. */
  void *spi;                   /* passed back to the three calls below */
  void (*spi_begin)(void *spi); /* assert chip select (low) */
  void (*spi_end)(void *spi);   /* release chip select (high) */
  /* Full-duplex transfer of len bytes; tx NULL sends zeros, rx NULL
   * discards what came back. */
  void (*spi_txn)(void *spi, const uint8_t *tx, uint8_t *rx, size_t len);
  /* Driver state and counters, zero-initialise. */
  bool link_up;
  uint64_t link_checked;       /* mg_millis() of the last PHYCFGR read */
  uint32_t rx_frames, tx_frames, rx_errors, tx_errors;
  uint32_t reopens;            /* socket re-opened after a corrupt RX header */
};

extern const struct mg_driver mg_driver_w5500;

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_W5500_H */
