/* Two-slot boot state (mg_bootstate.h): encoding, the choice between the two
 * copies, every torn write of a copy, and the bootloader's state machine
 * (test boot, confirm, rollback, bad images). */
#include <string.h>

#include "mg.h"
#include "mg_bootstate.h"
#include "mg_test.h"

#define N MG_BOOTSTATE_SIZE

static bool same(const struct mg_bootstate *a, const struct mg_bootstate *b) {
  return a->seq == b->seq && a->active == b->active && a->status[0] == b->status[0] &&
         a->status[1] == b->status[1] && a->attempts[0] == b->attempts[0] &&
         a->attempts[1] == b->attempts[1];
}

static struct mg_bootstate mk(uint32_t seq, int active, int s0, int s1, int a0, int a1) {
  struct mg_bootstate st;
  st.seq = seq, st.active = (uint8_t) active;
  st.status[0] = (uint8_t) s0, st.status[1] = (uint8_t) s1;
  st.attempts[0] = (uint8_t) a0, st.attempts[1] = (uint8_t) a1;
  return st;
}

static void test_encode(void) {
  struct mg_bootstate st = mk(7, 1, MG_SLOT_CONFIRMED, MG_SLOT_TEST, 0, 1), got;
  uint8_t buf[N], bad[N];
  int i, bit, accepted = 0;
  mg_bootstate_encode(&st, buf);
  CHECK(memcmp(buf, "CMBS", 4) == 0);
  CHECK(buf[4] == 7 && buf[8] == 1 && buf[9] == MG_SLOT_CONFIRMED && buf[10] == MG_SLOT_TEST);
  CHECK(mg_bootstate_decode(buf, &got) && same(&st, &got));
  /* Every single-bit error is caught (CRC-32 detects them all). */
  for (i = 0; i < N; i++) {
    for (bit = 0; bit < 8; bit++) {
      memcpy(bad, buf, N);
      bad[i] ^= (uint8_t) (1 << bit);
      accepted += mg_bootstate_decode(bad, &got);
    }
  }
  CHECK(accepted == 0);
  /* A well-formed CRC over out-of-range fields is still refused. */
  memcpy(bad, buf, N);
  bad[8] = 2; /* active slot 2 */
  memcpy(bad + 28, (uint8_t[4]){0}, 4);
  {
    uint32_t crc = mg_crc32(0, bad, 28);
    bad[28] = (uint8_t) crc, bad[29] = (uint8_t) (crc >> 8), bad[30] = (uint8_t) (crc >> 16),
    bad[31] = (uint8_t) (crc >> 24);
  }
  CHECK(!mg_bootstate_decode(bad, &got));
  memset(bad, 0xff, N); /* erased flash */
  CHECK(!mg_bootstate_decode(bad, &got));
  memset(bad, 0, N);
  CHECK(!mg_bootstate_decode(bad, &got));
}

static void test_load(void) {
  struct mg_bootstate a = mk(5, 0, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0);
  struct mg_bootstate b = mk(6, 1, MG_SLOT_CONFIRMED, MG_SLOT_TEST, 0, 0), got;
  uint8_t ca[N], cb[N], erased[N];
  memset(erased, 0xff, N);
  mg_bootstate_encode(&a, ca);
  mg_bootstate_encode(&b, cb);
  CHECK(mg_bootstate_load(ca, cb, &got) == 1 && same(&got, &b));
  CHECK(mg_bootstate_load(cb, ca, &got) == 0 && same(&got, &b));
  CHECK(mg_bootstate_load(ca, erased, &got) == 0 && same(&got, &a));
  CHECK(mg_bootstate_load(erased, erased, &got) == -1 && got.seq == 0 && got.active == 0 &&
        got.status[0] == MG_SLOT_EMPTY && got.status[1] == MG_SLOT_EMPTY);
  /* Sequence numbers wrap: 1 is newer than 0xffffffff. */
  a.seq = 0xffffffffUL, b.seq = 1;
  mg_bootstate_encode(&a, ca);
  mg_bootstate_encode(&b, cb);
  CHECK(mg_bootstate_load(ca, cb, &got) == 1 && same(&got, &b));
  /* next() writes the other copy and never produces seq 0. */
  got = a;
  CHECK(mg_bootstate_next(0, &got) == 1 && got.seq == 1);
  CHECK(mg_bootstate_next(1, &got) == 0 && got.seq == 2);
  CHECK(mg_bootstate_next(-1, &got) == 0);
}

