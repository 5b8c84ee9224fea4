/* Will messages: published when a connection ends without a normal
 * DISCONNECT (or with DISCONNECT 0x04), after the MQTT 5 will delay unless
 * the session resumes first or ends sooner. */
#include "broker.h"

void will_set(struct session *s, struct msg *m, uint32_t delay) {
  will_clear(s);
  s->will.m = m;
  s->will.delay = delay;
}

void will_clear(struct session *s) {
  msg_unref(s->will.m);
  s->will.m = NULL;
  s->will_at = 0;
}

void will_fire(struct broker *b, struct session *s) {
  struct msg *m = s->will.m;
  if (m == NULL) return;
  s->will.m = NULL;
  s->will_at = 0;
  route(b, m, NULL);
  msg_unref(m);
}

/* Delayed wills whose time has come. */
void will_poll(struct broker *b, uint64_t now) {
  struct session *s;
  for (s = b->sessions; s != NULL; s = s->next)
    if (s->c == NULL && s->will.m != NULL && s->will_at != 0 &&
        now >= s->will_at)
      will_fire(b, s);
}
