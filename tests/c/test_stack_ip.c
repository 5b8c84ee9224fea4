/* IPv4 and ICMP layers: echo replies for every payload size up to the MTU,
 * header validation (checksum, version, lengths, fragments, options,
 * martian sources), broadcast handling and TTL. */
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
static struct cap *s_cap;
/* Frames the tests build, shared: each test builds its own from scratch. */
static uint8_t s_f[MG_TCPIP_FRAME_MAX], s_g[MG_TCPIP_FRAME_MAX];
static struct mg_tcpip_if *s_ifp;

/* An echo request from the peer with n payload bytes; returns frame len. */
static size_t build_ping(uint8_t *f, uint32_t dst, size_t n, uint16_t seq) {
  uint8_t *icmp = f + 34;
  size_t i;
  icmp[0] = 8;
  icmp[1] = 0;
  p16(icmp + 2, 0);
  p16(icmp + 4, 0xbeef);
  p16(icmp + 6, seq);
  for (i = 0; i < n; i++) icmp[8 + i] = (uint8_t) (i * 13 + seq);
  p16(icmp + 2, csum(icmp, 8 + n, 0));
  return build_ip(f, MAC_US, IP(10, 0, 0, 2), dst, 1, 8 + n);
}

static bool reply_matches(const uint8_t *req, size_t n) {
  const uint8_t *r = s_cap->f[0];
  if (s_cap->n != 1 || !frame_ok(r, s_cap->len[0])) return false;
  if (memcmp(r, MAC_PEER, 6) != 0 || r[23] != 1 || r[22] != 64) return false;
  if (memcmp(r + 26, req + 30, 4) != 0 || memcmp(r + 30, req + 26, 4) != 0)
    return false;                       /* addresses swapped */
  if (r[34] != 0 || r[35] != 0) return false; /* echo reply */
  return memcmp(r + 38, req + 38, 4 + n) == 0; /* id, seq, data unchanged */
}

static void test_ping_sizes(void) {
  uint8_t *f = s_f;
  size_t n, good = 0;
  for (n = 0; n <= 1472; n++) {
    size_t len = build_ping(f, IP(10, 0, 0, 1), n, (uint16_t) n);
    s_cap->n = 0;
    mg_tcpip_rx(s_ifp, f, len);
    if (reply_matches(f, n)) good++;
  }
  CHECK(good == 1473);
  CHECK(s_ifp->stats.icmp_echo == 1473);
  /* Ethernet padding after the IP datagram is ignored. */
  n = build_ping(f, IP(10, 0, 0, 1), 4, 1);
  memset(f + n, 0xAA, 20);
  s_cap->n = 0;
  mg_tcpip_rx(s_ifp, f, n + 20);
  CHECK(reply_matches(f, 4) && g16(s_cap->f[0] + 16) == 20 + 8 + 4);
}

static void expect_drop(uint8_t *f, size_t len, const char *what) {
  s_cap->n = 0;
  mg_tcpip_rx(s_ifp, f, len);
  if (s_cap->n != 0) printf("  unexpected answer to %s\n", what);
  CHECK(s_cap->n == 0);
}

