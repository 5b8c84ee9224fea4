/* NUCLEO-F746ZG board support: 96 MHz PLL clock, SysTick milliseconds,
 * USART3 console (ST-LINK virtual COM port) with an interrupt-driven receive
 * ring, hardware RNG, Ethernet (STM32 ETH + LAN8742A over RMII), and the
 * core's platform functions. Build-only in this project: no emulator runs
 * it, so every hardware wait is bounded and failures are reported. */
#include <string.h>

#include "board.h"
#include "mg_driver_stm32_eth.h"
#include "board_console.h"

#define CLOCK_SPIN_LIMIT 1000000u
#define F7_UID_BASE 0x1FF0F420u /* 96-bit unique device ID */

#define RCC(off) CM_REG32(F7_RCC_BASE + (off))
#define USART3(off) CM_REG32(F7_USART3_BASE + (off))
#define RNG(off) CM_REG32(F7_RNG_BASE + (off))

struct pin {
  uint32_t port;
  uint8_t num;
  uint8_t af;
};

/* RMII wiring of the NUCLEO-F746ZG (UM1974). */
static const struct pin k_eth_pins[] = {
    {F7_GPIOA, 1, GPIO_AF_ETH},  /* REF_CLK */
    {F7_GPIOA, 2, GPIO_AF_ETH},  /* MDIO */
    {F7_GPIOA, 7, GPIO_AF_ETH},  /* CRS_DV */
    {F7_GPIOB, 13, GPIO_AF_ETH}, /* TXD1 */
    {F7_GPIOC, 1, GPIO_AF_ETH},  /* MDC */
    {F7_GPIOC, 4, GPIO_AF_ETH},  /* RXD0 */
    {F7_GPIOC, 5, GPIO_AF_ETH},  /* RXD1 */
    {F7_GPIOG, 11, GPIO_AF_ETH}, /* TX_EN */
    {F7_GPIOG, 13, GPIO_AF_ETH}, /* TXD0 */
};
static const struct pin k_console_tx = {F7_GPIOD, 8, GPIO_AF_USART3};
static const struct pin k_console_rx = {F7_GPIOD, 9, GPIO_AF_USART3};

/* The Ethernet DMA area lives in SRAM2 (see the linker script). */
static struct mg_stm32_eth_dma s_eth_dma __attribute__((section(".eth_dma"), aligned(32)));

static struct {
  uint32_t sysclk_hz;
  struct board_console con;    /* receive ring, overruns, wake flag */
  uint8_t rx_storage[F7_CONSOLE_RX_RING];
  struct mg_stm32_eth eth;
  struct mg_driver eth_driver;
} s_board;

static bool eth_init(void *ctx, const uint8_t mac[6]);

const char *board_name(void) {
  return BOARD_NAME;
}

struct board_console *board_console_state(void) {
  return &s_board.con;
}

static bool wait_set(uint32_t addr, uint32_t mask, uint32_t want) {
  return cm_wait_bits(addr, mask, want, CLOCK_SPIN_LIMIT);
}

/* HSI -> PLL -> 96 MHz. On any timeout the CPU stays on the 16 MHz HSI and
 * the tick and baud rate are computed from that instead. */
