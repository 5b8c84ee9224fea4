/* DHCP client (RFC 2131): DISCOVER -> OFFER -> REQUEST -> ACK, then renewal
 * at T1 (unicast to the server), rebinding at T2 (broadcast), and loss of
 * the address at lease end. NAK restarts from DISCOVER. */
#include "stack.h"

#if MG_ENABLE_TCPIP

enum { D_INIT, D_SELECTING, D_REQUESTING, D_BOUND, D_RENEWING, D_REBINDING };
enum { DHCPDISCOVER = 1, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK, DHCPNAK };

#define BOOTP_LEN 236
#define OPT_OFS 240 /* fixed header + magic cookie */
#define DHCP_MAX 320
#define CLIENT_PORT 68
#define SERVER_PORT 67
static const uint8_t cookie[4] = {99, 130, 83, 99};

/* Builds our message in place (txf payload area) and sends it. */
static void dhcp_send(struct mg_tcpip_if *ifp, uint8_t type, uint32_t dst) {
  uint8_t *m = ifp->txf + L4_OFS + 8;
  size_t n = OPT_OFS;
  struct mg_tcpip_dhcp *d = &ifp->dhcp;
  bool renew = d->state == D_RENEWING || d->state == D_REBINDING;
  memset(m, 0, DHCP_MAX);
  m[0] = 1; /* BOOTREQUEST */
  m[1] = 1; /* Ethernet */
  m[2] = 6;
  wr32(m + 4, d->xid);
  if (!renew) wr16(m + 10, 0x8000); /* no address yet: reply by broadcast */
  if (renew) wrip(m + 12, ifp->ip); /* ciaddr */
  memcpy(m + 28, ifp->mac, 6);
  memcpy(m + BOOTP_LEN, cookie, 4);
  m[n++] = 53;
  m[n++] = 1;
  m[n++] = type;
  if (type == DHCPREQUEST && !renew) {
    m[n++] = 50; /* requested address */
    m[n++] = 4;
    wrip(m + n, d->offered);
    n += 4;
    m[n++] = 54; /* server identifier */
    m[n++] = 4;
    wrip(m + n, d->server);
    n += 4;
  }
  m[n++] = 55; /* parameters we want */
  m[n++] = 6;
  m[n++] = 1;
  m[n++] = 3;
  m[n++] = 6;
  m[n++] = 51;
  m[n++] = 58;
  m[n++] = 59;
  m[n++] = 255;
  if (n < 300) n = 300; /* BOOTP minimum, some relays insist */
  mg_udp_tx(ifp, CLIENT_PORT, dst, SERVER_PORT, m, n);
}

static void retry_at(struct mg_tcpip_if *ifp, unsigned base_ms) {
  unsigned shift = ifp->dhcp.tries < 4 ? ifp->dhcp.tries : 4;
  ifp->dhcp.deadline = ifp->now + ((uint64_t) base_ms << shift);
}

static void discover(struct mg_tcpip_if *ifp) {
  struct mg_tcpip_dhcp *d = &ifp->dhcp;
  d->state = D_SELECTING;
  d->xid = mg_tcpip_rand(ifp);
  dhcp_send(ifp, DHCPDISCOVER, IP_BROADCAST);
  retry_at(ifp, 1000);
}

void mg_dhcp_start(struct mg_tcpip_if *ifp) {
  memset(&ifp->dhcp, 0, sizeof(ifp->dhcp));
  discover(ifp);
}

static void drop_lease(struct mg_tcpip_if *ifp) {
  ifp->ip = ifp->mask = ifp->gw = 0;
  mg_tcpip_set_state(ifp, MG_TCPIP_STATE_UP);
  ifp->dhcp.tries = 0;
  discover(ifp);
}

