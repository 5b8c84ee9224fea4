/* Echo load generator used by bench/tcp_echo.py: an independent peer in
 * plain C so the client never limits the server being measured.
 *
 *   echo_load HOST PORT CONNS MSGS_PER_CONN MSG_SIZE PIPELINE
 *
 * Each connection keeps PIPELINE messages in flight until it has sent
 * MSGS_PER_CONN messages and got every byte back; refills are written in one
 * syscall per batch so the generator stays cheaper than any server. Prints one line:
 *   msgs=<n> secs=<s> msgs_per_sec=<r> p50_us=<x> p99_us=<y>
 * (latency percentiles are per message, meaningful with PIPELINE=1). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  long sent, acked_bytes;
  double *send_times; /* ring of in-flight send timestamps */
  long head;
};

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s HOST PORT CONNS MSGS MSG_SIZE PIPELINE\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]), nconns = atoi(argv[3]);
  long msgs = atol(argv[4]);
  int size = atoi(argv[5]), pipeline = atoi(argv[6]);
  char *msg = malloc(size), buf[65536];
  memset(msg, 'm', size);
  struct conn *cs = calloc(nconns, sizeof(*cs));
  double *lat = malloc(sizeof(double) * nconns * msgs);
  long nlat = 0, done = 0;
  int ep = epoll_create1(0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, host, &sa.sin_addr);
  for (int i = 0; i < nconns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
      perror("connect");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    cs[i].fd = fd;
    cs[i].send_times = calloc(pipeline, sizeof(double));
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned) i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  double t0 = now_us();
  char *burst = malloc((size_t) size * pipeline);
  for (int k = 0; k < pipeline; k++) memset(burst + (size_t) k * size, 'm', size);
  for (int i = 0; i < nconns; i++) {
    long k = pipeline < msgs ? pipeline : msgs;
    double t = now_us();
    for (long j = 0; j < k; j++) cs[i].send_times[(cs[i].sent + j) % pipeline] = t;
    if (write(cs[i].fd, burst, (size_t) (k * size)) != k * size) return 1;
    cs[i].sent += k;
  }
  struct epoll_event evs[256];
  while (done < nconns) {
    int n = epoll_wait(ep, evs, 256, 10000);
    if (n <= 0) {
      fprintf(stderr, "stalled: %ld/%d connections done\n", done, nconns);
      return 1;
    }
    for (int e = 0; e < n; e++) {
      struct conn *c = &cs[evs[e].data.u32];
      ssize_t r = read(c->fd, buf, sizeof(buf));
      if (r <= 0) {
        fprintf(stderr, "server closed a connection\n");
        return 1;
      }
      long before = c->acked_bytes / size;
      c->acked_bytes += r;
      long after = c->acked_bytes / size;
      double t = now_us();
      long refill = 0;
      for (long m = before; m < after; m++) {
        lat[nlat++] = t - c->send_times[m % pipeline];
        if (c->sent + refill < msgs) {
          c->send_times[(c->sent + refill) % pipeline] = t;
          refill++;
        }
      }
      /* One write per batch of echoed messages: the load generator must not
       * be the bottleneck (one syscall per message would be). */
      if (refill > 0) {
        if (write(c->fd, burst, (size_t) (refill * size)) != refill * size) return 1;
        c->sent += refill;
      }
      if (after == msgs && before < msgs) done++;
    }
  }
  double secs = (now_us() - t0) / 1e6;
  qsort(lat, nlat, sizeof(double), cmp_double);
  printf("msgs=%ld secs=%.3f msgs_per_sec=%.0f p50_us=%.1f p99_us=%.1f\n", nlat, secs,
         nlat / secs, lat[nlat / 2], lat[(long) (nlat * 0.99)]);
  return 0;
}
