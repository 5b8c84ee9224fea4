/* Zero-copy static files: serve_dir over kernel sockets hands big files to
 * the transport's send_file (sendfile(2)) once the headers are out. Checked
 * with raw loopback clients: whole file and ranges (SHA-256), a reader with a
 * tiny receive buffer (backpressure), pipelined and keep-alive requests, a
 * client vanishing mid-file, and the copying fallbacks (a file system without
 * descriptors, a transport without send_file) giving the same bytes. */
#define _GNU_SOURCE /* mkdtemp */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mg.h"
#include "mg_test.h"

/* Odd size, and more than a loopback socket buffers (4 MB at most). */
#define BIG_SIZE (6u * 1024u * 1024u + 17u)

static char s_dir[64];
static unsigned char *s_big;
static const struct mg_fs *s_fs; /* NULL = POSIX */
static size_t s_max_send;        /* largest c->send seen on server side */
static long s_written;           /* MG_EV_WRITE bytes on server side */
static int s_writes, s_closed;   /* MG_EV_WRITE count, closed server conns */

static void server_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    struct mg_http_serve_opts o;
    memset(&o, 0, sizeof(o));
    o.root_dir = s_dir;
    o.fs = s_fs;
    mg_http_serve_dir(c, hm, &o);
  } else if (ev == MG_EV_WRITE) {
    s_written += *(long *) ev_data;
    s_writes++;
  } else if (ev == MG_EV_CLOSE && c->is_accepted) {
    s_closed++;
  }
  if (!c->is_listening && c->send.len > s_max_send) s_max_send = c->send.len;
}

static void reset_counters(void) {
  s_max_send = 0, s_written = 0, s_writes = 0, s_closed = 0;
}

/* A blocking loopback client socket, with a small receive buffer if asked. */
static int client(uint16_t port, int rcvbuf) {
  struct sockaddr_in sin;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return -1;
  if (rcvbuf > 0) setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = port; /* already network order */
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
    close(s);
    return -1;
  }
  return s;
}

/* Reads what is there without blocking; 0 = nothing yet, -1 = closed. */
static long drain(int s, struct mg_iobuf *io, size_t step) {
  if (io->size - io->len < step && !mg_iobuf_resize(io, io->len + step))
    return -1;
  ssize_t n = recv(s, io->buf + io->len, step, MSG_DONTWAIT);
  if (n > 0) io->len += (size_t) n;
  if (n == 0) return -1;
  return n > 0 ? (long) n : (errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1);
}

/* Polls the manager while reading from s until want bytes arrived (or the
 * peer closed, or time ran out). */
static void collect(struct mg_mgr *mgr, int s, struct mg_iobuf *io,
                    size_t want, size_t step) {
  for (int i = 0; i < 20000 && io->len < want; i++) {
    mg_mgr_poll(mgr, 1);
    while (io->len < want) {
      long n = drain(s, io, step);
      if (n < 0) return;
      if (n == 0) break;
    }
  }
}

/* True when the first n bytes of io contain text. */
static bool contains(const struct mg_iobuf *io, size_t n, const char *text) {
  size_t tl = strlen(text);
  for (size_t i = 0; i + tl <= n && i + tl <= io->len; i++)
    if (memcmp(io->buf + i, text, tl) == 0) return true;
  return false;
}

static bool ends_with(const struct mg_iobuf *io, const char *text) {
  size_t tl = strlen(text);
  return io->len >= tl && memcmp(io->buf + io->len - tl, text, tl) == 0;
}

/* Length of the response head at the start of io, 0 if incomplete. */
static size_t head_len(const struct mg_iobuf *io) {
  for (size_t i = 0; i + 3 < io->len; i++)
    if (memcmp(io->buf + i, "\r\n\r\n", 4) == 0) return i + 4;
  return 0;
}

static bool same_sha(const void *a, const void *b, size_t n) {
  unsigned char d1[32], d2[32];
  mg_sha256(d1, a, n);
  mg_sha256(d2, b, n);
  return memcmp(d1, d2, 32) == 0;
}

