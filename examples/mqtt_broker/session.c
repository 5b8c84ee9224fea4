/* Sessions: outgoing QoS 1/2 flows (in flight up to the client's Receive
 * Maximum, the rest waiting in order), offline queues of persistent
 * sessions, resending on resume, the slow-subscriber policy. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

struct session *session_find(struct broker *b, struct mg_str id) {
  struct session *s;
  for (s = b->sessions; s != NULL; s = s->next)
    if (s->id_len == id.len && memcmp(s->id, id.buf, id.len) == 0) return s;
  return NULL;
}

struct session *session_new(struct broker *b, struct mg_str id) {
  struct session *s = (struct session *) calloc(1, sizeof(*s));
  if (s == NULL) return NULL;
  if ((s->id = (char *) malloc(id.len + 1)) == NULL) {
    free(s);
    return NULL;
  }
  memcpy(s->id, id.buf, id.len);
  s->id[id.len] = '\0';
  s->id_len = id.len;
  s->next = b->sessions;
  b->sessions = s;
  return s;
}

static void delivery_free(struct delivery *d) {
  msg_unref(d->m);
  free(d);
}

void session_free(struct broker *b, struct session *s) {
  struct session **p;
  for (p = &b->sessions; *p != NULL; p = &(*p)->next) {
    if (*p == s) {
      *p = s->next;
      break;
    }
  }
  subs_free(&s->subs);
  while (s->out != NULL) {
    struct delivery *n = s->out->next;
    delivery_free(s->out);
    s->out = n;
  }
  will_clear(s);
  aliases_reset(s, 0);
  free(s->id);
  free(s);
}

/* Drops what a session holds but its will (the session ended, its
 * delayed will still waits). */
static void session_end(struct session *s) {
  subs_free(&s->subs);
  while (s->out != NULL) {
    struct delivery *n = s->out->next;
    delivery_free(s->out);
    s->out = n;
  }
  s->out_tail = NULL;
  s->out_len = 0;
  memset(s->rx_qos2, 0, sizeof(s->rx_qos2));
  s->ended = true;
}

/* The connection of s ended: the will goes out now or after its delay
 * (unless told otherwise); a session without expiry ends. Like mosquitto,
 * a delayed will waits its delay even when the session ended sooner, and
 * any new connection of that client id cancels it. */
void session_offline(struct broker *b, struct session *s, bool will) {
  uint64_t now = mg_millis();
  s->c = NULL;
  s->gone_at = now;
  s->inflight = 0; /* all resent on resume */
  if (s->dropped > 0)
    MG_ERROR("client %s: %lu QoS 0 messages were dropped for it", s->id,
             s->dropped);
  s->dropped = 0;
  if (!will) will_clear(s);
  if (s->will.m != NULL) {
    if (s->will.delay == 0) {
      will_fire(b, s);
    } else {
      s->will_at = now + (uint64_t) s->will.delay * 1000;
    }
  }
  if (s->expiry == 0 && s->will.m == NULL) {
    session_free(b, s);
  } else if (s->expiry == 0) {
    session_end(s);
  }
}

static size_t quota(const struct session *s) {
  return s->rx_max < MG_MQTT_INFLIGHT_MAX ? s->rx_max : MG_MQTT_INFLIGHT_MAX;
}

/* A packet id no message in flight uses. */
static uint16_t next_id(struct session *s) {
  for (;;) {
    struct delivery *d;
    size_t i;
    if (++s->next_id == 0) s->next_id = 1;
    for (d = s->out, i = 0; d != NULL && i < s->inflight; d = d->next, i++)
      if (d->id == s->next_id) break;
    if (d == NULL || i == s->inflight) return s->next_id;
  }
}

/* Unlinks d, which follows prev (NULL: the head). */
static void unlink_delivery(struct session *s, struct delivery *prev,
                            struct delivery *d) {
  if (prev == NULL) {
    s->out = d->next;
  } else {
    prev->next = d->next;
  }
  if (s->out_tail == d) s->out_tail = prev;
  s->out_len--;
  delivery_free(d);
}

