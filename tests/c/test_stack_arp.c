/* Ethernet and ARP layer of the built-in stack: crafted frames in, frames
 * out checked field by field. */
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
static const uint8_t BC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t ZERO[6] = {0};

static void test_gratuitous(void) {
  struct cap *cap = calloc(1, sizeof(*cap));
  struct mg_tcpip_if *ifp = make_if(cap);
  const uint8_t *f = cap->f[0];
  uint32_t ip = IP(10, 0, 0, 1);
  CHECK(ifp->state == MG_TCPIP_STATE_READY);
  CHECK(cap->n == 1);
  CHECK(memcmp(f, BC, 6) == 0 && memcmp(f + 6, MAC_US, 6) == 0);
  CHECK(g16(f + 12) == 0x0806 && g16(f + 20) == 1);
  CHECK(memcmp(f + 28, &ip, 4) == 0 && memcmp(f + 38, &ip, 4) == 0);
  CHECK(cap->len[0] >= 60); /* padded to the Ethernet minimum */
  free(ifp);
  free(cap);
}

static void test_reply(void) {
  struct cap *cap = calloc(1, sizeof(*cap));
  struct mg_tcpip_if *ifp = make_if(cap);
  uint8_t f[64];
  const uint8_t *r;
  uint32_t peer = IP(10, 0, 0, 2), us = IP(10, 0, 0, 1);
  size_t n;
  cap->n = 0;
  n = build_arp(f, BC, 1, MAC_PEER, peer, ZERO, us);
  mg_tcpip_rx(ifp, f, n);
  CHECK(cap->n == 1);
  r = cap->f[0];
  CHECK(memcmp(r, MAC_PEER, 6) == 0);           /* unicast back */
  CHECK(g16(r + 20) == 2);                      /* reply */
  CHECK(memcmp(r + 22, MAC_US, 6) == 0);        /* sender MAC */
  CHECK(memcmp(r + 28, &us, 4) == 0);           /* sender IP */
  CHECK(memcmp(r + 32, MAC_PEER, 6) == 0);      /* target MAC */
  CHECK(memcmp(r + 38, &peer, 4) == 0);
  CHECK(ifp->stats.arp_replies == 1);
  /* A request for somebody else: no answer, and the sender is not learnt,
   * so a later datagram to it needs a request. */
  cap->n = 0;
  n = build_arp(f, BC, 1, MAC_PEER, IP(10, 0, 0, 3), ZERO, IP(10, 0, 0, 9));
  mg_tcpip_rx(ifp, f, n);
  CHECK(cap->n == 0);
  /* Malformed: wrong hardware length, truncated. */
  n = build_arp(f, BC, 1, MAC_PEER, peer, ZERO, us);
  f[18] = 8;
  mg_tcpip_rx(ifp, f, n);
  mg_tcpip_rx(ifp, f, 20);
  mg_tcpip_rx(ifp, f, 5); /* shorter than an Ethernet header */
  CHECK(cap->n == 0);
  CHECK(ifp->stats.drop_arp >= 2 && ifp->stats.drop_eth >= 1);
  /* Frames to another unicast MAC are not ours. */
  n = build_arp(f, MAC_PEER, 1, MAC_PEER, peer, ZERO, us);
  mg_tcpip_rx(ifp, f, n);
  CHECK(cap->n == 0);
  free(ifp);
  free(cap);
}

/* Sends a UDP datagram to ip and reports whether a frame for it went out. */
static struct mg_tcpip_udp *s_udp;
static bool send_to(struct mg_tcpip_if *ifp, uint32_t ip) {
  if (s_udp == NULL) s_udp = mg_tcpip_udp_open(ifp, 5000, 0, 0);
  return mg_tcpip_udp_sendto(ifp, s_udp, ip, 7, "hello", 5);
}

