/* The C example broker (examples/mqtt_broker/, compiled in here without its
 * main) in one manager with raw TCP clients over loopback: every rejection
 * of issue #21 (malformed packets, reserved flags, CONNECT fields, PUBLISH
 * topics, acknowledgements of the wrong kind, topic aliases, filters), each
 * checked by the bytes the broker answers and whether it closes the
 * connection, plus a QoS 2 exchange. */
#include "mg.h"
#include "mg_test.h"

#if MG_ENABLE_MQTT
#define MQTT_BROKER_NO_MAIN
#include "../../examples/mqtt_broker/main.c"
#include "../../examples/mqtt_broker/route.c"
#include "../../examples/mqtt_broker/session.c"
#include "../../examples/mqtt_broker/subs.c"
#include "../../examples/mqtt_broker/will.c"
#include "../../examples/mqtt_broker/wire.c"

struct client {
  char got[512];
  size_t len;
  bool closed;
};

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct client *cl = (struct client *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_READ) {
    size_t n = c->recv.len;
    if (n > sizeof(cl->got) - cl->len) n = sizeof(cl->got) - cl->len;
    memcpy(cl->got + cl->len, c->recv.buf, n);
    cl->len += n;
    c->recv.len = 0;
  } else if (ev == MG_EV_CLOSE) {
    cl->closed = true;
  }
}

static struct mg_mgr s_mgr;
static struct broker s_b;
static char s_url[64];

/* Sends the packets, polls until the broker answered want_len bytes or
 * closed, and returns the client's connection (NULL if none was made). */
static struct mg_connection *exchange(struct client *cl, const void *pkt,
                                      size_t len, size_t want_len) {
  struct mg_connection *c;
  int i;
  memset(cl, 0, sizeof(*cl));
  c = mg_connect(&s_mgr, s_url, client_fn, cl);
  if (c == NULL) return NULL;
  mg_send(c, pkt, len);
  for (i = 0; i < 200 && !cl->closed && cl->len < want_len; i++)
    mg_mgr_poll(&s_mgr, 5);
  for (i = 0; i < 10 && !cl->closed; i++) mg_mgr_poll(&s_mgr, 5);
  return c;
}

/* Closes a client still open, so that its MG_EV_CLOSE writes into cl while
 * cl lives (else mg_mgr_free would write into a stack frame long gone:
 * a crash in the clang build). */
static void hang_up(struct mg_connection *c, struct client *cl) {
  int i;
  if (c == NULL || cl->closed) return; /* closed: c is freed already */
  c->is_closing = 1;
  for (i = 0; i < 10 && !cl->closed; i++) mg_mgr_poll(&s_mgr, 5);
}

/* CONNECT "MQTT" level 4, clean, keep-alive 60, client id "c". */
#define CONNECT4 0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 'c'
#define CONNACK_OK 0x20, 2, 0, 0

static void expect(const char *what, const uint8_t *pkt, size_t len,
                   const uint8_t *answer, size_t alen, bool closes) {
  struct client cl;
  struct mg_connection *c = exchange(&cl, pkt, len, alen + 1);
  bool closed = cl.closed; /* before hang_up */
  if (cl.len != alen || memcmp(cl.got, answer, alen) != 0 || closed != closes) {
    size_t i;
    fprintf(stderr, "%s: got %u bytes, closed %d:", what, (unsigned) cl.len,
            (int) closed);
    for (i = 0; i < cl.len; i++)
      fprintf(stderr, " %02x", (unsigned) (uint8_t) cl.got[i]);
    fprintf(stderr, "\n");
  }
  CHECK(cl.len == alen && memcmp(cl.got, answer, alen) == 0);
  CHECK(closed == closes);
  hang_up(c, &cl);
  CHECK(cl.closed);
}

