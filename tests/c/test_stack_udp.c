/* UDP layer and DHCP client with crafted frames: datagram queueing and
 * checksums, and a scripted DHCP server driving DISCOVER/OFFER/REQUEST/ACK,
 * renewal (unicast), rebinding (broadcast), NAK and lease expiry. */
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
static uint8_t s_f[MG_TCPIP_FRAME_MAX];

static size_t build_udp(uint8_t *f, const uint8_t *dmac, uint32_t src,
                        uint32_t dst, uint16_t sport, uint16_t dport,
                        const void *data, size_t n, bool with_csum) {
  uint8_t *u = f + 34;
  p16(u, sport);
  p16(u + 2, dport);
  p16(u + 4, (unsigned) (8 + n));
  p16(u + 6, 0);
  memcpy(u + 8, data, n);
  if (with_csum)
    p16(u + 6, csum(u, 8 + n, pseudo((uint8_t *) &src, (uint8_t *) &dst, 17, 8 + n)));
  return build_ip(f, dmac, src, dst, 17, 8 + n);
}

static void test_udp(void) {
  struct cap *cap = calloc(1, sizeof(*cap));
  struct mg_tcpip_if *ifp = make_if(cap);
  struct mg_tcpip_udp *u = mg_tcpip_udp_open(ifp, 5353, 0, 0), *c;
  uint32_t peer = IP(10, 0, 0, 2), us = IP(10, 0, 0, 1), ip;
  uint16_t port;
  char buf[64];
  size_t len, i;
  learn_peer(ifp, cap);
  CHECK(u != NULL && mg_tcpip_udp_open(ifp, 5353, 0, 0) == NULL);
  len = build_udp(s_f, MAC_US, peer, us, 1111, 5353, "one", 3, true);
  mg_tcpip_rx(ifp, s_f, len);
  len = build_udp(s_f, MAC_US, peer, us, 2222, 5353, "two!", 4, false);
  mg_tcpip_rx(ifp, s_f, len); /* checksum 0 = not computed: accepted */
  len = build_udp(s_f, MAC_US, peer, us, 3333, 5353, "bad", 3, true);
  s_f[len - 1] ^= 1;
  mg_tcpip_rx(ifp, s_f, len); /* corrupted: dropped */
  len = build_udp(s_f, MAC_US, peer, us, 1111, 9999, "nobody", 6, true);
  mg_tcpip_rx(ifp, s_f, len); /* closed port: dropped */
  len = build_udp(s_f, MAC_US, peer, us, 1111, 5353, "x", 1, true);
  p16(s_f + 38, 200); /* UDP length beyond the datagram */
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(mg_tcpip_udp_recvfrom(u, buf, sizeof(buf), &ip, &port) == 3);
  CHECK(memcmp(buf, "one", 3) == 0 && ip == peer && port == 1111);
  CHECK(mg_tcpip_udp_recvfrom(u, buf, 2, &ip, &port) == 2); /* truncated */
  CHECK(memcmp(buf, "tw", 2) == 0 && port == 2222);
  CHECK(mg_tcpip_udp_recvfrom(u, buf, sizeof(buf), &ip, &port) == 0);
  CHECK(ifp->stats.drop_udp == 3);
  /* The queue is bounded: flooding drops, never overflows. */
  for (i = 0; i < 1000; i++) {
    len = build_udp(s_f, MAC_US, peer, us, 1, 5353, "0123456789", 10, true);
    mg_tcpip_rx(ifp, s_f, len);
  }
  CHECK(u->len <= MG_TCPIP_UDP_RXBUF);
  for (i = 0; mg_tcpip_udp_recvfrom(u, buf, sizeof(buf), NULL, NULL) == 10; i++) {
  }
  CHECK(i == MG_TCPIP_UDP_RXBUF / 18);
  /* Sending: ports, length and checksum as an independent check sees. */
  cap->n = 0;
  CHECK(mg_tcpip_udp_sendto(ifp, u, peer, 53, "query", 5));
  CHECK(cap->n == 1 && frame_ok(cap->f[0], cap->len[0]));
  CHECK(g16(cap->f[0] + 34) == 5353 && g16(cap->f[0] + 36) == 53);
  CHECK(g16(cap->f[0] + 38) == 13 && memcmp(cap->f[0] + 42, "query", 5) == 0);
  CHECK(!mg_tcpip_udp_sendto(ifp, u, peer, 53, s_f, 1473)); /* > MTU */
  /* A connected endpoint only hears from its peer. */
  c = mg_tcpip_udp_open(ifp, 0, peer, 53);
  CHECK(c != NULL && c->lport >= 49152);
  len = build_udp(s_f, MAC_US, peer, us, 54, c->lport, "wrong", 5, true);
  mg_tcpip_rx(ifp, s_f, len);
  len = build_udp(s_f, MAC_US, peer, us, 53, c->lport, "right", 5, true);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(mg_tcpip_udp_recvfrom(c, buf, sizeof(buf), NULL, NULL) == 5 &&
        memcmp(buf, "right", 5) == 0);
  CHECK(mg_tcpip_udp_recvfrom(c, buf, sizeof(buf), NULL, NULL) == 0);
  free(ifp);
  free(cap);
}

