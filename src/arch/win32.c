/* Platform interface for Windows hosts (mingw-w64): clock, randomness, lock,
 * log sink, default DNS server. */
#include "mg.h"

#if MG_ARCH == MG_ARCH_WIN32
#include <winsock2.h> /* before windows.h, which would pull winsock 1 */
#include <windows.h>
#include <bcrypt.h>
#include <iphlpapi.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t mg_millis(void) {
  /* The performance counter: monotonic and finer than GetTickCount64's
   * 10-16 ms steps, which would make short timers fire late. */
  static LARGE_INTEGER freq;
  LARGE_INTEGER now;
  if (freq.QuadPart == 0) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&now);
  return (uint64_t) (now.QuadPart / freq.QuadPart) * 1000u +
         (uint64_t) (now.QuadPart % freq.QuadPart) * 1000u /
             (uint64_t) freq.QuadPart;
}

bool mg_random(void *buf, size_t len) {
  unsigned char *p = (unsigned char *) buf;
  while (len > 0) {
    ULONG n = len > 0x10000000u ? 0x10000000u : (ULONG) len;
    if (BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
      return false;
    p += n;
    len -= n;
  }
  return true;
}

void mg_log_default_sink(const char *line) {
  fprintf(stderr, "%s\n", line);
}

struct mg_lock {
  SRWLOCK lk;
};

struct mg_lock *mg_lock_new(void) {
  struct mg_lock *lk = (struct mg_lock *) malloc(sizeof(*lk));
  if (lk != NULL) InitializeSRWLock(&lk->lk);
  return lk;
}

void mg_lock_free(struct mg_lock *lk) {
  free(lk); /* an SRW lock needs no teardown */
}

void mg_lock_acquire(struct mg_lock *lk) {
  AcquireSRWLockExclusive(&lk->lk);
}

void mg_lock_release(struct mg_lock *lk) {
  ReleaseSRWLockExclusive(&lk->lk);
}

#if MG_ENABLE_DNS
/* $MG_DNS_SERVER (a URL such as udp://127.0.0.1:5353), else the first DNS
 * server of the system's network configuration. */
bool mg_arch_dns_server(char *buf, size_t len) {
  const char *env = getenv("MG_DNS_SERVER");
  ULONG size = 0;
  FIXED_INFO *info;
  bool ok = false;
  if (env != NULL && env[0] != '\0') {
    mg_snprintf(buf, len, "%s", env);
    return strlen(env) < len;
  }
  if (GetNetworkParams(NULL, &size) != ERROR_BUFFER_OVERFLOW) return false;
  if ((info = (FIXED_INFO *) malloc(size)) == NULL) return false;
  if (GetNetworkParams(info, &size) == NO_ERROR &&
      info->DnsServerList.IpAddress.String[0] != '\0') {
    size_t n = mg_snprintf(buf, len, "udp://%s:53",
                           info->DnsServerList.IpAddress.String);
    ok = n < len;
  }
  free(info);
  return ok;
}
#endif
#endif
