/* TCP window scaling (RFC 7323) and the driver offloads (TSO out, large and
 * pre-verified segments in), with an offloading capture driver. The test
 * plays the peer 10.0.0.2; every check of our output is computed here,
 * independently of the stack's code. */
#include "stack_harness.h"

#if MG_ENABLE_TCPIP && MG_TCPIP_OFFLOAD_MAX >= 65535
#define PORT 80
#define PEER_ISN 5000000u
#define OFR_MAX 64
#define BIGF (14 + 65535)

/* Offloading capture driver: frames up to 64 KiB, each with its metadata. */
struct ocap {
  size_t n;
  size_t len[OFR_MAX];
  uint8_t f[OFR_MAX][BIGF];
  struct mg_frame_meta meta[OFR_MAX];
  size_t in_len;
  uint8_t in[BIGF];
  struct mg_frame_meta in_meta;
};

static bool o_init(void *ctx, const uint8_t mac[6]) {
  (void) mac;
  return ctx != NULL;
}
static bool o_tx_meta(void *ctx, const void *frame, size_t len,
                      const struct mg_frame_meta *m) {
  struct ocap *c = (struct ocap *) ctx;
  if (c->n < OFR_MAX && len <= BIGF) {
    memcpy(c->f[c->n], frame, len);
    c->len[c->n] = len;
    if (m != NULL) {
      c->meta[c->n] = *m;
    } else {
      memset(&c->meta[c->n], 0, sizeof(c->meta[c->n]));
    }
  }
  c->n++;
  return true;
}
static bool o_tx(void *ctx, const void *frame, size_t len) {
  return o_tx_meta(ctx, frame, len, NULL);
}
static size_t o_rx_meta(void *ctx, void *buf, size_t len,
                        struct mg_frame_meta *m) {
  struct ocap *c = (struct ocap *) ctx;
  size_t n = c->in_len < len ? c->in_len : len;
  memcpy(buf, c->in, n);
  *m = c->in_meta;
  c->in_len = 0;
  return n;
}
static size_t o_rx(void *ctx, void *buf, size_t len) {
  struct mg_frame_meta m;
  return o_rx_meta(ctx, buf, len, &m);
}
static bool o_poll(void *ctx) {
  return ctx != NULL;
}
static size_t o_offload(void *ctx) {
  (void) ctx;
  return BIGF;
}
static const struct mg_driver ocap_driver = {
    .name = "ocap",
    .init = o_init,
    .tx = o_tx,
    .rx = o_rx,
    .poll = o_poll,
    .offload = o_offload,
    .tx_meta = o_tx_meta,
    .rx_meta = o_rx_meta,
};

static struct ocap *s_oc;
static struct mg_tcpip_if *s_ifp;
static uint64_t s_now = 1000;
static uint8_t s_f[BIGF];

/* Our shift, from the RFC: the smallest that fits the buffer in 16 bits. */
static unsigned expected_scale(void) {
  unsigned s = 0;
  while (((uint32_t) MG_TCPIP_TCP_RXBUF >> s) > 65535) s++;
  return s;
}

/* Delivers one frame through the driver (rx_meta), as a poll would. */
static void inject(size_t len, uint8_t flags) {
  memcpy(s_oc->in, s_f, len);
  s_oc->in_len = len;
  memset(&s_oc->in_meta, 0, sizeof(s_oc->in_meta));
  s_oc->in_meta.flags = flags;
  s_now += 1;
  mg_tcpip_poll(s_ifp, s_now);
}

static const uint8_t *last(void) {
  return s_oc->n == 0 ? NULL : s_oc->f[(s_oc->n - 1) % OFR_MAX];
}

/* A SYN with MSS 1000 and, if ws >= 0, a window scale option. */
static size_t build_syn(uint16_t sport, int ws) {
  uint8_t *t = s_f + 34;
  uint32_t src = IP(10, 0, 0, 2), dst = IP(10, 0, 0, 1);
  size_t hl = ws >= 0 ? 28 : 24;
  memset(s_f, 0, 34 + hl);
  p16(t, sport);
  p16(t + 2, PORT);
  p32(t + 4, PEER_ISN);
  t[12] = (uint8_t) ((hl / 4) << 4);
  t[13] = TF_SYN;
  p16(t + 14, 60000);
  t[20] = 2;
  t[21] = 4;
  p16(t + 22, 1000);
  if (ws >= 0) {
    t[24] = 1;
    t[25] = 3;
    t[26] = 3;
    t[27] = (uint8_t) ws;
  }
  p16(t + 16, csum(t, hl, pseudo((uint8_t *) &src, (uint8_t *) &dst, 6, hl)));
  return build_ip(s_f, MAC_US, src, dst, 6, hl);
}

