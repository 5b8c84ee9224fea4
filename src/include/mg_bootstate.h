/* Boot state of a two-slot device (docs/updates.md): which slot boots, and
 * whether each slot's image is confirmed, on test (to boot once) or bad.
 *
 * Sans-IO: these functions only encode, decode and decide; the bootloader and
 * the application read and write the two copies in flash themselves. The
 * state is kept in two copies, each in its own flash sector, each with a
 * sequence number and a CRC-32. The valid copy with the highest sequence
 * number is the state; a new state always goes over the other copy (the
 * older or broken one), so a reset at any instant of a write leaves either
 * the old state or the new one, never a third.
 *
 * One encoded copy is MG_BOOTSTATE_SIZE bytes, little-endian:
 *   0  u32 magic "CMBS"      4  u32 sequence number
 *   8  u8  active slot       9  u8  status of slot 0, 10 of slot 1
 *   11 u8  boot attempts of slot 0, 12 of slot 1
 *   13 .. 27 zero            28 u32 CRC-32 (IEEE) of bytes 0..27
 * The CRC is last so that it is the last thing a write puts in place. */
#ifndef MG_BOOTSTATE_H
#define MG_BOOTSTATE_H

#include "mg_base.h"

#define MG_BOOTSTATE_MAGIC 0x53424d43UL /* the bytes "CMBS" */
#define MG_BOOTSTATE_SIZE 32
#define MG_BOOTSTATE_SLOTS 2

/* Status of a slot. */
enum {
  MG_SLOT_EMPTY,     /* nothing to boot (or being written) */
  MG_SLOT_CONFIRMED, /* booted and confirmed by its health check */
  MG_SLOT_TEST,      /* installed, to be booted once and confirmed */
  MG_SLOT_BAD        /* failed: unconfirmed after its test boot, or bad image */
};

struct mg_bootstate {
  uint32_t seq;
  uint8_t active;                       /* the slot the bootloader boots */
  uint8_t status[MG_BOOTSTATE_SLOTS];   /* MG_SLOT_* */
  uint8_t attempts[MG_BOOTSTATE_SLOTS]; /* boots of a test slot so far */
};

/* The state as MG_BOOTSTATE_SIZE bytes (sequence number and CRC included). */
void mg_bootstate_encode(const struct mg_bootstate *st, uint8_t out[MG_BOOTSTATE_SIZE]);
/* One copy: true when magic, CRC and every field are valid. */
bool mg_bootstate_decode(const uint8_t in[MG_BOOTSTATE_SIZE], struct mg_bootstate *st);
/* The state from the two copies: returns the index (0 or 1) of the copy that
 * holds it, or -1 when neither is valid (st then holds a blank state: slot 0
 * active, both slots empty, seq 0). */
int mg_bootstate_load(const uint8_t copy0[MG_BOOTSTATE_SIZE],
                      const uint8_t copy1[MG_BOOTSTATE_SIZE], struct mg_bootstate *st);
/* Where the next state goes: the copy that does not hold the current one
 * (`current` is what mg_bootstate_load returned). Also bumps st->seq. */
int mg_bootstate_next(int current, struct mg_bootstate *st);

/* The bootloader's decision. valid[i] says whether slot i holds an image
 * that checks out (hash, signature, board). Updates st as the boot requires
 * (a test slot's attempt counted, a failed test slot marked bad and rolled
 * back, a slot with a bad image marked bad) and returns the slot to boot, or
 * -1 when none is bootable. *changed is set when st must be written before
 * the jump. */
int mg_bootstate_choose(struct mg_bootstate *st, const bool valid[MG_BOOTSTATE_SLOTS],
                        bool *changed);
/* The application's steps: after installing an image in `slot` (boot it once
 * next), and after its health check passed in the running `slot`. Both
 * return true when st changed and must be written. */
bool mg_bootstate_set_test(struct mg_bootstate *st, int slot);
/* Before a slot other than the running one is erased for a new image: it is
 * no longer a fallback. When it is the active slot (an update marked "test"
 * and not booted yet), the other slot becomes active again if it is
 * confirmed; false when nothing changes or nothing else could boot. */
bool mg_bootstate_set_empty(struct mg_bootstate *st, int slot);
bool mg_bootstate_confirm(struct mg_bootstate *st, int slot);
/* "confirmed", "test", ... */
const char *mg_bootstate_status_str(int status);

#endif /* MG_BOOTSTATE_H */
