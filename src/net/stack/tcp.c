/* TCP (RFC 9293): three-way handshake with MSS, sliding windows both ways,
 * out-of-order receive into the window, retransmission with RTO estimation
 * (RFC 6298) and back-off, fast retransmit / NewReno recovery (RFC 6582),
 * FIN/RST handling with RFC 5961 challenge ACKs, TIME_WAIT, keep-alive,
 * zero-window probing and window scaling (RFC 7323). With an offloading
 * driver, data goes out in batches of whole segments that the driver cuts
 * up (TSO). Connections live in the fixed pool ifp->tcp. */
#include "stack.h"

#if MG_ENABLE_TCPIP

#define TCP_HLEN 20
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define OUR_MSS ((uint16_t) (MG_TCPIP_MTU - IP_HLEN - TCP_HLEN))
/* Our window scale (RFC 7323): the smallest shift that fits the receive
 * buffer into the 16-bit window field. */
#define OUR_SCALE                                          \
  ((uint8_t) (MG_TCPIP_TCP_RXBUF <= 0xffff       ? 0       \
              : MG_TCPIP_TCP_RXBUF <= 0x1fffe    ? 1       \
              : MG_TCPIP_TCP_RXBUF <= 0x3fffc    ? 2       \
              : MG_TCPIP_TCP_RXBUF <= 0x7fff8    ? 3       \
              : MG_TCPIP_TCP_RXBUF <= 0xffff0    ? 4       \
                                                 : 5))
/* Bound of the congestion window: more than the send buffer can fill. */
#define CWND_MAX \
  (MG_TCPIP_TCP_TXBUF > 65535 ? 4u * MG_TCPIP_TCP_TXBUF : 4u * 65535u)
#define FIN_WAIT_2_MS 60000 /* an orphaned FIN_WAIT_2 waits this long */
#define PERSIST_MAX_MS 60000

#define SEQ_LT(a, b) ((int32_t) ((uint32_t) (a) - (uint32_t) (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t) ((uint32_t) (a) - (uint32_t) (b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/* ---- byte rings ---- */
static void ring_put(struct mg_tcpip_ring *r, uint32_t ofs, const uint8_t *src,
                     size_t n) {
  uint32_t pos = (r->head + ofs) % r->size;
  size_t first = r->size - pos;
  if (first > n) first = n;
  memcpy(r->buf + pos, src, first);
  if (n > first) memcpy(r->buf, src + first, n - first);
}

static void ring_get(const struct mg_tcpip_ring *r, uint32_t ofs, uint8_t *dst,
                     size_t n) {
  uint32_t pos = (r->head + ofs) % r->size;
  size_t first = r->size - pos;
  if (first > n) first = n;
  memcpy(dst, r->buf + pos, first);
  if (n > first) memcpy(dst + first, r->buf, n - first);
}

static void ring_consume(struct mg_tcpip_ring *r, uint32_t n) {
  if (n > r->len) n = r->len;
  r->head = (r->head + n) % r->size;
  r->len -= n; /* head never jumps back: out-of-order bytes sit past len */
}

/* ---- helpers ---- */
/* The receive window as the header can state it (a multiple of the scale). */
static uint32_t rcv_wnd(const struct mg_tcpip_tcp *t) {
  uint32_t w = t->rx.size - t->rx.len, max = 65535u << t->rcv_scale;
  if (w > max) w = max;
  return (w >> t->rcv_scale) << t->rcv_scale;
}

static bool can_send_state(const struct mg_tcpip_tcp *t) {
  return t->state == MG_TCP_ESTABLISHED || t->state == MG_TCP_CLOSE_WAIT ||
         t->state == MG_TCP_FIN_WAIT_1 || t->state == MG_TCP_CLOSING ||
         t->state == MG_TCP_LAST_ACK;
}

static uint32_t flight(const struct mg_tcpip_tcp *t) {
  return t->snd_nxt - t->snd_una;
}

static void pcb_reset(struct mg_tcpip_tcp *t) {
  memset(t, 0, offsetof(struct mg_tcpip_tcp, rxbuf));
  t->rx.buf = t->rxbuf;
  t->rx.size = MG_TCPIP_TCP_RXBUF;
  t->tx.buf = t->txbuf;
  t->tx.size = MG_TCPIP_TCP_TXBUF;
}

/* A free slot, else the TIME_WAIT connection closest to its end. */
static struct mg_tcpip_tcp *pcb_alloc(struct mg_tcpip_if *ifp) {
  struct mg_tcpip_tcp *tw = NULL;
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->state == MG_TCP_CLOSED && !t->is_attached) {
      pcb_reset(t);
      return t;
    }
    if (t->state == MG_TCP_TIME_WAIT &&
        (tw == NULL || t->tw_deadline < tw->tw_deadline))
      tw = t;
  }
  if (tw != NULL) pcb_reset(tw);
  return tw;
}

static void pcb_init(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                     uint32_t rip, uint16_t rport, uint16_t lport) {
  t->rip = rip;
  t->rport = rport;
  t->lport = lport;
  t->iss = mg_tcpip_rand(ifp);
  t->snd_una = t->iss;
  t->snd_nxt = t->snd_max = t->iss + 1;
  t->tx_base = t->iss + 1;
  t->mss = 536; /* RFC 9293 default until the peer says otherwise */
  t->rto = MG_TCPIP_RTO_INIT_MS;
  t->ssthresh = CWND_MAX; /* "arbitrarily high" (RFC 5681 3.1) */
  t->idle_since = ifp->now;
}

static void fail(struct mg_tcpip_tcp *t, uint8_t err) {
  t->state = MG_TCP_CLOSED;
  t->err = err;
  t->rtx_deadline = t->persist_deadline = 0;
}

/* ---- output ---- */
/* Builds and sends one segment; n bytes of data from tx at data_ofs. With
 * an offloading driver n may span many MSS-sized segments: the driver cuts
 * them and completes the checksum. */
