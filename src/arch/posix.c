/* Platform interface for POSIX hosts: clock, randomness, lock, log sink. */
/* Feature macros, before any system header; the portable profile asks
 * glibc for POSIX names only (see src/net/sock.c). */
#if !defined(MG_PORTABLE_POSIX) || !MG_PORTABLE_POSIX
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, getrandom with -std=c11 */
#endif
#elif defined(__linux__) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include "mg_base.h"

#if MG_ARCH == MG_ARCH_POSIX
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if MG_LINUX
#include <sys/random.h>
#endif

uint64_t mg_millis(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

bool mg_random(void *buf, size_t len) {
  unsigned char *p = (unsigned char *) buf;
  while (len > 0) {
#if MG_LINUX
    ssize_t n = getrandom(p, len, 0);
#else
    ssize_t n = -1;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      n = read(fd, p, len);
      close(fd);
    }
#endif
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= (size_t) n;
  }
  return true;
}

void mg_log_default_sink(const char *line) {
  fprintf(stderr, "%s\n", line);
}

struct mg_lock {
  pthread_mutex_t mu;
};

struct mg_lock *mg_lock_new(void) {
  struct mg_lock *lk = (struct mg_lock *) malloc(sizeof(*lk));
  if (lk != NULL && pthread_mutex_init(&lk->mu, NULL) != 0) {
    free(lk);
    lk = NULL;
  }
  return lk;
}

void mg_lock_free(struct mg_lock *lk) {
  if (lk == NULL) return;
  pthread_mutex_destroy(&lk->mu);
  free(lk);
}

void mg_lock_acquire(struct mg_lock *lk) {
  pthread_mutex_lock(&lk->mu);
}

void mg_lock_release(struct mg_lock *lk) {
  pthread_mutex_unlock(&lk->mu);
}
#endif
