/* MQTT 3.1.1 and 5: a sans-IO packet parser and encoder
 * (src/proto/mqtt_parse.c) and the client / broker-side connection glue
 * (src/proto/mqtt.c). The core does no broker logic: a listener only frames
 * packets, reports them and acknowledges inbound QoS 1/2 publishes. */
#ifndef MG_MQTT_H
#define MG_MQTT_H

#include "mg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Control packet types. */
enum {
  MQTT_CMD_CONNECT = 1,
  MQTT_CMD_CONNACK = 2,
  MQTT_CMD_PUBLISH = 3,
  MQTT_CMD_PUBACK = 4,
  MQTT_CMD_PUBREC = 5,
  MQTT_CMD_PUBREL = 6,
  MQTT_CMD_PUBCOMP = 7,
  MQTT_CMD_SUBSCRIBE = 8,
  MQTT_CMD_SUBACK = 9,
  MQTT_CMD_UNSUBSCRIBE = 10,
  MQTT_CMD_UNSUBACK = 11,
  MQTT_CMD_PINGREQ = 12,
  MQTT_CMD_PINGRESP = 13,
  MQTT_CMD_DISCONNECT = 14,
  MQTT_CMD_AUTH = 15
};

/* Wire types of v5 properties (values are part of the Python API). */
enum {
  MQTT_PROP_TYPE_BYTE = 0,
  MQTT_PROP_TYPE_STRING = 1,
  MQTT_PROP_TYPE_STRING_PAIR = 2,
  MQTT_PROP_TYPE_BINARY_DATA = 3,
  MQTT_PROP_TYPE_VARIABLE_INT = 4,
  MQTT_PROP_TYPE_INT = 5,
  MQTT_PROP_TYPE_SHORT = 6
};

/* v5 property identifiers (MQTT 5.0, 2.2.2.2). */
enum {
  MQTT_PROP_PAYLOAD_FORMAT_INDICATOR = 0x01,
  MQTT_PROP_MESSAGE_EXPIRY_INTERVAL = 0x02,
  MQTT_PROP_CONTENT_TYPE = 0x03,
  MQTT_PROP_RESPONSE_TOPIC = 0x08,
  MQTT_PROP_CORRELATION_DATA = 0x09,
  MQTT_PROP_SUBSCRIPTION_IDENTIFIER = 0x0B,
  MQTT_PROP_SESSION_EXPIRY_INTERVAL = 0x11,
  MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER = 0x12,
  MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
  MQTT_PROP_AUTHENTICATION_METHOD = 0x15,
  MQTT_PROP_AUTHENTICATION_DATA = 0x16,
  MQTT_PROP_REQUEST_PROBLEM_INFORMATION = 0x17,
  MQTT_PROP_WILL_DELAY_INTERVAL = 0x18,
  MQTT_PROP_REQUEST_RESPONSE_INFORMATION = 0x19,
  MQTT_PROP_RESPONSE_INFORMATION = 0x1A,
  MQTT_PROP_SERVER_REFERENCE = 0x1C,
  MQTT_PROP_REASON_STRING = 0x1F,
  MQTT_PROP_RECEIVE_MAXIMUM = 0x21,
  MQTT_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
  MQTT_PROP_TOPIC_ALIAS = 0x23,
  MQTT_PROP_MAXIMUM_QOS = 0x24,
  MQTT_PROP_RETAIN_AVAILABLE = 0x25,
  MQTT_PROP_USER_PROPERTY = 0x26,
  MQTT_PROP_MAXIMUM_PACKET_SIZE = 0x27,
  MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28,
  MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29,
  MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE = 0x2A
};

/* Limits and deadlines (MG_MQTT_MAX_PACKET, MG_MQTT_INFLIGHT_MAX,
 * MG_MQTT_QUEUE_MAX, MG_MQTT_RETRANSMIT_MS, MG_MQTT_CONNECT_TIMEOUT_MS) are
 * documented in mg_config.h. */

/* Outgoing QoS 1/2 state that can outlive a connection (see
 * mg_mqtt_session_new). */
struct mg_mqtt_session;

/* One v5 property. iv holds BYTE/SHORT/INT/VARIABLE_INT values, val the
 * STRING/BINARY value or the value of a user property, key its name. */
struct mg_mqtt_prop {
  uint8_t id;
  uint32_t iv;
  struct mg_str key;
  struct mg_str val;
};