static void xmit(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                 uint8_t flags, uint32_t seq, uint32_t data_ofs, size_t n) {
  uint8_t *h = ifp->txf + L4_OFS;
  bool syn = (flags & TH_SYN) != 0;
  /* Window scale goes in our SYN, and in a SYN-ACK only if the SYN had it. */
  bool ws = syn && (t->state == MG_TCP_SYN_SENT || t->ws_ok);
  size_t hlen = syn ? TCP_HLEN + (ws ? 8 : 4) : TCP_HLEN;
  uint32_t wnd = rcv_wnd(t), sum;
  struct mg_frame_meta meta, *mp = NULL;
  if (syn && wnd > 65535) wnd = 65535; /* SYN windows are never scaled */
  wr16(h, t->lport);
  wr16(h + 2, t->rport);
  wr32(h + 4, seq);
  wr32(h + 8, (flags & TH_ACK) ? t->rcv_nxt : 0);
  h[12] = (uint8_t) ((hlen / 4) << 4);
  h[13] = flags;
  wr16(h + 14, (uint16_t) (syn ? wnd : wnd >> t->rcv_scale));
  wr32(h + 16, 0); /* checksum and urgent pointer */
  if (syn) {
    h[20] = 2; /* MSS option */
    h[21] = 4;
    wr16(h + 22, OUR_MSS);
    if (ws) {
      h[24] = 1; /* NOP, then window scale */
      h[25] = 3;
      h[26] = 3;
      h[27] = OUR_SCALE;
    }
  }
  if (n > 0) ring_get(&t->tx, data_ofs, h + hlen, n);
  sum = mg_ip_pseudo(ifp->ip, t->rip, IPPROTO_TCP_, hlen + n);
  if (GSO_ON(ifp) && n > t->mss) {
    memset(&meta, 0, sizeof(meta));
    meta.flags = MG_FRAME_CSUM_PARTIAL;
    meta.gso_size = t->mss;
    meta.csum_start = L4_OFS;
    meta.csum_offset = 16;
    mp = &meta;
    wr16(h + 16, (uint16_t) ~mg_ip_csum_fold(sum)); /* pseudo header only */
  } else {
    wr16(h + 16, mg_ip_csum_fold(sum + mg_ip_csum_add(0, h, hlen + n)));
  }
  if ((flags & TH_ACK) && SEQ_GT(t->rcv_nxt + wnd, t->rcv_adv))
    t->rcv_adv = t->rcv_nxt + wnd;
  t->ack_now = 0;
  t->wnd_update = 0;
  mg_ip4_tx_meta(ifp, t->rip, IPPROTO_TCP_, hlen + n, mp);
}

/* Pure ACKs carry snd_max, never a snd_nxt rewound for retransmission: the
 * peer may already hold everything up to snd_max, and a sequence number
 * below its window would make it drop the ACK (both sides retransmitting
 * old data to each other would then never learn of progress). */
static void send_ack(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  xmit(ifp, t, TH_ACK, t->snd_max, 0, 0);
}

static void send_syn(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  uint8_t flags = t->state == MG_TCP_SYN_RCVD ? (TH_SYN | TH_ACK) : TH_SYN;
  xmit(ifp, t, flags, t->iss, 0, 0);
  if (t->rtx_deadline == 0) t->rtx_deadline = ifp->now + t->rto;
}

/* Answers a segment that matches no connection. */
static void rst_reply(struct mg_tcpip_if *ifp, uint32_t src,
                      const uint8_t *seg, size_t dlen) {
  uint8_t *h = ifp->txf + L4_OFS;
  uint8_t flags = seg[13];
  uint32_t seq = 0, ack = 0;
  uint8_t out = TH_RST;
  if (flags & TH_ACK) {
    seq = rd32(seg + 8);
  } else {
    ack = rd32(seg + 4) + (uint32_t) dlen + ((flags & TH_SYN) ? 1 : 0) +
          ((flags & TH_FIN) ? 1 : 0);
    out |= TH_ACK;
  }
  wr16(h, rd16(seg + 2));
  wr16(h + 2, rd16(seg));
  wr32(h + 4, seq);
  wr32(h + 8, ack);
  h[12] = (TCP_HLEN / 4) << 4;
  h[13] = out;
  wr16(h + 14, 0);
  wr32(h + 16, 0);
  wr16(h + 16, mg_ip_csum_fold(mg_ip_pseudo(ifp->ip, src, IPPROTO_TCP_,
                                            TCP_HLEN) +
                               mg_ip_csum_add(0, h, TCP_HLEN)));
  ifp->stats.tcp_rst_sent++;
  mg_ip4_tx(ifp, src, IPPROTO_TCP_, TCP_HLEN);
}

static void send_rst(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  ifp->stats.tcp_rst_sent++;
  xmit(ifp, t, TH_RST | TH_ACK, t->snd_max, 0, 0);
}

static void arm_rtx(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  if (t->rtx_deadline == 0) t->rtx_deadline = ifp->now + t->rto;
}

/* Sends up to limit bytes of queued data starting at sequence number seq:
 * one segment (limit <= mss), or a batch for an offloading driver. */
static uint32_t send_data_at(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                             uint32_t seq, uint32_t limit) {
  uint32_t ofs = seq - t->tx_base, n;
  if (SEQ_LT(seq, t->tx_base) || ofs >= t->tx.len) return 0;
  n = t->tx.len - ofs;
  if (n > limit) n = limit;
  if (n == 0) return 0;
  xmit(ifp, t, (uint8_t) (TH_ACK | (ofs + n == t->tx.len ? TH_PSH : 0)), seq,
       ofs, n);
  return n;
}

/* Sends whatever the windows allow: new data, retransmissions after a
 * timeout rewound snd_nxt, then the FIN once all data went out. */
static void output(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  bool sent = false;
  uint32_t seg_max = t->mss;
  if (GSO_ON(ifp)) {
    uint32_t k = (ifp->gso_max - IP_HLEN - TCP_HLEN) / t->mss;
    if (k > 1) seg_max = k * t->mss; /* many wire segments per write */
  }
  if (!can_send_state(t)) {
    if (t->ack_now && t->state != MG_TCP_CLOSED) send_ack(ifp, t);
    return;
  }
  for (;;) {
    uint32_t wnd = t->snd_wnd < t->cwnd ? t->snd_wnd : t->cwnd;
    uint32_t ofs = t->snd_nxt - t->tx_base;
    uint32_t avail = SEQ_GEQ(t->snd_nxt, t->tx_base) && ofs < t->tx.len
                         ? t->tx.len - ofs
                         : 0;
    if (avail > 0) {
      uint32_t room = flight(t) < wnd ? wnd - flight(t) : 0, n;
      if (room == 0) break;
      n = avail < room ? avail : room;
      if (n > seg_max) n = seg_max;
      /* A batch is whole segments; a runt only at the end of the data. */
      if (n > t->mss && n < avail) n -= n % t->mss;
      /* Sender-side silly window avoidance: no runt while data is in flight
       * and more is waiting for window. */
      if (n < t->mss && n < avail && flight(t) > 0) break;
      if (!t->rtt_active && t->snd_nxt == t->snd_max) {
        t->rtt_active = 1;
        t->rtt_seq = t->snd_nxt;
        t->rtt_start = ifp->now;
      }
      n = send_data_at(ifp, t, t->snd_nxt, n);
      t->snd_nxt += n;
      if (SEQ_GT(t->snd_nxt, t->snd_max)) t->snd_max = t->snd_nxt;
      arm_rtx(ifp, t);
      sent = true;
      continue;
    }
    if (t->fin_queued && t->snd_nxt == t->tx_base + t->tx.len) {
      xmit(ifp, t, TH_FIN | TH_ACK, t->snd_nxt, 0, 0);
      t->snd_nxt++;
      if (SEQ_GT(t->snd_nxt, t->snd_max)) t->snd_max = t->snd_nxt;
      if (t->state == MG_TCP_ESTABLISHED) t->state = MG_TCP_FIN_WAIT_1;
      if (t->state == MG_TCP_CLOSE_WAIT) t->state = MG_TCP_LAST_ACK;
      arm_rtx(ifp, t);
      sent = true;
    }
    break;
  }
  /* While ifp->defer_acks is set (from a batch of received frames until
   * mg_tcpip_flush_acks) a pure ACK for in-order data waits: a reply may
   * carry it, and one ACK then covers many segments, so the sender answers
   * with one large burst rather than many small ones. */
  if (!sent && (t->ack_now || t->wnd_update) && !ifp->defer_acks)
    send_ack(ifp, t);
}

