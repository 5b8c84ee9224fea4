/* MQTT connection glue: packet encoders, client login and keep-alive, the
 * QoS 1/2 acknowledgement flows with retransmission, and framing of inbound
 * packets into MG_EV_MQTT_* events (client and broker side). */
#include "mg.h"

#if MG_ENABLE_MQTT

#include <stdlib.h>
#include <string.h>

/* An outgoing QoS exchange waiting for its acknowledgement. */
struct inflight {
  uint8_t *pkt; /* copy of the PUBLISH or PUBREL to resend */
  size_t len;
  uint64_t sent;
  uint16_t id;
};

struct mqtt_state {
  uint8_t version;    /* 4 or 5 */
  uint8_t connected;  /* client: CONNACK accepted */
  uint16_t keepalive; /* client: seconds */
  uint64_t last_tx, last_rx;
  uint8_t *login;     /* client: CONNECT kept until the transport is up */
  size_t login_len;
  struct inflight fl[MG_MQTT_MAX_INFLIGHT];
  /* Inbound QoS 2 ids between PUBREC and PUBREL: a resent PUBLISH with one
   * of them is acknowledged again but not delivered twice. */
  uint16_t rx_qos2[MG_MQTT_MAX_INFLIGHT];
};

uint16_t mg_mqtt_next_id(struct mg_mgr *mgr) {
  if (++mgr->mqtt_id == 0) mgr->mqtt_id = 1;
  return mgr->mqtt_id;
}

