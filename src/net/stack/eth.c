/* Ethernet II framing: accept frames for our MAC or broadcast, dispatch by
 * ethertype; build the header of outgoing frames. */
#include "stack.h"

#if MG_ENABLE_TCPIP

const uint8_t mg_eth_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* A frame handed in from outside mg_tcpip_poll (tests, push-model drivers)
 * is answered at once, as if alone. */
void mg_tcpip_rx(struct mg_tcpip_if *ifp, const void *frame, size_t len) {
  mg_tcpip_flush_acks(ifp);
  mg_eth_rx(ifp, frame, len);
}

void mg_eth_rx(struct mg_tcpip_if *ifp, const void *frame, size_t len) {
  const uint8_t *p = (const uint8_t *) frame;
  bool bcast;
  uint16_t type;
  ifp->stats.rx_frames++;
  if (!ifp->initialised || len < ETH_HLEN) {
    ifp->stats.drop_eth++;
    return;
  }
  bcast = memcmp(p, mg_eth_bcast, 6) == 0;
  if (!bcast && memcmp(p, ifp->mac, 6) != 0) {
    ifp->stats.drop_eth++; /* multicast or someone else's */
    return;
  }
  type = rd16(p + 12);
  if (type == ETHTYPE_ARP) {
    mg_arp_rx(ifp, p + ETH_HLEN, len - ETH_HLEN);
  } else if (type == ETHTYPE_IP4) {
    mg_ip4_rx(ifp, p + ETH_HLEN, len - ETH_HLEN, bcast);
  } else {
    ifp->stats.drop_eth++; /* VLAN tags, IPv6, ... are not handled */
  }
}

bool mg_eth_tx(struct mg_tcpip_if *ifp, const uint8_t *mac, uint16_t type,
               size_t len) {
  return mg_eth_tx_meta(ifp, mac, type, len, NULL);
}

bool mg_eth_tx_meta(struct mg_tcpip_if *ifp, const uint8_t *mac, uint16_t type,
                    size_t len, const struct mg_frame_meta *m) {
  const struct mg_driver *d = ifp->driver;
  uint8_t *f = ifp->txf;
  bool ok;
  memcpy(f, mac, 6);
  memcpy(f + 6, ifp->mac, 6);
  wr16(f + 12, type);
  if (len < 60) { /* pad to the Ethernet minimum (FCS excluded) */
    memset(f + len, 0, 60 - len);
    len = 60;
  }
  if (GSO_ON(ifp)) {
    ok = d->tx_meta(ifp->driver_data, f, len, m);
  } else {
    ok = d->tx != NULL && d->tx(ifp->driver_data, f, len);
  }
  if (ok) {
    ifp->stats.tx_frames++;
  } else {
    ifp->stats.tx_fail++;
  }
  return ok;
}

#endif /* MG_ENABLE_TCPIP */
