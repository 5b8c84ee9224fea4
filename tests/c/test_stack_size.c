/* RAM of the built-in stack, reported and held to the targets: at most
 * 8 KiB for the interface itself and 1.5 KiB per TCP connection, not
 * counting the buffers sized by MG_TCPIP_TCP_RXBUF/TXBUF/UDP_RXBUF and the
 * offload part of the frame buffers (MG_TCPIP_OFFLOAD_MAX, host only). */
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
int main(void) {
  size_t tcp = sizeof(struct mg_tcpip_tcp);
  size_t per_conn = tcp - MG_TCPIP_TCP_RXBUF - MG_TCPIP_TCP_TXBUF;
  size_t udp_bufs = (size_t) MG_TCPIP_MAX_UDP * MG_TCPIP_UDP_RXBUF;
  size_t total = sizeof(struct mg_tcpip_if);
  /* Host builds size the tx/rx frame buffers for 64 KiB offloaded packets
   * (MG_TCPIP_OFFLOAD_MAX): a sized buffer too, counted apart. */
  size_t offload_bufs = 2 * (MG_TCPIP_FRAME_BUF - MG_TCPIP_FRAME_MAX);
  size_t fixed =
      total - (size_t) MG_TCPIP_MAX_TCP * tcp - udp_bufs - offload_bufs;
  printf("  interface total %zu bytes (%d TCP x %zu, %d UDP x %zu)\n", total,
         MG_TCPIP_MAX_TCP, tcp, MG_TCPIP_MAX_UDP, sizeof(struct mg_tcpip_udp));
  printf("  static (without connections and sized buffers): %zu bytes\n", fixed);
  printf("  offload frame buffers (MG_TCPIP_OFFLOAD_MAX %d): %zu bytes\n",
         MG_TCPIP_OFFLOAD_MAX, offload_bufs);
  printf("  per TCP connection (without its %d+%d byte buffers): %zu bytes\n",
         MG_TCPIP_TCP_RXBUF, MG_TCPIP_TCP_TXBUF, per_conn);
  CHECK(fixed <= 8192);
  CHECK(per_conn <= 1536);
  /* The per-connection figure is all bookkeeping: no hidden arrays. */
  CHECK(per_conn < 512);
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
