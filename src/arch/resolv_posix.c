/* Default DNS server of a POSIX host: $MG_DNS_SERVER (a URL such as
 * udp://127.0.0.1:5353), else the first nameserver of /etc/resolv.conf. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getenv is C; keep headers strict */
#endif
#include "mg.h"

#if MG_ENABLE_DNS && MG_ARCH == MG_ARCH_POSIX

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mg_arch_dns_server(char *buf, size_t len) {
  const char *env = getenv("MG_DNS_SERVER");
  char line[256];
  FILE *fp;
  bool found = false;
  if (env != NULL && env[0] != '\0') {
    mg_snprintf(buf, len, "%s", env);
    return strlen(env) < len;
  }
  if ((fp = fopen("/etc/resolv.conf", "r")) == NULL) return false;
  while (!found && fgets(line, sizeof(line), fp) != NULL) {
    struct mg_str rest = mg_str(line), word, addr;
    struct mg_addr a;
    rest = mg_str_trim(rest);
    if (!mg_str_split(rest, ' ', &word, &rest) &&
        !mg_str_split(rest, '\t', &word, &rest))
      continue;
    if (!mg_str_eq(word, "nameserver")) continue;
    addr = mg_str_trim(rest);
    while (addr.len > 0 && (addr.buf[addr.len - 1] == '\n' ||
                            addr.buf[addr.len - 1] == '\r' ||
                            addr.buf[addr.len - 1] == ' '))
      addr.len--;
    if (!mg_aton(addr, &a) || a.port != 0) continue; /* e.g. a zone id */
    if (a.is_ip6) {
      mg_snprintf(buf, len, "udp://[%.*s]:53", (int) addr.len, addr.buf);
    } else {
      mg_snprintf(buf, len, "udp://%.*s:53", (int) addr.len, addr.buf);
    }
    found = true;
  }
  fclose(fp);
  return found;
}

#endif
