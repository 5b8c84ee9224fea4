/* Fuzz target: Ethernet frames into the built-in TCP/IP stack.
 *
 * The input is a sequence of records [ctl:1][len:2 big-endian][frame:len].
 * ctl bit 0 recomputes the IPv4 header checksum and bit 1 the TCP/UDP/ICMP
 * checksum (so mutations reach the protocol logic instead of dying at the
 * checksum; with bit 1 a zero TCP SEQ/ACK or DHCP xid is also replaced by
 * the value the stack expects), bits 2..7 advance the clock by that many times 50 ms (timers:
 * retransmission, TIME_WAIT, ARP, DHCP). After each frame the "application"
 * accepts, reads, writes and closes connections.
 *
 * Inputs whose first byte has bit 5 set run on an offloading driver (like
 * TAP with IFF_VNET_HDR): frames arrive through rx_meta, vouched for by the
 * driver (checksums not verified) when the record's ctl bit 2 is set, and
 * TCP may send batches beyond the MTU for the driver to segment.
 *
 * Invariants (abort on violation): every frame the stack sends fits the MTU
 * and carries valid IPv4/TCP/UDP/ICMP checksums or is a well-formed ARP
 * packet, or is a TCP batch with a partial checksum and a GSO size no
 * larger than the payload that, completed, is valid; every TCP connection keeps snd_una <= snd_nxt <= snd_max, queue
 * lengths within their buffers and its out-of-order ranges inside the
 * receive window. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_stack.h"

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "invariant failed %s:%d: %s\n", __FILE__, __LINE__, \
              #cond);                                                   \
      abort();                                                          \
    }                                                                   \
  } while (0)

static uint16_t sum16(const uint8_t *p, size_t n, uint32_t s) {
  size_t i;
  for (i = 0; i + 1 < n; i += 2) s += (uint32_t) (p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t) p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t) ~s;
}

static uint32_t pseudo(const uint8_t *ip, size_t l4len) {
  uint32_t s = 0;
  s += (uint32_t) (ip[12] << 8 | ip[13]) + (uint32_t) (ip[14] << 8 | ip[15]);
  s += (uint32_t) (ip[16] << 8 | ip[17]) + (uint32_t) (ip[18] << 8 | ip[19]);
  return s + ip[9] + (uint32_t) l4len;
}

/* Frames the stack emits are checked as they leave. */
static void check_out(const uint8_t *f, size_t len) {
  unsigned type;
  REQUIRE(len >= 60 && len <= MG_TCPIP_FRAME_MAX);
  type = (unsigned) (f[12] << 8 | f[13]);
  if (type == 0x0806) {
    REQUIRE(f[14] == 0 && f[15] == 1 && f[18] == 6 && f[19] == 4);
  } else {
    const uint8_t *ip = f + 14;
    size_t tot = (size_t) (ip[2] << 8 | ip[3]), l4;
    REQUIRE(type == 0x0800 && ip[0] == 0x45 && tot + 14 <= len);
    REQUIRE(sum16(ip, 20, 0) == 0);
    l4 = tot - 20;
    if (ip[9] == 1) REQUIRE(sum16(ip + 20, l4, 0) == 0);
    if (ip[9] == 6 || ip[9] == 17)
      REQUIRE(sum16(ip + 20, l4, pseudo(ip, l4)) == 0);
  }
}

static bool fz_init(void *ctx, const uint8_t mac[6]) {
  (void) ctx;
  (void) mac;
  return true;
}
static bool fz_tx(void *ctx, const void *frame, size_t len) {
  (void) ctx;
  check_out((const uint8_t *) frame, len);
  return true;
}
static size_t fz_rx(void *ctx, void *buf, size_t len) {
  (void) ctx;
  (void) buf;
  (void) len;
  return 0;
}
static bool fz_poll(void *ctx) {
  (void) ctx;
  return true;
}
static const struct mg_driver fz_driver = {
    .name = "fuzz",
    .init = fz_init,
    .tx = fz_tx,
    .rx = fz_rx,
    .poll = fz_poll,
};

