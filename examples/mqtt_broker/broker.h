/* The C example broker: shared types and limits. One feature per file:
 *   main.c      listener, framing, CONNECT/DISCONNECT, timers
 *   wire.c      packet encoders, UTF-8 and topic checks, v5 properties
 *   subs.c      subscription tables (options, identifiers, $share)
 *   session.c   sessions: outgoing QoS 1/2 flows, offline queues, resume
 *   route.c     messages: routing, retained messages, expiry
 *   will.c      will messages (with MQTT 5 will delay)
 * The broker frames MQTT itself with the core's sans-IO parser
 * (mg_mqtt_parse) so it decides every acknowledgement: reason codes,
 * rejections and QoS 2 exchanges of persistent sessions. */
#ifndef BROKER_H
#define BROKER_H

#include "mg.h"

/* Limits (documented in docs/protocols/mqtt.md). */
#ifndef BROKER_QUEUE_MAX
#define BROKER_QUEUE_MAX 1000 /* QoS 1/2 messages held per session */
#endif
#define BROKER_RECEIVE_MAX 20  /* inbound QoS 2 in flight, MQTT 5 (announced) \
                                */
#define BROKER_RX_QOS2_MAX 100 /* the same for 3.1.1, which cannot be told */
#define BROKER_ALIAS_MAX 10    /* topic aliases a client may set (announced) */
#define BROKER_SUBIDS_MAX 8    /* subscription identifiers on one delivery */
#define BROKER_TOPIC_LEVELS_MAX 200 /* levels of a topic or filter */
/* A connection being closed after its last answers (DISCONNECT, CONNACK
 * with an error) is closed anyway after this long if the peer does not
 * read them. */
#define BROKER_DRAIN_MS 2000
/* A subscriber whose send buffer holds more than this many times its
 * high-water mark (mg_send_high) is disconnected; see route.c. */
#define SLOW_DISCONNECT_FACTOR 4

/* v5 reason codes used here. */
enum {
  RC_NO_SUBSCRIBERS = 0x10,
  RC_NO_SUB_EXISTED = 0x11,
  RC_DISCONNECT_WITH_WILL = 0x04,
  RC_UNSPECIFIED = 0x80,
  RC_MALFORMED = 0x81,
  RC_PROTOCOL_ERROR = 0x82,
  RC_IMPL_SPECIFIC = 0x83,
  RC_NOT_AUTHORIZED = 0x87,
  RC_BAD_VERSION = 0x84,
  RC_BAD_CLIENT_ID = 0x85,
  RC_BAD_AUTH_METHOD = 0x8C,
  RC_TAKEN_OVER = 0x8E,
  RC_BAD_FILTER = 0x8F,
  RC_BAD_TOPIC = 0x90,
  RC_ID_NOT_FOUND = 0x92,
  RC_RECEIVE_MAX_EXCEEDED = 0x93,
  RC_BAD_ALIAS = 0x94,
  RC_PACKET_TOO_LARGE = 0x95,
  RC_QOS_NOT_SUPPORTED = 0x9B,
  RC_SHARED_NOT_SUPPORTED = 0x9E
};

/* A published message, shared by every delivery of it (reference counted). */
struct msg {
  int refs;
  struct mg_str topic, payload;
  const uint8_t *props; /* v5 properties forwarded as they came (encoded) */
  size_t props_len;
  uint64_t expires; /* mg_millis() deadline, 0 = never */
  uint8_t qos;
  bool retain;
};

/* A message on its way to one session. */
struct delivery {
  struct delivery *next;
  struct msg *m;
  uint32_t subids[BROKER_SUBIDS_MAX];
  uint8_t nsubids;
  uint16_t id; /* packet id, 0 until it first goes out (QoS 1/2) */
  uint8_t qos;
  bool retain; /* RETAIN flag as sent */
  bool sent;   /* went out before: a resend carries DUP */
  bool rel;    /* PUBREC seen: PUBREL sent, waiting for PUBCOMP */
};

struct sub {
  struct sub *next; /* in its bucket */
  uint32_t hash;
  uint32_t subid;      /* subscription identifier, 0 = none */
  uint8_t opts;        /* SUBSCRIBE options byte: QoS, NL, RAP, RH */
  uint64_t seq;        /* order of subscription (for $share turns) */
  uint64_t share_last; /* $share: seq of the member served last */
  size_t len, skip;    /* filter text; skip: the "$share/group/" prefix */
  char filter[1];      /* allocated past the struct */
};

struct subs {
  struct sub **buckets; /* nbuckets (a power of two) chains, or NULL */
  size_t nbuckets, count;
};

struct will {
  struct msg *m;
  uint32_t delay; /* seconds (MQTT 5 will delay interval) */
};

