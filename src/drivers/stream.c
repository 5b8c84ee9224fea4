/* Ethernet frames over a stream socket, each preceded by its length as a
 * 4-byte big-endian number: the framing of QEMU's "-netdev stream" and
 * "-netdev socket". With it a host process's built-in stack talks to an
 * emulated board without TAP devices or root. The codec is portable and
 * sans-IO (mg_driver_stream.h); the driver needs POSIX fds. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getaddrinfo under -std=c11 */
#endif
#include "mg_driver_stream.h"
#include "mg_stack.h"

#if MG_ENABLE_TCPIP

void mg_stream_hdr(uint8_t out[MG_STREAM_HDR], size_t len) {
  out[0] = (uint8_t) (len >> 24);
  out[1] = (uint8_t) (len >> 16);
  out[2] = (uint8_t) (len >> 8);
  out[3] = (uint8_t) len;
}

size_t mg_stream_parse(struct mg_stream_dec *d, const uint8_t *buf, size_t len,
                       size_t max, const uint8_t **frame, size_t *flen) {
  uint32_t n;
  *frame = NULL;
  *flen = 0;
  if (d->skip > 0) { /* the rest of an oversized frame */
    size_t k = d->skip < len ? d->skip : len;
    d->skip -= k;
    return k;
  }
  if (len < MG_STREAM_HDR) return 0;
  n = (uint32_t) buf[0] << 24 | (uint32_t) buf[1] << 16 |
      (uint32_t) buf[2] << 8 | buf[3];
  if (n > max) { /* skip it whole: dropping only the header would desync */
    d->bad++;
    d->skip = n;
    return MG_STREAM_HDR;
  }
  if (len - MG_STREAM_HDR < n) return 0;
  *frame = buf + MG_STREAM_HDR;
  *flen = n;
  return MG_STREAM_HDR + n;
}

#endif

#if MG_ENABLE_TCPIP && MG_ENABLE_DRIVER_STREAM && \
    MG_ARCH == MG_ARCH_POSIX && defined(__unix__)

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
  uint8_t buf[MG_STREAM_HDR + MG_TCPIP_FRAME_MAX];
  if (s->eof || len > MG_TCPIP_FRAME_MAX) return false;
  mg_stream_hdr(buf, len);
  memcpy(buf + MG_STREAM_HDR, frame, len);
  return write_all(s, buf, len + MG_STREAM_HDR);
}

/* Returns one buffered frame if complete (oversized ones are skipped). */
static size_t take(struct mg_stream *s, void *out, size_t outlen) {
  struct mg_stream_dec d = {s->skip, s->bad};
  size_t used, n = 0;
  const uint8_t *frame = NULL;
  do {
    used = mg_stream_parse(&d, s->in, s->in_len, MG_TCPIP_FRAME_MAX, &frame, &n);
    if (frame != NULL) memcpy(out, frame, n < outlen ? n : outlen);
    memmove(s->in, s->in + used, s->in_len - used);
    s->in_len -= used;
  } while (used > 0 && frame == NULL);
  s->skip = d.skip;
  s->bad = d.bad;
  return frame == NULL ? 0 : (n < outlen ? n : outlen);
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
  struct mg_stream_dec d = {s->skip, s->bad};
  const uint8_t *frame;
  size_t n;
  /* A whole frame may already be buffered: then there is no need to wait. */
  if (mg_stream_parse(&d, s->in, s->in_len, MG_TCPIP_FRAME_MAX, &frame, &n) > 0 &&
      frame != NULL) {
    return;
  }
  while (poll(&p, 1, ms) < 0 && errno == EINTR) {
  }
}

static int connect_unix(const char *path) {
  struct sockaddr_un sun;
  int fd;
  if (strlen(path) >= sizeof(sun.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, path, strlen(path) + 1);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    fd = -1;
  }
  return fd;
}

static int connect_tcp(const char *hostport) {
  char host[256];
  const char *colon = strrchr(hostport, ':');
  struct addrinfo hints, *res = NULL, *ai;
  int fd = -1, rc;
  size_t hl = colon == NULL ? 0 : (size_t) (colon - hostport);
  if (colon == NULL || colon[1] == '\0' || hl >= sizeof(host)) {
    errno = EINVAL;
    return -1;
  }
  memcpy(host, hostport, hl);
  host[hl] = '\0';
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  rc = getaddrinfo(hl == 0 ? "127.0.0.1" : host, colon + 1, &hints, &res);
  if (rc != 0) {
    errno = EINVAL;
    return -1;
  }
  for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

int mg_stream_connect(const char *addr) {
  int fd, flags;
  if (addr == NULL || addr[0] == '\0') {
    errno = EINVAL;
    return -1;
  }
  if (strncmp(addr, "unix:", 5) == 0) {
    fd = connect_unix(addr + 5);
  } else if (strncmp(addr, "tcp://", 6) == 0) {
    fd = connect_tcp(addr + 6);
  } else if (strchr(addr, '/') != NULL) {
    fd = connect_unix(addr);
  } else {
    fd = connect_tcp(addr);
  }
  if (fd < 0) return -1;
  flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

const struct mg_driver mg_driver_stream = {
    .name = "stream",
    .init = stream_init,
    .tx = stream_tx,
    .rx = stream_rx,
    .poll = stream_poll,
};

#endif
