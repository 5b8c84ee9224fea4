/* Shared helpers of the built-in stack tests: a capture driver that records
 * every frame the stack sends and feeds it frames the test crafts, plus
 * builders and checkers for Ethernet/ARP/IPv4/UDP/TCP written independently
 * of the stack's own code. */
#ifndef STACK_HARNESS_H
#define STACK_HARNESS_H

/* Each test uses a subset of these helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_stack.h"
#include "mg_test.h"

/* Frames the capture keeps (later ones are counted, not kept). A board with
 * less than 1 MiB of RAM (the target tests, tests/target) keeps 6: the most
 * one check needs (5 keep-alive probes and the RST) in 9 KiB. */
#ifndef CAP_MAX
#ifdef MG_TEST_SMALL_RAM
#define CAP_MAX 6
#else
#define CAP_MAX 64
#endif
#endif
struct cap {
  size_t n;                      /* frames captured */
  size_t len[CAP_MAX];
  uint8_t f[CAP_MAX][MG_TCPIP_FRAME_MAX];
  size_t in_len;                 /* one frame waiting to be received */
  uint8_t in[MG_TCPIP_FRAME_MAX + 4];
  bool link_down;
};

static bool cap_init(void *ctx, const uint8_t mac[6]) {
  (void) mac;
  return ctx != NULL;
}
static bool cap_tx(void *ctx, const void *frame, size_t len) {
  struct cap *c = (struct cap *) ctx;
  if (c->n < CAP_MAX) {
    memcpy(c->f[c->n], frame, len);
    c->len[c->n] = len;
  }
  c->n++;
  return true;
}
static size_t cap_rx(void *ctx, void *buf, size_t len) {
  struct cap *c = (struct cap *) ctx;
  size_t n = c->in_len < len ? c->in_len : len;
  memcpy(buf, c->in, n);
  c->in_len = 0;
  return n;
}
static bool cap_poll(void *ctx) {
  return !((struct cap *) ctx)->link_down;
}
static const struct mg_driver cap_driver = {
    .name = "cap",
    .init = cap_init,
    .tx = cap_tx,
    .rx = cap_rx,
    .poll = cap_poll,
};

static const uint8_t MAC_US[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t MAC_PEER[6] = {2, 0, 0, 0, 0, 2};

static inline uint32_t IP(int a, int b, int c, int d) {
  return mg_tcpip_ip((uint8_t) a, (uint8_t) b, (uint8_t) c, (uint8_t) d);
}

/* A heap-allocated interface on a capture driver, READY at 10.0.0.1/24. */
static struct mg_tcpip_if *make_if(struct cap *cap) {
  struct mg_tcpip_if *ifp =
      (struct mg_tcpip_if *) calloc(1, sizeof(struct mg_tcpip_if));
  memcpy(ifp->mac, MAC_US, 6);
  ifp->ip = IP(10, 0, 0, 1);
  ifp->mask = IP(255, 255, 255, 0);
  ifp->gw = IP(10, 0, 0, 254);
  ifp->driver = &cap_driver;
  ifp->driver_data = cap;
  ifp->seed = 42;
  if (!mg_tcpip_init(ifp)) abort();
  mg_tcpip_poll(ifp, 1000); /* link up -> READY, gratuitous ARP */
  return ifp;
}

/* Puts ifp (addresses and options already set) on link end ep and a
 * manager on the built-in stack over it: one side of a two-stack test. */
static bool link_manager(struct mg_tcpip_if *ifp, struct mg_link_end *ep,
                         struct mg_mgr *mgr) {
  bool ok;
  ifp->driver = &mg_driver_link;
  ifp->driver_data = ep;
  ok = mg_tcpip_init(ifp);
  mg_mgr_init_net(mgr, &mg_net_stack); /* even so: the test frees it */
  mg_tcpip_attach(mgr, ifp);
  return ok;
}

/* ---- independent byte helpers ---- */
static inline uint16_t g16(const uint8_t *p) {
  return (uint16_t) (p[0] << 8 | p[1]);
}
static inline uint32_t g32(const uint8_t *p) {
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 |
         p[3];
}
static inline void p16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}
static inline void p32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}
static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum) {
  size_t i;
  for (i = 0; i + 1 < n; i += 2) sum += (uint32_t) (p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t) p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t) ~sum;
}
static uint32_t pseudo(const uint8_t *src, const uint8_t *dst, int proto,
                       size_t len) {
  uint32_t s = 0;
  s += (uint32_t) (src[0] << 8 | src[1]) + (uint32_t) (src[2] << 8 | src[3]);
  s += (uint32_t) (dst[0] << 8 | dst[1]) + (uint32_t) (dst[2] << 8 | dst[3]);
  s += (uint32_t) proto + (uint32_t) len;
  return s;
}

