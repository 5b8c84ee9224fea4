/* Serial framing: SLIP escaping + CRC-32 round trips for every byte value,
 * corruption and truncation rejected, resynchronisation after noise, and
 * two stacks pinging and talking TCP over a byte pipe. */
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
/* A one-way byte pipe with a small chunk size to split frames. */
struct pipe {
  uint8_t buf[65536];
  size_t head, len;
};
struct duplex {
  struct pipe *in, *out;
};
static size_t pipe_read(void *arg, void *buf, size_t len) {
  struct duplex *d = (struct duplex *) arg;
  size_t n = d->in->len < len ? d->in->len : len, i;
  if (n > 7) n = 7; /* deliver in awkward little pieces */
  for (i = 0; i < n; i++)
    ((uint8_t *) buf)[i] = d->in->buf[(d->in->head + i) % sizeof(d->in->buf)];
  d->in->head = (d->in->head + n) % sizeof(d->in->buf);
  d->in->len -= n;
  return n;
}
static size_t pipe_write(void *arg, const void *buf, size_t len) {
  struct duplex *d = (struct duplex *) arg;
  size_t room = sizeof(d->out->buf) - d->out->len, i;
  if (len > room) len = room;
  for (i = 0; i < len; i++)
    d->out->buf[(d->out->head + d->out->len + i) % sizeof(d->out->buf)] =
        ((const uint8_t *) buf)[i];
  d->out->len += len;
  return len;
}

static size_t decode_all(struct mg_slip_decoder *d, const uint8_t *p, size_t n,
                         size_t *frames) {
  size_t i, last = 0;
  for (i = 0; i < n; i++) {
    size_t k = mg_slip_decode(d, p[i]);
    if (k > 0) {
      last = k;
      (*frames)++;
    }
  }
  return last;
}

static void test_codec(void) {
  static uint8_t frame[1514], enc[MG_SLIP_ENCODED_MAX(1514)];
  static struct mg_slip_decoder d;
  size_t i, n, frames = 0;
  for (i = 0; i < sizeof(frame); i++) frame[i] = (uint8_t) i; /* all values */
  frame[0] = MG_SLIP_END;
  frame[1] = MG_SLIP_ESC;
  n = mg_slip_encode(frame, sizeof(frame), enc, sizeof(enc));
  CHECK(n > sizeof(frame) + 4 && enc[0] == MG_SLIP_END && enc[n - 1] == MG_SLIP_END);
  {
    size_t ends = 0;
    for (i = 1; i + 1 < n; i++) ends += enc[i] == MG_SLIP_END;
    CHECK(ends == 0);
  }
  CHECK(decode_all(&d, enc, n, &frames) == sizeof(frame) && frames == 1);
  CHECK(memcmp(d.buf, frame, sizeof(frame)) == 0);
  CHECK(mg_slip_encode(frame, sizeof(frame), enc, 100) == 0); /* too small */
  /* One flipped bit anywhere: rejected by the CRC. */
  n = mg_slip_encode(frame, 60, enc, sizeof(enc));
  enc[20] ^= 0x10;
  frames = 0;
  CHECK(decode_all(&d, enc, n, &frames) == 0 && frames == 0 && d.bad >= 1);
  /* Noise, a truncated frame and a bad escape, then a good frame. */
  {
    uint8_t noise[] = {1, 2, 3, MG_SLIP_END, MG_SLIP_ESC, 0x42, MG_SLIP_END};
    frames = 0;
    decode_all(&d, noise, sizeof(noise), &frames);
    n = mg_slip_encode(frame, 80, enc, sizeof(enc));
    decode_all(&d, enc, n / 2, &frames); /* cut in the middle... */
    n = mg_slip_encode(frame, 80, enc, sizeof(enc));
    CHECK(decode_all(&d, enc, n, &frames) == 80 && frames == 1);
  }
  /* Oversized input never overruns the buffer. */
  {
    uint8_t junk[4000];
    memset(junk, 0x55, sizeof(junk));
    frames = 0;
    decode_all(&d, junk, sizeof(junk), &frames);
    CHECK(mg_slip_decode(&d, MG_SLIP_END) == 0 && frames == 0);
  }
}

static void test_two_stacks(void) {
  static struct pipe ab, ba;
  static struct duplex da = {&ba, &ab}, db = {&ab, &ba};
  static struct mg_slip sa, sb;
  static struct mg_tcpip_if a, b;
  struct mg_tcpip_tcp *c, *s = NULL;
  int li;
  uint64_t now = 0;
  char buf[64];
  long got = 0;
  sa.read = sb.read = pipe_read;
  sa.write = sb.write = pipe_write;
  sa.arg = &da;
  sb.arg = &db;
  memcpy(a.mac, MAC_US, 6);
  memcpy(b.mac, MAC_PEER, 6);
  a.ip = IP(192, 168, 9, 1);
  b.ip = IP(192, 168, 9, 2);
  a.mask = b.mask = IP(255, 255, 255, 0);
  a.driver = b.driver = &mg_driver_slip;
  a.driver_data = &sa;
  b.driver_data = &sb;
  CHECK(mg_tcpip_init(&a) && mg_tcpip_init(&b));
  li = mg_tcpip_tcp_listen(&b, 23, 2);
  c = mg_tcpip_tcp_connect(&a, b.ip, 23, 0);
  while (now < 5000 && got < 11) {
    now++;
    mg_tcpip_poll(&a, now);
    mg_tcpip_poll(&b, now);
    if (s == NULL && (s = mg_tcpip_tcp_accept(&b, li)) != NULL)
      mg_tcpip_tcp_send(&b, s, "hello slip!", 11);
    if (c != NULL) {
      long r = mg_tcpip_tcp_recv(&a, c, buf + got, sizeof(buf) - (size_t) got);
      if (r > 0) got += r;
    }
  }
  CHECK(got == 11 && memcmp(buf, "hello slip!", 11) == 0);
  CHECK(sa.dec.good > 0 && sa.dec.bad == 0 && sb.dec.bad == 0);
  CHECK(a.stats.tcp_retransmits == 0);
}

int main(void) {
  test_codec();
  test_two_stacks();
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
