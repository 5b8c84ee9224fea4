/* Two-slot layout and flash access (slots.h). */
#include "slots.h"

#include "board_api.h"

static const uint32_t s_start[SLOTS_N] = {MG_BOARD_SLOT0_START, MG_BOARD_SLOT1_START};
static const uint32_t s_size[SLOTS_N] = {MG_BOARD_SLOT0_SIZE, MG_BOARD_SLOT1_SIZE};
static const uint32_t s_state[2] = {MG_BOARD_STATE0, MG_BOARD_STATE1};

uint32_t slot_start(int slot) {
  return s_start[slot];
}

uint32_t slot_size(int slot) {
  return s_size[slot];
}

int slot_of_load_addr(uint32_t addr) {
  for (int i = 0; i < SLOTS_N; i++) {
    if (addr == s_start[i] + MG_BOARD_SLOT_HEADER_ROOM) return i;
  }
  return -1;
}

int slot_running(void) {
  uint32_t pc = (uint32_t) (uintptr_t) slot_running;
  for (int i = 0; i < SLOTS_N; i++) {
    if (pc >= s_start[i] && pc < s_start[i] + s_size[i]) return i;
  }
  return -1;
}

int slots_state_read(struct mg_bootstate *st) {
  return mg_bootstate_load((const uint8_t *) (uintptr_t) s_state[0],
                           (const uint8_t *) (uintptr_t) s_state[1], st);
}

int slots_state_write(int current, struct mg_bootstate *st) {
  uint8_t buf[MG_BOOTSTATE_SIZE];
  int to = mg_bootstate_next(current, st);
  mg_bootstate_encode(st, buf);
  /* Erase, then program front to back: the CRC, last, completes the copy.
   * A copy the flash failed to write keeps a bad CRC: the old state stays. */
  if (!board_flash_erase(s_state[to], sizeof(buf)) ||
      !board_flash_program(s_state[to], buf, sizeof(buf))) {
    return current;
  }
  return to;
}

int slot_check(int slot, const uint8_t *pubkey, struct mg_image_header *h) {
  const uint8_t *p = (const uint8_t *) (uintptr_t) s_start[slot];
  uint8_t digest[32];
  size_t total;
  int err = mg_image_parse(p, MG_IMAGE_HEADER_SIZE, h);
  if (err != MG_IMAGE_OK) return err;
  total = mg_image_total(h);
  if (h->header_size != MG_BOARD_SLOT_HEADER_ROOM ||
      h->load_addr != s_start[slot] + MG_BOARD_SLOT_HEADER_ROOM || total == 0 ||
      total > s_size[slot]) {
    return SLOT_ERR_LAYOUT;
  }
  err = mg_image_check(p, total, mg_image_board_id(board_name()), h, digest);
  if (err != MG_IMAGE_OK) return err;
#if MG_ENABLE_ED25519 && defined(DEVICE_OTA_PUBKEY)
  /* Only a build with a key links the verifier (--gc-sections drops it). */
  if (pubkey != NULL &&
      ((h->flags & MG_IMAGE_F_UNSIGNED) ||
       !mg_ed25519_verify(p + total - MG_IMAGE_TRAILER_SIZE + MG_IMAGE_TRAILER_OFS_SIG, digest,
                          32, pubkey))) {
    return SLOT_ERR_SIGNATURE;
  }
#else
  if (pubkey != NULL) return SLOT_ERR_SIGNATURE;
#endif
#if defined(__riscv)
  /* The bootloader jumps to the entry point: inside the payload, on an
   * instruction boundary (2 bytes with compressed instructions). */
  if ((h->entry_addr & 1) != 0 || h->entry_addr < h->load_addr ||
      h->entry_addr >= h->load_addr + h->payload_size) {
    return SLOT_ERR_VECTORS;
  }
#else
  {
    /* The first two words of the payload: initial stack pointer (RAM, not in
     * the image) and reset handler (Thumb, inside the payload). */
    const uint8_t *v = p + h->header_size;
    uint32_t pc = (uint32_t) v[4] | (uint32_t) v[5] << 8 | (uint32_t) v[6] << 16 |
                  (uint32_t) v[7] << 24;
    if ((pc & 1) == 0 || (pc & ~1UL) < h->load_addr ||
        (pc & ~1UL) >= h->load_addr + h->payload_size) {
      return SLOT_ERR_VECTORS;
    }
  }
#endif
  return 0;
}

const char *slot_strerror(int err) {
  switch (err) {
    case SLOT_ERR_LAYOUT: return "image not laid out for this slot";
    case SLOT_ERR_SIGNATURE: return "bad or missing signature";
#if defined(__riscv)
    case SLOT_ERR_VECTORS: return "entry point outside the image";
#else
    case SLOT_ERR_VECTORS: return "bad vector table";
#endif
    default: return mg_image_strerror(err);
  }
}