/* Builds Ethernet + IPv4 (+ l4 payload already at f + 34); returns length. */
static size_t build_ip(uint8_t *f, const uint8_t *dmac, uint32_t src,
                       uint32_t dst, int proto, size_t l4len) {
  uint8_t *h = f + 14;
  memcpy(f, dmac, 6);
  memcpy(f + 6, MAC_PEER, 6);
  p16(f + 12, 0x0800);
  h[0] = 0x45;
  h[1] = 0;
  p16(h + 2, (unsigned) (20 + l4len));
  p16(h + 4, 0x1234);
  p16(h + 6, 0);
  h[8] = 64;
  h[9] = (uint8_t) proto;
  p16(h + 10, 0);
  memcpy(h + 12, &src, 4);
  memcpy(h + 16, &dst, 4);
  p16(h + 10, csum(h, 20, 0));
  return 34 + l4len;
}

/* TCP segment from the peer 10.0.0.2 to us; data copied after the header. */
static size_t build_tcp(uint8_t *f, uint16_t sport, uint16_t dport,
                        uint32_t seq, uint32_t ack, uint8_t flags,
                        uint16_t win, const void *data, size_t dlen) {
  uint8_t *t = f + 34;
  uint32_t src = IP(10, 0, 0, 2), dst = IP(10, 0, 0, 1);
  p16(t, sport);
  p16(t + 2, dport);
  p32(t + 4, seq);
  p32(t + 8, ack);
  t[12] = 5 << 4;
  t[13] = flags;
  p16(t + 14, win);
  p16(t + 16, 0);
  p16(t + 18, 0);
  if (dlen > 0) memcpy(t + 20, data, dlen);
  p16(t + 16, csum(t, 20 + dlen,
                   pseudo((uint8_t *) &src, (uint8_t *) &dst, 6, 20 + dlen)));
  return build_ip(f, MAC_US, src, dst, 6, 20 + dlen);
}

/* Checks the IPv4 header and L4 checksum of a captured frame. */
static bool frame_ok(const uint8_t *f, size_t len) {
  const uint8_t *h = f + 14;
  size_t tot;
  if (len < 34 || g16(f + 12) != 0x0800 || h[0] != 0x45) return false;
  tot = g16(h + 2);
  if (tot + 14 > len || csum(h, 20, 0) != 0) return false;
  if (h[9] == 6 || h[9] == 17) {
    if (h[9] == 17 && g16(h + 26) == 0) return true;
    return csum(h + 20, tot - 20, pseudo(h + 12, h + 16, h[9], tot - 20)) == 0;
  }
  if (h[9] == 1) return csum(h + 20, tot - 20, 0) == 0;
  return true;
}

#define TF_FIN 1
#define TF_SYN 2
#define TF_RST 4
#define TF_PSH 8
#define TF_ACK 16

/* Accessors of a captured TCP frame. */
static inline const uint8_t *tcp_of(const uint8_t *f) {
  return f + 34;
}
static inline uint8_t tflags(const uint8_t *f) {
  return tcp_of(f)[13];
}
static inline uint32_t tseq(const uint8_t *f) {
  return g32(tcp_of(f) + 4);
}
static inline uint32_t tack(const uint8_t *f) {
  return g32(tcp_of(f) + 8);
}
static inline uint16_t twin(const uint8_t *f) {
  return g16(tcp_of(f) + 14);
}
static inline size_t tdlen(const uint8_t *f) {
  return g16(f + 16) - 20u - (size_t) (tcp_of(f)[12] >> 4) * 4u;
}

#endif

#ifndef STACK_HARNESS_ARP
#define STACK_HARNESS_ARP
/* An ARP packet from (smac, sip) in a broadcast or unicast frame. */
static size_t build_arp(uint8_t *f, const uint8_t *dmac, int op,
                        const uint8_t *smac, uint32_t sip,
                        const uint8_t *tmac, uint32_t tip) {
  uint8_t *a = f + 14;
  memcpy(f, dmac, 6);
  memcpy(f + 6, smac, 6);
  p16(f + 12, 0x0806);
  p16(a, 1);
  p16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  p16(a + 6, (unsigned) op);
  memcpy(a + 8, smac, 6);
  memcpy(a + 14, &sip, 4);
  memcpy(a + 18, tmac, 6);
  memcpy(a + 24, &tip, 4);
  return 42;
}

/* The peer 10.0.0.2 asks for us: we learn it and answer. Clears captures. */
static void learn_peer(struct mg_tcpip_if *ifp, struct cap *cap) {
  static const uint8_t zero[6] = {0};
  static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  uint8_t f[64];
  size_t n = build_arp(f, bc, 1, MAC_PEER, IP(10, 0, 0, 2), zero,
                       IP(10, 0, 0, 1));
  mg_tcpip_rx(ifp, f, n);
  cap->n = 0;
}
#endif
