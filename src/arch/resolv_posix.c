/* Default DNS server of a POSIX host: $MG_DNS_SERVER (a URL such as
 * udp://127.0.0.1:5353), else the first nameserver of /etc/resolv.conf. */
#include "mg.h"

#if MG_ENABLE_DNS && MG_ARCH == MG_ARCH_POSIX

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mg_arch_dns_server(char *buf, size_t len) {
  const char *env = getenv("MG_DNS_SERVER");
  char text[4096];
  size_t n;
  FILE *fp;
  if (env != NULL && env[0] != '\0') {
    mg_snprintf(buf, len, "%s", env);
    return strlen(env) < len;
  }
  if ((fp = fopen("/etc/resolv.conf", "r")) == NULL) return false;
  n = fread(text, 1, sizeof(text), fp);
  fclose(fp);
  return mg_dns_resolv_conf(mg_str_n(text, n), buf, len);
}

#endif
