/* Board support shared by the Arm MPS2 FPGA images QEMU models (mps2-an385,
 * mps2-an505): SysTick clock, CMSDK UART0 console with an interrupt-driven
 * receive ring, LAN9118 Ethernet, semihosting exit, and the core's platform
 * function mg_random() (the clock and the log sink are in boards/common).
 * The images differ in facts only (addresses, interrupt numbers, clock),
 * which come from the board's board.h as MPS2_* constants.
 *
 * Board state is one static struct: it is hardware state (one UART, one
 * clock), shared by interrupt handlers and the main loop, not core state. */
#include <string.h>

#include "board.h"
#include "mg_driver_lan9118.h"
#include "board_console.h"
#include "board_prng.h"

/* Used when the LAN9118 has no address from its EEPROM. Locally
 * administered, unicast (bit 1 of the first byte set, bit 0 clear). */
static const uint8_t k_default_mac[6] = {0x02, 0x00, 0x4D, 0x47, 0x00, 0x01};

static struct {
  volatile uint32_t entropy;   /* timing jitter collected from interrupts */
  struct board_console con;    /* receive ring, overruns, wake flag */
  uint8_t rx_storage[MPS2_CONSOLE_RX_RING];
  struct mg_lan9118 eth;
  struct mg_driver eth_driver; /* mg_driver_lan9118 with a board-aware init */
} s_board;

#define UART0(off) CM_REG32(MPS2_UART0_BASE + (off))

static bool eth_init(void *ctx, const uint8_t mac[6]);

/* Folds the free-running SysTick counter into the entropy pool: when an
 * interrupt arrives relative to the tick depends on the outside world. */
static void entropy_mix(uint32_t extra) {
  uint32_t e = s_board.entropy;
  e = ((e << 7) | (e >> 25)) ^ CM_REG32(CM_SYST_CVR) ^ extra;
  s_board.entropy = e;
}

const char *board_name(void) {
  return BOARD_NAME;
}

struct board_console *board_console_state(void) {
  return &s_board.con;
}

_Static_assert(MPS2_SYSCLK_HZ / MPS2_CONSOLE_BAUD >= CMSDK_UART_BAUDDIV_MIN,
               "CMSDK UART divider below its minimum");

static void uart0_rx_resume(void);

void board_init(void) {
  ringbuf_init(&s_board.con.rx, s_board.rx_storage, sizeof(s_board.rx_storage));
  s_board.con.rx_resume = uart0_rx_resume;
  UART0(CMSDK_UART_BAUDDIV) = MPS2_SYSCLK_HZ / MPS2_CONSOLE_BAUD;
  UART0(CMSDK_UART_CTRL) =
      CMSDK_UART_CTRL_TX_EN | CMSDK_UART_CTRL_RX_EN | CMSDK_UART_CTRL_RX_IRQ_EN;
  cm_nvic_enable(MPS2_IRQ_UART0_RX);

  cm_systick_start(MPS2_SYSCLK_HZ / MPS2_TICK_HZ);
}

/* ---- Interrupt handlers (named in startup.c's vector table). ---- */
void board_uart0_rx_isr(void);
void board_lan9118_isr(void);

/* Moves bytes from the UART into the ring while both have some. When the
 * ring is full the byte stays in the UART's holding register and the receive
 * interrupt is turned off until the main loop made room: the UART then holds
 * off its sender (QEMU stops delivering while the register is full; real
 * hardware without flow control overruns, which is counted), so a burst
 * larger than the ring waits instead of being dropped. Runs in the interrupt
 * or with interrupts masked: it is the ring's only producer. */
static void uart0_rx_drain(void) {
  while (UART0(CMSDK_UART_STATE) & CMSDK_UART_STATE_RX_FULL) {
    if (ringbuf_full(&s_board.con.rx)) {
      UART0(CMSDK_UART_CTRL) &= ~CMSDK_UART_CTRL_RX_IRQ_EN;
      s_board.con.rx_paused = true;
      return;
    }
    uint8_t byte = (uint8_t) UART0(CMSDK_UART_DATA);
    ringbuf_push(&s_board.con.rx, byte);
    entropy_mix(byte);
  }
}

/* Main loop, after a pop made room. The interrupt is turned on before the
 * drain: a byte that arrived while it was off raised no interrupt and is
 * taken here; one arriving after raises it (and waits for the unmasking). */
