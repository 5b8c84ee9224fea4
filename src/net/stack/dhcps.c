/* A small DHCP server (RFC 2131 subset) for the host side of a device
 * bridge: one subnet, MG_TCPIP_DHCPS_LEASES addresses from ifp->dhcp_pool
 * on, bound to client MACs, with this interface as router (and DNS when
 * ifp->dns is unset). Replies are broadcast, which every client accepts. */
#include "stack.h"

#if MG_ENABLE_TCPIP && MG_ENABLE_DHCP_SERVER

enum { DISCOVER = 1, OFFER = 2, REQUEST = 3, DECLINE = 4, ACK = 5, NAK = 6,
       RELEASE = 7 };
#define OPT_OFS 240

static uint32_t pool_ip(const struct mg_tcpip_if *ifp, size_t i) {
  uint8_t b[4];
  uint32_t v;
  wrip(b, ifp->dhcp_pool);
  v = rd32(b) + (uint32_t) i;
  wr32(b, v);
  return rdip(b);
}

/* The lease of mac: existing, else a free one (-1 when the pool is full). */
static int lease_of(struct mg_tcpip_if *ifp, const uint8_t *mac, bool alloc) {
  static const uint8_t zero[6] = {0, 0, 0, 0, 0, 0};
  int i;
  for (i = 0; i < MG_TCPIP_DHCPS_LEASES; i++)
    if (memcmp(ifp->dhcps_mac[i], mac, 6) == 0) return i;
  for (i = 0; alloc && i < MG_TCPIP_DHCPS_LEASES; i++) {
    if (memcmp(ifp->dhcps_mac[i], zero, 6) == 0 && pool_ip(ifp, (size_t) i) != ifp->ip) {
      memcpy(ifp->dhcps_mac[i], mac, 6);
      return i;
    }
  }
  return -1;
}

static void reply(struct mg_tcpip_if *ifp, const uint8_t *req, uint8_t type,
                  uint32_t yiaddr) {
  uint8_t *m = ifp->txf + L4_OFS + 8;
  size_t n = OPT_OFS;
  uint32_t dns = ifp->dns != 0 ? ifp->dns : ifp->ip;
  memset(m, 0, 300);
  m[0] = 2; /* BOOTREPLY */
  m[1] = 1;
  m[2] = 6;
  memcpy(m + 4, req + 4, 4);   /* xid */
  memcpy(m + 10, req + 10, 2); /* flags */
  wrip(m + 16, yiaddr);
  wrip(m + 20, ifp->ip);       /* siaddr */
  memcpy(m + 28, req + 28, 16);
  memcpy(m + 236, req + 236, 4); /* magic cookie, checked by the caller */
  m[n++] = 53, m[n++] = 1, m[n++] = type;
  m[n++] = 54, m[n++] = 4;
  wrip(m + n, ifp->ip), n += 4;
  if (type != NAK) {
    m[n++] = 51, m[n++] = 4;
    wr32(m + n, ifp->dhcps_lease_s ? ifp->dhcps_lease_s : MG_TCPIP_DHCPS_LEASE_S);
    n += 4;
    m[n++] = 1, m[n++] = 4;
    wrip(m + n, ifp->mask), n += 4;
    m[n++] = 3, m[n++] = 4;
    wrip(m + n, ifp->ip), n += 4;
    m[n++] = 6, m[n++] = 4;
    wrip(m + n, dns), n += 4;
  }
  m[n++] = 255;
  if (n < 300) n = 300;
  if (type == ACK) ifp->stats.dhcps_acks++;
  if (type == NAK) ifp->stats.dhcps_naks++;
  mg_udp_tx(ifp, 67, IP_BROADCAST, 68, m, n);
}

void mg_dhcps_rx(struct mg_tcpip_if *ifp, const uint8_t *m, size_t len) {
  uint8_t type = 0;
  uint32_t requested = 0, server = 0;
  size_t i = OPT_OFS;
  int lease;
  if (len < OPT_OFS || m[0] != 1 || m[1] != 1 || m[2] != 6 || m[236] != 99 ||
      m[237] != 130 || m[238] != 83 || m[239] != 99 || (m[28] & 1) != 0)
    goto bad;
  while (i < len && m[i] != 255) {
    uint8_t opt = m[i], olen;
    if (opt == 0) {
      i++;
      continue;
    }
    if (i + 1 >= len || i + 2u + m[i + 1] > len) goto bad;
    olen = m[i + 1];
    if (opt == 53 && olen == 1) type = m[i + 2];
    if (opt == 50 && olen == 4) requested = rdip(m + i + 2);
    if (opt == 54 && olen == 4) server = rdip(m + i + 2);
    i += 2u + olen;
  }
  if (server != 0 && server != ifp->ip) return; /* the client chose another */
  if (ifp->dhcps_paused && type != RELEASE && type != DECLINE) {
    ifp->stats.dhcps_ignored++;
    return;
  }
  if (type == DISCOVER) {
    lease = lease_of(ifp, m + 28, true);
    if (lease < 0) goto bad; /* pool exhausted: stay silent */
    reply(ifp, m, OFFER, pool_ip(ifp, (size_t) lease));
  } else if (type == REQUEST) {
    uint32_t want = requested != 0 ? requested : rdip(m + 12); /* ciaddr */
    lease = lease_of(ifp, m + 28, false);
    if (ifp->dhcps_nak > 0) {
      ifp->dhcps_nak--;
      reply(ifp, m, NAK, 0);
    } else if (lease >= 0 && want == pool_ip(ifp, (size_t) lease)) {
      reply(ifp, m, ACK, want);
    } else {
      reply(ifp, m, NAK, 0);
    }
  } else if (type == RELEASE || type == DECLINE) {
    lease = lease_of(ifp, m + 28, false);
    if (lease >= 0) memset(ifp->dhcps_mac[lease], 0, 6);
  } else {
    goto bad;
  }
  return;
bad:
  ifp->stats.drop_udp++;
}

#endif /* MG_ENABLE_TCPIP && MG_ENABLE_DHCP_SERVER */
