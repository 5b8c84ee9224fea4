/* MQTT packet parser and v5 property walker: bytes in, struct out, no I/O.
 * Every read is bounds-checked against the packet's remaining length. */
#include "mg.h"

#if MG_ENABLE_MQTT

size_t mg_mqtt_encode_varint(uint8_t *buf, uint32_t n) {
  size_t i = 0;
  do {
    uint8_t b = (uint8_t) (n & 0x7f);
    n >>= 7;
    buf[i++] = (uint8_t) (b | (n > 0 ? 0x80 : 0));
  } while (n > 0 && i < 4);
  return i;
}

int mg_mqtt_decode_varint(const uint8_t *buf, size_t len, uint32_t *n) {
  uint32_t v = 0;
  size_t i;
  for (i = 0; i < 4; i++) {
    if (i >= len) return 0;
    v |= (uint32_t) (buf[i] & 0x7f) << (7 * i);
    if (!(buf[i] & 0x80)) {
      *n = v;
      return (int) i + 1;
    }
  }
  return -1;
}

int mg_mqtt_prop_type(uint8_t id) {
  switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR:
    case MQTT_PROP_REQUEST_PROBLEM_INFORMATION:
    case MQTT_PROP_REQUEST_RESPONSE_INFORMATION:
    case MQTT_PROP_MAXIMUM_QOS:
    case MQTT_PROP_RETAIN_AVAILABLE:
    case MQTT_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE:
    case MQTT_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE:
    case MQTT_PROP_SHARED_SUBSCRIPTION_AVAILABLE:
      return MQTT_PROP_TYPE_BYTE;
    case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL:
    case MQTT_PROP_SESSION_EXPIRY_INTERVAL:
    case MQTT_PROP_WILL_DELAY_INTERVAL:
    case MQTT_PROP_MAXIMUM_PACKET_SIZE:
      return MQTT_PROP_TYPE_INT;
    case MQTT_PROP_CONTENT_TYPE:
    case MQTT_PROP_RESPONSE_TOPIC:
    case MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER:
    case MQTT_PROP_AUTHENTICATION_METHOD:
    case MQTT_PROP_RESPONSE_INFORMATION:
    case MQTT_PROP_SERVER_REFERENCE:
    case MQTT_PROP_REASON_STRING:
      return MQTT_PROP_TYPE_STRING;
    case MQTT_PROP_CORRELATION_DATA:
    case MQTT_PROP_AUTHENTICATION_DATA:
      return MQTT_PROP_TYPE_BINARY_DATA;
    case MQTT_PROP_SUBSCRIPTION_IDENTIFIER:
      return MQTT_PROP_TYPE_VARIABLE_INT;
    case MQTT_PROP_SERVER_KEEP_ALIVE:
    case MQTT_PROP_RECEIVE_MAXIMUM:
    case MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
    case MQTT_PROP_TOPIC_ALIAS:
      return MQTT_PROP_TYPE_SHORT;
    case MQTT_PROP_USER_PROPERTY:
      return MQTT_PROP_TYPE_STRING_PAIR;
    default:
      return -1;
  }
}

/* A cursor over [p, end). */
struct rd {
  const uint8_t *p, *end;
  bool bad;
};

static uint32_t rd_n(struct rd *r, size_t n) {
  uint32_t v = 0;
  size_t i;
  if (r->bad || (size_t) (r->end - r->p) < n) {
    r->bad = true;
    return 0;
  }
  for (i = 0; i < n; i++) v = (v << 8) | r->p[i];
  r->p += n;
  return v;
}

static struct mg_str rd_str(struct rd *r) {
  struct mg_str s = {NULL, 0};
  size_t n = rd_n(r, 2);
  if (r->bad || (size_t) (r->end - r->p) < n) {
    r->bad = true;
    return s;
  }
  s = mg_str_n((const char *) r->p, n);
  r->p += n;
  return s;
}

