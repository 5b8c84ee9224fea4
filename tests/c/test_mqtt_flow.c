/* MQTT flow control, sessions and deadlines, against a raw TCP "broker" in
 * the same manager that decides packet by packet what to acknowledge:
 * - the client keeps at most Receive Maximum QoS 1/2 exchanges in flight and
 *   queues the rest in order, refusing (0) past MG_MQTT_QUEUE_MAX;
 * - a PUBREC with a reason >= 0x80 ends the exchange without PUBREL;
 * - a session handed to a new connection is resent after CONNACK (DUP set
 *   with Session Present 1, as new PUBLISHes without it);
 * - CONNECT / CONNACK deadlines and the server's 1.5 x keep-alive limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

#if MG_ENABLE_MQTT

/* ---- The raw broker: records packets, answers as told ---- */
struct pkt {
  uint8_t b0;
  uint16_t id;
  uint8_t reason;
};

struct broker {
  struct mg_connection *conn; /* the accepted connection */
  struct pkt seen[64];
  int n;
  bool v5;
  uint32_t connect_rm; /* Receive Maximum of the CONNECT (v5), 0 = none */
  uint8_t connack[16]; /* sent on CONNECT */
  size_t connack_len;
};

static void raw_broker_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct broker *b = (struct broker *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_ACCEPT) b->conn = c;
  if (ev == MG_EV_CLOSE && b->conn == c) b->conn = NULL;
  if (ev != MG_EV_READ) return;
  for (;;) {
    struct mg_mqtt_message mm;
    if (mg_mqtt_parse(c->recv.buf, c->recv.len, b->v5 ? 5 : 4, &mm) != MQTT_OK)
      break;
    if (mm.cmd == MQTT_CMD_CONNECT) {
      struct mg_mqtt_prop p;
      size_t ofs = 0;
      while ((ofs = mg_mqtt_next_prop(&mm, &p, ofs)) != 0)
        if (p.id == MQTT_PROP_RECEIVE_MAXIMUM) b->connect_rm = p.iv;
      mg_send(c, b->connack, b->connack_len);
    } else if (b->n < 64) {
      b->seen[b->n].b0 = (uint8_t) mm.dgram.buf[0];
      b->seen[b->n].id = mm.id;
      b->seen[b->n].reason = mm.ack;
      b->n++;
    }
    mg_iobuf_del(&c->recv, 0, mm.dgram.len);
  }
}

static void ack(struct broker *b, uint8_t cmd, uint16_t id, uint8_t reason) {
  uint8_t p[5] = {(uint8_t) (cmd << 4), 3, (uint8_t) (id >> 8), (uint8_t) id,
                  reason};
  if (!b->v5) p[1] = 2;
  mg_send(b->conn, p, b->v5 ? 5 : 4);
}

/* ---- The client side: records its events ---- */
struct client {
  int opened, errors, closed;
  char error[64];
  uint16_t acks[64][3]; /* cmd, id, reason of PUBACK/PUBREC/PUBCOMP */
  int nacks;
};

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct client *cl = (struct client *) c->fn_data;
  if (ev == MG_EV_MQTT_OPEN) cl->opened++;
  if (ev == MG_EV_CLOSE) cl->closed++;
  if (ev == MG_EV_ERROR) {
    cl->errors++;
    mg_snprintf(cl->error, sizeof(cl->error), "%s", (const char *) ev_data);
  }
  if (ev == MG_EV_MQTT_CMD) {
    struct mg_mqtt_message *mm = (struct mg_mqtt_message *) ev_data;
    if (mm->cmd >= MQTT_CMD_PUBACK && mm->cmd <= MQTT_CMD_PUBCOMP &&
        cl->nacks < 64) {
      cl->acks[cl->nacks][0] = mm->cmd;
      cl->acks[cl->nacks][1] = mm->id;
      cl->acks[cl->nacks][2] = mm->ack;
      cl->nacks++;
    }
  }
}

