/* UDP (RFC 768): checksummed datagrams to and from a few endpoints, each
 * with a bounded queue of received datagrams. */
#include "stack.h"

#if MG_ENABLE_TCPIP

#define UDP_HLEN 8
#define REC_HLEN 8 /* queue record header: len, ip, port */

static void q_put(struct mg_tcpip_udp *u, uint32_t ofs, const void *src,
                  size_t n) {
  const uint8_t *s = (const uint8_t *) src;
  size_t i;
  for (i = 0; i < n; i++) u->buf[(ofs + i) % MG_TCPIP_UDP_RXBUF] = s[i];
}

static void q_get(const struct mg_tcpip_udp *u, uint32_t ofs, void *dst,
                  size_t n) {
  uint8_t *d = (uint8_t *) dst;
  size_t i;
  for (i = 0; i < n; i++) d[i] = u->buf[(ofs + i) % MG_TCPIP_UDP_RXBUF];
}

void mg_udp_rx(struct mg_tcpip_if *ifp, uint32_t src, uint32_t dst,
               const uint8_t *p, size_t len) {
  size_t ulen, i;
  uint16_t sport, dport;
  if (len < UDP_HLEN) goto bad;
  ulen = rd16(p + 4);
  if (ulen < UDP_HLEN || ulen > len) goto bad;
  if (rd16(p + 6) != 0 && !ifp->rx_trusted &&
      mg_ip_csum_fold(mg_ip_pseudo(src, dst, IPPROTO_UDP_, ulen) +
                      mg_ip_csum_add(0, p, ulen)) != 0)
    goto bad;
  sport = rd16(p);
  dport = rd16(p + 2);
  if (dport == 68 && ifp->enable_dhcp) {
    mg_dhcp_rx(ifp, p + UDP_HLEN, ulen - UDP_HLEN);
    return;
  }
  if (ifp->ip == 0) goto bad; /* unaddressed: only DHCP gets through */
#if MG_ENABLE_DHCP_SERVER
  if (dport == 67 && sport == 68 && ifp->enable_dhcp_server) {
    mg_dhcps_rx(ifp, p + UDP_HLEN, ulen - UDP_HLEN);
    return;
  }
#endif
  if (ulen == UDP_HLEN) return; /* empty datagrams carry nothing to queue */
  for (i = 0; i < MG_TCPIP_MAX_UDP; i++) {
    struct mg_tcpip_udp *u = &ifp->udp[i];
    size_t n = ulen - UDP_HLEN;
    uint8_t rec[REC_HLEN];
    if (u->lport == 0 || u->lport != dport) continue;
    if (u->rport != 0 && (u->rport != sport || u->rip != src)) continue;
    if (u->len + REC_HLEN + n > MG_TCPIP_UDP_RXBUF) goto bad; /* queue full */
    wr16(rec, (uint16_t) n);
    wrip(rec + 2, src);
    wr16(rec + 6, sport);
    q_put(u, (u->head + u->len) % MG_TCPIP_UDP_RXBUF, rec, REC_HLEN);
    q_put(u, (uint32_t) ((u->head + u->len + REC_HLEN) % MG_TCPIP_UDP_RXBUF),
          p + UDP_HLEN, n);
    u->len += (uint32_t) (REC_HLEN + n);
    return;
  }
bad:
  ifp->stats.drop_udp++;
}

bool mg_udp_tx(struct mg_tcpip_if *ifp, uint16_t sport, uint32_t dst,
               uint16_t dport, const void *buf, size_t len) {
  uint8_t *u = ifp->txf + L4_OFS;
  uint16_t cs;
  if (len > IP_MAX_PAYLOAD - UDP_HLEN) return false;
  wr16(u, sport);
  wr16(u + 2, dport);
  wr16(u + 4, (uint16_t) (UDP_HLEN + len));
  wr16(u + 6, 0);
  if (len > 0) memmove(u + UDP_HLEN, buf, len);
  cs = mg_ip_csum_fold(mg_ip_pseudo(ifp->ip, dst, IPPROTO_UDP_,
                                    UDP_HLEN + len) +
                       mg_ip_csum_add(0, u, UDP_HLEN + len));
  wr16(u + 6, cs == 0 ? 0xffff : cs);
  return mg_ip4_tx(ifp, dst, IPPROTO_UDP_, UDP_HLEN + len);
}

struct mg_tcpip_udp *mg_tcpip_udp_open(struct mg_tcpip_if *ifp, uint16_t lport,
                                       uint32_t rip, uint16_t rport) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_UDP; i++)
    if (lport != 0 && ifp->udp[i].lport == lport) return NULL;
  if (lport == 0) lport = mg_tcpip_ephemeral(ifp);
  for (i = 0; i < MG_TCPIP_MAX_UDP && lport != 0; i++) {
    struct mg_tcpip_udp *u = &ifp->udp[i];
    if (u->lport != 0) continue;
    u->lport = lport;
    u->rip = rip;
    u->rport = rport;
    u->head = u->len = 0;
    return u;
  }
  return NULL;
}

void mg_tcpip_udp_close(struct mg_tcpip_if *ifp, struct mg_tcpip_udp *u) {
  (void) ifp;
  if (u != NULL) u->lport = 0;
}

bool mg_tcpip_udp_sendto(struct mg_tcpip_if *ifp, struct mg_tcpip_udp *u,
                         uint32_t ip, uint16_t port, const void *buf,
                         size_t len) {
  if (u == NULL || u->lport == 0 || ifp->ip == 0) return false;
  return mg_udp_tx(ifp, u->lport, ip, port, buf, len);
}

long mg_tcpip_udp_recvfrom(struct mg_tcpip_udp *u, void *buf, size_t len,
                           uint32_t *ip, uint16_t *port) {
  uint8_t rec[REC_HLEN];
  size_t n;
  if (u == NULL || u->len < REC_HLEN) return 0;
  q_get(u, u->head, rec, REC_HLEN);
  n = rd16(rec);
  if (ip != NULL) *ip = rdip(rec + 2);
  if (port != NULL) *port = rd16(rec + 6);
  q_get(u, (uint32_t) ((u->head + REC_HLEN) % MG_TCPIP_UDP_RXBUF), buf,
        n < len ? n : len);
  u->head = (uint32_t) ((u->head + REC_HLEN + n) % MG_TCPIP_UDP_RXBUF);
  u->len -= (uint32_t) (REC_HLEN + n);
  return (long) (n < len ? n : len);
}

#endif /* MG_ENABLE_TCPIP */