static uint32_t rd_varint(struct rd *r) {
  uint32_t v = 0;
  int n;
  if (r->bad) return 0;
  n = mg_mqtt_decode_varint(r->p, (size_t) (r->end - r->p), &v);
  if (n <= 0) {
    r->bad = true;
    return 0;
  }
  r->p += n;
  return v;
}

/* v5 properties at r: records their place and checks every one parses. */
static void rd_props(struct rd *r, const uint8_t *base,
                     struct mg_mqtt_message *m) {
  uint32_t n = rd_varint(r);
  struct mg_mqtt_prop p;
  size_t ofs;
  if (r->bad) return;
  if ((size_t) (r->end - r->p) < n) {
    r->bad = true;
    return;
  }
  m->props_start = (size_t) (r->p - base);
  m->props_size = n;
  r->p += n;
  /* Validate now so consumers never see a half-broken list. */
  for (ofs = 0; ofs < m->props_size;) {
    size_t next = mg_mqtt_next_prop(m, &p, ofs);
    if (next == 0) {
      r->bad = true;
      return;
    }
    ofs = next;
  }
}

size_t mg_mqtt_next_prop(const struct mg_mqtt_message *m,
                         struct mg_mqtt_prop *p, size_t ofs) {
  struct rd r;
  int type;
  if (ofs >= m->props_size || m->props_start + m->props_size > m->dgram.len)
    return 0;
  r.p = (const uint8_t *) m->dgram.buf + m->props_start + ofs;
  r.end = (const uint8_t *) m->dgram.buf + m->props_start + m->props_size;
  r.bad = false;
  memset(p, 0, sizeof(*p));
  p->id = (uint8_t) rd_n(&r, 1);
  type = mg_mqtt_prop_type(p->id);
  switch (type) {
    case MQTT_PROP_TYPE_BYTE: p->iv = rd_n(&r, 1); break;
    case MQTT_PROP_TYPE_SHORT: p->iv = rd_n(&r, 2); break;
    case MQTT_PROP_TYPE_INT: p->iv = rd_n(&r, 4); break;
    case MQTT_PROP_TYPE_VARIABLE_INT: p->iv = rd_varint(&r); break;
    case MQTT_PROP_TYPE_STRING:
    case MQTT_PROP_TYPE_BINARY_DATA: p->val = rd_str(&r); break;
    case MQTT_PROP_TYPE_STRING_PAIR:
      p->key = rd_str(&r);
      p->val = rd_str(&r);
      break;
    default: return 0; /* unknown id: cannot know its size */
  }
  if (r.bad) return 0;
  return (size_t) (r.p - ((const uint8_t *) m->dgram.buf + m->props_start));
}

