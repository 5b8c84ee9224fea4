/* Connects issued before DHCP finished: a manager on a stack that is still
 * asking for its address connects (TCP) and sends a datagram (UDP) at once;
 * both wait for the lease from the DHCP server on the other end of the
 * in-memory link (MG_EV_CONNECT comes after it), then go through. Without
 * any DHCP server both connects fail after the interface's addr_wait_ms with
 * "network not ready". */
#include "mg.h"
#include "stack_harness.h"

#if MG_ENABLE_TCPIP
struct result {
  bool connected, echoed, error, closed, udp_echoed;
  char err[160];
  uint32_t loc_ip;
};

static void echo_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_READ) {
    mg_send(c, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  }
}

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct result *r = (struct result *) c->fn_data;
  if (ev == MG_EV_CONNECT) {
    r->connected = true;
    memcpy(&r->loc_ip, c->loc.ip, 4);
    mg_send(c, "early bird", 10);
  } else if (ev == MG_EV_READ) {
    if (c->recv.len == 10 && memcmp(c->recv.buf, "early bird", 10) == 0) {
      r->echoed = true;
      c->is_draining = 1;
    }
  } else if (ev == MG_EV_ERROR) {
    r->error = true;
    mg_snprintf(r->err, sizeof(r->err), "%s", (const char *) ev_data);
  } else if (ev == MG_EV_CLOSE) {
    r->closed = true;
  }
}

static void udp_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct result *r = (struct result *) c->fn_data;
  if (ev == MG_EV_CONNECT) {
    r->connected = true;
    memcpy(&r->loc_ip, c->loc.ip, 4);
    mg_send(c, "dgram", 5); /* has a source address by now */
  } else if (ev == MG_EV_READ) {
    r->udp_echoed = c->recv.len == 5 && memcmp(c->recv.buf, "dgram", 5) == 0;
    c->recv.len = 0;
  } else if (ev == MG_EV_ERROR) {
    r->error = true;
    mg_snprintf(r->err, sizeof(r->err), "%s", (const char *) ev_data);
  } else if (ev == MG_EV_CLOSE) {
    r->closed = true;
  }
}

/* A: 192.168.60.1 with a DHCP server; B: DHCP client, connects at once. */
static void test_waits_for_lease(void) {
  static struct mg_link link;
  static struct mg_link_end ea = {&link, 0}, eb = {&link, 1};
  static struct mg_tcpip_if a, b;
  struct mg_mgr ma, mb;
  struct result tcp, udp;
  uint64_t deadline;
  memset(&tcp, 0, sizeof(tcp));
  memset(&udp, 0, sizeof(udp));
  mg_link_init(&link, 5);
  link.clock = mg_millis;
  link.delay_ms = 20; /* DHCP takes a few round trips: connect comes first */
  memcpy(a.mac, MAC_US, 6);
  memcpy(b.mac, MAC_PEER, 6);
  a.ip = IP(192, 168, 60, 1);
  a.mask = IP(255, 255, 255, 0);
  a.enable_dhcp_server = true;
  a.dhcp_pool = IP(192, 168, 60, 50);
  b.enable_dhcp = true;
  CHECK(link_manager(&a, &ea, &ma));
  CHECK(link_manager(&b, &eb, &mb));
  CHECK(mg_listen(&ma, "tcp://0.0.0.0:7", echo_fn, NULL) != NULL);
  CHECK(mg_listen(&ma, "udp://0.0.0.0:9", echo_fn, NULL) != NULL);

  CHECK(b.ip == 0 && b.state != MG_TCPIP_STATE_READY);
  CHECK(mg_connect(&mb, "tcp://192.168.60.1:7", client_fn, &tcp) != NULL);
  CHECK(mg_connect(&mb, "udp://192.168.60.1:9", udp_fn, &udp) != NULL);
  deadline = mg_millis() + 10000;
  while (mg_millis() < deadline && !(tcp.closed && udp.udp_echoed)) {
    mg_mgr_poll(&ma, 1);
    mg_mgr_poll(&mb, 1);
  }
  CHECK(b.ip == IP(192, 168, 60, 50) && b.state == MG_TCPIP_STATE_READY);
  CHECK(tcp.connected && tcp.echoed && tcp.closed);
  CHECK(!tcp.error);
  CHECK(tcp.loc_ip == b.ip); /* local address reported is the leased one */
  CHECK(udp.connected && udp.loc_ip == b.ip && udp.udp_echoed && !udp.error);
  if (tcp.error) printf("  unexpected error: %s\n", tcp.err);
  mg_mgr_free(&ma);
  mg_mgr_free(&mb);
  mg_tcpip_free(&a);
  mg_tcpip_free(&b);
}

/* Nobody answers DHCP: the connect fails after addr_wait_ms, clearly. */
static void test_gives_up(void) {
  static struct mg_link link;
  static struct mg_link_end eb = {&link, 1};
  static struct mg_tcpip_if b;
  struct mg_mgr mb;
  struct result tcp, udp;
  uint64_t start, took, deadline;
  memset(&tcp, 0, sizeof(tcp));
  memset(&udp, 0, sizeof(udp));
  mg_link_init(&link, 6);
  link.clock = mg_millis;
  memcpy(b.mac, MAC_PEER, 6);
  b.enable_dhcp = true;
  b.addr_wait_ms = 300;
  CHECK(link_manager(&b, &eb, &mb));
  start = mg_millis();
  CHECK(mg_connect(&mb, "tcp://192.168.60.1:7", client_fn, &tcp) != NULL);
  CHECK(mg_connect(&mb, "udp://192.168.60.1:9", udp_fn, &udp) != NULL);
  deadline = start + 5000;
  while (mg_millis() < deadline && !(tcp.closed && udp.closed))
    mg_mgr_poll(&mb, 10);
  took = mg_millis() - start;
  CHECK(tcp.error && tcp.closed && !tcp.connected);
  CHECK(strstr(tcp.err, "network not ready") != NULL);
  CHECK(udp.error && udp.closed && !udp.connected);
  CHECK(strstr(udp.err, "network not ready") != NULL);
  CHECK(took >= 290 && took < 2000);
  printf("  gave up after %llu ms: %s\n", (unsigned long long) took, tcp.err);
  mg_mgr_free(&mb);
  mg_tcpip_free(&b);
}

int main(void) {
  test_waits_for_lease();
  test_gives_up();
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built without MG_ENABLE_TCPIP\n0 passed, 0 failed\n");
  return 0;
}
#endif