/* The offloading variant: one frame waits in s_in for the next poll. */
static uint8_t s_in[MG_TCPIP_FRAME_BUF + 64], s_out[MG_TCPIP_FRAME_BUF];
static size_t s_in_len;
static uint8_t s_in_flags;

static bool fz_tx_meta(void *ctx, const void *frame, size_t len,
                       const struct mg_frame_meta *m) {
  const uint8_t *f = (const uint8_t *) frame;
  (void) ctx;
  if (m == NULL || m->flags == 0) {
    check_out(f, len);
    return true;
  }
  /* A batch: TCP/IPv4, partial checksum at the TCP header; completed
   * as the kernel would, it must verify, and cut at gso_size it must give
   * at least one full segment. */
  REQUIRE(m->flags == MG_FRAME_CSUM_PARTIAL && len <= sizeof(s_out));
  REQUIRE(len > 54 && f[12] == 0x08 && f[13] == 0 && f[23] == 6);
  REQUIRE(m->csum_start == 34 && m->csum_offset == 16);
  memcpy(s_out, f, len);
  {
    uint16_t c = sum16(s_out + 34, len - 34, 0);
    size_t tot = (size_t) (s_out[16] << 8 | s_out[17]);
    s_out[50] = (uint8_t) (c >> 8);
    s_out[51] = (uint8_t) c;
    REQUIRE(tot + 14 == len && sum16(s_out + 14, 20, 0) == 0);
    REQUIRE(sum16(s_out + 34, tot - 20, pseudo(s_out + 14, tot - 20)) == 0);
    if (m->gso_size != 0) {
      size_t hl = (size_t) (s_out[46] >> 4) * 4;
      REQUIRE(tot - 20 - hl > m->gso_size);
    } else {
      REQUIRE(len <= MG_TCPIP_FRAME_MAX);
    }
  }
  return true;
}
static size_t fz_rx_meta(void *ctx, void *buf, size_t len,
                         struct mg_frame_meta *m) {
  size_t n = s_in_len < len ? s_in_len : len;
  (void) ctx;
  memcpy(buf, s_in, n);
  m->flags = s_in_flags;
  s_in_len = 0;
  return n;
}
static size_t fz_offload(void *ctx) {
  (void) ctx;
  return MG_TCPIP_FRAME_BUF;
}
static const struct mg_driver fz_odriver = {
    .name = "fuzz-offload",
    .init = fz_init,
    .tx = fz_tx,
    .rx = fz_rx,
    .poll = fz_poll,
    .offload = fz_offload,
    .tx_meta = fz_tx_meta,
    .rx_meta = fz_rx_meta,
};

#define SEQ_LEQ(a, b) ((int32_t) ((uint32_t) (a) - (uint32_t) (b)) <= 0)

static void check_tcp(const struct mg_tcpip_if *ifp) {
  size_t i, k;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    const struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->state == MG_TCP_CLOSED) continue;
    REQUIRE(t->rx.len <= t->rx.size && t->tx.len <= t->tx.size);
    REQUIRE(t->rx.head < t->rx.size && t->tx.head < t->tx.size);
    REQUIRE(SEQ_LEQ(t->snd_una, t->snd_nxt) && SEQ_LEQ(t->snd_nxt, t->snd_max));
    REQUIRE(t->nooo <= MG_TCPIP_OOO_RANGES);
    for (k = 0; k < t->nooo; k++) {
      REQUIRE(SEQ_LEQ(t->rcv_nxt, t->ooo[k][0]));
      REQUIRE(SEQ_LEQ(t->ooo[k][1], t->rcv_nxt + (t->rx.size - t->rx.len)));
    }
  }
}

static struct mg_tcpip_if *s_ifp;

