/* SNTP codec: request layout, reply parsing (time, fraction, era wrap,
 * kiss-o'-death, bad modes and lengths). */
#include <stdio.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"

#if MG_ENABLE_SNTP

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t) (v >> 24), p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8), p[3] = (uint8_t) v;
}

static void reply(uint8_t r[48], uint8_t stratum, uint32_t secs, uint32_t frac) {
  memset(r, 0, 48);
  r[0] = (4 << 3) | 4;
  r[1] = stratum;
  memcpy(r + 24, "ORIGINAL", 8);
  put32(r + 40, secs);
  put32(r + 44, frac);
}

int main(void) {
  uint8_t req[48], r[48], orig[8];
  const uint8_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  mg_sntp_build_request(req, x);
  CHECK(req[0] == 0x23 && memcmp(req + 40, x, 8) == 0);
  CHECK(req[1] == 0 && req[24] == 0);

  /* 2024-01-01T00:00:00.5Z = 1704067200.5 s */
  reply(r, 2, (uint32_t) (1704067200ULL + 2208988800ULL), 0x80000000u);
  CHECK(mg_sntp_parse(r, 48, orig) == 1704067200500LL);
  CHECK(memcmp(orig, "ORIGINAL", 8) == 0);
  CHECK(mg_sntp_parse(r, 47, NULL) == -1);
  /* After the 2036 rollover: 2040-01-01 = 2208988800 s (unix). */
  reply(r, 1, (uint32_t) ((2208988800ULL + 2208988800ULL) & 0xffffffffu), 0);
  CHECK(mg_sntp_parse(r, 48, NULL) == 2208988800000LL);
  /* Kiss-o'-death, unsynchronised, wrong mode, zero time. */
  reply(r, 0, 3900000000u, 0);
  CHECK(mg_sntp_parse(r, 48, NULL) == 0);
  reply(r, 2, 3900000000u, 0);
  r[0] |= 0xc0;
  CHECK(mg_sntp_parse(r, 48, NULL) == 0);
  reply(r, 2, 3900000000u, 0);
  r[0] = (4 << 3) | 3; /* a client request is no reply */
  CHECK(mg_sntp_parse(r, 48, NULL) == -1);
  reply(r, 2, 0, 0);
  CHECK(mg_sntp_parse(r, 48, NULL) == -1);
  return TEST_REPORT();
}
#else
int main(void) {
  printf("skipped: built with MG_ENABLE_SNTP=0\n");
  return TEST_REPORT();
}
#endif
