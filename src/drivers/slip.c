/* Ethernet frames over a byte stream (UART, pty, TCP socket to QEMU's
 * serial port): each frame is followed by its CRC-32 and escaped with SLIP
 * (RFC 1055), END bytes delimiting frames. The encoder and decoder are pure
 * functions; struct mg_slip adapts them to the driver contract over any
 * non-blocking read/write pair. */
#include <string.h>

#include "mg_stack.h"
#include "mg_util.h"

#if MG_ENABLE_TCPIP

static size_t put_escaped(uint8_t *out, size_t n, uint8_t b) {
  if (b == MG_SLIP_END) {
    out[n++] = MG_SLIP_ESC;
    out[n++] = MG_SLIP_ESC_END;
  } else if (b == MG_SLIP_ESC) {
    out[n++] = MG_SLIP_ESC;
    out[n++] = MG_SLIP_ESC_ESC;
  } else {
    out[n++] = b;
  }
  return n;
}

size_t mg_slip_encode(const void *frame, size_t len, void *out, size_t outlen) {
  const uint8_t *f = (const uint8_t *) frame;
  uint8_t *o = (uint8_t *) out;
  uint32_t crc = mg_crc32(0, frame, len);
  size_t n = 0, i;
  if (outlen < MG_SLIP_ENCODED_MAX(len)) return 0;
  o[n++] = MG_SLIP_END; /* flushes any line noise on the receiver */
  for (i = 0; i < len; i++) n = put_escaped(o, n, f[i]);
  for (i = 0; i < 4; i++) n = put_escaped(o, n, (uint8_t) (crc >> (8 * i)));
  o[n++] = MG_SLIP_END;
  return n;
}

size_t mg_slip_decode(struct mg_slip_decoder *d, uint8_t b) {
  if (b == MG_SLIP_END) {
    size_t n = d->len;
    bool bad = d->overflow || d->esc;
    d->len = 0;
    d->esc = d->overflow = false;
    if (n == 0 && !bad) return 0; /* back-to-back END bytes */
    if (!bad && n >= 4 + 14) {
      uint32_t crc = (uint32_t) d->buf[n - 4] | (uint32_t) d->buf[n - 3] << 8 |
                     (uint32_t) d->buf[n - 2] << 16 |
                     (uint32_t) d->buf[n - 1] << 24;
      if (mg_crc32(0, d->buf, n - 4) == crc) {
        d->good++;
        return n - 4;
      }
    }
    d->bad++;
    return 0;
  }
  if (d->esc) {
    d->esc = false;
    if (b == MG_SLIP_ESC_END) {
      b = MG_SLIP_END;
    } else if (b == MG_SLIP_ESC_ESC) {
      b = MG_SLIP_ESC;
    } else {
      d->overflow = true; /* protocol violation: discard this frame */
      return 0;
    }
  } else if (b == MG_SLIP_ESC) {
    d->esc = true;
    return 0;
  }
  if (d->len < sizeof(d->buf)) {
    d->buf[d->len++] = b;
  } else {
    d->overflow = true;
  }
  return 0;
}

static bool slip_init(void *ctx, const uint8_t mac[6]) {
  struct mg_slip *s = (struct mg_slip *) ctx;
  (void) mac;
  if (s == NULL || s->read == NULL || s->write == NULL) return false;
  memset(&s->dec, 0, sizeof(s->dec));
  s->in_pos = s->in_len = 0;
  return true;
}

static bool slip_tx(void *ctx, const void *frame, size_t len) {
  struct mg_slip *s = (struct mg_slip *) ctx;
  size_t n = mg_slip_encode(frame, len, s->enc, sizeof(s->enc)), done = 0;
  unsigned stalls = 0;
  /* The stream is non-blocking; a frame is written whole or abandoned
   * (a partial frame fails its CRC on the other side). */
  while (n > 0 && done < n && stalls < 1000) {
    size_t w = s->write(s->arg, s->enc + done, n - done);
    if (w == 0) stalls++;
    done += w;
  }
  return n > 0 && done == n;
}

static size_t slip_rx(void *ctx, void *buf, size_t len) {
  struct mg_slip *s = (struct mg_slip *) ctx;
  for (;;) {
    while (s->in_pos < s->in_len) {
      size_t n = mg_slip_decode(&s->dec, s->in[s->in_pos++]);
      if (n > 0) { /* the rest of s->in waits for the next call */
        size_t m = n < len ? n : len;
        memcpy(buf, s->dec.buf, m);
        return m;
      }
    }
    s->in_pos = 0;
    s->in_len = s->read(s->arg, s->in, sizeof(s->in));
    if (s->in_len == 0) return 0;
  }
}

static bool slip_poll(void *ctx) {
  (void) ctx;
  return true;
}

const struct mg_driver mg_driver_slip = {
    .name = "slip",
    .init = slip_init,
    .tx = slip_tx,
    .rx = slip_rx,
    .poll = slip_poll,
};

#endif /* MG_ENABLE_TCPIP */
