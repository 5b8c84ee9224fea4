/* Host board: console on stdin/stdout (non-blocking reads), no Ethernet
 * driver (apps use kernel sockets), reboot by re-executing the process. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board.h"

static char **s_argv;
static int s_stdin_eof; /* stdin closed: stop reading it */

void board_host_args(int argc, char **argv) {
  (void) argc;
  s_argv = argv;
  int fl = fcntl(STDIN_FILENO, F_GETFL);
  if (fl >= 0) fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK);
  setvbuf(stdout, NULL, _IONBF, 0);
}

void board_init(void) {
}

const char *board_name(void) {
  return "host";
}

void board_console_write(const void *buf, size_t len) {
  const char *p = (const char *) buf;
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      usleep(1000); /* a slow reader on a pty: wait, never drop */
      continue;
    }
    if (n <= 0) return; /* reader gone */
    p += n;
    len -= (size_t) n;
  }
}

size_t board_console_read(void *buf, size_t len) {
  if (s_stdin_eof) return 0;
  ssize_t n = read(STDIN_FILENO, buf, len);
  if (n == 0) s_stdin_eof = 1;
  return n > 0 ? (size_t) n : 0;
}

uint32_t board_console_dropped(void) {
  return 0;
}

void board_idle(void) {
  /* The app's mg_mgr_poll() already blocked in epoll for a few ms. */
}

void board_exit(int status) {
  exit(status);
}

void board_reboot(void) {
  if (s_argv != NULL) {
    execv("/proc/self/exe", s_argv);
  }
  fprintf(stderr, "reboot: cannot re-execute: %s\n", strerror(errno));
  exit(1);
}

const struct mg_driver *board_eth(void **ctx) {
  *ctx = NULL;
  return NULL;
}

void board_eth_mac(uint8_t mac[6]) {
  static const uint8_t m[6] = {0x02, 0, 0, 0, 0, 1}; /* locally administered */
  memcpy(mac, m, sizeof(m));
}