static void poll_ms(struct mg_mgr *mgr, int ms) {
  uint64_t end = mg_millis() + (uint64_t) ms;
  while (mg_millis() < end) mg_mgr_poll(mgr, 5);
}

static void poll_until(struct mg_mgr *mgr, const int *v, int want, int ms) {
  uint64_t end = mg_millis() + (uint64_t) ms;
  while (*v < want && mg_millis() < end) mg_mgr_poll(mgr, 5);
}

static struct mg_connection *start(struct mg_mgr *mgr, struct broker *b,
                                   char *url, size_t len) {
  struct mg_connection *lc = mg_listen(mgr, "tcp://127.0.0.1:0", raw_broker_fn, b);
  if (lc != NULL)
    mg_snprintf(url, len, "mqtt://127.0.0.1:%u", (unsigned) mg_ntohs(lc->loc.port));
  return lc;
}

static uint16_t pub(struct mg_connection *c, uint8_t qos, const char *msg) {
  struct mg_mqtt_opts o;
  memset(&o, 0, sizeof(o));
  o.topic = mg_str("t");
  o.message = mg_str(msg);
  o.qos = qos;
  return mg_mqtt_pub(c, &o);
}

/* v5: Receive Maximum 3 in CONNACK. 10 QoS 1 publishes: 3 go out, each
 * PUBACK lets exactly one more go, in order. QoS 2: a PUBREC 0x97 ends the
 * exchange without PUBREL and frees its slot; a PUBREC 0 gets PUBREL. */
static void test_receive_maximum(void) {
  struct mg_mgr mgr;
  struct broker b;
  struct client cl;
  struct mg_mqtt_opts o;
  struct mg_connection *c;
  uint16_t ids[12];
  char url[64];
  int i;
  const uint8_t connack[] = {0x20, 6, 0, 0, 3, 0x21, 0, 3};
  memset(&b, 0, sizeof(b));
  memset(&cl, 0, sizeof(cl));
  b.v5 = true;
  memcpy(b.connack, connack, sizeof(connack));
  b.connack_len = sizeof(connack);
  mg_mgr_init(&mgr);
  CHECK(start(&mgr, &b, url, sizeof(url)) != NULL);
  memset(&o, 0, sizeof(o));
  o.version = 5;
  o.client_id = mg_str("rm");
  c = mg_mqtt_connect(&mgr, url, &o, client_fn, &cl);
  CHECK(c != NULL);
  /* Before CONNACK everything waits, in order. */
  for (i = 0; i < 10; i++) CHECK((ids[i] = pub(c, 1, "m")) != 0);
  poll_until(&mgr, &cl.opened, 1, 2000);
  poll_ms(&mgr, 100);
  CHECK(cl.opened == 1);
  CHECK(b.connect_rm == MG_MQTT_INFLIGHT_MAX); /* announced by the client */
  CHECK(b.n == 3);
  for (i = 0; i < 3 && i < b.n; i++) CHECK(b.seen[i].id == ids[i]);
  ack(&b, MQTT_CMD_PUBACK, ids[1], 0); /* out of order: still one slot */
  poll_ms(&mgr, 100);
  CHECK(b.n == 4 && b.seen[3].id == ids[3]);
  ack(&b, MQTT_CMD_PUBACK, ids[1], 0); /* a repeated PUBACK frees nothing */
  poll_ms(&mgr, 100);
  CHECK(b.n == 4);
  for (i = 0; i < 10; i++) ack(&b, MQTT_CMD_PUBACK, ids[i], 0);
  poll_ms(&mgr, 100);
  CHECK(b.n == 10);
  for (i = 0; i < 10 && i < b.n; i++) CHECK(b.seen[i].b0 == 0x32);
  for (i = 4; i < 10 && i < b.n; i++) CHECK(b.seen[i].id == ids[i]);
  poll_ms(&mgr, 100);
  CHECK(b.n == 10); /* all acknowledged: nothing pending */
  CHECK(cl.nacks >= 10 && cl.acks[0][0] == MQTT_CMD_PUBACK);

  /* QoS 2: refused by PUBREC 0x97, accepted by PUBREC 0. */
  b.n = 0;
  ids[0] = pub(c, 2, "refused");
  ids[1] = pub(c, 2, "taken");
  poll_ms(&mgr, 100);
  CHECK(b.n == 2);
  ack(&b, MQTT_CMD_PUBREC, ids[0], 0x97);
  ack(&b, MQTT_CMD_PUBREC, ids[1], 0);
  poll_ms(&mgr, 100);
  CHECK(b.n == 3 && b.seen[2].b0 == 0x62 && b.seen[2].id == ids[1]);
  /* The application saw the refusal with its reason code. */
  {
    bool saw = false;
    for (i = 0; i < cl.nacks; i++)
      saw |= cl.acks[i][0] == MQTT_CMD_PUBREC && cl.acks[i][1] == ids[0] &&
             cl.acks[i][2] == 0x97;
    CHECK(saw);
  }
  /* Slots: 1 in flight (PUBREL), so 2 more go at once, the third waits
   * until the PUBCOMP (an unknown id frees nothing). */
  ids[11] = ids[1];
  b.n = 0;
  for (i = 0; i < 3; i++) ids[i] = pub(c, 1, "x");
  poll_ms(&mgr, 100);
  CHECK(b.n == 2);
  ack(&b, MQTT_CMD_PUBCOMP, 0x7777, 0);
  poll_ms(&mgr, 50);
  CHECK(b.n == 2);
  ack(&b, MQTT_CMD_PUBCOMP, ids[11], 0);
  poll_ms(&mgr, 50);
  CHECK(b.n == 3 && b.seen[2].id == ids[2]);
  CHECK(cl.errors == 0);
  mg_mgr_free(&mgr);
}