/* GETs req on a new connection; returns body bytes (after the head) that
 * match s_big[from .. from+len) and checks the head contains expect. */
static bool fetch(struct mg_mgr *mgr, uint16_t port, const char *req,
                  const char *expect, size_t from, size_t len, int rcvbuf) {
  struct mg_iobuf io = {NULL, 0, 0, 65536};
  int s = client(port, rcvbuf);
  bool ok = false;
  if (s < 0) return false;
  if (send(s, req, strlen(req), 0) == (ssize_t) strlen(req)) {
    collect(mgr, s, &io, 1, 4096);
    size_t hl = 0;
    for (int i = 0; i < 1000 && (hl = head_len(&io)) == 0; i++)
      collect(mgr, s, &io, io.len + 1, 4096);
    if (hl > 0) {
      collect(mgr, s, &io, hl + len, rcvbuf > 0 ? 1024 : 65536);
      ok = io.len == hl + len && contains(&io, hl, expect) &&
           same_sha(io.buf + hl, s_big + from, len);
      if (!ok) printf("  fetch: got %lu of %lu+%lu bytes\n", (unsigned long) io.len,
                      (unsigned long) hl, (unsigned long) len);
    }
  }
  close(s);
  mg_iobuf_free(&io);
  for (int i = 0; i < 5; i++) mg_mgr_poll(mgr, 0);
  return ok;
}

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd"); /* Linux */
  if (d == NULL) d = opendir("/dev/fd"); /* macOS, the BSDs */
  if (d == NULL) return -1;
  while (readdir(d) != NULL) n++;
  closedir(d);
  return n;
}

/* POSIX file system without descriptors (like a ROM fs): copying path. */
static struct mg_fs s_nofd;

