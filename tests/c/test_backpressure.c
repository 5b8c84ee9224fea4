/* Backpressure: a peer that sends but never reads must not grow our send
 * buffer past the high-water mark (raw echo, pipelined HTTP, WebSocket
 * pings), and once it reads, every answer arrives, none lost. Kernel
 * sockets on loopback; the peer is a plain non-blocking socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: the peer socket sets SO_NOSIGPIPE instead */
#endif

#include "mg.h"
#include "mg_test.h"

#define HIGH (64u * 1024u)
#define LOW (16u * 1024u)
/* One read's answer may land on top of the mark before reads pause. */
#define SLACK (64u * 1024u)

static struct mg_connection *s_server; /* the accepted connection */
static size_t s_max_send;              /* its largest send buffer seen */
static int s_throttled;                /* polls it spent paused */

static void track(struct mg_connection *c, int ev) {
  if (ev == MG_EV_ACCEPT) s_server = c;
  if (c != s_server) return;
  if (c->send.len > s_max_send) s_max_send = c->send.len;
  if (ev == MG_EV_POLL && c->is_throttled) s_throttled++;
}

static void echo_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  track(c, ev);
  if (ev == MG_EV_READ) {
    mg_send(c, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  }
}

static void http_fn(struct mg_connection *c, int ev, void *ev_data) {
  track(c, ev);
  if (ev == MG_EV_HTTP_MSG) {
    static char body[1000];
    memset(body, 'x', sizeof(body));
    mg_http_reply(c, 200, "", "%.*s\n", (int) sizeof(body), body);
  }
  (void) ev_data;
}

static void ws_fn(struct mg_connection *c, int ev, void *ev_data) {
  track(c, ev);
  if (ev == MG_EV_HTTP_MSG)
    mg_ws_upgrade(c, (struct mg_http_message *) ev_data, NULL);
}

/* A raw client socket connected to the listener's port. */
static int dial(struct mg_mgr *mgr, struct mg_connection *lc) {
  struct sockaddr_in sin;
  int s = socket(AF_INET, SOCK_STREAM, 0), small = 16384, i;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = lc->loc.port;
  sin.sin_addr.s_addr = htonl(0x7f000001);
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
#ifdef SO_NOSIGPIPE
  setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &small, sizeof(small)); /* on */
#endif
  if (connect(s, (struct sockaddr *) &sin, sizeof(sin)) != 0) return -1;
  for (i = 0; i < 50 && s_server == NULL; i++) mg_mgr_poll(mgr, 10);
  return s;
}

/* Writes total bytes produced by gen (never reading) while polling, until
 * the peer stops taking them for a while. Returns bytes written. */
static size_t flood(struct mg_mgr *mgr, int s, size_t total,
                    size_t (*gen)(unsigned char *, size_t, size_t)) {
  unsigned char buf[8192];
  size_t sent = 0;
  int stalled = 0;
  while (sent < total && stalled < 200) {
    size_t n = gen(buf, sizeof(buf), sent);
    ssize_t w;
    if (n > total - sent) n = total - sent;
    w = send(s, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      sent += (size_t) w;
      stalled = 0;
    } else {
      stalled++;
    }
    mg_mgr_poll(mgr, w > 0 ? 0 : 1);
  }
  return sent;
}

/* Reads until want bytes arrived (or the server stops answering). */
static size_t drain(struct mg_mgr *mgr, int s, size_t want,
                    void (*check)(const unsigned char *, size_t, size_t)) {
  unsigned char buf[65536];
  size_t got = 0;
  int idle = 0;
  while (got < want && idle < 500) {
    ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      if (check != NULL) check(buf, (size_t) n, got);
      got += (size_t) n;
      idle = 0;
    } else {
      idle++;
    }
    mg_mgr_poll(mgr, n > 0 ? 0 : 1);
  }
  return got;
}

/* ---- raw echo ---- */
static size_t gen_pattern(unsigned char *b, size_t len, size_t off) {
  size_t i;
  for (i = 0; i < len; i++) b[i] = (unsigned char) ((off + i) * 7u);
  return len;
}
static int s_bad_bytes;
static void check_pattern(const unsigned char *b, size_t n, size_t off) {
  size_t i;
  for (i = 0; i < n; i++)
    if (b[i] != (unsigned char) ((off + i) * 7u)) s_bad_bytes++;
}

