/* The interface object: configuration checks, the driver poll loop, timers,
 * and the small helpers every layer shares (PRNG, ephemeral ports). */
#include "stack.h"

#if MG_ENABLE_TCPIP

uint32_t mg_tcpip_ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  uint8_t p[4] = {a, b, c, d};
  return rdip(p);
}

char *mg_tcpip_ntoa(uint32_t ip, char *buf, size_t len) {
  uint8_t p[4];
  char tmp[16];
  size_t n = 0, i;
  wrip(p, ip);
  for (i = 0; i < 4; i++) {
    unsigned v = p[i];
    char d[3];
    size_t k = 0;
    do {
      d[k++] = (char) ('0' + v % 10);
      v /= 10;
    } while (v > 0);
    while (k > 0) tmp[n++] = d[--k];
    if (i < 3) tmp[n++] = '.';
  }
  if (len > 0) {
    if (n >= len) n = len - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
  }
  return buf;
}

/* xorshift64*: deterministic for a given seed, good enough for ISNs. */
uint32_t mg_tcpip_rand(struct mg_tcpip_if *ifp) {
  uint64_t x = ifp->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  ifp->rng = x;
  return (uint32_t) ((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static bool port_in_use(struct mg_tcpip_if *ifp, uint16_t port) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++)
    if (ifp->tcp[i].state != MG_TCP_CLOSED && ifp->tcp[i].lport == port)
      return true;
  for (i = 0; i < MG_TCPIP_MAX_UDP; i++)
    if (ifp->udp[i].lport == port) return true;
  for (i = 0; i < MG_TCPIP_MAX_LISTEN; i++)
    if (ifp->listeners[i].port == port) return true;
  return false;
}

/* Ephemeral ports cycle through 49152..65535 (RFC 6335). */
uint16_t mg_tcpip_ephemeral(struct mg_tcpip_if *ifp) {
  unsigned tries;
  for (tries = 0; tries < 16384; tries++) {
    uint16_t p = ifp->next_port;
    ifp->next_port = (uint16_t) (p >= 65535 ? 49152 : p + 1);
    if (!port_in_use(ifp, p)) return p;
  }
  return 0;
}

void mg_tcpip_set_state(struct mg_tcpip_if *ifp, int state) {
  if (ifp->state == state) return;
  ifp->state = state;
  if (state == MG_TCPIP_STATE_READY) {
    mg_arp_announce(ifp);
    mg_tcp_kick(ifp, 0); /* SYNs queued before the link came up */
  }
  if (ifp->on_state != NULL) ifp->on_state(ifp, state, ifp->on_state_arg);
}

bool mg_tcpip_init(struct mg_tcpip_if *ifp) {
  size_t i;
  if (ifp->driver == NULL) return false;
#if !MG_ENABLE_DHCP_SERVER
  if (ifp->enable_dhcp_server) return false; /* built without dhcps.c */
#endif
  ifp->rng = ifp->seed ? ((uint64_t) ifp->seed << 1) | 1 : 0x9E3779B97F4A7C15ULL;
  for (i = 0; i < 6; i++) ifp->rng ^= (uint64_t) ifp->mac[i] << (8 * i);
  if (ifp->rng == 0) ifp->rng = 1;
  ifp->next_port = (uint16_t) (49152 + mg_tcpip_rand(ifp) % 16384);
  ifp->state = MG_TCPIP_STATE_DOWN;
  ifp->pending_len = 0;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    memset(t, 0, offsetof(struct mg_tcpip_tcp, rxbuf));
  }
  memset(ifp->udp, 0, sizeof(ifp->udp));
  memset(ifp->listeners, 0, sizeof(ifp->listeners));
  ifp->syn_len = 0;
  memset(ifp->arp, 0, sizeof(ifp->arp));
  memset(&ifp->dhcp, 0, sizeof(ifp->dhcp));
  if (ifp->driver->init != NULL &&
      !ifp->driver->init(ifp->driver_data, ifp->mac))
    return false;
  ifp->gso_max = 0;
  if (MG_TCPIP_OFFLOAD_MAX > 0 && ifp->driver->offload != NULL &&
      ifp->driver->tx_meta != NULL && ifp->driver->rx_meta != NULL) {
    /* Offloading driver: TCP may hand it (and get from it) packets larger
     * than the MTU, as far as both its limit and our buffers allow. */
    size_t max = ifp->driver->offload(ifp->driver_data);
    if (max > MG_TCPIP_FRAME_BUF) max = MG_TCPIP_FRAME_BUF;
    if (max > ETH_HLEN + MG_TCPIP_MTU) ifp->gso_max = (uint32_t) (max - ETH_HLEN);
  }
  ifp->initialised = true;
  if (ifp->enable_dhcp) ifp->ip = 0;
  return true;
}

