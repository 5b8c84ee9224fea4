/* Host glue for the SLIP driver: byte I/O on a file descriptor (a serial
 * port, a pty, a socket), so struct mg_slip can carry an interface over
 * /dev/ttyUSB0 or a pseudo-terminal. POSIX hosts only. */
#include "mg_stack.h"

#if MG_ENABLE_TCPIP && MG_ARCH == MG_ARCH_POSIX

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

bool mg_fd_nonblock(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

size_t mg_fd_read(void *arg, void *buf, size_t len) {
  ssize_t n = read(*(int *) arg, buf, len);
  return n > 0 ? (size_t) n : 0;
}

size_t mg_fd_write(void *arg, const void *buf, size_t len) {
  ssize_t n = write(*(int *) arg, buf, len);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    struct pollfd p = {*(int *) arg, POLLOUT, 0};
    poll(&p, 1, 5); /* let a slow line drain a little */
  }
  return n > 0 ? (size_t) n : 0;
}

void mg_slip_fd_wait(void *slip, int ms) {
  struct mg_slip *s = (struct mg_slip *) slip;
  struct pollfd p = {*(int *) s->arg, POLLIN, 0};
  if (s->in_pos < s->in_len) return; /* undecoded bytes are waiting */
  while (poll(&p, 1, ms) < 0 && errno == EINTR) {
  }
}

#endif
