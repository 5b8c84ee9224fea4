/* DNS: query encoding, name decoding with compression (and loop refusal),
 * response parsing, and the resolver end to end against a UDP responder
 * in the same manager (answer, NXDOMAIN, silence with retries, cancel). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

#if MG_ENABLE_DNS

static void test_query(void) {
  uint8_t b[300];
  size_t n = mg_dns_query(b, sizeof(b), 0x1234, mg_str("www.Example.org."), 1);
  const uint8_t want[] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                          3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l',
                          'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1};
  char name[256];
  CHECK(n == sizeof(want) && memcmp(b, want, n) == 0);
  CHECK(mg_dns_name(b, n, 12, name, sizeof(name)) == 17);
  CHECK(strcmp(name, "www.example.org") == 0);
  CHECK(mg_dns_query(b, sizeof(b), 1, mg_str("a..b"), 1) == 0);
  CHECK(mg_dns_query(b, sizeof(b), 1, mg_str(""), 1) == 0);
  {
    char lbl[80];
    memset(lbl, 'x', 64);
    lbl[64] = '\0';
    CHECK(mg_dns_query(b, sizeof(b), 1, mg_str(lbl), 1) == 0); /* > 63 */
  }
  CHECK(mg_dns_query(b, 20, 1, mg_str("long.name.here"), 1) == 0);
}

/* Response to "a.test" A: CNAME a.test -> b.a.test (compressed), then
 * b.a.test A 10.1.2.3 (name compressed into the CNAME's rdata). */
static size_t make_response(uint8_t *m, uint8_t flags2, uint8_t rcode) {
  size_t n = 0;
  const uint8_t head[] = {0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
                          1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
  memcpy(m, head, sizeof(head));
  m[2] |= flags2;
  m[3] = (uint8_t) (0x80 | rcode);
  n = sizeof(head);
  {
    /* CNAME: name ptr 12, type 5, class 1, ttl 60, rdlen 4: "b" + ptr 12 */
    const uint8_t cn[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4,
                          1, 'b', 0xc0, 12};
    memcpy(m + n, cn, sizeof(cn));
    n += sizeof(cn);
  }
  {
    /* A: name ptr to the CNAME rdata (offset 24 + 12 = 36), 10.1.2.3 */
    const uint8_t a[] = {0xc0, 36, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4,
                         10, 1, 2, 3};
    memcpy(m + n, a, sizeof(a));
    n += sizeof(a);
  }
  return n;
}

static void test_parse(void) {
  uint8_t m[256];
  struct mg_dns_answer a;
  char name[256];
  size_t n = make_response(m, 0, 0), i;
  CHECK(mg_dns_parse(m, n, &a));
  CHECK(a.txid == 0xabcd && a.rcode == 0 && !a.truncated && a.found);
  CHECK(!a.addr.is_ip6 && memcmp(a.addr.ip, "\x0a\x01\x02\x03", 4) == 0);
  CHECK(a.ttl == 256 && a.qtype == 1 && strcmp(a.qname, "a.test") == 0);
  CHECK(mg_dns_name(m, n, 36, name, sizeof(name)) == 4);
  CHECK(strcmp(name, "b.a.test") == 0);
  /* Every truncation without TC is refused or yields no address; none
   * crashes. */
  for (i = 0; i < n; i++) {
    bool ok = mg_dns_parse(m, i, &a);
    CHECK(!ok || !a.found);
  }
  /* With TC, complete records still count. */
  n = make_response(m, 0x02, 0);
  CHECK(mg_dns_parse(m, n - 1, &a) && a.truncated && !a.found);
  CHECK(mg_dns_parse(m, n, &a) && a.found);
  /* NXDOMAIN, not a response, loops. */
  n = make_response(m, 0, 3);
  CHECK(mg_dns_parse(m, n, &a) && a.rcode == 3);
  m[2] &= 0x7f;
  CHECK(!mg_dns_parse(m, n, &a));
  {
    uint8_t loop[] = {0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12,
                      0, 1, 0, 1};
    uint8_t fwd[] = {0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14,
                     1, 'x', 0, 0, 1, 0, 1};
    CHECK(mg_dns_name(loop, sizeof(loop), 12, name, sizeof(name)) == 0);
    CHECK(!mg_dns_parse(loop, sizeof(loop), &a));
    CHECK(mg_dns_name(fwd, sizeof(fwd), 12, name, sizeof(name)) == 0);
  }
}

#ifndef MG_TEST_TARGET /* sockets on 127.0.0.1: host only */
/* ---- End to end: a UDP responder in the same manager ---- */
struct srv {
  int queries;
  int mode; /* 0 answer 127.0.0.1 / NXDOMAIN for "nx.test", 1 silent */
};

static void responder(struct mg_connection *c, int ev, void *ev_data) {
  struct srv *s = (struct srv *) c->fn_data;
  if (ev == MG_EV_READ && c->recv.len >= 12) {
    uint8_t out[512];
    char name[256];
    size_t qlen = mg_dns_name(c->recv.buf, c->recv.len, 12, name, sizeof(name));
    size_t n = 12 + qlen + 4;
    s->queries++;
    if (s->mode == 0 && qlen > 0 && n <= c->recv.len && n + 16 < sizeof(out)) {
      memcpy(out, c->recv.buf, n);
      out[2] = 0x81;
      out[3] = 0x80;
      if (strcmp(name, "nx.test") == 0) {
        out[3] = 0x83;
      } else {
        const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4,
                              127, 0, 0, 1};
        out[7] = 1;
        memcpy(out + n, rr, sizeof(rr));
        n += sizeof(rr);
      }
      mg_send(c, out, n);
    }
  }
  if (ev == MG_EV_READ) c->recv.len = 0;
}

