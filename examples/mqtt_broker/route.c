/* Messages: routing to subscriptions ($share groups get one copy each),
 * retained messages and message expiry. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* One allocation: the struct, then topic, payload and properties. */
struct msg *msg_new(struct mg_str topic, struct mg_str payload,
                    const uint8_t *props, size_t props_len, uint8_t qos,
                    bool retain, uint32_t expiry, bool has_expiry) {
  struct msg *m =
      (struct msg *) malloc(sizeof(*m) + topic.len + payload.len + props_len);
  char *p = (char *) (m + 1);
  if (m == NULL) return NULL;
  memcpy(p, topic.buf, topic.len);
  m->topic = mg_str_n(p, topic.len);
  p += topic.len;
  if (payload.len) memcpy(p, payload.buf, payload.len);
  m->payload = mg_str_n(p, payload.len);
  p += payload.len;
  if (props_len) memcpy(p, props, props_len);
  m->props = (const uint8_t *) p;
  m->props_len = props_len;
  m->expires = has_expiry ? mg_millis() + (uint64_t) expiry * 1000 : 0;
  if (has_expiry && m->expires == 0) m->expires = 1;
  m->qos = qos;
  m->retain = retain;
  m->refs = 1;
  return m;
}

void msg_unref(struct msg *m) {
  if (m != NULL && --m->refs == 0) free(m);
}

bool msg_expired(const struct msg *m, uint64_t now) {
  return m->expires != 0 && now >= m->expires;
}

struct candidate {
  struct session *s;
  struct sub *sb;
};

static bool same_group(const struct sub *a, const struct sub *b) {
  return a->len == b->len && memcmp(a->filter, b->filter, a->len) == 0;
}

/* One subscriber of each $share group gets the message: the members take
 * turns in the order they subscribed. */
static size_t route_shared(struct msg *m, struct candidate *cand, size_t n) {
  size_t i, j, delivered = 0;
  for (i = 0; i < n; i++) {
    struct candidate *pick = NULL, *first = NULL;
    uint64_t last = 0;
    uint8_t q;
    if (cand[i].s == NULL) continue; /* its group was served */
    for (j = i; j < n; j++)
      if (cand[j].s != NULL && same_group(cand[j].sb, cand[i].sb) &&
          cand[j].sb->share_last > last)
        last = cand[j].sb->share_last;
    for (j = i; j < n; j++) {
      const struct sub *sb = cand[j].sb;
      if (cand[j].s == NULL || !same_group(sb, cand[i].sb)) continue;
      if (first == NULL || sb->seq < first->sb->seq) first = &cand[j];
      if (sb->seq > last && (pick == NULL || sb->seq < pick->sb->seq))
        pick = &cand[j];
    }
    if (pick == NULL) pick = first;
    q = pick->sb->opts & 3;
    session_deliver(pick->s, m, q < m->qos ? q : m->qos, false,
                    &pick->sb->subid, pick->sb->subid ? 1 : 0);
    delivered++;
    for (j = n; j-- > i;) {
      if (cand[j].s != NULL && same_group(cand[j].sb, cand[i].sb)) {
        cand[j].sb->share_last = pick->sb->seq;
        cand[j].s = NULL;
      }
    }
  }
  return delivered;
}

/* Delivers m to every matching subscription; returns how many sessions
 * were matched (for the v5 "no matching subscribers" reason). */
size_t route(struct broker *b, struct msg *m, struct session *from) {
  struct session *s;
  struct candidate *cand = NULL;
  size_t ncand = 0, matched = 0, i;
  if (m->retain) retained_set(b, m);
  for (s = b->sessions; s != NULL; s = s->next) {
    int qos = -1;
    bool retain = false;
    uint32_t ids[BROKER_SUBIDS_MAX];
    uint8_t nids = 0;
    for (i = 0; i < s->subs.nbuckets; i++) {
      struct sub *sb;
      for (sb = s->subs.buckets[i]; sb != NULL; sb = sb->next) {
        if (!mg_mqtt_match(m->topic, sub_filter(sb))) continue;
        if (sb->skip > 0) { /* $share: decided below */
          struct candidate *nc =
              (struct candidate *) realloc(cand, (ncand + 1) * sizeof(*cand));
          if (nc == NULL) continue;
          cand = nc;
          cand[ncand].s = s, cand[ncand].sb = sb, ncand++;
          continue;
        }
        if (((sb->opts & 4) || s->bridge) && s == from) continue; /* No Local */
        if ((int) (sb->opts & 3) > qos) qos = sb->opts & 3;
        if (sb->opts & 8) retain = m->retain; /* Retain As Published */
        if (sb->subid && nids < BROKER_SUBIDS_MAX) ids[nids++] = sb->subid;
      }
    }
    if (qos < 0) continue;
    matched++;
    session_deliver(s, m, (uint8_t) (qos < m->qos ? qos : m->qos), retain, ids,
                    nids);
  }
  matched += route_shared(m, cand, ncand);
  free(cand);
  return matched;
}

/* Stores m as the retained message of its topic; an empty one clears it. */
void retained_set(struct broker *b, struct msg *m) {
  struct retained **p, *r;
  for (p = &b->retained; *p != NULL; p = &(*p)->next) {
    if (mg_strcmp((*p)->m->topic, m->topic) == 0) {
      r = *p;
      *p = r->next;
      msg_unref(r->m);
      free(r);
      break;
    }
  }
  if (m->payload.len == 0) return;
  if ((r = (struct retained *) malloc(sizeof(*r))) == NULL) return;
  r->m = m;
  m->refs++;
  r->next = b->retained;
  b->retained = r;
}

/* Retained messages for a new subscription, by its Retain Handling: 0
 * always, 1 only when the subscription is new, 2 never; none for $share. */
void retained_send(struct broker *b, struct session *s, const struct sub *sb,
                   bool existed) {
  uint8_t rh = (sb->opts >> 4) & 3, q = sb->opts & 3;
  struct retained **p = &b->retained, *r;
  uint64_t now = mg_millis();
  if (sb->skip > 0 || rh == 2 || (rh == 1 && existed)) return;
  while ((r = *p) != NULL) {
    if (msg_expired(r->m, now)) {
      *p = r->next;
      msg_unref(r->m);
      free(r);
      continue;
    }
    if (mg_mqtt_match(r->m->topic, sub_filter(sb)))
      session_deliver(s, r->m, q < r->m->qos ? q : r->m->qos, true, &sb->subid,
                      sb->subid ? 1 : 0);
    p = &r->next;
  }
}

void retained_free(struct broker *b) {
  while (b->retained != NULL) {
    struct retained *r = b->retained;
    b->retained = r->next;
    msg_unref(r->m);
    free(r);
  }
}

/* Whether any subscription matches m (No Local ones count, as mosquitto
 * counts them). */
bool has_subscribers(struct broker *b, const struct msg *m,
                     const struct session *from) {
  const struct session *s;
  (void) from;
  size_t i;
  for (s = b->sessions; s != NULL; s = s->next) {
    for (i = 0; i < s->subs.nbuckets; i++) {
      const struct sub *sb;
      for (sb = s->subs.buckets[i]; sb != NULL; sb = sb->next)
        if (mg_mqtt_match(m->topic, sub_filter(sb))) return true;
    }
  }
  return false;
}
