/* TCP layer with crafted segments: handshake and MSS, data both ways,
 * retransmission and back-off, fast retransmit, out-of-order reassembly,
 * zero-window probing, keep-alive, FIN/RST/TIME_WAIT, RFC 5961 challenge
 * ACKs, bogus flags, SYN floods, and a full connection table where the
 * least recently active quiet connection yields its slot to a new one. The
 * test plays the peer 10.0.0.2. */
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
static struct cap *s_cap;
static struct mg_tcpip_if *s_ifp;
static uint64_t s_now = 1000;
static uint8_t s_f[MG_TCPIP_FRAME_MAX];

#define PORT 80
#define PEER_ISN 1000000u

static void feed(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
                 uint16_t win, const void *data, size_t n) {
  size_t len = build_tcp(s_f, sport, PORT, seq, ack, flags, win, data, n);
  mg_tcpip_rx(s_ifp, s_f, len);
}

static void advance(uint64_t ms) {
  uint64_t end = s_now + ms;
  while (s_now < end) {
    s_now += 10;
    if (s_now > end) s_now = end;
    mg_tcpip_poll(s_ifp, s_now);
  }
}

/* The last captured frame must be a well-formed TCP segment. */
static const uint8_t *last(void) {
  if (s_cap->n == 0) return NULL;
  return s_cap->f[(s_cap->n - 1) % CAP_MAX];
}

static bool seg_ok(const uint8_t *f) {
  return f != NULL && frame_ok(f, MG_TCPIP_FRAME_MAX) &&
         f[23] == 6;
}

/* Peer side handshake with MSS 1000; returns the accepted connection. */
static struct mg_tcpip_tcp *open_conn(int li, uint16_t sport, uint32_t *our_isn) {
  uint8_t *t = s_f + 34;
  size_t len;
  const uint8_t *r;
  uint32_t src = IP(10, 0, 0, 2), dst = IP(10, 0, 0, 1);
  /* SYN with an MSS option: header length 24. */
  memset(s_f, 0, sizeof(s_f));
  p16(t, sport);
  p16(t + 2, PORT);
  p32(t + 4, PEER_ISN);
  p32(t + 8, 0);
  t[12] = 6 << 4;
  t[13] = TF_SYN;
  p16(t + 14, 8000);
  t[20] = 2;
  t[21] = 4;
  p16(t + 22, 1000);
  p16(t + 16, csum(t, 24, pseudo((uint8_t *) &src, (uint8_t *) &dst, 6, 24)));
  len = build_ip(s_f, MAC_US, src, dst, 6, 24);
  s_cap->n = 0;
  mg_tcpip_rx(s_ifp, s_f, len);
  r = last();
  CHECK(s_cap->n == 1 && seg_ok(r));
  if (r == NULL) return NULL;
  CHECK(tflags(r) == (TF_SYN | TF_ACK));
  CHECK(tack(r) == PEER_ISN + 1);
  CHECK((tcp_of(r)[12] >> 4) == 6 && tcp_of(r)[20] == 2 &&
        g16(tcp_of(r) + 22) == MG_TCPIP_MTU - 40);
  CHECK(twin(r) > 0);
  *our_isn = tseq(r);
  CHECK(mg_tcpip_tcp_accept(s_ifp, li) == NULL); /* not before the ACK */
  feed(sport, PEER_ISN + 1, *our_isn + 1, TF_ACK, 8000, NULL, 0);
  return mg_tcpip_tcp_accept(s_ifp, li);
}