/* Queue bound: before CONNACK MG_MQTT_QUEUE_MAX publishes wait; one more is
 * refused with 0 and never sent. 3.1.1: no Receive Maximum, so up to
 * MG_MQTT_INFLIGHT_MAX go out at once. */
static void test_queue_limit(void) {
  struct mg_mgr mgr;
  struct broker b;
  struct client cl;
  struct mg_mqtt_opts o;
  struct mg_connection *c;
  char url[64];
  int i, ok = 0;
  memset(&b, 0, sizeof(b));
  memset(&cl, 0, sizeof(cl));
  memcpy(b.connack, "\x20\x02\x00\x00", 4);
  b.connack_len = 4;
  mg_mgr_init(&mgr);
  CHECK(start(&mgr, &b, url, sizeof(url)) != NULL);
  memset(&o, 0, sizeof(o));
  o.client_id = mg_str("ql");
  c = mg_mqtt_connect(&mgr, url, &o, client_fn, &cl);
  for (i = 0; i < MG_MQTT_QUEUE_MAX; i++) ok += pub(c, 1, "q") != 0;
  CHECK(ok == MG_MQTT_QUEUE_MAX);
  CHECK(pub(c, 1, "refused") == 0);
  CHECK(pub(c, 2, "refused") == 0);
  poll_until(&mgr, &cl.opened, 1, 2000);
  poll_ms(&mgr, 100);
  CHECK(b.n == (MG_MQTT_INFLIGHT_MAX < 64 ? MG_MQTT_INFLIGHT_MAX : 64));
  mg_mgr_free(&mgr);
}

/* A session outlives its connection: 2 QoS 1 unacknowledged and one QoS 2
 * past PUBREC. A new connection with Session Present 1 sends them again in
 * order (PUBLISH with DUP, PUBREL); with Session Present 0 the QoS 1 ones go
 * as new PUBLISHes and the released QoS 2 is done. */
