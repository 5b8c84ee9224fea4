/* The two-slot flash layout of a board (board.toml [slots], passed in as
 * MG_BOARD_SLOT* macros by the build) and the flash operations on it, shared
 * by the bootloader and the application (docs/updates.md).
 *
 * A slot holds one image (mg_image.h) with its header at the slot's start,
 * header_size == MG_BOARD_SLOT_HEADER_ROOM, so the payload starts at
 * slot + header room: the address the application was linked for. */
#ifndef SLOTS_H
#define SLOTS_H

#include "board_api.h"
#include "mg.h"
#include "mg_bootstate.h"
#include "mg_image.h"

#ifndef MG_BOARD_SLOT0_START
#error "slots.h: the board has no [slots] table in board.toml"
#endif

#define SLOTS_N 2

uint32_t slot_start(int slot);
uint32_t slot_size(int slot);
/* The slot whose payload starts at addr (the address an image was linked
 * for), or -1. */
int slot_of_load_addr(uint32_t addr);
/* The slot this code runs from (by the address of a function), or -1 (the
 * bootloader, or an image loaded some other way). */
int slot_running(void);

/* Erasing and programming slots and state: board_flash_erase/program
 * (board_api.h). */

/* The boot state (two copies). Returns the copy holding it (-1: none). */
int slots_state_read(struct mg_bootstate *st);
/* Writes st as the next state over the copy that does not hold `current`
 * (what slots_state_read returned); bumps st->seq. Returns the copy written,
 * or `current` when the flash failed (the state is then still the old one). */
int slots_state_write(int current, struct mg_bootstate *st);

/* Checks the image in `slot`: parses the header at the slot's start (the
 * header size must be the slot's header room, the load address the slot's
 * payload address), checks board, size and hash, the signature when a key is
 * given (pubkey non-NULL; a build without DEVICE_OTA_PUBKEY refuses any key),
 * and that the image is entered inside itself (Cortex-M: the vector table's
 * reset handler; RISC-V: the header's entry point).
 * Returns 0 or an MG_IMAGE_ERR_* (or SLOT_ERR_*), h holds the header. */
enum { SLOT_ERR_LAYOUT = 100, SLOT_ERR_SIGNATURE, SLOT_ERR_VECTORS };
int slot_check(int slot, const uint8_t *pubkey, struct mg_image_header *h);
const char *slot_strerror(int err);

#endif
