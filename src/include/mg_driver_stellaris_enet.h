/* Ethernet controller of the TI (Luminary Micro) Stellaris LM3S6965 family:
 * an on-chip 10/100 MAC with FIFOs (no DMA) and an internal PHY reached
 * through MII management, on the mg_driver contract. QEMU models it as
 * `stellaris_enet` on the lm3s6965evb machine.
 *
 * Usage: fill a struct mg_stellaris_enet with the register base (and the
 * system clock, for the MII clock divider), pass &mg_driver_stellaris_enet
 * and the struct to the stack. With use_irq set, call
 * mg_stellaris_enet_isr() from the Ethernet interrupt: a received frame then
 * wakes a sleeping CPU.
 *
 * How frames sit in the FIFOs (LM3S6965 data sheet, "Ethernet Controller"):
 * - RX: each frame starts with a 16-bit length word counting itself, the
 *   frame (destination MAC first) and the 4-byte FCS; the first 32-bit read
 *   of MACDATA gives that length in bits 15:0 and the frame's first two
 *   bytes in bits 31:16. A frame takes ceil(length / 4) reads; MACNP counts
 *   the frames waiting. Reading MACDATA with MACNP == 0 is an underflow.
 * - TX: the first write of MACDATA carries the payload length (frame minus
 *   the 14-byte Ethernet header) in bits 15:0 and the frame's first two bytes
 *   in bits 31:16, then the rest of the frame follows; MACTR.NEWTX starts the
 *   transmission and reads 1 until the frame has left. */
#ifndef MG_DRIVER_STELLARIS_ENET_H
#define MG_DRIVER_STELLARIS_ENET_H

#include "mg_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Registers (byte offsets from the controller's base). ---- */
#define SE_MACRIS 0x000u  /* read: raw interrupt status */
#define SE_MACIACK 0x000u /* write 1s: acknowledge those interrupts */
#define SE_MACIM 0x004u   /* interrupt mask: 1 = enabled */
#define SE_MACRCTL 0x008u /* receive control */
#define SE_MACTCTL 0x00Cu /* transmit control */
#define SE_MACDATA 0x010u /* read: RX FIFO, write: TX FIFO */
#define SE_MACIA0 0x014u  /* station address bytes 0..3 (byte 0 lowest) */
#define SE_MACIA1 0x018u  /* station address bytes 4..5 */
#define SE_MACTHR 0x01Cu  /* TX FIFO threshold; SE_MACTHR_OFF = start by NEWTX */
#define SE_MACMCTL 0x020u /* MII management control */
#define SE_MACMDV 0x024u  /* MII management clock divider */
#define SE_MACMTXD 0x02Cu /* MII management data to write */
#define SE_MACMRXD 0x030u /* MII management data read */
#define SE_MACNP 0x034u   /* frames in the RX FIFO */
#define SE_MACTR 0x038u   /* transmission request */

/* MACRIS / MACIACK / MACIM bits. */
#define SE_INT_RX (1u << 0)    /* a frame was received */
#define SE_INT_TXER (1u << 1)  /* transmit error (acknowledging it empties the TX FIFO) */
#define SE_INT_TXEMP (1u << 2) /* TX FIFO empty */
#define SE_INT_FOV (1u << 3)   /* RX FIFO overrun: a frame was lost */
#define SE_INT_RXER (1u << 4)  /* receive error */
#define SE_INT_MD (1u << 5)    /* MII management transaction done */
#define SE_INT_PHY (1u << 6)   /* PHY interrupt */
#define SE_INT_ALL 0x7Fu

/* MACRCTL bits. */
#define SE_RCTL_RXEN (1u << 0)    /* receiver on */
#define SE_RCTL_AMUL (1u << 1)    /* accept all multicast frames */
#define SE_RCTL_PRMS (1u << 2)    /* promiscuous */
#define SE_RCTL_BADCRC (1u << 3)  /* drop frames with a bad FCS */
#define SE_RCTL_RSTFIFO (1u << 4) /* empty the RX FIFO (receiver off first) */

/* MACTCTL bits. */
#define SE_TCTL_TXEN (1u << 0)   /* transmitter on */
#define SE_TCTL_PADEN (1u << 1)  /* pad short frames to 60 bytes */
#define SE_TCTL_CRC (1u << 2)    /* append the FCS */
#define SE_TCTL_DUPLEX (1u << 4) /* full duplex */

#define SE_MACTHR_OFF 0x3Fu /* threshold value that disables early start */
#define SE_MACTR_NEWTX (1u << 0)
#define SE_MACNP_MASK 0x3Fu

/* MACMCTL: START begins a transaction and clears when it is done. */
#define SE_MCTL_START (1u << 0)
#define SE_MCTL_WRITE (1u << 1)
#define SE_MCTL_REGADR_SHIFT 3u
#define SE_MCTL_REGADR_MASK (0x1Fu << SE_MCTL_REGADR_SHIFT)
#define SE_MDC_MAX_HZ 2500000u /* MII clock = sysclk / (2 * (MACMDV + 1)) */
#define SE_MACMDV_MASK 0xFFu

/* FIFO facts. */
#define SE_FIFO_BYTES 2048u    /* each of the RX and TX FIFOs */
#define SE_RX_LEN_HDR 2u       /* the RX length word */
#define SE_RX_OVERHEAD 6u      /* length word + FCS, counted in the length */
#define SE_RX_LEN_MASK 0xFFFFu
#define SE_TX_LEN_MASK 0xFFFFu

/* Internal PHY registers (IEEE 802.3 clause 22 numbering). */
#define SE_PHY_MR0 0u               /* control */
#define SE_PHY_MR1 1u               /* status */
#define SE_PHY_MR0_ANEGEN (1u << 12) /* auto-negotiation on */
#define SE_PHY_MR0_RANEG (1u << 9)   /* restart auto-negotiation */
#define SE_PHY_MR1_LINK (1u << 2)    /* link up (latches low) */
#define SE_PHY_MR1_ABILITIES 0xF800u /* 100BASE-T4 .. 10BASE-T abilities */

struct mg_stellaris_enet {
  uintptr_t base;        /* register block address (set by the board) */
  uint32_t sysclk_hz;    /* system clock, for the MII divider; 0 = keep reset value */
  bool use_irq;          /* raise the interrupt on received frames */
  /* Driver state and counters, zero-initialise. */
  bool link_up;          /* last link state reported by poll() */
  bool phy_silent;       /* the PHY reports no abilities (QEMU's model): link assumed */
  uint64_t link_checked; /* mg_millis() of the last PHY read */
  uint32_t rx_frames;    /* frames delivered */
  uint32_t tx_frames;    /* frames handed to the MAC */
  uint32_t rx_errors;    /* frames dropped: bad length, larger than the buffer */
  uint32_t rx_resets;    /* RX FIFO resets after a length word made no sense */
  uint32_t rx_overruns;  /* frames the MAC lost to a full RX FIFO (FOV) */
  uint32_t tx_errors;    /* frames refused: too long, MAC busy, TX error */
};

#if MG_ENABLE_DRIVER_STELLARIS_ENET
extern const struct mg_driver mg_driver_stellaris_enet;

/* Interrupt handler body: masks the receive interrupt until rx() has emptied
 * the FIFO (which re-arms it), so waiting frames cannot storm the CPU. */
void mg_stellaris_enet_isr(struct mg_stellaris_enet *eth);
#endif

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_STELLARIS_ENET_H */
