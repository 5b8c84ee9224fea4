/* MQTT connection glue: packet encoders, client login and keep-alive, the
 * QoS 1/2 acknowledgement flows with retransmission, and framing of inbound
 * packets into MG_EV_MQTT_* events (client and broker side). */
#include "mg.h"

#if MG_ENABLE_MQTT

#include <stdlib.h>
#include <string.h>

/* An outgoing message of a session: a QoS 1/2 PUBLISH until its exchange
 * ends, or (client, before CONNACK) a QoS 0 one waiting to go out. */
struct outmsg {
  struct outmsg *next;
  uint8_t *pkt; /* the PUBLISH as first sent (DUP clear) */
  size_t len;
  uint64_t sent; /* mg_millis() of the last transmission */
  uint16_t id;
  uint8_t qos;
  bool dup; /* sent before: a resend carries DUP */
  bool rel; /* PUBREC seen: PUBREL sent, waiting for PUBCOMP */
};

struct outlist {
  struct outmsg *head, *tail;
  size_t n;
};

/* The QoS state that outlives a connection when the application keeps it
 * (mg_mqtt_session_new): messages in flight (sent, exchange not finished;
 * in send order), messages waiting for a slot, and inbound QoS 2 ids. */
struct mg_mqtt_session {
  struct outlist fl;    /* in flight */
  struct outlist queue; /* waiting for a slot or for CONNACK */
  /* Inbound QoS 2 ids between PUBREC and PUBREL: a resent PUBLISH with one
   * of them is acknowledged again but not delivered twice. */
  uint16_t rx_qos2[MG_MQTT_INFLIGHT_MAX];
  struct mg_connection *conn; /* the connection using it, or NULL */
};

struct mqtt_state {
  uint8_t version;    /* 4 or 5 */
  uint8_t connected;  /* client: CONNACK accepted; server: CONNECT seen */
  uint16_t keepalive; /* seconds: ours (client) or the client's (server) */
  uint16_t rx_max;    /* the peer's Receive Maximum (65535 when absent) */
  uint32_t connect_ms; /* CONNECT / CONNACK deadline; 0 = default */
  uint64_t last_tx, last_rx;
  uint64_t start; /* accepted (server) or CONNECT sent (client); 0 = not yet */
  uint8_t *login; /* client: CONNECT kept until the transport is up */
  size_t login_len;
  struct mg_mqtt_session own; /* used when the application gives none */
  struct mg_mqtt_session *sess;
};

uint16_t mg_mqtt_next_id(struct mg_mgr *mgr) {
  if (++mgr->mqtt_id == 0) mgr->mqtt_id = 1;
  return mgr->mqtt_id;
}

static struct mqtt_state *state_new(void) {
  struct mqtt_state *st =
      (struct mqtt_state *) calloc(1, sizeof(struct mqtt_state));
  if (st == NULL) return NULL;
  st->version = 4;
  st->rx_max = 65535;
  st->last_rx = st->last_tx = mg_millis();
  st->sess = &st->own;
  return st;
}

static struct mqtt_state *mstate(struct mg_connection *c) {
  if (c->pfn != mg_mqtt_handler || c->is_listening) return NULL;
  if (c->pfn_data == NULL) {
    /* Accepted children inherit the listener's NULL state: the CONNECT
     * deadline runs from here. */
    struct mqtt_state *st = state_new();
    if (st == NULL) return NULL;
    st->own.conn = c;
    if (!c->is_client) st->start = st->last_rx;
    c->pfn_data = st;
  }
  return (struct mqtt_state *) c->pfn_data;
}

static uint8_t version_of(struct mg_connection *c) {
  return c->is_mqtt5 ? 5 : 4;
}

/* ---- Encoding into a growable buffer ---- */
static void put(struct mg_iobuf *io, const void *p, size_t n) {
  mg_iobuf_add(io, io->len, p, n);
}
static void put_u8(struct mg_iobuf *io, uint8_t v) {
  put(io, &v, 1);
}
static void put_u16(struct mg_iobuf *io, uint16_t v) {
  uint8_t b[2] = {(uint8_t) (v >> 8), (uint8_t) v};
  put(io, b, 2);
}
static void put_u32(struct mg_iobuf *io, uint32_t v) {
  uint8_t b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8),
                  (uint8_t) v};
  put(io, b, 4);
}
static void put_str(struct mg_iobuf *io, struct mg_str s) {
  size_t n = s.len > 65535 ? 65535 : s.len;
  put_u16(io, (uint16_t) n);
  put(io, s.buf, n);
}
static void put_varint(struct mg_iobuf *io, uint32_t v) {
  uint8_t b[4];
  put(io, b, mg_mqtt_encode_varint(b, v));
}