static void test_handshake_and_data(int li) {
  uint32_t isn, seq = PEER_ISN + 1;
  struct mg_tcpip_tcp *t = open_conn(li, 40000, &isn);
  char buf[4000];
  const uint8_t *r;
  size_t i;
  CHECK(t != NULL && mg_tcpip_tcp_is_open(t));
  if (t == NULL) return;
  CHECK(t->mss == 1000);
  /* Data in: ACKed at once, readable in order. */
  s_cap->n = 0;
  feed(40000, seq, isn + 1, TF_ACK | TF_PSH, 8000, "hello", 5);
  r = last();
  CHECK(s_cap->n == 1 && tflags(r) == TF_ACK && tack(r) == seq + 5);
  seq += 5;
  CHECK(mg_tcpip_tcp_readable(t));
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 5 &&
        memcmp(buf, "hello", 5) == 0);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 0);
  /* Out of order: the later segment is held, the ACK repeats the hole. */
  s_cap->n = 0;
  feed(40000, seq + 3, isn + 1, TF_ACK, 8000, "DEF", 3);
  CHECK(s_cap->n == 1 && tack(last()) == seq);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 0);
  feed(40000, seq, isn + 1, TF_ACK, 8000, "ABC", 3);
  CHECK(tack(last()) == seq + 6);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 6 &&
        memcmp(buf, "ABCDEF", 6) == 0);
  seq += 6;
  /* Overlapping retransmission: only the new tail counts. */
  feed(40000, seq - 2, isn + 1, TF_ACK, 8000, "EFgh", 4);
  CHECK(tack(last()) == seq + 2);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 2 &&
        memcmp(buf, "gh", 2) == 0);
  seq += 2;
  /* Out of window (far ahead): not stored, answered with an ACK. */
  s_cap->n = 0;
  feed(40000, seq + 100000, isn + 1, TF_ACK, 8000, "zz", 2);
  CHECK(s_cap->n == 1 && tack(last()) == seq);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 0);

  /* Data out: MSS-sized segments, contiguous sequence numbers. */
  for (i = 0; i < 2500; i++) buf[i] = (char) ('a' + i % 26);
  s_cap->n = 0;
  CHECK(mg_tcpip_tcp_send(s_ifp, t, buf, 2500) == 2500);
  CHECK(s_cap->n == 3);
  CHECK(tseq(s_cap->f[0]) == isn + 1 && tdlen(s_cap->f[0]) == 1000);
  CHECK(tseq(s_cap->f[1]) == isn + 1001 && tdlen(s_cap->f[1]) == 1000);
  CHECK(tseq(s_cap->f[2]) == isn + 2001 && tdlen(s_cap->f[2]) == 500);
  CHECK((tflags(s_cap->f[2]) & TF_PSH) != 0);
  CHECK(memcmp(s_cap->f[1] + 54, buf + 1000, 1000) == 0);
  /* Nothing acknowledged: the first segment comes back after the RTO, then
   * again after twice as long. */
  s_cap->n = 0;
  advance(MG_TCPIP_RTO_INIT_MS - 20);
  CHECK(s_cap->n == 0);
  advance(40);
  CHECK(s_cap->n == 1 && tseq(last()) == isn + 1 && tdlen(last()) == 1000);
  s_cap->n = 0;
  advance(2 * MG_TCPIP_RTO_INIT_MS - 40);
  CHECK(s_cap->n == 0);
  advance(60);
  CHECK(s_cap->n == 1 && tseq(last()) == isn + 1);
  CHECK(s_ifp->stats.tcp_retransmits == 2);
  /* While resending from the first hole, our pure ACKs still carry the
   * highest sequence number sent, so the peer never finds them old. */
  s_cap->n = 0;
  feed(40000, seq, isn + 1, TF_ACK | TF_PSH, 8000, "zz", 2);
  CHECK(s_cap->n == 1 && tdlen(last()) == 0 && tseq(last()) == isn + 2501);
  CHECK(tack(last()) == seq + 2);
  seq += 2;
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 2);
  /* ACK everything: the queue drains, no more retransmissions. */
  feed(40000, seq, isn + 2501, TF_ACK, 8000, NULL, 0);
  CHECK(t->tx.len == 0 && t->snd_una == isn + 2501);
  s_cap->n = 0;
  advance(10000);
  CHECK(s_cap->n == 0);

  /* Fast retransmit: 4 segments out, the 2nd lost, 3 duplicate ACKs. */
  isn += 2500;
  s_cap->n = 0;
  mg_tcpip_tcp_send(s_ifp, t, buf, 4000);
  CHECK(s_cap->n >= 2);
  feed(40000, seq, isn + 1001, TF_ACK, 8000, NULL, 0);
  s_cap->n = 0;
  feed(40000, seq, isn + 1001, TF_ACK, 8000, NULL, 0);
  feed(40000, seq, isn + 1001, TF_ACK, 8000, NULL, 0);
  CHECK(s_ifp->stats.tcp_fast_retransmits == 0);
  feed(40000, seq, isn + 1001, TF_ACK, 8000, NULL, 0);
  CHECK(s_ifp->stats.tcp_fast_retransmits == 1);
  CHECK(s_cap->n >= 1 && tseq(s_cap->f[0]) == isn + 1001 &&
        tdlen(s_cap->f[0]) == 1000);
  feed(40000, seq, isn + 4001, TF_ACK, 8000, NULL, 0);
  CHECK(t->tx.len == 0 && !t->in_recovery);
  isn += 4000;

  /* Zero window: nothing but probes until the peer reopens. */
  mg_tcpip_tcp_send(s_ifp, t, buf, 1000);
  feed(40000, seq, isn + 1001, TF_ACK, 0, NULL, 0); /* acked, window 0 */
  isn += 1000;
  s_cap->n = 0;
  CHECK(mg_tcpip_tcp_send(s_ifp, t, buf, 500) == 500);
  CHECK(s_cap->n == 0);
  advance(5000);
  CHECK(s_cap->n >= 1);
  for (i = 0; i < s_cap->n && i < CAP_MAX; i++) {
    CHECK(tdlen(s_cap->f[i]) == 0 && tseq(s_cap->f[i]) == isn);
  }
  CHECK(t->state == MG_TCP_ESTABLISHED);
  s_cap->n = 0;
  feed(40000, seq, isn + 1, TF_ACK, 8000, NULL, 0); /* window update */
  CHECK(s_cap->n == 1 && tdlen(last()) == 500 && tseq(last()) == isn + 1);
  feed(40000, seq, isn + 501, TF_ACK, 8000, NULL, 0);
  isn += 500;

  /* RFC 5961: in-window RST that is not exact and a SYN get challenge
   * ACKs; the connection survives. */
  s_cap->n = 0;
  feed(40000, seq + 10, 0, TF_RST, 0, NULL, 0);
  CHECK(s_cap->n == 1 && tflags(last()) == TF_ACK && tack(last()) == seq);
  feed(40000, seq + 5, 0, TF_SYN, 8000, NULL, 0);
  CHECK(s_cap->n == 2 && tflags(last()) == TF_ACK);
  CHECK(t->state == MG_TCP_ESTABLISHED);
  /* A bad checksum is dropped without an answer. */
  {
    size_t len = build_tcp(s_f, 40000, PORT, seq, isn + 1, TF_ACK, 8000, "x", 1);
    uint32_t drops = s_ifp->stats.drop_tcp;
    s_f[len - 1] ^= 0xff;
    s_cap->n = 0;
    mg_tcpip_rx(s_ifp, s_f, len);
    CHECK(s_cap->n == 0 && s_ifp->stats.drop_tcp == drops + 1);
    CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 0);
  }

  /* Peer closes: ACK, CLOSE_WAIT, end of stream after the data. */
  s_cap->n = 0;
  feed(40000, seq, isn + 1, TF_ACK | TF_FIN, 8000, "bye", 3);
  CHECK(s_cap->n == 1 && tack(last()) == seq + 4);
  CHECK(t->state == MG_TCP_CLOSE_WAIT);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 3);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == MG_IO_EOF);
  seq += 4;
  /* Half-closed: we may still send. Then our FIN, LAST_ACK, CLOSED. */
  s_cap->n = 0;
  CHECK(mg_tcpip_tcp_send(s_ifp, t, "tail", 4) == 4);
  mg_tcpip_tcp_close(s_ifp, t);
  CHECK(s_cap->n == 2 && tdlen(s_cap->f[0]) == 4);
  CHECK(tflags(last()) == (TF_FIN | TF_ACK) && tseq(last()) == isn + 5);
  CHECK(t->state == MG_TCP_LAST_ACK);
  feed(40000, seq, isn + 6, TF_ACK, 8000, NULL, 0);
  CHECK(t->state == MG_TCP_CLOSED);
}

