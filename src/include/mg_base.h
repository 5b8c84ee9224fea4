/* Basic building blocks shared by every layer: string views, growable
 * buffers, logging and the small platform interface implemented in src/arch. */
#ifndef MG_BASE_H
#define MG_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mg_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- String view: a pointer and a length, not NUL-terminated. ---- */
struct mg_str {
  const char *buf;
  size_t len;
};

struct mg_str mg_str(const char *s);                /* view of a C string */
struct mg_str mg_str_n(const char *s, size_t n);    /* view of n bytes */
int mg_strcmp(struct mg_str a, struct mg_str b);    /* like strcmp */
int mg_strcasecmp(struct mg_str a, struct mg_str b); /* ASCII case-insensitive */
bool mg_str_eq(struct mg_str a, const char *s);     /* exact equality */
bool mg_str_ieq(struct mg_str a, const char *s);    /* case-insensitive equality */
bool mg_str_starts_with(struct mg_str s, const char *prefix, bool ignore_case);
/* Remove leading and trailing spaces and tabs. */
struct mg_str mg_str_trim(struct mg_str s);
/* Splits s at the first sep: *head gets the part before, *tail the part after.
 * Returns false (head = s, tail empty) when sep does not occur. */
bool mg_str_split(struct mg_str s, char sep, struct mg_str *head,
                  struct mg_str *tail);
/* Parses an unsigned decimal number that fills s exactly; false on garbage or
 * overflow of *out's 64 bits. */
bool mg_str_to_u64(struct mg_str s, uint64_t *out);
/* snprintf into a fixed buffer; always NUL-terminates when len > 0. Returns
 * the length that would have been written, like snprintf. */
size_t mg_snprintf(char *buf, size_t len, const char *fmt, ...);
size_t mg_vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
/* Formats into small[small_len] when it fits, else into a malloc'd buffer
 * (the caller frees it when the result != small). *n gets the length; on
 * allocation failure the text is truncated to fit small. Leaves ap usable. */
char *mg_vmprintf(char *small, size_t small_len, size_t *n, const char *fmt,
                  va_list ap);

/* ---- Byte order: network (big-endian) <-> host, without OS headers. ---- */
static inline uint16_t mg_htons(uint16_t v) {
  const uint8_t b[2] = {(uint8_t) (v >> 8), (uint8_t) v};
  uint16_t r;
  memcpy(&r, b, sizeof(r));
  return r;
}
static inline uint16_t mg_ntohs(uint16_t v) {
  uint8_t b[2];
  memcpy(b, &v, sizeof(v));
  return (uint16_t) ((b[0] << 8) | b[1]);
}
static inline uint32_t mg_htonl(uint32_t v) {
  const uint8_t b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16),
                        (uint8_t) (v >> 8), (uint8_t) v};
  uint32_t r;
  memcpy(&r, b, sizeof(r));
  return r;
}
static inline uint32_t mg_ntohl(uint32_t v) {
  uint8_t b[4];
  memcpy(b, &v, sizeof(v));
  return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
         ((uint32_t) b[2] << 8) | b[3];
}

/* ---- Growable byte buffer. ---- */
struct mg_iobuf {
  unsigned char *buf; /* heap storage, NULL while size == 0 */
  size_t size;        /* allocated bytes */
  size_t len;         /* bytes in use */
  size_t align;       /* allocation granularity (0 or 1 = exact) */
};

void mg_iobuf_init(struct mg_iobuf *io, size_t size, size_t align);
/* Resizes the storage to new_size (rounded up to align); new_size 0 frees it.
 * Returns false when memory is exhausted (the buffer is left unchanged). */
bool mg_iobuf_resize(struct mg_iobuf *io, size_t new_size);
/* Inserts len bytes at offset ofs, growing as needed; returns bytes added
 * (0 on allocation failure or len 0). buf may be NULL to insert zeros. */
size_t mg_iobuf_add(struct mg_iobuf *io, size_t ofs, const void *buf,
                    size_t len);
/* Removes len bytes starting at ofs (clamped); returns bytes removed. */
size_t mg_iobuf_del(struct mg_iobuf *io, size_t ofs, size_t len);
void mg_iobuf_free(struct mg_iobuf *io);

/* ---- Logging. ---- */
enum { MG_LL_NONE, MG_LL_ERROR, MG_LL_INFO, MG_LL_DEBUG, MG_LL_VERBOSE };

/* The log sink receives whole, formatted lines (without trailing newline).
 * Logging state is process-wide configuration set by the application, not
 * connection state, so it lives here rather than in the manager. */
typedef void (*mg_log_fn_t)(int level, const char *line, void *arg);
void mg_log_set(int level);
int mg_log_get(void);
void mg_log_set_fn(mg_log_fn_t fn, void *arg); /* NULL restores the default */
void mg_log_write(int level, const char *file, int line, const char *fmt, ...);

#if MG_ENABLE_LOG
#define MG_LOG(level, ...)                                  \
  do {                                                      \
    if ((level) <= mg_log_get())                            \
      mg_log_write((level), __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#else
/* Compiled out, but the arguments still count as used (no -Wunused noise). */
#define MG_LOG(level, ...)                                  \
  do {                                                      \
    if (0) mg_log_write((level), __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#endif
#define MG_ERROR(...) MG_LOG(MG_LL_ERROR, __VA_ARGS__)
#define MG_INFO(...) MG_LOG(MG_LL_INFO, __VA_ARGS__)
#define MG_DEBUG(...) MG_LOG(MG_LL_DEBUG, __VA_ARGS__)
#define MG_VERBOSE(...) MG_LOG(MG_LL_VERBOSE, __VA_ARGS__)

/* A transport's recv (struct mg_net, the stack's mg_tcpip_tcp_recv): the
 * peer ended its stream in order (TCP FIN), as opposed to an error (other
 * values < 0). */
#define MG_IO_EOF (-2L)

/* An invariant that must hold: when cond is false, MG_ASSERT_FAIL()
 * (mg_config.h) runs; on a board that is a crash record naming the line. */
#define MG_ASSERT(cond)          \
  do {                           \
    if (!(cond)) MG_ASSERT_FAIL(); \
  } while (0)

/* ---- Platform interface, implemented once per target in src/arch. ---- */
uint64_t mg_millis(void);                 /* monotonic milliseconds */
bool mg_random(void *buf, size_t len);    /* random bytes; false on failure */
void mg_log_default_sink(const char *line); /* where default log lines go */

/* A lock guarding the cross-thread wakeup queue. On bare metal it masks
 * interrupts; on POSIX it is a mutex. */
struct mg_lock;
struct mg_lock *mg_lock_new(void);
void mg_lock_free(struct mg_lock *lk);
void mg_lock_acquire(struct mg_lock *lk);
void mg_lock_release(struct mg_lock *lk);

#ifdef __cplusplus
}
#endif
#endif /* MG_BASE_H */
