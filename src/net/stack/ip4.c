/* IPv4 (RFC 791): header validation, delivery to ICMP/UDP/TCP, routing to
 * the next hop and the frame parked while ARP resolves it. Fragments are
 * counted and dropped: nothing in the stack reassembles, and DF is set on
 * everything we send, so an MTU-sized TCP MSS keeps us clear of them.
 * Packets beyond the MTU exist only between us and an offloading driver
 * (TCP segments the driver cuts up or glued together). */
#include "stack.h"

#if MG_ENABLE_TCPIP

/* Every chunk but the last must have an even length. */
uint32_t mg_ip_csum_add(uint32_t sum, const void *buf, size_t len) {
  const uint8_t *p = (const uint8_t *) buf;
  size_t i;
  for (i = 0; i + 1 < len; i += 2) sum += (uint32_t) rd16(p + i);
  if (len & 1) sum += (uint32_t) p[len - 1] << 8;
  return sum;
}

uint16_t mg_ip_csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t) ~sum;
}

uint32_t mg_ip_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
  uint8_t ph[12];
  wrip(ph, src);
  wrip(ph + 4, dst);
  ph[8] = 0;
  ph[9] = proto;
  wr16(ph + 10, (uint16_t) len);
  return mg_ip_csum_add(0, ph, sizeof(ph));
}

bool mg_ip4_is_bcast(const struct mg_tcpip_if *ifp, uint32_t dst) {
  if (dst == IP_BROADCAST) return true;
  return ifp->mask != 0 && ifp->mask != IP_BROADCAST &&
         (dst & ~ifp->mask) == ~ifp->mask && ((dst ^ ifp->ip) & ifp->mask) == 0;
}

uint32_t mg_ip4_next_hop(const struct mg_tcpip_if *ifp, uint32_t dst) {
  if (ifp->gw != 0 && ((dst ^ ifp->ip) & ifp->mask) != 0) return ifp->gw;
  return dst;
}

void mg_ip4_rx(struct mg_tcpip_if *ifp, const uint8_t *p, size_t len,
               bool l2_bcast) {
  size_t hlen, total;
  uint32_t src, dst;
  uint8_t proto, first;
  bool ours;
  (void) l2_bcast;
  if (len < IP_HLEN || (p[0] >> 4) != 4) goto bad;
  hlen = (size_t) (p[0] & 15) * 4;
  total = rd16(p + 2);
  if (hlen < IP_HLEN || hlen > len || total < hlen || total > len) goto bad;
  if (mg_ip_csum_fold(mg_ip_csum_add(0, p, hlen)) != 0) goto bad;
  if ((rd16(p + 6) & 0x3fff) != 0) { /* MF set or non-zero offset */
    ifp->stats.drop_frag++;
    return;
  }
  src = rdip(p + 12);
  dst = rdip(p + 16);
  proto = p[9];
  first = p[12]; /* first octet of the source */
  /* Martian sources: broadcast, multicast/reserved, loopback, ourselves. */
  if (src == IP_BROADCAST || first >= 224 || first == 127 ||
      (src == ifp->ip && src != 0) || mg_ip4_is_bcast(ifp, src))
    goto bad;
  ours = (ifp->ip != 0 && dst == ifp->ip) || mg_ip4_is_bcast(ifp, dst);
  /* While DHCP runs we have no address: offers may be unicast to it. */
  if (!ours && ifp->ip == 0 && proto == IPPROTO_UDP_) ours = true;
  if (!ours) goto bad;
  p += hlen; /* IP options, if any, are skipped: none is acted upon */
  len = total - hlen;
  if (proto == IPPROTO_ICMP_) {
    mg_icmp_rx(ifp, src, dst, p, len);
  } else if (proto == IPPROTO_UDP_) {
    mg_udp_rx(ifp, src, dst, p, len);
  } else if (proto == IPPROTO_TCP_) {
    mg_tcp_rx(ifp, src, dst, p, len);
  } else {
    goto bad;
  }
  return;
bad:
  ifp->stats.drop_ip++;
}

bool mg_ip4_tx(struct mg_tcpip_if *ifp, uint32_t dst, uint8_t proto,
               size_t l4len) {
  return mg_ip4_tx_meta(ifp, dst, proto, l4len, NULL);
}

bool mg_ip4_tx_meta(struct mg_tcpip_if *ifp, uint32_t dst, uint8_t proto,
                    size_t l4len, const struct mg_frame_meta *m) {
  uint8_t *h = ifp->txf + ETH_HLEN;
  const uint8_t *mac;
  uint32_t hop;
  size_t flen = L4_OFS + l4len;
  size_t max = m != NULL && m->gso_size != 0 ? ifp->gso_max - IP_HLEN
                                             : IP_MAX_PAYLOAD;
  if (l4len > max || ifp->state == MG_TCPIP_STATE_DOWN) {
    ifp->stats.tx_fail++;
    return false;
  }
  h[0] = 0x45;
  h[1] = 0;
  wr16(h + 2, (uint16_t) (IP_HLEN + l4len));
  wr16(h + 4, (uint16_t) mg_tcpip_rand(ifp));
  wr16(h + 6, 0x4000); /* DF */
  h[8] = 64;
  h[9] = proto;
  wr16(h + 10, 0);
  wrip(h + 12, ifp->ip);
  wrip(h + 16, dst);
  wr16(h + 10, mg_ip_csum_fold(mg_ip_csum_add(0, h, IP_HLEN)));
  if (mg_ip4_is_bcast(ifp, dst))
    return mg_eth_tx_meta(ifp, mg_eth_bcast, ETHTYPE_IP4, flen, m);
  hop = mg_ip4_next_hop(ifp, dst);
  mac = mg_arp_lookup(ifp, hop, false);
  if (mac != NULL) return mg_eth_tx_meta(ifp, mac, ETHTYPE_IP4, flen, m);
  /* Park this frame, then ask for the MAC. TCP segments are never parked:
   * mg_tcp_kick re-sends them when the MAC arrives, and parking one as well
   * would put a duplicate on the wire (QEMU's slirp mishandles a duplicate
   * SYN-ACK). Anything else replaces the older parked frame. */
  if (proto != IPPROTO_TCP_) {
    memcpy(ifp->pending, ifp->txf, flen);
    ifp->pending_len = flen;
    ifp->pending_ip = hop;
  }
  mg_arp_lookup(ifp, hop, true);
  return false;
}

void mg_ip4_resolved(struct mg_tcpip_if *ifp, uint32_t ip,
                     const uint8_t *mac) {
  if (ifp->pending_len > 0 && ifp->pending_ip == ip) {
    size_t n = ifp->pending_len;
    ifp->pending_len = 0;
    memcpy(ifp->txf, ifp->pending, n);
    mg_eth_tx(ifp, mac, ETHTYPE_IP4, n);
  }
  mg_tcp_kick(ifp, ip);
}

void mg_ip4_unreachable(struct mg_tcpip_if *ifp, uint32_t ip) {
  if (ifp->pending_ip == ip) ifp->pending_len = 0;
  mg_tcp_unreachable(ifp, ip);
}

#endif /* MG_ENABLE_TCPIP */
