/* Software timers, run from mg_mgr_poll(). */
#include <stdlib.h>

#include "mg_core.h"

struct mg_timer *mg_timer_add(struct mg_mgr *mgr, uint64_t period_ms,
                              unsigned flags, void (*fn)(void *), void *arg) {
  struct mg_timer *t = (struct mg_timer *) calloc(1, sizeof(*t)), **tail;
  if (t == NULL) return NULL;
  t->id = ++mgr->next_timer_id;
  t->period_ms = period_ms;
  t->flags = flags & (MG_TIMER_REPEAT | MG_TIMER_RUN_NOW | MG_TIMER_AUTODELETE);
  t->expire = mg_millis() + ((flags & MG_TIMER_RUN_NOW) ? 0 : period_ms);
  t->fn = fn;
  t->arg = arg;
  /* Append, so timers due at the same time fire in creation order. */
  for (tail = &mgr->timers; *tail != NULL; tail = &(*tail)->next) (void) 0;
  *tail = t;
  return t;
}

void mg_timer_cancel(struct mg_timer *t) {
  if (t != NULL) t->flags |= MG_TIMER_CANCELLED;
}

void mg_timer_free(struct mg_mgr *mgr, struct mg_timer *t) {
  struct mg_timer **p;
  for (p = &mgr->timers; *p != NULL; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      if (t->flags & MG_TIMER_AUTODELETE) free(t);
      return;
    }
  }
}

/* Unlinks cancelled and finished timers. Only called between callbacks. */
static void sweep(struct mg_mgr *mgr) {
  struct mg_timer **p = &mgr->timers;
  while (*p != NULL) {
    struct mg_timer *t = *p;
    if (t->flags & MG_TIMER_CANCELLED) {
      *p = t->next;
      if (t->flags & MG_TIMER_AUTODELETE) free(t);
    } else {
      p = &t->next;
    }
  }
}

long mg_timer_poll(struct mg_mgr *mgr, uint64_t now_ms) {
  struct mg_timer *t;
  unsigned long last_id = mgr->next_timer_id; /* timers added by callbacks
                                                 wait for the next poll */
  long next = -1;
  sweep(mgr);
  for (t = mgr->timers; t != NULL; t = t->next) {
    if (t->id > last_id || (t->flags & MG_TIMER_CANCELLED)) continue;
    if (t->expire > now_ms) continue;
    if (t->flags & MG_TIMER_REPEAT) {
      /* Keep the phase when a little late; when late by more than half a
       * period, re-anchor instead of firing a catch-up burst. So two calls
       * are always at least period/2 apart. */
      if (now_ms - t->expire > t->period_ms / 2) {
        t->expire = now_ms + t->period_ms;
      } else {
        t->expire += t->period_ms;
      }
    } else {
      t->flags |= MG_TIMER_CANCELLED; /* one-shot: done after this call */
    }
    t->flags |= MG_TIMER_CALLED;
    t->fn(t->arg);
  }
  sweep(mgr);
  for (t = mgr->timers; t != NULL; t = t->next) {
    long left = t->expire > now_ms ? (long) (t->expire - now_ms) : 0;
    if (next < 0 || left < next) next = left;
  }
  return next;
}