void mg_tcp_flush_acks(struct mg_tcpip_if *ifp) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->state != MG_TCP_CLOSED && (t->ack_now || t->wnd_update))
      send_ack(ifp, t);
  }
}

/* ---- input ---- */
/* MSS (0 if absent) and window scale (-1 if absent) of a SYN. */
static uint16_t parse_syn_opts(const uint8_t *opt, size_t len, int *ws) {
  size_t i = 0;
  uint16_t mss = 0;
  *ws = -1;
  while (i < len) {
    uint8_t kind = opt[i];
    if (kind == 0) break;
    if (kind == 1) {
      i++;
      continue;
    }
    if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len) break;
    if (kind == 2 && opt[i + 1] == 4) mss = rd16(opt + i + 2);
    if (kind == 3 && opt[i + 1] == 3) *ws = opt[i + 2] > 14 ? 14 : opt[i + 2];
    i += opt[i + 1];
  }
  return mss;
}

/* Window scaling is on only when both SYNs carried the option. */
static void set_scale(struct mg_tcpip_tcp *t, int ws) {
  t->ws_ok = ws >= 0;
  t->snd_scale = (uint8_t) (ws >= 0 ? ws : 0);
  t->rcv_scale = ws >= 0 ? OUR_SCALE : 0;
}

/* Applies the peer's SYN options: window scaling, and its MSS within what
 * our frames carry (64 at least), which sizes the initial window. */
static void take_syn_opts(struct mg_tcpip_tcp *t, const uint8_t *seg,
                          size_t hlen) {
  int ws;
  uint16_t mss = parse_syn_opts(seg + TCP_HLEN, hlen - TCP_HLEN, &ws);
  set_scale(t, ws);
  if (mss != 0) t->mss = mss;
  if (t->mss > OUR_MSS) t->mss = OUR_MSS;
  if (t->mss < 64) t->mss = 64;
  t->cwnd = 4u * t->mss;
}

static void rtt_sample(struct mg_tcpip_tcp *t, uint32_t r) {
  uint32_t rto;
  if (t->srtt == 0) {
    t->srtt = r * 8;
    t->rttvar = r * 2;
  } else {
    int32_t delta = (int32_t) r - (int32_t) (t->srtt / 8);
    uint32_t adelta = (uint32_t) (delta < 0 ? -delta : delta);
    t->srtt = (uint32_t) ((int32_t) t->srtt + delta);
    if (t->srtt == 0) t->srtt = 1;
    t->rttvar = t->rttvar + adelta - t->rttvar / 4;
  }
  rto = t->srtt / 8 + (t->rttvar > 1 ? t->rttvar : 1);
  if (rto < MG_TCPIP_RTO_MIN_MS) rto = MG_TCPIP_RTO_MIN_MS;
  if (rto > MG_TCPIP_RTO_MAX_MS) rto = MG_TCPIP_RTO_MAX_MS;
  t->rto = rto;
}

/* A new cumulative ACK: release acknowledged bytes, grow cwnd, re-arm. */
static void acked(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                  uint32_t ack) {
  uint32_t n = ack - t->snd_una;
  uint32_t data = n;
  if (SEQ_LT(t->snd_una, t->tx_base)) data--; /* our SYN */
  if (data > t->tx.len) data = t->tx.len;     /* the rest is our FIN */
  ring_consume(&t->tx, data);
  t->tx_base += data;
  t->snd_una = ack;
  if (SEQ_LT(t->snd_nxt, t->snd_una)) t->snd_nxt = t->snd_una;
  if (t->rtt_active && SEQ_GT(ack, t->rtt_seq)) {
    t->rtt_active = 0;
    rtt_sample(t, (uint32_t) (ifp->now - t->rtt_start));
  }
  t->retries = 0;
  t->dupacks = 0;
  if (t->in_recovery) {
    if (SEQ_GEQ(ack, t->recover)) {
      t->in_recovery = 0;
      t->cwnd = t->ssthresh;
    } else {
      /* Partial ACK: the next hole is lost too; resend it now. */
      ifp->stats.tcp_fast_retransmits++;
      send_data_at(ifp, t, t->snd_una, t->mss);
      t->cwnd = t->cwnd > n ? t->cwnd - n + t->mss : t->mss;
    }
  } else if (t->cwnd < t->ssthresh) {
    t->cwnd += n < t->mss ? n : t->mss;
  } else {
    /* About one MSS per round trip, counting bytes: one ACK may cover many
     * segments (a receiver behind an offloading driver acks 64 KiB). */
    uint32_t inc = (uint32_t) ((uint64_t) t->mss * n / (t->cwnd ? t->cwnd : 1));
    t->cwnd += inc ? inc : 1;
  }
  if (t->cwnd > CWND_MAX) t->cwnd = CWND_MAX;
  t->rtx_deadline = t->snd_una == t->snd_max ? 0 : ifp->now + t->rto;
}

static void dupack(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  if (++t->dupacks == 3 && !t->in_recovery) {
    uint32_t half = flight(t) / 2;
    t->ssthresh = half > 2u * t->mss ? half : 2u * t->mss;
    t->recover = t->snd_max;
    t->in_recovery = 1;
    t->rtt_active = 0;
    ifp->stats.tcp_fast_retransmits++;
    send_data_at(ifp, t, t->snd_una, t->mss);
    t->cwnd = t->ssthresh + 3u * t->mss;
    t->rtx_deadline = ifp->now + t->rto;
  } else if (t->dupacks > 3 && t->in_recovery) {
    t->cwnd += t->mss; /* each dup ACK means a segment left the network */
  }
}