static void test_rejections(void) {
  static const uint8_t ok[] = {CONNACK_OK}, none[1] = {0};
  /* Protocol level 6: CONNACK 0x01, then closed. */
  static const uint8_t lvl6[] = {0x10, 13, 0, 4,  'M', 'Q', 'T', 'T',
                                 6,    2,  0, 60, 0,   1,   'c'};
  static const uint8_t rc1[] = {0x20, 2, 0, 1};
  /* 3.1 ("MQIsdp", level 3) with an empty client id: CONNACK 0x02. */
  static const uint8_t empty31[] = {0x10, 14,  0, 6, 'M', 'Q', 'I', 's',
                                    'd',  'p', 3, 2, 0,   60,  0,   0};
  static const uint8_t rc2[] = {0x20, 2, 0, 2};
  /* Reserved CONNECT flag bit 0 set: closed without CONNACK. */
  static const uint8_t reserved[] = {0x10, 13, 0, 4,  'M', 'Q', 'T', 'T',
                                     4,    3,  0, 60, 0,   1,   'c'};
  /* Client id with an ill-formed UTF-8 byte. */
  static const uint8_t badid[] = {0x10, 13, 0, 4,  'M', 'Q', 'T', 'T',
                                  4,    2,  0, 60, 0,   1,   0xff};
  /* User name bytes after the client id but no user name flag. */
  static const uint8_t noflag[] = {0x10, 16, 0,  4, 'M', 'Q', 'T', 'T', 4,
                                   2,    0,  60, 0, 1,   'c', 0,   1,   'u'};
  /* Will flag with a zero-length will topic. */
  static const uint8_t nowilltopic[] = {0x10, 18, 0, 4, 'M', 'Q', 'T',
                                        'T',  4,  6, 0, 60,  0,   1,
                                        'c',  0,  0, 0, 1,   'm'};
  /* Then, after a good CONNECT: PUBLISH to "a/+" (wildcard). */
  static const uint8_t wild[] = {CONNECT4, 0x30, 5, 0, 3, 'a', '/', '+'};
  /* PUBLISH QoS 1 with packet id 0. */
  static const uint8_t id0[] = {CONNECT4, 0x32, 5, 0, 1, 't', 0, 0};
  /* PUBLISH with QoS 3: the parser says malformed. */
  static const uint8_t qos3[] = {CONNECT4, 0x36, 5, 0, 1, 't', 0, 1};
  /* SUBSCRIBE with reserved flags 0 instead of 2. */
  static const uint8_t subflags[] = {CONNECT4, 0x80, 6, 0, 1, 0, 1, 't', 0};
  /* SUBSCRIBE with no filter at all: the parser says malformed. */
  static const uint8_t subnone[] = {CONNECT4, 0x82, 2, 0, 1};
  /* SUBSCRIBE with an invalid filter "a/#/b". */
  static const uint8_t subbad[] = {CONNECT4, 0x82, 10,  0,   1,   0, 5,
                                   'a',      '/',  '#', '/', 'b', 0};
  /* A second CONNECT. */
  static const uint8_t twice[] = {CONNECT4, CONNECT4};
  /* PINGREQ with flags: reserved bits set. */
  static const uint8_t pingflags[] = {CONNECT4, 0xC1, 0};
  /* v5: SUBSCRIBE with packet id 0 gets DISCONNECT 0x81. */
  static const uint8_t sub5id0[] = {0x10, 14, 0,  4, 'M', 'Q', 'T', 'T',  5,
                                    2,    0,  60, 0, 0,   1,   'c', 0x82, 6,
                                    0,    0,  0,  0, 1,   't', 0};
  expect("level 6", lvl6, sizeof(lvl6), rc1, sizeof(rc1), true);
  expect("empty id on 3.1", empty31, sizeof(empty31), rc2, sizeof(rc2), true);
  expect("reserved flag", reserved, sizeof(reserved), none, 0, true);
  expect("bad UTF-8 id", badid, sizeof(badid), none, 0, true);
  expect("user name without flag", noflag, sizeof(noflag), none, 0, true);
  expect("empty will topic", nowilltopic, sizeof(nowilltopic), none, 0, true);
  expect("wildcard topic", wild, sizeof(wild), ok, sizeof(ok), true);
  expect("packet id 0", id0, sizeof(id0), ok, sizeof(ok), true);
  expect("QoS 3", qos3, sizeof(qos3), ok, sizeof(ok), true);
  expect("SUBSCRIBE flags", subflags, sizeof(subflags), ok, sizeof(ok), true);
  expect("SUBSCRIBE empty", subnone, sizeof(subnone), ok, sizeof(ok), true);
  expect("SUBSCRIBE bad filter", subbad, sizeof(subbad), ok, sizeof(ok), true);
  expect("second CONNECT", twice, sizeof(twice), ok, sizeof(ok), true);
  expect("PINGREQ flags", pingflags, sizeof(pingflags), ok, sizeof(ok), true);
  {
    /* CONNACK with Topic Alias Maximum 10, Receive Maximum 20; then
     * DISCONNECT 0x81. */
    static const uint8_t ans[] = {0x20, 9,    0, 0,  6,    0x22, 0,
                                  10,   0x21, 0, 20, 0xE0, 1,    0x81};
    expect("v5 SUBSCRIBE id 0", sub5id0, sizeof(sub5id0), ans, sizeof(ans),
           true);
  }
}