/* ---- DHCP ---- */
static const uint8_t SRV_MAC[6] = {2, 0, 0, 0, 0, 0x53};

/* Finds option code in a captured DHCP message; NULL if absent. */
static const uint8_t *opt(const uint8_t *m, size_t len, uint8_t code) {
  size_t i = 240;
  while (i + 1 < len && m[i] != 255) {
    if (m[i] == 0) {
      i++;
      continue;
    }
    if (m[i] == code) return m + i;
    i += 2u + m[i + 1];
  }
  return NULL;
}

/* A server reply of the given type for the xid in the client's message. */
static size_t server_reply(const uint8_t *req, int type, uint32_t yiaddr,
                           uint32_t lease, uint32_t dst) {
  uint8_t m[300];
  size_t n = 240;
  uint32_t srv = IP(10, 1, 0, 1), mask = IP(255, 255, 0, 0),
           gw = IP(10, 1, 0, 254), dns = IP(10, 1, 0, 53);
  memset(m, 0, sizeof(m));
  m[0] = 2;
  m[1] = 1;
  m[2] = 6;
  memcpy(m + 4, req + 4, 4); /* xid */
  memcpy(m + 16, &yiaddr, 4);
  memcpy(m + 28, MAC_US, 6);
  m[236] = 99, m[237] = 130, m[238] = 83, m[239] = 99;
  m[n++] = 53, m[n++] = 1, m[n++] = (uint8_t) type;
  m[n++] = 54, m[n++] = 4;
  memcpy(m + n, &srv, 4), n += 4;
  m[n++] = 1, m[n++] = 4;
  memcpy(m + n, &mask, 4), n += 4;
  m[n++] = 3, m[n++] = 4;
  memcpy(m + n, &gw, 4), n += 4;
  m[n++] = 6, m[n++] = 4;
  memcpy(m + n, &dns, 4), n += 4;
  m[n++] = 51, m[n++] = 4;
  p32(m + n, lease), n += 4;
  m[n++] = 255;
  return build_udp(s_f, MAC_US, srv, dst, 67, 68, m, n, true);
}

static const uint8_t *dhcp_of(const uint8_t *f) {
  return f + 42;
}

