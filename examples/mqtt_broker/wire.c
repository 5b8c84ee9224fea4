/* Packet encoders, UTF-8 and topic checks, v5 property forwarding. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* Well-formed UTF-8 as MQTT wants it (1.5.4): no overlong forms, no
 * surrogates, nothing above U+10FFFF, no U+0000. */
bool utf8_valid(struct mg_str s) {
  const uint8_t *p = (const uint8_t *) s.buf;
  size_t i = 0, n, k;
  while (i < s.len) {
    uint32_t cp = p[i];
    if (cp == 0) return false;
    if (cp < 0x80) {
      i++;
      continue;
    }
    if ((cp & 0xE0) == 0xC0) {
      n = 1, cp &= 0x1F;
    } else if ((cp & 0xF0) == 0xE0) {
      n = 2, cp &= 0x0F;
    } else if ((cp & 0xF8) == 0xF0) {
      n = 3, cp &= 0x07;
    } else {
      return false;
    }
    if (i + n >= s.len) return false;
    for (k = 1; k <= n; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

/* A topic name (PUBLISH, will): not empty, no wildcards, valid UTF-8. */
bool topic_valid(struct mg_str t) {
  return t.len > 0 && memchr(t.buf, '+', t.len) == NULL &&
         memchr(t.buf, '#', t.len) == NULL && utf8_valid(t);
}

/* A SUBSCRIBE filter: valid UTF-8 and wildcards; "$share/group/filter"
 * needs a group without wildcards and a valid filter after it. */
bool filter_ok(struct mg_str f) {
  if (!utf8_valid(f)) return false;
  if (f.len >= 7 && memcmp(f.buf, "$share/", 7) == 0) {
    const char *slash = (const char *) memchr(f.buf + 7, '/', f.len - 7);
    size_t glen;
    if (slash == NULL) return false;
    glen = (size_t) (slash - (f.buf + 7));
    if (glen == 0 || memchr(f.buf + 7, '+', glen) != NULL ||
        memchr(f.buf + 7, '#', glen) != NULL)
      return false;
    f = mg_str_n(slash + 1, f.len - 7 - glen - 1);
  }
  return mg_mqtt_filter_valid(f);
}

size_t put_varint(uint8_t *buf, uint32_t v) {
  return mg_mqtt_encode_varint(buf, v);
}

/* PUBACK / PUBREC / PUBREL / PUBCOMP; v5 adds the reason when not 0. */
void send_ack(struct mg_connection *c, uint8_t cmd, uint16_t id, uint8_t rc,
              uint8_t version) {
  uint8_t b[5] = {(uint8_t) (cmd << 4 | (cmd == MQTT_CMD_PUBREL ? 2 : 0)), 2,
                  (uint8_t) (id >> 8), (uint8_t) id, rc};
  if (version == 5 && rc != 0) b[1] = 3;
  mg_send(c, b, (size_t) b[1] + 2);
}

/* v5: DISCONNECT with a reason, then close once it is sent. 3.1.1 has no
 * server DISCONNECT: just close. */
void send_disconnect(struct mg_connection *c, uint8_t version, uint8_t rc) {
  if (version == 5) {
    uint8_t b[3] = {MQTT_CMD_DISCONNECT << 4, 1, rc};
    mg_send(c, b, sizeof(b));
    c->is_draining = 1;
  } else {
    c->is_draining = 1; /* answers to earlier packets still go out */
  }
}

/* CONNACK; an accepted v5 one announces our Topic Alias Maximum, an
 * assigned client identifier when we made one up, and Receive Maximum. */
void send_connack(struct mg_connection *c, uint8_t version, bool present,
                  uint8_t rc, struct mg_str assigned_id) {
  uint8_t b[4 + 3 + 3 + 3] = {MQTT_CMD_CONNACK << 4, 2,
                              (uint8_t) (present && version > 3), rc};
  if (version != 5) {
    mg_send(c, b, 4);
  } else if (rc != 0) {
    b[1] = 3, b[4] = 0; /* no properties */
    mg_send(c, b, 5);
  } else {
    size_t plen = 6 + (assigned_id.len ? 3 + assigned_id.len : 0);
    uint8_t hdr[8], n;
    hdr[0] = MQTT_CMD_CONNACK << 4;
    n = (uint8_t) (1 + put_varint(hdr + 1, (uint32_t) (2 + 1 + plen)));
    hdr[n++] = (uint8_t) present;
    hdr[n++] = rc;
    n = (uint8_t) (n + put_varint(hdr + n, (uint32_t) plen));
    mg_send(c, hdr, n);
    b[0] = MQTT_PROP_TOPIC_ALIAS_MAXIMUM, b[1] = 0, b[2] = BROKER_ALIAS_MAX;
    mg_send(c, b, 3);
    if (assigned_id.len) {
      uint8_t p[3] = {MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER,
                      (uint8_t) (assigned_id.len >> 8),
                      (uint8_t) assigned_id.len};
      mg_send(c, p, 3);
      mg_send(c, assigned_id.buf, assigned_id.len);
    }
    b[0] = MQTT_PROP_RECEIVE_MAXIMUM, b[1] = 0, b[2] = BROKER_RECEIVE_MAX;
    mg_send(c, b, 3);
  }
}

/* Copies the v5 properties of mm that travel with the message (payload
 * format, content type, response topic, correlation data, user properties)
 * into out (mm->props_size bytes at most); returns their length. The
 * message expiry interval is returned apart: it is resent as what is left. */
size_t keep_props(const struct mg_mqtt_message *mm, uint8_t *out,
                  uint32_t *expiry, bool *has_expiry) {
  struct mg_mqtt_prop p;
  size_t ofs = 0, next, n = 0;
  *has_expiry = false;
  while ((next = mg_mqtt_next_prop(mm, &p, ofs)) != 0) {
    if (p.id == MQTT_PROP_MESSAGE_EXPIRY_INTERVAL) {
      *expiry = p.iv, *has_expiry = true;
    } else if (p.id == MQTT_PROP_PAYLOAD_FORMAT_INDICATOR ||
               p.id == MQTT_PROP_CONTENT_TYPE ||
               p.id == MQTT_PROP_RESPONSE_TOPIC ||
               p.id == MQTT_PROP_CORRELATION_DATA ||
               p.id == MQTT_PROP_USER_PROPERTY) {
      memcpy(out + n, mm->dgram.buf + mm->props_start + ofs, next - ofs);
      n += next - ofs;
    }
    ofs = next;
  }
  return n;
}

/* Forgets the outbound aliases (a new connection) and takes the client's
 * new Topic Alias Maximum. */
void aliases_reset(struct session *s, uint16_t max) {
  uint16_t i;
  for (i = 1; i <= s->alias_used; i++) free(s->alias_topic[i]);
  s->alias_used = 0;
  s->alias_max = max < BROKER_ALIAS_MAX ? max : BROKER_ALIAS_MAX;
}

/* The alias for topic t on this connection: an existing one (*known set:
 * the topic can be left out), the next free one (taken by alias_take once
 * the PUBLISH goes out), or 0 when none is left. */
static uint16_t alias_for(const struct session *s, struct mg_str t,
                          bool *known) {
  uint16_t i;
  *known = false;
  for (i = 1; i <= s->alias_used; i++) {
    if (s->alias_len[i] == t.len &&
        memcmp(s->alias_topic[i], t.buf, t.len) == 0) {
      *known = true;
      return i;
    }
  }
  return s->alias_used < s->alias_max ? (uint16_t) (s->alias_used + 1) : 0;
}

static void alias_take(struct session *s, struct mg_str t) {
  uint16_t i = (uint16_t) (s->alias_used + 1);
  if ((s->alias_topic[i] = (char *) malloc(t.len + 1)) == NULL) return;
  memcpy(s->alias_topic[i], t.buf, t.len);
  s->alias_len[i] = t.len;
  s->alias_used = i;
}

/* PUBLISH of delivery d to session s. Returns false (and sends nothing)
 * when it is larger than the client's Maximum Packet Size. */
bool send_publish(struct mg_connection *c, struct session *s,
                  struct delivery *d, bool dup) {
  struct msg *m = d->m;
  uint8_t props[8 + BROKER_SUBIDS_MAX * 5], hdr[5], plen[4];
  size_t np = 0, nh, npl = 0, rl, i;
  bool v5 = s->version == 5, known = false;
  struct mg_str topic = m->topic;
  uint16_t alias = 0;
  if (v5) {
    if (s->alias_max > 0 && (alias = alias_for(s, topic, &known)) != 0) {
      props[np++] = MQTT_PROP_TOPIC_ALIAS;
      props[np++] = (uint8_t) (alias >> 8), props[np++] = (uint8_t) alias;
      if (known) topic = mg_str_n(topic.buf, 0);
    }
    if (m->expires != 0) {
      uint64_t now = mg_millis();
      uint32_t left =
          m->expires > now ? (uint32_t) ((m->expires - now + 999) / 1000) : 0;
      props[np++] = MQTT_PROP_MESSAGE_EXPIRY_INTERVAL;
      props[np++] = (uint8_t) (left >> 24),
      props[np++] = (uint8_t) (left >> 16);
      props[np++] = (uint8_t) (left >> 8), props[np++] = (uint8_t) left;
    }
    for (i = 0; i < d->nsubids; i++) {
      props[np++] = MQTT_PROP_SUBSCRIPTION_IDENTIFIER;
      np += put_varint(props + np, d->subids[i]);
    }
    npl = put_varint(plen, (uint32_t) (np + m->props_len));
  }
  rl = 2 + topic.len + (d->qos > 0 ? 2 : 0) + npl + np + m->props_len +
       m->payload.len;
  hdr[0] = (uint8_t) (MQTT_CMD_PUBLISH << 4 | (dup ? 8 : 0) | d->qos << 1 |
                      (d->retain ? 1 : 0));
  nh = 1 + put_varint(hdr + 1, (uint32_t) rl);
  if (s->max_packet != 0 && nh + rl > s->max_packet) return false;
  if (alias != 0 && !known) alias_take(s, topic);
  mg_send(c, hdr, nh);
  hdr[0] = (uint8_t) (topic.len >> 8), hdr[1] = (uint8_t) topic.len;
  mg_send(c, hdr, 2);
  mg_send(c, topic.buf, topic.len);
  if (d->qos > 0) {
    hdr[0] = (uint8_t) (d->id >> 8), hdr[1] = (uint8_t) d->id;
    mg_send(c, hdr, 2);
  }
  if (v5) {
    mg_send(c, plen, npl);
    mg_send(c, props, np);
    if (m->props_len) mg_send(c, m->props, m->props_len);
  }
  if (m->payload.len) mg_send(c, m->payload.buf, m->payload.len);
  return true;
}
