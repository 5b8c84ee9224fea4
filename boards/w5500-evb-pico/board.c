/* W5500-EVB-Pico board support: 12 MHz crystal clock (no PLL), SysTick
 * milliseconds, UART0 console with an interrupt-driven receive ring, W5500
 * Ethernet on SPI0 with a software chip select, and the core's platform
 * functions. Build-only in this project: every hardware wait is bounded and
 * failures are reported. */
#include <string.h>

#include "board.h"
#include "mg_driver_w5500.h"
#include "board_console.h"
#include "board_prng.h"

#define SPIN_LIMIT 1000000u
#define RANDOM_FOLD 8u /* RANDOMBIT samples XOR-ed into each output bit */
#define MAC_MULTICAST 0x01u /* I/G bit of the first octet */
#define MAC_LOCAL 0x02u     /* U/L bit: locally administered */

#define REG(base, off) CM_REG32((base) + (off))
#define UART0(off) REG(RP_UART0_BASE, off)
#define SPI0(off) REG(RP_SPI0_BASE, off)

static struct {
  uint32_t sysclk_hz;
  struct board_console con;    /* receive ring, overruns, wake flag */
  uint8_t rx_storage[RP_CONSOLE_RX_RING];
  struct mg_w5500 eth;
  struct mg_driver eth_driver;
  bool have_mac;
  uint8_t mac[6];
} s_board;

const char *board_name(void) {
  return BOARD_NAME;
}

struct board_console *board_console_state(void) {
  return &s_board.con;
}

static bool wait_set(uint32_t addr, uint32_t mask, uint32_t want) {
  return cm_wait_bits(addr, mask, want, SPIN_LIMIT);
}

/* Takes peripherals out of reset and waits until they are ready. */
static bool unreset(uint32_t mask) {
  CM_REG32(RP_RESETS_BASE + RP_ALIAS_CLR + RESETS_RESET) = mask;
  return wait_set(RP_RESETS_BASE + RESETS_RESET_DONE, mask, mask);
}

/* At reset the RP2040 runs from its ring oscillator, whose frequency varies
 * from chip to chip (1.8..12 MHz): no use for a baud rate. Start the 12 MHz
 * crystal and run clk_ref, clk_sys and clk_peri from it, PLLs off. If the
 * crystal does not start, stay on the ROSC and assume its nominal speed
 * (console baud and tick then off by up to a factor of 2 or so). */
static uint32_t clock_init(void) {
  REG(RP_XOSC_BASE, XOSC_CTRL) = XOSC_CTRL_FREQ_1_15MHZ;
  REG(RP_XOSC_BASE, XOSC_STARTUP) =
      (RP_XOSC_HZ / 1000u * XOSC_STARTUP_MS + XOSC_STARTUP_CYCLES - 1u) /
      XOSC_STARTUP_CYCLES;
  REG(RP_XOSC_BASE, XOSC_CTRL) = XOSC_CTRL_FREQ_1_15MHZ | XOSC_CTRL_ENABLE;
  uint32_t hz = RP_ROSC_NOMINAL_HZ;
  if (wait_set(RP_XOSC_BASE + XOSC_STATUS, XOSC_STATUS_STABLE, XOSC_STATUS_STABLE)) {
    /* clk_sys already follows clk_ref after reset; make sure, then move
     * clk_ref over to the crystal (a glitchless mux). */
    REG(RP_CLOCKS_BASE, CLK_SYS_CTRL) &= ~CLK_SYS_SRC_MASK;
    wait_set(RP_CLOCKS_BASE + CLK_SYS_SELECTED, CLK_SYS_SELECTED_REF,
             CLK_SYS_SELECTED_REF);
    REG(RP_CLOCKS_BASE, CLK_REF_CTRL) =
        (REG(RP_CLOCKS_BASE, CLK_REF_CTRL) & ~CLK_REF_SRC_MASK) | CLK_REF_SRC_XOSC;
    if (wait_set(RP_CLOCKS_BASE + CLK_REF_SELECTED, CLK_REF_SELECTED_XOSC,
                 CLK_REF_SELECTED_XOSC)) {
      hz = RP_XOSC_HZ;
    }
  }
  /* clk_peri (UART, SPI) from clk_sys. */
  REG(RP_CLOCKS_BASE, CLK_PERI_CTRL) = CLK_PERI_AUXSRC_SYS | CLK_PERI_ENABLE;
  return hz;
}

