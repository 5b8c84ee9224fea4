/* Firmware image checks (mg_image.h): a well-formed image passes, and each
 * kind of damage gets its own error. The images are built here byte by byte
 * from the documented offsets (docs/image-format.md); the Python packer is
 * checked against the same offsets in tests/python/device/test_image_format.py. */
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_image.h"
#include "mg_test.h"

#define PAYLOAD 300

static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8), p[2] = (uint8_t) (v >> 16),
  p[3] = (uint8_t) (v >> 24);
}

/* An image for board "mps2-an385": header_size hs, payload of PAYLOAD bytes at
 * 0x1000, entry 0x1009 (Thumb), version 1.2.3+4. Returns its length. */
static size_t make(uint8_t *img, uint16_t hs) {
  size_t i, n = (size_t) hs + PAYLOAD;
  uint64_t v = mg_image_version(1, 2, 3, 4);
  memset(img, 0, n + MG_IMAGE_TRAILER_SIZE);
  memcpy(img, "CMGI", 4);
  img[MG_IMAGE_OFS_FORMAT] = MG_IMAGE_FORMAT_VERSION;
  img[MG_IMAGE_OFS_HEADER_SIZE] = (uint8_t) hs, img[MG_IMAGE_OFS_HEADER_SIZE + 1] = (uint8_t) (hs >> 8);
  wr32(img + MG_IMAGE_OFS_BOARD_ID, mg_image_board_id("mps2-an385"));
  wr32(img + MG_IMAGE_OFS_FLAGS, MG_IMAGE_F_UNSIGNED);
  wr32(img + MG_IMAGE_OFS_VERSION, (uint32_t) v);
  wr32(img + MG_IMAGE_OFS_VERSION + 4, (uint32_t) (v >> 32));
  wr32(img + MG_IMAGE_OFS_LOAD_ADDR, 0x1000);
  wr32(img + MG_IMAGE_OFS_ENTRY_ADDR, 0x1009);
  wr32(img + MG_IMAGE_OFS_PAYLOAD_SIZE, PAYLOAD);
  for (i = hs; i < n; i++) img[i] = (uint8_t) (i * 7);
  mg_sha256(img + n + MG_IMAGE_TRAILER_OFS_HASH, img, n);
  return n + MG_IMAGE_TRAILER_SIZE;
}

/* Rehash after editing the header, so that only the edited field is wrong. */
static void rehash(uint8_t *img, size_t len) {
  mg_sha256(img + len - MG_IMAGE_TRAILER_SIZE, img, len - MG_IMAGE_TRAILER_SIZE);
}

static int check(const uint8_t *img, size_t len) {
  struct mg_image_header h;
  uint8_t d[32];
  return mg_image_check(img, len, mg_image_board_id("mps2-an385"), &h, d);
}