/* Records [s, e) as received beyond a hole, merging overlapping ranges. */
static void ooo_add(struct mg_tcpip_tcp *t, uint32_t s, uint32_t e) {
  uint8_t i = 0;
  while (i < t->nooo) {
    uint32_t *r = t->ooo[i];
    if (SEQ_LEQ(s, r[1]) && SEQ_GEQ(e, r[0])) { /* overlaps or touches */
      if (SEQ_LT(r[0], s)) s = r[0];
      if (SEQ_GT(r[1], e)) e = r[1];
      t->ooo[i][0] = t->ooo[t->nooo - 1][0];
      t->ooo[i][1] = t->ooo[t->nooo - 1][1];
      t->nooo--;
      continue;
    }
    i++;
  }
  if (t->nooo < MG_TCPIP_OOO_RANGES) {
    t->ooo[t->nooo][0] = s;
    t->ooo[t->nooo][1] = e;
    t->nooo++;
  }
}

/* After in-order data: absorb the ranges the new rcv_nxt reached. */
static void ooo_advance(struct mg_tcpip_tcp *t) {
  bool again = true;
  while (again) {
    uint8_t i;
    again = false;
    for (i = 0; i < t->nooo; i++) {
      uint32_t *r = t->ooo[i];
      if (SEQ_LEQ(r[0], t->rcv_nxt)) {
        if (SEQ_GT(r[1], t->rcv_nxt)) {
          t->rx.len += r[1] - t->rcv_nxt;
          t->rcv_nxt = r[1];
        }
        r[0] = t->ooo[t->nooo - 1][0];
        r[1] = t->ooo[t->nooo - 1][1];
        t->nooo--;
        again = true;
        break;
      }
    }
  }
}

static void take_data(struct mg_tcpip_tcp *t, uint32_t seq, const uint8_t *d,
                      size_t n) {
  uint32_t wnd = t->rx.size - t->rx.len, ofs;
  if (SEQ_LT(seq, t->rcv_nxt)) {
    uint32_t skip = t->rcv_nxt - seq;
    if (skip >= n) return;
    d += skip;
    n -= skip;
    seq = t->rcv_nxt;
  }
  ofs = seq - t->rcv_nxt;
  if (ofs >= wnd) return;
  if (n > wnd - ofs) n = wnd - ofs;
  ring_put(&t->rx, t->rx.len + ofs, d, n);
  if (ofs == 0) {
    t->rx.len += (uint32_t) n;
    t->rcv_nxt += (uint32_t) n;
    ooo_advance(t);
  } else {
    ooo_add(t, seq, seq + (uint32_t) n);
  }
  if (t->fin_queued && !t->is_attached)
    ring_consume(&t->rx, t->rx.len); /* closed: nobody will read */
}

static struct mg_tcpip_tcp *lookup(struct mg_tcpip_if *ifp, uint32_t rip,
                                   uint16_t rport, uint16_t lport) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->state != MG_TCP_CLOSED && t->rip == rip && t->rport == rport &&
        t->lport == lport)
      return t;
  }
  return NULL;
}

static int find_listener(struct mg_tcpip_if *ifp, uint16_t port) {
  int i;
  for (i = 0; i < MG_TCPIP_MAX_LISTEN; i++)
    if (ifp->listeners[i].port == port && port != 0) return i;
  return -1;
}

/* A new connection from a SYN (header and options at seg) in the slot t. */
static void open_from_syn(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                          int li, uint32_t src, const uint8_t *seg,
                          size_t hlen) {
  pcb_init(ifp, t, src, rd16(seg), rd16(seg + 2));
  t->state = MG_TCP_SYN_RCVD;
  t->listener = (uint8_t) (li + 1);
  t->irs = rd32(seg + 4);
  t->rcv_nxt = t->rcv_adv = t->irs + 1;
  t->snd_wnd = rd16(seg + 14);
  t->snd_wl1 = t->irs;
  take_syn_opts(t, seg, hlen);
  send_syn(ifp, t);
}

/* Which connection gives its slot to a new one when every slot is taken
 * (docs/stack.md, "Full connection table"). Lower ranks yield first, and
 * within a rank the least recently active (oldest idle_since). Only
 * connections that came in through a listener ever yield; the
 * application's own connects never do. -1: not a candidate. */
static int yield_rank(const struct mg_tcpip_if *ifp,
                      const struct mg_tcpip_tcp *t) {
  bool passive = t->listener != 0 || t->is_accepted;
  /* Data or a FIN of ours not yet acknowledged: a response on its way. */
  bool sending = t->tx.len > 0 || t->snd_una != t->snd_max;
  if (!passive || t->state == MG_TCP_CLOSED || t->state == MG_TCP_TIME_WAIT)
    return -1;
  /* Half-open: only one whose SYN-ACK already went unanswered once. A fresh
   * one is a client of a burst whose ACK is on its way (it believes it is
   * connected: a reset would break it). */
  if (t->state == MG_TCP_SYN_RCVD) return t->retries > 0 ? 1 : -1;
  if (t->is_accepted && !t->is_attached && !sending)
    return 0; /* the application closed it: only the teardown is left */
  /* A connection active within MG_TCPIP_YIELD_IDLE_MS is a client being
   * served, not a slow peer: a burst of real clients must not reset each
   * other (their extra SYNs wait for the peer's retry instead). */
  if (ifp->now - t->idle_since <
      (ifp->yield_idle_ms ? ifp->yield_idle_ms : MG_TCPIP_YIELD_IDLE_MS))
    return -1;
  if (!sending) return 2; /* quiet, or trickling a request */
  return 3;               /* in the middle of sending: last resort */
}

static struct mg_tcpip_tcp *pick_yielder(struct mg_tcpip_if *ifp) {
  struct mg_tcpip_tcp *best = NULL;
  int best_rank = 4;
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    int r = yield_rank(ifp, t);
    if (r < 0) continue;
    if (r < best_rank || (r == best_rank && t->idle_since < best->idle_since)) {
      best = t;
      best_rank = r;
    }
  }
  return best;
}

/* Resets t (RST to its peer) so its slot can go to a new connection. The
 * slot is free at once unless the application still holds the connection:
 * then it sees "connection reset" and frees it when it closes. */
