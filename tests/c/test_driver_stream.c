/* The stream framing codec (mg_driver_stream.h), sans-IO: frames split at
 * every byte boundary, zero-length and maximum frames, oversized lengths
 * skipped whole without losing step, and random garbage never read out of
 * bounds. Plus mg_stream_connect on loopback: unix path forms, TCP, and
 * malformed addresses. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mg_driver_stream.h"
#include "mg_stack.h"
#include "mg_test.h"

#if MG_ENABLE_TCPIP
/* Feeds wire[0..len) in chunks of `step` bytes into a growing buffer, as a
 * driver would, collecting frames; returns how many were found. */
static int decode_all(const uint8_t *wire, size_t len, size_t step, size_t max,
                      size_t *lens, uint8_t *firsts, struct mg_stream_dec *d) {
  static uint8_t buf[1 << 16];
  size_t have = 0, fed = 0;
  int count = 0;
  while (fed < len || have > 0) {
    size_t used, flen;
    const uint8_t *frame;
    if (fed < len) {
      size_t k = len - fed < step ? len - fed : step;
      memcpy(buf + have, wire + fed, k);
      have += k;
      fed += k;
    }
    do {
      used = mg_stream_parse(d, buf, have, max, &frame, &flen);
      if (used > have) return -1; /* never claims bytes it was not given */
      if (frame != NULL) {
        if (frame != buf + MG_STREAM_HDR) return -1;
        lens[count] = flen;
        firsts[count] = flen > 0 ? frame[0] : 0;
        count++;
      }
      memmove(buf, buf + used, have - used);
      have -= used;
    } while (used > 0);
    if (fed >= len && used == 0) break;
  }
  return count;
}

static size_t put(uint8_t *w, size_t len, uint8_t fill) {
  mg_stream_hdr(w, len);
  memset(w + MG_STREAM_HDR, fill, len);
  return MG_STREAM_HDR + len;
}

static void test_codec(void) {
  static uint8_t wire[20000];
  size_t n = 0, lens[8], step;
  uint8_t firsts[8], h[4];
  const size_t max = 1514;
  mg_stream_hdr(h, 0x01020304);
  CHECK(h[0] == 1 && h[1] == 2 && h[2] == 3 && h[3] == 4);
  n += put(wire + n, 60, 0xA1);
  n += put(wire + n, 0, 0);        /* empty frame: legal framing, zero bytes */
  n += put(wire + n, 5000, 0xEE);  /* oversized: skipped whole */
  n += put(wire + n, max, 0xB2);   /* exactly the maximum */
  n += put(wire + n, 14, 0xC3);
  for (step = 1; step <= 4099; step += (step < 9 ? 1 : 997)) {
    struct mg_stream_dec d = {0, 0};
    int got = decode_all(wire, n, step, max, lens, firsts, &d);
    CHECK(got == 4);
    CHECK(lens[0] == 60 && firsts[0] == 0xA1);
    CHECK(lens[1] == 0);
    CHECK(lens[2] == max && firsts[2] == 0xB2);
    CHECK(lens[3] == 14 && firsts[3] == 0xC3);
    CHECK(d.bad == 1 && d.skip == 0);
  }
  {
    /* A partial header or frame asks for more and consumes nothing. */
    struct mg_stream_dec d = {0, 0};
    const uint8_t *f;
    size_t fl;
    CHECK(mg_stream_parse(&d, wire, 3, max, &f, &fl) == 0 && f == NULL);
    CHECK(mg_stream_parse(&d, wire, 63, max, &f, &fl) == 0 && f == NULL);
    CHECK(mg_stream_parse(&d, wire, 64, max, &f, &fl) == 64 && fl == 60);
    /* A length of 0xFFFFFFFF is skipped, not trusted. */
    memset(wire, 0xFF, 4);
    CHECK(mg_stream_parse(&d, wire, 4, max, &f, &fl) == 4 && f == NULL);
    CHECK(d.bad == 1 && d.skip == 0xFFFFFFFFu);
  }
}