static void test_dhcp(void) {
  struct cap *cap = calloc(1, sizeof(*cap));
  struct mg_tcpip_if *ifp = calloc(1, sizeof(*ifp));
  uint32_t offered = IP(10, 1, 2, 3), srv = IP(10, 1, 0, 1);
  const uint8_t *m, *o;
  uint8_t req[240];
  size_t len;
  uint64_t now = 0, t_bound;
  memcpy(ifp->mac, MAC_US, 6);
  ifp->enable_dhcp = true;
  ifp->driver = &cap_driver;
  ifp->driver_data = cap;
  ifp->seed = 9;
  CHECK(mg_tcpip_init(ifp));
  mg_tcpip_poll(ifp, now);
  CHECK(ifp->state == MG_TCPIP_STATE_UP && ifp->ip == 0);
  /* DISCOVER: broadcast from 0.0.0.0:68 to 255.255.255.255:67. */
  CHECK(cap->n == 1 && frame_ok(cap->f[0], cap->len[0]));
  m = dhcp_of(cap->f[0]);
  CHECK(g16(cap->f[0] + 34) == 68 && g16(cap->f[0] + 36) == 67);
  CHECK(g32(cap->f[0] + 26) == 0 && g32(cap->f[0] + 30) == 0xffffffffu);
  CHECK(m[0] == 1 && memcmp(m + 28, MAC_US, 6) == 0);
  o = opt(m, cap->len[0] - 42, 53);
  CHECK(o != NULL && o[2] == 1);
  /* No answer: DISCOVER again later, with back-off. */
  cap->n = 0;
  now += 500;
  mg_tcpip_poll(ifp, now);
  CHECK(cap->n == 0);
  now += 600;
  mg_tcpip_poll(ifp, now);
  CHECK(cap->n == 1);
  memcpy(req, dhcp_of(cap->f[0]), sizeof(req));
  /* A reply with a wrong xid is ignored. */
  len = server_reply(req, 2, offered, 100, IP(255, 255, 255, 255));
  s_f[42 + 4] ^= 1;
  cap->n = 0;
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(cap->n == 0);
  /* OFFER -> REQUEST with requested address and server id. */
  len = server_reply(req, 2, offered, 100, IP(255, 255, 255, 255));
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(cap->n == 1);
  m = dhcp_of(cap->f[0]);
  o = opt(m, cap->len[0] - 42, 53);
  CHECK(o != NULL && o[2] == 3);
  o = opt(m, cap->len[0] - 42, 50);
  CHECK(o != NULL && memcmp(o + 2, &offered, 4) == 0);
  o = opt(m, cap->len[0] - 42, 54);
  CHECK(o != NULL && memcmp(o + 2, &srv, 4) == 0);
  memcpy(req, m, sizeof(req));
  /* ACK: addressed, READY, gratuitous ARP announces the address. */
  cap->n = 0;
  len = server_reply(req, 5, offered, 100, offered);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(ifp->state == MG_TCPIP_STATE_READY && ifp->ip == offered);
  CHECK(ifp->mask == IP(255, 255, 0, 0) && ifp->gw == IP(10, 1, 0, 254));
  CHECK(ifp->dns == IP(10, 1, 0, 53));
  CHECK(cap->n == 1 && g16(cap->f[0] + 12) == 0x0806);
  CHECK(ifp->stats.dhcp_leases == 1);
  t_bound = now;
  /* T1 (50 s): unicast REQUEST to the server with ciaddr (needs ARP). */
  cap->n = 0;
  mg_tcpip_poll(ifp, t_bound + 49000);
  CHECK(cap->n == 0);
  mg_tcpip_poll(ifp, t_bound + 50000);
  CHECK(cap->n == 1 && g16(cap->f[0] + 12) == 0x0806); /* who has srv? */
  len = build_arp(s_f, MAC_US, 2, SRV_MAC, srv, MAC_US, offered);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(cap->n == 2 && memcmp(cap->f[1], SRV_MAC, 6) == 0);
  m = dhcp_of(cap->f[1]);
  CHECK(memcmp(m + 12, &offered, 4) == 0); /* ciaddr */
  CHECK(opt(m, cap->len[1] - 42, 50) == NULL);
  memcpy(req, m, sizeof(req));
  /* Renewal ACK extends the lease. */
  len = server_reply(req, 5, offered, 100, offered);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(ifp->stats.dhcp_leases == 2 && ifp->ip == offered);
  /* No answers at all now: rebinding broadcasts at T2, then the lease
   * expires and discovery starts over without an address. */
  t_bound += 50000;
  cap->n = 0;
  mg_tcpip_poll(ifp, t_bound + 60000); /* past T1: renewing */
  mg_tcpip_poll(ifp, t_bound + 88000); /* past T2 (87.5 s) */
  CHECK(cap->n >= 2);
  CHECK(g32(cap->f[cap->n - 1] + 30) == 0xffffffffu);
  mg_tcpip_poll(ifp, t_bound + 100001);
  CHECK(ifp->ip == 0 && ifp->state == MG_TCPIP_STATE_UP);
  /* NAK while requesting restarts discovery. */
  memcpy(req, dhcp_of(cap->f[(cap->n - 1) % CAP_MAX]), sizeof(req));
  len = server_reply(req, 2, offered, 100, IP(255, 255, 255, 255));
  mg_tcpip_rx(ifp, s_f, len);
  memcpy(req, dhcp_of(cap->f[(cap->n - 1) % CAP_MAX]), sizeof(req));
  len = server_reply(req, 6, 0, 0, IP(255, 255, 255, 255));
  cap->n = 0;
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(ifp->ip == 0 && cap->n == 1);
  o = opt(dhcp_of(cap->f[0]), cap->len[0] - 42, 53);
  CHECK(o != NULL && o[2] == 1);
  /* Garbage on port 68 is dropped safely. */
  len = build_udp(s_f, MAC_US, srv, IP(255, 255, 255, 255), 67, 68, "\x02\x01",
                  2, true);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(ifp->ip == 0);
  free(ifp);
  free(cap);
}

#if MG_ENABLE_DHCP_SERVER
/* ---- DHCP server ---- */
static size_t client_msg(uint8_t *f, const uint8_t *mac, int type, uint32_t want,
                         uint32_t server) {
  uint8_t m[300];
  size_t n = 240;
  memset(m, 0, sizeof(m));
  m[0] = 1, m[1] = 1, m[2] = 6;
  p32(m + 4, 0xabcd0000u | mac[5]);
  memcpy(m + 28, mac, 6);
  m[236] = 99, m[237] = 130, m[238] = 83, m[239] = 99;
  m[n++] = 53, m[n++] = 1, m[n++] = (uint8_t) type;
  if (want != 0) {
    m[n++] = 50, m[n++] = 4;
    memcpy(m + n, &want, 4), n += 4;
  }
  if (server != 0) {
    m[n++] = 54, m[n++] = 4;
    memcpy(m + n, &server, 4), n += 4;
  }
  m[n++] = 255;
  return build_udp(f, (const uint8_t *) "\xff\xff\xff\xff\xff\xff", 0,
                   IP(255, 255, 255, 255), 68, 67, m, n, true);
}