void mg_dhcp_timer(struct mg_tcpip_if *ifp) {
  struct mg_tcpip_dhcp *d = &ifp->dhcp;
  if (ifp->state == MG_TCPIP_STATE_DOWN) return;
  switch (d->state) {
    case D_INIT:
      discover(ifp);
      break;
    case D_SELECTING:
    case D_REQUESTING:
      if (ifp->now < d->deadline) break;
      if (++d->tries > 5 && d->state == D_REQUESTING) {
        d->tries = 0;
        discover(ifp);
      } else if (d->state == D_SELECTING) {
        d->xid = mg_tcpip_rand(ifp);
        dhcp_send(ifp, DHCPDISCOVER, IP_BROADCAST);
        retry_at(ifp, 1000);
      } else {
        dhcp_send(ifp, DHCPREQUEST, IP_BROADCAST);
        retry_at(ifp, 1000);
      }
      break;
    case D_BOUND:
    case D_RENEWING:
    case D_REBINDING:
      if (ifp->now >= d->expire) {
        drop_lease(ifp);
      } else if (ifp->now >= d->t2 && d->state != D_REBINDING) {
        d->state = D_REBINDING;
        d->deadline = 0;
      } else if (ifp->now >= d->t1 && d->state == D_BOUND) {
        d->state = D_RENEWING;
        d->xid = mg_tcpip_rand(ifp);
        d->deadline = 0;
      }
      if (d->state != D_BOUND && ifp->now >= d->deadline) {
        dhcp_send(ifp, DHCPREQUEST,
                  d->state == D_RENEWING ? d->server : IP_BROADCAST);
        d->deadline = ifp->now + 5000;
      }
      break;
    default:
      break;
  }
}

void mg_dhcp_rx(struct mg_tcpip_if *ifp, const uint8_t *m, size_t len) {
  struct mg_tcpip_dhcp *d = &ifp->dhcp;
  uint8_t type = 0;
  uint32_t mask = 0, gw = 0, dns = 0, server = 0, lease = 0, t1 = 0, t2 = 0;
  size_t i = OPT_OFS;
  if (len < OPT_OFS || m[0] != 2 || rd32(m + 4) != d->xid ||
      memcmp(m + 28, ifp->mac, 6) != 0 || memcmp(m + BOOTP_LEN, cookie, 4) != 0)
    goto bad;
  while (i < len) {
    uint8_t opt = m[i], olen;
    if (opt == 255) break;
    if (opt == 0) {
      i++;
      continue;
    }
    if (i + 1 >= len) goto bad;
    olen = m[i + 1];
    if (i + 2 + olen > len) goto bad;
    if (opt == 53 && olen == 1) type = m[i + 2];
    if (opt == 1 && olen == 4) mask = rdip(m + i + 2);
    if (opt == 3 && olen >= 4) gw = rdip(m + i + 2);
    if (opt == 6 && olen >= 4) dns = rdip(m + i + 2);
    if (opt == 54 && olen == 4) server = rdip(m + i + 2);
    if (opt == 51 && olen == 4) lease = rd32(m + i + 2);
    if (opt == 58 && olen == 4) t1 = rd32(m + i + 2);
    if (opt == 59 && olen == 4) t2 = rd32(m + i + 2);
    i += 2u + olen;
  }
  if (type == DHCPOFFER && d->state == D_SELECTING) {
    uint32_t yi = rdip(m + 16);
    if (yi == 0 || yi == IP_BROADCAST || server == 0) goto bad;
    d->offered = yi;
    d->server = server;
    d->state = D_REQUESTING;
    d->tries = 0;
    dhcp_send(ifp, DHCPREQUEST, IP_BROADCAST);
    retry_at(ifp, 1000);
  } else if (type == DHCPACK &&
             (d->state == D_REQUESTING || d->state == D_RENEWING ||
              d->state == D_REBINDING)) {
    uint32_t yi = rdip(m + 16);
    if (yi == 0 || yi == IP_BROADCAST) goto bad;
    if (lease == 0) lease = 3600;
    if (lease > 0x7fffffffu / 1000u) lease = 0x7fffffffu / 1000u;
    if (t1 == 0 || t1 >= lease) t1 = lease / 2;
    if (t2 == 0 || t2 >= lease || t2 <= t1) t2 = lease * 7 / 8;
    ifp->ip = yi;
    ifp->mask = mask != 0 ? mask : mg_tcpip_ip(255, 255, 255, 0);
    ifp->gw = gw;
    if (dns != 0) ifp->dns = dns;
    if (server != 0) d->server = server;
    d->lease_s = lease;
    d->state = D_BOUND;
    d->tries = 0;
    d->t1 = ifp->now + (uint64_t) t1 * 1000;
    d->t2 = ifp->now + (uint64_t) t2 * 1000;
    d->expire = ifp->now + (uint64_t) lease * 1000;
    ifp->stats.dhcp_leases++;
    if (ifp->state == MG_TCPIP_STATE_READY) {
      mg_arp_announce(ifp);
    } else {
      mg_tcpip_set_state(ifp, MG_TCPIP_STATE_READY);
    }
  } else if (type == DHCPNAK && d->state != D_SELECTING && d->state != D_BOUND) {
    drop_lease(ifp);
  } else {
    goto bad;
  }
  return;
bad:
  ifp->stats.drop_udp++;
}

#endif /* MG_ENABLE_TCPIP */