/* Writes `want` as the next state over the two copies, torn after `cut`
 * bytes (cut == N: complete). bg: what the target copy held before the
 * program step: its old bytes (no erase), 0xff (erased first), or an
 * interrupted erase (the first `cut` bytes erased, the program not begun). */
enum { BG_OLD, BG_ERASED, BG_ERASING };
static int write_torn(uint8_t copies[2][N], const struct mg_bootstate *want, int cut,
                      int bg, struct mg_bootstate *written) {
  struct mg_bootstate cur;
  uint8_t enc[N];
  int from = mg_bootstate_load(copies[0], copies[1], &cur);
  int to;
  cur = *want;
  /* The writer bumps the sequence of the state it read. */
  {
    struct mg_bootstate tmp;
    (void) mg_bootstate_load(copies[0], copies[1], &tmp);
    cur.seq = tmp.seq;
  }
  to = mg_bootstate_next(from, &cur);
  *written = cur;
  mg_bootstate_encode(&cur, enc);
  if (bg == BG_ERASING) {
    memset(copies[to], 0xff, (size_t) cut);
    return to;
  }
  if (bg == BG_ERASED) memset(copies[to], 0xff, N);
  memcpy(copies[to], enc, (size_t) cut);
  return to;
}

static void test_torn_writes(void) {
  /* A run of state changes as an update makes them; each is written torn at
   * every byte, over each background, from each starting arrangement. */
  struct mg_bootstate steps[] = {
      mk(0, 0, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0),
      mk(0, 0, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0),
      mk(0, 1, MG_SLOT_CONFIRMED, MG_SLOT_TEST, 0, 0),
      mk(0, 1, MG_SLOT_CONFIRMED, MG_SLOT_TEST, 0, 1),
      mk(0, 1, MG_SLOT_CONFIRMED, MG_SLOT_CONFIRMED, 0, 0),
      mk(0, 1, MG_SLOT_EMPTY, MG_SLOT_CONFIRMED, 0, 0),
      mk(0, 0, MG_SLOT_TEST, MG_SLOT_CONFIRMED, 1, 0),
      mk(0, 1, MG_SLOT_BAD, MG_SLOT_CONFIRMED, 1, 0),
  };
  int nsteps = (int) (sizeof(steps) / sizeof(steps[0]));
  int s, cut, bg, cases = 0, wrong = 0, newer = 0;
  for (s = 1; s < nsteps; s++) {
    for (bg = BG_OLD; bg <= BG_ERASING; bg++) {
      for (cut = 0; cut <= N; cut++) {
        uint8_t copies[2][N];
        struct mg_bootstate before, after, written, tmp;
        int i;
        memset(copies, 0xff, sizeof(copies));
        /* Bring the copies to state s-1 through the real write path, so both
         * copies hold real older states. */
        for (i = 0; i < s; i++) write_torn(copies, &steps[i], N, BG_ERASED, &tmp);
        mg_bootstate_load(copies[0], copies[1], &before);
        write_torn(copies, &steps[s], cut, bg, &written);
        mg_bootstate_load(copies[0], copies[1], &after);
        cases++;
        if (same(&after, &written)) {
          newer++;
          if (cut != N) wrong++; /* a torn copy must never win */
        } else if (!same(&after, &before)) {
          wrong++; /* a third state */
        }
        if (cut == N && bg != BG_ERASING && !same(&after, &written)) wrong++;
      }
    }
  }
  CHECK(cases == (nsteps - 1) * 3 * (N + 1));
  CHECK(wrong == 0);
  CHECK(newer == (nsteps - 1) * 2); /* exactly the complete writes */
}