/* Our receive window fills up while the application does not read: we
 * advertise zero, refuse probes' data, and announce the reopened window as
 * soon as the application makes room. */
static void test_receive_window(int li) {
  uint32_t isn, seq = PEER_ISN + 1;
  struct mg_tcpip_tcp *t = open_conn(li, 40010, &isn);
  static char data[1000], buf[2000];
  int i;
  if (t == NULL) return;
  memset(data, 'w', sizeof(data));
  for (i = 0; i * 1000 < MG_TCPIP_TCP_RXBUF; i++) {
    size_t n = MG_TCPIP_TCP_RXBUF - (size_t) i * 1000;
    if (n > 1000) n = 1000;
    s_cap->n = 0; /* the capture keeps CAP_MAX frames: last() is this ACK */
    feed(40010, seq, isn + 1, TF_ACK, 8000, data, n);
    seq += (uint32_t) n;
  }
  CHECK(tack(last()) == seq && twin(last()) == 0);
  /* A one-byte window probe is answered with the same ACK, data refused. */
  s_cap->n = 0;
  feed(40010, seq, isn + 1, TF_ACK, 8000, "p", 1);
  CHECK(s_cap->n == 1 && tack(last()) == seq && twin(last()) == 0);
  CHECK(t->rx.len == MG_TCPIP_TCP_RXBUF);
  /* The application reads 2000 bytes: a window update goes out at once. */
  s_cap->n = 0;
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, 2000) == 2000);
  CHECK(s_cap->n == 1 && tack(last()) == seq && twin(last()) == 2000);
  feed(40010, seq, isn + 1, TF_ACK, 8000, "p", 1);
  CHECK(tack(last()) == seq + 1 && twin(last()) == 1999);
  mg_tcpip_tcp_abort(s_ifp, t);
}