static void yield_slot(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  ifp->stats.tcp_yielded++;
  send_rst(ifp, t);
  fail(t, MG_TCP_ERR_YIELDED);
  if (!t->is_attached) t->listener = 0;
}

/* A slot closed but still held by the application: free on its close. */
static bool slot_being_freed(const struct mg_tcpip_if *ifp) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++)
    if (ifp->tcp[i].state == MG_TCP_CLOSED && ifp->tcp[i].is_attached)
      return true;
  return false;
}

/* Keeps the SYN until a slot frees (replayed by mg_tcp_timer): the peer
 * gets its SYN-ACK within a poll instead of after its SYN retransmission. */
static void park_syn(struct mg_tcpip_if *ifp, uint32_t src, const uint8_t *seg,
                     size_t hlen) {
  ifp->syn_src = src;
  ifp->syn_len = (uint8_t) hlen;
  memcpy(ifp->syn_seg, seg, hlen);
  ifp->syn_until = ifp->now + MG_TCPIP_RTO_INIT_MS;
}

static bool is_parked(const struct mg_tcpip_if *ifp, uint32_t src,
                      const uint8_t *seg) {
  return ifp->syn_len != 0 && ifp->syn_src == src &&
         memcmp(ifp->syn_seg, seg, 4) == 0; /* both ports */
}

static void passive_open(struct mg_tcpip_if *ifp, int li, uint32_t src,
                         const uint8_t *seg, size_t hlen) {
  struct mg_tcpip_tcp *t, *oldest = NULL;
  unsigned pending = 0;
  size_t i;
  if (is_parked(ifp, src, seg)) return; /* its retransmission: still waiting */
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *c = &ifp->tcp[i];
    if (c->state == MG_TCP_CLOSED || c->listener != li + 1 || c->is_accepted)
      continue;
    pending++;
    if (c->state == MG_TCP_SYN_RCVD && c->retries > 0 &&
        (oldest == NULL || c->idle_since < oldest->idle_since))
      oldest = c;
  }
  if (pending >= ifp->listeners[li].backlog) {
    /* Backlog full. A SYN flood must not lock real clients out for the
     * half-open connections' whole retry period, so the oldest half-open
     * entry whose SYN-ACK already went unanswered once makes room. Fresh
     * ones stay (a burst of real clients completes within an RTT; their
     * excess SYNs are dropped and retried), and so do established
     * connections waiting for accept(). */
    ifp->stats.tcp_syn_dropped++;
    if (oldest == NULL) return;
    oldest->state = MG_TCP_CLOSED;
  }
  if ((t = pcb_alloc(ifp)) == NULL) {
    /* Every slot taken: one yields (a few slow or silent peers must not
     * keep a server unreachable), one SYN at a time. */
    struct mg_tcpip_tcp *y;
    if (ifp->syn_len != 0) {
      ifp->stats.tcp_syn_dropped++;
      return;
    }
    if (!slot_being_freed(ifp)) {
      if ((y = pick_yielder(ifp)) == NULL) {
        ifp->stats.tcp_syn_dropped++;
        return;
      }
      yield_slot(ifp, y);
    }
    if ((t = pcb_alloc(ifp)) == NULL) {
      park_syn(ifp, src, seg, hlen);
      return;
    }
  }
  open_from_syn(ifp, t, li, src, seg, hlen);
}

/* The parked SYN takes the slot freed since, if its listener is still
 * there; after MG_TCPIP_RTO_INIT_MS it is left to the peer's retry. */
static void replay_syn(struct mg_tcpip_if *ifp) {
  struct mg_tcpip_tcp *t;
  int li = find_listener(ifp, rd16(ifp->syn_seg + 2));
  if (li < 0 || ifp->now > ifp->syn_until) {
    ifp->syn_len = 0;
    return;
  }
  if ((t = pcb_alloc(ifp)) == NULL) return;
  ifp->syn_len = 0;
  open_from_syn(ifp, t, li, ifp->syn_src, ifp->syn_seg,
                (size_t) (ifp->syn_seg[12] >> 4) * 4);
}

static void syn_sent_input(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                           const uint8_t *seg, size_t hlen) {
  uint8_t flags = seg[13];
  uint32_t seq = rd32(seg + 4), ack = rd32(seg + 8);
  if ((flags & TH_ACK) && ack != t->iss + 1) {
    if (!(flags & TH_RST)) {
      xmit(ifp, t, TH_RST, ack, 0, 0);
      ifp->stats.tcp_rst_sent++;
    }
    return;
  }
  if (flags & TH_RST) {
    if (flags & TH_ACK) fail(t, MG_TCP_ERR_REFUSED);
    return;
  }
  if (!(flags & TH_SYN)) return;
  t->irs = seq;
  t->rcv_nxt = t->rcv_adv = seq + 1;
  t->snd_wnd = rd16(seg + 14);
  t->snd_wl1 = seq;
  t->snd_wl2 = ack;
  take_syn_opts(t, seg, hlen);
  if (flags & TH_ACK) {
    t->state = MG_TCP_ESTABLISHED;
    t->err = MG_TCP_ERR_NONE;
    acked(ifp, t, ack);
    t->ack_now = 1;
    output(ifp, t);
  } else { /* simultaneous open */
    t->state = MG_TCP_SYN_RCVD;
    t->rtx_deadline = 0;
    send_syn(ifp, t);
  }
}