int mg_mqtt_parse(const uint8_t *buf, size_t len, uint8_t version,
                  struct mg_mqtt_message *m) {
  uint32_t rl = 0;
  int n;
  struct rd r;
  uint8_t cmd;
  memset(m, 0, sizeof(*m));
  if (len < 2) return MQTT_INCOMPLETE;
  cmd = (uint8_t) (buf[0] >> 4);
  if (cmd == 0) return MQTT_MALFORMED;
  n = mg_mqtt_decode_varint(buf + 1, len - 1, &rl);
  if (n < 0) return MQTT_MALFORMED;
  if (n == 0) return MQTT_INCOMPLETE;
  if ((uint64_t) rl + 1 + (uint64_t) n > MG_MQTT_MAX_PACKET)
    return MQTT_MALFORMED;
  if (len < (size_t) rl + 1 + (size_t) n) return MQTT_INCOMPLETE;
  m->cmd = cmd;
  m->qos = (uint8_t) ((buf[0] >> 1) & 3);
  m->version = version;
  m->dgram = mg_str_n((const char *) buf, rl + 1 + (size_t) n);
  r.p = buf + 1 + n;
  r.end = r.p + rl;
  r.bad = false;
  switch (cmd) {
    case MQTT_CMD_CONNECT: {
      struct mg_str proto = rd_str(&r);
      uint8_t level = (uint8_t) rd_n(&r, 1);
      rd_n(&r, 1); /* connect flags */
      rd_n(&r, 2); /* keep-alive */
      if (r.bad) break;
      if (!mg_str_eq(proto, "MQTT") && !mg_str_eq(proto, "MQIsdp"))
        return MQTT_MALFORMED;
      m->version = level;
      if (level == 5) rd_props(&r, buf, m);
      break;
    }
    case MQTT_CMD_CONNACK:
      rd_n(&r, 1); /* session present */
      m->ack = (uint8_t) rd_n(&r, 1);
      if (version == 5 && r.p < r.end) rd_props(&r, buf, m);
      break;
    case MQTT_CMD_PUBLISH:
      if (m->qos == 3) return MQTT_MALFORMED;
      m->topic = rd_str(&r);
      if (m->qos > 0) m->id = (uint16_t) rd_n(&r, 2);
      if (version == 5) rd_props(&r, buf, m);
      if (r.bad) break;
      m->payload_start = (size_t) (r.p - buf);
      m->data = mg_str_n((const char *) r.p, (size_t) (r.end - r.p));
      r.p = r.end;
      break;
    case MQTT_CMD_PUBACK:
    case MQTT_CMD_PUBREC:
    case MQTT_CMD_PUBREL:
    case MQTT_CMD_PUBCOMP:
    case MQTT_CMD_UNSUBACK:
    case MQTT_CMD_SUBACK:
      m->id = (uint16_t) rd_n(&r, 2);
      if (version == 5 && cmd <= MQTT_CMD_PUBCOMP && r.p < r.end) {
        m->ack = (uint8_t) rd_n(&r, 1);
        if (r.p < r.end) rd_props(&r, buf, m);
      } else if (version == 5 && cmd >= MQTT_CMD_SUBACK) {
        rd_props(&r, buf, m);
      }
      if (cmd == MQTT_CMD_SUBACK || cmd == MQTT_CMD_UNSUBACK) {
        if (r.bad) break;
        m->payload_start = (size_t) (r.p - buf);
        m->data = mg_str_n((const char *) r.p, (size_t) (r.end - r.p));
        r.p = r.end;
      }
      break;
    case MQTT_CMD_SUBSCRIBE:
    case MQTT_CMD_UNSUBSCRIBE:
      m->id = (uint16_t) rd_n(&r, 2);
      if (version == 5) rd_props(&r, buf, m);
      if (r.bad) break;
      if (r.p >= r.end) return MQTT_MALFORMED; /* needs one topic filter */
      m->payload_start = (size_t) (r.p - buf);
      r.p = r.end;
      break;
    case MQTT_CMD_DISCONNECT:
    case MQTT_CMD_AUTH:
      if (version == 5 && r.p < r.end) {
        m->ack = (uint8_t) rd_n(&r, 1);
        if (r.p < r.end) rd_props(&r, buf, m);
      }
      break;
    default: /* PINGREQ, PINGRESP: no body */
      break;
  }
  if (r.bad) return MQTT_MALFORMED;
  if (m->payload_start == 0) m->payload_start = (size_t) (r.p - buf);
  return MQTT_OK;
}

size_t mg_mqtt_next_topic(const struct mg_mqtt_message *m, struct mg_str *topic,
                          uint8_t *opts, size_t pos) {
  struct rd r;
  bool sub = m->cmd == MQTT_CMD_SUBSCRIBE;
  if (m->cmd != MQTT_CMD_SUBSCRIBE && m->cmd != MQTT_CMD_UNSUBSCRIBE) return 0;
  if (pos == 0) pos = m->payload_start;
  if (pos >= m->dgram.len) return 0;
  r.p = (const uint8_t *) m->dgram.buf + pos;
  r.end = (const uint8_t *) m->dgram.buf + m->dgram.len;
  r.bad = false;
  *topic = rd_str(&r);
  *opts = sub ? (uint8_t) rd_n(&r, 1) : 0;
  if (r.bad) return 0;
  return (size_t) (r.p - (const uint8_t *) m->dgram.buf);
}

