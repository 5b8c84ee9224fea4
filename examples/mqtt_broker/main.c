/* A small MQTT broker (3.1.1 and 5) on the cymongoose C core: sessions (clean
 * and persistent, queued QoS 1 messages for offline persistent sessions),
 * `+`/`#` wildcards, retained messages, QoS 0/1 delivery, keep-alive expiry
 * and will messages. The C twin of examples/mqtt_broker.py.
 *
 *   mqtt_broker [-p PORT] [mqtt://0.0.0.0:1883]
 *
 * The core frames packets (MG_EV_MQTT_CMD), answers PINGREQ and acknowledges
 * inbound QoS 1/2 publishes; everything else is here. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define MAX_QUEUED 1000
/* A subscriber whose send buffer holds more than this many times its
 * high-water mark (mg_send_high) is disconnected; see slow_subscriber(). */
#define SLOW_DISCONNECT_FACTOR 4

/* A session's subscriptions are a hash table keyed by the filter text, so
 * SUBSCRIBE/UNSUBSCRIBE cost O(1) per filter however many a client holds
 * (a list walked for duplicates made 50k filters quadratic). */
struct sub {
  struct sub *next; /* in its bucket */
  uint32_t hash;
  uint8_t qos;
  size_t len;
  char filter[1]; /* allocated past the struct */
};

struct subs {
  struct sub **buckets; /* nbuckets (a power of two) chains, or NULL */
  size_t nbuckets, count;
};

struct queued {
  struct queued *next;
  struct mg_str topic, payload; /* both point past the struct */
  uint8_t qos;
};

struct session {
  struct session *next;
  struct mg_connection *c; /* NULL while offline (persistent sessions) */
  char id[128];
  bool clean;
  uint8_t version;
  uint16_t keepalive;
  uint64_t last_seen;
  struct subs subs;
  struct queued *q_head, *q_tail;
  size_t q_len;
  char *will_topic, *will_msg; /* heap copies, NULL when no will */
  size_t will_topic_len, will_msg_len;
  uint8_t will_qos;
  bool will_retain;
  unsigned long dropped; /* QoS 0 deliveries dropped on this connection */
};

struct retained {
  struct retained *next;
  struct mg_str topic, payload;
  uint8_t qos;
};

struct broker {
  struct session *sessions;
  struct retained *retained;
  unsigned long anon;
};

static volatile sig_atomic_t s_stop;
static void on_signal(int sig) {
  s_stop = sig;
}