/* Window scale option of a SYN(-ACK) we sent, or -1. */
static int ws_of(const uint8_t *f) {
  const uint8_t *t = tcp_of(f);
  size_t hl = (size_t) (t[12] >> 4) * 4, i = 20;
  while (i < hl) {
    if (t[i] == 0) break;
    if (t[i] == 1) {
      i++;
      continue;
    }
    if (i + 1 >= hl || t[i + 1] < 2) break;
    if (t[i] == 3 && t[i + 1] == 3) return t[i + 2];
    i += t[i + 1];
  }
  return -1;
}

static struct mg_tcpip_tcp *accept_from(int li, uint16_t sport, int ws,
                                        uint32_t *isn) {
  struct mg_tcpip_tcp *t;
  const uint8_t *r;
  s_oc->n = 0;
  inject(build_syn(sport, ws), 0);
  r = last();
  CHECK(s_oc->n == 1 && r != NULL && frame_ok(r, s_oc->len[0]));
  if (r == NULL) return NULL;
  CHECK(tflags(r) == (TF_SYN | TF_ACK) && tack(r) == PEER_ISN + 1);
  *isn = tseq(r);
  /* The SYN-ACK's own window is never scaled. */
  CHECK(twin(r) == (MG_TCPIP_TCP_RXBUF > 65535 ? 65535 : MG_TCPIP_TCP_RXBUF));
  if (ws >= 0) {
    CHECK(ws_of(r) == (int) expected_scale());
  } else {
    CHECK(ws_of(r) == -1 && (tcp_of(r)[12] >> 4) == 6);
  }
  s_oc->n = 0;
  inject(build_tcp(s_f, sport, PORT, PEER_ISN + 1, *isn + 1, TF_ACK, 1000,
                   NULL, 0),
         0);
  t = mg_tcpip_tcp_accept(s_ifp, li);
  CHECK(t != NULL && t->state == MG_TCP_ESTABLISHED);
  return t;
}

/* Both SYNs carry the option: the peer's windows are scaled from then on;
 * a peer without it gets none back and its windows are taken as they are. */
static void test_window_scale(int li) {
  uint32_t isn;
  struct mg_tcpip_tcp *t = accept_from(li, 41000, 7, &isn);
  if (t != NULL) {
    CHECK(t->snd_wnd == 1000u << 7);
    mg_tcpip_tcp_abort(s_ifp, t);
  }
  t = accept_from(li, 41001, -1, &isn);
  if (t != NULL) {
    CHECK(t->snd_wnd == 1000u);
    mg_tcpip_tcp_abort(s_ifp, t);
  }
}

/* Completes a partial checksum the way a NIC/kernel does, then verifies the
 * whole segment independently. */
static bool partial_csum_ok(uint8_t *f, size_t len,
                            const struct mg_frame_meta *m) {
  uint8_t *h = f + 14;
  size_t l4 = m->csum_start, tot = g16(h + 2);
  uint16_t c;
  if (l4 != 34 || m->csum_offset != 16 || tot + 14 != len) return false;
  c = csum(f + l4, len - l4, 0); /* over the pseudo-header sum left there */
  p16(f + l4 + m->csum_offset, c);
  return frame_ok(f, len);
}

/* Sending 200 KB: batches beyond the MTU go out for the driver to cut at
 * the MSS with partial checksums; together they are the bytes sent. */
static void test_tso(int li) {
  static uint8_t data[200000], got[200000];
  uint32_t isn, seq = PEER_ISN + 1, acked;
  size_t queued = 0, have = 0, big = 0, i, rounds;
  bool bad = false;
  struct mg_tcpip_tcp *t = accept_from(li, 41002, 7, &isn);
  if (t == NULL) return;
  for (i = 0; i < sizeof(data); i++) data[i] = (uint8_t) (i * 31 + (i >> 8));
  acked = isn + 1;
  s_oc->n = 0;
  /* Each round: queue what fits, check every frame out since the last
   * round (sent by the send call or in answer to our last ACK), ack. */
  for (rounds = 0; rounds < 500 && have < sizeof(data); rounds++) {
    long n;
    n = mg_tcpip_tcp_send(s_ifp, t, data + queued, sizeof(data) - queued);
    if (n > 0) queued += (size_t) n;
    /* Everything sent in this round, in order. */
    for (i = 0; i < s_oc->n && i < OFR_MAX; i++) {
      uint8_t *f = s_oc->f[i];
      size_t len = s_oc->len[i], dl = tdlen(f);
      const struct mg_frame_meta *m = &s_oc->meta[i];
      uint32_t off = tseq(f) - (isn + 1);
      if (dl == 0) continue;
      if (len > 14 + 1500) {
        big++;
        if (m->gso_size != 1000 || !(m->flags & MG_FRAME_CSUM_PARTIAL) ||
            !partial_csum_ok(f, len, m))
          bad = true;
        if (dl % 1000 != 0 && off + dl != queued) bad = true; /* runt tail */
      } else if (m->gso_size != 0 || !frame_ok(f, len) || dl > 1000) {
        bad = true;
      }
      if (off != have || have + dl > sizeof(got)) {
        bad = true;
        continue;
      }
      memcpy(got + have, tcp_of(f) + 20, dl);
      have += dl;
    }
    CHECK(s_oc->n <= OFR_MAX);
    /* The peer acks all of it, with a scaled 64 KiB * 128 window. */
    acked = isn + 1 + (uint32_t) have;
    s_oc->n = 0;
    inject(build_tcp(s_f, 41002, PORT, seq, acked, TF_ACK, 65535, NULL, 0), 0);
  }
  CHECK(!bad);
  CHECK(have == sizeof(data) && memcmp(got, data, have) == 0);
  CHECK(big > 0);
  printf("  TSO: %zu bytes in %zu rounds, %zu frames beyond the MTU\n", have,
         rounds, big);
  mg_tcpip_tcp_abort(s_ifp, t);
}