static void pin_function(uint32_t pin, uint32_t func, uint32_t pads) {
  REG(RP_PADS_BANK0_BASE, PADS_GPIO(pin)) = pads;
  REG(RP_IO_BANK0_BASE, IO_GPIO_CTRL(pin)) = func;
}

static void sio_output(uint32_t pin, bool high) {
  uint32_t bit = 1u << pin;
  REG(RP_SIO_BASE, high ? SIO_GPIO_OUT_SET : SIO_GPIO_OUT_CLR) = bit;
  REG(RP_SIO_BASE, SIO_GPIO_OE_SET) = bit;
  pin_function(pin, IO_FUNC_SIO, PADS_IE);
}

void board_init(void) {
  s_board.sysclk_hz = clock_init();
  ringbuf_init(&s_board.con.rx, s_board.rx_storage, sizeof(s_board.rx_storage));
  if (unreset(RESETS_IO_BANK0 | RESETS_PADS_BANK0 | RESETS_UART0)) {
    pin_function(PIN_UART_TX, IO_FUNC_UART, PADS_IE);
    pin_function(PIN_UART_RX, IO_FUNC_UART, PADS_IE | PADS_PUE);
    /* Divisor in 1/128 units, rounded to the nearest 1/64. */
    uint32_t div = 8u * s_board.sysclk_hz / RP_CONSOLE_BAUD;
    UART0(UART_IBRD) = div >> 7;
    UART0(UART_FBRD) = ((div & 0x7Fu) + 1u) / 2u;
    UART0(UART_LCR_H) = UART_LCR_H_WLEN8 | UART_LCR_H_FEN; /* also latches the divisor */
    UART0(UART_ICR) = UART_ICR_ALL;
    UART0(UART_IMSC) = UART_IMSC_RXIM | UART_IMSC_RTIM;
    UART0(UART_CR) = UART_CR_UARTEN | UART_CR_TXE | UART_CR_RXE;
    cm_nvic_enable(RP_IRQ_UART0);
  }
  cm_systick_start(s_board.sysclk_hz / RP_TICK_HZ);
}

/* ---- Interrupt handlers (named in startup.c's vector table). ---- */
void board_uart0_isr(void);

void board_uart0_isr(void) {
  while ((UART0(UART_FR) & UART_FR_RXFE) == 0) {
    uint32_t d = UART0(UART_DR);
    if (d & UART_DR_OE) s_board.con.rx_overruns++;
    ringbuf_push(&s_board.con.rx, (uint8_t) d);
  }
  UART0(UART_ICR) = UART_ICR_ALL;
  s_board.con.wake = true;
}

/* ---- Console. ---- */
void board_uart_putc(uint8_t c) {
  for (uint32_t i = 0; i < SPIN_LIMIT && (UART0(UART_FR) & UART_FR_TXFF); i++) {
  }
  UART0(UART_DR) = c;
}

/* ---- Power and exit. ---- */
void board_exit(int status) {
  cm_semihost_exit(status); /* answered only with a debugger attached */
  (void) cm_irq_save();
  for (;;) cm_wfi();
}

/* ---- SPI0 for the W5500: mode 0, 8-bit frames, chip select by software
 * so that it stays low for a whole W5500 frame. ---- */
static void spi_begin(void *spi) {
  (void) spi;
  REG(RP_SIO_BASE, SIO_GPIO_OUT_CLR) = 1u << PIN_W5500_CS;
}

static void spi_end(void *spi) {
  (void) spi;
  for (uint32_t i = 0; i < SPI_SPIN_LIMIT && (SPI0(SPI_SR) & SPI_SR_BSY); i++) {
  }
  REG(RP_SIO_BASE, SIO_GPIO_OUT_SET) = 1u << PIN_W5500_CS;
}

/* One byte out, one byte in, at a time: the 8-deep FIFOs are not worth the
 * bookkeeping at 6 MHz. Bounded, so a dead bus reads zeros. */