static void test_session_resume(void) {
  int present;
  for (present = 1; present >= 0; present--) {
    struct mg_mgr mgr;
    struct broker b;
    struct client cl;
    struct mg_mqtt_opts o;
    struct mg_connection *c;
    struct mg_mqtt_session *s = mg_mqtt_session_new();
    uint16_t id1, id2, id3;
    char url[64];
    memset(&b, 0, sizeof(b));
    memset(&cl, 0, sizeof(cl));
    memcpy(b.connack, "\x20\x02\x00\x00", 4);
    b.connack_len = 4;
    mg_mgr_init(&mgr);
    CHECK(s != NULL && start(&mgr, &b, url, sizeof(url)) != NULL);
    memset(&o, 0, sizeof(o));
    o.client_id = mg_str("sess");
    o.session = s;
    c = mg_mqtt_connect(&mgr, url, &o, client_fn, &cl);
    poll_until(&mgr, &cl.opened, 1, 2000);
    id1 = pub(c, 1, "a");
    id2 = pub(c, 1, "b");
    id3 = pub(c, 2, "c");
    poll_ms(&mgr, 100);
    CHECK(b.n == 3);
    ack(&b, MQTT_CMD_PUBREC, id3, 0);
    poll_ms(&mgr, 100);
    CHECK(b.n == 4 && b.seen[3].b0 == 0x62);
    CHECK(mg_mqtt_session_pending(s) == 3);
    mg_close_conn(b.conn);
    poll_until(&mgr, &cl.closed, 1, 2000);
    CHECK(mg_mqtt_session_pending(s) == 3); /* kept after the close */

    b.n = 0;
    b.connack[2] = (uint8_t) present;
    c = mg_mqtt_connect(&mgr, url, &o, client_fn, &cl);
    CHECK(pub(c, 1, "d") != 0); /* newer: goes after the resent ones */
    poll_until(&mgr, &cl.opened, 2, 2000);
    poll_ms(&mgr, 100);
    if (present) {
      CHECK(b.n == 4);
      CHECK(b.seen[0].b0 == 0x3a && b.seen[0].id == id1);
      CHECK(b.seen[1].b0 == 0x3a && b.seen[1].id == id2);
      CHECK(b.seen[2].b0 == 0x62 && b.seen[2].id == id3);
      CHECK(b.seen[3].b0 == 0x32);
    } else {
      CHECK(b.n == 3);
      CHECK(b.seen[0].b0 == 0x32 && b.seen[0].id == id1);
      CHECK(b.seen[1].b0 == 0x32 && b.seen[1].id == id2);
      CHECK(b.seen[2].b0 == 0x32 && b.seen[2].id != id3);
    }
    mg_mgr_free(&mgr);
    CHECK(mg_mqtt_session_pending(s) == (size_t) (present ? 4 : 3));
    mg_mqtt_session_free(s);
  }
}

/* ---- Deadlines ---- */
struct srv {
  int errors, closed;
  char error[64];
  uint64_t closed_at[4];
};

static void mqtt_srv_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct srv *sv = (struct srv *) c->fn_data;
  if (ev == MG_EV_ACCEPT) mg_mqtt_set_connect_timeout(c, 200);
  if (ev == MG_EV_MQTT_CMD &&
      ((struct mg_mqtt_message *) ev_data)->cmd == MQTT_CMD_CONNECT)
    mg_send(c, "\x20\x02\x00\x00", 4);
  if (ev == MG_EV_ERROR) {
    sv->errors++;
    mg_snprintf(sv->error, sizeof(sv->error), "%s", (const char *) ev_data);
  }
  if (ev == MG_EV_CLOSE && !c->is_listening && sv->closed < 4)
    sv->closed_at[sv->closed++] = mg_millis();
}

static void raw_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_CONNECT && c->fn_data != NULL) {
    const struct mg_str *s = (const struct mg_str *) c->fn_data;
    mg_send(c, s->buf, s->len);
  }
}

