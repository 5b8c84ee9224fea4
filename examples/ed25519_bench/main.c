/* ed25519_bench: checks mg_ed25519_verify on the device against RFC 8032
 * section 7.1 vectors (valid ones accepted, tampered ones refused), then
 * times it and SHA-512 with mg_millis(), prints one line per result and
 * stops the machine (board_exit; QEMU needs -semihosting).
 *
 * Output lines, parsed by bench/ed25519_bench.py:
 *   ed25519 selftest: ok | FAIL <what>
 *   ed25519 verify: runs=N ms=T
 *   sha512: bytes=N ms=T
 *   sha256: bytes=N ms=T     (for comparison: the hash images also carry)
 * Times are mg_millis(): host wall-clock time of the emulation under plain
 * QEMU, instructions / 10^6 under QEMU -icount shift=0 (1 ns per
 * instruction). */
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "mg.h"

#define MIN_MS 1000u  /* measure for at least this long ... */
#define MIN_RUNS 3u   /* ... and at least this many verifications */
#define SHA_BUF 4096u /* SHA-512 is timed over this buffer, repeatedly */

static void out(const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  size_t n = mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  board_console_write(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

/* RFC 8032 section 7.1 TEST 2 and TEST 3: key, message, signature. */
static const uint8_t t2_pub[32] = {
    0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a, 0x92, 0xb7, 0x0a,
    0xa7, 0x4d, 0x1b, 0x7e, 0xbc, 0x9c, 0x98, 0x2c, 0xcf, 0x2e, 0xc4,
    0x96, 0x8c, 0xc0, 0xcd, 0x55, 0xf1, 0x2a, 0xf4, 0x66, 0x0c};
static const uint8_t t2_msg[1] = {0x72};
static const uint8_t t2_sig[64] = {
    0x92, 0xa0, 0x09, 0xa9, 0xf0, 0xd4, 0xca, 0xb8, 0x72, 0x0e, 0x82,
    0x0b, 0x5f, 0x64, 0x25, 0x40, 0xa2, 0xb2, 0x7b, 0x54, 0x16, 0x50,
    0x3f, 0x8f, 0xb3, 0x76, 0x22, 0x23, 0xeb, 0xdb, 0x69, 0xda, 0x08,
    0x5a, 0xc1, 0xe4, 0x3e, 0x15, 0x99, 0x6e, 0x45, 0x8f, 0x36, 0x13,
    0xd0, 0xf1, 0x1d, 0x8c, 0x38, 0x7b, 0x2e, 0xae, 0xb4, 0x30, 0x2a,
    0xee, 0xb0, 0x0d, 0x29, 0x16, 0x12, 0xbb, 0x0c, 0x00};
static const uint8_t t3_pub[32] = {
    0xfc, 0x51, 0xcd, 0x8e, 0x62, 0x18, 0xa1, 0xa3, 0x8d, 0xa4, 0x7e,
    0xd0, 0x02, 0x30, 0xf0, 0x58, 0x08, 0x16, 0xed, 0x13, 0xba, 0x33,
    0x03, 0xac, 0x5d, 0xeb, 0x91, 0x15, 0x48, 0x90, 0x80, 0x25};
static const uint8_t t3_msg[2] = {0xaf, 0x82};
static const uint8_t t3_sig[64] = {
    0x62, 0x91, 0xd6, 0x57, 0xde, 0xec, 0x24, 0x02, 0x48, 0x27, 0xe6,
    0x9c, 0x3a, 0xbe, 0x01, 0xa3, 0x0c, 0xe5, 0x48, 0xa2, 0x84, 0x74,
    0x3a, 0x44, 0x5e, 0x36, 0x80, 0xd7, 0xdb, 0x5a, 0xc3, 0xac, 0x18,
    0xff, 0x9b, 0x53, 0x8d, 0x16, 0xf2, 0x90, 0xae, 0x67, 0xf7, 0x60,
    0x98, 0x4d, 0xc6, 0x59, 0x4a, 0x7c, 0x15, 0xe9, 0x71, 0x6e, 0xd2,
    0x8d, 0xc0, 0x27, 0xbe, 0xce, 0xea, 0x1e, 0xc4, 0x0a};

/* Returns NULL when every check passes, else what failed. */
static const char *selftest(void) {
  uint8_t sig[64];
  if (!mg_ed25519_verify(t2_sig, t2_msg, 1, t2_pub)) return "TEST 2";
  if (!mg_ed25519_verify(t3_sig, t3_msg, 2, t3_pub)) return "TEST 3";
  if (mg_ed25519_verify(t2_sig, t3_msg, 2, t3_pub)) return "swapped sig";
  if (mg_ed25519_verify(t3_sig, t3_msg, 1, t3_pub)) return "short message";
  memcpy(sig, t3_sig, 64);
  sig[40] ^= 0x10;
  if (mg_ed25519_verify(sig, t3_msg, 2, t3_pub)) return "S bit flipped";
  return NULL;
}

int main(void) {
  static uint8_t buf[SHA_BUF];
  uint8_t digest[64];
  const char *bad;
  uint64_t start, ms;
  unsigned long runs = 0, bytes = 0;
  bool ok = true;
  out("ed25519_bench %s on %s\n", MG_FW_VERSION, board_name());
  if ((bad = selftest()) != NULL) {
    out("ed25519 selftest: FAIL %s\n", bad);
    board_exit(EXIT_FAILURE);
  }
  out("ed25519 selftest: ok\n");
  start = mg_millis();
  do {
    ok &= mg_ed25519_verify(t3_sig, t3_msg, 2, t3_pub);
    runs++;
  } while ((ms = mg_millis() - start) < MIN_MS || runs < MIN_RUNS);
  out("ed25519 verify: runs=%lu ms=%lu%s\n", runs, (unsigned long) ms,
      ok ? "" : " (a run FAILED)");
  memset(buf, 0xa5, sizeof(buf));
  start = mg_millis();
  do {
    mg_sha512(digest, buf, sizeof(buf));
    bytes += sizeof(buf);
  } while ((ms = mg_millis() - start) < MIN_MS);
  out("sha512: bytes=%lu ms=%lu (digest %02x)\n", bytes, (unsigned long) ms,
      digest[0]);
  bytes = 0;
  start = mg_millis();
  do {
    mg_sha256(digest, buf, sizeof(buf));
    bytes += sizeof(buf);
  } while ((ms = mg_millis() - start) < MIN_MS);
  out("sha256: bytes=%lu ms=%lu (digest %02x)\n", bytes, (unsigned long) ms,
      digest[0]);
  board_exit(ok ? EXIT_SUCCESS : EXIT_FAILURE);
}
