/* ed25519_cli: mg_ed25519_verify for other programs (the Python interop
 * test). Reads lines "PUBHEX SIGHEX MSGHEX" (MSGHEX may be empty) from stdin
 * and prints one line per input: "1" (valid), "0" (refused) or "error: ..."
 * for a malformed line. Built into build/host by CMakeLists.txt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define MAX_MSG 4096

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes the hex word at *p (up to a space or the end) into out; returns
 * the byte count or -1. */
static long unhex_word(const char **p, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (**p == ' ') (*p)++;
  while (**p != '\0' && **p != ' ' && **p != '\n' && **p != '\r') {
    int hi = hexval((*p)[0]), lo = hi < 0 ? -1 : hexval((*p)[1]);
    if (hi < 0 || lo < 0 || n >= cap) return -1;
    out[n++] = (uint8_t) (hi << 4 | lo);
    *p += 2;
  }
  return (long) n;
}

int main(void) {
  static char line[2 * MAX_MSG + 512];
  static uint8_t msg[MAX_MSG];
  uint8_t pub[32], sig[64];
#if !MG_ENABLE_ED25519
  fprintf(stderr, "ed25519_cli: built with MG_ENABLE_ED25519=0\n");
  return 2;
#endif
  while (fgets(line, sizeof(line), stdin) != NULL) {
    const char *p = line;
    long mlen;
    if (unhex_word(&p, pub, sizeof(pub)) != 32 ||
        unhex_word(&p, sig, sizeof(sig)) != 64 ||
        (mlen = unhex_word(&p, msg, sizeof(msg))) < 0) {
      printf("error: expected PUBHEX(32) SIGHEX(64) [MSGHEX(<=%d)]\n", MAX_MSG);
    } else {
#if MG_ENABLE_ED25519
      printf("%d\n", mg_ed25519_verify(sig, msg, (size_t) mlen, pub) ? 1 : 0);
#endif
    }
    fflush(stdout);
  }
  return 0;
}