/* Options of CONNECT, PUBLISH and SUBSCRIBE (unused fields zero). */
struct mg_mqtt_opts {
  struct mg_str user;      /* CONNECT: user name (empty = none) */
  struct mg_str pass;      /* CONNECT: password (empty = none) */
  struct mg_str client_id; /* CONNECT: empty = generated */
  struct mg_str topic;     /* PUBLISH/SUBSCRIBE topic; CONNECT: will topic */
  struct mg_str message;   /* PUBLISH payload; CONNECT: will message */
  uint8_t qos;             /* PUBLISH/SUBSCRIBE QoS; CONNECT: will QoS */
  uint8_t version;         /* CONNECT: 4 (3.1.1, default) or 5 */
  uint16_t keepalive;      /* CONNECT: seconds, 0 = no pings */
  uint16_t retransmit_id;  /* PUBLISH: resend with DUP under this id */
  bool retain;             /* PUBLISH retain; CONNECT: will retain */
  bool clean;              /* CONNECT: clean session / clean start */
  const struct mg_mqtt_prop *props; /* v5 properties of the packet */
  size_t num_props;
  const struct mg_mqtt_prop *will_props; /* CONNECT (v5): will properties */
  size_t num_will_props;
  struct mg_mqtt_session *session; /* CONNECT: keep QoS state there (or NULL) */
};

/* A parsed packet. Views point into the parsed buffer. */
struct mg_mqtt_message {
  struct mg_str topic; /* PUBLISH topic */
  struct mg_str data;  /* PUBLISH payload; SUBACK/UNSUBACK: reason codes */
  struct mg_str dgram; /* the whole packet */
  uint16_t id;         /* packet identifier, 0 when none */
  uint8_t cmd;         /* MQTT_CMD_* */
  uint8_t qos;         /* (fixed header flags >> 1) & 3 */
  uint8_t ack;         /* CONNACK return/reason code; v5 reason code of
                          PUBACK..PUBCOMP / DISCONNECT */
  uint8_t version;     /* CONNECT: protocol level; else the version used */
  size_t props_start;  /* v5: offset of the properties in dgram */
  size_t props_size;   /* v5: their length (0 = none) */
  size_t payload_start; /* offset of the payload in dgram */
};

/* Results of mg_mqtt_parse. */
enum { MQTT_OK = 0, MQTT_INCOMPLETE = 1, MQTT_MALFORMED = 2 };

/* Parses one packet at the start of buf, as protocol version (4 or 5; a
 * CONNECT carries its own). MQTT_INCOMPLETE when more bytes are needed. */
int mg_mqtt_parse(const uint8_t *buf, size_t len, uint8_t version,
                  struct mg_mqtt_message *m);

/* Iterates the v5 properties of m: returns the offset of the next property
 * (pass 0 first) after filling *p, or 0 at the end or on a malformed one. */
size_t mg_mqtt_next_prop(const struct mg_mqtt_message *m,
                         struct mg_mqtt_prop *p, size_t ofs);

/* SUBSCRIBE / UNSUBSCRIBE topic filters: pass pos 0 first, then the returned
 * position; 0 at the end. opts gets the subscription options byte (QoS in
 * the low 2 bits; 0 for UNSUBSCRIBE). */
size_t mg_mqtt_next_topic(const struct mg_mqtt_message *m, struct mg_str *topic,
                          uint8_t *opts, size_t pos);

/* The payload of a CONNECT, for brokers. */
struct mg_mqtt_connect_info {
  struct mg_str client_id, user, pass, will_topic, will_message;
  uint16_t keepalive;
  uint8_t version, will_qos;
  bool clean, will, will_retain;
  size_t will_props_start; /* v5: offset of the will properties in dgram */
};
bool mg_mqtt_parse_connect(const struct mg_mqtt_message *m,
                           struct mg_mqtt_connect_info *ci);

/* Whether filter is a valid topic filter: not empty, every `+` or `#` a
 * whole level, `#` only as the last level. A broker answers a SUBSCRIBE to an
 * invalid filter with a failure code (0x80 in 3.1.1, 0x8F in 5). */
bool mg_mqtt_filter_valid(struct mg_str filter);

/* Whether topic matches subscription filter (`+` one level, `#` this level
 * and below, `$` topics not matched by a leading wildcard). An invalid filter
 * (see mg_mqtt_filter_valid) matches no topic, not even its own text. */
bool mg_mqtt_match(struct mg_str topic, struct mg_str filter);

/* Wire type (MQTT_PROP_TYPE_*) of a property id, or -1 when unknown. */
int mg_mqtt_prop_type(uint8_t id);

/* Encodes a remaining length (1..4 bytes) into buf; returns its size. */
size_t mg_mqtt_encode_varint(uint8_t *buf, uint32_t n);
/* Decodes a variable byte integer; returns bytes used, 0 when incomplete,
 * -1 when malformed (more than 4 bytes). */
int mg_mqtt_decode_varint(const uint8_t *buf, size_t len, uint32_t *n);