static void test_server_deadlines(void) {
  /* CONNECT with keep-alive 1 s, client id "k". */
  static const char full[] = "\x10\x0d\x00\x04MQTT\x04\x02\x00\x01\x00\x01k";
  struct mg_str half = mg_str_n(full, 6), whole = mg_str_n(full, 15);
  struct mg_mgr mgr;
  struct srv sv;
  struct mg_connection *lc;
  char url[64];
  uint64_t t0;
  memset(&sv, 0, sizeof(sv));
  mg_mgr_init(&mgr);
  lc = mg_mqtt_listen(&mgr, "mqtt://127.0.0.1:0", mqtt_srv_fn, &sv);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u",
              (unsigned) mg_ntohs(lc->loc.port));
  /* Silent, then half a CONNECT: both cut after 200 ms. */
  t0 = mg_millis();
  mg_connect(&mgr, url, raw_fn, NULL);
  mg_connect(&mgr, url, raw_fn, &half);
  poll_until(&mgr, &sv.closed, 2, 3000);
  CHECK(sv.closed == 2);
  CHECK(sv.closed_at[0] - t0 >= 200 && sv.closed_at[1] - t0 >= 200);
  CHECK(strcmp(sv.error, "MQTT CONNECT timeout") == 0);
  /* A full CONNECT with keep-alive 1 s, then silence: cut after 1.5 s (not
   * by the 200 ms CONNECT deadline). */
  sv.closed = 0;
  t0 = mg_millis();
  mg_connect(&mgr, url, raw_fn, &whole);
  poll_until(&mgr, &sv.closed, 1, 4000);
  CHECK(sv.closed == 1);
  CHECK(sv.closed_at[0] - t0 >= 1500 && sv.closed_at[0] - t0 < 3000);
  CHECK(strcmp(sv.error, "MQTT keep-alive timeout") == 0);
  mg_mgr_free(&mgr);
}

/* A client whose CONNECT gets no CONNACK gives up after its deadline. */
static void test_connack_deadline(void) {
  struct mg_mgr mgr;
  struct broker b;
  struct client cl;
  struct mg_connection *c;
  char url[64];
  uint64_t t0;
  memset(&b, 0, sizeof(b));
  memset(&cl, 0, sizeof(cl));
  b.connack_len = 0; /* never answers */
  mg_mgr_init(&mgr);
  CHECK(start(&mgr, &b, url, sizeof(url)) != NULL);
  t0 = mg_millis();
  c = mg_mqtt_connect(&mgr, url, NULL, client_fn, &cl);
  mg_mqtt_set_connect_timeout(c, 150);
  poll_until(&mgr, &cl.closed, 1, 3000);
  CHECK(cl.closed == 1 && cl.opened == 0);
  CHECK(mg_millis() - t0 >= 150);
  CHECK(strcmp(cl.error, "MQTT CONNACK timeout") == 0);
  mg_mgr_free(&mgr);
}

/* Broker side: an accepted v5 connection whose CONNECT says Receive Maximum
 * 2 gets 2 QoS 1 publishes until it acknowledges one. */
static int s_raw_pubs;
static void counting_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    /* v5 CONNECT, properties: Receive Maximum 2; client id "r". */
    static const uint8_t conn[] = {0x10, 0x11, 0, 4, 'M', 'Q', 'T', 'T', 5,
                                   2, 0, 0, 3, 0x21, 0, 2, 0, 1, 'r'};
    mg_send(c, conn, sizeof(conn));
  } else if (ev == MG_EV_READ) {
    struct mg_mqtt_message mm;
    while (mg_mqtt_parse(c->recv.buf, c->recv.len, 5, &mm) == MQTT_OK) {
      if (mm.cmd == MQTT_CMD_PUBLISH && ++s_raw_pubs == 2) {
        uint8_t ack[4] = {0x40, 2, (uint8_t) (mm.id >> 8), (uint8_t) mm.id};
        if (c->fn_data != NULL) mg_send(c, ack, sizeof(ack));
      }
      mg_iobuf_del(&c->recv, 0, mm.dgram.len);
    }
  }
}