static void test_zero_copy(struct mg_mgr *mgr, uint16_t port) {
  char req[160];
  snprintf(req, sizeof(req), "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  reset_counters();
  CHECK(fetch(mgr, port, req, "HTTP/1.1 200 OK", 0, BIG_SIZE, 0));
  /* The file never passed through the send buffer: only the head did. */
  CHECK(s_max_send < 1024);
  /* The application still saw every byte leave: head + file. */
  CHECK(s_written > (long) BIG_SIZE && s_written < (long) BIG_SIZE + 1024);
  CHECK(s_writes >= 4); /* at most MG_HTTP_SENDFILE_MAX per step */

  /* A range on the same path, starting mid-file. */
  snprintf(req, sizeof(req),
           "GET /big.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=1000001-2500000\r\n\r\n");
  reset_counters();
  CHECK(fetch(mgr, port, req, "Content-Range: bytes 1000001-2500000/6291473", 1000001,
              1500000, 0));
  CHECK(s_max_send < 1024);
  snprintf(req, sizeof(req), "GET /big.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=-70000\r\n\r\n");
  CHECK(fetch(mgr, port, req, "206 Partial Content", BIG_SIZE - 70000, 70000, 0));

  /* A reader with a tiny receive buffer: the server waits for the socket
   * to drain, never buffering the file in memory. */
  snprintf(req, sizeof(req), "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n");
  reset_counters();
  CHECK(fetch(mgr, port, req, "200 OK", 0, BIG_SIZE, 4096));
  CHECK(s_max_send < 1024);
  CHECK(s_writes >= 2 && s_written > (long) BIG_SIZE);
}

/* A client that stops reading: the socket fills up and the server waits
 * for writability instead of spinning; it finishes once reading resumes,
 * and an idle keep-alive connection afterwards does not wake the loop. */
static void test_stalled_reader(struct mg_mgr *mgr, uint16_t port) {
  struct mg_iobuf io = {NULL, 0, 0, 65536};
  int s = client(port, 4096);
  CHECK(s >= 0);
  if (s < 0) return;
  reset_counters();
  CHECK(send(s, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", 34, 0) == 34);
  /* Poll until the socket is full (nothing written for 50 ms): sendfile(2)
   * fills it in a few calls, the copying fallback (portable POSIX profile)
   * 16 KiB a call. */
  long stuck = -1;
  for (int i = 0; i < 400 && s_written != stuck; i++) {
    stuck = s_written;
    for (int j = 0; j < 5; j++) mg_mgr_poll(mgr, 10);
  }
  CHECK(stuck > 0 && stuck < (long) BIG_SIZE); /* the socket pushed back */
  uint64_t t0 = mg_millis();
  for (int i = 0; i < 4; i++) mg_mgr_poll(mgr, 50);
  CHECK(mg_millis() - t0 >= 150); /* blocked in wait, no busy loop */
  CHECK(s_written == stuck);
  collect(mgr, s, &io, 1, 4096);
  size_t hl = head_len(&io);
  collect(mgr, s, &io, hl + BIG_SIZE, 65536);
  CHECK(hl > 0 && io.len == hl + BIG_SIZE &&
        same_sha(io.buf + hl, s_big, BIG_SIZE));
  /* Done, the connection idles: polls block for their full time again. */
  for (int i = 0; i < 3; i++) mg_mgr_poll(mgr, 0);
  t0 = mg_millis();
  for (int i = 0; i < 4; i++) mg_mgr_poll(mgr, 50);
  CHECK(mg_millis() - t0 >= 150);
  close(s);
  mg_iobuf_free(&io);
}

/* Two requests in one write, then a third on the same connection: every
 * response complete and in order. */
static void test_pipelined(struct mg_mgr *mgr, uint16_t port) {
  const char *req =
      "GET /big.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=0-99999\r\n\r\n"
      "GET /small.txt HTTP/1.1\r\nHost: h\r\n\r\n";
  struct mg_iobuf io = {NULL, 0, 0, 65536};
  int s = client(port, 0);
  CHECK(s >= 0);
  if (s < 0) return;
  CHECK(send(s, req, strlen(req), 0) == (ssize_t) strlen(req));
  collect(mgr, s, &io, 100000, 65536);
  for (int i = 0; i < 200 && !ends_with(&io, "tiny file\n"); i++)
    collect(mgr, s, &io, io.len + 1, 65536);
  size_t hl = head_len(&io);
  CHECK(hl > 0 && io.len > hl + 100000);
  if (hl > 0 && io.len > hl + 100000) {
    CHECK(same_sha(io.buf + hl, s_big, 100000));
    CHECK(memcmp(io.buf + hl + 100000, "HTTP/1.1 200 OK", 15) == 0);
    CHECK(ends_with(&io, "tiny file\n"));
  }
  /* Keep-alive: the connection still answers. */
  io.len = 0;
  CHECK(send(s, "GET /small.txt HTTP/1.1\r\nHost: h\r\n\r\n", 36, 0) == 36);
  for (int i = 0; i < 200 && !ends_with(&io, "tiny file\n"); i++)
    collect(mgr, s, &io, io.len + 1, 65536);
  CHECK(io.len > 10 && memcmp(io.buf, "HTTP/1.1 200 OK", 15) == 0);
  close(s);
  mg_iobuf_free(&io);
}

/* The client reads 100 KB of a 3 MB file and goes away (reset): the server
 * closes that connection, releases the file, and serves the next client. */
static void test_vanishing(struct mg_mgr *mgr, uint16_t port) {
  for (int i = 0; i < 20; i++) mg_mgr_poll(mgr, 1); /* earlier clients go */
  int fds = open_fds();
  struct mg_iobuf io = {NULL, 0, 0, 65536};
  struct linger lg = {1, 0}; /* close with RST, as a crashing client */
  int s = client(port, 8192);
  CHECK(s >= 0);
  if (s < 0) return;
  reset_counters();
  CHECK(send(s, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", 34, 0) == 34);
  collect(mgr, s, &io, 100000, 4096);
  CHECK(io.len >= 100000);
  setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(s);
  for (int i = 0; i < 500 && s_closed == 0; i++) mg_mgr_poll(mgr, 1);
  CHECK(s_closed == 1);
  CHECK(s_written < (long) BIG_SIZE); /* it really stopped mid-file */
  CHECK(open_fds() == fds);          /* the file descriptor went back */
  mg_iobuf_free(&io);
  CHECK(fetch(mgr, port, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", "200 OK", 0, BIG_SIZE, 0));

  /* The same with an orderly close mid-file. */
  s = client(port, 8192);
  io.len = 0;
  reset_counters();
  CHECK(s >= 0 && send(s, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", 34, 0) == 34);
  collect(mgr, s, &io, 50000, 4096);
  close(s);
  for (int i = 0; i < 500 && s_closed == 0; i++) mg_mgr_poll(mgr, 1);
  CHECK(s_closed == 1);
  CHECK(open_fds() == fds);
  mg_iobuf_free(&io);
}

/* Without a descriptor from the file system, or without send_file in the
 * transport, the file is copied through c->send: same bytes. */
static void test_fallbacks(void) {
  struct mg_net net = mg_net_sock;
  struct mg_mgr mgr;
  char req[128];
  snprintf(req, sizeof(req), "GET /big.bin HTTP/1.1\r\nHost: h\r\nRange: bytes=5-2000004\r\n\r\n");

  s_nofd = mg_fs_posix;
  s_nofd.os_fd = NULL;
  s_fs = &s_nofd;
  mg_mgr_init(&mgr);
  struct mg_connection *lc = mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  reset_counters();
  CHECK(fetch(&mgr, lc->loc.port, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", "200 OK", 0,
              BIG_SIZE, 0));
  CHECK(s_max_send > 64 * 1024); /* copied: the file went through c->send */
  CHECK(fetch(&mgr, lc->loc.port, req, "206", 5, 2000000, 0));
  mg_mgr_free(&mgr);
  s_fs = NULL;

  net.send_file = NULL;
  mg_mgr_init_net(&mgr, &net);
  lc = mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return;
  reset_counters();
  CHECK(fetch(&mgr, lc->loc.port, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", "200 OK", 0,
              BIG_SIZE, 0));
  CHECK(s_max_send > 64 * 1024);
  CHECK(fetch(&mgr, lc->loc.port, req, "206", 5, 2000000, 0));
  mg_mgr_free(&mgr);
}

static bool write_file(const char *name, const void *data, size_t len) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", s_dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) return false;
  bool ok = fwrite(data, 1, len, f) == len;
  return fclose(f) == 0 && ok;
}

static void remove_file(const char *name) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", s_dir, name);
  unlink(path);
}

int main(void) {
  struct mg_mgr mgr;
  uint32_t x = 2463534242u;
  strcpy(s_dir, "/tmp/mg_sendfile_XXXXXX");
  if (mkdtemp(s_dir) == NULL) return 1;
  s_big = (unsigned char *) malloc(BIG_SIZE);
  if (s_big == NULL) return 1;
  for (size_t i = 0; i < BIG_SIZE; i++) { /* xorshift: no repeating pattern */
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    s_big[i] = (unsigned char) x;
  }
  CHECK(write_file("big.bin", s_big, BIG_SIZE));
  CHECK(write_file("small.txt", "tiny file\n", 10));

  mg_mgr_init(&mgr);
  struct mg_connection *lc = mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, NULL);
  CHECK(lc != NULL);
  if (lc != NULL) {
    test_zero_copy(&mgr, lc->loc.port);
    test_stalled_reader(&mgr, lc->loc.port);
    test_pipelined(&mgr, lc->loc.port);
    test_vanishing(&mgr, lc->loc.port);
  }
  mg_mgr_free(&mgr);
  test_fallbacks();

  remove_file("big.bin");
  remove_file("small.txt");
  rmdir(s_dir);
  free(s_big);
  return TEST_REPORT();
}