/* Sequence numbers are unguessable for a mutator: a zero SEQ (without SYN)
 * or ACK field in a record means "the value the connection expects". */
static void sync_tcp(uint8_t *t) {
  unsigned sport = (unsigned) (t[0] << 8 | t[1]), dport = (unsigned) (t[2] << 8 | t[3]);
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    const struct mg_tcpip_tcp *c = &s_ifp->tcp[i];
    uint32_t v;
    if (c->state == MG_TCP_CLOSED || c->rport != sport || c->lport != dport)
      continue;
    if (t[4] == 0 && t[5] == 0 && t[6] == 0 && t[7] == 0 && !(t[13] & 2)) {
      v = c->rcv_nxt;
      t[4] = (uint8_t) (v >> 24), t[5] = (uint8_t) (v >> 16);
      t[6] = (uint8_t) (v >> 8), t[7] = (uint8_t) v;
    }
    if (t[8] == 0 && t[9] == 0 && t[10] == 0 && t[11] == 0 && (t[13] & 16)) {
      v = c->snd_nxt;
      t[8] = (uint8_t) (v >> 24), t[9] = (uint8_t) (v >> 16);
      t[10] = (uint8_t) (v >> 8), t[11] = (uint8_t) v;
    }
    return;
  }
}

/* Fixes the checksums the record asks for (only when headers are there). */
static void fix(uint8_t *f, size_t len, uint8_t ctl) {
  uint8_t *ip = f + 14;
  size_t hl, tot;
  if (len < 34 || f[12] != 0x08 || f[13] != 0x00) return;
  hl = (size_t) (ip[0] & 15) * 4;
  tot = (size_t) (ip[2] << 8 | ip[3]);
  if (hl < 20 || 14 + hl > len) return;
  if (ctl & 1) {
    ip[10] = ip[11] = 0;
    {
      uint16_t c = sum16(ip, hl, 0);
      ip[10] = (uint8_t) (c >> 8);
      ip[11] = (uint8_t) c;
    }
  }
  if ((ctl & 2) && tot >= hl && 14 + tot <= len) {
    uint8_t *l4 = ip + hl;
    size_t n = tot - hl, at;
    uint32_t ps;
    if (ip[9] == 6 && n >= 20) {
      at = 16;
      sync_tcp(l4);
    } else if (ip[9] == 17 && n >= 8) {
      at = 6;
      /* DHCP replies get the client's transaction id. */
      if (n >= 16 && l4[2] == 0 && l4[3] == 68) {
        uint32_t x = s_ifp->dhcp.xid;
        l4[12] = (uint8_t) (x >> 24), l4[13] = (uint8_t) (x >> 16);
        l4[14] = (uint8_t) (x >> 8), l4[15] = (uint8_t) x;
      }
    } else if (ip[9] == 1 && n >= 4) {
      at = 2;
    } else {
      return;
    }
    l4[at] = l4[at + 1] = 0;
    ps = ip[9] == 1 ? 0 : pseudo(ip, n);
    {
      uint16_t c = sum16(l4, n, ps);
      l4[at] = (uint8_t) (c >> 8);
      l4[at + 1] = (uint8_t) c;
    }
  }
}