static void established_input(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                              const uint8_t *seg, size_t hlen, size_t dlen) {
  uint8_t flags = seg[13];
  uint32_t seq = rd32(seg + 4), ack = rd32(seg + 8);
  uint32_t win = (uint32_t) rd16(seg + 14) << t->snd_scale;
  uint32_t seglen = (uint32_t) dlen + ((flags & TH_SYN) ? 1 : 0) +
                    ((flags & TH_FIN) ? 1 : 0);
  uint32_t wnd = t->rx.size - t->rx.len;
  const uint8_t *data = seg + hlen;
  bool ok;

  if (t->state == MG_TCP_SYN_RCVD && (flags & TH_SYN) && !(flags & TH_ACK) &&
      seq == t->irs) {
    send_syn(ifp, t); /* our SYN-ACK was lost: the peer repeats its SYN */
    return;
  }
  /* Acceptability (RFC 9293 3.10.7.4). */
  if (seglen == 0) {
    ok = wnd == 0 ? seq == t->rcv_nxt
                  : SEQ_GEQ(seq, t->rcv_nxt) && SEQ_LT(seq, t->rcv_nxt + wnd);
  } else if (wnd == 0) {
    ok = false;
  } else {
    uint32_t last = seq + seglen - 1;
    ok = (SEQ_GEQ(seq, t->rcv_nxt) && SEQ_LT(seq, t->rcv_nxt + wnd)) ||
         (SEQ_GEQ(last, t->rcv_nxt) && SEQ_LT(last, t->rcv_nxt + wnd));
  }
  if (!ok) {
    if (flags & TH_RST) return;
    send_ack(ifp, t);
    /* A full window still lets ACKs through (zero-window exchange). */
    if (!(wnd == 0 && seq == t->rcv_nxt && (flags & TH_ACK))) return;
    dlen = 0;
    flags &= (uint8_t) ~(TH_FIN | TH_SYN);
  }
  if (flags & TH_RST) {
    if (seq == t->rcv_nxt) {
      if (t->state == MG_TCP_SYN_RCVD && t->listener != 0 && !t->is_attached) {
        t->state = MG_TCP_CLOSED; /* back to listening: just forget it */
      } else {
        fail(t, MG_TCP_ERR_RESET);
      }
    } else {
      send_ack(ifp, t); /* challenge ACK (RFC 5961 3.2) */
    }
    return;
  }
  if (flags & TH_SYN) {
    send_ack(ifp, t); /* challenge ACK (RFC 5961 4.2) */
    return;
  }
  if (!(flags & TH_ACK)) return;
  t->idle_since = ifp->now;
  t->ka_probes = 0;
  if (t->state == MG_TCP_SYN_RCVD) {
    if (SEQ_LEQ(ack, t->snd_una) || SEQ_GT(ack, t->snd_max)) {
      xmit(ifp, t, TH_RST, ack, 0, 0);
      ifp->stats.tcp_rst_sent++;
      return;
    }
    t->state = MG_TCP_ESTABLISHED;
    t->snd_wnd = win;
    t->snd_wl1 = seq;
    t->snd_wl2 = ack;
    ifp->stats.tcp_accepted++;
  }
  if (SEQ_GT(ack, t->snd_max)) {
    send_ack(ifp, t);
    return;
  }
  if (SEQ_GT(ack, t->snd_una)) {
    acked(ifp, t, ack);
  } else if (ack == t->snd_una && dlen == 0 && !(flags & TH_FIN) &&
             win == t->snd_wnd && t->snd_una != t->snd_max) {
    dupack(ifp, t);
  }
  if (SEQ_LT(t->snd_wl1, seq) ||
      (t->snd_wl1 == seq && SEQ_LEQ(t->snd_wl2, ack))) {
    t->snd_wnd = win;
    t->snd_wl1 = seq;
    t->snd_wl2 = ack;
    if (win > 0) t->persist_deadline = 0;
  }
  if (t->snd_una == t->snd_max && t->fin_queued &&
      t->snd_max == t->tx_base + t->tx.len + 1) {
    /* Our FIN is acknowledged. */
    if (t->state == MG_TCP_FIN_WAIT_1) t->state = MG_TCP_FIN_WAIT_2;
    if (t->state == MG_TCP_CLOSING) {
      t->state = MG_TCP_TIME_WAIT;
      t->tw_deadline = ifp->now + MG_TCPIP_TIME_WAIT_MS;
    }
    if (t->state == MG_TCP_LAST_ACK) {
      t->state = MG_TCP_CLOSED;
      return;
    }
  }
  if (dlen > 0) {
    bool in_order = seq == t->rcv_nxt && t->nooo == 0;
    if (t->state == MG_TCP_ESTABLISHED || t->state == MG_TCP_FIN_WAIT_1 ||
        t->state == MG_TCP_FIN_WAIT_2)
      take_data(t, seq, data, dlen);
    t->ack_now = 1;
    /* A hole: the duplicate ACK must go now (the sender's fast retransmit
     * counts them), never coalesced with the rest of a batch. */
    if (!in_order) send_ack(ifp, t);
  }
  if (flags & TH_FIN) {
    t->ack_now = 1;
    if (seq + (uint32_t) dlen == t->rcv_nxt && !t->fin_rcvd) {
      t->rcv_nxt++;
      t->fin_rcvd = 1;
      if (t->state == MG_TCP_ESTABLISHED) {
        t->state = MG_TCP_CLOSE_WAIT;
      } else if (t->state == MG_TCP_FIN_WAIT_1) {
        t->state = MG_TCP_CLOSING;
      } else if (t->state == MG_TCP_FIN_WAIT_2) {
        t->state = MG_TCP_TIME_WAIT;
        t->tw_deadline = ifp->now + MG_TCPIP_TIME_WAIT_MS;
      }
    } else if (t->state == MG_TCP_TIME_WAIT) {
      t->tw_deadline = ifp->now + MG_TCPIP_TIME_WAIT_MS; /* FIN resent */
    }
  }
  output(ifp, t);
}

