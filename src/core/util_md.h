/* Shared buffering and padding of the 64-byte-block hashes (MD5, SHA-1,
 * SHA-256): they differ only in the block function and in the byte order of
 * the appended bit length. Internal to src/core. */
#ifndef MG_UTIL_MD_H
#define MG_UTIL_MD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*mg_md_block_fn)(uint32_t *state, const unsigned char *block);

/* Feeds len bytes: whole blocks go straight to fn, a partial one waits in
 * block[]; *total counts every byte hashed so far. */
void mg_md_update(uint32_t *state, unsigned char block[64], uint64_t *total,
                  mg_md_block_fn fn, const void *data, size_t len);
/* Appends 0x80, zeros and the 64-bit bit length (big-endian for SHA, little
 * for MD5) and hashes the last block or two. */
void mg_md_pad(uint32_t *state, unsigned char block[64], uint64_t total,
               mg_md_block_fn fn, bool big_endian_length);

#endif /* MG_UTIL_MD_H */