/* The rest of the rejections of issue #21: CONNECT fields, PUBLISH topics,
 * acknowledgements of the wrong kind, topic aliases, filters. */
static void test_more_rejections(void) {
  static const uint8_t ok[] = {CONNACK_OK}, none[1] = {0};
  /* User name flag, user name "\xc3e" (a lead byte without its
   * continuation). */
  static const uint8_t baduser[] = {0x10, 17, 0,    4,    'M', 'Q', 'T',
                                    'T',  4,  0x82, 0,    60,  0,   1,
                                    'c',  0,  2,    0xc3, 'e'};
  /* 3.1.1: password flag without user name flag. */
  static const uint8_t pwonly[] = {0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 4,  0x42,
                                   0,    60, 0, 1, 'c', 0,   2,   'p', 'w'};
  /* Will retain without the will flag. */
  static const uint8_t willret[] = {0x10, 13,   0, 4,  'M', 'Q', 'T', 'T',
                                    4,    0x22, 0, 60, 0,   1,   'c'};
  /* v5 with Authentication Method "X": CONNACK 0x8C (bad authentication
   * method), then closed. */
  static const uint8_t auth5[] = {0x10, 18, 0,   4, 'M', 'Q', 'T',
                                  'T',  5,  2,   0, 60,  4,   0x15,
                                  0,    1,  'X', 0, 1,   'c'};
  static const uint8_t rc8c[] = {0x20, 3, 0, 0x8C, 0};
  /* PUBLISH topics: "a/#", "a<NUL>", empty, "\xff". */
  static const uint8_t hash[] = {CONNECT4, 0x30, 5, 0, 3, 'a', '/', '#'};
  static const uint8_t nul[] = {CONNECT4, 0x30, 4, 0, 2, 'a', 0};
  static const uint8_t empty[] = {CONNECT4, 0x30, 3, 0, 0, 'x'};
  static const uint8_t badtopic[] = {CONNECT4, 0x30, 3, 0, 1, 0xff};
  /* Subscribed to "t" at QoS 1, publishes to it (id 5): the broker's copy
   * has id 1; a PUBREC (or PUBCOMP) for it is the wrong kind. */
#define SUB_PUB1 \
  CONNECT4, 0x82, 6, 0, 1, 0, 1, 't', 1, 0x32, 6, 0, 1, 't', 0, 5, 'x'
  static const uint8_t pubrec1[] = {SUB_PUB1, 0x50, 2, 0, 1};
  static const uint8_t pubcomp1[] = {SUB_PUB1, 0x70, 2, 0, 1};
  static const uint8_t sub_pub1_ans[] = {CONNACK_OK, 0x90, 3,   0, 1,    1,
                                         0x40,       2,    0,   5, 0x32, 6,
                                         0,          1,    't', 0, 1,    'x'};
  /* SUBSCRIBE with a filter of ill-formed UTF-8. */
  static const uint8_t badfilter[] = {CONNECT4, 0x82, 6, 0, 1, 0, 1, 0xff, 0};
  /* v5: PUBLISH with topic alias 0, and with alias 3 never set. */
#define CONNECT5 0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 60, 0, 0, 1, 'c'
  static const uint8_t alias0[] = {CONNECT5, 0x30, 7, 0, 1, 't', 3, 0x23, 0, 0};
  static const uint8_t alias3[] = {CONNECT5, 0x30, 6, 0, 0, 3, 0x23, 0, 3};
  /* CONNACK (Topic Alias Maximum 10, Receive Maximum 20), DISCONNECT. */
#define CONNACK5 0x20, 9, 0, 0, 6, 0x22, 0, 10, 0x21, 0, 20
  static const uint8_t ans94[] = {CONNACK5, 0xE0, 1, 0x94};
  static const uint8_t ans82[] = {CONNACK5, 0xE0, 1, 0x82};
  expect("bad UTF-8 user name", baduser, sizeof(baduser), none, 0, true);
  expect("password without user name", pwonly, sizeof(pwonly), none, 0, true);
  expect("will retain without will", willret, sizeof(willret), none, 0, true);
  expect("v5 unsupported auth method", auth5, sizeof(auth5), rc8c, sizeof(rc8c),
         true);
  expect("topic with #", hash, sizeof(hash), ok, sizeof(ok), true);
  expect("topic with NUL", nul, sizeof(nul), ok, sizeof(ok), true);
  expect("empty topic", empty, sizeof(empty), ok, sizeof(ok), true);
  expect("bad UTF-8 topic", badtopic, sizeof(badtopic), ok, sizeof(ok), true);
  expect("PUBREC for QoS 1", pubrec1, sizeof(pubrec1), sub_pub1_ans,
         sizeof(sub_pub1_ans), true);
  expect("PUBCOMP for QoS 1", pubcomp1, sizeof(pubcomp1), sub_pub1_ans,
         sizeof(sub_pub1_ans), true);
  expect("bad UTF-8 filter", badfilter, sizeof(badfilter), ok, sizeof(ok),
         true);
  expect("topic alias 0", alias0, sizeof(alias0), ans94, sizeof(ans94), true);
  expect("unset topic alias", alias3, sizeof(alias3), ans82, sizeof(ans82),
         true);
}