void mg_tcpip_free(struct mg_tcpip_if *ifp) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) ifp->tcp[i].state = MG_TCP_CLOSED;
  memset(ifp->udp, 0, sizeof(ifp->udp));
  memset(ifp->listeners, 0, sizeof(ifp->listeners));
  ifp->syn_len = 0;
  ifp->initialised = false;
  ifp->state = MG_TCPIP_STATE_DOWN;
}

void mg_tcpip_timers(struct mg_tcpip_if *ifp) {
  mg_arp_timer(ifp);
  if (ifp->enable_dhcp) mg_dhcp_timer(ifp);
  mg_tcp_timer(ifp);
}

void mg_tcpip_poll(struct mg_tcpip_if *ifp, uint64_t now_ms) {
  const struct mg_driver *d = ifp->driver;
  bool up = true;
  unsigned n;
  if (!ifp->initialised) return;
  ifp->now = now_ms;
  if (d->poll != NULL) up = d->poll(ifp->driver_data);
  if (!up) {
    mg_tcpip_set_state(ifp, MG_TCPIP_STATE_DOWN);
  } else if (ifp->state == MG_TCPIP_STATE_DOWN) {
    if (ifp->enable_dhcp) {
      ifp->ip = 0;
      mg_tcpip_set_state(ifp, MG_TCPIP_STATE_UP);
      mg_dhcp_start(ifp);
    } else {
      mg_tcpip_set_state(ifp, ifp->ip != 0 ? MG_TCPIP_STATE_READY
                                            : MG_TCPIP_STATE_UP);
    }
  }
  /* ACKs held back since the previous call that no reply carried. */
  mg_tcpip_flush_acks(ifp);
  /* Bounded, so a flooding peer cannot starve the timers. ACKs for in-order
   * data wait until the application had its turn (mg_tcpip_flush_acks at
   * the next poll, or before the transport blocks): a reply written in
   * between carries the ACK, so a request costs one frame back, not two,
   * and one ACK per batch invites large segments back. */
  ifp->defer_acks = true;
  for (n = 0; up && n < 64 && d->rx != NULL; n++) {
    size_t len;
    if (GSO_ON(ifp)) {
      struct mg_frame_meta m;
      memset(&m, 0, sizeof(m));
      len = d->rx_meta(ifp->driver_data, ifp->rxf, sizeof(ifp->rxf), &m);
      ifp->rx_trusted = (m.flags & (MG_FRAME_CSUM_PARTIAL |
                                    MG_FRAME_CSUM_VALID)) != 0;
    } else {
      len = d->rx(ifp->driver_data, ifp->rxf, sizeof(ifp->rxf));
    }
    if (len > sizeof(ifp->rxf)) len = sizeof(ifp->rxf);
    if (len > 0) mg_eth_rx(ifp, ifp->rxf, len);
    ifp->rx_trusted = false; /* only ever for the frame just read */
    if (len == 0) break;
  }
  mg_tcpip_timers(ifp);
}

void mg_tcpip_flush_acks(struct mg_tcpip_if *ifp) {
  if (!ifp->defer_acks) return;
  ifp->defer_acks = false;
  mg_tcp_flush_acks(ifp);
}

#endif /* MG_ENABLE_TCPIP */
