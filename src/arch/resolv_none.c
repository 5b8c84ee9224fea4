/* Platforms without a system resolver configuration (bare metal; Windows
 * has its own in win32.c): the resolver uses MG_DNS_DEFAULT_SERVER unless
 * the application sets one. */
#include "mg.h"

#if MG_ENABLE_DNS && !MG_ARCH_HOSTED

bool mg_arch_dns_server(char *buf, size_t len) {
  (void) buf;
  (void) len;
  return false;
}

#endif