static void test_active_close(int li) {
  uint32_t isn, seq = PEER_ISN + 1;
  struct mg_tcpip_tcp *t = open_conn(li, 40001, &isn);
  if (t == NULL) return;
  s_cap->n = 0;
  mg_tcpip_tcp_close(s_ifp, t);
  CHECK(s_cap->n == 1 && tflags(last()) == (TF_FIN | TF_ACK));
  CHECK(t->state == MG_TCP_FIN_WAIT_1);
  feed(40001, seq, isn + 2, TF_ACK, 8000, NULL, 0);
  CHECK(t->state == MG_TCP_FIN_WAIT_2);
  /* Data after our close is acknowledged (and discarded). */
  s_cap->n = 0;
  feed(40001, seq, isn + 2, TF_ACK, 8000, "late", 4);
  CHECK(s_cap->n == 1 && tack(last()) == seq + 4);
  seq += 4;
  feed(40001, seq, isn + 2, TF_ACK | TF_FIN, 8000, NULL, 0);
  CHECK(t->state == MG_TCP_TIME_WAIT && tack(last()) == seq + 1);
  /* A retransmitted FIN in TIME_WAIT is ACKed again. */
  s_cap->n = 0;
  feed(40001, seq, isn + 2, TF_ACK | TF_FIN, 8000, NULL, 0);
  CHECK(s_cap->n == 1 && tack(last()) == seq + 1);
  advance(MG_TCPIP_TIME_WAIT_MS + 100);
  CHECK(t->state == MG_TCP_CLOSED);
}

/* Half-close: our FIN goes out after the queued data, yet the peer's data
 * keeps arriving for the application, however long it takes, up to its FIN. */
static void test_half_close(int li) {
  uint32_t isn, seq = PEER_ISN + 1;
  char buf[64];
  struct mg_tcpip_tcp *t = open_conn(li, 40002, &isn);
  if (t == NULL) return;
  CHECK(mg_tcpip_tcp_send(s_ifp, t, "req", 3) == 3);
  s_cap->n = 0;
  mg_tcpip_tcp_shutdown(s_ifp, t);
  CHECK(s_cap->n >= 1 && (tflags(last()) & TF_FIN));
  CHECK(t->state == MG_TCP_FIN_WAIT_1);
  CHECK(mg_tcpip_tcp_send(s_ifp, t, "more", 4) < 0); /* our side ended */
  feed(40002, seq, isn + 5, TF_ACK, 8000, NULL, 0);
  CHECK(t->state == MG_TCP_FIN_WAIT_2);
  /* An attached FIN_WAIT_2 outlives the orphan timeout (60 s). */
  advance(61000);
  CHECK(t->state == MG_TCP_FIN_WAIT_2);
  feed(40002, seq, isn + 5, TF_ACK, 8000, "reply", 5);
  seq += 5;
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 5);
  CHECK(memcmp(buf, "reply", 5) == 0);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 0);
  feed(40002, seq, isn + 5, TF_ACK | TF_FIN, 8000, NULL, 0);
  CHECK(t->state == MG_TCP_TIME_WAIT && tack(last()) == seq + 1);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == MG_IO_EOF);
  mg_tcpip_tcp_close(s_ifp, t);
  advance(MG_TCPIP_TIME_WAIT_MS + 100);
  CHECK(t->state == MG_TCP_CLOSED);
}