static struct mqtt_state *mstate(struct mg_connection *c) {
  if (c->pfn != mg_mqtt_handler || c->is_listening) return NULL;
  if (c->pfn_data == NULL) {
    /* Accepted children inherit the listener's NULL state. */
    struct mqtt_state *st =
        (struct mqtt_state *) calloc(1, sizeof(struct mqtt_state));
    if (st == NULL) return NULL;
    st->version = 4;
    st->last_rx = st->last_tx = mg_millis();
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

static void build_connect(struct mg_iobuf *io, const struct mg_mqtt_opts *o,
                          struct mg_str cid) {
  uint8_t v = o->version == 5 ? 5 : 4, flags = 0;
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
  }
  build_connect(&io, o, cid);
  flush(c, &io);
}

/* Remembers a QoS exchange for retransmission (best effort when full). */
static void track(struct mg_connection *c, uint16_t id, const uint8_t *pkt,
                  size_t len) {
  struct mqtt_state *st = mstate(c);
  size_t i;
  if (st == NULL) return;
  for (i = 0; i < MG_MQTT_MAX_INFLIGHT; i++) {
    struct inflight *f = &st->fl[i];
    if (f->pkt != NULL && f->id != id) continue;
    free(f->pkt);
    if ((f->pkt = (uint8_t *) malloc(len)) == NULL) {
      f->id = 0;
      return;
    }
    memcpy(f->pkt, pkt, len);
    f->len = len;
    f->id = id;
    f->sent = mg_millis();
    return;
  }
}

static void untrack(struct mqtt_state *st, uint16_t id) {
  size_t i;
  for (i = 0; i < MG_MQTT_MAX_INFLIGHT; i++) {
    if (st->fl[i].pkt != NULL && st->fl[i].id == id) {
      free(st->fl[i].pkt);
      memset(&st->fl[i], 0, sizeof(st->fl[i]));
    }
  }
}

uint16_t mg_mqtt_pub(struct mg_connection *c, const struct mg_mqtt_opts *o) {
  struct mg_iobuf io = {NULL, 0, 0, 0};
  uint8_t v = version_of(c), qos = o->qos & 3;
  uint16_t id = 0;
  size_t len = str_len(o->topic) + props_total(v, o->props, o->num_props) +
               o->message.len;
  uint8_t b0 = (uint8_t) (MQTT_CMD_PUBLISH << 4 | qos << 1 |
                          (o->retain ? 1 : 0));
  if (qos > 0) {
    id = o->retransmit_id ? o->retransmit_id : mg_mqtt_next_id(c->mgr);
    if (o->retransmit_id) b0 |= 0x08; /* DUP */
    len += 2;
  }
  put_header(&io, b0, len);
  put_str(&io, o->topic);
  if (qos > 0) put_u16(&io, id);
  if (v == 5) put_props(&io, o->props, o->num_props);
  put(&io, o->message.buf, o->message.len);
  if (qos > 0 && io.len > 0) {
    io.buf[0] |= 0x08; /* a resend is a duplicate */
    track(c, id, io.buf, io.len);
    io.buf[0] = b0;
  }
  flush(c, &io);
  return id;
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

/* PUBACK / PUBREC / PUBREL / PUBCOMP with id (v5: reason 0 is implied). */
static void send_ack(struct mg_connection *c, uint8_t cmd, uint16_t id) {
  uint8_t b[4] = {(uint8_t) (cmd << 4 | (cmd == MQTT_CMD_PUBREL ? 2 : 0)), 2,
                  (uint8_t) (id >> 8), (uint8_t) id};
  mg_send(c, b, sizeof(b));
  if (cmd == MQTT_CMD_PUBREL) track(c, id, b, sizeof(b));
}

/* ---- Inbound ---- */

/* Records an inbound QoS 2 id; false when it is already recorded. When the
 * table is full the oldest slot is reused (delivery then may repeat). */
static bool rx_qos2_add(struct mqtt_state *st, uint16_t id) {
  size_t i, free_slot = MG_MQTT_MAX_INFLIGHT;
  if (id == 0) return true;
  for (i = 0; i < MG_MQTT_MAX_INFLIGHT; i++) {
    if (st->rx_qos2[i] == id) return false;
    if (st->rx_qos2[i] == 0 && free_slot == MG_MQTT_MAX_INFLIGHT) free_slot = i;
  }
  if (free_slot == MG_MQTT_MAX_INFLIGHT) {
    memmove(st->rx_qos2, st->rx_qos2 + 1,
            sizeof(st->rx_qos2) - sizeof(st->rx_qos2[0]));
    free_slot = MG_MQTT_MAX_INFLIGHT - 1;
  }
  st->rx_qos2[free_slot] = id;
  return true;
}

static void rx_qos2_del(struct mqtt_state *st, uint16_t id) {
  size_t i;
  for (i = 0; i < MG_MQTT_MAX_INFLIGHT; i++)
    if (st->rx_qos2[i] == id) st->rx_qos2[i] = 0;
}
static void handle(struct mg_connection *c, struct mqtt_state *st,
                   struct mg_mqtt_message *mm) {
  switch (mm->cmd) {
    case MQTT_CMD_CONNECT:
      if (!c->is_client) {
        c->is_mqtt5 = mm->version == 5;
        st->version = version_of(c);
      }
      break;
    case MQTT_CMD_CONNACK: {
      int code = mm->ack;
      st->connected = code == 0;
      mg_call(c, MG_EV_MQTT_OPEN, &code);
      if (code != 0 && !c->is_closing)
        mg_error(c, "MQTT connection refused, code %d", code);
      break;
    }
    case MQTT_CMD_PUBLISH:
      if (mm->qos == 1) send_ack(c, MQTT_CMD_PUBACK, mm->id);
      if (mm->qos == 2) {
        send_ack(c, MQTT_CMD_PUBREC, mm->id);
        if (!rx_qos2_add(st, mm->id)) break; /* a duplicate: already had it */
      }
      mg_call(c, MG_EV_MQTT_MSG, mm);
      break;
    case MQTT_CMD_PUBACK:
    case MQTT_CMD_PUBCOMP:
      untrack(st, mm->id);
      break;
    case MQTT_CMD_PUBREC:
      untrack(st, mm->id);
      send_ack(c, MQTT_CMD_PUBREL, mm->id);
      break;
    case MQTT_CMD_PUBREL:
      rx_qos2_del(st, mm->id);
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
  size_t i;
  if (c->is_client && !st->connected) return;
  for (i = 0; i < MG_MQTT_MAX_INFLIGHT; i++) {
    struct inflight *f = &st->fl[i];
    if (f->pkt != NULL && now - f->sent >= MG_MQTT_RETRANSMIT_MS) {
      mg_send(c, f->pkt, f->len);
      f->sent = now;
    }
  }
  if (c->is_client && st->keepalive > 0) {
    uint64_t ka = (uint64_t) st->keepalive * 1000;
    if (now - st->last_rx > ka + ka / 2) {
      mg_error(c, "MQTT keep-alive timeout");
    } else if (now - st->last_tx >= ka) {
      mg_mqtt_ping(c);
      st->last_tx = now;
    }
  }
}

static void state_free(struct mg_connection *c) {
  struct mqtt_state *st = (struct mqtt_state *) c->pfn_data;
  size_t i;
  if (st == NULL) return;
  for (i = 0; i < MG_MQTT_MAX_INFLIGHT; i++) free(st->fl[i].pkt);
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
        st->last_rx = st->last_tx = mg_millis();
      }
      break;
    case MG_EV_READ:
      process(c, st);
      break;
    case MG_EV_WRITE:
      st->last_tx = mg_millis();
      break;
    case MG_EV_POLL:
      on_poll(c, st);
      break;
    default:
      break;
  }
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
  if ((st = (struct mqtt_state *) calloc(1, sizeof(*st))) == NULL) return NULL;
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
