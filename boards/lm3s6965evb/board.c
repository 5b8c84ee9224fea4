/* lm3s6965evb board support: PLL clock, SysTick, PL011 UART0 console with an
 * interrupt-driven receive ring, the on-chip Ethernet MAC, semihosting exit,
 * and the core's platform function mg_random() (the clock and the log sink
 * are in boards/common).
 *
 * Board state is one static struct: it is hardware state (one UART, one
 * clock), shared by interrupt handlers and the main loop, not core state. */
#include <string.h>

#include "board.h"
#include "board_console.h"
#include "board_prng.h"
#include "mg_driver_stellaris_enet.h"

/* Used when the user registers hold no address (erased flash). Locally
 * administered, unicast (bit 1 of the first byte set, bit 0 clear). */
static const uint8_t k_default_mac[6] = {0x02, 0x00, 0x4D, 0x47, 0x00, 0x02};

#define PLL_LOCK_SPINS 100000u

static struct {
  uint32_t sysclk_hz;          /* what board_init() got the clock to */
  volatile uint32_t entropy;   /* timing jitter collected from interrupts */
  struct board_console con;    /* receive ring, overruns, wake flag */
  uint8_t rx_storage[LM3S_CONSOLE_RX_RING];
  struct mg_stellaris_enet eth;
  struct mg_driver eth_driver; /* mg_driver_stellaris_enet with a board-aware init */
} s_board;

#define SYSCTL(off) CM_REG32(LM3S_SYSCTL_BASE + (off))
#define UART0(off) CM_REG32(LM3S_UART0_BASE + (off))
#define GPIOA(off) CM_REG32(LM3S_GPIOA_BASE + (off))

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

/* The PLL sequence of the data sheet: run from the crystal (bypass) while
 * the PLL starts, set the divider, wait for lock, then switch over. Without
 * a lock the board stays on the bare crystal. */
static uint32_t clock_init(void) {
  uint32_t rcc = SYSCTL(SYSCTL_RCC);
  rcc |= SYSCTL_RCC_BYPASS;
  rcc &= ~SYSCTL_RCC_USESYSDIV;
  SYSCTL(SYSCTL_RCC) = rcc;
  rcc &= ~(SYSCTL_RCC_XTAL_MASK | SYSCTL_RCC_OSCSRC_MASK | SYSCTL_RCC_PWRDN);
  rcc |= SYSCTL_RCC_XTAL_8MHZ << SYSCTL_RCC_XTAL_SHIFT;
  SYSCTL(SYSCTL_MISC) = SYSCTL_INT_PLLL;
  SYSCTL(SYSCTL_RCC) = rcc;
  uint32_t sysdiv = SYSCTL_PLL_HZ / LM3S_SYSCLK_HZ - 1u;
  rcc &= ~SYSCTL_RCC_SYSDIV_MASK;
  rcc |= (sysdiv << SYSCTL_RCC_SYSDIV_SHIFT) | SYSCTL_RCC_USESYSDIV;
  SYSCTL(SYSCTL_RCC) = rcc;
  if (!cm_wait_bits(LM3S_SYSCTL_BASE + SYSCTL_RIS, SYSCTL_INT_PLLL,
                    SYSCTL_INT_PLLL, PLL_LOCK_SPINS)) {
    SYSCTL(SYSCTL_RCC) = rcc & ~SYSCTL_RCC_USESYSDIV; /* crystal, undivided */
    return LM3S_XTAL_HZ;
  }
  SYSCTL(SYSCTL_RCC) = rcc & ~SYSCTL_RCC_BYPASS;
  return LM3S_SYSCLK_HZ;
}

static void uart0_rx_resume(void);

void board_init(void) {
  s_board.sysclk_hz = clock_init();
  SYSCTL(SYSCTL_RCGC1) |= SYSCTL_RCGC1_UART0;
  SYSCTL(SYSCTL_RCGC2) |= SYSCTL_RCGC2_GPIOA;
  GPIOA(GPIO_AFSEL) |= GPIOA_UART0_PINS;
  GPIOA(GPIO_DEN) |= GPIOA_UART0_PINS;

  ringbuf_init(&s_board.con.rx, s_board.rx_storage, sizeof(s_board.rx_storage));
  s_board.con.rx_resume = uart0_rx_resume;
  /* Baud divisor in 1/64ths: sysclk / (16 * baud), rounded. */
  uint32_t div64 = (4u * s_board.sysclk_hz + LM3S_CONSOLE_BAUD / 2u) / LM3S_CONSOLE_BAUD;
  UART0(PL011_CR) = 0;
  UART0(PL011_IBRD) = div64 >> 6;
  UART0(PL011_FBRD) = div64 & 63u;
  UART0(PL011_LCRH) = PL011_LCRH_WLEN_8 | PL011_LCRH_FEN; /* latches the divisor */
  UART0(PL011_IFLS) = 0;                                   /* RX at 1/8 full */
  UART0(PL011_ICR) = PL011_INT_RX | PL011_INT_RT;
  UART0(PL011_IMSC) = PL011_INT_RX | PL011_INT_RT;
  UART0(PL011_CR) = PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE;
  cm_nvic_enable(LM3S_IRQ_UART0);

  cm_systick_start(s_board.sysclk_hz / LM3S_TICK_HZ);
}