/* ---- Connection glue ---- */

/* Client: connects and sends CONNECT once the transport is up; MG_EV_MQTT_OPEN
 * (ev_data: int return code) follows CONNACK, PINGREQ keeps it alive. */
struct mg_connection *mg_mqtt_connect(struct mg_mgr *mgr, const char *url,
                                      const struct mg_mqtt_opts *opts,
                                      mg_event_handler_t fn, void *fn_data);
/* Broker side: accepted connections report MG_EV_MQTT_CMD / MG_EV_MQTT_MSG. */
struct mg_connection *mg_mqtt_listen(struct mg_mgr *mgr, const char *url,
                                     mg_event_handler_t fn, void *fn_data);
/* Sends CONNECT on any connection (e.g. one made with mg_connect). */
void mg_mqtt_login(struct mg_connection *c, const struct mg_mqtt_opts *opts);
/* PUBLISH; returns the packet id (0 for QoS 0), or 0 when a QoS 1/2 message
 * is refused (out of memory, or MG_MQTT_QUEUE_MAX messages already waiting).
 * On an MQTT connection a QoS 1/2 message is sent at once while fewer than
 * min(the peer's Receive Maximum, MG_MQTT_INFLIGHT_MAX) exchanges are in
 * flight, else it waits in order in the connection's queue and goes out when
 * an exchange ends (PUBACK, PUBCOMP, or a PUBREC with a reason >= 0x80, after
 * which no PUBREL is sent). A client also holds every publish, QoS 0
 * included, until CONNACK. The application sees each acknowledgement as
 * MG_EV_MQTT_CMD (id, and mm->ack the MQTT 5 reason code; 0 on 3.1.1). */
uint16_t mg_mqtt_pub(struct mg_connection *c, const struct mg_mqtt_opts *opts);
/* SUBSCRIBE / UNSUBSCRIBE of opts->topic; return the packet id. */
uint16_t mg_mqtt_sub(struct mg_connection *c, const struct mg_mqtt_opts *opts);
uint16_t mg_mqtt_unsub(struct mg_connection *c,
                       const struct mg_mqtt_opts *opts);
void mg_mqtt_ping(struct mg_connection *c);
void mg_mqtt_pong(struct mg_connection *c);
void mg_mqtt_disconnect(struct mg_connection *c,
                        const struct mg_mqtt_opts *opts);
/* Any packet: fixed header byte cmd<<4|flags, then body (remaining length
 * computed). Used for acknowledgements and by brokers. */
void mg_mqtt_send_header(struct mg_connection *c, uint8_t cmd, uint8_t flags,
                         uint32_t len);
/* Next packet id of the manager (never 0). */
uint16_t mg_mqtt_next_id(struct mg_mgr *mgr);

/* Deadline for the CONNECT of an accepted connection (from accept), and for
 * the CONNACK of a client (from sending CONNECT); past it the connection gets
 * MG_EV_ERROR "MQTT CONNECT timeout" / "MQTT CONNACK timeout" and closes.
 * ms 0 restores MG_MQTT_CONNECT_TIMEOUT_MS. After CONNECT, an accepted
 * connection whose client announced a keep-alive of K > 0 seconds is closed
 * ("MQTT keep-alive timeout") after 1.5 K without a packet from it. */
void mg_mqtt_set_connect_timeout(struct mg_connection *c, uint32_t ms);

/* Sessions: the outgoing QoS 1/2 messages of a client (in flight and queued)
 * and its inbound QoS 2 ids, kept by the application across connections.
 * Pass one as mg_mqtt_opts.session to mg_mqtt_connect (or mg_mqtt_login);
 * when that connection closes the session keeps what was not acknowledged.
 * A later connection given the same session sends it first once CONNACK
 * arrives: with Session Present 1 as it was (PUBLISH with DUP, or PUBREL),
 * with Session Present 0 (the server forgot) unacknowledged PUBLISHes as new
 * ones, while those the server already took (PUBREC) are done. Without a
 * session, a connection's messages die with it. One session serves one
 * connection at a time (a new one takes it over). */
struct mg_mqtt_session *mg_mqtt_session_new(void);
/* Frees s and its messages; a connection using it goes on without them. */
void mg_mqtt_session_free(struct mg_mqtt_session *s);
/* Messages of s in flight or waiting. */
size_t mg_mqtt_session_pending(const struct mg_mqtt_session *s);
/* Attaches s to the MQTT connection c (what c queued so far follows). */
void mg_mqtt_session_use(struct mg_connection *c, struct mg_mqtt_session *s);

void mg_mqtt_handler(struct mg_connection *c, int ev, void *ev_data);

#ifdef __cplusplus
}
#endif
#endif /* MG_MQTT_H */
