/* Linux TAP driver (host only): Ethernet frames to and from a tap device, so
 * the built-in stack can talk to the kernel, ping, curl, or a namespace. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* O_CLOEXEC and friends under -std=c11 */
#endif
#include "mg_stack.h"

#if MG_ENABLE_TCPIP && defined(__linux__) && MG_ARCH == MG_ARCH_POSIX

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static bool tap_init(void *ctx, const uint8_t mac[6]) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  struct ifreq ifr;
  int fd;
  (void) mac; /* the stack's MAC is its own; the kernel side has another */
  if (t == NULL) return false;
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  mg_snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    close(fd);
    return false;
  }
  mg_snprintf(t->name, sizeof(t->name), "%.*s", (int) IFNAMSIZ, ifr.ifr_name);
  t->fd = fd;
  return true;
}

static bool tap_tx(void *ctx, const void *frame, size_t len) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  ssize_t n = write(t->fd, frame, len);
  return n == (ssize_t) len;
}

static size_t tap_rx(void *ctx, void *buf, size_t len) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  ssize_t n = read(t->fd, buf, len);
  return n > 0 ? (size_t) n : 0;
}

static bool tap_poll(void *ctx) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  return t->fd >= 0;
}

void mg_tap_wait(void *ctx, int ms) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  struct pollfd pfd;
  pfd.fd = t->fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  while (poll(&pfd, 1, ms) < 0 && errno == EINTR) {
  }
}

const struct mg_driver mg_driver_tap = {"tap", tap_init, tap_tx, tap_rx,
                                        tap_poll};

#endif