static void uart0_rx_resume(void) {
  uint32_t mask = cm_irq_save();
  s_board.con.rx_paused = false;
  UART0(CMSDK_UART_CTRL) |= CMSDK_UART_CTRL_RX_IRQ_EN;
  uart0_rx_drain();
  cm_irq_restore(mask);
}

void board_uart0_rx_isr(void) {
  /* Clear first, then drain: a byte landing after the last read raises the
   * interrupt again instead of waiting unseen in the holding register. */
  UART0(CMSDK_UART_INTSTATUS) = CMSDK_UART_INT_RX;
  uart0_rx_drain();
  if (UART0(CMSDK_UART_STATE) & CMSDK_UART_STATE_RX_OVERRUN) {
    UART0(CMSDK_UART_STATE) = CMSDK_UART_STATE_RX_OVERRUN; /* write 1 clears */
    s_board.con.rx_overruns++;
  }
  s_board.con.wake = true;
}

void board_lan9118_isr(void) {
  if (s_board.eth.base != 0) mg_lan9118_isr(&s_board.eth);
  entropy_mix(0);
  s_board.con.wake = true;
}

/* ---- Console. ---- */
void board_uart_putc(uint8_t c) {
  while (UART0(CMSDK_UART_STATE) & CMSDK_UART_STATE_TX_FULL) {
  }
  UART0(CMSDK_UART_DATA) = c;
}

/* ---- Power and exit. ---- */
void board_exit(int status) {
  cm_semihost_exit(status);
  /* No semihosting host: stop here, quietly. */
  (void) cm_irq_save();
  for (;;) cm_wfi();
}

/* ---- Ethernet. ---- */
/* The chip's interrupt line idles asserted until the driver has configured
 * its polarity, so the NVIC line is only opened after a successful init. */
static bool eth_init(void *ctx, const uint8_t mac[6]) {
  cm_nvic_disable(MPS2_IRQ_LAN9118);
  if (!mg_driver_lan9118.init(ctx, mac)) return false;
  cm_nvic_enable(MPS2_IRQ_LAN9118); /* also drops any stale pending state */
  return true;
}

static void eth_setup(void) {
  if (s_board.eth.base != 0) return;
  s_board.eth.base = MPS2_LAN9118_BASE;
  s_board.eth.use_irq = true;
  s_board.eth_driver = mg_driver_lan9118;
  s_board.eth_driver.init = eth_init;
}

/* Set up on first use, so images without networking leave the driver out. */
const struct mg_driver *board_eth(void **ctx) {
  eth_setup();
  *ctx = &s_board.eth;
  return &s_board.eth_driver;
}

/* The address QEMU (or the board's EEPROM) gave the chip: with QEMU that is
 * 52:54:00:12:34:56 unless -nic/-net ...,macaddr= says otherwise, so several
 * emulated boards can share one network. */
void board_eth_mac(uint8_t mac[6]) {
  eth_setup();
  if (!mg_lan9118_eeprom_mac(&s_board.eth, mac)) {
    memcpy(mac, k_default_mac, sizeof(k_default_mac));
  }
}

/* ---- The core's platform functions. ---- */
/* QEMU's MPS2 machines (and the AN385/AN505 images) has no hardware random number generator: mg_random() is the
 * splitmix64 generator of boards/common/board_prng.c, stirred here with what
 * the board has: the SysTick phase and uptime at each call, and interrupt
 * timing jitter (console bytes, Ethernet frames). */
uint64_t board_prng_stir(void) {
  return ((uint64_t) CM_REG32(CM_SYST_CVR) << 32) ^ s_board.entropy ^ (mg_millis() << 8);
}

/* ---- The slots' "flash": QEMU models SSRAM1 as RAM, so it is written byte
 * by byte, which keeps the window of a torn write as wide as on real flash. */
bool board_flash_erase(uint32_t addr, size_t len) {
  volatile uint8_t *p = (volatile uint8_t *) (uintptr_t) addr;
  for (size_t i = 0; i < len; i++) p[i] = 0xff;
  return true;
}

bool board_flash_program(uint32_t addr, const void *buf, size_t len) {
  volatile uint8_t *p = (volatile uint8_t *) (uintptr_t) addr;
  const uint8_t *s = (const uint8_t *) buf;
  for (size_t i = 0; i < len; i++) p[i] = s[i];
  return true;
}