static void test_closed_port_and_flags(int li) {
  const uint8_t *r;
  uint16_t dport;
  /* SYN to a port nobody listens on: RST|ACK acknowledging the SYN. */
  s_cap->n = 0;
  {
    size_t len = build_tcp(s_f, 5555, 81, 777, 0, TF_SYN, 1000, NULL, 0);
    mg_tcpip_rx(s_ifp, s_f, len);
  }
  r = last();
  CHECK(s_cap->n == 1 && seg_ok(r) && tflags(r) == (TF_RST | TF_ACK));
  CHECK(tack(r) == 778 && tseq(r) == 0);
  dport = g16(tcp_of(r));
  CHECK(dport == 81);
  /* ACK to nowhere: RST with the acknowledged number as sequence. */
  s_cap->n = 0;
  {
    size_t len = build_tcp(s_f, 5555, 81, 5, 4242, TF_ACK, 1000, NULL, 0);
    mg_tcpip_rx(s_ifp, s_f, len);
  }
  CHECK(s_cap->n == 1 && tflags(last()) == TF_RST && tseq(last()) == 4242);
  /* A RST is never answered. */
  s_cap->n = 0;
  {
    size_t len = build_tcp(s_f, 5555, 81, 5, 0, TF_RST, 0, NULL, 0);
    mg_tcpip_rx(s_ifp, s_f, len);
  }
  CHECK(s_cap->n == 0);
  /* Bogus flag mixes on the listening port open nothing. */
  s_cap->n = 0;
  feed(41000, 1, 0, TF_SYN | TF_FIN, 1000, NULL, 0);
  feed(41001, 1, 0, 0, 1000, NULL, 0);
  feed(41002, 1, 0, TF_SYN | TF_RST, 1000, NULL, 0);
  feed(41003, 1, 0, TF_FIN | TF_PSH | 0x20, 1000, NULL, 0); /* "xmas" */
  CHECK(s_cap->n == 0);
  CHECK(mg_tcpip_tcp_accept(s_ifp, li) == NULL);
  /* ACK without a connection on the listening port: RST. */
  feed(41004, 1, 99, TF_ACK, 1000, NULL, 0);
  CHECK(s_cap->n == 1 && tflags(last()) == TF_RST);
}

static void test_keepalive(int li) {
  uint32_t isn;
  struct mg_tcpip_tcp *t = open_conn(li, 40002, &isn);
  int probes = 0;
  size_t i;
  if (t == NULL) return;
  s_cap->n = 0;
  advance(MG_TCPIP_KEEPALIVE_MS - 100);
  CHECK(s_cap->n == 0);
  advance(200);
  CHECK(s_cap->n == 1 && tseq(last()) == isn && tdlen(last()) == 0);
  /* The peer answers: the connection stays, the idle clock restarts. */
  feed(40002, PEER_ISN + 1, isn + 1, TF_ACK, 8000, NULL, 0);
  s_cap->n = 0;
  advance(MG_TCPIP_KEEPALIVE_MS - 100);
  CHECK(s_cap->n == 0);
  /* Now silence: the probes run out and the connection is reset. */
  advance(MG_TCPIP_KEEPALIVE_INTVL_MS * (MG_TCPIP_KEEPALIVE_PROBES + 2));
  for (i = 0; i < s_cap->n && i < CAP_MAX; i++)
    if (tflags(s_cap->f[i]) == TF_ACK) probes++;
  CHECK(probes == MG_TCPIP_KEEPALIVE_PROBES);
  CHECK((tflags(last()) & TF_RST) != 0);
  CHECK(t->state == MG_TCP_CLOSED && t->err == MG_TCP_ERR_TIMEOUT);
  mg_tcpip_tcp_close(s_ifp, t);
}

