/* Ethernet frames over a stream socket, each preceded by its length as a
 * 4-byte big-endian number: the framing of QEMU's "-netdev stream" and
 * "-netdev socket". With it a host process's built-in stack talks to an
 * emulated board without TAP devices or root. Host only (POSIX fds). */
#include "mg_stack.h"

#if MG_ENABLE_TCPIP && MG_ARCH == MG_ARCH_POSIX

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static bool stream_init(void *ctx, const uint8_t mac[6]) {
  struct mg_stream *s = (struct mg_stream *) ctx;
  int flags;
  (void) mac;
  if (s == NULL || s->fd < 0) return false;
  flags = fcntl(s->fd, F_GETFL, 0);
  if (flags < 0 || fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) != 0) return false;
  s->in_len = s->skip = 0;
  s->eof = false;
  return true;
}

/* Writes all of buf, waiting briefly when the socket pushes back. */
static bool write_all(struct mg_stream *s, const uint8_t *buf, size_t len) {
  size_t done = 0;
  int stalls = 0;
  while (done < len) {
    ssize_t n = write(s->fd, buf + done, len - done);
    if (n > 0) {
      done += (size_t) n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) &&
               stalls++ < 100) {
      struct pollfd p = {s->fd, POLLOUT, 0};
      poll(&p, 1, 10);
    } else {
      /* A frame cut in half would desynchronise the stream: it is dead. */
      if (done > 0) s->eof = true;
      return false;
    }
  }
  return true;
}

static bool stream_tx(void *ctx, const void *frame, size_t len) {
  struct mg_stream *s = (struct mg_stream *) ctx;
  uint8_t buf[4 + MG_TCPIP_FRAME_MAX];
  if (s->eof || len > MG_TCPIP_FRAME_MAX) return false;
  buf[0] = (uint8_t) (len >> 24);
  buf[1] = (uint8_t) (len >> 16);
  buf[2] = (uint8_t) (len >> 8);
  buf[3] = (uint8_t) len;
  memcpy(buf + 4, frame, len);
  return write_all(s, buf, len + 4);
}

/* Returns one buffered frame if complete; drops oversized ones. */
static size_t take(struct mg_stream *s, void *out, size_t outlen) {
  for (;;) {
    size_t n;
    if (s->skip > 0) { /* remainder of an oversized frame */
      size_t k = s->skip < s->in_len ? s->skip : s->in_len;
      memmove(s->in, s->in + k, s->in_len - k);
      s->in_len -= k;
      s->skip -= k;
      if (s->skip > 0) return 0;
    }
    if (s->in_len < 4) return 0;
    n = (size_t) s->in[0] << 24 | (size_t) s->in[1] << 16 |
        (size_t) s->in[2] << 8 | s->in[3];
    if (n > MG_TCPIP_FRAME_MAX) {
      s->bad++;
      s->skip = n;
      memmove(s->in, s->in + 4, s->in_len - 4);
      s->in_len -= 4;
      continue;
    }
    if (s->in_len < 4 + n) return 0;
    memcpy(out, s->in + 4, n < outlen ? n : outlen);
    memmove(s->in, s->in + 4 + n, s->in_len - 4 - n);
    s->in_len -= 4 + n;
    return n < outlen ? n : outlen;
  }
}

static size_t stream_rx(void *ctx, void *buf, size_t len) {
  struct mg_stream *s = (struct mg_stream *) ctx;
  size_t got = take(s, buf, len);
  while (got == 0 && !s->eof && s->in_len < sizeof(s->in)) {
    ssize_t n = read(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len);
    if (n == 0) s->eof = true; /* the peer (QEMU) went away: link down */
    if (n <= 0) break;
    s->in_len += (size_t) n;
    got = take(s, buf, len);
  }
  return got;
}

static bool stream_poll(void *ctx) {
  return !((struct mg_stream *) ctx)->eof;
}

void mg_stream_wait(void *ctx, int ms) {
  struct mg_stream *s = (struct mg_stream *) ctx;
  struct pollfd p = {s->fd, POLLIN, 0};
  if (s->in_len >= 4) { /* a whole frame may already be buffered */
    size_t n = (size_t) s->in[0] << 24 | (size_t) s->in[1] << 16 |
               (size_t) s->in[2] << 8 | s->in[3];
    if (s->skip == 0 && s->in_len >= 4 + n) return;
  }
  while (poll(&p, 1, ms) < 0 && errno == EINTR) {
  }
}

const struct mg_driver mg_driver_stream = {"stream", stream_init, stream_tx,
                                           stream_rx, stream_poll};

#endif
