/* ARP (RFC 826) for IPv4 over Ethernet: answers requests for our address,
 * keeps a small cache with expiry, resolves next hops with retries, and
 * announces our address (gratuitous ARP).
 *
 * Anti-spoofing policy: a new sender is learnt only from a request for our
 * address (we must answer it anyway) or from the reply to our own pending
 * request; other packets may only refresh an entry with the same MAC, so
 * unsolicited replies cannot re-point a cached address. Packets claiming our
 * own address are ignored. */
#include "stack.h"

#if MG_ENABLE_TCPIP

#define ARP_LEN 28
#define ARP_REQUEST 1
#define ARP_REPLY 2

static void arp_send(struct mg_tcpip_if *ifp, uint16_t op, const uint8_t *tha,
                     uint32_t tpa, const uint8_t *dst_mac) {
  uint8_t *a = ifp->txf + ETH_HLEN;
  wr16(a, 1);              /* hardware: Ethernet */
  wr16(a + 2, ETHTYPE_IP4);
  a[4] = 6;
  a[5] = 4;
  wr16(a + 6, op);
  memcpy(a + 8, ifp->mac, 6);
  wrip(a + 14, ifp->ip);
  memcpy(a + 18, tha, 6);
  wrip(a + 24, tpa);
  mg_eth_tx(ifp, dst_mac, ETHTYPE_ARP, ETH_HLEN + ARP_LEN);
}

static struct mg_tcpip_arp *arp_find(struct mg_tcpip_if *ifp, uint32_t ip) {
  size_t i;
  for (i = 0; i < MG_TCPIP_ARP_SIZE; i++)
    if (ifp->arp[i].ip == ip && ip != 0) return &ifp->arp[i];
  return NULL;
}

/* A free slot, else the resolved entry closest to expiry. */
static struct mg_tcpip_arp *arp_slot(struct mg_tcpip_if *ifp) {
  struct mg_tcpip_arp *best = NULL;
  size_t i;
  for (i = 0; i < MG_TCPIP_ARP_SIZE; i++) {
    struct mg_tcpip_arp *e = &ifp->arp[i];
    if (e->ip == 0) return e;
    if (e->resolved && (best == NULL || e->expire < best->expire)) best = e;
  }
  return best;
}

static void arp_learn(struct mg_tcpip_if *ifp, struct mg_tcpip_arp *e,
                      uint32_t ip, const uint8_t *mac) {
  bool was_pending = e->ip == ip && !e->resolved;
  e->ip = ip;
  memcpy(e->mac, mac, 6);
  e->resolved = 1;
  e->tries = 0;
  e->expire = ifp->now + MG_TCPIP_ARP_TTL_MS;
  if (was_pending) mg_ip4_resolved(ifp, ip, mac);
}

void mg_arp_rx(struct mg_tcpip_if *ifp, const uint8_t *a, size_t len) {
  uint16_t op;
  uint32_t spa, tpa;
  const uint8_t *sha;
  struct mg_tcpip_arp *e;
  bool for_us;
  if (len < ARP_LEN || rd16(a) != 1 || rd16(a + 2) != ETHTYPE_IP4 ||
      a[4] != 6 || a[5] != 4) {
    ifp->stats.drop_arp++;
    return;
  }
  op = rd16(a + 6);
  sha = a + 8;
  spa = rdip(a + 14);
  tpa = rdip(a + 24);
  if ((sha[0] & 1) != 0 || memcmp(sha, ifp->mac, 6) == 0 ||
      (op != ARP_REQUEST && op != ARP_REPLY)) {
    ifp->stats.drop_arp++; /* multicast sender or our own frame echoed */
    return;
  }
  if (spa == ifp->ip && spa != 0) {
    ifp->stats.drop_arp++; /* someone else claims our address */
    return;
  }
  for_us = ifp->ip != 0 && tpa == ifp->ip;
  e = spa == 0 || spa == IP_BROADCAST ? NULL : arp_find(ifp, spa);
  if (op == ARP_REQUEST && for_us) {
    if (e == NULL) e = arp_slot(ifp);
    if (e != NULL && spa != 0 && spa != IP_BROADCAST) arp_learn(ifp, e, spa, sha);
    ifp->stats.arp_replies++;
    arp_send(ifp, ARP_REPLY, sha, spa, sha);
  } else if (e != NULL && ((op == ARP_REPLY && for_us && !e->resolved) ||
                           (e->resolved && memcmp(e->mac, sha, 6) == 0))) {
    arp_learn(ifp, e, spa, sha); /* the answer we asked for, or a refresh */
  } else {
    ifp->stats.drop_arp++;
  }
}

void mg_arp_request(struct mg_tcpip_if *ifp, uint32_t ip) {
  static const uint8_t zero[6] = {0, 0, 0, 0, 0, 0};
  ifp->stats.arp_requests++;
  arp_send(ifp, ARP_REQUEST, zero, ip, mg_eth_bcast);
}

/* Gratuitous ARP: a request for our own address. */
void mg_arp_announce(struct mg_tcpip_if *ifp) {
  if (ifp->ip != 0) mg_arp_request(ifp, ifp->ip);
}

const uint8_t *mg_arp_lookup(struct mg_tcpip_if *ifp, uint32_t ip,
                             bool request) {
  struct mg_tcpip_arp *e = arp_find(ifp, ip);
  if (e != NULL && e->resolved) return e->mac;
  if (e == NULL && request) {
    e = arp_slot(ifp);
    if (e == NULL) return NULL; /* every slot is a pending resolution */
    memset(e, 0, sizeof(*e));
    e->ip = ip;
    e->tries = 1;
    e->expire = ifp->now + MG_TCPIP_ARP_RETRY_MS;
    mg_arp_request(ifp, ip);
  }
  return NULL;
}

void mg_arp_timer(struct mg_tcpip_if *ifp) {
  size_t i;
  for (i = 0; i < MG_TCPIP_ARP_SIZE; i++) {
    struct mg_tcpip_arp *e = &ifp->arp[i];
    if (e->ip == 0 || ifp->now < e->expire) continue;
    if (e->resolved) {
      e->ip = 0; /* expired: the next lookup asks again */
    } else if (e->tries >= MG_TCPIP_ARP_TRIES) {
      uint32_t ip = e->ip;
      ifp->stats.arp_failed++;
      e->ip = 0;
      mg_ip4_unreachable(ifp, ip);
    } else {
      e->tries++;
      e->expire = ifp->now + MG_TCPIP_ARP_RETRY_MS;
      mg_arp_request(ifp, e->ip);
    }
  }
}

#endif /* MG_ENABLE_TCPIP */
