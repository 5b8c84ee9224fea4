/* A small MQTT broker (3.1, 3.1.1 and 5) on the cymongoose C core: QoS 0/1/2,
 * clean and persistent sessions (offline queues, resend on resume, session
 * expiry), `+`/`#` wildcards, $share groups, retained messages, will
 * messages (with delay), message expiry, subscription options and
 * identifiers, topic aliases, maximum packet size, and the rejections the
 * specification asks for. See broker.h for the files; what it does not do
 * (bridges, ACLs, persistence to disk) is in docs/protocols/mqtt.md.
 *
 *   mqtt_broker [-p PORT] [mqtt://0.0.0.0:1883]
 *
 * The broker frames packets itself with the core's parser (mg_mqtt_parse). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

static uint8_t version_of(const struct conn *cn) {
  return cn->s != NULL ? cn->s->version : 4;
}

/* A protocol violation: v5 says why in a DISCONNECT, 3.1.1 just closes. */
static void reject(struct mg_connection *c, struct conn *cn, uint8_t rc) {
  send_disconnect(c, version_of(cn), rc);
}

/* A violation answered by closing at once, in every version (as mosquitto
 * does for e.g. a second CONNECT or an acknowledgement of the wrong kind). */
static void drop_conn(struct mg_connection *c) {
  c->is_draining = 1; /* what earlier packets earned still goes out */
}

/* A topic or filter with more than BROKER_TOPIC_LEVELS_MAX separators is
 * refused (mosquitto's limit too). */
static bool too_deep(struct mg_str t) {
  size_t i, slashes = 0;
  for (i = 0; i < t.len; i++)
    if (t.buf[i] == '/') slashes++;
  return slashes > BROKER_TOPIC_LEVELS_MAX;
}

/* Topics clients may not publish to: "$SYS/..." belongs to the broker
 * (but for mosquitto's bridge state topic), "$share/..." names no topic. */
static bool reserved_topic(struct mg_str t) {
  if (t.len >= 7 && memcmp(t.buf, "$share/", 7) == 0) return true;
  return t.len >= 5 && memcmp(t.buf, "$SYS/", 5) == 0 &&
         !mg_mqtt_match(t, mg_str("$SYS/broker/connection/+/state"));
}

static void clear_aliases(struct conn *cn) {
  size_t i;
  for (i = 0; i <= BROKER_ALIAS_MAX; i++) {
    free(cn->aliases[i]);
    cn->aliases[i] = NULL;
  }
}

/* ---- CONNECT ---- */

/* The end of the last field of a CONNECT: nothing may follow it (user name
 * or password bytes without their flags). */
static const char *connect_end(const struct mg_mqtt_connect_info *ci) {
  if (ci->pass.buf != NULL) return ci->pass.buf + ci->pass.len;
  if (ci->user.buf != NULL) return ci->user.buf + ci->user.len;
  if (ci->will) return ci->will_message.buf + ci->will_message.len;
  return ci->client_id.buf + ci->client_id.len;
}

/* The will of a CONNECT as a message (v5: its properties and delay). */
static struct msg *will_of(const struct mg_mqtt_message *mm,
                           const struct mg_mqtt_connect_info *ci,
                           uint32_t *delay) {
  uint8_t *props = NULL;
  size_t n = 0;
  uint32_t expiry = 0;
  bool has_expiry = false;
  struct msg *m;
  *delay = 0;
  if (ci->version == 5) {
    struct mg_mqtt_message w = *mm;
    struct mg_mqtt_prop p;
    uint32_t len = 0;
    size_t ofs = 0;
    int k = mg_mqtt_decode_varint(
        (const uint8_t *) mm->dgram.buf + ci->will_props_start,
        mm->dgram.len - ci->will_props_start, &len);
    if (k <= 0) return NULL;
    w.props_start = ci->will_props_start + (size_t) k;
    w.props_size = len;
    while ((ofs = mg_mqtt_next_prop(&w, &p, ofs)) != 0)
      if (p.id == MQTT_PROP_WILL_DELAY_INTERVAL) *delay = p.iv;
    if (len > 0 && (props = (uint8_t *) malloc(len)) == NULL) return NULL;
    n = keep_props(&w, props, &expiry, &has_expiry);
  }
  m = msg_new(ci->will_topic, ci->will_message, props, n, ci->will_qos,
              ci->will_retain, expiry, has_expiry);
  free(props);
  return m;
}