static void test_syn_flood(int li) {
  int i, rcvd = 0;
  uint32_t isn;
  struct mg_tcpip_tcp *t;
  uint32_t dropped = s_ifp->stats.tcp_syn_dropped;
  for (i = 0; i < 200; i++) feed((uint16_t) (20000 + i), 5000, 0, TF_SYN, 1000, NULL, 0);
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) rcvd += s_ifp->tcp[i].state == MG_TCP_SYN_RCVD;
  CHECK(rcvd == 4); /* the listener's backlog */
  CHECK(s_ifp->stats.tcp_syn_dropped == dropped + 196);
  /* A real client right after the flood is dropped like the flood (the
   * half-open entries are fresh)... */
  s_cap->n = 0;
  feed(40003, PEER_ISN, 0, TF_SYN, 8000, NULL, 0);
  CHECK(s_cap->n == 0);
  /* ...but once their SYN-ACKs went unanswered, the oldest makes room. */
  advance(MG_TCPIP_RTO_INIT_MS + 50);
  t = open_conn(li, 40003, &isn);
  CHECK(t != NULL);
  if (t != NULL) mg_tcpip_tcp_abort(s_ifp, t);
  CHECK(tflags(last()) == (TF_RST | TF_ACK));
  /* The half-open connections give up after their SYN-ACK retries. */
  advance(120000);
  rcvd = 0;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++) rcvd += s_ifp->tcp[i].state != MG_TCP_CLOSED;
  CHECK(rcvd == 0);
}

static void test_active_open(void) {
  struct mg_tcpip_tcp *t;
  const uint8_t *r;
  uint32_t isn;
  s_cap->n = 0;
  t = mg_tcpip_tcp_connect(s_ifp, IP(10, 0, 0, 2), 8080, 0);
  r = last();
  CHECK(t != NULL && s_cap->n == 1 && tflags(r) == TF_SYN);
  if (t == NULL || r == NULL) return;
  isn = tseq(r);
  CHECK(g16(tcp_of(r) + 2) == 8080 && g16(tcp_of(r)) >= 49152);
  /* A SYN-ACK with the wrong ACK number gets a RST, the connect goes on. */
  s_cap->n = 0;
  {
    size_t len = build_tcp(s_f, 8080, t->lport, 9000, isn + 5, TF_SYN | TF_ACK,
                           4000, NULL, 0);
    mg_tcpip_rx(s_ifp, s_f, len);
  }
  CHECK(s_cap->n == 1 && tflags(last()) == TF_RST && tseq(last()) == isn + 5);
  CHECK(t->state == MG_TCP_SYN_SENT);
  /* SYN retransmissions back off, then the connect times out. */
  advance(200000);
  CHECK(t->state == MG_TCP_CLOSED && t->err == MG_TCP_ERR_TIMEOUT);
  mg_tcpip_tcp_close(s_ifp, t);
  /* A proper SYN-ACK establishes; the peer's RST then reports a reset. */
  s_cap->n = 0;
  t = mg_tcpip_tcp_connect(s_ifp, IP(10, 0, 0, 2), 8080, 0);
  isn = tseq(last());
  {
    size_t len = build_tcp(s_f, 8080, t->lport, 9000, isn + 1, TF_SYN | TF_ACK,
                           4000, NULL, 0);
    mg_tcpip_rx(s_ifp, s_f, len);
    CHECK(t->state == MG_TCP_ESTABLISHED && tflags(last()) == TF_ACK);
    CHECK(tack(last()) == 9001);
    len = build_tcp(s_f, 8080, t->lport, 9001, 0, TF_RST, 0, NULL, 0);
    mg_tcpip_rx(s_ifp, s_f, len);
  }
  CHECK(t->state == MG_TCP_CLOSED && t->err == MG_TCP_ERR_RESET);
  mg_tcpip_tcp_close(s_ifp, t);
}