static void app(struct mg_tcpip_if *ifp, int li, struct mg_tcpip_udp *u) {
  struct mg_tcpip_tcp *t;
  size_t i;
  uint8_t buf[512];
  static uint8_t banner[6000];
  while ((t = mg_tcpip_tcp_accept(ifp, li)) != NULL) {
    mg_tcpip_tcp_send(ifp, t, "welcome\n", 8);
    /* Offloading: more than one MSS at once, so batches go out. */
    if (ifp->driver == &fz_odriver) mg_tcpip_tcp_send(ifp, t, banner, sizeof(banner));
  }
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    t = &ifp->tcp[i];
    if (!t->is_attached) continue;
    for (;;) {
      long n = mg_tcpip_tcp_recv(ifp, t, buf, sizeof(buf));
      if (n < 0) {
        mg_tcpip_tcp_close(ifp, t);
        break;
      }
      if (n == 0) break;
      REQUIRE((size_t) n <= sizeof(buf));
      mg_tcpip_tcp_send(ifp, t, buf, (size_t) n); /* echo */
      if (buf[0] == 'q') {
        mg_tcpip_tcp_close(ifp, t);
        break;
      }
      if (buf[0] == 'r') {
        mg_tcpip_tcp_abort(ifp, t);
        break;
      }
    }
  }
  for (;;) {
    uint32_t ip;
    uint16_t port;
    long n = mg_tcpip_udp_recvfrom(u, buf, sizeof(buf), &ip, &port);
    if (n <= 0) break;
    mg_tcpip_udp_sendto(ifp, u, ip, port, buf, (size_t) n);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t frame[MG_TCPIP_FRAME_BUF + 64];
  bool offload = size > 0 && (data[0] & 0x20) != 0;
  struct mg_tcpip_if *ifp;
  struct mg_tcpip_udp *u;
  uint64_t now = 1000;
  size_t pos = 0;
  int li;
  if (s_ifp == NULL) s_ifp = (struct mg_tcpip_if *) malloc(sizeof(*s_ifp));
  ifp = s_ifp;
  /* Configuration and bookkeeping only: mg_tcpip_init resets the pools,
   * and their buffers (megabytes on hosts) may hold anything. */
  memset(ifp, 0, offsetof(struct mg_tcpip_if, tcp));
  ifp->mac[0] = 2, ifp->mac[5] = 1;
  ifp->ip = mg_tcpip_ip(10, 0, 0, 1);
  ifp->mask = mg_tcpip_ip(255, 255, 255, 0);
  ifp->gw = mg_tcpip_ip(10, 0, 0, 254);
  ifp->driver = offload ? &fz_odriver : &fz_driver;
  ifp->seed = 1;
  /* Half the inputs run with the DHCP client, so its parser is reached. */
  ifp->enable_dhcp = size > 0 && (data[0] & 0x80) != 0;
  /* And a quarter with the DHCP server. */
  ifp->enable_dhcp_server = size > 0 && (data[0] & 0xc0) == 0x40;
  ifp->dhcp_pool = mg_tcpip_ip(10, 0, 0, 100);
  REQUIRE(mg_tcpip_init(ifp));
  mg_tcpip_poll(ifp, now);
  li = mg_tcpip_tcp_listen(ifp, 80, 4);
  u = mg_tcpip_udp_open(ifp, 7, 0, 0);
  if (!ifp->enable_dhcp) mg_tcpip_tcp_connect(ifp, mg_tcpip_ip(10, 0, 0, 2), 80, 0);
  while (pos + 3 <= size) {
    uint8_t ctl = data[pos];
    size_t len = (size_t) (data[pos + 1] << 8 | data[pos + 2]);
    pos += 3;
    if (len > size - pos) len = size - pos;
    if (len > sizeof(frame)) len = sizeof(frame);
    memcpy(frame, data + pos, len);
    pos += len;
    fix(frame, len, ctl);
    now += (uint64_t) (ctl >> 2) * 50;
    if (offload) {
      memcpy(s_in, frame, len); /* read by the poll, as from a TAP */
      s_in_len = len;
      s_in_flags = (ctl & 4) ? MG_FRAME_CSUM_VALID : 0;
      mg_tcpip_poll(ifp, now);
      REQUIRE(s_in_len == 0);
    } else {
      mg_tcpip_rx(ifp, frame, len);
      check_tcp(ifp);
      mg_tcpip_poll(ifp, now);
    }
    app(ifp, li, u);
    check_tcp(ifp);
  }
  /* Let every timer run out: nothing may be left in a broken state. */
  now += 600000;
  mg_tcpip_poll(ifp, now);
  check_tcp(ifp);
  mg_tcpip_free(ifp);
  return 0;
}
