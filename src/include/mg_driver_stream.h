/* Length-prefixed Ethernet frames over a byte stream: each frame (no FCS)
 * follows its length as a 4-byte big-endian number. That is the framing of
 * QEMU's "-netdev stream" / "-nic socket"; the stack's stream driver
 * (struct mg_stream in mg_stack.h, src/drivers/stream.c) speaks it over a
 * socket. The codec below is sans-IO and portable (bytes in, frames out), so
 * it is unit-tested and fuzzable on its own and usable over any byte pipe. */
#ifndef MG_DRIVER_STREAM_H
#define MG_DRIVER_STREAM_H

#include "mg_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MG_STREAM_HDR 4

/* Decoder state kept between calls: bytes of an oversized frame still to be
 * skipped, and how many such frames were dropped. */
struct mg_stream_dec {
  size_t skip;
  uint32_t bad;
};

/* Writes the 4-byte header announcing a frame of len bytes. */
void mg_stream_hdr(uint8_t out[MG_STREAM_HDR], size_t len);

/* Looks at the len received bytes in buf. Returns how many of them the
 * caller may drop from its buffer: 0 means "need more bytes". When a whole
 * frame (at most max bytes) is at the front, *frame points at it inside buf
 * and *flen is its length; otherwise *frame is NULL (the consumed bytes were
 * a header or a piece of a frame longer than max, which is skipped whole so
 * the stream stays in step). */
size_t mg_stream_parse(struct mg_stream_dec *d, const uint8_t *buf, size_t len,
                       size_t max, const uint8_t **frame, size_t *flen);

#if MG_ENABLE_DRIVER_STREAM && MG_ARCH == MG_ARCH_POSIX && defined(__unix__)
/* Host only: a connected, non-blocking stream socket to addr, which is
 * "unix:PATH", a path containing '/', "tcp://HOST:PORT" or "HOST:PORT"
 * (e.g. a QEMU "-netdev stream,server=on" listener). Returns the fd, or -1
 * (errno set) when addr is malformed or the connection failed. Put it in
 * struct mg_stream .fd. */
int mg_stream_connect(const char *addr);
#endif

#ifdef __cplusplus
}
#endif
#endif /* MG_DRIVER_STREAM_H */