void mg_tcp_rx(struct mg_tcpip_if *ifp, uint32_t src, uint32_t dst,
               const uint8_t *p, size_t len) {
  size_t hlen;
  uint16_t sport, dport;
  uint8_t flags;
  struct mg_tcpip_tcp *t;
  int li;
  if (len < TCP_HLEN) goto bad;
  hlen = (size_t) (p[12] >> 4) * 4;
  if (hlen < TCP_HLEN || hlen > len) goto bad;
  if (dst != ifp->ip || ifp->ip == 0) goto bad; /* no TCP to broadcast */
  if (!ifp->rx_trusted &&
      mg_ip_csum_fold(mg_ip_pseudo(src, dst, IPPROTO_TCP_, len) +
                      mg_ip_csum_add(0, p, len)) != 0)
    goto bad;
  sport = rd16(p);
  dport = rd16(p + 2);
  flags = p[13];
  if (sport == 0 || dport == 0) goto bad;
  t = lookup(ifp, src, sport, dport);
  if (t != NULL && t->state == MG_TCP_TIME_WAIT &&
      (flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN &&
      SEQ_GT(rd32(p + 4), t->rcv_nxt)) {
    t->state = MG_TCP_CLOSED; /* a new incarnation may reuse the tuple */
    t = NULL;
  }
  if (t == NULL) {
    li = find_listener(ifp, dport);
    if (flags & TH_RST) goto bad; /* never answer a RST */
    if (li < 0 || (flags & TH_ACK)) {
      rst_reply(ifp, src, p, len - hlen);
    } else if ((flags & (TH_SYN | TH_FIN)) == TH_SYN) {
      passive_open(ifp, li, src, p, hlen);
    } else {
      goto bad; /* LISTEN drops segments without SYN or ACK (RFC 9293) */
    }
    return;
  }
  if (t->state == MG_TCP_SYN_SENT) {
    syn_sent_input(ifp, t, p, hlen);
  } else {
    established_input(ifp, t, p, hlen, len - hlen);
  }
  return;
bad:
  ifp->stats.drop_tcp++;
}

/* ---- timers ---- */
static void on_rto(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  bool syn = t->state == MG_TCP_SYN_SENT || t->state == MG_TCP_SYN_RCVD;
  uint32_t half = flight(t) / 2, n;
  t->rtx_deadline = 0;
  if (t->wait_addr) {
    fail(t, MG_TCP_ERR_NOADDR);
    return;
  }
  if (++t->retries > (syn ? MG_TCPIP_SYN_RETRIES : MG_TCPIP_MAX_RETRIES)) {
    if (!syn) send_rst(ifp, t);
    fail(t, t->err != MG_TCP_ERR_NONE ? t->err : MG_TCP_ERR_TIMEOUT);
    return;
  }
  ifp->stats.tcp_retransmits++;
  t->rto = t->rto * 2 > MG_TCPIP_RTO_MAX_MS ? MG_TCPIP_RTO_MAX_MS : t->rto * 2;
  t->rtt_active = 0; /* Karn: never time a retransmitted segment */
  if (syn) {
    send_syn(ifp, t);
    return;
  }
  t->ssthresh = half > 2u * t->mss ? half : 2u * t->mss;
  t->cwnd = t->mss;
  t->in_recovery = 0;
  t->dupacks = 0;
  /* Go back to the first unacknowledged byte and resend one segment even
   * into a closed window (it doubles as a window probe). */
  t->snd_nxt = t->snd_una;
  n = send_data_at(ifp, t, t->snd_una, t->mss);
  if (n > 0) {
    t->snd_nxt += n;
    if (SEQ_GT(t->snd_nxt, t->snd_max)) t->snd_max = t->snd_nxt;
  } else {
    output(ifp, t); /* only the FIN was outstanding */
  }
  arm_rtx(ifp, t);
}

static void on_persist(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  bool waiting = can_send_state(t) && t->snd_wnd == 0 &&
                 t->snd_una == t->snd_max &&
                 (t->tx.len > t->snd_nxt - t->tx_base);
  if (!waiting) {
    t->persist_deadline = 0;
    t->persist_ms = 0;
    return;
  }
  if (t->persist_deadline == 0) {
    t->persist_ms = t->rto;
    t->persist_deadline = ifp->now + t->persist_ms;
  } else if (ifp->now >= t->persist_deadline) {
    /* Window probe: an old sequence number forces an ACK with the
     * peer's current window. */
    xmit(ifp, t, TH_ACK, t->snd_una - 1, 0, 0);
    t->persist_ms = t->persist_ms * 2 > PERSIST_MAX_MS ? PERSIST_MAX_MS
                                                        : t->persist_ms * 2;
    t->persist_deadline = ifp->now + t->persist_ms;
  }
}

static void on_keepalive(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  uint64_t due;
  if (MG_TCPIP_KEEPALIVE_MS == 0 || t->state != MG_TCP_ESTABLISHED ||
      t->snd_una != t->snd_max)
    return;
  due = t->idle_since + MG_TCPIP_KEEPALIVE_MS +
        (uint64_t) t->ka_probes * MG_TCPIP_KEEPALIVE_INTVL_MS;
  if (ifp->now < due) return;
  if (t->ka_probes >= MG_TCPIP_KEEPALIVE_PROBES) {
    send_rst(ifp, t);
    fail(t, MG_TCP_ERR_TIMEOUT);
    return;
  }
  t->ka_probes++;
  xmit(ifp, t, TH_ACK, t->snd_max - 1, 0, 0);
}

void mg_tcp_timer(struct mg_tcpip_if *ifp) {
  size_t i;
  if (ifp->syn_len != 0) replay_syn(ifp);
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->state == MG_TCP_CLOSED) continue;
    if (t->state == MG_TCP_TIME_WAIT) {
      if (ifp->now >= t->tw_deadline) t->state = MG_TCP_CLOSED;
      continue;
    }
    if (t->state == MG_TCP_FIN_WAIT_2 && !t->is_attached &&
        ifp->now - t->idle_since > FIN_WAIT_2_MS) {
      t->state = MG_TCP_CLOSED; /* the peer never closed its side */
      continue;
    }
    if (t->rtx_deadline != 0 && ifp->now >= t->rtx_deadline) on_rto(ifp, t);
    if (t->state == MG_TCP_CLOSED) continue;
    on_persist(ifp, t);
    on_keepalive(ifp, t);
  }
}

/* ARP resolved ip (0: the interface came up): resend what waited for it
 * instead of waiting for an RTO. */
void mg_tcp_kick(struct mg_tcpip_if *ifp, uint32_t ip) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->state == MG_TCP_CLOSED ||
        (ip != 0 && mg_ip4_next_hop(ifp, t->rip) != ip))
      continue;
    if (t->wait_addr) {
      if (ifp->ip == 0) continue;
      t->wait_addr = 0; /* addressed now: the real handshake starts */
      t->rtx_deadline = 0;
      t->rtt_start = ifp->now;
    }
    if (t->state == MG_TCP_SYN_SENT || t->state == MG_TCP_SYN_RCVD) {
      send_syn(ifp, t);
    } else if (can_send_state(t) && t->snd_una != t->snd_max) {
      t->snd_nxt = t->snd_una;
      output(ifp, t);
    }
  }
}

void mg_tcp_unreachable(struct mg_tcpip_if *ifp, uint32_t ip) {
  size_t i;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    /* A soft error: the SYN retransmissions ask ARP again, and only when
     * they run out does the connect fail, with this reason. */
    if (t->state == MG_TCP_SYN_SENT && mg_ip4_next_hop(ifp, t->rip) == ip)
      t->err = MG_TCP_ERR_NOROUTE;
  }
}

/* ---- application API ---- */
int mg_tcpip_tcp_listen(struct mg_tcpip_if *ifp, uint16_t port, int backlog) {
  int i;
  if (port == 0 || find_listener(ifp, port) >= 0) return -1;
  for (i = 0; i < MG_TCPIP_MAX_LISTEN; i++) {
    if (ifp->listeners[i].port != 0) continue;
    ifp->listeners[i].port = port;
    if (backlog <= 0) backlog = MG_TCPIP_BACKLOG;
    ifp->listeners[i].backlog = (uint8_t) (backlog > 255 ? 255 : backlog);
    return i;
  }
  return -1;
}