static size_t varint_len(uint32_t v) {
  return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static size_t str_len(struct mg_str s) {
  return 2 + (s.len > 65535 ? 65535 : s.len);
}

static size_t props_len(const struct mg_mqtt_prop *p, size_t n) {
  size_t i, len = 0;
  for (i = 0; i < n; i++) {
    len += 1;
    switch (mg_mqtt_prop_type(p[i].id)) {
      case MQTT_PROP_TYPE_BYTE: len += 1; break;
      case MQTT_PROP_TYPE_SHORT: len += 2; break;
      case MQTT_PROP_TYPE_INT: len += 4; break;
      case MQTT_PROP_TYPE_VARIABLE_INT: len += varint_len(p[i].iv); break;
      case MQTT_PROP_TYPE_STRING:
      case MQTT_PROP_TYPE_BINARY_DATA: len += str_len(p[i].val); break;
      case MQTT_PROP_TYPE_STRING_PAIR:
        len += str_len(p[i].key) + str_len(p[i].val);
        break;
      default: len -= 1; break; /* unknown ids are skipped */
    }
  }
  return len;
}

static void put_props(struct mg_iobuf *io, const struct mg_mqtt_prop *p,
                      size_t n) {
  size_t i;
  put_varint(io, (uint32_t) props_len(p, n));
  for (i = 0; i < n; i++) {
    int type = mg_mqtt_prop_type(p[i].id);
    if (type < 0) continue;
    put_u8(io, p[i].id);
    switch (type) {
      case MQTT_PROP_TYPE_BYTE: put_u8(io, (uint8_t) p[i].iv); break;
      case MQTT_PROP_TYPE_SHORT: put_u16(io, (uint16_t) p[i].iv); break;
      case MQTT_PROP_TYPE_INT: put_u32(io, p[i].iv); break;
      case MQTT_PROP_TYPE_VARIABLE_INT: put_varint(io, p[i].iv); break;
      case MQTT_PROP_TYPE_STRING_PAIR:
        put_str(io, p[i].key);
        put_str(io, p[i].val);
        break;
      default: put_str(io, p[i].val); break;
    }
  }
}

static size_t props_total(uint8_t version, const struct mg_mqtt_prop *p,
                          size_t n) {
  size_t len;
  if (version != 5) return 0;
  len = props_len(p, n);
  return varint_len((uint32_t) len) + len;
}

static void put_header(struct mg_iobuf *io, uint8_t b0, size_t len) {
  put_u8(io, b0);
  put_varint(io, (uint32_t) len);
}

/* Moves a built packet to the connection's send buffer. */
static void flush(struct mg_connection *c, struct mg_iobuf *io) {
  if (io->len > 0) mg_send(c, io->buf, io->len);
  mg_iobuf_free(io);
}

static void build_connect(struct mg_iobuf *io, const struct mg_mqtt_opts *opts,
                          struct mg_str cid) {
  struct mg_mqtt_opts with_rm = *opts;
  const struct mg_mqtt_opts *o = opts;
  struct mg_mqtt_prop *props = NULL;
  uint8_t v = o->version == 5 ? 5 : 4, flags = 0;
  size_t i;
  /* v5: announce Receive Maximum (inbound QoS 2 ids we can remember) unless
   * the application sets its own. */
  for (i = 0; v == 5 && i < o->num_props; i++)
    if (o->props[i].id == MQTT_PROP_RECEIVE_MAXIMUM) break;
  if (v == 5 && i == o->num_props &&
      (props = (struct mg_mqtt_prop *) calloc(o->num_props + 1,
                                              sizeof(*props))) != NULL) {
    if (o->num_props > 0)
      memcpy(props, o->props, o->num_props * sizeof(*props));
    props[o->num_props].id = MQTT_PROP_RECEIVE_MAXIMUM;
    props[o->num_props].iv =
        MG_MQTT_INFLIGHT_MAX < 65535 ? MG_MQTT_INFLIGHT_MAX : 65535;
    with_rm.props = props;
    with_rm.num_props = o->num_props + 1;
    o = &with_rm;
  }
  size_t len = str_len(mg_str("MQTT")) + 1 + 1 + 2 +
               props_total(v, o->props, o->num_props) + str_len(cid);
  if (o->topic.len > 0) {
    flags |= (uint8_t) (0x04 | ((o->qos & 3) << 3) | (o->retain ? 0x20 : 0));
    len += props_total(v, o->will_props, o->num_will_props) +
           str_len(o->topic) + str_len(o->message);
  }
  if (o->user.len > 0) flags |= 0x80, len += str_len(o->user);
  if (o->pass.len > 0) flags |= 0x40, len += str_len(o->pass);
  if (o->clean) flags |= 0x02;
  put_header(io, MQTT_CMD_CONNECT << 4, len);
  put_str(io, mg_str("MQTT"));
  put_u8(io, v);
  put_u8(io, flags);
  put_u16(io, o->keepalive);
  if (v == 5) put_props(io, o->props, o->num_props);
  put_str(io, cid);
  if (o->topic.len > 0) {
    if (v == 5) put_props(io, o->will_props, o->num_will_props);
    put_str(io, o->topic);
    put_str(io, o->message);
  }
  if (o->user.len > 0) put_str(io, o->user);
  if (o->pass.len > 0) put_str(io, o->pass);
  free(props);
}

/* Client id for an empty one: "mg-" and 16 random alphanumerics. */
static void make_client_id(char *buf, size_t len) {
  static const char al[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  unsigned char r[16];
  size_t i;
  if (!mg_random(r, sizeof(r))) memset(r, 7, sizeof(r));
  mg_snprintf(buf, len, "mg-");
  for (i = 0; i < sizeof(r) && i + 4 < len; i++) {
    buf[3 + i] = al[r[i] % (sizeof(al) - 1)];
    buf[4 + i] = '\0';
  }
}

void mg_mqtt_login(struct mg_connection *c, const struct mg_mqtt_opts *o) {
  struct mg_iobuf io = {NULL, 0, 0, 0};
  char idbuf[24];
  struct mg_str cid = o->client_id;
  struct mqtt_state *st = mstate(c);
  if (cid.len == 0) {
    make_client_id(idbuf, sizeof(idbuf));
    cid = mg_str(idbuf);
  }
  c->is_mqtt5 = o->version == 5;
  if (st != NULL) {
    st->version = version_of(c);
    st->keepalive = o->keepalive;
    st->start = mg_millis(); /* the CONNACK deadline runs from here */
    if (o->session != NULL) mg_mqtt_session_use(c, o->session);
  }
  build_connect(&io, o, cid);
  flush(c, &io);
}

/* ---- Outgoing QoS 1/2 messages: in flight, queued, sessions ---- */

static void out_push(struct outlist *l, struct outmsg *m) {
  m->next = NULL;
  if (l->tail != NULL) {
    l->tail->next = m;
  } else {
    l->head = m;
  }
  l->tail = m;
  l->n++;
}

static struct outmsg *out_pop(struct outlist *l) {
  struct outmsg *m = l->head;
  if (m != NULL) {
    l->head = m->next;
    if (l->head == NULL) l->tail = NULL;
    l->n--;
  }
  return m;
}

/* Unlinks the message with packet id from l; NULL when not there. */
static struct outmsg *out_take(struct outlist *l, uint16_t id) {
  struct outmsg **pp, *prev = NULL;
  for (pp = &l->head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
    struct outmsg *m = *pp;
    if (m->id != id || m->qos == 0) continue;
    *pp = m->next;
    if (l->tail == m) l->tail = prev;
    l->n--;
    return m;
  }
  return NULL;
}

static struct outmsg *out_find(struct outlist *l, uint16_t id) {
  struct outmsg *m;
  for (m = l->head; m != NULL; m = m->next)
    if (m->id == id && m->qos > 0) return m;
  return NULL;
}

static void out_free(struct outmsg *m) {
  free(m->pkt);
  free(m);
}

static void out_clear(struct outlist *l) {
  struct outmsg *m;
  while ((m = out_pop(l)) != NULL) out_free(m);
}

struct mg_mqtt_session *mg_mqtt_session_new(void) {
  return (struct mg_mqtt_session *) calloc(1, sizeof(struct mg_mqtt_session));
}

/* The state of the connection using s, if any. */
static struct mqtt_state *session_user(struct mg_mqtt_session *s) {
  struct mg_connection *c = s->conn;
  if (c == NULL || c->pfn != mg_mqtt_handler || c->pfn_data == NULL) return NULL;
  return (struct mqtt_state *) c->pfn_data;
}

void mg_mqtt_session_free(struct mg_mqtt_session *s) {
  struct mqtt_state *st;
  if (s == NULL) return;
  if ((st = session_user(s)) != NULL && st->sess == s) {
    st->sess = &st->own; /* the connection goes on with an empty store */
    st->own.conn = s->conn;
  }
  out_clear(&s->fl);
  out_clear(&s->queue);
  free(s);
}

size_t mg_mqtt_session_pending(const struct mg_mqtt_session *s) {
  return s == NULL ? 0 : s->fl.n + s->queue.n;
}

void mg_mqtt_session_use(struct mg_connection *c, struct mg_mqtt_session *s) {
  struct mqtt_state *st = mstate(c), *prev;
  if (st == NULL || s == NULL || st->sess == s) return;
  /* A session serves one connection: an older one goes on without it, and
   * a session c used before is left detached. */
  if ((prev = session_user(s)) != NULL && prev->sess == s) {
    prev->sess = &prev->own;
    prev->own.conn = s->conn;
  }
  if (st->sess != &st->own) st->sess->conn = NULL;
  /* What this connection queued so far goes behind the session's messages. */
  while (st->own.fl.head != NULL) out_push(&s->queue, out_pop(&st->own.fl));
  while (st->own.queue.head != NULL)
    out_push(&s->queue, out_pop(&st->own.queue));
  s->conn = c;
  st->sess = s;
}

/* In-flight limit of c: the peer's Receive Maximum, at most our own. */
static size_t quota(const struct mqtt_state *st) {
  return st->rx_max < MG_MQTT_INFLIGHT_MAX ? st->rx_max : MG_MQTT_INFLIGHT_MAX;
}

/* Sends one message: PUBREL when its PUBREC was seen, else the PUBLISH
 * (DUP set when it went out before). */
static void transmit(struct mg_connection *c, struct outmsg *m) {
  if (m->rel) {
    uint8_t b[4] = {MQTT_CMD_PUBREL << 4 | 2, 2, (uint8_t) (m->id >> 8),
                    (uint8_t) m->id};
    mg_send(c, b, sizeof(b));
  } else {
    uint8_t b0 = (uint8_t) (m->pkt[0] | (m->dup ? 0x08 : 0));
    mg_send(c, &b0, 1);
    mg_send(c, m->pkt + 1, m->len - 1);
    m->dup = true;
  }
  m->sent = mg_millis();
}

/* Whether c may send publishes now (a client only after CONNACK). */
static bool ready(struct mg_connection *c, const struct mqtt_state *st) {
  return !c->is_client || st->connected;
}

/* Moves queued messages out while the in-flight limit allows, in order. */
static void pump(struct mg_connection *c, struct mqtt_state *st) {
  struct mg_mqtt_session *s = st->sess;
  if (!ready(c, st) || c->is_closing) return;
  while (s->queue.head != NULL &&
         (s->queue.head->qos == 0 || s->fl.n < quota(st))) {
    struct outmsg *m = out_pop(&s->queue);
    transmit(c, m);
    if (m->qos == 0) {
      out_free(m);
    } else {
      out_push(&s->fl, m);
    }
  }
}

/* A packet id not used by a message of this session (0: none left). */
static uint16_t free_id(struct mg_connection *c, struct mg_mqtt_session *s) {
  size_t tries;
  for (tries = 0; tries < 65535; tries++) {
    uint16_t id = mg_mqtt_next_id(c->mgr);
    if (out_find(&s->fl, id) == NULL && out_find(&s->queue, id) == NULL)
      return id;
  }
  return 0;
}

uint16_t mg_mqtt_pub(struct mg_connection *c, const struct mg_mqtt_opts *o) {
  struct mg_iobuf io = {NULL, 0, 0, 0};
  struct mqtt_state *st = mstate(c);
  struct mg_mqtt_session *s = st == NULL ? NULL : st->sess;
  struct outmsg *m = NULL;
  uint8_t v = version_of(c), qos = o->qos & 3;
  uint16_t id = 0;
  size_t len = str_len(o->topic) + props_total(v, o->props, o->num_props) +
               o->message.len;
  uint8_t b0 = (uint8_t) (MQTT_CMD_PUBLISH << 4 | qos << 1 |
                          (o->retain ? 1 : 0));
  if (qos > 0) {
    if (s != NULL && o->retransmit_id == 0 && s->queue.n >= MG_MQTT_QUEUE_MAX &&
        !(ready(c, st) && s->queue.n == 0 && s->fl.n < quota(st)))
      return 0; /* refused: it would have to wait and the queue is full */
    id = o->retransmit_id ? o->retransmit_id
         : s != NULL      ? free_id(c, s)
                          : mg_mqtt_next_id(c->mgr);
    if (id == 0) return 0;
    len += 2;
  }
  put_header(&io, b0, len);
  put_str(&io, o->topic);
  if (qos > 0) put_u16(&io, id);
  if (v == 5) put_props(&io, o->props, o->num_props);
  put(&io, o->message.buf, o->message.len);
  if (io.len == 0) return 0; /* out of memory */
  if (s == NULL) {
    /* Not an MQTT connection: just the bytes, nothing tracked. */
    if (o->retransmit_id) io.buf[0] |= 0x08;
    flush(c, &io);
    return id;
  }
  if (qos > 0 && o->retransmit_id != 0 &&
      ((m = out_find(&s->fl, id)) != NULL ||
       (m = out_find(&s->queue, id)) != NULL)) {
    /* The application resends a message we hold: replace its bytes. */
    free(m->pkt);
    m->pkt = io.buf, m->len = io.len, m->rel = false;
    if (out_find(&s->fl, id) == m) transmit(c, m);
    return id;
  }
  if (qos == 0 && ready(c, st)) { /* QoS 0 needs no slot */
    flush(c, &io);
    return 0;
  }
  if (qos == 0 && s->queue.n >= MG_MQTT_QUEUE_MAX) { /* dropped: QoS 0 */
    mg_iobuf_free(&io);
    return 0;
  }
  if ((m = (struct outmsg *) calloc(1, sizeof(*m))) == NULL) {
    mg_iobuf_free(&io);
    return 0;
  }
  m->pkt = io.buf, m->len = io.len, m->id = id, m->qos = qos;
  m->dup = o->retransmit_id != 0;
  out_push(&s->queue, m);
  pump(c, st);
  return qos > 0 ? id : 0;
}
static uint16_t sub_unsub(struct mg_connection *c, const struct mg_mqtt_opts *o,
                          uint8_t cmd) {
  struct mg_iobuf io = {NULL, 0, 0, 0};
  uint8_t v = version_of(c);
  uint16_t id = mg_mqtt_next_id(c->mgr);
  size_t len = 2 + props_total(v, o->props, o->num_props) + str_len(o->topic) +
               (cmd == MQTT_CMD_SUBSCRIBE ? 1 : 0);
  put_header(&io, (uint8_t) (cmd << 4 | 2), len);
  put_u16(&io, id);
  if (v == 5) put_props(&io, o->props, o->num_props);
  put_str(&io, o->topic);
  if (cmd == MQTT_CMD_SUBSCRIBE) put_u8(&io, o->qos & 3);
  flush(c, &io);
  return id;
}

uint16_t mg_mqtt_sub(struct mg_connection *c, const struct mg_mqtt_opts *o) {
  return sub_unsub(c, o, MQTT_CMD_SUBSCRIBE);
}

uint16_t mg_mqtt_unsub(struct mg_connection *c,
                       const struct mg_mqtt_opts *o) {
  return sub_unsub(c, o, MQTT_CMD_UNSUBSCRIBE);
}

void mg_mqtt_send_header(struct mg_connection *c, uint8_t cmd, uint8_t flags,
                         uint32_t len) {
  uint8_t b[5];
  b[0] = (uint8_t) (cmd << 4 | (flags & 0x0f));
  mg_send(c, b, 1 + mg_mqtt_encode_varint(b + 1, len));
}

void mg_mqtt_ping(struct mg_connection *c) {
  mg_mqtt_send_header(c, MQTT_CMD_PINGREQ, 0, 0);
}

void mg_mqtt_pong(struct mg_connection *c) {
  mg_mqtt_send_header(c, MQTT_CMD_PINGRESP, 0, 0);
}

void mg_mqtt_disconnect(struct mg_connection *c,
                        const struct mg_mqtt_opts *o) {
  struct mg_iobuf io = {NULL, 0, 0, 0};
  if (c->is_mqtt5 && o != NULL && o->num_props > 0) {
    put_header(&io, MQTT_CMD_DISCONNECT << 4,
               1 + props_total(5, o->props, o->num_props));
    put_u8(&io, 0);
    put_props(&io, o->props, o->num_props);
    flush(c, &io);
  } else {
    mg_mqtt_send_header(c, MQTT_CMD_DISCONNECT, 0, 0);
  }
}

/* PUBACK / PUBREC / PUBCOMP for an inbound PUBLISH or PUBREL (reason 0 is
 * implied in v5). */
static void send_ack(struct mg_connection *c, uint8_t cmd, uint16_t id) {
  uint8_t b[4] = {(uint8_t) (cmd << 4), 2, (uint8_t) (id >> 8), (uint8_t) id};
  mg_send(c, b, sizeof(b));
}

/* ---- Inbound ---- */

/* Records an inbound QoS 2 id; false when it is already recorded. When the
 * table is full the oldest slot is reused (delivery then may repeat). */
static bool rx_qos2_add(struct mg_mqtt_session *s, uint16_t id) {
  size_t i, free_slot = MG_MQTT_INFLIGHT_MAX;
  if (id == 0) return true;
  for (i = 0; i < MG_MQTT_INFLIGHT_MAX; i++) {
    if (s->rx_qos2[i] == id) return false;
    if (s->rx_qos2[i] == 0 && free_slot == MG_MQTT_INFLIGHT_MAX) free_slot = i;
  }
  if (free_slot == MG_MQTT_INFLIGHT_MAX) {
    memmove(s->rx_qos2, s->rx_qos2 + 1,
            sizeof(s->rx_qos2) - sizeof(s->rx_qos2[0]));
    free_slot = MG_MQTT_INFLIGHT_MAX - 1;
  }
  s->rx_qos2[free_slot] = id;
  return true;
}

static void rx_qos2_del(struct mg_mqtt_session *s, uint16_t id) {
  size_t i;
  for (i = 0; i < MG_MQTT_INFLIGHT_MAX; i++)
    if (s->rx_qos2[i] == id) s->rx_qos2[i] = 0;
}

/* The peer's Receive Maximum from the properties of a CONNECT / CONNACK. */
static uint16_t receive_maximum(const struct mg_mqtt_message *mm) {
  struct mg_mqtt_prop p;
  size_t ofs = 0;
  while ((ofs = mg_mqtt_next_prop(mm, &p, ofs)) != 0)
    if (p.id == MQTT_PROP_RECEIVE_MAXIMUM && p.iv > 0) return (uint16_t) p.iv;
  return 65535;
}

/* CONNACK accepted: the messages of the session go out again. With the
 * server's session present they are resent as they were (PUBLISH with DUP,
 * or PUBREL); without it the server forgot them, so a PUBLISH it never
 * acknowledged is sent as a new one, and one it took (PUBREC) is done. All
 * wait in the queue in front of newer ones, within the new Receive Maximum. */
static void resume(struct mg_connection *c, struct mqtt_state *st,
                   bool present) {
  struct mg_mqtt_session *s = st->sess;
  struct outlist again = {NULL, NULL, 0};
  struct outmsg *m;
  while ((m = out_pop(&s->fl)) != NULL) {
    if (!present && m->rel) {
      out_free(m);
      continue;
    }
    if (!present) m->dup = false;
    out_push(&again, m);
  }
  if (!present) memset(s->rx_qos2, 0, sizeof(s->rx_qos2));
  if (again.head != NULL) {
    again.tail->next = s->queue.head;
    if (s->queue.tail == NULL) s->queue.tail = again.tail;
    s->queue.head = again.head;
    s->queue.n += again.n;
  }
  pump(c, st);
}

static void handle(struct mg_connection *c, struct mqtt_state *st,
                   struct mg_mqtt_message *mm) {
  struct mg_mqtt_session *s = st->sess;
  struct outmsg *m;
  switch (mm->cmd) {
    case MQTT_CMD_CONNECT:
      if (!c->is_client) {
        struct mg_mqtt_connect_info ci;
        c->is_mqtt5 = mm->version == 5;
        st->version = version_of(c);
        st->connected = 1;
        if (mg_mqtt_parse_connect(mm, &ci)) st->keepalive = ci.keepalive;
        if (c->is_mqtt5) st->rx_max = receive_maximum(mm);
      }
      break;
    case MQTT_CMD_CONNACK: {
      int code = mm->ack;
      /* Session Present: bit 0 of the byte after the fixed header. */
      uint32_t rl = 0;
      int n = mg_mqtt_decode_varint((const uint8_t *) mm->dgram.buf + 1,
                                    mm->dgram.len - 1, &rl);
      bool present = n > 0 && (size_t) n + 1 < mm->dgram.len &&
                     (mm->dgram.buf[n + 1] & 1);
      if (!c->is_client) break;
      st->connected = code == 0;
      if (code == 0) {
        if (c->is_mqtt5) st->rx_max = receive_maximum(mm);
        resume(c, st, present);
      }
      mg_call(c, MG_EV_MQTT_OPEN, &code);
      if (code != 0 && !c->is_closing)
        mg_error(c, "MQTT connection refused, code %d", code);
      break;
    }
    case MQTT_CMD_PUBLISH:
      if (mm->qos == 1) send_ack(c, MQTT_CMD_PUBACK, mm->id);
      if (mm->qos == 2) {
        send_ack(c, MQTT_CMD_PUBREC, mm->id);
        if (!rx_qos2_add(s, mm->id)) break; /* a duplicate: already had it */
      }
      mg_call(c, MG_EV_MQTT_MSG, mm);
      break;
    case MQTT_CMD_PUBACK:
      if ((m = out_find(&s->fl, mm->id)) != NULL && m->qos == 1) {
        out_free(out_take(&s->fl, mm->id));
        pump(c, st);
      }
      break;
    case MQTT_CMD_PUBREC:
      m = out_find(&s->fl, mm->id);
      if (m != NULL && m->qos == 2 && mm->ack >= 0x80) {
        /* Refused: the exchange ends here, no PUBREL (MQTT 5, 4.3.3). */
        out_free(out_take(&s->fl, mm->id));
        pump(c, st);
      } else if (m != NULL && m->qos == 2) {
        free(m->pkt);
        m->pkt = NULL, m->len = 0, m->rel = true;
        transmit(c, m);
      } else if (m == NULL && mm->ack < 0x80) {
        /* Unknown id (e.g. a repeated PUBREC after PUBCOMP): release it so
         * the peer can finish; v5 says why. */
        uint8_t b[5] = {MQTT_CMD_PUBREL << 4 | 2, 2, (uint8_t) (mm->id >> 8),
                        (uint8_t) mm->id, 0x92};
        if (c->is_mqtt5) b[1] = 3;
        mg_send(c, b, c->is_mqtt5 ? 5 : 4);
      }
      break;
    case MQTT_CMD_PUBCOMP:
      if ((m = out_find(&s->fl, mm->id)) != NULL && m->rel) {
        out_free(out_take(&s->fl, mm->id));
        pump(c, st);
      }
      break;
    case MQTT_CMD_PUBREL:
      rx_qos2_del(s, mm->id);
      send_ack(c, MQTT_CMD_PUBCOMP, mm->id);
      break;
    case MQTT_CMD_PINGREQ:
      if (!c->is_client) mg_mqtt_pong(c);
      break;
    default:
      break;
  }
}

static void process(struct mg_connection *c, struct mqtt_state *st) {
  while (!c->is_closing && c->pfn == mg_mqtt_handler && c->recv.len > 0) {
    struct mg_mqtt_message mm;
    int rc = mg_mqtt_parse(c->recv.buf, c->recv.len, st->version, &mm);
    size_t n;
    if (rc == MQTT_INCOMPLETE) break;
    if (rc == MQTT_MALFORMED) {
      mg_error(c, "MQTT malformed packet");
      c->recv.len = 0;
      break;
    }
    /* Acks and deliveries for a peer that does not read wait until it has
     * read enough (MG_SEND_HIGH_WATER); MG_EV_POLL brings us back. */
    if (mg_send_backlogged(c)) break;
    n = mm.dgram.len;
    st->last_rx = mg_millis();
    handle(c, st, &mm);
    if (c->pfn != mg_mqtt_handler) break;
    mg_call(c, MG_EV_MQTT_CMD, &mm);
    if (c->pfn != mg_mqtt_handler) break;
    mg_iobuf_del(&c->recv, 0, n);
  }
}

static void on_poll(struct mg_connection *c, struct mqtt_state *st) {
  uint64_t now = mg_millis();
  uint64_t ka = (uint64_t) st->keepalive * 1000;
  uint32_t cto = st->connect_ms ? st->connect_ms : MG_MQTT_CONNECT_TIMEOUT_MS;
  struct outmsg *m;
  if (!st->connected) {
    /* Server: CONNECT must come; client: CONNACK must answer ours. */
    if (st->start != 0 && now - st->start > cto)
      mg_error(c, c->is_client ? "MQTT CONNACK timeout" : "MQTT CONNECT timeout");
    return;
  }
  /* Timed resends are a 3.1.1 practice; MQTT 5 forbids them (4.4). */
  if (!c->is_mqtt5) {
    for (m = st->sess->fl.head; m != NULL; m = m->next)
      if (now - m->sent >= MG_MQTT_RETRANSMIT_MS) transmit(c, m);
  }
  if (ka == 0) return;
  if (now - st->last_rx > ka + ka / 2) {
    /* A server allows 1.5 keep-alives of silence (MQTT 3.1.2.10); a client
     * gets no PINGRESP to its pings for as long. */
    mg_error(c, "MQTT keep-alive timeout");
  } else if (c->is_client && now - st->last_tx >= ka) {
    mg_mqtt_ping(c);
    st->last_tx = now;
  }
}

static void state_free(struct mg_connection *c) {
  struct mqtt_state *st = (struct mqtt_state *) c->pfn_data;
  if (st == NULL) return;
  if (st->sess != &st->own) st->sess->conn = NULL; /* the application's */
  out_clear(&st->own.fl);
  out_clear(&st->own.queue);
  free(st->login);
  free(st);
  c->pfn_data = NULL;
}

void mg_mqtt_handler(struct mg_connection *c, int ev, void *ev_data) {
  struct mqtt_state *st;
  (void) ev_data;
  if (c->is_listening) return;
  if (ev == MG_EV_CLOSE) {
    state_free(c);
    return;
  }
  if ((st = mstate(c)) == NULL) {
    if (ev == MG_EV_READ) mg_error(c, "out of memory");
    return;
  }
  switch (ev) {
    case MG_EV_CONNECT:
      if (st->login != NULL) {
        mg_send(c, st->login, st->login_len);
        free(st->login);
        st->login = NULL;
        st->last_rx = st->last_tx = st->start = mg_millis();
      }
      break;
    case MG_EV_READ:
      process(c, st);
      break;
    case MG_EV_WRITE:
      st->last_tx = mg_millis();
      /* Paused by backpressure we cannot see the peer's PINGREQs; that it
       * reads what we send shows it is alive. */
      if (c->is_throttled) st->last_rx = st->last_tx;
      break;
    case MG_EV_POLL:
      on_poll(c, st);
      /* Packets left waiting by backpressure are handled once it lifts. */
      if (c->recv.len > 0 && !c->is_closing && c->pfn == mg_mqtt_handler &&
          mstate(c) == st && !mg_send_backlogged(c))
        process(c, st);
      break;
    default:
      break;
  }
}

void mg_mqtt_set_connect_timeout(struct mg_connection *c, uint32_t ms) {
  struct mqtt_state *st = mstate(c);
  if (st != NULL) st->connect_ms = ms;
}

struct mg_connection *mg_mqtt_connect(struct mg_mgr *mgr, const char *url,
                                      const struct mg_mqtt_opts *opts,
                                      mg_event_handler_t fn, void *fn_data) {
  struct mg_mqtt_opts dflt;
  struct mg_iobuf io = {NULL, 0, 0, 0};
  struct mqtt_state *st;
  struct mg_connection *c;
  char idbuf[24];
  memset(&dflt, 0, sizeof(dflt));
  if (opts == NULL) opts = &dflt;
  if ((st = state_new()) == NULL) return NULL;
  st->version = opts->version == 5 ? 5 : 4;
  st->keepalive = opts->keepalive;
  if (opts->client_id.len == 0) {
    struct mg_mqtt_opts o = *opts;
    make_client_id(idbuf, sizeof(idbuf));
    o.client_id = mg_str(idbuf);
    build_connect(&io, &o, o.client_id);
  } else {
    build_connect(&io, opts, opts->client_id);
  }
  st->login = io.buf;
  st->login_len = io.len;
  if (st->login == NULL || (c = mg_connect(mgr, url, fn, fn_data)) == NULL) {
    free(st->login);
    free(st);
    return NULL;
  }
  c->is_mqtt5 = st->version == 5;
  c->pfn = mg_mqtt_handler;
  c->pfn_data = st;
  st->own.conn = c;
  if (opts->session != NULL) mg_mqtt_session_use(c, opts->session);
  /* A connect that completed inside mg_connect() missed MG_EV_CONNECT. */
  if (c->fd != NULL && !c->is_connecting && !c->is_resolving &&
      !c->is_closing)
    mg_mqtt_handler(c, MG_EV_CONNECT, NULL);
  return c;
}

struct mg_connection *mg_mqtt_listen(struct mg_mgr *mgr, const char *url,
                                     mg_event_handler_t fn, void *fn_data) {
  struct mg_connection *c = mg_listen(mgr, url, fn, fn_data);
  if (c != NULL) {
    c->pfn = mg_mqtt_handler;
    c->pfn_data = NULL;
  }
  return c;
}

#endif /* MG_ENABLE_MQTT */