static char *dup_n(const char *p, size_t n) {
  char *s = (char *) malloc(n + 1);
  if (s != NULL) {
    if (n > 0) memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

static uint32_t filter_hash(struct mg_str f) {
  uint32_t h = 2166136261u; /* FNV-1a */
  size_t i;
  for (i = 0; i < f.len; i++) h = (h ^ (uint8_t) f.buf[i]) * 16777619u;
  return h;
}

/* The link pointing at the subscription to f, or NULL when there is none. */
static struct sub **subs_find(struct subs *t, struct mg_str f, uint32_t h) {
  struct sub **p;
  if (t->nbuckets == 0) return NULL;
  for (p = &t->buckets[h & (t->nbuckets - 1)]; *p != NULL; p = &(*p)->next) {
    if ((*p)->hash == h && (*p)->len == f.len &&
        memcmp((*p)->filter, f.buf, f.len) == 0)
      return p;
  }
  return NULL;
}

/* Doubles the table when it is as full as it has buckets. */
static bool subs_grow(struct subs *t) {
  size_t n = t->nbuckets ? t->nbuckets * 2 : 8, i;
  struct sub **b;
  if (t->count < t->nbuckets) return true;
  if ((b = (struct sub **) calloc(n, sizeof(*b))) == NULL) return false;
  for (i = 0; i < t->nbuckets; i++) {
    struct sub *sb = t->buckets[i], *next;
    for (; sb != NULL; sb = next) {
      next = sb->next;
      sb->next = b[sb->hash & (n - 1)];
      b[sb->hash & (n - 1)] = sb;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
  return true;
}

static void subs_free(struct subs *t) {
  size_t i;
  for (i = 0; i < t->nbuckets; i++) {
    while (t->buckets[i] != NULL) {
      struct sub *n = t->buckets[i]->next;
      free(t->buckets[i]);
      t->buckets[i] = n;
    }
  }
  free(t->buckets);
  memset(t, 0, sizeof(*t));
}

/* The highest QoS granted by a subscription of t matching topic, or -1. */
static int subs_granted(const struct subs *t, struct mg_str topic) {
  int granted = -1;
  size_t i;
  for (i = 0; i < t->nbuckets; i++) {
    const struct sub *sb;
    for (sb = t->buckets[i]; sb != NULL; sb = sb->next)
      if (sb->qos > granted &&
          mg_mqtt_match(topic, mg_str_n(sb->filter, sb->len)))
        granted = sb->qos;
  }
  return granted;
}

static struct session *find_session(struct broker *b, struct mg_str id) {
  struct session *s;
  for (s = b->sessions; s != NULL; s = s->next)
    if (strlen(s->id) == id.len && memcmp(s->id, id.buf, id.len) == 0)
      return s;
  return NULL;
}

static struct session *session_of(struct broker *b, struct mg_connection *c) {
  struct session *s;
  for (s = b->sessions; s != NULL; s = s->next)
    if (s->c == c) return s;
  return NULL;
}

static void clear_will(struct session *s) {
  free(s->will_topic);
  free(s->will_msg);
  s->will_topic = s->will_msg = NULL;
}

static void free_session(struct broker *b, struct session *s) {
  struct session **p;
  for (p = &b->sessions; *p != NULL; p = &(*p)->next) {
    if (*p == s) {
      *p = s->next;
      break;
    }
  }
  subs_free(&s->subs);
  while (s->q_head != NULL) {
    struct queued *n = s->q_head->next;
    free(s->q_head);
    s->q_head = n;
  }
  clear_will(s);
  free(s);
}

/* A QoS 1 message the core refuses (its per-connection queue,
 * MG_MQTT_QUEUE_MAX, is full: the client stopped acknowledging) closes the
 * connection instead of being lost silently. */
static void publish_to(struct mg_connection *c, struct mg_str topic,
                       struct mg_str payload, uint8_t qos, bool retain) {
  struct mg_mqtt_opts o;
  if (c->is_closing) return;
  memset(&o, 0, sizeof(o));
  o.topic = topic;
  o.message = payload;
  o.qos = qos;
  o.retain = retain;
  if (mg_mqtt_pub(c, &o) == 0 && qos > 0) {
    MG_ERROR(
        "conn %lu: %d QoS 1/2 messages await acknowledgement: "
        "disconnecting a subscriber that does not read",
        c->id, (int) MG_MQTT_QUEUE_MAX);
    mg_close_conn(c);
  }
}

static void enqueue(struct session *s, struct mg_str topic,
                    struct mg_str payload, uint8_t qos) {
  struct queued *q;
  if (s->q_len >= MAX_QUEUED) return;
  q = (struct queued *) malloc(sizeof(*q) + topic.len + payload.len);
  if (q == NULL) return;
  memcpy((char *) (q + 1), topic.buf, topic.len);
  if (payload.len > 0)
    memcpy((char *) (q + 1) + topic.len, payload.buf, payload.len);
  q->topic = mg_str_n((char *) (q + 1), topic.len);
  q->payload = mg_str_n((char *) (q + 1) + topic.len, payload.len);
  q->qos = qos;
  q->next = NULL;
  if (s->q_tail != NULL) {
    s->q_tail->next = q;
  } else {
    s->q_head = q;
  }
  s->q_tail = q;
  s->q_len++;
}

static void set_retained(struct broker *b, struct mg_str topic,
                         struct mg_str payload, uint8_t qos) {
  struct retained **p, *r;
  for (p = &b->retained; *p != NULL; p = &(*p)->next) {
    if (mg_strcmp((*p)->topic, topic) == 0) {
      r = *p;
      *p = r->next;
      free(r);
      break;
    }
  }
  if (payload.len == 0) return; /* an empty retained message clears it */
  r = (struct retained *) malloc(sizeof(*r) + topic.len + payload.len);
  if (r == NULL) return;
  memcpy((char *) (r + 1), topic.buf, topic.len);
  memcpy((char *) (r + 1) + topic.len, payload.buf, payload.len);
  r->topic = mg_str_n((char *) (r + 1), topic.len);
  r->payload = mg_str_n((char *) (r + 1) + topic.len, payload.len);
  r->qos = qos;
  r->next = b->retained;
  b->retained = r;
}

/* Slow subscribers (docs/protocols/mqtt.md): a QoS 0 delivery to a
 * connection whose send buffer reached its high-water mark is dropped
 * (counted, logged once per connection); a QoS 1 one is queued (by the core,
 * see publish_to), and a connection whose send buffer holds more than
 * SLOW_DISCONNECT_FACTOR times the mark is closed. So a subscriber that never
 * reads costs a bounded amount of memory instead of all of it. Returns true
 * when the delivery is skipped. */
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

static void route(struct broker *b, struct mg_str topic, struct mg_str payload,
                  uint8_t qos, bool retain) {
  struct session *s;
  if (retain) set_retained(b, topic, payload, qos);
  for (s = b->sessions; s != NULL; s = s->next) {
    int granted = subs_granted(&s->subs, topic);
    uint8_t q;
    if (granted < 0) continue;
    q = (uint8_t) (granted < qos ? granted : qos);
    if (q > 1) q = 1;
    if (s->c != NULL) {
      if (!slow_subscriber(s, q)) publish_to(s->c, topic, payload, q, false);
    } else if (q > 0) {
      enqueue(s, topic, payload, q);
    }
  }
}

/* The connection ends: publish the will unless told otherwise, forget a
 * clean session, keep a persistent one offline. */
static void drop(struct broker *b, struct mg_connection *c, bool will) {
  struct session *s = session_of(b, c);
  if (s == NULL) return;
  s->c = NULL;
  if (s->dropped > 0)
    MG_ERROR("client %s: %lu QoS 0 messages were dropped for it", s->id,
             s->dropped);
  s->dropped = 0;
  if (will && s->will_topic != NULL) {
    route(b, mg_str_n(s->will_topic, s->will_topic_len),
          mg_str_n(s->will_msg, s->will_msg_len), s->will_qos, s->will_retain);
  }
  clear_will(s);
  if (s->clean) free_session(b, s);
}

static void connack(struct mg_connection *c, uint8_t version, bool present,
                    uint8_t rc) {
  if (version == 5) {
    uint8_t p[5] = {0x20, 3, (uint8_t) present, rc, 0};
    mg_send(c, p, sizeof(p));
  } else {
    uint8_t p[4] = {0x20, 2, (uint8_t) present, rc};
    mg_send(c, p, sizeof(p));
  }
}

static void on_connect(struct broker *b, struct mg_connection *c,
                       struct mg_mqtt_message *mm) {
  struct mg_mqtt_connect_info ci;
  struct session *s;
  char idbuf[64];
  bool present = false;
  if (!mg_mqtt_parse_connect(mm, &ci) || ci.client_id.len >= sizeof(s->id)) {
    mg_close_conn(c);
    return;
  }
  if (ci.client_id.len == 0) {
    if (!ci.clean && ci.version != 5) {
      connack(c, ci.version, false, 2); /* identifier rejected */
      c->is_draining = 1;
      return;
    }
    mg_snprintf(idbuf, sizeof(idbuf), "auto-%lu", ++b->anon);
    ci.client_id = mg_str(idbuf);
  }
  s = find_session(b, ci.client_id);
  if (s != NULL && s->c != NULL) {
    struct mg_connection *old = s->c;
    bool clean = s->clean;
    s->clean = false; /* keep the session object across the takeover */
    drop(b, old, true);
    s->clean = clean;
    mg_close_conn(old);
  }
  if (s != NULL && ci.clean) {
    free_session(b, s);
    s = NULL;
  }
  if (s == NULL) {
    s = (struct session *) calloc(1, sizeof(*s));
    if (s == NULL) {
      mg_close_conn(c);
      return;
    }
    memcpy(s->id, ci.client_id.buf, ci.client_id.len);
    s->next = b->sessions;
    b->sessions = s;
  } else {
    present = true;
  }
  s->c = c;
  s->clean = ci.clean;
  s->version = ci.version;
  s->keepalive = ci.keepalive;
  s->last_seen = mg_millis();
  if (ci.will) {
    s->will_topic = dup_n(ci.will_topic.buf, ci.will_topic.len);
    s->will_msg = dup_n(ci.will_message.buf, ci.will_message.len);
    s->will_topic_len = ci.will_topic.len;
    s->will_msg_len = ci.will_message.len;
    s->will_qos = ci.will_qos;
    s->will_retain = ci.will_retain;
  }
  connack(c, ci.version, present, 0);
  while (s->q_head != NULL) {
    struct queued *q = s->q_head;
    s->q_head = q->next;
    publish_to(c, q->topic, q->payload, q->qos, false);
    free(q);
  }
  s->q_tail = NULL;
  s->q_len = 0;
}

static bool valid_filter(struct mg_str f) {
  return mg_mqtt_filter_valid(f) && memchr(f.buf, '\0', f.len) == NULL;
}

/* QoS granted to a SUBSCRIBE entry (QoS 2 is served as 1), -1 if refused. */
static int sub_qos(struct mg_str f, uint8_t opts) {
  if (!valid_filter(f) || (opts & 3) == 3) return -1;
  return (opts & 3) > 1 ? 1 : (opts & 3);
}

/* Adds or updates the subscription; returns its return code. */
static uint8_t subscribe(struct session *s, struct mg_str f, uint8_t opts) {
  int qos = sub_qos(f, opts);
  uint32_t h = filter_hash(f);
  struct sub **p, *sb;
  if (qos < 0) return 0x80;
  if ((p = subs_find(&s->subs, f, h)) != NULL) {
    (*p)->qos = (uint8_t) qos; /* a repeated filter replaces the old one */
    return (uint8_t) qos;
  }
  if (!subs_grow(&s->subs)) return 0x80;
  sb = (struct sub *) malloc(sizeof(*sb) + f.len);
  if (sb == NULL) return 0x80;
  memcpy(sb->filter, f.buf, f.len);
  sb->len = f.len;
  sb->hash = h;
  sb->qos = (uint8_t) qos;
  p = &s->subs.buckets[h & (s->subs.nbuckets - 1)];
  sb->next = *p;
  *p = sb;
  s->subs.count++;
  return (uint8_t) qos;
}

static uint8_t unsubscribe(struct session *s, struct mg_str f) {
  struct sub **p = subs_find(&s->subs, f, filter_hash(f)), *sb;
  if (p == NULL) return 0x11; /* no subscription existed */
  sb = *p;
  *p = sb->next;
  free(sb);
  s->subs.count--;
  return 0;
}

/* SUBSCRIBE and UNSUBSCRIBE: one return code per filter, however many the
 * packet holds; codes leave in chunks as they are decided. */
static void on_subscribe(struct broker *b, struct mg_connection *c,
                         struct session *s, struct mg_mqtt_message *mm,
                         bool unsub) {
  uint8_t codes[256], hdr[2] = {(uint8_t) (mm->id >> 8), (uint8_t) mm->id};
  size_t n = 0, count = 0, pos = 0;
  bool v5 = s->version == 5, send_codes = v5 || !unsub;
  struct mg_str f;
  uint8_t opts;
  struct retained *r;
  while ((pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0) count++;
  mg_mqtt_send_header(c, unsub ? MQTT_CMD_UNSUBACK : MQTT_CMD_SUBACK, 0,
                      (uint32_t) (2 + (v5 ? 1 : 0) + (send_codes ? count : 0)));
  mg_send(c, hdr, 2);
  if (v5) mg_send(c, "", 1); /* no properties */
  while ((pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0) {
    codes[n++] = unsub ? unsubscribe(s, f) : subscribe(s, f, opts);
    if (n == sizeof(codes)) {
      if (send_codes) mg_send(c, codes, n);
      n = 0;
    }
  }
  if (send_codes && n > 0) mg_send(c, codes, n);
  if (unsub) return;
  /* Retained messages matching the filters of this packet, once each at the
   * highest QoS these filters grant. */
  for (r = b->retained; r != NULL; r = r->next) {
    int granted = -1;
    while ((pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0) {
      int q = sub_qos(f, opts);
      if (q > granted && mg_mqtt_match(r->topic, f) &&
          subs_find(&s->subs, f, filter_hash(f)) != NULL)
        granted = q;
    }
    if (granted >= 0)
      publish_to(c, r->topic, r->payload,
                 (uint8_t) (granted < r->qos ? granted : r->qos), true);
  }
}

static void fn(struct mg_connection *c, int ev, void *ev_data) {
  struct broker *b = (struct broker *) c->fn_data;
  if (ev == MG_EV_READ) {
    struct session *s = session_of(b, c);
    if (s != NULL) s->last_seen = mg_millis();
  } else if (ev == MG_EV_MQTT_CMD) {
    struct mg_mqtt_message *mm = (struct mg_mqtt_message *) ev_data;
    struct session *s = session_of(b, c);
    if (mm->cmd == MQTT_CMD_CONNECT) {
      if (s != NULL) { /* a second CONNECT is a protocol violation */
        drop(b, c, true);
        mg_close_conn(c);
      } else {
        on_connect(b, c, mm);
      }
    } else if (s == NULL) {
      mg_close_conn(c); /* nothing is allowed before CONNECT */
    } else if (mm->cmd == MQTT_CMD_PUBLISH) {
      route(b, mm->topic, mm->data, mm->qos, (mm->dgram.buf[0] & 1) != 0);
    } else if (mm->cmd == MQTT_CMD_SUBSCRIBE) {
      on_subscribe(b, c, s, mm, false);
    } else if (mm->cmd == MQTT_CMD_UNSUBSCRIBE) {
      on_subscribe(b, c, s, mm, true);
    } else if (mm->cmd == MQTT_CMD_DISCONNECT) {
      drop(b, c, false);
      mg_close_conn(c);
    }
  } else if (ev == MG_EV_CLOSE) {
    drop(b, c, true);
  }
}

static void expire(void *arg) {
  struct broker *b = (struct broker *) arg;
  struct session *s, *next;
  uint64_t now = mg_millis();
  for (s = b->sessions; s != NULL; s = next) {
    next = s->next;
    if (s->c != NULL && s->keepalive > 0 &&
        now - s->last_seen > (uint64_t) s->keepalive * 1500) {
      struct mg_connection *c = s->c;
      drop(b, c, true); /* may free s */
      mg_close_conn(c);
    }
  }
}

int main(int argc, char *argv[]) {
  const char *url = "mqtt://0.0.0.0:1883";
  char url_buf[64];
  struct mg_mgr mgr;
  struct broker b;
  int i;
  /* mqtt_broker [-v] [-p PORT] [URL]: -p as mosquitto's, -v accepted, no-op */
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
      mg_snprintf(url_buf, sizeof(url_buf), "mqtt://0.0.0.0:%s", argv[++i]);
      url = url_buf;
    } else if (strcmp(argv[i], "-v") != 0) {
      url = argv[i];
    }
  }
  memset(&b, 0, sizeof(b));
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  mg_log_set(MG_LL_ERROR); /* e.g. running out of descriptors, on stderr */
  mg_mgr_init(&mgr);
  if (mg_mqtt_listen(&mgr, url, fn, &b) == NULL) {
    fprintf(stderr, "cannot listen on %s\n", url);
    return 1;
  }
  mg_timer_add(&mgr, 500, MG_TIMER_REPEAT | MG_TIMER_AUTODELETE, expire, &b);
  printf("MQTT broker listening on %s\n", url);
  fflush(stdout);
  while (s_stop == 0) mg_mgr_poll(&mgr, 100);
  mg_mgr_free(&mgr);
  while (b.sessions != NULL) free_session(&b, b.sessions);
  while (b.retained != NULL) {
    struct retained *r = b.retained;
    b.retained = r->next;
    free(r);
  }
  return 0;
}
