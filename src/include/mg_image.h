/* cymongoose firmware images: header + payload + trailer (docs/image-format.md).
 *
 * This file is the one definition of the layout: the host tool
 * (python/cymongoose/device/imagefmt.py) uses the same numbers, and
 * tests/python/device/test_image_format.py reads them from here to check it.
 * All fields are little-endian and are read byte by byte, so the C side makes
 * no assumption about struct packing or alignment.
 *
 *   [header: header_size bytes][payload: payload_size bytes][trailer: 96 bytes]
 *
 * The trailer holds the SHA-256 of header + payload and an Ed25519 signature of
 * that digest (all zero, with MG_IMAGE_F_UNSIGNED set, when unsigned). */
#ifndef MG_IMAGE_H
#define MG_IMAGE_H

#include "mg_base.h"

#define MG_IMAGE_MAGIC 0x49474d43UL /* the bytes "CMGI" */
#define MG_IMAGE_FORMAT_VERSION 1
#define MG_IMAGE_HEADER_SIZE 64     /* the fixed fields; header_size may pad */
#define MG_IMAGE_HEADER_MAX 1024    /* largest header_size accepted */
#define MG_IMAGE_HASH_SIZE 32
#define MG_IMAGE_SIG_SIZE 64
#define MG_IMAGE_TRAILER_SIZE 96    /* hash + signature */

/* Header field offsets (sizes in the comments). */
#define MG_IMAGE_OFS_MAGIC 0        /* u32 MG_IMAGE_MAGIC */
#define MG_IMAGE_OFS_FORMAT 4       /* u16 MG_IMAGE_FORMAT_VERSION */
#define MG_IMAGE_OFS_HEADER_SIZE 6  /* u16 header bytes, payload follows */
#define MG_IMAGE_OFS_BOARD_ID 8     /* u32 mg_image_board_id(board name) */
#define MG_IMAGE_OFS_FLAGS 12       /* u32 MG_IMAGE_F_* */
#define MG_IMAGE_OFS_VERSION 16     /* u64 mg_image_version(major, ...) */
#define MG_IMAGE_OFS_LOAD_ADDR 24   /* u32 address of the payload's first byte */
#define MG_IMAGE_OFS_ENTRY_ADDR 28  /* u32 entry point, inside the payload */
#define MG_IMAGE_OFS_PAYLOAD_SIZE 32 /* u32 payload bytes */
#define MG_IMAGE_OFS_RESERVED 36    /* 28 bytes, zero */
/* Trailer field offsets, from the end of the payload. */
#define MG_IMAGE_TRAILER_OFS_HASH 0
#define MG_IMAGE_TRAILER_OFS_SIG 32

#define MG_IMAGE_F_ALLOW_DOWNGRADE 0x1UL /* may replace a higher version */
#define MG_IMAGE_F_UNSIGNED 0x2UL        /* the signature is all zero */
#define MG_IMAGE_F_KNOWN 0x3UL           /* other bits: refused */
#define MG_IMAGE_PAYLOAD_FILL 0xff       /* gaps between segments (erased flash) */

/* Version: major.minor.patch+build packed so that a newer one is larger. */
#define mg_image_version(major, minor, patch, build)                   \
  (((uint64_t) (major) << 56) | ((uint64_t) (minor) << 48) |           \
   ((uint64_t) (patch) << 32) | (uint64_t) (build))

/* Errors of the functions below (0 is success). */
enum {
  MG_IMAGE_OK,
  MG_IMAGE_ERR_SHORT,     /* fewer than MG_IMAGE_HEADER_SIZE bytes */
  MG_IMAGE_ERR_MAGIC,     /* not an image */
  MG_IMAGE_ERR_FORMAT,    /* a format version we do not read */
  MG_IMAGE_ERR_HEADER,    /* a field out of range */
  MG_IMAGE_ERR_BOARD,     /* built for another board */
  MG_IMAGE_ERR_TRUNCATED, /* shorter than the header says */
  MG_IMAGE_ERR_TRAILING,  /* longer than the header says */
  MG_IMAGE_ERR_HASH       /* header + payload do not match the trailer */
};

/* The header's fields, decoded. */
struct mg_image_header {
  uint16_t format, header_size;
  uint32_t board_id, flags;
  uint64_t version;
  uint32_t load_addr, entry_addr, payload_size;
};

/* Board id: CRC-32 (IEEE, as zlib) of the board's name. */
uint32_t mg_image_board_id(const char *board_name);
/* Decodes and checks the header at buf (len bytes available): magic, format,
 * header_size, flags, reserved bytes, entry inside the payload. */
int mg_image_parse(const void *buf, size_t len, struct mg_image_header *h);
/* Total bytes the header announces (header + payload + trailer); 0 when that
 * would not fit a size_t. */
size_t mg_image_total(const struct mg_image_header *h);
/* A whole image of len bytes at buf, for board_id: parses the header, checks
 * the board and the size, then the hash. On success digest holds the hash. */
int mg_image_check(const void *buf, size_t len, uint32_t board_id,
                   struct mg_image_header *h, uint8_t digest[32]);
/* "1.2.3+4" into buf (at least 24 bytes). */
const char *mg_image_version_str(uint64_t version, char *buf, size_t len);
/* What an MG_IMAGE_* error means, in a few words. */
const char *mg_image_strerror(int err);

#endif /* MG_IMAGE_H */