struct cli {
  int resolved, errors, closes;
  char err[128];
};

static void client(struct mg_connection *c, int ev, void *ev_data) {
  struct cli *x = (struct cli *) c->fn_data;
  if (ev == MG_EV_RESOLVE) {
    x->resolved++;
    CHECK(c->rem.ip[0] == 127 && c->rem.ip[3] == 1);
    CHECK(mg_ntohs(c->rem.port) == 4321);
    mg_close_conn(c);
  } else if (ev == MG_EV_ERROR) {
    x->errors++;
    mg_snprintf(x->err, sizeof(x->err), "%s", (const char *) ev_data);
  } else if (ev == MG_EV_CLOSE) {
    x->closes++;
  }
}

static void run(struct mg_mgr *mgr, struct cli *x, int closes) {
  int i;
  for (i = 0; i < 300 && x->closes < closes; i++) mg_mgr_poll(mgr, 10);
}

static void test_resolver(void) {
  struct mg_mgr mgr;
  struct srv s = {0, 0};
  struct cli x;
  struct mg_connection *lc, *c;
  char url[64];
  memset(&x, 0, sizeof(x));
  mg_mgr_init(&mgr);
  lc = mg_listen(&mgr, "udp://127.0.0.1:0", responder, &s);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  mg_snprintf(url, sizeof(url), "udp://127.0.0.1:%u",
              (unsigned) mg_ntohs(lc->loc.port));
  CHECK(!mg_dns_set_server(&mgr, "udp://name.test:53", 0, 0));
  CHECK(mg_dns_set_server(&mgr, url, 100, 1));

  CHECK(mg_connect(&mgr, "tcp://ok.test:4321", client, &x) != NULL);
  run(&mgr, &x, 1);
  CHECK(x.resolved == 1 && x.errors == 0 && s.queries == 1);

  memset(&x, 0, sizeof(x));
  mg_connect(&mgr, "tcp://nx.test:1", client, &x);
  run(&mgr, &x, 1);
  CHECK(x.resolved == 0 && x.errors == 1);
  CHECK(strcmp(x.err, "nx.test DNS lookup failed") == 0);

  /* Silence: 1 + 1 retry, then the error. */
  memset(&x, 0, sizeof(x));
  s.mode = 1;
  s.queries = 0;
  mg_connect(&mgr, "tcp://quiet.test:1", client, &x);
  run(&mgr, &x, 1);
  CHECK(x.errors == 1 && s.queries == 2);

  /* Cancelled: no MG_EV_RESOLVE even when the answer comes. */
  memset(&x, 0, sizeof(x));
  s.mode = 0;
  c = mg_connect(&mgr, "tcp://ok.test:4321", client, &x);
  mg_resolve_cancel(c);
  {
    int i;
    for (i = 0; i < 20; i++) mg_mgr_poll(&mgr, 10);
  }
  CHECK(x.resolved == 0 && x.errors == 0);
  mg_close_conn(c);
  mg_mgr_poll(&mgr, 0);
  mg_mgr_free(&mgr);
  CHECK(mgr.dns == NULL); /* the resolver state went with its connection */
}

#endif /* MG_TEST_TARGET */

static void test_resolv_conf(void) {
  char url[80];
  CHECK(mg_dns_resolv_conf(mg_str("# comment\nsearch lan\n"
                                  "nameserver fe80::1%eth0\n"
                                  "nameserver   10.1.2.3  # office\r\n"
                                  "nameserver 8.8.8.8\n"),
                           url, sizeof(url)));
  CHECK(strcmp(url, "udp://10.1.2.3:53") == 0);
  CHECK(mg_dns_resolv_conf(mg_str("\tnameserver\t::1"), url, sizeof(url)));
  CHECK(strcmp(url, "udp://[::1]:53") == 0);
  CHECK(!mg_dns_resolv_conf(mg_str("nameservers 1.2.3.4\nnameserver\n"), url,
                            sizeof(url)));
  CHECK(!mg_dns_resolv_conf(mg_str(""), url, sizeof(url)));
}

int main(void) {
  test_resolv_conf();
  test_query();
  test_parse();
#ifndef MG_TEST_TARGET
  test_resolver();
#endif
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built with MG_ENABLE_DNS=0\n");
  return TEST_REPORT();
}
#endif