void mg_tcpip_tcp_unlisten(struct mg_tcpip_if *ifp, int li) {
  size_t i;
  if (li < 0 || li >= MG_TCPIP_MAX_LISTEN) return;
  ifp->listeners[li].port = 0;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->listener == li + 1 && !t->is_accepted) {
      if (t->state != MG_TCP_CLOSED) send_rst(ifp, t);
      t->state = MG_TCP_CLOSED;
      t->listener = 0;
    } else if (t->listener == li + 1) {
      t->listener = 0;
    }
  }
}

struct mg_tcpip_tcp *mg_tcpip_tcp_accept(struct mg_tcpip_if *ifp, int li) {
  size_t i;
  if (li < 0 || li >= MG_TCPIP_MAX_LISTEN) return NULL;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->listener == li + 1 && !t->is_accepted &&
        (t->state == MG_TCP_ESTABLISHED || t->state == MG_TCP_CLOSE_WAIT)) {
      t->is_accepted = 1;
      t->is_attached = 1;
      return t;
    }
  }
  return NULL;
}

bool mg_tcpip_tcp_acceptable(const struct mg_tcpip_if *ifp, int li) {
  size_t i;
  if (li < 0 || li >= MG_TCPIP_MAX_LISTEN) return false;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    const struct mg_tcpip_tcp *t = &ifp->tcp[i];
    if (t->listener == li + 1 && !t->is_accepted &&
        (t->state == MG_TCP_ESTABLISHED || t->state == MG_TCP_CLOSE_WAIT))
      return true;
  }
  return false;
}

struct mg_tcpip_tcp *mg_tcpip_tcp_connect(struct mg_tcpip_if *ifp,
                                          uint32_t ip, uint16_t port,
                                          uint16_t lport) {
  struct mg_tcpip_tcp *t;
  if (port == 0 || ip == 0 || mg_ip4_is_bcast(ifp, ip)) return NULL;
  if (lport == 0) lport = mg_tcpip_ephemeral(ifp);
  if (lport == 0 || lookup(ifp, ip, port, lport) != NULL) return NULL;
  if ((t = pcb_alloc(ifp)) == NULL) return NULL;
  pcb_init(ifp, t, ip, port, lport);
  t->state = MG_TCP_SYN_SENT;
  t->is_attached = 1;
  t->rtt_active = 1;
  t->rtt_seq = t->iss;
  t->rtt_start = ifp->now;
  t->cwnd = 4u * t->mss;
  if (ifp->ip == 0) {
    /* DHCP is still running: a SYN from 0.0.0.0 would be useless. The SYN
     * goes out when the interface turns READY (mg_tcp_kick); the RTO timer
     * doubles as the deadline for that. */
    t->wait_addr = 1;
    t->rtx_deadline = mg_tcpip_addr_deadline(ifp);
    return t;
  }
  send_syn(ifp, t);
  return t;
}

long mg_tcpip_tcp_recv(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                       void *buf, size_t len) {
  uint32_t n;
  if (t->rx.len == 0) {
    if (t->fin_rcvd) return MG_IO_EOF;
    if (t->state == MG_TCP_CLOSED) return -1;
    return 0;
  }
  n = t->rx.len < len ? t->rx.len : (uint32_t) len;
  ring_get(&t->rx, 0, (uint8_t *) buf, n);
  ring_consume(&t->rx, n);
  if (can_send_state(t) || t->state == MG_TCP_FIN_WAIT_2) {
    uint32_t edge = t->rcv_nxt + rcv_wnd(t);
    uint32_t thresh = t->rx.size / 2 < OUR_MSS ? t->rx.size / 2 : OUR_MSS;
    /* Behind an offloading driver, small openings would only invite small
     * segments: tell the peer once a quarter of the buffer is free again. */
    if (GSO_ON(ifp) && t->rx.size / 4 > thresh) thresh = t->rx.size / 4;
    if (SEQ_GEQ(edge, t->rcv_adv + thresh)) {
      t->wnd_update = 1;
      send_ack(ifp, t);
    }
  }
  return (long) n;
}

long mg_tcpip_tcp_send(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                       const void *buf, size_t len) {
  uint32_t n;
  if (t->fin_queued ||
      !(t->state == MG_TCP_SYN_SENT || t->state == MG_TCP_SYN_RCVD ||
        t->state == MG_TCP_ESTABLISHED || t->state == MG_TCP_CLOSE_WAIT))
    return -1;
  n = t->tx.size - t->tx.len;
  if (n > len) n = (uint32_t) len;
  if (n == 0) return 0;
  ring_put(&t->tx, t->tx.len, (const uint8_t *) buf, n);
  t->tx.len += n;
  t->idle_since = ifp->now;
  output(ifp, t);
  return (long) n;
}

size_t mg_tcpip_tcp_space(const struct mg_tcpip_tcp *t) {
  if (t->fin_queued ||
      !(t->state == MG_TCP_SYN_SENT || t->state == MG_TCP_SYN_RCVD ||
        t->state == MG_TCP_ESTABLISHED || t->state == MG_TCP_CLOSE_WAIT))
    return 0;
  return t->tx.size - t->tx.len;
}

bool mg_tcpip_tcp_is_open(const struct mg_tcpip_tcp *t) {
  return t->state >= MG_TCP_ESTABLISHED;
}

bool mg_tcpip_tcp_readable(const struct mg_tcpip_tcp *t) {
  return t->rx.len > 0 || t->fin_rcvd || t->state == MG_TCP_CLOSED;
}

void mg_tcpip_tcp_close(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  t->is_attached = 0;
  ring_consume(&t->rx, t->rx.len);
  switch (t->state) {
    case MG_TCP_SYN_SENT:
      t->state = MG_TCP_CLOSED;
      break;
    case MG_TCP_SYN_RCVD:
    case MG_TCP_ESTABLISHED:
    case MG_TCP_CLOSE_WAIT:
      t->fin_queued = 1;
      if (t->state != MG_TCP_SYN_RCVD) output(ifp, t);
      break;
    default:
      break;
  }
}

void mg_tcpip_tcp_shutdown(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  if (t->state == MG_TCP_SYN_RCVD) {
    t->fin_queued = 1; /* sent once the handshake completed */
  } else if (t->state == MG_TCP_ESTABLISHED || t->state == MG_TCP_CLOSE_WAIT) {
    t->fin_queued = 1;
    output(ifp, t);
  }
}

void mg_tcpip_tcp_abort(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t) {
  if (t->state != MG_TCP_CLOSED && t->state != MG_TCP_SYN_SENT &&
      t->state != MG_TCP_TIME_WAIT)
    send_rst(ifp, t);
  t->is_attached = 0;
  t->state = MG_TCP_CLOSED;
}

#endif /* MG_ENABLE_TCPIP */