/* Checks of a CONNECT beyond framing; 0 when fine, else the v5 reason (a
 * 3.1.1 connection is closed without CONNACK for these). */
static uint8_t connect_check(const struct mg_mqtt_message *mm,
                             const struct mg_mqtt_connect_info *ci,
                             uint8_t flags) {
  if (connect_end(ci) != mm->dgram.buf + mm->dgram.len) return RC_MALFORMED;
  if (!ci->will && (flags & 0x38) != 0) return RC_MALFORMED;
  if (ci->version != 5 && (flags & 0x40) && !(flags & 0x80))
    return RC_MALFORMED; /* 3.1.1: a password needs a user name */
  if (!utf8_valid(ci->client_id) || !utf8_valid(ci->user)) return RC_MALFORMED;
  if (ci->will && (ci->will_topic.len == 0 || !topic_valid(ci->will_topic)))
    return ci->will_topic.len == 0 || !utf8_valid(ci->will_topic)
               ? RC_MALFORMED
               : RC_BAD_TOPIC;
  return 0;
}

static void make_id(struct broker *b, char *buf, size_t len) {
  uint8_t r[6] = {0};
  mg_random(r, sizeof(r));
  mg_snprintf(buf, len, "auto-%08lX-0000-4000-8000-%02X%02X%02X%02X%02X%02X",
              ++b->anon, r[0], r[1], r[2], r[3], r[4], r[5]);
}

