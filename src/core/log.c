/* Levelled logging. The level and sink are process-wide configuration chosen
 * by the application (docs/api-contract.md: log_set/log_get are module functions, not
 * manager methods); they are the core's only writable statics and default to
 * silence. */
#include <stdio.h>
#include <string.h>

#include "mg_base.h"

#if MG_ENABLE_LOG
static int s_level = MG_LL_NONE;
static mg_log_fn_t s_fn = NULL;
static void *s_fn_arg = NULL;

void mg_log_set(int level) {
  s_level = level;
}

int mg_log_get(void) {
  return s_level;
}

void mg_log_set_fn(mg_log_fn_t fn, void *arg) {
  s_fn = fn;
  s_fn_arg = arg;
}

void mg_log_write(int level, const char *file, int line, const char *fmt,
                  ...) {
  char buf[256];
  const char *base = strrchr(file, '/');
  size_t n;
  va_list ap;
  /* %lu, not %llu: newlib-nano (firmware) has no long long formatting. */
  n = mg_snprintf(buf, sizeof(buf), "%lu %d %s:%d ",
                  (unsigned long) mg_millis(), level,
                  base ? base + 1 : file, line);
  if (n < sizeof(buf)) {
    va_start(ap, fmt);
    mg_vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
  }
  if (s_fn != NULL) {
    s_fn(level, buf, s_fn_arg);
  } else {
    mg_log_default_sink(buf);
  }
}
#else
void mg_log_set(int level) {
  (void) level;
}
int mg_log_get(void) {
  return MG_LL_NONE;
}
void mg_log_set_fn(mg_log_fn_t fn, void *arg) {
  (void) fn, (void) arg;
}
void mg_log_write(int level, const char *file, int line, const char *fmt,
                  ...) {
  (void) level, (void) file, (void) line, (void) fmt;
}
#endif