/* The reply's message type and yiaddr, from the last captured frame. */
static int reply_type(struct cap *cap, uint32_t *yiaddr) {
  const uint8_t *f = cap->f[(cap->n - 1) % CAP_MAX], *o;
  if (cap->n == 0 || g16(f + 36) != 68) return -1;
  o = opt(f + 42, cap->len[(cap->n - 1) % CAP_MAX] - 42, 53);
  if (yiaddr != NULL) memcpy(yiaddr, f + 42 + 16, 4);
  return o == NULL ? -1 : o[2];
}

static void test_dhcp_server(void) {
  struct cap *cap = calloc(1, sizeof(*cap));
  struct mg_tcpip_if *ifp = calloc(1, sizeof(*ifp));
  uint8_t mac[6] = {2, 0, 0, 0, 0x10, 0};
  uint32_t yi = 0, us = IP(10, 0, 0, 1), pool = IP(10, 0, 0, 100);
  size_t len, i;
  memcpy(ifp->mac, MAC_US, 6);
  ifp->ip = us;
  ifp->mask = IP(255, 255, 255, 0);
  ifp->enable_dhcp_server = true;
  ifp->dhcp_pool = pool;
  ifp->driver = &cap_driver;
  ifp->driver_data = cap;
  CHECK(mg_tcpip_init(ifp));
  mg_tcpip_poll(ifp, 1000);
  /* DISCOVER -> OFFER of the first pool address, broadcast from :67. */
  cap->n = 0;
  len = client_msg(s_f, mac, 1, 0, 0);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(cap->n == 1 && reply_type(cap, &yi) == 2 && yi == pool);
  CHECK(frame_ok(cap->f[0], cap->len[0]) && g32(cap->f[0] + 30) == 0xffffffffu);
  /* REQUEST for it -> ACK; the same MAC asking again gets the same lease. */
  len = client_msg(s_f, mac, 3, pool, us);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(reply_type(cap, &yi) == 5 && yi == pool && ifp->stats.dhcps_acks == 1);
  len = client_msg(s_f, mac, 1, 0, 0);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(reply_type(cap, &yi) == 2 && yi == pool);
  /* Asking for an address that is not its lease -> NAK. */
  len = client_msg(s_f, mac, 3, IP(10, 0, 0, 200), us);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(reply_type(cap, NULL) == 6);
  /* A REQUEST naming another server is not for us: silence. */
  cap->n = 0;
  len = client_msg(s_f, mac, 3, pool, IP(10, 0, 0, 9));
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(cap->n == 0);
  /* Every other client gets the next address until the pool runs out. */
  for (i = 1; i < MG_TCPIP_DHCPS_LEASES + 2; i++) {
    mac[5] = (uint8_t) i;
    cap->n = 0;
    len = client_msg(s_f, mac, 1, 0, 0);
    mg_tcpip_rx(ifp, s_f, len);
    if (i < MG_TCPIP_DHCPS_LEASES) {
      CHECK(reply_type(cap, &yi) == 2 && g32((uint8_t *) &yi) == g32((uint8_t *) &pool) + i);
    } else {
      CHECK(cap->n == 0); /* exhausted */
    }
  }
  /* RELEASE frees a lease for the next client. */
  mac[5] = 0;
  len = client_msg(s_f, mac, 7, 0, us);
  mg_tcpip_rx(ifp, s_f, len);
  mac[5] = 0x77;
  cap->n = 0;
  len = client_msg(s_f, mac, 1, 0, 0);
  mg_tcpip_rx(ifp, s_f, len);
  CHECK(reply_type(cap, &yi) == 2 && yi == pool);
  /* Truncated and malformed messages change nothing. */
  cap->n = 0;
  len = client_msg(s_f, mac, 1, 0, 0);
  mg_tcpip_rx(ifp, s_f, len - 200); /* UDP length now beyond the datagram */
  len = client_msg(s_f, mac, 1, 0, 0);
  s_f[42 + 241] = 250; /* option length past the end of the message */
  p16(s_f + 40, 0);    /* UDP checksum "not computed": the parser sees it */
  {
    uint32_t drops = ifp->stats.drop_udp;
    mg_tcpip_rx(ifp, s_f, len);
    CHECK(ifp->stats.drop_udp == drops + 1);
  }
  CHECK(cap->n == 0);
  free(ifp);
  free(cap);
}
#endif

int main(void) {
  test_udp();
  test_dhcp();
#if MG_ENABLE_DHCP_SERVER
  test_dhcp_server();
#endif
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