/* Incoming: a segment larger than the MTU is taken whole; a bad checksum is
 * accepted only when the driver vouches for it (DATA_VALID / partial from a
 * local sender), and dropped otherwise. */
static void test_rx_offload(int li) {
  static uint8_t data[20000], buf[20000];
  uint32_t isn, seq = PEER_ISN + 1;
  uint32_t drops;
  size_t i, len;
  long n;
  struct mg_tcpip_tcp *t = accept_from(li, 41003, 7, &isn);
  if (t == NULL) return;
  for (i = 0; i < sizeof(data); i++) data[i] = (uint8_t) (i ^ (i >> 7));
  s_oc->n = 0;
  len = build_tcp(s_f, 41003, PORT, seq, isn + 1, TF_ACK, 1000, data,
                  sizeof(data));
  inject(len, 0);
  /* The ACK waits for the application's turn; the transport flushes it
   * before it sleeps. */
  CHECK(s_oc->n == 0);
  mg_tcpip_flush_acks(s_ifp);
  CHECK(s_oc->n == 1 && tack(last()) == seq + sizeof(data));
  n = mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf));
  CHECK(n == (long) sizeof(data) && memcmp(buf, data, sizeof(data)) == 0);
  seq += sizeof(data);
  /* A reply written in the application's turn carries the ACK: one frame
   * for request and answer, nothing left to flush. */
  s_oc->n = 0;
  len = build_tcp(s_f, 41003, PORT, seq, isn + 1, TF_ACK | TF_PSH, 1000, "GET",
                  3);
  inject(len, 0);
  CHECK(s_oc->n == 0);
  n = mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf));
  CHECK(n == 3 && mg_tcpip_tcp_send(s_ifp, t, "200", 3) == 3);
  CHECK(s_oc->n == 1 && tdlen(last()) == 3 && tack(last()) == seq + 3);
  mg_tcpip_flush_acks(s_ifp);
  CHECK(s_oc->n == 1);
  seq += 3;
  /* A wrong checksum, no flags: dropped. */
  drops = s_ifp->stats.drop_tcp;
  len = build_tcp(s_f, 41003, PORT, seq, isn + 1, TF_ACK, 1000, "abc", 3);
  s_f[34 + 16] ^= 0x5a;
  inject(len, 0);
  CHECK(s_ifp->stats.drop_tcp == drops + 1 && t->rx.len == 0);
  /* The same bytes, vouched for by the driver: taken. */
  inject(len, MG_FRAME_CSUM_VALID);
  CHECK(s_ifp->stats.drop_tcp == drops + 1 && t->rx.len == 3);
  seq += 3;
  len = build_tcp(s_f, 41003, PORT, seq, isn + 1, TF_ACK, 1000, "de", 2);
  s_f[34 + 16] ^= 0x11;
  inject(len, MG_FRAME_CSUM_PARTIAL);
  CHECK(t->rx.len == 5);
  n = mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf));
  CHECK(n == 5 && memcmp(buf, "abcde", 5) == 0);
  mg_tcpip_tcp_abort(s_ifp, t);
}

int main(void) {
  int li;
  s_oc = (struct ocap *) calloc(1, sizeof(*s_oc));
  s_ifp = (struct mg_tcpip_if *) calloc(1, sizeof(*s_ifp));
  memcpy(s_ifp->mac, MAC_US, 6);
  s_ifp->ip = IP(10, 0, 0, 1);
  s_ifp->mask = IP(255, 255, 255, 0);
  s_ifp->driver = &ocap_driver;
  s_ifp->driver_data = s_oc;
  s_ifp->seed = 42;
  CHECK(mg_tcpip_init(s_ifp));
  CHECK(s_ifp->gso_max == 65535);
  mg_tcpip_poll(s_ifp, s_now);
  {
    static const uint8_t zero[6] = {0};
    static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    inject(build_arp(s_f, bc, 1, MAC_PEER, IP(10, 0, 0, 2), zero,
                     IP(10, 0, 0, 1)),
           0);
  }
  li = mg_tcpip_tcp_listen(s_ifp, PORT, 4);
  CHECK(li >= 0);
  test_window_scale(li);
  test_tso(li);
  test_rx_offload(li);
  free(s_ifp);
  free(s_oc);
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP or offload buffers\n");
  return TEST_REPORT();
}
#endif
