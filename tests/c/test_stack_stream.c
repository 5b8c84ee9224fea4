/* The stream driver (QEMU -netdev stream framing): two stacks over a Unix
 * socketpair exchange TCP data, and a peer writing garbage lengths cannot
 * desynchronise or crash the reader. */
#define _POSIX_C_SOURCE 200809L
#include <sys/socket.h>
#include <unistd.h>

#include "stack_harness.h"

#if MG_ENABLE_TCPIP && MG_ARCH == MG_ARCH_POSIX
static void test_two_stacks(void) {
  static struct mg_stream sa, sb;
  static struct mg_tcpip_if a, b;
  int sv[2], li;
  struct mg_tcpip_tcp *c, *s = NULL;
  static uint8_t buf[4096];
  size_t sent = 0, got = 0, n = 200000;
  bool bad = false;
  uint64_t now = 0;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  sa.fd = sv[0];
  sb.fd = sv[1];
  memcpy(a.mac, MAC_US, 6);
  memcpy(b.mac, MAC_PEER, 6);
  a.ip = IP(10, 0, 2, 2);
  b.ip = IP(10, 0, 2, 15);
  a.mask = b.mask = IP(255, 255, 255, 0);
  a.driver = b.driver = &mg_driver_stream;
  a.driver_data = &sa;
  b.driver_data = &sb;
  CHECK(mg_tcpip_init(&a) && mg_tcpip_init(&b));
  li = mg_tcpip_tcp_listen(&b, 7, 2);
  c = mg_tcpip_tcp_connect(&a, b.ip, 7, 0);
  while (now < 20000 && got < n) {
    now++;
    mg_stream_wait(&sa, 0);
    mg_tcpip_poll(&a, now);
    mg_tcpip_poll(&b, now);
    if (s == NULL) s = mg_tcpip_tcp_accept(&b, li);
    if (s != NULL) { /* echo */
      long r = mg_tcpip_tcp_recv(&b, s, buf, mg_tcpip_tcp_space(s) < sizeof(buf)
                                                  ? mg_tcpip_tcp_space(s)
                                                  : sizeof(buf));
      if (r > 0) mg_tcpip_tcp_send(&b, s, buf, (size_t) r);
    }
    if (c != NULL && mg_tcpip_tcp_is_open(c)) {
      while (sent < n) {
        size_t k = n - sent < 1000 ? n - sent : 1000, i;
        long w;
        for (i = 0; i < k; i++) buf[i] = (uint8_t) ((sent + i) * 13);
        w = mg_tcpip_tcp_send(&a, c, buf, k);
        if (w <= 0) break;
        sent += (size_t) w;
      }
      for (;;) {
        long r = mg_tcpip_tcp_recv(&a, c, buf, sizeof(buf)), i;
        if (r <= 0) break;
        for (i = 0; i < r; i++)
          if (buf[i] != (uint8_t) ((got + (size_t) i) * 13)) bad = true;
        got += (size_t) r;
      }
    }
  }
  CHECK(got == n && !bad);
  CHECK(sa.bad == 0 && sb.bad == 0 && a.stats.tcp_retransmits == 0);
  /* The peer hangs up: the link goes down. */
  close(sv[1]);
  { /* frames still buffered in the socket come first, then the end */
    int i;
    for (i = 1; i < 100 && a.state != MG_TCPIP_STATE_DOWN; i++)
      mg_tcpip_poll(&a, now + (uint64_t) i);
  }
  CHECK(a.state == MG_TCPIP_STATE_DOWN);
  close(sv[0]);
}

static void test_garbage(void) {
  static struct mg_stream st;
  static struct mg_tcpip_if ifp;
  static uint8_t junk[70000], arp[64], reply[128];
  int sv[2];
  size_t n;
  ssize_t r;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  st.fd = sv[0];
  memcpy(ifp.mac, MAC_US, 6);
  ifp.ip = IP(10, 0, 0, 1);
  ifp.mask = IP(255, 255, 255, 0);
  ifp.driver = &mg_driver_stream;
  ifp.driver_data = &st;
  CHECK(mg_tcpip_init(&ifp));
  mg_tcpip_poll(&ifp, 1);
  /* An announced 65 KB "frame" (over the MTU) is skipped as a whole... */
  junk[0] = 0, junk[1] = 1, junk[2] = 0, junk[3] = 0;
  memset(junk + 4, 0xC3, 65536);
  CHECK(write(sv[1], junk, 4 + 65536) == 4 + 65536);
  /* ...and the next frame is read correctly: an ARP request for us. */
  n = build_arp(arp + 4, (const uint8_t *) "\xff\xff\xff\xff\xff\xff", 1, MAC_PEER,
                IP(10, 0, 0, 2), (const uint8_t *) "\0\0\0\0\0\0", IP(10, 0, 0, 1));
  arp[0] = arp[1] = arp[2] = 0;
  arp[3] = (uint8_t) n;
  {
    int i;
    for (i = 0; i < 50 && ifp.stats.arp_replies == 0; i++) {
      if (i == 0) CHECK(write(sv[1], arp, 4 + n) == (ssize_t) (4 + n));
      mg_tcpip_poll(&ifp, (uint64_t) (2 + i));
    }
  }
  CHECK(st.bad == 1);
  CHECK(ifp.stats.arp_replies == 1);
  /* The reply on the wire is length-prefixed: skip the earlier gratuitous
   * ARP and find a 60-byte ARP reply frame. */
  r = read(sv[1], reply, sizeof(reply));
  CHECK(r >= 2 * (4 + 60));
  if (r >= 2 * (4 + 60)) {
    CHECK(g32(reply) == 60 && g32(reply + 64) == 60);
    CHECK(g16(reply + 64 + 4 + 20) == 2); /* ARP op: reply */
  }
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  test_two_stacks();
  test_garbage();
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP or not a POSIX host\n0 passed, 0 failed\n");
  return 0;
}
#endif