static uint32_t clock_init(void) {
  RCC(RCC_CR) |= RCC_CR_HSION;
  if (!wait_set(F7_RCC_BASE + RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY)) return F7_HSI_HZ;
  /* More flash wait states first, so the faster clock never outruns flash. */
  CM_REG32(F7_FLASH_ACR) = (CM_REG32(F7_FLASH_ACR) & ~FLASH_ACR_LATENCY_MASK) |
                           F7_FLASH_LATENCY_WS | FLASH_ACR_PRFTEN | FLASH_ACR_ARTEN;
  if ((CM_REG32(F7_FLASH_ACR) & FLASH_ACR_LATENCY_MASK) != F7_FLASH_LATENCY_WS) {
    return F7_HSI_HZ;
  }
  uint32_t fields = (0x3Fu << RCC_PLLCFGR_M_SHIFT) | (0x1FFu << RCC_PLLCFGR_N_SHIFT) |
                    (0x3u << RCC_PLLCFGR_P_SHIFT) | RCC_PLLCFGR_SRC_HSE |
                    (0xFu << RCC_PLLCFGR_Q_SHIFT);
  RCC(RCC_PLLCFGR) = (RCC(RCC_PLLCFGR) & ~fields) |
                     (F7_PLL_M << RCC_PLLCFGR_M_SHIFT) |
                     (F7_PLL_N << RCC_PLLCFGR_N_SHIFT) |
                     (F7_PLL_P_DIV2 << RCC_PLLCFGR_P_SHIFT) |
                     (F7_PLL_Q << RCC_PLLCFGR_Q_SHIFT);
  RCC(RCC_CR) |= RCC_CR_PLLON;
  if (!wait_set(F7_RCC_BASE + RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) return F7_HSI_HZ;
  /* AHB /1, APB1 /2 (max 54 MHz), APB2 /1, then switch to the PLL. */
  RCC(RCC_CFGR) = RCC_CFGR_PPRE1_DIV2 | RCC_CFGR_SW_PLL;
  if (!wait_set(F7_RCC_BASE + RCC_CFGR, RCC_CFGR_SW_MASK << RCC_CFGR_SWS_SHIFT,
                RCC_CFGR_SW_PLL << RCC_CFGR_SWS_SHIFT)) {
    RCC(RCC_CFGR) = 0; /* back to HSI, no prescalers */
    return F7_HSI_HZ;
  }
  return F7_SYSCLK_HZ;
}

static void gpio_af(const struct pin *p, bool pull_up) {
  uint32_t shift2 = 2u * p->num, shift4 = 4u * (p->num % 8u);
  uint32_t afr = p->num < 8u ? GPIO_AFRL : GPIO_AFRH;
  CM_REG32(p->port + GPIO_MODER) =
      (CM_REG32(p->port + GPIO_MODER) & ~(0x3u << shift2)) | (GPIO_MODE_AF << shift2);
  CM_REG32(p->port + GPIO_OSPEEDR) |= GPIO_SPEED_VERY_HIGH << shift2;
  CM_REG32(p->port + GPIO_PUPDR) =
      (CM_REG32(p->port + GPIO_PUPDR) & ~(0x3u << shift2)) |
      ((pull_up ? GPIO_PULL_UP : 0u) << shift2);
  CM_REG32(p->port + afr) =
      (CM_REG32(p->port + afr) & ~(0xFu << shift4)) | ((uint32_t) p->af << shift4);
}

void board_init(void) {
  s_board.sysclk_hz = clock_init();
  uint32_t apb1_hz = s_board.sysclk_hz == F7_SYSCLK_HZ ? F7_APB1_HZ : F7_HSI_HZ;

  ringbuf_init(&s_board.con.rx, s_board.rx_storage, sizeof(s_board.rx_storage));
  RCC(RCC_AHB1ENR) |= RCC_AHB1_GPIOD;
  RCC(RCC_APB1ENR) |= RCC_APB1_USART3;
  (void) RCC(RCC_APB1ENR); /* the enable takes effect after a read-back */
  gpio_af(&k_console_tx, false);
  gpio_af(&k_console_rx, true);
  USART3(USART_BRR) = (apb1_hz + F7_CONSOLE_BAUD / 2u) / F7_CONSOLE_BAUD;
  USART3(USART_CR1) = USART_CR1_UE | USART_CR1_RE | USART_CR1_TE | USART_CR1_RXNEIE;
  cm_nvic_enable(F7_IRQ_USART3);

  RCC(RCC_AHB2ENR) |= RCC_AHB2_RNG;
  (void) RCC(RCC_AHB2ENR);
  RNG(RNG_CR) = RNG_CR_RNGEN;

  cm_systick_start(s_board.sysclk_hz / F7_TICK_HZ);
}

/* ---- Interrupt handlers (named in startup.c's vector table). ---- */
void board_usart3_isr(void);
void board_eth_isr(void);

void board_usart3_isr(void) {
  while (USART3(USART_ISR) & USART_ISR_RXNE) {
    ringbuf_push(&s_board.con.rx, (uint8_t) USART3(USART_RDR)); /* read clears RXNE */
  }
  if (USART3(USART_ISR) & USART_ISR_ORE) {
    USART3(USART_ICR) = USART_ICR_ORECF;
    s_board.con.rx_overruns++;
  }
  s_board.con.wake = true;
}

void board_eth_isr(void) {
  mg_stm32_eth_isr(&s_board.eth);
  s_board.con.wake = true;
}

/* ---- Console. ---- */
void board_uart_putc(uint8_t c) {
  while ((USART3(USART_ISR) & USART_ISR_TXE) == 0) {
  }
  USART3(USART_TDR) = c;
}

/* ---- Power and exit. ---- */
void board_exit(int status) {
  cm_semihost_exit(status); /* answered only with a debugger attached */
  (void) cm_irq_save();
  for (;;) cm_wfi();
}

/* ---- Ethernet. ---- */
/* Clocks, RMII mode and pins first: the MAC's DMA reset only completes with
 * the PHY's reference clock arriving on PA1. */
static bool eth_init(void *ctx, const uint8_t mac[6]) {
  RCC(RCC_APB2ENR) |= RCC_APB2_SYSCFG;
  RCC(RCC_AHB1ENR) |= RCC_AHB1_GPIOA | RCC_AHB1_GPIOB | RCC_AHB1_GPIOC | RCC_AHB1_GPIOG;
  (void) RCC(RCC_AHB1ENR);
  for (size_t i = 0; i < sizeof(k_eth_pins) / sizeof(k_eth_pins[0]); i++) {
    gpio_af(&k_eth_pins[i], false);
  }
  /* RMII must be selected while the MAC is held in reset. */
  RCC(RCC_AHB1RSTR) |= RCC_AHB1RSTR_ETHMAC;
  CM_REG32(F7_SYSCFG_BASE + SYSCFG_PMC) |= SYSCFG_PMC_MII_RMII_SEL;
  RCC(RCC_AHB1ENR) |= RCC_AHB1_ETHMAC | RCC_AHB1_ETHMACTX | RCC_AHB1_ETHMACRX;
  (void) RCC(RCC_AHB1ENR);
  RCC(RCC_AHB1RSTR) &= ~RCC_AHB1RSTR_ETHMAC;
  cm_nvic_disable(F7_IRQ_ETH);
  if (!mg_driver_stm32_eth.init(ctx, mac)) return false;
  cm_nvic_enable(F7_IRQ_ETH);
  return true;
}

/* Set up here rather than in board_init(), so images without networking do
 * not carry the 12 KiB DMA area. */
const struct mg_driver *board_eth(void **ctx) {
  if (s_board.eth.base == 0) {
    s_board.eth.base = F7_ETH_BASE;
    s_board.eth.dma = &s_eth_dma;
    s_board.eth.phy_addr = F7_ETH_PHY_ADDR;
    s_board.eth.mdc_clock_range = F7_ETH_MDC_CR_60_100MHZ;
    s_board.eth.use_irq = true;
    s_board.eth_driver = mg_driver_stm32_eth;
    s_board.eth_driver.init = eth_init;
  }
  *ctx = &s_board.eth;
  return &s_board.eth_driver;
}

/* Locally administered unicast address derived from the chip's unique ID,
 * so two boards on one network differ. */
void board_eth_mac(uint8_t mac[6]) {
  uint32_t a = CM_REG32(F7_UID_BASE), b = CM_REG32(F7_UID_BASE + 4u),
           c = CM_REG32(F7_UID_BASE + 8u);
  uint32_t x = a ^ (b << 13) ^ (b >> 19) ^ c;
  mac[0] = 0x02;
  mac[1] = (uint8_t) (b >> 24 ^ c);
  mac[2] = (uint8_t) (x >> 24);
  mac[3] = (uint8_t) (x >> 16);
  mac[4] = (uint8_t) (x >> 8);
  mac[5] = (uint8_t) x;
}

/* ---- The core's platform functions. ---- */
/* The STM32F7's true RNG (analog noise source, 32 bits per 40 RNG clocks).
 * A seed or clock error fails the call rather than returning weak bytes. */
bool mg_random(void *buf, size_t len) {
  uint8_t *out = (uint8_t *) buf;
  while (len > 0) {
    uint32_t i, sr = 0;
    for (i = 0; i < F7_RNG_SPIN_LIMIT; i++) {
      sr = RNG(RNG_SR);
      if (sr & (RNG_SR_SECS | RNG_SR_CECS)) break;
      if (sr & RNG_SR_DRDY) break;
    }
    if (sr & (RNG_SR_SECS | RNG_SR_CECS) || !(sr & RNG_SR_DRDY)) {
      /* Recovery per the reference manual: clear the flag, restart. */
      RNG(RNG_SR) = ~RNG_SR_SEIS;
      RNG(RNG_CR) = 0;
      RNG(RNG_CR) = RNG_CR_RNGEN;
      return false;
    }
    uint32_t r = RNG(RNG_DR);
    size_t n = len < sizeof(r) ? len : sizeof(r);
    memcpy(out, &r, n);
    out += n;
    len -= n;
  }
  return true;
}