static void spi_txn(void *spi, const uint8_t *tx, uint8_t *rx, size_t len) {
  (void) spi;
  for (size_t i = 0; i < len; i++) {
    uint32_t n;
    for (n = 0; n < SPI_SPIN_LIMIT && !(SPI0(SPI_SR) & SPI_SR_TNF); n++) {
    }
    SPI0(SPI_DR) = tx ? tx[i] : 0u;
    for (n = 0; n < SPI_SPIN_LIMIT && !(SPI0(SPI_SR) & SPI_SR_RNE); n++) {
    }
    uint8_t b = (SPI0(SPI_SR) & SPI_SR_RNE) ? (uint8_t) SPI0(SPI_DR) : 0u;
    if (rx) rx[i] = b;
  }
}

static void delay_ms(uint32_t ms) {
  uint64_t until = mg_millis() + ms + 1u; /* +1: the current tick is partial */
  for (uint32_t i = 0; i < SPIN_LIMIT * 10u && mg_millis() < until; i++) {
  }
}

/* Pins, SPI0 and a hardware reset of the W5500, then the driver's init. */
static bool eth_init(void *ctx, const uint8_t mac[6]) {
  if (!unreset(RESETS_SPI0)) return false;
  sio_output(PIN_W5500_CS, true);
  sio_output(PIN_W5500_RST, false);
  pin_function(PIN_SPI_SCK, IO_FUNC_SPI, PADS_IE);
  pin_function(PIN_SPI_MOSI, IO_FUNC_SPI, PADS_IE);
  pin_function(PIN_SPI_MISO, IO_FUNC_SPI, PADS_IE | PADS_PUE);
  SPI0(SPI_CR1) = 0;
  SPI0(SPI_CPSR) = SPI_CPSR_DIV;
  SPI0(SPI_CR0) = SPI_CR0_DSS_8BIT; /* Motorola frames, CPOL 0, CPHA 0, SCR 0 */
  SPI0(SPI_CR1) = SPI_CR1_SSE;
  delay_ms(W5500_RESET_LOW_MS);
  REG(RP_SIO_BASE, SIO_GPIO_OUT_SET) = 1u << PIN_W5500_RST;
  delay_ms(W5500_RESET_WAIT_MS);
  return mg_driver_w5500.init(ctx, mac);
}

const struct mg_driver *board_eth(void **ctx) {
  if (s_board.eth.spi_txn == NULL) {
    s_board.eth.spi = NULL;
    s_board.eth.spi_begin = spi_begin;
    s_board.eth.spi_end = spi_end;
    s_board.eth.spi_txn = spi_txn;
    s_board.eth_driver = mg_driver_w5500;
    s_board.eth_driver.init = eth_init;
  }
  *ctx = &s_board.eth;
  return &s_board.eth_driver;
}

/* Neither the RP2040 nor the W5500 carries a MAC address, and the flash's
 * unique ID needs a flash command the XIP code cannot issue while running
 * from flash. So: a locally administered unicast address, random per boot
 * (ROSC entropy), stable for the rest of the run. Set your own for a fixed
 * address. */
void board_eth_mac(uint8_t mac[6]) {
  if (!s_board.have_mac) {
    mg_random(s_board.mac, sizeof(s_board.mac));
    s_board.mac[0] = (uint8_t) ((s_board.mac[0] & ~MAC_MULTICAST) | MAC_LOCAL);
    s_board.have_mac = true;
  }
  memcpy(mac, s_board.mac, sizeof(s_board.mac));
}

/* ---- The core's platform functions. ---- */
/* mg_random() is the splitmix64 generator of boards/common/board_prng.c,
 * stirred here with the ring oscillator's RANDOMBIT (the ROSC keeps running
 * after the switch to the crystal), sampled RANDOM_FOLD times per bit and
 * XOR-folded, and with SysTick phase and uptime. The datasheet does not claim
 * RANDOMBIT is a good random source and its samples are correlated: fine for
 * TCP sequence numbers, ports and IDs, NOT for cryptographic keys. */
uint64_t board_prng_stir(void) {
  uint64_t raw = 0;
  for (uint32_t bit = 0; bit < 64u; bit++) {
    uint32_t b = 0;
    for (uint32_t k = 0; k < RANDOM_FOLD; k++) {
      b ^= REG(RP_ROSC_BASE, ROSC_RANDOMBIT) & 1u;
    }
    raw = (raw << 1) | b;
  }
  return raw ^ CM_REG32(CM_SYST_CVR) ^ (mg_millis() << 32);
}