static void on_connect(struct mg_connection *c, struct conn *cn,
                       struct mg_mqtt_message *mm) {
  struct broker *b = cn->b;
  struct mg_mqtt_connect_info ci;
  struct mg_mqtt_prop p;
  struct session *s;
  char idbuf[48];
  struct mg_str assigned = mg_str_n(NULL, 0);
  uint32_t expiry = 0, max_packet = 0, delay = 0;
  uint16_t rx_max = 65535, alias_max = 0;
  size_t ofs = 0;
  uint8_t rc, flags;
  bool present = false;
  const uint8_t *d = (const uint8_t *) mm->dgram.buf;
  uint32_t rl = 0;
  size_t at = 1 + (size_t) mg_mqtt_decode_varint(d + 1, mm->dgram.len - 1, &rl);
  size_t plen = (size_t) (d[at] << 8 | d[at + 1]);
  struct mg_str proto = mg_str_n((const char *) d + at + 2, plen);
  uint8_t level = mm->version & 0x7F;
  /* Levels 0x83 / 0x84: a bridge (the mosquitto and IBM convention): its own
   * publishes are not sent back to it. */
  bool bridge = (mm->version & 0x80) && (level == 3 || level == 4);
  if (level != 3 && level != 4 && (level != 5 || (mm->version & 0x80))) {
    send_connack(c, 4, false, 1, assigned); /* unacceptable protocol level */
    c->is_draining = 1;
    return;
  }
  /* "MQIsdp" goes with level 3, "MQTT" with 4 and 5. */
  if (!mg_str_eq(proto, level == 3 ? "MQIsdp" : "MQTT")) {
    c->is_closing = 1;
    return;
  }
  if (!mg_mqtt_parse_connect(mm, &ci)) {
    c->is_closing = 1;
    return;
  }
  flags = d[at + 2 + plen + 1];
  if ((rc = connect_check(mm, &ci, flags)) != 0) {
    if (ci.version == 5 && rc == RC_BAD_TOPIC) {
      send_connack(c, 5, false, rc, assigned);
      c->is_draining = 1;
    } else {
      c->is_closing = 1;
    }
    return;
  }
  while (ci.version == 5 && (ofs = mg_mqtt_next_prop(mm, &p, ofs)) != 0) {
    if (p.id == MQTT_PROP_SESSION_EXPIRY_INTERVAL) expiry = p.iv;
    if (p.id == MQTT_PROP_RECEIVE_MAXIMUM) rx_max = (uint16_t) p.iv;
    if (p.id == MQTT_PROP_MAXIMUM_PACKET_SIZE) max_packet = p.iv;
    if (p.id == MQTT_PROP_TOPIC_ALIAS_MAXIMUM) alias_max = (uint16_t) p.iv;
    if ((p.id == MQTT_PROP_RECEIVE_MAXIMUM ||
         p.id == MQTT_PROP_MAXIMUM_PACKET_SIZE) &&
        p.iv == 0) {
      c->is_closing = 1; /* a protocol error */
      return;
    }
    if (p.id == MQTT_PROP_AUTHENTICATION_METHOD) {
      send_connack(c, 5, false, RC_BAD_AUTH_METHOD, assigned);
      c->is_draining = 1;
      return;
    }
  }
  if (ci.client_id.len == 0) {
    if (level == 3 || (level == 4 && !ci.clean)) {
      send_connack(c, level, false, 2, assigned); /* id rejected */
      c->is_draining = 1;
      return;
    }
    make_id(b, idbuf, sizeof(idbuf));
    ci.client_id = mg_str(idbuf);
    if (level == 5) assigned = ci.client_id;
  }
  if (level != 5) expiry = ci.clean ? 0 : 0xFFFFFFFFu;
  /* v5 CONNACK: 5 bytes, 3 per short property, 3 + id for an assigned id. */
  if (max_packet != 0 &&
      5 + 6 + (assigned.len ? 3 + assigned.len : 0) > max_packet) {
    c->is_closing = 1; /* no CONNACK fits the client's limit */
    return;
  }
  s = session_find(b, ci.client_id);
  if (s != NULL && s->c != NULL) { /* takeover: the old connection ends */
    struct mg_connection *old = s->c;
    struct conn *ocn = (struct conn *) old->fn_data;
    if (ocn != NULL) ocn->s = NULL;
    send_disconnect(old, s->version, RC_TAKEN_OVER);
    s->c = NULL;
    s->inflight = 0;
    if (s->expiry == 0 || ci.clean) { /* the old session ends: its will */
      will_fire(b, s);
      session_free(b, s);
      s = NULL;
    }
  }
  if (s != NULL && (ci.clean || s->ended)) {
    session_free(b, s); /* a pending delayed will is cancelled with it */
    s = NULL;
  }
  if (s == NULL) {
    if ((s = session_new(b, ci.client_id)) == NULL) {
      c->is_closing = 1;
      return;
    }
  } else {
    present = true;
    will_clear(s); /* resumed in time: a delayed will is not sent */
  }
  s->c = c;
  cn->s = s;
  s->version = level; /* 3 (3.1) behaves as 4 but for CONNACK */
  s->bridge = bridge;
  s->expiry = expiry;
  s->keepalive = ci.keepalive;
  s->last_seen = mg_millis();
  s->rx_max = rx_max;
  s->max_packet = max_packet;
  s->inflight = 0;
  aliases_reset(s, alias_max);
  if (ci.will) {
    struct msg *w = will_of(mm, &ci, &delay);
    if (w != NULL) will_set(s, w, delay);
  }
  send_connack(c, s->version, present, 0, assigned);
  if (present) session_resume(s);
}

/* ---- PUBLISH ---- */

