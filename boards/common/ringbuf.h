/* Single-producer single-consumer byte ring: an interrupt handler pushes,
 * the main loop pops, with no lock. Capacity is a power of two; head and
 * tail run freely and wrap naturally as unsigned 32-bit counters. */
#ifndef BOARDS_RINGBUF_H
#define BOARDS_RINGBUF_H

#include <stddef.h>
#include <stdint.h>

struct ringbuf {
  uint8_t *buf;
  uint32_t mask;           /* capacity - 1 */
  volatile uint32_t head;  /* written by the producer only */
  volatile uint32_t tail;  /* written by the consumer only */
  volatile uint32_t dropped; /* bytes refused because the ring was full */
};

static inline void ringbuf_init(struct ringbuf *r, uint8_t *storage,
                                uint32_t capacity_pow2) {
  r->buf = storage;
  r->mask = capacity_pow2 - 1u;
  r->head = r->tail = 0;
  r->dropped = 0;
}

static inline uint32_t ringbuf_used(const struct ringbuf *r) {
  return r->head - r->tail;
}

static inline int ringbuf_full(const struct ringbuf *r) {
  return r->head - r->tail > r->mask;
}

/* Producer side. Returns 0 and counts the byte as dropped when full. */
static inline int ringbuf_push(struct ringbuf *r, uint8_t byte) {
  uint32_t head = r->head;
  if (head - r->tail > r->mask) {
    r->dropped++;
    return 0;
  }
  r->buf[head & r->mask] = byte;
  __asm__ volatile("" ::: "memory"); /* store the byte before publishing it */
  r->head = head + 1u;
  return 1;
}

/* Consumer side: copies up to len bytes out, returns how many. */
static inline size_t ringbuf_pop(struct ringbuf *r, uint8_t *out, size_t len) {
  uint32_t tail = r->tail, avail = r->head - tail;
  size_t n = 0;
  __asm__ volatile("" ::: "memory"); /* read head before the bytes */
  while (n < len && n < avail) {
    out[n] = r->buf[(tail + (uint32_t) n) & r->mask];
    n++;
  }
  __asm__ volatile("" ::: "memory");
  r->tail = tail + (uint32_t) n;
  return n;
}

#endif /* BOARDS_RINGBUF_H */