static void test_resolve(void) {
  struct cap *cap = calloc(1, sizeof(*cap));
  struct mg_tcpip_if *ifp = make_if(cap);
  uint32_t peer = IP(10, 0, 0, 2), far = IP(192, 168, 7, 7);
  uint8_t f[64];
  size_t n;
  s_udp = NULL;
  cap->n = 0;
  CHECK(!send_to(ifp, peer)); /* unresolved: parked, ARP request instead */
  CHECK(cap->n == 1 && g16(cap->f[0] + 12) == 0x0806);
  CHECK(memcmp(cap->f[0], BC, 6) == 0 && g16(cap->f[0] + 20) == 1);
  CHECK(memcmp(cap->f[0] + 38, &peer, 4) == 0);
  /* The reply releases the parked datagram. */
  cap->n = 0;
  n = build_arp(f, MAC_US, 2, MAC_PEER, peer, MAC_US, IP(10, 0, 0, 1));
  mg_tcpip_rx(ifp, f, n);
  CHECK(cap->n == 1 && g16(cap->f[0] + 12) == 0x0800);
  CHECK(memcmp(cap->f[0], MAC_PEER, 6) == 0 && frame_ok(cap->f[0], cap->len[0]));
  CHECK(memcmp(cap->f[0] + 42, "hello", 5) == 0);
  /* Cached now: straight out. */
  cap->n = 0;
  CHECK(send_to(ifp, peer) && cap->n == 1);
  /* Off-subnet traffic resolves the gateway, not the destination. */
  cap->n = 0;
  send_to(ifp, far);
  CHECK(cap->n == 1 && memcmp(cap->f[0] + 38, &ifp->gw, 4) == 0);
  /* Retries: 3 requests in total, then the entry and frame are dropped. */
  mg_tcpip_poll(ifp, 1000 + MG_TCPIP_ARP_RETRY_MS);
  mg_tcpip_poll(ifp, 1000 + 2 * MG_TCPIP_ARP_RETRY_MS);
  mg_tcpip_poll(ifp, 1000 + 3 * MG_TCPIP_ARP_RETRY_MS);
  mg_tcpip_poll(ifp, 1000 + 4 * MG_TCPIP_ARP_RETRY_MS);
  CHECK(cap->n == MG_TCPIP_ARP_TRIES);
  CHECK(ifp->stats.arp_failed == 1);
  CHECK(ifp->pending_len == 0);
  /* Expiry: after the TTL the peer is asked for again. */
  mg_tcpip_poll(ifp, 2000 + MG_TCPIP_ARP_TTL_MS);
  cap->n = 0;
  CHECK(!send_to(ifp, peer));
  CHECK(cap->n == 1 && g16(cap->f[0] + 12) == 0x0806);
  free(ifp);
  free(cap);
}

static void test_spoof(void) {
  struct cap *cap = calloc(1, sizeof(*cap));
  struct mg_tcpip_if *ifp = make_if(cap);
  static const uint8_t EVIL[6] = {2, 0xee, 0, 0, 0, 0xee};
  uint32_t peer = IP(10, 0, 0, 2), us = IP(10, 0, 0, 1), gw = ifp->gw;
  uint8_t f[64];
  size_t n;
  s_udp = NULL;
  /* Unsolicited reply about the gateway: not learnt. */
  n = build_arp(f, MAC_US, 2, EVIL, gw, MAC_US, us);
  mg_tcpip_rx(ifp, f, n);
  cap->n = 0;
  CHECK(!send_to(ifp, IP(8, 8, 8, 8))); /* must still ask for the gateway */
  CHECK(cap->n == 1 && g16(cap->f[0] + 12) == 0x0806);
  /* Someone claiming our own address is ignored (and not answered). */
  cap->n = 0;
  n = build_arp(f, BC, 1, EVIL, us, ZERO, us);
  mg_tcpip_rx(ifp, f, n);
  CHECK(cap->n == 0);
  /* A learnt entry is not re-pointed by a gratuitous request we did not ask
   * for... unless it refreshes an existing entry (RFC 826 merge). Check the
   * merge keeps working for the legitimate owner. */
  learn_peer(ifp, cap);
  CHECK(send_to(ifp, peer) && memcmp(cap->f[0], MAC_PEER, 6) == 0);
  free(ifp);
  free(cap);
}

int main(void) {
  test_gratuitous();
  test_reply();
  test_resolve();
  test_spoof();
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