/* ---- Interrupt handlers (named in startup.c's vector table). ---- */
void board_uart0_isr(void);
void board_enet_isr(void);

/* Moves bytes from the UART FIFO into the ring while both have some. When
 * the ring is full the bytes stay in the FIFO and the receive interrupts are
 * turned off until the main loop made room: QEMU then holds off its sender,
 * so a burst larger than the ring waits instead of being dropped (real
 * hardware without flow control overruns, which is counted). Runs in the
 * interrupt or with interrupts masked: it is the ring's only producer. */
static void uart0_rx_drain(void) {
  while ((UART0(PL011_FR) & PL011_FR_RXFE) == 0) {
    if (ringbuf_full(&s_board.con.rx)) {
      UART0(PL011_IMSC) &= ~(PL011_INT_RX | PL011_INT_RT);
      s_board.con.rx_paused = true;
      return;
    }
    uint32_t dr = UART0(PL011_DR);
    if (dr & PL011_DR_OE) {
      s_board.con.rx_overruns++;
      UART0(PL011_RSR_ECR) = 0;
    }
    ringbuf_push(&s_board.con.rx, (uint8_t) dr);
    entropy_mix(dr);
  }
}

/* Main loop, after a pop made room. Interrupts on first, then a drain: what
 * waited in the FIFO is taken here, later bytes raise the interrupt. */
static void uart0_rx_resume(void) {
  uint32_t mask = cm_irq_save();
  s_board.con.rx_paused = false;
  UART0(PL011_IMSC) |= PL011_INT_RX | PL011_INT_RT;
  uart0_rx_drain();
  cm_irq_restore(mask);
}

void board_uart0_isr(void) {
  /* Clear first, then drain: a byte landing after the last read raises the
   * interrupt again instead of waiting unseen in the FIFO. */
  UART0(PL011_ICR) = PL011_INT_RX | PL011_INT_RT;
  uart0_rx_drain();
  s_board.con.wake = true;
}

void board_enet_isr(void) {
  if (s_board.eth.base != 0) mg_stellaris_enet_isr(&s_board.eth);
  entropy_mix(0);
  s_board.con.wake = true;
}

/* ---- Console. ---- */
void board_uart_putc(uint8_t c) {
  while (UART0(PL011_FR) & PL011_FR_TXFF) {
  }
  UART0(PL011_DR) = c;
}

/* ---- Power and exit. ---- */
void board_exit(int status) {
  cm_semihost_exit(status);
  /* No semihosting host: stop here, quietly. */
  (void) cm_irq_save();
  for (;;) cm_wfi();
}

/* ---- Ethernet. ---- */
/* Clocks for the MAC and its PHY on, then the driver; the NVIC line opens
 * only once the MAC is set up, with nothing stale pending. */
static bool eth_init(void *ctx, const uint8_t mac[6]) {
  cm_nvic_disable(LM3S_IRQ_ENET);
  SYSCTL(SYSCTL_RCGC2) |= SYSCTL_RCGC2_EMAC0 | SYSCTL_RCGC2_EPHY0;
  if (!mg_driver_stellaris_enet.init(ctx, mac)) return false;
  cm_nvic_enable(LM3S_IRQ_ENET);
  return true;
}

static void eth_setup(void) {
  if (s_board.eth.base != 0) return;
  s_board.eth.base = LM3S_ENET_BASE;
  s_board.eth.sysclk_hz = s_board.sysclk_hz;
  s_board.eth.use_irq = true;
  s_board.eth_driver = mg_driver_stellaris_enet;
  s_board.eth_driver.init = eth_init;
}

/* Set up on first use, so images without networking leave the driver out. */
const struct mg_driver *board_eth(void **ctx) {
  eth_setup();
  *ctx = &s_board.eth;
  return &s_board.eth_driver;
}

/* The address programmed into the user registers USER0/USER1 (three bytes
 * each, lowest first), as TI ships the boards; QEMU fills them from the
 * -nic/-net macaddr (default 52:54:00:12:34:56). Erased or multicast: our
 * own locally administered default. */
void board_eth_mac(uint8_t mac[6]) {
  uint32_t u0 = SYSCTL(SYSCTL_USER0), u1 = SYSCTL(SYSCTL_USER1);
  uint8_t m[6] = {(uint8_t) u0, (uint8_t) (u0 >> 8), (uint8_t) (u0 >> 16),
                  (uint8_t) u1, (uint8_t) (u1 >> 8), (uint8_t) (u1 >> 16)};
  bool all_zero = (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
  if (u0 == SYSCTL_USER_UNSET || u1 == SYSCTL_USER_UNSET || all_zero ||
      (m[0] & 1u) != 0) {
    memcpy(mac, k_default_mac, sizeof(k_default_mac));
  } else {
    memcpy(mac, m, sizeof(m));
  }
}

/* ---- The core's platform functions. ---- */
/* The LM3S6965 has no hardware random number generator: mg_random() is the
 * splitmix64 generator of boards/common/board_prng.c, stirred here with what
 * the board has: the SysTick phase and uptime at each call, and interrupt
 * timing jitter (console bytes, Ethernet frames). */
uint64_t board_prng_stir(void) {
  return ((uint64_t) CM_REG32(CM_SYST_CVR) << 32) ^ s_board.entropy ^ (mg_millis() << 8);
}