static void on_publish(struct mg_connection *c, struct conn *cn,
                       struct mg_mqtt_message *mm) {
  struct session *s = cn->s;
  struct mg_str topic = mm->topic;
  struct mg_mqtt_prop p;
  uint32_t expiry = 0, alias = 0;
  bool has_expiry = false, has_alias = false, matched = true;
  size_t ofs = 0, n = 0;
  uint8_t *props = NULL, rc = 0;
  bool retain = (mm->dgram.buf[0] & 1) != 0;
  struct msg *m;
  if ((mm->qos > 0 && mm->id == 0) ||
      (mm->qos == 0 && (mm->dgram.buf[0] & 8))) {
    reject(c, cn, RC_PROTOCOL_ERROR);
    return;
  }
  while (s->version == 5 && (ofs = mg_mqtt_next_prop(mm, &p, ofs)) != 0) {
    if (p.id == MQTT_PROP_TOPIC_ALIAS) alias = p.iv, has_alias = true;
    if (p.id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
      reject(c, cn, RC_PROTOCOL_ERROR);
      return;
    }
  }
  if (has_alias) {
    if (alias == 0 || alias > BROKER_ALIAS_MAX) {
      reject(c, cn, RC_BAD_ALIAS);
      return;
    }
    if (topic.len == 0) {
      if (cn->aliases[alias] == NULL) {
        reject(c, cn, RC_PROTOCOL_ERROR);
        return;
      }
      topic = mg_str_n(cn->aliases[alias], cn->alias_len[alias]);
    } else if (topic_valid(topic)) {
      char *t = (char *) malloc(topic.len);
      if (t == NULL) {
        reject(c, cn, RC_IMPL_SPECIFIC);
        return;
      }
      memcpy(t, topic.buf, topic.len);
      free(cn->aliases[alias]);
      cn->aliases[alias] = t;
      cn->alias_len[alias] = topic.len;
    }
  }
  if (!utf8_valid(topic)) {
    reject(c, cn, RC_MALFORMED);
    return;
  }
  if (!topic_valid(topic) || too_deep(topic)) {
    reject(c, cn, RC_PROTOCOL_ERROR);
    return;
  }
  if (reserved_topic(topic)) { /* acknowledged, not forwarded */
    if (mm->qos == 1)
      send_ack(c, MQTT_CMD_PUBACK, mm->id, RC_NOT_AUTHORIZED, s->version);
    if (mm->qos == 2)
      send_ack(c, MQTT_CMD_PUBREC, mm->id, RC_NOT_AUTHORIZED, s->version);
    return;
  }
  if (mm->qos == 2 && rx_qos2_has(s, mm->id)) { /* a resend: taken already */
    /* Resending is for a new connection only (MQTT 5 [MQTT-4.4.0-1]); one
     * resend on the same connection is forgiven, a second is a protocol error
     * (as mosquitto treats it, in both versions). */
    cn->resent_count = cn->resent_id == mm->id ? cn->resent_count + 1 : 1;
    cn->resent_id = mm->id;
    if (cn->resent_count > 1) {
      reject(c, cn, RC_PROTOCOL_ERROR);
      return;
    }
    send_ack(c, MQTT_CMD_PUBREC, mm->id, 0, s->version);
    return;
  }
  if (mm->qos == 2 &&
      !rx_qos2_add(s, mm->id,
                   s->version == 5 ? BROKER_RECEIVE_MAX : BROKER_RX_QOS2_MAX)) {
    reject(c, cn, RC_RECEIVE_MAX_EXCEEDED);
    return;
  }
  if (mm->props_size > 0 && (props = (uint8_t *) malloc(mm->props_size)))
    n = keep_props(mm, props, &expiry, &has_expiry);
  m = msg_new(topic, mm->data, props, n, mm->qos, retain, expiry, has_expiry);
  free(props);
  if (m == NULL) {
    reject(c, cn, RC_IMPL_SPECIFIC);
    return;
  }
  /* The publisher hears back first, then subscribers get it. */
  if (s->version == 5 && mm->qos == 1) matched = has_subscribers(cn->b, m, s);
  if (!matched) rc = RC_NO_SUBSCRIBERS;
  if (mm->qos == 1) send_ack(c, MQTT_CMD_PUBACK, mm->id, rc, s->version);
  if (mm->qos == 2) send_ack(c, MQTT_CMD_PUBREC, mm->id, 0, s->version);
  route(cn->b, m, s);
  msg_unref(m);
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ---- */

/* Checks every filter first, so a bad packet changes nothing: 0 when fine,
 * else the reason to disconnect with. */
static uint8_t sub_check(const struct session *s, struct mg_mqtt_message *mm,
                         bool unsub) {
  struct mg_str f;
  uint8_t opts;
  size_t pos = 0, count = 0;
  while ((pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0) {
    count++;
    /* An invalid filter is a malformed packet, as for mosquitto (v5 could
     * also answer 0x8F for it alone). */
    if (f.len == 0 || !filter_ok(f) || too_deep(f)) return RC_MALFORMED;
    if (unsub) continue;
    if ((opts & 3) == 3 || (opts & 0xC0) != 0) return RC_MALFORMED;
    if (s->version != 5 && (opts & 0xFC) != 0) return RC_MALFORMED;
    if (((opts >> 4) & 3) == 3) return RC_MALFORMED;
    if ((opts & 4) && f.len > 7 && memcmp(f.buf, "$share/", 7) == 0)
      return RC_PROTOCOL_ERROR; /* No Local on a shared subscription */
  }
  /* Every byte must belong to a filter. */
  {
    size_t end = mm->payload_start;
    pos = 0;
    while ((pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0) end = pos;
    if (count == 0 || end != mm->dgram.len) return RC_MALFORMED;
  }
  return 0;
}

static void on_subscribe(struct mg_connection *c, struct conn *cn,
                         struct mg_mqtt_message *mm, bool unsub) {
  struct session *s = cn->s;
  uint8_t hdr[2] = {(uint8_t) (mm->id >> 8), (uint8_t) mm->id}, code, opts;
  uint8_t codes[256];
  bool *existed = NULL;
  bool v5 = s->version == 5, send_codes = v5 || !unsub;
  struct mg_mqtt_prop p;
  uint32_t subid = 0;
  size_t n = 0, count = 0, pos = 0, ofs = 0;
  struct mg_str f;
  if ((mm->dgram.buf[0] & (s->version == 3 ? 7 : 0x0F)) != 2) {
    reject(c, cn, RC_MALFORMED);
    return;
  }
  if (mm->id == 0) {
    reject(c, cn, RC_MALFORMED);
    return;
  }
  if ((code = sub_check(s, mm, unsub)) != 0) {
    reject(c, cn, code);
    return;
  }
  while (v5 && !unsub && (ofs = mg_mqtt_next_prop(mm, &p, ofs)) != 0) {
    if (p.id == MQTT_PROP_SUBSCRIPTION_IDENTIFIER) {
      if (p.iv == 0) {
        reject(c, cn, RC_MALFORMED);
        return;
      }
      subid = p.iv;
    } else if (p.id != MQTT_PROP_USER_PROPERTY) {
      {
        reject(c, cn, RC_MALFORMED);
        return;
      }
    }
  }
  while ((pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0) count++;
  if (!unsub && (existed = (bool *) calloc(count, sizeof(bool))) == NULL) {
    reject(c, cn, RC_IMPL_SPECIFIC);
    return;
  }
  mg_mqtt_send_header(c, unsub ? MQTT_CMD_UNSUBACK : MQTT_CMD_SUBACK, 0,
                      (uint32_t) (2 + (v5 ? 1 : 0) + (send_codes ? count : 0)));
  mg_send(c, hdr, 2);
  if (v5) mg_send(c, "", 1); /* no properties */
  /* One return code per filter, however many the packet holds; codes
   * leave in chunks as they are decided. */
  count = 0;
  while ((pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0) {
    if (unsub) {
      code = subs_del(&s->subs, f) ? 0 : RC_NO_SUB_EXISTED;
    } else if (!filter_ok(f)) {
      code = v5 ? RC_BAD_FILTER : 0x80;
    } else {
      code = subs_add(&s->subs, f, opts, subid, ++cn->b->sub_seq,
                      &existed[count]) != NULL
                 ? (uint8_t) (opts & 3)
                 : 0x80;
    }
    codes[n++] = code;
    count++;
    if (n == sizeof(codes)) {
      if (send_codes) mg_send(c, codes, n);
      n = 0;
    }
  }
  if (send_codes && n > 0) mg_send(c, codes, n);
  if (unsub) return;
  /* Retained messages for each filter, after the SUBACK. */
  for (count = 0; (pos = mg_mqtt_next_topic(mm, &f, &opts, pos)) != 0;
       count++) {
    struct sub **sb = subs_find(&s->subs, f, filter_hash(f));
    if (sb != NULL && filter_ok(f))
      retained_send(cn->b, s, *sb, existed[count]);
  }
  free(existed);
}

/* ---- The other packets ---- */

static void on_disconnect(struct mg_connection *c, struct conn *cn,
                          struct mg_mqtt_message *mm) {
  struct session *s = cn->s;
  struct mg_mqtt_prop p;
  size_t ofs = 0;
  bool will = s->version == 5 && mm->ack == RC_DISCONNECT_WITH_WILL;
  while (s->version == 5 && (ofs = mg_mqtt_next_prop(mm, &p, ofs)) != 0) {
    if (p.id != MQTT_PROP_SESSION_EXPIRY_INTERVAL) continue;
    if (s->expiry == 0 && p.iv != 0) { /* may not be set here (3.14.2.2.2) */
      reject(c, cn, RC_PROTOCOL_ERROR);
      return;
    }
    s->expiry = p.iv;
  }
  cn->s = NULL;
  session_offline(cn->b, s, will);
  c->is_closing = 1;
}

static void handle(struct mg_connection *c, struct conn *cn,
                   struct mg_mqtt_message *mm) {
  struct session *s = cn->s;
  uint8_t flags = (uint8_t) (mm->dgram.buf[0] & 0x0F);
  if (s == NULL) {
    if (mm->cmd == MQTT_CMD_CONNECT) {
      on_connect(c, cn, mm);
    } else {
      c->is_closing = 1; /* nothing is allowed before CONNECT */
    }
    return;
  }
  s->last_seen = mg_millis();
  /* Reserved fixed-header flags: 2 for PUBREL, SUBSCRIBE, UNSUBSCRIBE
   * (which check their own), 0 for the others; 3.1 may add DUP. */
  if (s->version == 3) flags &= 7;
  if (mm->cmd != MQTT_CMD_PUBLISH && mm->cmd != MQTT_CMD_SUBSCRIBE &&
      mm->cmd != MQTT_CMD_UNSUBSCRIBE &&
      flags != ((mm->cmd == MQTT_CMD_PUBREL || mm->cmd == MQTT_CMD_SUBSCRIBE ||
                 mm->cmd == MQTT_CMD_UNSUBSCRIBE)
                    ? 2
                    : 0)) {
    drop_conn(c);
    return;
  }
  switch (mm->cmd) {
    case MQTT_CMD_PUBLISH: on_publish(c, cn, mm); break;
    case MQTT_CMD_PUBACK:
    case MQTT_CMD_PUBREC:
    case MQTT_CMD_PUBCOMP:
      if (!session_ack(s, mm)) drop_conn(c);
      break;
    case MQTT_CMD_PUBREL: /* an unknown id is answered the same way */
      rx_qos2_del(s, mm->id);
      send_ack(c, MQTT_CMD_PUBCOMP, mm->id, 0, s->version);
      break;
    case MQTT_CMD_SUBSCRIBE: on_subscribe(c, cn, mm, false); break;
    case MQTT_CMD_UNSUBSCRIBE: on_subscribe(c, cn, mm, true); break;
    case MQTT_CMD_PINGREQ: mg_send(c, "\xd0\x00", 2); break;
    case MQTT_CMD_DISCONNECT: on_disconnect(c, cn, mm); break;
    default: drop_conn(c); break; /* incl. a second CONNECT */
  }
}

/* Whether the packet starting at buf is larger than MG_MQTT_MAX_PACKET
 * (what the parser reports as malformed; MQTT 5 has its own reason). */
static bool too_large(const uint8_t *buf, size_t len) {
  uint32_t rl = 0;
  int n = len > 1 ? mg_mqtt_decode_varint(buf + 1, len - 1, &rl) : 0;
  return n > 0 && (uint64_t) rl + 1 + (uint64_t) n > MG_MQTT_MAX_PACKET;
}

/* Frames and handles the packets in c->recv. A peer that does not read
 * what we send is not read either until it does (backpressure):
 * MG_EV_POLL comes back here. */
static void process(struct mg_connection *c, struct conn *cn) {
  while (!c->is_closing && !c->is_draining && c->recv.len > 0) {
    struct mg_mqtt_message mm;
    int rc;
    size_t n;
    if (mg_send_backlogged(c)) break;
    rc = mg_mqtt_parse(c->recv.buf, c->recv.len, version_of(cn), &mm);
    if (rc == MQTT_INCOMPLETE) break;
    if (rc == MQTT_MALFORMED && too_large(c->recv.buf, c->recv.len)) {
      if (cn->s == NULL) {
        c->is_closing = 1;
      } else {
        reject(c, cn, RC_PACKET_TOO_LARGE);
      }
      break;
    }
    if (rc == MQTT_MALFORMED) {
      if (cn->s == NULL) {
        c->is_closing = 1;
      } else {
        reject(c, cn, RC_MALFORMED);
      }
      break;
    }
    n = mm.dgram.len;
    handle(c, cn, &mm);
    mg_iobuf_del(&c->recv, 0, n);
  }
}

static void fn(struct mg_connection *c, int ev, void *ev_data) {
  struct conn *cn = (struct conn *) c->fn_data;
  (void) ev_data;
  if (c->is_listening || ev == MG_EV_OPEN) return;
  if (ev == MG_EV_ACCEPT) {
    struct conn *n = (struct conn *) calloc(1, sizeof(*n));
    if (n == NULL) {
      c->fn_data = NULL;
      c->is_closing = 1;
      return;
    }
    n->b = (struct broker *) c->fn_data;
    n->accepted = mg_millis();
    c->fn_data = n;
  } else if (cn == NULL) {
    return;
  } else if (ev == MG_EV_READ || ev == MG_EV_POLL) {
    process(c, cn);
  } else if (ev == MG_EV_CLOSE) {
    if (cn->s != NULL) session_offline(cn->b, cn->s, true);
    clear_aliases(cn);
    free(cn);
    c->fn_data = NULL;
  }
}

/* Deadlines: CONNECT must come in time, a client must be heard from within
 * 1.5 keep-alives, a closing connection must take its last answers within
 * BROKER_DRAIN_MS, offline sessions expire, delayed wills go out. */
static void timer_fn(void *arg) {
  struct mg_mgr *mgr = (struct mg_mgr *) arg;
  struct mg_connection *c;
  struct broker *b = NULL;
  uint64_t now = mg_millis();
  for (c = mgr->conns; c != NULL; c = c->next) {
    struct conn *cn = (struct conn *) c->fn_data;
    if (c->fn != fn) continue; /* not ours (e.g. a client in the tests) */
    if (c->is_listening) b = (struct broker *) c->fn_data;
    if (c->is_listening || cn == NULL || c->is_closing) continue;
    if (c->is_draining) { /* a peer that does not read its last answers */
      if (cn->draining == 0) cn->draining = now;
      if (now - cn->draining > BROKER_DRAIN_MS) c->is_closing = 1;
      continue;
    }
    if (cn->s == NULL && now - cn->accepted > MG_MQTT_CONNECT_TIMEOUT_MS) {
      c->is_closing = 1;
    } else if (cn->s != NULL && cn->s->keepalive > 0 &&
               now - cn->s->last_seen > (uint64_t) cn->s->keepalive * 1500) {
      struct session *s = cn->s;
      cn->s = NULL;
      session_offline(cn->b, s, true);
      c->is_closing = 1;
    }
  }
  if (b != NULL) {
    will_poll(b, now);
    session_expire(b, now);
  }
}

#ifndef MQTT_BROKER_NO_MAIN /* tests/c/test_mqtt_broker.c brings its own */
static volatile sig_atomic_t s_stop;
static void on_signal(int sig) {
  s_stop = sig;
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
  if (mg_listen(&mgr, url, fn, &b) == NULL) {
    fprintf(stderr, "cannot listen on %s\n", url);
    mg_mgr_free(&mgr);
    return 1;
  }
  mg_timer_add(&mgr, 100, MG_TIMER_REPEAT | MG_TIMER_AUTODELETE, timer_fn,
               &mgr);
  printf("MQTT broker listening on %s\n", url);
  fflush(stdout);
  while (s_stop == 0) mg_mgr_poll(&mgr, 100);
  mg_mgr_free(&mgr);
  while (b.sessions != NULL) session_free(&b, b.sessions);
  retained_free(&b);
  return 0;
}
#endif
