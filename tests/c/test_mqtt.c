/* MQTT: variable integers, packet parser (3.1.1 and 5, malformed inputs),
 * v5 properties of every type, CONNECT payload, topic filters and matching,
 * and a client + broker-side listener in one manager over loopback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

#if MG_ENABLE_MQTT

static void test_varint(void) {
  uint32_t vals[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455};
  size_t i;
  for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
    uint8_t b[4];
    uint32_t v = 99;
    size_t n = mg_mqtt_encode_varint(b, vals[i]);
    CHECK(mg_mqtt_decode_varint(b, n, &v) == (int) n && v == vals[i]);
    if (n > 1) CHECK(mg_mqtt_decode_varint(b, n - 1, &v) == 0);
  }
  {
    uint8_t bad[5] = {0xff, 0xff, 0xff, 0xff, 0x01};
    uint32_t v;
    CHECK(mg_mqtt_decode_varint(bad, 5, &v) == -1);
  }
}

static void test_parse(void) {
  struct mg_mqtt_message m;
  /* PUBLISH QoS 1, topic "a/b", id 7, payload "hi". */
  const uint8_t pub[] = {0x32, 9, 0, 3, 'a', '/', 'b', 0, 7, 'h', 'i'};
  /* v5 PUBLISH QoS 0 with properties: user property k=v, payload format 1,
   * message expiry 60, subscription id 300, topic alias 5. */
  const uint8_t pub5[] = {0x30, 27, 0, 1, 't', 20, 0x26, 0, 1, 'k', 0, 1, 'v',
                          0x01, 1, 0x02, 0, 0, 0, 60, 0x0b, 0xac, 0x02, 0x23,
                          0, 5, 'x', 'y', 'z'};
  size_t i;
  CHECK(mg_mqtt_parse(pub, sizeof(pub), 4, &m) == MQTT_OK);
  CHECK(m.cmd == 3 && m.qos == 1 && m.id == 7);
  CHECK(mg_str_eq(m.topic, "a/b") && mg_str_eq(m.data, "hi"));
  CHECK(m.dgram.len == sizeof(pub));
  for (i = 0; i < sizeof(pub); i++)
    CHECK(mg_mqtt_parse(pub, i, 4, &m) == MQTT_INCOMPLETE);

  CHECK(mg_mqtt_parse(pub5, sizeof(pub5), 5, &m) == MQTT_OK);
  CHECK(mg_str_eq(m.topic, "t") && mg_str_eq(m.data, "xyz"));
  {
    struct mg_mqtt_prop p;
    size_t ofs = 0;
    int n = 0;
    while ((ofs = mg_mqtt_next_prop(&m, &p, ofs)) != 0) {
      if (n == 0) CHECK(p.id == 0x26 && mg_str_eq(p.key, "k") &&
                        mg_str_eq(p.val, "v"));
      if (n == 1) CHECK(p.id == 0x01 && p.iv == 1);
      if (n == 2) CHECK(p.id == 0x02 && p.iv == 60);
      if (n == 3) CHECK(p.id == 0x0b && p.iv == 300);
      if (n == 4) CHECK(p.id == 0x23 && p.iv == 5);
      n++;
    }
    CHECK(n == 5);
  }
  /* The same bytes read as 3.1.1: the property block becomes payload. */
  CHECK(mg_mqtt_parse(pub5, sizeof(pub5), 4, &m) == MQTT_OK);
  CHECK(m.data.len == 24);

  {
    const uint8_t connack[] = {0x20, 2, 0, 5};
    const uint8_t suback[] = {0x90, 4, 0, 9, 1, 0x80};
    const uint8_t ping[] = {0xc0, 0};
    CHECK(mg_mqtt_parse(connack, 4, 4, &m) == MQTT_OK && m.cmd == 2 &&
          m.ack == 5);
    CHECK(mg_mqtt_parse(suback, 6, 4, &m) == MQTT_OK && m.id == 9 &&
          m.data.len == 2 && (uint8_t) m.data.buf[1] == 0x80);
    CHECK(mg_mqtt_parse(ping, 2, 4, &m) == MQTT_OK && m.cmd == 12);
  }
  /* Malformed: type 0, 5-byte length, QoS 3, truncated topic, unknown v5
   * property, property overrunning its block, oversize packet. */
  {
    const uint8_t t0[] = {0x00, 0};
    const uint8_t vl[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t q3[] = {0x36, 4, 0, 1, 'a', 'b'};
    const uint8_t tt[] = {0x30, 2, 0, 9};
    const uint8_t up[] = {0x30, 5, 0, 1, 't', 1, 0x7f};
    const uint8_t ov[] = {0x30, 6, 0, 1, 't', 2, 0x02, 0};
    const uint8_t big[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    CHECK(mg_mqtt_parse(t0, sizeof(t0), 4, &m) == MQTT_MALFORMED);
    CHECK(mg_mqtt_parse(vl, sizeof(vl), 4, &m) == MQTT_MALFORMED);
    CHECK(mg_mqtt_parse(q3, sizeof(q3), 4, &m) == MQTT_MALFORMED);
    CHECK(mg_mqtt_parse(tt, sizeof(tt), 4, &m) == MQTT_MALFORMED);
    CHECK(mg_mqtt_parse(up, sizeof(up), 5, &m) == MQTT_MALFORMED);
    CHECK(mg_mqtt_parse(ov, sizeof(ov), 5, &m) == MQTT_MALFORMED);
    CHECK(mg_mqtt_parse(big, sizeof(big), 4, &m) == MQTT_MALFORMED);
  }
}

static void test_connect_and_topics(void) {
  struct mg_mqtt_message m;
  struct mg_mqtt_connect_info ci;
  /* 3.1.1 CONNECT: clean, will QoS 1 retain, user+pass, keepalive 30. */
  const uint8_t c[] = {0x10, 34, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xee, 0, 30,
                       0, 2, 'i', 'd', 0, 1, 'w', 0, 3, 'b', 'y', 'e',
                       0, 4, 'u', 's', 'e', 'r', 0, 4, 'p', 'a', 's', 's'};
  const uint8_t sub[] = {0x82, 12, 0, 3, 0, 3, 'a', '/', '+', 1,
                         0, 1, '#', 0};
  struct mg_str t;
  uint8_t opts;
  size_t pos;
  CHECK(mg_mqtt_parse(c, sizeof(c), 4, &m) == MQTT_OK && m.version == 4);
  CHECK(mg_mqtt_parse_connect(&m, &ci));
  CHECK(mg_str_eq(ci.client_id, "id") && ci.keepalive == 30 && ci.clean);
  CHECK(ci.will && ci.will_qos == 1 && ci.will_retain);
  CHECK(mg_str_eq(ci.will_topic, "w") && mg_str_eq(ci.will_message, "bye"));
  CHECK(mg_str_eq(ci.user, "user") && mg_str_eq(ci.pass, "pass"));

  CHECK(mg_mqtt_parse(sub, sizeof(sub), 4, &m) == MQTT_OK && m.id == 3);
  pos = mg_mqtt_next_topic(&m, &t, &opts, 0);
  CHECK(pos != 0 && mg_str_eq(t, "a/+") && opts == 1);
  pos = mg_mqtt_next_topic(&m, &t, &opts, pos);
  CHECK(pos != 0 && mg_str_eq(t, "#") && opts == 0);
  CHECK(mg_mqtt_next_topic(&m, &t, &opts, pos) == 0);

  CHECK(mg_mqtt_match(mg_str("a/b"), mg_str("a/+")));
  CHECK(mg_mqtt_match(mg_str("a"), mg_str("a/#")));
  CHECK(mg_mqtt_match(mg_str("a/b/c"), mg_str("a/#")));
  CHECK(mg_mqtt_match(mg_str("a/b/c"), mg_str("#")));
  CHECK(mg_mqtt_match(mg_str("/x"), mg_str("+/+")));
  CHECK(mg_mqtt_match(mg_str("a/"), mg_str("a/+")));
  CHECK(!mg_mqtt_match(mg_str("a/b/c"), mg_str("a/+")));
  CHECK(!mg_mqtt_match(mg_str("a"), mg_str("a/b")));
  CHECK(!mg_mqtt_match(mg_str("a/b"), mg_str("a")));
  CHECK(!mg_mqtt_match(mg_str("$SYS/x"), mg_str("#")));
  CHECK(!mg_mqtt_match(mg_str("$SYS/x"), mg_str("+/x")));
  CHECK(mg_mqtt_match(mg_str("$SYS/x"), mg_str("$SYS/#")));
  CHECK(!mg_mqtt_match(mg_str("ab"), mg_str("a")));
  /* Invalid filters match nothing, not even their own text. */
  CHECK(mg_mqtt_filter_valid(mg_str("a/+/#")));
  CHECK(mg_mqtt_filter_valid(mg_str("+")) && mg_mqtt_filter_valid(mg_str("/")));
  CHECK(!mg_mqtt_filter_valid(mg_str("")));
  CHECK(!mg_mqtt_filter_valid(mg_str("#/a")));
  CHECK(!mg_mqtt_filter_valid(mg_str("a/#/")));
  CHECK(!mg_mqtt_filter_valid(mg_str("a+")) &&
        !mg_mqtt_filter_valid(mg_str("+a/b")));
  CHECK(!mg_mqtt_filter_valid(mg_str("a/b#")));
  CHECK(!mg_mqtt_match(mg_str("#/a"), mg_str("#/a")));
  CHECK(!mg_mqtt_match(mg_str("x/a"), mg_str("#/a")));
  CHECK(!mg_mqtt_match(mg_str("a+"), mg_str("a+")));
  CHECK(!mg_mqtt_match(mg_str(""), mg_str("")));
}

#ifndef MG_TEST_TARGET /* sockets on 127.0.0.1: host only */
/* ---- Loopback: a client and a minimal broker-side handler ---- */
struct ctx {
  int opens, broker_cmds[16], client_cmds[16], msgs;
  char last_topic[32], last_data[32];
};

static void broker_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct ctx *x = (struct ctx *) c->fn_data;
  if (ev == MG_EV_MQTT_CMD) {
    struct mg_mqtt_message *mm = (struct mg_mqtt_message *) ev_data;
    x->broker_cmds[mm->cmd & 15]++;
    if (mm->cmd == MQTT_CMD_CONNECT) {
      mg_send(c, "\x20\x02\x00\x00", 4);
    } else if (mm->cmd == MQTT_CMD_SUBSCRIBE) {
      uint8_t ack[5] = {0x90, 3, (uint8_t) (mm->id >> 8), (uint8_t) mm->id, 1};
      mg_send(c, ack, sizeof(ack));
    } else if (mm->cmd == MQTT_CMD_PUBLISH) {
      struct mg_mqtt_opts o;
      memset(&o, 0, sizeof(o));
      o.topic = mm->topic;
      o.message = mm->data;
      o.qos = 2; /* echo at QoS 2: PUBREC/PUBREL/PUBCOMP both ways */
      mg_mqtt_pub(c, &o);
    }
  }
}

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct ctx *x = (struct ctx *) c->fn_data;
  if (ev == MG_EV_MQTT_OPEN) {
    struct mg_mqtt_opts o;
    CHECK(*(int *) ev_data == 0);
    x->opens++;
    memset(&o, 0, sizeof(o));
    o.topic = mg_str("t/1");
    o.qos = 1;
    CHECK(mg_mqtt_sub(c, &o) > 0);
    o.message = mg_str("payload");
    CHECK(mg_mqtt_pub(c, &o) > 0);
  } else if (ev == MG_EV_MQTT_CMD) {
    struct mg_mqtt_message *mm = (struct mg_mqtt_message *) ev_data;
    x->client_cmds[mm->cmd & 15]++;
  } else if (ev == MG_EV_MQTT_MSG) {
    struct mg_mqtt_message *mm = (struct mg_mqtt_message *) ev_data;
    mg_snprintf(x->last_topic, sizeof(x->last_topic), "%.*s",
                (int) mm->topic.len, mm->topic.buf);
    mg_snprintf(x->last_data, sizeof(x->last_data), "%.*s",
                (int) mm->data.len, mm->data.buf);
    x->msgs++;
  }
}