static void test_choose(void) {
  bool both[2] = {true, true}, only0[2] = {true, false}, only1[2] = {false, true};
  bool none[2] = {false, false}, changed;
  struct mg_bootstate st;

  /* Blank device with a factory image in slot 0: boots it, confirms it. */
  memset(&st, 0, sizeof(st));
  CHECK(mg_bootstate_choose(&st, only0, &changed) == 0 && changed);
  CHECK(st.status[0] == MG_SLOT_CONFIRMED && st.status[1] == MG_SLOT_EMPTY);
  memset(&st, 0, sizeof(st));
  CHECK(mg_bootstate_choose(&st, only1, &changed) == 1 && st.active == 1);
  memset(&st, 0, sizeof(st));
  CHECK(mg_bootstate_choose(&st, none, &changed) == -1);

  /* Confirmed slot: boots, nothing to write. */
  st = mk(3, 0, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0);
  CHECK(mg_bootstate_choose(&st, both, &changed) == 0 && !changed);
  /* An empty slot with an image that happens to check out does not boot. */
  st = mk(3, 1, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0);
  CHECK(mg_bootstate_choose(&st, both, &changed) == 0 && st.active == 0 && changed);

  /* Update: slot 1 on test boots once, then rolls back unless confirmed. */
  st = mk(3, 0, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0);
  CHECK(!mg_bootstate_set_empty(&st, 0)); /* the running slot is never emptied */
  CHECK(mg_bootstate_set_test(&st, 1) && st.active == 1);
  CHECK(mg_bootstate_choose(&st, both, &changed) == 1 && changed && st.attempts[1] == 1);
  CHECK(mg_bootstate_choose(&st, both, &changed) == 0 && changed);
  CHECK(st.status[1] == MG_SLOT_BAD && st.active == 0);
  CHECK(mg_bootstate_choose(&st, both, &changed) == 0 && !changed);

  /* ... and stays once confirmed; the old slot remains the fallback. */
  st = mk(3, 0, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0);
  mg_bootstate_set_test(&st, 1);
  CHECK(mg_bootstate_choose(&st, both, &changed) == 1);
  CHECK(!mg_bootstate_confirm(&st, 0)); /* not the running slot */
  CHECK(mg_bootstate_confirm(&st, 1) && st.status[1] == MG_SLOT_CONFIRMED);
  CHECK(!mg_bootstate_confirm(&st, 1)); /* already */
  CHECK(mg_bootstate_choose(&st, both, &changed) == 1 && !changed);
  /* The confirmed new image goes bad (flash damage): the old one boots. */
  CHECK(mg_bootstate_choose(&st, only0, &changed) == 0 && changed);
  CHECK(st.status[1] == MG_SLOT_BAD && st.status[0] == MG_SLOT_CONFIRMED);

  /* A second update replaces one marked "test" but not booted yet: the
   * confirmed slot is active again while the slot is rewritten. */
  st = mk(3, 0, MG_SLOT_CONFIRMED, MG_SLOT_CONFIRMED, 0, 0);
  mg_bootstate_set_test(&st, 1);
  CHECK(mg_bootstate_set_empty(&st, 1) && st.active == 0 && st.status[1] == MG_SLOT_EMPTY);
  CHECK(mg_bootstate_choose(&st, both, &changed) == 0 && !changed);
  CHECK(!mg_bootstate_set_empty(&st, 1)); /* already empty */
  /* ... but never the only bootable slot. */
  st = mk(3, 1, MG_SLOT_EMPTY, MG_SLOT_TEST, 0, 0);
  CHECK(!mg_bootstate_set_empty(&st, 1) && st.active == 1);

  /* A test image whose hash fails is never booted, even once. */
  st = mk(3, 0, MG_SLOT_CONFIRMED, MG_SLOT_EMPTY, 0, 0);
  mg_bootstate_set_test(&st, 1);
  CHECK(mg_bootstate_choose(&st, only0, &changed) == 0 && st.status[1] == MG_SLOT_BAD);

  /* Nothing valid anywhere: no slot, never garbage. */
  st = mk(3, 0, MG_SLOT_CONFIRMED, MG_SLOT_CONFIRMED, 0, 0);
  CHECK(mg_bootstate_choose(&st, none, &changed) == -1);
  CHECK(st.status[0] == MG_SLOT_BAD && st.status[1] == MG_SLOT_BAD);
  CHECK(strcmp(mg_bootstate_status_str(MG_SLOT_TEST), "test") == 0);
}

int main(void) {
  test_encode();
  test_load();
  test_torn_writes();
  test_choose();
  return TEST_REPORT();
}