/* Sends waiting messages while the client's Receive Maximum allows. The
 * ones in flight are always a prefix of the list. */
static void pump(struct session *s) {
  struct delivery *prev = NULL, *d = s->out;
  size_t i;
  uint64_t now = mg_millis();
  if (s->c == NULL || s->c->is_closing) return;
  for (i = 0; i < s->inflight && d != NULL; i++) prev = d, d = d->next;
  while (d != NULL && s->inflight < quota(s)) {
    struct delivery *next = d->next;
    d->id = next_id(s);
    if (msg_expired(d->m, now) || !send_publish(s->c, s, d, false)) {
      unlink_delivery(s, prev, d); /* expired or too large: discarded */
    } else {
      d->sent = true;
      s->inflight++;
      prev = d;
    }
    d = next;
  }
}

/* Slow subscribers (docs/protocols/mqtt.md): a QoS 0 delivery to a
 * connection whose send buffer reached its high-water mark is dropped
 * (counted, logged once per connection); a connection whose send buffer
 * holds more than SLOW_DISCONNECT_FACTOR times the mark is closed. So a
 * subscriber that never reads costs bounded memory. Returns true when the
 * delivery is skipped. */
static bool slow_subscriber(struct session *s, uint8_t qos) {
  struct mg_connection *c = s->c;
  size_t high = mg_send_high(c);
  if (c->is_closing) return true;
  if (high == 0 || c->send.len < high) return false; /* no mark, or room */
  if (c->send.len > SLOW_DISCONNECT_FACTOR * high) {
    MG_ERROR(
        "client %s: %lu bytes queued, more than %d x its %lu-byte "
        "high-water mark: disconnecting a subscriber that does not read",
        s->id, (unsigned long) c->send.len, SLOW_DISCONNECT_FACTOR,
        (unsigned long) high);
    mg_close_conn(c);
    return true;
  }
  if (qos > 0) return false;
  if (s->dropped++ == 0)
    MG_ERROR(
        "client %s: send buffer at its high-water mark (%lu bytes), "
        "dropping QoS 0 messages for it",
        s->id, (unsigned long) high);
  return true;
}

/* Gives m to s at the granted QoS: QoS 0 goes out now (online only), QoS
 * 1/2 joins the session's list (BROKER_QUEUE_MAX at most). */
void session_deliver(struct session *s, struct msg *m, uint8_t qos, bool retain,
                     const uint32_t *subids, uint8_t nsubids) {
  struct delivery *d, tmp;
  if (s->c != NULL && slow_subscriber(s, qos)) return;
  if (qos == 0) {
    if (s->c == NULL) return; /* not kept for offline sessions */
    memset(&tmp, 0, sizeof(tmp));
    tmp.m = m, tmp.retain = retain, tmp.nsubids = nsubids;
    memcpy(tmp.subids, subids, nsubids * sizeof(*subids));
    send_publish(s->c, s, &tmp, false);
    return;
  }
  if (s->out_len >= BROKER_QUEUE_MAX) {
    if (s->c != NULL) {
      MG_ERROR(
          "client %s: %d QoS 1/2 messages await acknowledgement: "
          "disconnecting a subscriber that does not read",
          s->id, BROKER_QUEUE_MAX);
      mg_close_conn(s->c);
    } else if (s->dropped++ == 0) {
      MG_ERROR("client %s: offline queue full (%d), dropping messages", s->id,
               BROKER_QUEUE_MAX);
    }
    return;
  }
  if ((d = (struct delivery *) calloc(1, sizeof(*d))) == NULL) return;
  d->m = m;
  m->refs++;
  d->qos = qos;
  d->retain = retain;
  d->nsubids = nsubids;
  memcpy(d->subids, subids, nsubids * sizeof(*subids));
  if (s->out_tail != NULL) {
    s->out_tail->next = d;
  } else {
    s->out = d;
  }
  s->out_tail = d;
  s->out_len++;
  pump(s);
}

