/* ICMP (RFC 792): echo replies. Everything else is counted and ignored;
 * requests sent to a broadcast address get no answer (no smurf amplifier). */
#include "stack.h"

#if MG_ENABLE_TCPIP

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

void mg_icmp_rx(struct mg_tcpip_if *ifp, uint32_t src, uint32_t dst,
                const uint8_t *p, size_t len) {
  uint8_t *r = ifp->txf + L4_OFS;
  if (len < 8 || mg_ip_csum_fold(mg_ip_csum_add(0, p, len)) != 0 ||
      p[0] != ICMP_ECHO_REQUEST || dst != ifp->ip || len > IP_MAX_PAYLOAD) {
    ifp->stats.drop_icmp++;
    return;
  }
  memmove(r, p, len); /* identifier, sequence and data come back unchanged */
  r[0] = ICMP_ECHO_REPLY;
  r[1] = 0;
  wr16(r + 2, 0);
  wr16(r + 2, mg_ip_csum_fold(mg_ip_csum_add(0, r, len)));
  ifp->stats.icmp_echo++;
  mg_ip4_tx(ifp, src, IPPROTO_ICMP_, len);
}

#endif /* MG_ENABLE_TCPIP */
