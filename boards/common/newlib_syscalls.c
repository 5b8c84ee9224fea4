/* The system calls newlib needs on a board without an OS: the heap comes
 * from the linker script's __heap_start..__heap_end, stdout/stderr go to the
 * board console, stdin reads from it, exit() ends up in board_exit(). Files
 * do not exist. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "board_api.h"

/* Prototypes: newlib calls these but declares them only in private headers. */
void *_sbrk(ptrdiff_t incr);
int _write(int fd, const void *buf, size_t len);
int _read(int fd, void *buf, size_t len);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
off_t _lseek(int fd, off_t offset, int whence);
void _exit(int status);
int _kill(int pid, int sig);
int _getpid(void);

enum { FD_STDIN = 0, FD_STDOUT = 1, FD_STDERR = 2 };

extern uint8_t __heap_start[], __heap_end[]; /* from the linker script */

void *_sbrk(ptrdiff_t incr) {
  /* The break is the heap's only state; it has to outlive every call. */
  static uint8_t *brk = NULL;
  if (brk == NULL) brk = __heap_start;
  if ((incr > 0 && incr > __heap_end - brk) ||
      (incr < 0 && -incr > brk - __heap_start)) {
    errno = ENOMEM;
    return (void *) -1;
  }
  uint8_t *prev = brk;
  brk += incr;
  return prev;
}

int _write(int fd, const void *buf, size_t len) {
  if (fd != FD_STDOUT && fd != FD_STDERR) {
    errno = EBADF;
    return -1;
  }
  board_console_write(buf, len);
  return (int) len;
}

int _read(int fd, void *buf, size_t len) {
  if (fd != FD_STDIN) {
    errno = EBADF;
    return -1;
  }
  if (len == 0) return 0;
  size_t n;
  while ((n = board_console_read(buf, len)) == 0) board_idle(); /* block */
  return (int) n;
}

int _close(int fd) {
  errno = EBADF;
  return -1;
}

int _fstat(int fd, struct stat *st) {
  if (fd < FD_STDIN || fd > FD_STDERR) {
    errno = EBADF;
    return -1;
  }
  st->st_mode = S_IFCHR; /* a character device: newlib line-buffers it */
  return 0;
}

int _isatty(int fd) {
  return fd >= FD_STDIN && fd <= FD_STDERR;
}

off_t _lseek(int fd, off_t offset, int whence) {
  errno = ESPIPE;
  return -1;
}

void _exit(int status) {
  board_exit(status);
}

int _kill(int pid, int sig) {
  errno = EINVAL;
  return -1;
}

int _getpid(void) {
  return 1;
}