/* A client resumed its session: what was in flight goes out again as it
 * was (PUBLISH with DUP, or PUBREL), then what waits. */
void session_resume(struct session *s) {
  struct delivery *d;
  uint64_t now = mg_millis();
  for (d = s->out; d != NULL && d->sent; d = d->next) {
    if (d->rel) {
      send_ack(s->c, MQTT_CMD_PUBREL, d->id, 0, s->version);
    } else if (msg_expired(d->m, now) && s->version == 5) {
      continue; /* v5: an expired message is not sent again */
    } else {
      send_publish(s->c, s, d, true);
    }
    s->inflight++;
  }
  pump(s);
}

/* PUBACK, PUBREC, PUBCOMP from the client. False when the packet does not
 * fit the exchange of its id (a protocol error). */
bool session_ack(struct session *s, struct mg_mqtt_message *mm) {
  struct delivery *prev = NULL, *d;
  size_t i;
  for (d = s->out, i = 0; d != NULL && i < s->inflight;
       prev = d, d = d->next, i++)
    if (d->id == mm->id) break;
  if (d == NULL || i == s->inflight) {
    /* Unknown id (e.g. a repeated acknowledgement): tolerated; a PUBREC
     * still gets its PUBREL so the client can finish. */
    if (mm->cmd == MQTT_CMD_PUBREC && mm->ack < 0x80)
      send_ack(s->c, MQTT_CMD_PUBREL, mm->id,
               s->version == 5 ? RC_ID_NOT_FOUND : 0, s->version);
    return true;
  }
  if (mm->cmd == MQTT_CMD_PUBACK) {
    if (d->qos != 1) return false;
  } else if (mm->cmd == MQTT_CMD_PUBREC) {
    if (d->qos != 2 || d->rel) return d->qos == 2;
    if (mm->ack < 0x80) {
      d->rel = true;
      send_ack(s->c, MQTT_CMD_PUBREL, d->id, 0, s->version);
      return true;
    }
  } else if (mm->cmd == MQTT_CMD_PUBCOMP) {
    if (d->qos != 2 || !d->rel) return false;
  }
  unlink_delivery(s, prev, d);
  s->inflight--;
  pump(s);
  return true;
}

/* Offline sessions past their expiry end (their pending will goes
 * first); ended ones go once their delayed will went out. */
void session_expire(struct broker *b, uint64_t now) {
  struct session *s, *next;
  for (s = b->sessions; s != NULL; s = next) {
    next = s->next;
    if (s->c != NULL) continue;
    if (s->ended ? s->will.m == NULL
                 : s->expiry != 0xFFFFFFFFu &&
                       now - s->gone_at >= (uint64_t) s->expiry * 1000) {
      will_fire(b, s);
      session_free(b, s);
    }
  }
}

bool rx_qos2_has(struct session *s, uint16_t id) {
  size_t i;
  for (i = 0; i < BROKER_RX_QOS2_MAX; i++)
    if (s->rx_qos2[i] == id) return true;
  return false;
}

/* Records an inbound QoS 2 id until its PUBREL; false when limit ids are
 * already waiting (the client broke our limit). */
bool rx_qos2_add(struct session *s, uint16_t id, size_t limit) {
  size_t i, used = 0, free_slot = BROKER_RX_QOS2_MAX;
  for (i = 0; i < BROKER_RX_QOS2_MAX; i++) {
    if (s->rx_qos2[i] != 0) {
      used++;
    } else if (free_slot == BROKER_RX_QOS2_MAX) {
      free_slot = i;
    }
  }
  if (used >= limit || free_slot == BROKER_RX_QOS2_MAX) return false;
  s->rx_qos2[free_slot] = id;
  return true;
}

void rx_qos2_del(struct session *s, uint16_t id) {
  size_t i;
  for (i = 0; i < BROKER_RX_QOS2_MAX; i++)
    if (s->rx_qos2[i] == id) s->rx_qos2[i] = 0;
}
