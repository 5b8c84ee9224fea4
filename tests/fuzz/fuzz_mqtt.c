/* Fuzz target: the MQTT packet parser, v5 property walker, topic filter
 * helpers and the broker-side connection glue. Invariants (abort()):
 *  - a parsed packet lies inside the input, its topic/payload inside it;
 *  - walking the v5 properties ends exactly at the end of their block;
 *  - topic-filter iteration moves forward and stays inside the packet;
 *  - mg_mqtt_filter_valid and mg_mqtt_match agree with an independent
 *    validity check and recursive matcher on "topic\nfilter" inputs (an
 *    invalid filter matches nothing);
 *  - everything the glue sends back is a sequence of parseable packets. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "invariant failed %s:%d: %s\n", __FILE__, __LINE__, \
              #cond);                                                   \
      abort();                                                          \
    }                                                                   \
  } while (0)

static bool inside(struct mg_str s, struct mg_str outer) {
  return s.len == 0 ||
         (s.buf >= outer.buf && s.buf + s.len <= outer.buf + outer.len);
}

/* Reference validity, level by level: a level holding '+' or '#' is that
 * one character, and a '#' level is the last one; no filter is empty. */
static bool ref_valid(const char *f, size_t fl) {
  size_t start = 0;
  if (fl == 0) return false;
  while (start <= fl) {
    size_t end = start, k;
    while (end < fl && f[end] != '/') end++;
    for (k = start; k < end; k++) {
      if ((f[k] == '+' || f[k] == '#') && end - start != 1) return false;
    }
    if (end - start == 1 && f[start] == '#' && end != fl) return false;
    start = end + 1;
  }
  return true;
}

/* Reference: level lists compared recursively (valid filters only). */
static bool ref_match(const char *t, size_t tl, const char *f, size_t fl,
                      bool first) {
  size_t te = 0, fe = 0;
  if (first && tl > 0 && t[0] == '$' && fl > 0 && (f[0] == '+' || f[0] == '#'))
    return false;
  while (fe < fl && f[fe] != '/') fe++;
  if (fe == 1 && f[0] == '#' && fe == fl) return true;
  while (te < tl && t[te] != '/') te++;
  if (!(fe == 1 && f[0] == '+') && (fe != te || memcmp(f, t, fe) != 0))
    return false;
  if (fe == fl && te == tl) return true;
  if (fe == fl) return false;
  if (te == tl) return fl - fe == 2 && f[fe + 1] == '#';
  return ref_match(t + te + 1, tl - te - 1, f + fe + 1, fl - fe - 1, false);
}

static void check_packet(const uint8_t *data, size_t size, uint8_t version) {
  struct mg_mqtt_message m;
  struct mg_str in = mg_str_n((const char *) data, size);
  int rc = mg_mqtt_parse(data, size, version, &m);
  REQUIRE(rc == MQTT_OK || rc == MQTT_INCOMPLETE || rc == MQTT_MALFORMED);
  if (rc != MQTT_OK) return;
  REQUIRE(m.dgram.buf == (const char *) data && m.dgram.len <= size);
  REQUIRE(inside(m.topic, m.dgram) && inside(m.data, m.dgram));
  if (m.props_size > 0) {
    struct mg_mqtt_prop p;
    size_t ofs = 0, next;
    REQUIRE(m.props_start + m.props_size <= m.dgram.len);
    while ((next = mg_mqtt_next_prop(&m, &p, ofs)) != 0) {
      REQUIRE(next > ofs && next <= m.props_size);
      REQUIRE(inside(p.key, in) && inside(p.val, in));
      ofs = next;
    }
    REQUIRE(ofs == m.props_size);
  }
  {
    struct mg_str t;
    uint8_t o;
    size_t pos = 0, next;
    while ((next = mg_mqtt_next_topic(&m, &t, &o, pos)) != 0) {
      REQUIRE(next > pos && next <= m.dgram.len && inside(t, m.dgram));
      pos = next;
    }
  }
  {
    struct mg_mqtt_connect_info ci;
    if (mg_mqtt_parse_connect(&m, &ci)) {
      REQUIRE(inside(ci.client_id, m.dgram) && inside(ci.user, m.dgram));
      REQUIRE(inside(ci.will_topic, m.dgram) && ci.will_qos < 3);
    }
  }
}

static void user_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_MQTT_MSG) {
    struct mg_mqtt_message *m = (struct mg_mqtt_message *) ev_data;
    struct mg_mqtt_opts o;
    memset(&o, 0, sizeof(o));
    o.topic = m->topic;
    o.message = m->data;
    o.qos = m->qos;
    mg_mqtt_pub(c, &o); /* echo, as a broker would */
  } else if (ev == MG_EV_MQTT_CMD) {
    struct mg_mqtt_message *m = (struct mg_mqtt_message *) ev_data;
    if (m->cmd == MQTT_CMD_CONNECT) mg_send(c, "\x20\x02\x00\x00", 4);
  }
}

static void glue(const uint8_t *data, size_t size) {
  struct mg_mgr mgr;
  struct mg_connection *c;
  size_t ofs = 0;
  mg_mgr_init_net(&mgr, NULL);
  c = mg_alloc_conn(&mgr);
  REQUIRE(c != NULL);
  mg_add_conn(c);
  c->fn = user_fn;
  c->pfn = mg_mqtt_handler;
  c->is_accepted = 1;
  c->fd = (void *) 1;
  mg_iobuf_add(&c->recv, 0, data, size);
  mg_call(c, MG_EV_READ, NULL);
  mg_call(c, MG_EV_POLL, NULL);
  while (ofs < c->send.len) {
    struct mg_mqtt_message m;
    /* Packets echoed before a v5 CONNECT are 3.1.1 ones. */
    int rc = mg_mqtt_parse(c->send.buf + ofs, c->send.len - ofs, 4, &m);
    if (rc != MQTT_OK)
      rc = mg_mqtt_parse(c->send.buf + ofs, c->send.len - ofs, 5, &m);
    REQUIRE(rc == MQTT_OK);
    ofs += m.dgram.len;
  }
  mg_call(c, MG_EV_CLOSE, NULL);
  mgr.conns = NULL;
  c->fd = NULL;
  mg_free_conn(c);
  mg_mgr_free(&mgr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = (const uint8_t *) memchr(data, '\n', size);
  check_packet(data, size, 4);
  check_packet(data, size, 5);
  if (nl != NULL) {
    size_t tl = (size_t) (nl - data);
    struct mg_str t = mg_str_n((const char *) data, tl);
    struct mg_str f = mg_str_n((const char *) nl + 1, size - tl - 1);
    bool valid = ref_valid(f.buf, f.len);
    REQUIRE(mg_mqtt_filter_valid(f) == valid);
    REQUIRE(mg_mqtt_match(t, f) ==
            (valid && ref_match(t.buf, t.len, f.buf, f.len, true)));
  }
  glue(data, size);
  return 0;
}