static void test_bad_headers(void) {
  uint8_t *f = s_f;
  size_t len;
  uint32_t drops = s_ifp->stats.drop_ip;
  len = build_ping(f, IP(10, 0, 0, 1), 32, 1);
  f[24] ^= 0x55; /* header checksum broken */
  expect_drop(f, len, "bad IP checksum");
  len = build_ping(f, IP(10, 0, 0, 1), 32, 1);
  f[34 + 8] ^= 1; /* ICMP checksum broken */
  expect_drop(f, len, "bad ICMP checksum");
  len = build_ping(f, IP(10, 0, 0, 1), 32, 1);
  f[14] = 0x65; /* version 6 in an IPv4 ethertype */
  p16(f + 24, 0);
  p16(f + 24, csum(f + 14, 20, 0));
  expect_drop(f, len, "version 6");
  len = build_ping(f, IP(10, 0, 0, 1), 32, 1);
  expect_drop(f, 14 + 19, "truncated header");
  expect_drop(f, len - 1, "total length beyond the frame");
  len = build_ping(f, IP(10, 0, 0, 1), 32, 1);
  f[14] = 0x44; /* IHL 4 < 5 */
  p16(f + 24, 0);
  p16(f + 24, csum(f + 14, 20, 0));
  expect_drop(f, len, "IHL 4");
  len = build_ping(f, IP(10, 0, 0, 1), 32, 1);
  f[14] = 0x4f; /* IHL 15: 60 bytes of header, longer than the datagram */
  p16(f + 24, 0);
  p16(f + 24, csum(f + 14, 20, 0));
  expect_drop(f, len, "IHL beyond total");
  CHECK(s_ifp->stats.drop_ip >= drops + 5);
  /* Fragments: first (MF) and a later one (offset) are both dropped. */
  len = build_ping(f, IP(10, 0, 0, 1), 32, 1);
  p16(f + 20, 0x2000);
  p16(f + 24, 0);
  p16(f + 24, csum(f + 14, 20, 0));
  expect_drop(f, len, "first fragment");
  p16(f + 20, 0x0010);
  p16(f + 24, 0);
  p16(f + 24, csum(f + 14, 20, 0));
  expect_drop(f, len, "later fragment");
  CHECK(s_ifp->stats.drop_frag == 2);
  /* Not for us, broadcast ping (no smurf), martian sources. */
  len = build_ping(f, IP(10, 0, 0, 77), 8, 1);
  expect_drop(f, len, "another host's ping");
  len = build_ping(f, IP(10, 0, 0, 255), 8, 1);
  expect_drop(f, len, "subnet broadcast ping");
  len = build_ping(f, IP(255, 255, 255, 255), 8, 1);
  expect_drop(f, len, "broadcast ping");
  len = build_ip(f, MAC_US, IP(224, 0, 0, 1), IP(10, 0, 0, 1), 1, 0);
  expect_drop(f, len, "multicast source");
  len = build_ip(f, MAC_US, IP(10, 0, 0, 1), IP(10, 0, 0, 1), 1, 0);
  expect_drop(f, len, "our own address as source");
  /* Unknown protocol. */
  len = build_ip(f, MAC_US, IP(10, 0, 0, 2), IP(10, 0, 0, 1), 99, 4);
  expect_drop(f, len, "protocol 99");
}

/* A header with options (IHL 6): they are skipped, the payload served. */
static void test_options(void) {
  uint8_t *f = s_f, *g = s_g;
  size_t len = build_ping(f, IP(10, 0, 0, 1), 16, 9), n = len - 34;
  memcpy(g, f, 34);
  g[14] = 0x46;
  memset(g + 34, 1, 4); /* four NOP options */
  memcpy(g + 38, f + 34, n);
  p16(g + 16, (unsigned) (24 + n));
  p16(g + 24, 0);
  p16(g + 24, csum(g + 14, 24, 0));
  s_cap->n = 0;
  mg_tcpip_rx(s_ifp, g, len + 4);
  CHECK(s_cap->n == 1 && frame_ok(s_cap->f[0], s_cap->len[0]));
  CHECK(s_cap->n == 1 && memcmp(s_cap->f[0] + 42, f + 42, 16) == 0);
}

static void test_down(void) {
  uint8_t *f = s_f;
  size_t len = build_ping(f, IP(10, 0, 0, 1), 8, 3);
  s_cap->link_down = true;
  mg_tcpip_poll(s_ifp, 5000);
  CHECK(s_ifp->state == MG_TCPIP_STATE_DOWN);
  expect_drop(f, len, "ping while the link is down");
  s_cap->link_down = false;
  mg_tcpip_poll(s_ifp, 5001);
  CHECK(s_ifp->state == MG_TCPIP_STATE_READY);
  s_cap->n = 0;
  mg_tcpip_rx(s_ifp, f, len);
  CHECK(s_cap->n == 1);
}

int main(void) {
  s_cap = calloc(1, sizeof(*s_cap));
  s_ifp = make_if(s_cap);
  learn_peer(s_ifp, s_cap);
  test_ping_sizes();
  test_bad_headers();
  test_options();
  test_down();
  free(s_ifp);
  free(s_cap);
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