bool mg_mqtt_parse_connect(const struct mg_mqtt_message *m,
                           struct mg_mqtt_connect_info *ci) {
  struct rd r;
  uint8_t flags;
  memset(ci, 0, sizeof(*ci));
  if (m->cmd != MQTT_CMD_CONNECT || m->dgram.len < 2) return false;
  r.p = (const uint8_t *) m->dgram.buf + 1;
  r.end = (const uint8_t *) m->dgram.buf + m->dgram.len;
  r.bad = false;
  rd_varint(&r);
  rd_str(&r); /* protocol name, checked by mg_mqtt_parse */
  ci->version = (uint8_t) rd_n(&r, 1);
  flags = (uint8_t) rd_n(&r, 1);
  ci->keepalive = (uint16_t) rd_n(&r, 2);
  if (r.bad || (flags & 1)) return false; /* reserved flag must be 0 */
  if (ci->version == 5) {
    uint32_t n = rd_varint(&r);
    if (r.bad || (size_t) (r.end - r.p) < n) return false;
    r.p += n;
  }
  ci->clean = (flags >> 1) & 1;
  ci->client_id = rd_str(&r);
  if (flags & 4) {
    ci->will = true;
    ci->will_qos = (flags >> 3) & 3;
    ci->will_retain = (flags >> 5) & 1;
    if (ci->version == 5) {
      ci->will_props_start = (size_t) (r.p - (const uint8_t *) m->dgram.buf);
      uint32_t n = rd_varint(&r);
      if (r.bad || (size_t) (r.end - r.p) < n) return false;
      r.p += n;
    }
    ci->will_topic = rd_str(&r);
    ci->will_message = rd_str(&r);
  }
  if (flags & 0x80) ci->user = rd_str(&r);
  if (flags & 0x40) ci->pass = rd_str(&r);
  return !r.bad && ci->will_qos < 3;
}

bool mg_mqtt_filter_valid(struct mg_str filter) {
  size_t i;
  if (filter.len == 0 || filter.buf == NULL) return false;
  for (i = 0; i < filter.len; i++) {
    char ch = filter.buf[i];
    if (ch != '+' && ch != '#') continue;
    /* A wildcard is a whole level: '/' (or an end) on both sides. */
    if (i > 0 && filter.buf[i - 1] != '/') return false;
    if (i + 1 < filter.len && filter.buf[i + 1] != '/') return false;
    if (ch == '#' && i + 1 != filter.len) return false; /* '#' comes last */
  }
  return true;
}

bool mg_mqtt_match(struct mg_str topic, struct mg_str filter) {
  size_t ti = 0, fi = 0;
  /* An invalid filter (e.g. "#/a", "a+") matches nothing, not even itself. */
  if (!mg_mqtt_filter_valid(filter)) return false;
  /* Wildcards do not match topics starting with '$' at the first level. */
  if (topic.len > 0 && topic.buf[0] == '$' && filter.len > 0 &&
      (filter.buf[0] == '+' || filter.buf[0] == '#'))
    return false;
  for (;;) {
    /* One level of each: [ti, te) and [fi, fe). */
    size_t te = ti, fe = fi;
    while (fe < filter.len && filter.buf[fe] != '/') fe++;
    if (fe - fi == 1 && filter.buf[fi] == '#') return fe == filter.len;
    if (ti > topic.len) return false; /* topic ran out of levels */
    while (te < topic.len && topic.buf[te] != '/') te++;
    if (!(fe - fi == 1 && filter.buf[fi] == '+') &&
        (fe - fi != te - ti || memcmp(filter.buf + fi, topic.buf + ti, fe - fi)))
      return false;
    if (fe >= filter.len) return te >= topic.len;
    /* "a/#" also matches "a": the parent level. */
    if (te >= topic.len) {
      return filter.len - fe == 2 && filter.buf[fe + 1] == '#';
    }
    ti = te + 1;
    fi = fe + 1;
  }
}

#endif /* MG_ENABLE_MQTT */
