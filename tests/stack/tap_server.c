/* A cymongoose manager on the built-in TCP/IP stack over a Linux TAP device,
 * driven by tests/python/test_stack_tap.py (and bench/stack_bench.py):
 *   tap_server [-n] TAP IP/PREFIX [GATEWAY]
 *                         (-n: plain frames, no TAP offloads)
 *   tap_server -k IP      (the same services on kernel sockets, for the
 *                          comparison in bench/stack_bench.py)
 * Services on the stack's address:
 *   :80   HTTP   GET /big?n=BYTES -> BYTES bytes of i % 251 (default 10 MiB),
 *                 streamed
 *                 anything else   -> "ok\n"
 *   :7    TCP    echo
 *   :9000 TCP    upload sink: 8-byte big-endian length, then that many
 *                 bytes; answers the SHA-256 of them in hex and closes
 *   :9    UDP    echo
 * Prints "ready <ip>" once serving. Ends on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_stack.h"

static volatile sig_atomic_t s_stop;
static void on_signal(int sig) {
  (void) sig;
  s_stop = 1;
}

/* GET /big streams its body: the send buffer is topped up to STREAM_CHUNK
 * as it drains, as a device serving a large file would do, instead of
 * queueing the whole body at once. */
#define STREAM_CHUNK (256 * 1024)
struct stream {
  uint64_t sent, total;
};

static void top_up(struct mg_connection *c, struct stream *st) {
  static char pattern[STREAM_CHUNK + 251]; /* the 251-byte cycle, unrolled */
  if (pattern[2] == 0) {
    size_t i;
    for (i = 0; i < sizeof(pattern); i++) pattern[i] = (char) (i % 251);
  }
  while (st->sent < st->total && c->send.len < STREAM_CHUNK) {
    size_t n = STREAM_CHUNK - c->send.len;
    if (n > st->total - st->sent) n = (size_t) (st->total - st->sent);
    mg_send(c, pattern + st->sent % 251, n);
    st->sent += n;
  }
}

static void http_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct stream *st = (struct stream *) c->fn_data;
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    if (mg_str_eq(hm->uri, "/big")) {
      uint64_t n = 10u * 1024u * 1024u;
      if (hm->query.len > 2 && hm->query.buf[0] == 'n' && hm->query.buf[1] == '=')
        mg_str_to_u64(mg_str_n(hm->query.buf + 2, hm->query.len - 2), &n);
      if (st == NULL) st = (struct stream *) calloc(1, sizeof(*st));
      c->fn_data = st;
      st->sent = 0;
      st->total = n;
      mg_printf(c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %llu\r\n\r\n",
                (unsigned long long) n);
      top_up(c, st);
    } else {
      mg_http_reply(c, 200, "", "ok\n");
    }
  } else if ((ev == MG_EV_WRITE || ev == MG_EV_POLL) && st != NULL) {
    top_up(c, st);
  } else if (ev == MG_EV_CLOSE && c->is_accepted) {
    free(st);
    c->fn_data = NULL;
  }
}

static void echo_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_READ) {
    mg_send(c, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  }
}

struct sink {
  uint64_t want, got;
  bool have_len;
  struct mg_sha256_ctx sha;
};

static void sink_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct sink *s = (struct sink *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_ACCEPT) {
    s = (struct sink *) calloc(1, sizeof(*s));
    mg_sha256_init(&s->sha);
    c->fn_data = s;
  } else if (ev == MG_EV_READ && s != NULL) {
    size_t ofs = 0;
    if (!s->have_len && c->recv.len >= 8) {
      int i;
      for (i = 0; i < 8; i++) s->want = (s->want << 8) | c->recv.buf[i];
      s->have_len = true;
      ofs = 8;
    }
    if (s->have_len) {
      size_t n = c->recv.len - ofs;
      if (n > s->want - s->got) n = (size_t) (s->want - s->got);
      mg_sha256_update(&s->sha, c->recv.buf + ofs, n);
      s->got += n;
      mg_iobuf_del(&c->recv, 0, c->recv.len);
      if (s->got == s->want) {
        unsigned char d[32];
        int i;
        mg_sha256_final(&s->sha, d);
        for (i = 0; i < 32; i++) mg_printf(c, "%02x", d[i]);
        mg_printf(c, "\n");
        c->is_draining = 1;
        s->want = ~0ULL; /* ignore anything after */
      }
    }
  } else if (ev == MG_EV_CLOSE && c->is_accepted) {
    free(s);
    c->fn_data = NULL;
  }
}

