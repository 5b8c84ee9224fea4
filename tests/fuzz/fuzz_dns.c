/* Fuzz target: the DNS message codec. Invariants (abort()):
 *  - mg_dns_name never reports more bytes than remain, and its output is a
 *    NUL-terminated name of at most 255 characters;
 *  - a parsed response's question name obeys the same, and an address is
 *    only reported for A (4 bytes) or AAAA (16 bytes) records;
 *  - a query built from the input (as a name) decodes back to the
 *    lower-cased name;
 *  - resolv.conf text yields a udp:// URL or nothing. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define REQUIRE(cond)                                                   \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "invariant failed %s:%d: %s\n", __FILE__, __LINE__, \
              #cond);                                                   \
      abort();                                                          \
    }                                                                   \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mg_dns_answer a;
  char name[256];
  size_t ofs;
  if (mg_dns_parse(data, size, &a)) {
    REQUIRE(strlen(a.qname) <= 255);
    REQUIRE(size >= 12 && (data[2] & 0x80));
  }
  for (ofs = 0; ofs < size && ofs < 64; ofs++) {
    size_t n = mg_dns_name(data, size, ofs, name, sizeof(name));
    REQUIRE(n <= size - ofs);
    REQUIRE(strlen(name) <= 255);
  }
  {
    uint8_t q[300];
    size_t n = mg_dns_query(q, sizeof(q), 0x4242,
                            mg_str_n((const char *) data, size), 28);
    if (n > 0) {
      size_t i, len = size;
      REQUIRE(mg_dns_name(q, n, 12, name, sizeof(name)) == n - 16);
      if (len > 0 && data[len - 1] == '.') len--;
      REQUIRE(strlen(name) == len || memchr(data, 0, size) != NULL);
      for (i = 0; i < strlen(name); i++)
        REQUIRE(name[i] == (char) tolower((unsigned char) data[i]) ||
                (data[i] >= 'A' && data[i] <= 'Z' && name[i] == data[i] + 32));
    }
  }
  {
    char url[80];
    if (mg_dns_resolv_conf(mg_str_n((const char *) data, size), url,
                           sizeof(url)))
      REQUIRE(strncmp(url, "udp://", 6) == 0 && strlen(url) < sizeof(url));
  }
  return 0;
}