static void test_loopback(void) {
  struct mg_mgr mgr;
  struct ctx x;
  struct mg_connection *lc, *cc;
  struct mg_mqtt_opts o;
  char url[64];
  int i;
  memset(&x, 0, sizeof(x));
  mg_mgr_init(&mgr);
  lc = mg_mqtt_listen(&mgr, "mqtt://127.0.0.1:0", broker_fn, &x);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "mqtt://127.0.0.1:%u",
              (unsigned) mg_ntohs(lc->loc.port));
  memset(&o, 0, sizeof(o));
  o.client_id = mg_str("c1");
  o.keepalive = 30;
  o.clean = true;
  cc = mg_mqtt_connect(&mgr, url, &o, client_fn, &x);
  CHECK(cc != NULL);
  for (i = 0; i < 300 && x.broker_cmds[MQTT_CMD_PUBCOMP] == 0; i++)
    mg_mgr_poll(&mgr, 10);
  CHECK(x.opens == 1);
  CHECK(x.broker_cmds[MQTT_CMD_CONNECT] == 1);
  CHECK(x.broker_cmds[MQTT_CMD_SUBSCRIBE] == 1);
  CHECK(x.broker_cmds[MQTT_CMD_PUBLISH] == 1);
  CHECK(x.client_cmds[MQTT_CMD_PUBACK] == 1);  /* core acked our QoS 1 */
  CHECK(x.client_cmds[MQTT_CMD_SUBACK] == 1);
  CHECK(x.msgs == 1 && strcmp(x.last_topic, "t/1") == 0 &&
        strcmp(x.last_data, "payload") == 0);
  CHECK(x.broker_cmds[MQTT_CMD_PUBREC] == 1);  /* QoS 2 flow, both cores */
  CHECK(x.client_cmds[MQTT_CMD_PUBREL] == 1);
  CHECK(x.broker_cmds[MQTT_CMD_PUBCOMP] == 1);
  /* Garbage from the client side: the broker side closes, then the client
   * sees the end of the stream. */
  mg_send(cc, "\x00\x00", 2);
  for (i = 0; i < 100 && mgr.conns != NULL && mgr.conns->next != NULL; i++)
    mg_mgr_poll(&mgr, 10);
  CHECK(mgr.conns != NULL && mgr.conns->next == NULL); /* only the listener */
  mg_mgr_free(&mgr);
}

#endif /* MG_TEST_TARGET */

int main(void) {
  test_varint();
  test_parse();
  test_connect_and_topics();
#ifndef MG_TEST_TARGET
  test_loopback();
#endif
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built with MG_ENABLE_MQTT=0\n");
  return TEST_REPORT();
}
#endif