static struct mg_connection *s_accepted;
static void pub_srv_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_MQTT_CMD &&
      ((struct mg_mqtt_message *) ev_data)->cmd == MQTT_CMD_CONNECT) {
    int i;
    mg_send(c, "\x20\x03\x00\x00\x00", 5);
    for (i = 0; i < 5; i++) CHECK(pub(c, 1, "to client") != 0);
    s_accepted = c;
  }
}

static void test_server_honours_client_receive_maximum(void) {
  struct mg_mgr mgr;
  struct mg_connection *lc;
  char url[64];
  mg_mgr_init(&mgr);
  lc = mg_mqtt_listen(&mgr, "mqtt://127.0.0.1:0", pub_srv_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u",
              (unsigned) mg_ntohs(lc->loc.port));
  mg_connect(&mgr, url, counting_fn, (void *) 1);
  poll_ms(&mgr, 300);
  CHECK(s_accepted != NULL);
  /* 2 sent, the second PUBACKed by the client: one more, then none. */
  CHECK(s_raw_pubs == 3);
  mg_mgr_free(&mgr);
}

int main(void) {
  test_receive_maximum();
  test_queue_limit();
  test_session_resume();
  test_server_honours_client_receive_maximum();
  test_server_deadlines();
  test_connack_deadline();
  return TEST_REPORT();
}
#else
/* Broker side: an accepted v5 connection whose CONNECT says Receive Maximum
 * 2 gets 2 QoS 1 publishes until it acknowledges one. */
static int s_raw_pubs;
static void counting_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_CONNECT) {
    /* v5 CONNECT, properties: Receive Maximum 2; client id "r". */
    static const uint8_t conn[] = {0x10, 0x11, 0, 4, 'M', 'Q', 'T', 'T', 5,
                                   2, 0, 0, 3, 0x21, 0, 2, 0, 1, 'r'};
    mg_send(c, conn, sizeof(conn));
  } else if (ev == MG_EV_READ) {
    struct mg_mqtt_message mm;
    while (mg_mqtt_parse(c->recv.buf, c->recv.len, 5, &mm) == MQTT_OK) {
      if (mm.cmd == MQTT_CMD_PUBLISH && ++s_raw_pubs == 2) {
        uint8_t ack[4] = {0x40, 2, (uint8_t) (mm.id >> 8), (uint8_t) mm.id};
        if (c->fn_data != NULL) mg_send(c, ack, sizeof(ack));
      }
      mg_iobuf_del(&c->recv, 0, mm.dgram.len);
    }
  }
}

static struct mg_connection *s_accepted;
static void pub_srv_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_MQTT_CMD &&
      ((struct mg_mqtt_message *) ev_data)->cmd == MQTT_CMD_CONNECT) {
    int i;
    mg_send(c, "\x20\x03\x00\x00\x00", 5);
    for (i = 0; i < 5; i++) CHECK(pub(c, 1, "to client") != 0);
    s_accepted = c;
  }
}

static void test_server_honours_client_receive_maximum(void) {
  struct mg_mgr mgr;
  struct mg_connection *lc;
  char url[64];
  mg_mgr_init(&mgr);
  lc = mg_mqtt_listen(&mgr, "mqtt://127.0.0.1:0", pub_srv_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u",
              (unsigned) mg_ntohs(lc->loc.port));
  mg_connect(&mgr, url, counting_fn, (void *) 1);
  poll_ms(&mgr, 300);
  CHECK(s_accepted != NULL);
  /* 2 sent, the second PUBACKed by the client: one more, then none. */
  CHECK(s_raw_pubs == 3);
  mg_mgr_free(&mgr);
}

int main(void) {
  printf("skipped: built with MG_ENABLE_MQTT=0\n");
  return TEST_REPORT();
}
#endif