/* The frame captured last that went to the peer's port with RST set. */
static const uint8_t *rst_to(uint16_t port) {
  const uint8_t *found = NULL;
  size_t i;
  for (i = 0; i < s_cap->n && i < CAP_MAX; i++) {
    const uint8_t *f = s_cap->f[i];
    if (seg_ok(f) && (tflags(f) & TF_RST) && g16(tcp_of(f) + 2) == port)
      found = f;
  }
  return found;
}

static int open_slots(void) {
  int i, n = 0;
  for (i = 0; i < MG_TCPIP_MAX_TCP; i++)
    n += s_ifp->tcp[i].state != MG_TCP_CLOSED;
  return n;
}

/* Every slot taken: our own connect (oldest), a connection we are sending a
 * response on (next oldest), a silent one, then peers trickling a request.
 * A new SYN makes the silent one yield (RST, "reset to make room"), never
 * the connect or the sender, and is served once the application let go. */
static void test_full_table_yields(int li) {
  struct mg_tcpip_tcp *conns[MG_TCPIP_MAX_TCP], *out, *t;
  uint32_t isns[MG_TCPIP_MAX_TCP], isn, yielded = s_ifp->stats.tcp_yielded;
  const uint8_t *r;
  char buf[64];
  int i, n = MG_TCPIP_MAX_TCP - 1;
  CHECK(open_slots() == 0);
  out = mg_tcpip_tcp_connect(s_ifp, IP(10, 0, 0, 2), 8080,
                             0); /* never answered */
  CHECK(out != NULL);
  advance(10);
  for (i = 0; i < n; i++) {
    conns[i] = open_conn(li, (uint16_t) (41000 + i), &isns[i]);
    CHECK(conns[i] != NULL);
    if (conns[i] == NULL) return;
    if (i == 0)
      CHECK(mg_tcpip_tcp_send(s_ifp, conns[0], "HTTP/1.1 200", 12) == 12);
    advance(10);
  }
  CHECK(open_slots() == MG_TCPIP_MAX_TCP);
  for (i = 2; i < n; i++) { /* one byte of a request each: recent activity */
    feed((uint16_t) (41000 + i), PEER_ISN + 1, isns[i] + 1, TF_ACK, 8000, "G",
         1);
    advance(10);
  }
  /* All of them active within MG_TCPIP_YIELD_IDLE_MS: a burst of real
   * clients, so a new SYN is dropped (its peer retries) and nobody is reset. */
  s_cap->n = 0;
  feed(42000, PEER_ISN, 0, TF_SYN, 8000, NULL, 0);
  CHECK(s_ifp->stats.tcp_yielded == yielded && rst_to(41001) == NULL);
  s_ifp->yield_idle_ms = 500;
  advance(500);
  /* A new client: conns[1] (quiet the longest) is reset, the SYN waits for
   * its slot while the application still holds the connection. */
  s_cap->n = 0;
  feed(42000, PEER_ISN, 0, TF_SYN, 8000, NULL, 0);
  r = rst_to(41001);
  CHECK(r != NULL && s_ifp->stats.tcp_yielded == yielded + 1);
  CHECK(conns[1]->state == MG_TCP_CLOSED &&
        conns[1]->err == MG_TCP_ERR_YIELDED);
  CHECK(out->state == MG_TCP_SYN_SENT);
  CHECK(conns[0]->state == MG_TCP_ESTABLISHED && conns[0]->tx.len == 12);
  for (i = 2; i < n; i++) CHECK(conns[i]->state == MG_TCP_ESTABLISHED);
  /* Its retransmission and another client's SYN meanwhile evict nobody. */
  s_cap->n = 0;
  feed(42000, PEER_ISN, 0, TF_SYN, 8000, NULL, 0);
  feed(42001, PEER_ISN, 0, TF_SYN, 8000, NULL, 0);
  CHECK(s_cap->n == 0 && s_ifp->stats.tcp_yielded == yielded + 1);
  /* The application sees the end of the stream and closes: the SYN-ACK
   * goes out at the next poll. */
  CHECK(mg_tcpip_tcp_recv(s_ifp, conns[1], buf, sizeof(buf)) == -1);
  mg_tcpip_tcp_close(s_ifp, conns[1]);
  s_cap->n = 0;
  advance(10);
  r = last();
  CHECK(s_cap->n == 1 && seg_ok(r) && tflags(r) == (TF_SYN | TF_ACK) &&
        g16(tcp_of(r) + 2) == 42000 && tack(r) == PEER_ISN + 1);
  if (r == NULL) return;
  isn = tseq(r);
  feed(42000, PEER_ISN + 1, isn + 1, TF_ACK, 8000, NULL, 0);
  t = mg_tcpip_tcp_accept(s_ifp, li);
  CHECK(t != NULL && t->rport == 42000);
  if (t == NULL) return;
  /* And served: request in, response out. */
  feed(42000, PEER_ISN + 1, isn + 1, TF_ACK | TF_PSH, 8000, "GET /", 5);
  CHECK(mg_tcpip_tcp_recv(s_ifp, t, buf, sizeof(buf)) == 5 &&
        memcmp(buf, "GET /", 5) == 0);
  s_cap->n = 0;
  CHECK(mg_tcpip_tcp_send(s_ifp, t, "200 OK", 6) == 6);
  r = last();
  CHECK(r != NULL && tdlen(r) == 6 && memcmp(tcp_of(r) + 20, "200 OK", 6) == 0);
  /* Clean up: every connection reset. */
  mg_tcpip_tcp_abort(s_ifp, t);
  mg_tcpip_tcp_abort(s_ifp, out);
  for (i = 0; i < n; i++)
    if (i != 1) mg_tcpip_tcp_abort(s_ifp, conns[i]);
  CHECK(open_slots() == 0);
}

