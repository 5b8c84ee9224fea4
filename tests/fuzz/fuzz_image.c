/* Fuzz target: firmware image checks (mg_image.h), the parser a device runs
 * on bytes from the network.
 *
 * Invariants (abort() when broken): a parsed header has its fields in range
 * and its entry inside the payload; mg_image_check() accepts only an input of
 * exactly the announced size whose trailer holds the SHA-256 of the rest; and
 * once that hash is fixed up, an input whose header parses, names our board and
 * announces its size is accepted (so mutations reach past the hash). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t board = mg_image_board_id("fuzz");
  struct mg_image_header h, h2;
  uint8_t digest[32], want[32];
  int parsed = mg_image_parse(data, size, &h);
  if (parsed == MG_IMAGE_OK) {
    uint32_t entry = h.entry_addr & ~1UL;
    if (size < MG_IMAGE_HEADER_SIZE || h.format != MG_IMAGE_FORMAT_VERSION) abort();
    if (h.header_size < MG_IMAGE_HEADER_SIZE || h.header_size > MG_IMAGE_HEADER_MAX) abort();
    if ((h.flags & ~MG_IMAGE_F_KNOWN) != 0 || h.payload_size == 0) abort();
    if (entry < h.load_addr || entry - h.load_addr >= h.payload_size) abort();
  } else if (parsed != MG_IMAGE_ERR_SHORT && parsed != MG_IMAGE_ERR_MAGIC &&
             parsed != MG_IMAGE_ERR_FORMAT && parsed != MG_IMAGE_ERR_HEADER) {
    abort();
  }
  if (mg_image_check(data, size, board, &h2, digest) == MG_IMAGE_OK) {
    if (parsed != MG_IMAGE_OK || mg_image_total(&h2) != size || h2.board_id != board) abort();
    mg_sha256(want, data, size - MG_IMAGE_TRAILER_SIZE);
    if (memcmp(want, digest, 32) != 0 ||
        memcmp(want, data + size - MG_IMAGE_TRAILER_SIZE, 32) != 0) {
      abort();
    }
  }
  if (parsed == MG_IMAGE_OK && h.board_id == board && mg_image_total(&h) == size) {
    uint8_t *copy = (uint8_t *) malloc(size);
    if (copy == NULL) abort();
    memcpy(copy, data, size);
    mg_sha256(copy + size - MG_IMAGE_TRAILER_SIZE, copy, size - MG_IMAGE_TRAILER_SIZE);
    if (mg_image_check(copy, size, board, &h2, digest) != MG_IMAGE_OK) abort();
    free(copy);
  }
  return 0;
}