static bool parse_ip(const char *s, uint32_t *ip, int *prefix) {
  unsigned a, b, c, d;
  int p = 32, n = 0;
  if (sscanf(s, "%u.%u.%u.%u%n", &a, &b, &c, &d, &n) != 4 || a > 255 ||
      b > 255 || c > 255 || d > 255)
    return false;
  if (s[n] == '/' && sscanf(s + n + 1, "%d", &p) != 1) return false;
  if (p < 0 || p > 32) return false;
  *ip = mg_tcpip_ip((uint8_t) a, (uint8_t) b, (uint8_t) c, (uint8_t) d);
  if (prefix != NULL) *prefix = p;
  return true;
}

static bool serve(struct mg_mgr *mgr, const char *ip) {
  char url[64];
  mg_snprintf(url, sizeof(url), "http://%s:80", ip);
  if (mg_http_listen(mgr, url, http_fn, NULL) == NULL) return false;
  mg_snprintf(url, sizeof(url), "tcp://%s:7", ip);
  if (mg_listen(mgr, url, echo_fn, NULL) == NULL) return false;
  mg_snprintf(url, sizeof(url), "tcp://%s:9000", ip);
  if (mg_listen(mgr, url, sink_fn, NULL) == NULL) return false;
  mg_snprintf(url, sizeof(url), "udp://%s:9", ip);
  return mg_listen(mgr, url, echo_fn, NULL) != NULL;
}

static int kernel_main(const char *ip) {
  struct mg_mgr mgr;
  mg_mgr_init(&mgr);
  if (!serve(&mgr, ip)) {
    fprintf(stderr, "listen failed\n");
    return 1;
  }
  printf("ready %s\n", ip);
  fflush(stdout);
  while (!s_stop) mg_mgr_poll(&mgr, 100);
  mg_mgr_free(&mgr);
  return 0;
}

int main(int argc, char **argv) {
  static struct mg_tcpip_if ifp;
  static struct mg_tap tap;
  struct mg_mgr mgr;
  int prefix = 24;
  uint32_t m;
  char buf[20];
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  if (argc == 3 && strcmp(argv[1], "-k") == 0) return kernel_main(argv[2]);
  if (argc > 1 && strcmp(argv[1], "-n") == 0) {
    tap.no_offload = true;
    argc--, argv++;
  }
  if (argc < 3 || !parse_ip(argv[2], &ifp.ip, &prefix)) {
    fprintf(stderr, "usage: %s TAP IP/PREFIX [GATEWAY]\n", argv[0]);
    return 2;
  }
  if (argc > 3 && !parse_ip(argv[3], &ifp.gw, NULL)) return 2;
  m = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
  ifp.mask = mg_tcpip_ip((uint8_t) (m >> 24), (uint8_t) (m >> 16),
                         (uint8_t) (m >> 8), (uint8_t) m);
  ifp.mac[0] = 0x02, ifp.mac[3] = 0xaa, ifp.mac[4] = 0xbb, ifp.mac[5] = 0x01;
  strncpy(tap.name, argv[1], sizeof(tap.name) - 1);
  ifp.driver = &mg_driver_tap;
  ifp.driver_data = &tap;
  ifp.wait = mg_tap_wait;
  if (!mg_tcpip_init(&ifp)) {
    fprintf(stderr, "cannot open TAP device %s\n", argv[1]);
    return 1;
  }
  mg_mgr_init_net(&mgr, &mg_net_stack);
  mg_tcpip_attach(&mgr, &ifp);
  if (!serve(&mgr, "0.0.0.0")) {
    fprintf(stderr, "listen failed\n");
    return 1;
  }
  mg_mgr_poll(&mgr, 0);
  printf("ready %s%s\n", mg_tcpip_ntoa(ifp.ip, buf, sizeof(buf)),
         tap.vnet ? " offload" : "");
  fflush(stdout);
  while (!s_stop) mg_mgr_poll(&mgr, 100);
  fprintf(stderr,
          "stats: rx %u tx %u, drops eth %u ip %u tcp %u, retransmits %u+%u, "
          "rst %u\n",
          ifp.stats.rx_frames, ifp.stats.tx_frames, ifp.stats.drop_eth,
          ifp.stats.drop_ip, ifp.stats.drop_tcp, ifp.stats.tcp_retransmits,
          ifp.stats.tcp_fast_retransmits, ifp.stats.tcp_rst_sent);
  mg_mgr_free(&mgr);
  mg_tcpip_free(&ifp);
  return 0;
}