int main(void) {
  static uint8_t img[2048], bad[2048];
  struct mg_image_header h;
  uint8_t digest[32];
  char buf[32];
  size_t len = make(img, MG_IMAGE_HEADER_SIZE);

  /* The board id rule: CRC-32 of the name (zlib's), e.g. the check value. */
  CHECK(mg_image_board_id("123456789") == 0xcbf43926UL);
  CHECK(mg_image_board_id("mps2-an385") == 0x898bed5fUL);
  CHECK(strcmp(mg_image_version_str(mg_image_version(1, 2, 3, 4), buf, sizeof(buf)),
               "1.2.3+4") == 0);
  CHECK(strcmp(mg_image_version_str(mg_image_version(255, 255, 65535, 4294967295UL), buf,
                                    sizeof(buf)), "255.255.65535+4294967295") == 0);
  CHECK(mg_image_version(1, 2, 0, 0) > mg_image_version(1, 1, 65535, 4294967295UL));

  /* A good image, with the fixed header and with a padded one. */
  CHECK(mg_image_check(img, len, 0x898bed5fUL, &h, digest) == MG_IMAGE_OK);
  CHECK(h.format == 1 && h.header_size == 64 && h.flags == MG_IMAGE_F_UNSIGNED);
  CHECK(h.version == mg_image_version(1, 2, 3, 4) && h.load_addr == 0x1000 &&
        h.entry_addr == 0x1009 && h.payload_size == PAYLOAD);
  CHECK(memcmp(digest, img + len - MG_IMAGE_TRAILER_SIZE, 32) == 0);
  CHECK(mg_image_total(&h) == len);
  {
    size_t n2 = make(bad, 256);
    CHECK(n2 == len + 192 && check(bad, n2) == MG_IMAGE_OK);
  }

  /* Not an image: an ELF, random text, an empty buffer. */
  CHECK(mg_image_parse("\x7f" "ELF\x01\x01\x01", 7, &h) == MG_IMAGE_ERR_MAGIC);
  CHECK(mg_image_parse("CMG", 3, &h) == MG_IMAGE_ERR_SHORT); /* a prefix: wait for more */
  CHECK(mg_image_parse("XMG", 3, &h) == MG_IMAGE_ERR_MAGIC);
  CHECK(mg_image_parse("", 0, &h) == MG_IMAGE_ERR_SHORT);
  CHECK(check(img, 0) == MG_IMAGE_ERR_TRUNCATED);
  CHECK(check(img, 63) == MG_IMAGE_ERR_TRUNCATED);
  CHECK(mg_image_parse(img, 63, &h) == MG_IMAGE_ERR_SHORT);
  CHECK(mg_image_parse(img, 64, &h) == MG_IMAGE_OK);

  /* Wrong board; truncated anywhere after the header; trailing bytes. */
  CHECK(mg_image_check(img, len, mg_image_board_id("mps2-an505"), &h, digest) ==
        MG_IMAGE_ERR_BOARD);
  CHECK(check(img, len - 1) == MG_IMAGE_ERR_TRUNCATED);
  CHECK(check(img, 64) == MG_IMAGE_ERR_TRUNCATED);
  CHECK(check(img, len + 1) == MG_IMAGE_ERR_TRAILING);

  /* One flipped bit in the header, the payload or the hash: hash mismatch.
   * (The signature is not covered by the hash: the signature check is.) */
  {
    size_t at[] = {MG_IMAGE_OFS_VERSION + 7, 64, 64 + PAYLOAD - 1, len - 96, len - 65};
    size_t i;
    for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
      memcpy(bad, img, len);
      bad[at[i]] ^= 0x10;
      CHECK(check(bad, len) == MG_IMAGE_ERR_HASH);
    }
    memcpy(bad, img, len);
    bad[len - 1] ^= 0x10;
    CHECK(check(bad, len) == MG_IMAGE_OK);
  }

  /* Header fields out of range, each rehashed so only the field is wrong. */
  {
    struct {
      size_t ofs;
      uint8_t value;
      int err;
    } cases[] = {
        {MG_IMAGE_OFS_FORMAT, 2, MG_IMAGE_ERR_FORMAT},
        {MG_IMAGE_OFS_HEADER_SIZE, 60, MG_IMAGE_ERR_HEADER},     /* < 64 */
        {MG_IMAGE_OFS_HEADER_SIZE, 66, MG_IMAGE_ERR_HEADER},     /* not a multiple of 4 */
        {MG_IMAGE_OFS_HEADER_SIZE + 1, 8, MG_IMAGE_ERR_HEADER},  /* 2112 > max */
        {MG_IMAGE_OFS_FLAGS, 0x6, MG_IMAGE_ERR_HEADER},          /* unknown flag */
        {MG_IMAGE_OFS_RESERVED + 27, 1, MG_IMAGE_ERR_HEADER},
        {MG_IMAGE_OFS_ENTRY_ADDR + 1, 0x20, MG_IMAGE_ERR_HEADER}, /* 0x2009: past the end */
        {MG_IMAGE_OFS_ENTRY_ADDR + 1, 0x00, MG_IMAGE_ERR_HEADER}, /* 0x0009: before load */
        {MG_IMAGE_OFS_PAYLOAD_SIZE + 3, 0xff, MG_IMAGE_ERR_TRUNCATED}, /* ~4 GiB announced */
        {MG_IMAGE_OFS_PAYLOAD_SIZE + 1, 0x10, MG_IMAGE_ERR_TRUNCATED}, /* 4140 bytes */
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      memcpy(bad, img, len);
      bad[cases[i].ofs] = cases[i].value;
      rehash(bad, len);
      CHECK(check(bad, len) == cases[i].err);
    }
    memcpy(bad, img, len);
    memset(bad + MG_IMAGE_OFS_PAYLOAD_SIZE, 0, 4); /* empty payload */
    CHECK(mg_image_parse(bad, len, &h) == MG_IMAGE_ERR_HEADER);
  }
  CHECK(strcmp(mg_image_strerror(MG_IMAGE_ERR_HASH), "image hash mismatch") == 0);
  CHECK(strcmp(mg_image_strerror(99), "unknown image error") == 0);
  return TEST_REPORT();
}