struct session {
  struct session *next;
  struct mg_connection *c; /* NULL while offline */
  char *id;
  size_t id_len;
  uint8_t version;
  uint32_t expiry;  /* seconds kept offline; 0xFFFFFFFF = for ever */
  uint64_t gone_at; /* mg_millis() when it went offline */
  uint16_t keepalive;
  uint64_t last_seen;
  uint16_t rx_max;     /* the client's Receive Maximum */
  uint32_t max_packet; /* the client's Maximum Packet Size, 0 = none */
  struct subs subs;
  struct delivery *out, *out_tail; /* QoS 1/2 in send order */
  size_t out_len, inflight;
  uint16_t next_id;
  uint16_t rx_qos2[BROKER_RX_QOS2_MAX]; /* inbound QoS 2 ids before PUBREL */
  struct will will;                     /* will.m NULL when none */
  uint64_t will_at; /* delayed will: publish at this time, 0 = not pending */
  unsigned long dropped; /* QoS 0 deliveries dropped on this connection */
  bool ended;            /* the session ended; only its delayed will waits */
  bool bridge; /* connected as a bridge: No Local on every subscription */
  /* Outbound topic aliases of the current connection (MQTT 5): the client's
   * Topic Alias Maximum (at most BROKER_ALIAS_MAX used) and the topics
   * given aliases 1..alias_used, first come first served. */
  uint16_t alias_max, alias_used;
  char *alias_topic[BROKER_ALIAS_MAX + 1];
  size_t alias_len[BROKER_ALIAS_MAX + 1];
};

struct retained {
  struct retained *next;
  struct msg *m;
};

struct broker {
  struct session *sessions;
  struct retained *retained;
  unsigned long anon;
  uint64_t sub_seq; /* subscriptions made so far */
};

/* Per accepted connection (its fn_data). */
struct conn {
  struct broker *b;
  struct session *s; /* NULL until CONNECT is accepted */
  uint64_t accepted;
  uint64_t draining; /* when the timer first saw it draining, 0 = not */
  char *aliases[BROKER_ALIAS_MAX + 1]; /* inbound topic aliases */
  size_t alias_len[BROKER_ALIAS_MAX + 1];
  uint16_t resent_id;   /* the inbound QoS 2 id resent last on this connection */
  uint8_t resent_count; /* how often in a row */
};

/* wire.c */
bool utf8_valid(struct mg_str s);
bool topic_valid(struct mg_str t); /* a PUBLISH topic name */
bool filter_ok(struct mg_str f);   /* a SUBSCRIBE filter, $share included */
void send_ack(struct mg_connection *c, uint8_t cmd, uint16_t id, uint8_t rc,
              uint8_t version);
void send_disconnect(struct mg_connection *c, uint8_t version, uint8_t rc);
void send_connack(struct mg_connection *c, uint8_t version, bool present,
                  uint8_t rc, struct mg_str assigned_id);
size_t put_varint(uint8_t *buf, uint32_t v);
size_t keep_props(const struct mg_mqtt_message *mm, uint8_t *out,
                  uint32_t *expiry, bool *has_expiry);
bool send_publish(struct mg_connection *c, struct session *s,
                  struct delivery *d, bool dup);
void aliases_reset(struct session *s, uint16_t max);

/* subs.c */
uint32_t filter_hash(struct mg_str f);
struct sub **subs_find(struct subs *t, struct mg_str f, uint32_t h);
struct sub *subs_add(struct subs *t, struct mg_str f, uint8_t opts,
                     uint32_t subid, uint64_t seq, bool *existed);
bool subs_del(struct subs *t, struct mg_str f);
void subs_free(struct subs *t);
struct mg_str sub_filter(const struct sub *sb);

/* route.c */
struct msg *msg_new(struct mg_str topic, struct mg_str payload,
                    const uint8_t *props, size_t props_len, uint8_t qos,
                    bool retain, uint32_t expiry, bool has_expiry);
void msg_unref(struct msg *m);
bool msg_expired(const struct msg *m, uint64_t now);
size_t route(struct broker *b, struct msg *m, struct session *from);
bool has_subscribers(struct broker *b, const struct msg *m,
                     const struct session *from);
void retained_set(struct broker *b, struct msg *m);
void retained_send(struct broker *b, struct session *s, const struct sub *sb,
                   bool existed);
void retained_free(struct broker *b);

/* session.c */
struct session *session_find(struct broker *b, struct mg_str id);
struct session *session_new(struct broker *b, struct mg_str id);
void session_free(struct broker *b, struct session *s);
void session_offline(struct broker *b, struct session *s, bool will);
void session_deliver(struct session *s, struct msg *m, uint8_t qos, bool retain,
                     const uint32_t *subids, uint8_t nsubids);
void session_resume(struct session *s);
bool session_ack(struct session *s, struct mg_mqtt_message *mm);
void session_expire(struct broker *b, uint64_t now);
bool rx_qos2_has(struct session *s, uint16_t id);
bool rx_qos2_add(struct session *s, uint16_t id, size_t limit);
void rx_qos2_del(struct session *s, uint16_t id);

/* will.c */
void will_set(struct session *s, struct msg *m, uint32_t delay);
void will_clear(struct session *s);
void will_fire(struct broker *b, struct session *s);
void will_poll(struct broker *b, uint64_t now);

#endif /* BROKER_H */
