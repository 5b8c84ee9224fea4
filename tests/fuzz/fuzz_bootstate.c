/* Fuzz target: the two-slot boot state (mg_bootstate.h), which the bootloader
 * decodes from flash that a reset may have left half written.
 *
 * Input: two MG_BOOTSTATE_SIZE-byte copies, a byte whose two low bits say
 * which slots hold a valid image, then operations, two bytes each: what to do
 * (boot, install in a slot, confirm, empty a slot) and after how many byte
 * steps the write of the resulting state is cut by a reset. A write is what
 * the bootloader and the application do (examples/bootloader/slots.c): erase
 * the copy (bytes to 0xff) front to back, then program it front to back.
 *
 * Invariants (abort() when broken):
 * - decode accepts a copy only when encoding what it decoded gives back the
 *   very same bytes;
 * - load returns a copy that decodes, the newer of the two when both do;
 * - choose returns -1 or a slot whose image is valid, now active, confirmed
 *   or on test;
 * - a state write cut after any byte step loads as the old state or the new
 *   one, never a third. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_bootstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct mg_bootstate *a, const struct mg_bootstate *b) {
  return a->seq == b->seq && a->active == b->active &&
         memcmp(a->status, b->status, sizeof(a->status)) == 0 &&
         memcmp(a->attempts, b->attempts, sizeof(a->attempts)) == 0;
}

static void check_decode(const uint8_t copy[MG_BOOTSTATE_SIZE]) {
  struct mg_bootstate st;
  uint8_t again[MG_BOOTSTATE_SIZE];
  if (!mg_bootstate_decode(copy, &st)) return;
  mg_bootstate_encode(&st, again);
  if (memcmp(again, copy, MG_BOOTSTATE_SIZE) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t flash[2][MG_BOOTSTATE_SIZE];
  struct mg_bootstate st, got, c0, c1;
  bool valid[MG_BOOTSTATE_SLOTS];
  int cur;
  size_t i;
  if (size < sizeof(flash) + 1) return 0;
  memcpy(flash, data, sizeof(flash));
  valid[0] = (data[sizeof(flash)] & 1) != 0;
  valid[1] = (data[sizeof(flash)] & 2) != 0;
  check_decode(flash[0]);
  check_decode(flash[1]);

  cur = mg_bootstate_load(flash[0], flash[1], &st);
  if (cur < -1 || cur > 1) abort();
  if (cur >= 0) {
    bool v0 = mg_bootstate_decode(flash[0], &c0), v1 = mg_bootstate_decode(flash[1], &c1);
    if (!same(&st, cur == 0 ? &c0 : &c1)) abort();
    if (v0 && v1 && (int32_t) ((cur == 0 ? c1.seq : c0.seq) - st.seq) > 0) abort();
  }

  for (i = sizeof(flash) + 1; i + 1 < size; i += 2) {
    struct mg_bootstate next = st;
    uint8_t op = data[i], cut = (uint8_t) (data[i + 1] % (2 * MG_BOOTSTATE_SIZE + 1));
    uint8_t enc[MG_BOOTSTATE_SIZE];
    bool changed = false;
    int slot = op & 1, at;
    switch ((op >> 1) & 3) {
      case 0: {
        int boot = mg_bootstate_choose(&next, valid, &changed);
        if (boot != -1 && (boot < 0 || boot >= MG_BOOTSTATE_SLOTS || !valid[boot] ||
                           next.active != boot ||
                           (next.status[boot] != MG_SLOT_CONFIRMED &&
                            next.status[boot] != MG_SLOT_TEST))) {
          abort();
        }
        break;
      }
      case 1: changed = mg_bootstate_set_test(&next, slot); break;
      case 2: changed = mg_bootstate_confirm(&next, slot); break;
      default: changed = mg_bootstate_set_empty(&next, slot); break;
    }
    if (!changed) continue;
    /* The write over the other copy: erase, then program, cut after `cut`
     * byte steps of the two (2 * MG_BOOTSTATE_SIZE is a complete write). */
    at = mg_bootstate_next(cur, &next);
    if (at != (cur == 0 ? 1 : 0)) abort();
    mg_bootstate_encode(&next, enc);
    if (cut <= MG_BOOTSTATE_SIZE) {
      memset(flash[at], 0xff, cut);
    } else {
      memset(flash[at], 0xff, MG_BOOTSTATE_SIZE);
      memcpy(flash[at], enc, (size_t) (cut - MG_BOOTSTATE_SIZE));
    }
    cur = mg_bootstate_load(flash[0], flash[1], &got);
    if (cut == 2 * MG_BOOTSTATE_SIZE) {
      if (cur != at || !same(&got, &next)) abort();
      st = next;
    } else if (!same(&got, &st) && !same(&got, &next)) {
      abort();
    } else {
      st = got;
    }
  }
  return 0;
}
