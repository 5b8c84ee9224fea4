/* Private glue between the layers of the built-in stack (not installed). */
#ifndef MG_NET_STACK_PRIV_H
#define MG_NET_STACK_PRIV_H

#include <string.h>

#include "mg_stack.h"

#if MG_ENABLE_TCPIP

/* Offsets inside ifp->txf while building a frame. */
#define ETH_HLEN 14
#define IP_HLEN 20
#define L4_OFS (ETH_HLEN + IP_HLEN)
#define IP_MAX_PAYLOAD (MG_TCPIP_MTU - IP_HLEN)
/* Offloads are compiled out (constant false) when MG_TCPIP_OFFLOAD_MAX is 0. */
#define GSO_ON(ifp) (MG_TCPIP_OFFLOAD_MAX > 0 && (ifp)->gso_max != 0)

#define ETHTYPE_IP4 0x0800
#define ETHTYPE_ARP 0x0806
#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IP_BROADCAST 0xffffffffu

static inline uint16_t rd16(const uint8_t *p) {
  return (uint16_t) (((unsigned) p[0] << 8) | p[1]);
}
static inline uint32_t rd32(const uint8_t *p) {
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
         ((uint32_t) p[2] << 8) | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}
static inline void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}
/* IPv4 addresses are kept in network order inside a uint32_t: copy bytes. */
static inline uint32_t rdip(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline void wrip(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}

/* When a connect made now, before the interface has an address, gives up. */
static inline uint64_t mg_tcpip_addr_deadline(const struct mg_tcpip_if *ifp) {
  return ifp->now +
         (ifp->addr_wait_ms != 0 ? ifp->addr_wait_ms : MG_TCPIP_ADDR_WAIT_MS);
}

/* Internet checksum (RFC 1071): accumulate, then fold. */
uint32_t mg_ip_csum_add(uint32_t sum, const void *buf, size_t len);
uint16_t mg_ip_csum_fold(uint32_t sum);
/* Sum of the TCP/UDP pseudo header. */
uint32_t mg_ip_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len);

/* iface.c */
uint32_t mg_tcpip_rand(struct mg_tcpip_if *ifp);
uint16_t mg_tcpip_ephemeral(struct mg_tcpip_if *ifp);
void mg_tcpip_set_state(struct mg_tcpip_if *ifp, int state);
/* eth.c: input inside a batch, where ACKs may be held back (mg_tcpip_poll). */
void mg_eth_rx(struct mg_tcpip_if *ifp, const void *frame, size_t len);
/* eth.c: sends ifp->txf (len bytes) to mac, filling the Ethernet header. */
bool mg_eth_tx(struct mg_tcpip_if *ifp, const uint8_t *mac, uint16_t type,
               size_t len);
/* The same with offload metadata (NULL = plain frame); only TCP passes it,
 * and only when ifp->gso_max says the driver offloads. */
bool mg_eth_tx_meta(struct mg_tcpip_if *ifp, const uint8_t *mac, uint16_t type,
                    size_t len, const struct mg_frame_meta *m);
extern const uint8_t mg_eth_bcast[6];
/* arp.c */
void mg_arp_rx(struct mg_tcpip_if *ifp, const uint8_t *p, size_t len);
/* Cached MAC of ip, or NULL; with request, starts resolving (uses txf). */
const uint8_t *mg_arp_lookup(struct mg_tcpip_if *ifp, uint32_t ip,
                             bool request);
void mg_arp_request(struct mg_tcpip_if *ifp, uint32_t ip);
void mg_arp_announce(struct mg_tcpip_if *ifp);
void mg_arp_timer(struct mg_tcpip_if *ifp);
/* ip4.c: l4len bytes of payload are at txf + L4_OFS. */
void mg_ip4_rx(struct mg_tcpip_if *ifp, const uint8_t *p, size_t len,
               bool l2_bcast);
bool mg_ip4_tx(struct mg_tcpip_if *ifp, uint32_t dst, uint8_t proto,
               size_t l4len);
bool mg_ip4_tx_meta(struct mg_tcpip_if *ifp, uint32_t dst, uint8_t proto,
                    size_t l4len, const struct mg_frame_meta *m);
uint32_t mg_ip4_next_hop(const struct mg_tcpip_if *ifp, uint32_t dst);
bool mg_ip4_is_bcast(const struct mg_tcpip_if *ifp, uint32_t dst);
/* Called by ARP when ip resolved (sends the parked frame, kicks TCP). */
void mg_ip4_resolved(struct mg_tcpip_if *ifp, uint32_t ip,
                     const uint8_t *mac);
void mg_ip4_unreachable(struct mg_tcpip_if *ifp, uint32_t ip);
/* icmp.c */
void mg_icmp_rx(struct mg_tcpip_if *ifp, uint32_t src, uint32_t dst,
                const uint8_t *p, size_t len);
/* udp.c */
void mg_udp_rx(struct mg_tcpip_if *ifp, uint32_t src, uint32_t dst,
               const uint8_t *p, size_t len);
bool mg_udp_tx(struct mg_tcpip_if *ifp, uint16_t sport, uint32_t dst,
               uint16_t dport, const void *buf, size_t len);
/* tcp.c */
void mg_tcp_rx(struct mg_tcpip_if *ifp, uint32_t src, uint32_t dst,
               const uint8_t *p, size_t len);
void mg_tcp_timer(struct mg_tcpip_if *ifp);
void mg_tcp_kick(struct mg_tcpip_if *ifp, uint32_t ip);
/* Sends the ACKs held back while ifp->defer_acks was set. */
void mg_tcp_flush_acks(struct mg_tcpip_if *ifp);
void mg_tcp_unreachable(struct mg_tcpip_if *ifp, uint32_t ip);
/* dhcp.c */
void mg_dhcp_start(struct mg_tcpip_if *ifp);
void mg_dhcp_rx(struct mg_tcpip_if *ifp, const uint8_t *p, size_t len);
void mg_dhcp_timer(struct mg_tcpip_if *ifp);
/* dhcps.c */
void mg_dhcps_rx(struct mg_tcpip_if *ifp, const uint8_t *p, size_t len);

#endif /* MG_ENABLE_TCPIP */
#endif /* MG_NET_STACK_PRIV_H */
