/* Firmware image header, size and hash checks (layout: mg_image.h). */
#include "mg_image.h"

#include "mg_util.h"

static uint32_t rd16(const uint8_t *p) {
  return (uint32_t) p[0] | (uint32_t) p[1] << 8;
}

static uint32_t rd32(const uint8_t *p) {
  return rd16(p) | rd16(p + 2) << 16;
}

uint32_t mg_image_board_id(const char *board_name) {
  return mg_crc32(0, board_name, strlen(board_name));
}

int mg_image_parse(const void *buf, size_t len, struct mg_image_header *h) {
  const uint8_t *p = (const uint8_t *) buf;
  uint32_t entry;
  size_t i;
  if (len < 4 || rd32(p + MG_IMAGE_OFS_MAGIC) != MG_IMAGE_MAGIC) {
    /* A short buffer that starts like an image is short, not foreign. */
    for (i = 0; i < len && i < 4; i++) {
      if (p[i] != (uint8_t) (MG_IMAGE_MAGIC >> (8 * i))) return MG_IMAGE_ERR_MAGIC;
    }
    if (len >= 4) return MG_IMAGE_ERR_MAGIC;
  }
  if (len < MG_IMAGE_HEADER_SIZE) return MG_IMAGE_ERR_SHORT;
  h->format = (uint16_t) rd16(p + MG_IMAGE_OFS_FORMAT);
  if (h->format != MG_IMAGE_FORMAT_VERSION) return MG_IMAGE_ERR_FORMAT;
  h->header_size = (uint16_t) rd16(p + MG_IMAGE_OFS_HEADER_SIZE);
  h->board_id = rd32(p + MG_IMAGE_OFS_BOARD_ID);
  h->flags = rd32(p + MG_IMAGE_OFS_FLAGS);
  h->version = (uint64_t) rd32(p + MG_IMAGE_OFS_VERSION + 4) << 32 |
               rd32(p + MG_IMAGE_OFS_VERSION);
  h->load_addr = rd32(p + MG_IMAGE_OFS_LOAD_ADDR);
  h->entry_addr = rd32(p + MG_IMAGE_OFS_ENTRY_ADDR);
  h->payload_size = rd32(p + MG_IMAGE_OFS_PAYLOAD_SIZE);
  if (h->header_size < MG_IMAGE_HEADER_SIZE || h->header_size > MG_IMAGE_HEADER_MAX ||
      (h->header_size & 3) != 0 || (h->flags & ~MG_IMAGE_F_KNOWN) != 0 ||
      h->payload_size == 0 || h->load_addr + (uint64_t) h->payload_size > 0x100000000ULL) {
    return MG_IMAGE_ERR_HEADER;
  }
  for (i = MG_IMAGE_OFS_RESERVED; i < MG_IMAGE_HEADER_SIZE; i++) {
    if (p[i] != 0) return MG_IMAGE_ERR_HEADER;
  }
  entry = h->entry_addr & ~1UL; /* Thumb entry points have bit 0 set */
  if (entry < h->load_addr || entry - h->load_addr >= h->payload_size) {
    return MG_IMAGE_ERR_HEADER;
  }
  return MG_IMAGE_OK;
}

size_t mg_image_total(const struct mg_image_header *h) {
  uint64_t n = (uint64_t) h->header_size + h->payload_size + MG_IMAGE_TRAILER_SIZE;
  return n > (uint64_t) (size_t) -1 ? 0 : (size_t) n;
}

int mg_image_check(const void *buf, size_t len, uint32_t board_id,
                   struct mg_image_header *h, uint8_t digest[32]) {
  const uint8_t *p = (const uint8_t *) buf;
  size_t total;
  int err = mg_image_parse(buf, len, h);
  if (err == MG_IMAGE_ERR_SHORT) return MG_IMAGE_ERR_TRUNCATED;
  if (err != MG_IMAGE_OK) return err;
  if (h->board_id != board_id) return MG_IMAGE_ERR_BOARD;
  total = mg_image_total(h);
  if (total == 0 || len < total) return MG_IMAGE_ERR_TRUNCATED;
  if (len > total) return MG_IMAGE_ERR_TRAILING;
  total -= MG_IMAGE_TRAILER_SIZE;
  mg_sha256(digest, p, total);
  if (memcmp(digest, p + total + MG_IMAGE_TRAILER_OFS_HASH, MG_IMAGE_HASH_SIZE) != 0) {
    return MG_IMAGE_ERR_HASH;
  }
  return MG_IMAGE_OK;
}

const char *mg_image_version_str(uint64_t v, char *buf, size_t len) {
  mg_snprintf(buf, len, "%lu.%lu.%lu+%lu", (unsigned long) (v >> 56),
              (unsigned long) ((v >> 48) & 0xff), (unsigned long) ((v >> 32) & 0xffff),
              (unsigned long) (v & 0xffffffffUL));
  return buf;
}

const char *mg_image_strerror(int err) {
  switch (err) {
    case MG_IMAGE_OK: return "ok";
    case MG_IMAGE_ERR_SHORT: return "header truncated";
    case MG_IMAGE_ERR_MAGIC: return "not a cymongoose image (bad magic)";
    case MG_IMAGE_ERR_FORMAT: return "unsupported image format version";
    case MG_IMAGE_ERR_HEADER: return "malformed image header";
    case MG_IMAGE_ERR_BOARD: return "image is for another board";
    case MG_IMAGE_ERR_TRUNCATED: return "image truncated";
    case MG_IMAGE_ERR_TRAILING: return "bytes after the image trailer";
    case MG_IMAGE_ERR_HASH: return "image hash mismatch";
    default: return "unknown image error";
  }
}