static void test_garbage(void) {
  static uint8_t wire[8192];
  size_t lens[2048];
  uint8_t firsts[2048];
  unsigned seed = 12345;
  int round;
  for (round = 0; round < 200; round++) {
    struct mg_stream_dec d = {0, 0};
    size_t i, len = 1 + (size_t) (rand_r(&seed) % sizeof(wire));
    for (i = 0; i < len; i++) {
      /* small lengths are likely, so frames really get decoded */
      wire[i] = (uint8_t) (i % 4 < 2 ? 0 : rand_r(&seed));
    }
    CHECK(decode_all(wire, len, 1 + (size_t) (rand_r(&seed) % 300), 1514, lens, firsts,
                     &d) >= 0);
  }
}
#endif

#if MG_ENABLE_TCPIP && MG_ENABLE_DRIVER_STREAM && MG_ARCH == MG_ARCH_POSIX && \
    defined(__unix__)
static void test_connect(void) {
  struct sockaddr_un sun;
  struct sockaddr_in sin;
  socklen_t sl = sizeof(sin);
  char path[64], addr[96];
  int ls, us, fd, acc;
  /* unix: "unix:PATH" and a bare path */
  snprintf(path, sizeof(path), "/tmp/mgstream-%d.sock", (int) getpid());
  unlink(path);
  us = socket(AF_UNIX, SOCK_STREAM, 0);
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, strlen(path) + 1);
  CHECK(bind(us, (struct sockaddr *) &sun, sizeof(sun)) == 0 && listen(us, 4) == 0);
  snprintf(addr, sizeof(addr), "unix:%s", path);
  fd = mg_stream_connect(addr);
  CHECK(fd >= 0 && (fcntl(fd, F_GETFL, 0) & O_NONBLOCK) != 0);
  acc = accept(us, NULL, NULL);
  CHECK(acc >= 0);
  if (fd >= 0 && acc >= 0) { /* a frame written by a peer decodes */
    static struct mg_stream s;
    uint8_t frame[60], got[1600];
    uint8_t hdr[4];
    size_t n = 0;
    int tries;
    memset(frame, 0x5A, sizeof(frame));
    mg_stream_hdr(hdr, sizeof(frame));
    CHECK(write(acc, hdr, 4) == 4 && write(acc, frame, sizeof(frame)) == 60);
    s.fd = fd;
    CHECK(mg_driver_stream.init(&s, frame));
    for (tries = 0; tries < 100 && n == 0; tries++) {
      mg_stream_wait(&s, 10);
      n = mg_driver_stream.rx(&s, got, sizeof(got));
    }
    CHECK(n == 60 && got[59] == 0x5A);
    CHECK(mg_driver_stream.tx(&s, frame, sizeof(frame)));
    CHECK(read(acc, got, sizeof(got)) == 64 && got[3] == 60);
  }
  if (fd >= 0) close(fd);
  if (acc >= 0) close(acc);
  fd = mg_stream_connect(path);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  close(us);
  unlink(path);
  errno = 0;
  CHECK(mg_stream_connect(path) == -1 && errno != 0); /* nobody listens now */

  /* TCP on loopback: "HOST:PORT", "tcp://HOST:PORT", ":PORT" */
  ls = socket(AF_INET, SOCK_STREAM, 0);
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(ls, (struct sockaddr *) &sin, sizeof(sin)) == 0 && listen(ls, 4) == 0);
  CHECK(getsockname(ls, (struct sockaddr *) &sin, &sl) == 0);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
  fd = mg_stream_connect(addr);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
  fd = mg_stream_connect(addr);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  snprintf(addr, sizeof(addr), ":%d", ntohs(sin.sin_port));
  fd = mg_stream_connect(addr);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  close(ls);

  /* malformed */
  CHECK(mg_stream_connect("") == -1);
  CHECK(mg_stream_connect(NULL) == -1);
  CHECK(mg_stream_connect("127.0.0.1") == -1);
  CHECK(mg_stream_connect("127.0.0.1:") == -1);
  CHECK(mg_stream_connect("127.0.0.1:http") == -1);
  CHECK(mg_stream_connect("unix:/tmp/a-path-that-is-far-too-long-for-a-unix-socket-"
                          "address-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") == -1);
}
#endif

int main(void) {
#if MG_ENABLE_TCPIP
  test_codec();
  test_garbage();
#endif
#if MG_ENABLE_TCPIP && MG_ENABLE_DRIVER_STREAM && MG_ARCH == MG_ARCH_POSIX && \
    defined(__unix__)
  test_connect();
#endif
  return TEST_REPORT();
}
