/* An in-memory Ethernet link between two interfaces, for tests. Each
 * direction is a bounded queue of frames stamped with a delivery time; a
 * seeded PRNG decides, per frame, loss, duplication and reordering (an extra
 * random delay), so a given seed always replays the same impairments. */
#include <string.h>

#include "mg_stack.h"

#if MG_ENABLE_TCPIP

static uint32_t link_rand(struct mg_link *l) {
  uint64_t x = l->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  l->rng = x;
  return (uint32_t) ((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static bool chance(struct mg_link *l, uint16_t per_mille) {
  return per_mille > 0 && link_rand(l) % 1000 < per_mille;
}

static uint64_t link_now(const struct mg_link *l) {
  return l->clock != NULL ? l->clock() : l->now;
}

void mg_link_init(struct mg_link *l, uint64_t seed) {
  memset(l, 0, sizeof(*l));
  l->seed = seed;
  l->rng = seed * 2 + 1;
  l->up = true;
}

/* Inserts keeping the queue sorted by delivery time (stable for ties). */
static void enqueue(struct mg_link_dir *d, uint64_t at, const void *frame,
                    size_t len) {
  uint32_t i = d->count;
  if (d->count >= MG_LINK_QUEUE) {
    d->dropped++; /* a full wire drops, like a switch buffer */
    return;
  }
  while (i > 0 && d->q[i - 1].at > at) {
    d->q[i] = d->q[i - 1];
    i--;
  }
  d->q[i].at = at;
  d->q[i].len = (uint16_t) len;
  memcpy(d->q[i].data, frame, len);
  d->count++;
}

static bool link_init(void *ctx, const uint8_t mac[6]) {
  (void) mac;
  return ctx != NULL;
}

static bool link_tx(void *ctx, const void *frame, size_t len) {
  struct mg_link_end *e = (struct mg_link_end *) ctx;
  struct mg_link *l = e->link;
  struct mg_link_dir *d = &l->dir[e->side];
  uint64_t at = link_now(l) + l->delay_ms;
  if (len > MG_TCPIP_FRAME_MAX || !l->up) return false;
  d->sent++;
  if (chance(l, l->loss)) {
    d->dropped++;
    return true; /* lost on the wire: the sender cannot tell */
  }
  if (chance(l, l->reorder) && l->reorder_ms > 0) {
    at += 1 + link_rand(l) % l->reorder_ms;
    d->reordered++;
  }
  enqueue(d, at, frame, len);
  if (chance(l, l->dup)) {
    d->duplicated++;
    enqueue(d, at + (l->reorder_ms > 0 ? link_rand(l) % l->reorder_ms : 0),
            frame, len);
  }
  return true;
}

static size_t link_rx(void *ctx, void *buf, size_t len) {
  struct mg_link_end *e = (struct mg_link_end *) ctx;
  struct mg_link *l = e->link;
  struct mg_link_dir *d = &l->dir[1 - e->side]; /* frames sent by the peer */
  size_t n;
  if (d->count == 0 || d->q[0].at > link_now(l)) return 0;
  n = d->q[0].len < len ? d->q[0].len : len;
  memcpy(buf, d->q[0].data, n);
  d->count--;
  memmove(&d->q[0], &d->q[1], d->count * sizeof(d->q[0]));
  d->delivered++;
  return n;
}

static bool link_poll(void *ctx) {
  struct mg_link_end *e = (struct mg_link_end *) ctx;
  return e->link->up;
}

const struct mg_driver mg_driver_link = {
    .name = "link",
    .init = link_init,
    .tx = link_tx,
    .rx = link_rx,
    .poll = link_poll,
};

#endif /* MG_ENABLE_TCPIP */
