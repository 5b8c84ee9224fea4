/* The host-OS facts the extension's stack layer (_stack.pxi) needs, per OS.
 *
 * On POSIX these are the core's fd-based drivers (Linux TAP, the stream
 * driver, SLIP on a file descriptor) and close()/dup(). The Windows build of
 * the core leaves those drivers out (src/include/mg_stack.h); here they get
 * stand-ins of the same shape that are never initialised: MGPY_FD_DRIVERS is
 * 0 and StackInterface.tap()/stream()/serial() refuse before touching them. */
#ifndef MGPY_HOST_H
#define MGPY_HOST_H

#include "mg_stack.h"

#ifdef _WIN32
#include <io.h>
#include <stdbool.h>
#include <stdint.h>

#define MGPY_FD_DRIVERS 0
typedef struct {
  char name[16];
  int fd;
  bool no_offload;
  bool vnet;
} mgpy_tap;
typedef struct {
  int fd;
  uint32_t bad;
} mgpy_stream;
/* Distinct addresses, so a driver comparison never matches a real one. */
static const struct mg_driver mgpy_driver_tap = {.name = "tap (not on Windows)"};
static const struct mg_driver mgpy_driver_stream = {.name = "stream (not on Windows)"};
static inline void mgpy_no_wait(void *arg, int ms) {
  (void) arg;
  (void) ms;
}
static inline bool mgpy_fd_nonblock(int fd) {
  (void) fd;
  return false;
}
static inline size_t mgpy_fd_read(void *fd_ptr, void *buf, size_t len) {
  (void) fd_ptr, (void) buf, (void) len;
  return 0;
}
static inline size_t mgpy_fd_write(void *fd_ptr, const void *buf, size_t len) {
  (void) fd_ptr, (void) buf, (void) len;
  return 0;
}
#define mgpy_tap_wait mgpy_no_wait
#define mgpy_stream_wait mgpy_no_wait
#define mgpy_slip_fd_wait mgpy_no_wait
#define mgpy_close _close
#define mgpy_dup _dup
#else
#include <unistd.h>

#define MGPY_FD_DRIVERS 1
typedef struct mg_tap mgpy_tap;
typedef struct mg_stream mgpy_stream;
#define mgpy_driver_tap mg_driver_tap
#define mgpy_driver_stream mg_driver_stream
#define mgpy_tap_wait mg_tap_wait
#define mgpy_stream_wait mg_stream_wait
#define mgpy_slip_fd_wait mg_slip_fd_wait
#define mgpy_fd_nonblock mg_fd_nonblock
#define mgpy_fd_read mg_fd_read
#define mgpy_fd_write mg_fd_write
#define mgpy_close close
#define mgpy_dup dup
#endif

#endif /* MGPY_HOST_H */