static void test_echo(void) {
  struct mg_mgr mgr;
  struct mg_connection *lc;
  size_t sent, got;
  int s;
  mg_mgr_init(&mgr);
  mg_mgr_set_send_marks(&mgr, HIGH, LOW);
  s_server = NULL, s_max_send = 0, s_throttled = 0, s_bad_bytes = 0;
  lc = mg_listen(&mgr, "tcp://127.0.0.1:0", echo_fn, NULL);
  CHECK(lc != NULL);
  s = dial(&mgr, lc);
  CHECK(s >= 0 && s_server != NULL);
  sent = flood(&mgr, s, 32u * 1024u * 1024u, gen_pattern);
  /* Without backpressure all 32 MiB would sit in our send buffer. */
  CHECK(sent < 32u * 1024u * 1024u);
  CHECK(s_max_send <= HIGH + SLACK);
  CHECK(s_throttled > 0);
  CHECK(s_server->is_full);
  got = drain(&mgr, s, sent, check_pattern);
  CHECK(got == sent);
  CHECK(s_bad_bytes == 0);
  CHECK(!s_server->is_throttled && !s_server->is_full);
  close(s);
  mg_mgr_free(&mgr);
}

/* ---- pipelined HTTP ---- */
static const char k_get[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
static size_t gen_gets(unsigned char *b, size_t len, size_t off) {
  size_t i, n = sizeof(k_get) - 1;
  for (i = 0; i < len; i++) b[i] = (unsigned char) k_get[(off + i) % n];
  return len;
}
static size_t count_in(const char *needle, size_t *state, const unsigned char *b,
                       size_t n) {
  size_t i, found = 0, k = strlen(needle);
  for (i = 0; i < n; i++) {
    if (b[i] == (unsigned char) needle[*state]) {
      if (++*state == k) found++, *state = 0;
    } else {
      *state = b[i] == (unsigned char) needle[0] ? 1 : 0;
    }
  }
  return found;
}
static size_t s_responses, s_match;
static void check_http(const unsigned char *b, size_t n, size_t off) {
  (void) off;
  s_responses += count_in("HTTP/1.1 200 OK", &s_match, b, n);
}

static void test_http_pipelining(void) {
  struct mg_mgr mgr;
  struct mg_connection *lc;
  size_t sent, requests;
  int s;
  mg_mgr_init(&mgr);
  mg_mgr_set_send_marks(&mgr, HIGH, LOW);
  s_server = NULL, s_max_send = 0, s_throttled = 0;
  s_responses = s_match = 0;
  lc = mg_http_listen(&mgr, "http://127.0.0.1:0", http_fn, NULL);
  CHECK(lc != NULL);
  s = dial(&mgr, lc);
  CHECK(s >= 0 && s_server != NULL);
  /* Whole requests only: 40000 of them would be ~40 MB of answers. */
  sent = flood(&mgr, s, 40000u * (sizeof(k_get) - 1), gen_gets);
  sent -= sent % (sizeof(k_get) - 1);
  requests = sent / (sizeof(k_get) - 1);
  CHECK(requests < 40000u);
  CHECK(s_max_send <= HIGH + SLACK);
  CHECK(s_throttled > 0);
  /* A partial request at the end of the flood stays unanswered. */
  drain(&mgr, s, (size_t) -1, check_http);
  CHECK(s_responses == requests);
  if (s_responses != requests)
    fprintf(stderr, "requests %zu responses %zu\n", requests, s_responses);
  close(s);
  mg_mgr_free(&mgr);
}

/* ---- WebSocket pings ---- */
static size_t gen_pings(unsigned char *b, size_t len, size_t off) {
  /* Masked ping with a 4-byte payload (zero key): 10 bytes a frame. */
  static const unsigned char ping[10] = {0x89, 0x84, 0, 0, 0, 0, 'p', 'i', 'n', 'g'};
  size_t i;
  for (i = 0; i < len; i++) b[i] = ping[(off + i) % sizeof(ping)];
  return len;
}
static size_t s_pongs, s_pong_match;
static int s_ws_up;
static void check_pongs(const unsigned char *b, size_t n, size_t off) {
  (void) off;
  if (!s_ws_up) { /* skip the 101 response head */
    size_t st = 0, i;
    for (i = 0; i < n && !s_ws_up; i++)
      if (count_in("\r\n\r\n", &st, b + i, 1)) {
        s_ws_up = 1;
        b += i + 1, n -= i + 1;
      }
    if (!s_ws_up) return;
  }
  s_pongs += count_in("\x8a\x04ping", &s_pong_match, b, n);
}

static void test_ws_pings(void) {
  struct mg_mgr mgr;
  struct mg_connection *lc;
  static const char up[] =
      "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  size_t sent, frames;
  int s;
  mg_mgr_init(&mgr);
  mg_mgr_set_send_marks(&mgr, HIGH, LOW);
  s_server = NULL, s_max_send = 0, s_throttled = 0;
  s_pongs = s_pong_match = 0, s_ws_up = 0;
  lc = mg_http_listen(&mgr, "http://127.0.0.1:0", ws_fn, NULL);
  CHECK(lc != NULL);
  s = dial(&mgr, lc);
  CHECK(s >= 0 && s_server != NULL);
  CHECK(send(s, up, sizeof(up) - 1, 0) == (ssize_t) (sizeof(up) - 1));
  sent = flood(&mgr, s, 40000000u, gen_pings);
  frames = sent / 10;
  CHECK(frames < 4000000u);
  CHECK(s_max_send <= HIGH + SLACK);
  CHECK(s_throttled > 0);
  drain(&mgr, s, (size_t) -1, check_pongs);
  CHECK(s_pongs == frames);
  if (s_pongs != frames) fprintf(stderr, "pings %zu pongs %zu\n", frames, s_pongs);
  close(s);
  mg_mgr_free(&mgr);
}

/* ---- marks ---- */
static void test_marks(void) {
  struct mg_mgr mgr;
  struct mg_connection *c;
  mg_mgr_init(&mgr);
  CHECK(mgr.send_high == MG_SEND_HIGH_WATER);
  CHECK(mgr.send_low == MG_SEND_LOW_WATER);
  c = mg_alloc_conn(&mgr);
  CHECK(mg_send_high(c) == MG_SEND_HIGH_WATER);
  mg_set_send_marks(c, 100, 10);
  CHECK(mg_send_high(c) == 100 && mg_send_low(c) == 10);
  /* Hysteresis: paused at 100, still paused at 50, resumed at 10. */
  mg_iobuf_resize(&c->send, 200);
  c->send.len = 100;
  CHECK(mg_send_backlogged(c) && c->is_full);
  c->send.len = 50;
  CHECK(mg_send_backlogged(c));
  c->send.len = 10;
  CHECK(!mg_send_backlogged(c) && !c->is_full);
  /* A low mark above the high one is clamped; high 0 defers to the
   * manager, whose 0 turns the feature off. */
  mg_set_send_marks(c, 20, 500);
  CHECK(mg_send_low(c) == 20);
  mg_set_send_marks(c, 0, 0);
  mg_mgr_set_send_marks(&mgr, 0, 0);
  c->send.len = 150;
  CHECK(!mg_send_backlogged(c));
  c->send.len = 0;
  /* Outbound connections are throttled only with marks of their own. */
  mg_mgr_set_send_marks(&mgr, 1000, 100);
  c->is_client = 1;
  CHECK(mg_send_high(c) == 0);
  c->send.len = 5000;
  CHECK(!mg_send_backlogged(c));
  mg_set_send_marks(c, 1000, 100);
  CHECK(mg_send_backlogged(c));
  c->send.len = 0;
  mg_free_conn(c);
  mg_mgr_free(&mgr);
}

int main(void) {
  test_marks();
  test_echo();
  test_http_pipelining();
  test_ws_pings();
  return TEST_REPORT();
}
