/* Two-slot boot state: encoding, choice of the current copy, and the state
 * machine of a slot (layout and rules: mg_bootstate.h, docs/updates.md). */
#include "mg_bootstate.h"

#include "mg_util.h"

#define OFS_SEQ 4
#define OFS_ACTIVE 8
#define OFS_STATUS 9
#define OFS_ATTEMPTS 11
#define OFS_RESERVED 13
#define OFS_CRC 28

static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8), p[2] = (uint8_t) (v >> 16),
  p[3] = (uint8_t) (v >> 24);
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
         (uint32_t) p[3] << 24;
}

void mg_bootstate_encode(const struct mg_bootstate *st, uint8_t out[MG_BOOTSTATE_SIZE]) {
  int i;
  memset(out, 0, MG_BOOTSTATE_SIZE);
  wr32(out, MG_BOOTSTATE_MAGIC);
  wr32(out + OFS_SEQ, st->seq);
  out[OFS_ACTIVE] = st->active;
  for (i = 0; i < MG_BOOTSTATE_SLOTS; i++) {
    out[OFS_STATUS + i] = st->status[i];
    out[OFS_ATTEMPTS + i] = st->attempts[i];
  }
  wr32(out + OFS_CRC, mg_crc32(0, out, OFS_CRC));
}

bool mg_bootstate_decode(const uint8_t in[MG_BOOTSTATE_SIZE], struct mg_bootstate *st) {
  int i;
  if (rd32(in) != MG_BOOTSTATE_MAGIC || rd32(in + OFS_CRC) != mg_crc32(0, in, OFS_CRC)) {
    return false;
  }
  for (i = OFS_RESERVED; i < OFS_CRC; i++) {
    if (in[i] != 0) return false;
  }
  if (in[OFS_ACTIVE] >= MG_BOOTSTATE_SLOTS) return false;
  for (i = 0; i < MG_BOOTSTATE_SLOTS; i++) {
    if (in[OFS_STATUS + i] > MG_SLOT_BAD) return false;
  }
  st->seq = rd32(in + OFS_SEQ);
  st->active = in[OFS_ACTIVE];
  for (i = 0; i < MG_BOOTSTATE_SLOTS; i++) {
    st->status[i] = in[OFS_STATUS + i];
    st->attempts[i] = in[OFS_ATTEMPTS + i];
  }
  return true;
}

int mg_bootstate_load(const uint8_t copy0[MG_BOOTSTATE_SIZE],
                      const uint8_t copy1[MG_BOOTSTATE_SIZE], struct mg_bootstate *st) {
  struct mg_bootstate a, b;
  bool va = mg_bootstate_decode(copy0, &a), vb = mg_bootstate_decode(copy1, &b);
  /* Sequence numbers compare modulo 2^32, so a wrap does not reverse them. */
  if (va && (!vb || (int32_t) (a.seq - b.seq) > 0)) {
    *st = a;
    return 0;
  }
  if (vb) {
    *st = b;
    return 1;
  }
  memset(st, 0, sizeof(*st)); /* blank: seq 0 marks it (written states have seq >= 1) */
  return -1;
}

int mg_bootstate_next(int current, struct mg_bootstate *st) {
  st->seq++;
  if (st->seq == 0) st->seq = 1; /* 0 is reserved for "never written" */
  return current == 0 ? 1 : 0;
}

int mg_bootstate_choose(struct mg_bootstate *st, const bool valid[MG_BOOTSTATE_SLOTS],
                        bool *changed) {
  bool blank = st->seq == 0;
  int i, slot = st->active;
  *changed = false;
  for (i = 0; i < MG_BOOTSTATE_SLOTS; i++, slot = (slot + 1) % MG_BOOTSTATE_SLOTS) {
    uint8_t *status = &st->status[slot];
    if (!valid[slot]) {
      /* An image that does not check out never boots again as it is. */
      if (*status != MG_SLOT_EMPTY && *status != MG_SLOT_BAD) {
        *status = MG_SLOT_BAD;
        *changed = true;
      }
      continue;
    }
    if (*status == MG_SLOT_EMPTY && blank) {
      /* A device that never had a state (first boot after the factory
       * image was written): the image that checks out is the confirmed one. */
      *status = MG_SLOT_CONFIRMED;
      *changed = true;
    }
    if (*status == MG_SLOT_TEST) {
      if (st->attempts[slot] >= MG_BOOTSTATE_TEST_BOOTS) {
        *status = MG_SLOT_BAD; /* booted on test and never confirmed: roll back */
        *changed = true;
        continue;
      }
      st->attempts[slot]++;
      *changed = true;
    } else if (*status != MG_SLOT_CONFIRMED) {
      continue; /* empty (being written) or bad */
    }
    if (st->active != slot) {
      st->active = (uint8_t) slot;
      *changed = true;
    }
    return slot;
  }
  return -1;
}

bool mg_bootstate_set_test(struct mg_bootstate *st, int slot) {
  if (slot < 0 || slot >= MG_BOOTSTATE_SLOTS) return false;
  st->status[slot] = MG_SLOT_TEST;
  st->attempts[slot] = 0;
  st->active = (uint8_t) slot;
  return true;
}

bool mg_bootstate_set_empty(struct mg_bootstate *st, int slot) {
  int other = 1 - slot;
  if (slot < 0 || slot >= MG_BOOTSTATE_SLOTS || st->status[slot] == MG_SLOT_EMPTY) {
    return false;
  }
  if (st->active == slot) {
    /* An update marked "test" and not booted yet is being replaced: the
     * confirmed slot boots again. Without one, nothing may be emptied. */
    if (st->status[other] != MG_SLOT_CONFIRMED) return false;
    st->active = (uint8_t) other;
  }
  st->status[slot] = MG_SLOT_EMPTY;
  st->attempts[slot] = 0;
  return true;
}

bool mg_bootstate_confirm(struct mg_bootstate *st, int slot) {
  if (slot < 0 || slot >= MG_BOOTSTATE_SLOTS || st->active != slot ||
      st->status[slot] == MG_SLOT_CONFIRMED) {
    return false;
  }
  st->status[slot] = MG_SLOT_CONFIRMED;
  st->attempts[slot] = 0;
  return true;
}

const char *mg_bootstate_status_str(int status) {
  switch (status) {
    case MG_SLOT_EMPTY: return "empty";
    case MG_SLOT_CONFIRMED: return "confirmed";
    case MG_SLOT_TEST: return "test";
    case MG_SLOT_BAD: return "bad";
    default: return "?";
  }
}