/* The accepted case: SUBSCRIBE at QoS 2 is granted 2, and our own QoS 2
 * PUBLISH comes back at QoS 2 after PUBREC. */
static void test_qos2(void) {
  static const uint8_t pkt[] = {
      CONNECT4, 0x82, 6, 0, 1,   0, 1, 't', 2, /* SUBSCRIBE */
      0x34,     8,    0, 1, 't', 0, 9, 'h', 'i', 'x'};
  static const uint8_t ans[] = {CONNACK_OK, 0x90, 3,  0, 1,   2, /* granted 2 */
                                0x50,       2,    0,  9,         /* PUBREC */
                                0x34,       8,    0,  1, 't', 0, 1,
                                'h',        'i',  'x'};
  expect("QoS 2", pkt, sizeof(pkt), ans, sizeof(ans), false);
}

int main(void) {
  struct mg_connection *lc;
  mg_mgr_init(&s_mgr);
  memset(&s_b, 0, sizeof(s_b));
  lc = mg_listen(&s_mgr, "tcp://127.0.0.1:0", fn, &s_b);
  CHECK(lc != NULL);
  if (lc != NULL) {
    mg_snprintf(s_url, sizeof(s_url), "tcp://127.0.0.1:%u",
                (unsigned) mg_ntohs(lc->loc.port));
    mg_timer_add(&s_mgr, 100, MG_TIMER_REPEAT | MG_TIMER_AUTODELETE, timer_fn,
                 &s_mgr);
    test_rejections();
    test_more_rejections();
    test_qos2();
  }
  mg_mgr_free(&s_mgr);
  while (s_b.sessions != NULL) session_free(&s_b, s_b.sessions);
  retained_free(&s_b);
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built with MG_ENABLE_MQTT=0\n");
  return TEST_REPORT();
}
#endif
