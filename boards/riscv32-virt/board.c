/* riscv32-virt board support: NS16550A console polled from the 1 kHz CLINT
 * tick into a receive ring, virtio-net Ethernet (polled), sifive_test exit
 * and reset, and the core's platform function mg_random(). The clock, the
 * startup code and the C-library glue are in boards/common/riscv.
 *
 * The tick wakes board_idle() every millisecond and drains the UART (QEMU
 * holds console input back while the FIFO is full, so polling loses
 * nothing). The virtio-net interrupt comes through the PLIC: a received
 * frame ends the sleep at once instead of at the next tick. */
#include <string.h>

#include "board.h"
#include "board_console.h"
#include "board_prng.h"
#include "mg_driver_virtio_net.h"

/* Used when the virtio device offers no MAC. Locally administered unicast. */
static const uint8_t k_default_mac[6] = {0x02, 0x00, 0x4D, 0x47, 0x00, 0x02};

static struct {
  volatile uint32_t entropy; /* timing jitter collected from the tick */
  struct board_console con;  /* receive ring, overruns, wake flag */
  uint8_t rx_storage[VIRT_CONSOLE_RX_RING];
  bool eth_probed;
  uint32_t eth_irq;          /* PLIC source of the NIC's slot, 0 = none */
  struct mg_virtio_net *eth; /* s_eth once initialised (keeps s_eth out of
                                images that never ask for the network) */
  struct mg_driver eth_driver; /* mg_driver_virtio_net with a board-aware init */
} s_board;

/* Apart from s_board, so images without networking leave its 16 KiB out. */
static struct mg_virtio_net s_eth;

#define UART(off) RV_REG8(VIRT_UART0_BASE + (off))

const char *board_name(void) {
  return BOARD_NAME;
}

struct board_console *board_console_state(void) {
  return &s_board.con;
}

void board_init(void) {
  ringbuf_init(&s_board.con.rx, s_board.rx_storage, sizeof(s_board.rx_storage));
  uint32_t div = VIRT_UART_CLK_HZ / (16u * VIRT_CONSOLE_BAUD);
  UART(UART_IER) = 0; /* polled */
  UART(UART_LCR) = UART_LCR_DLAB;
  UART(UART_DLL) = (uint8_t) div;
  UART(UART_DLM) = (uint8_t) (div >> 8);
  UART(UART_LCR) = UART_LCR_8N1;
  UART(UART_FCR) = UART_FCR_ENABLE_TRIG14;
  rv_timer_start(RV_MTIME_HZ / VIRT_TICK_HZ);
}

/* Moves received bytes into the ring while it has room; what does not fit
 * stays in the UART (and QEMU holds the sender back) until a later tick.
 * Runs in the tick interrupt only: the ring's one producer. */
static bool uart_rx_drain(void) {
  bool got = false;
  uint8_t lsr;
  while (((lsr = UART(UART_LSR)) & UART_LSR_DR) && !ringbuf_full(&s_board.con.rx)) {
    uint8_t byte = UART(UART_RBR);
    ringbuf_push(&s_board.con.rx, byte);
    s_board.entropy = ((s_board.entropy << 7) | (s_board.entropy >> 25)) ^ byte;
    got = true;
  }
  if (lsr & UART_LSR_OE) s_board.con.rx_overruns++;
  return got;
}

void board_tick(void) {
  s_board.entropy ^= rv_csr_read(mcycle);
  if (uart_rx_drain()) s_board.con.wake = true;
}

void board_uart_putc(uint8_t c) {
  while ((UART(UART_LSR) & UART_LSR_THRE) == 0) {
  }
  UART(UART_THR) = c;
}

/* ---- Power and exit: QEMU's sifive_test device. ---- */
void board_exit(int status) {
  uint32_t code = status == 0 ? VIRT_TEST_PASS
                              : (((uint32_t) status & 0xFFFFu) << 16) | VIRT_TEST_FAIL;
  RV_REG32(VIRT_TEST_BASE) = code;
  (void) rv_irq_save(); /* not under QEMU: halt quietly */
  for (;;) rv_wfi();
}

void board_reboot(void) {
  RV_REG32(VIRT_TEST_BASE) = VIRT_TEST_RESET;
  for (;;) rv_wfi();
}

/* ---- Ethernet: the first virtio-mmio slot holding a network device. ---- */
/* The PLIC line is opened only after the driver set the device up. */
static bool eth_init(void *ctx, const uint8_t mac[6]) {
  if (!mg_driver_virtio_net.init(ctx, mac)) return false;
  uint32_t irq = VIRT_VIRTIO_IRQ0 + (uint32_t) (s_eth.base - VIRT_VIRTIO_BASE) / VIRT_VIRTIO_STRIDE;
  s_board.eth_irq = irq;
  s_board.eth = &s_eth;
  RV_REG32(PLIC_PRIORITY(irq)) = 1;
  RV_REG32(PLIC_ENABLE_CTX0(irq)) |= 1u << (irq % 32u);
  RV_REG32(PLIC_THRESHOLD_CTX0) = 0;
  rv_csr_set(mie, RV_MIE_MEIE);
  return true;
}

static void eth_setup(void) {
  if (s_board.eth_probed) return;
  s_board.eth_probed = true;
  mg_virtio_net_probe(&s_eth, VIRT_VIRTIO_BASE, VIRT_VIRTIO_STRIDE, VIRT_VIRTIO_SLOTS);
  s_board.eth_driver = mg_driver_virtio_net;
  s_board.eth_driver.init = eth_init;
}

const struct mg_driver *board_eth(void **ctx) {
  eth_setup();
  *ctx = &s_eth;
  return &s_board.eth_driver;
}

/* Claims every pending PLIC source, quiets it and completes it. */
void board_external_isr(void) {
  uint32_t irq;
  while ((irq = RV_REG32(PLIC_CLAIM_CTX0)) != 0) {
    if (irq == s_board.eth_irq && s_board.eth != NULL) mg_virtio_net_isr(s_board.eth);
    RV_REG32(PLIC_CLAIM_CTX0) = irq;
  }
  s_board.entropy ^= rv_csr_read(mcycle);
  s_board.con.wake = true;
}

/* The device's own address (QEMU: 52:54:00:12:34:56 unless macaddr= on
 * -device virtio-net-device says otherwise). */
void board_eth_mac(uint8_t mac[6]) {
  eth_setup();
  if (!mg_virtio_net_mac(&s_eth, mac)) memcpy(mac, k_default_mac, sizeof(k_default_mac));
}

/* ---- The core's platform functions. ---- */
/* virt has no RNG device this firmware drives: mg_random() is the splitmix64
 * generator of boards/common/board_prng.c, stirred here with mtime, the cycle
 * counter and console timing. */
uint64_t board_prng_stir(void) {
  return (rv_mtime() << 16) ^ s_board.entropy ^ rv_csr_read(mcycle);
}