/* A connection the application already closed (FIN sent and acknowledged,
 * waiting for the peer's FIN) yields before any open one, and its slot is
 * free at once: the new SYN is answered in the same call. */
static void test_closed_by_app_yields_first(int li) {
  struct mg_tcpip_tcp *conns[MG_TCPIP_MAX_TCP], *t;
  uint32_t isns[MG_TCPIP_MAX_TCP];
  const uint8_t *r;
  int i, n = MG_TCPIP_MAX_TCP;
  CHECK(open_slots() == 0);
  for (i = 0; i < n; i++) {
    conns[i] = open_conn(li, (uint16_t) (43000 + i), &isns[i]);
    CHECK(conns[i] != NULL);
    if (conns[i] == NULL) return;
    advance(10);
  }
  mg_tcpip_tcp_close(s_ifp, conns[3]); /* FIN out; the peer ACKs it */
  feed(43003, PEER_ISN + 1, isns[3] + 2, TF_ACK, 8000, NULL, 0);
  CHECK(conns[3]->state == MG_TCP_FIN_WAIT_2);
  s_cap->n = 0;
  feed(44000, PEER_ISN, 0, TF_SYN, 8000, NULL, 0);
  CHECK(rst_to(43003) != NULL && rst_to(43000) == NULL);
  r = last();
  CHECK(r != NULL && tflags(r) == (TF_SYN | TF_ACK) &&
        g16(tcp_of(r) + 2) == 44000);
  if (r == NULL) return;
  feed(44000, PEER_ISN + 1, tseq(r) + 1, TF_ACK, 8000, NULL, 0);
  t = mg_tcpip_tcp_accept(s_ifp, li);
  CHECK(t != NULL && t->rport == 44000);
  for (i = 0; i < n; i++)
    if (i != 3) CHECK(conns[i]->state == MG_TCP_ESTABLISHED);
  if (t != NULL) mg_tcpip_tcp_abort(s_ifp, t);
  for (i = 0; i < n; i++)
    if (i != 3) mg_tcpip_tcp_abort(s_ifp, conns[i]);
  CHECK(open_slots() == 0);
}

int main(void) {
  int li;
  s_cap = calloc(1, sizeof(*s_cap));
  s_ifp = make_if(s_cap);
  learn_peer(s_ifp, s_cap);
  li = mg_tcpip_tcp_listen(s_ifp, PORT, 4);
  CHECK(li >= 0);
  CHECK(mg_tcpip_tcp_listen(s_ifp, PORT, 4) < 0);
  test_handshake_and_data(li);
  test_active_close(li);
  test_half_close(li);
  test_receive_window(li);
  test_closed_port_and_flags(li);
  test_keepalive(li);
  test_syn_flood(li);
  test_active_open();
  test_full_table_yields(li);
  test_closed_by_app_yields_first(li);
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
