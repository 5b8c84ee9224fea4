/* The bootloader of a two-slot board (docs/updates.md): reads the boot state,
 * checks the image of the slot it says (hash, board, layout, and the
 * signature when built with a key), updates the state (a test boot counted,
 * a failed test rolled back, a bad image marked), writes it, and jumps to
 * the slot (jump_*.c: on Cortex-M VTOR, main stack pointer and reset handler
 * from the slot's vector table; on RISC-V its entry point). With no bootable
 * slot it stays here and says so. */
#include "board_api.h"
#include "jump.h"
#include "slots.h"

#ifdef DEVICE_OTA_PUBKEY
static const uint8_t s_pubkey[32] = {DEVICE_OTA_PUBKEY};
#define PUBKEY s_pubkey
#define KEY_NOTE "signed images only"
#else
#define PUBKEY NULL
#define KEY_NOTE "no key (development)"
#endif

static void say(const char *fmt, ...) {
  char buf[128];
  va_list ap;
  size_t n;
  va_start(ap, fmt);
  n = mg_vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
  va_end(ap);
  if (n > sizeof(buf) - 2) n = sizeof(buf) - 2;
  buf[n++] = '\n';
  board_console_write(buf, n);
}

int main(void) {
  struct mg_bootstate st;
  struct mg_image_header h[SLOTS_N];
  bool valid[SLOTS_N], changed;
  char ver[24];
  int copy = slots_state_read(&st), slot;
  uint64_t t0 = mg_millis();
  say("boot: cymongoose bootloader %s, %s, state copy %d seq %lu active %d", MG_FW_VERSION,
      KEY_NOTE, copy, (unsigned long) st.seq,
      st.active);
  for (int i = 0; i < SLOTS_N; i++) {
    int err = slot_check(i, PUBKEY, &h[i]);
    valid[i] = err == 0;
    say("boot: slot %c: %s, %s%s%s", 'A' + i, mg_bootstate_status_str(st.status[i]),
        valid[i] ? "image " : "", valid[i] ? mg_image_version_str(h[i].version, ver, sizeof(ver))
                                          : "no valid image: ",
        valid[i] ? "" : slot_strerror(err));
  }
  say("boot: slots checked in %lu ms", (unsigned long) (mg_millis() - t0));
  slot = mg_bootstate_choose(&st, valid, &changed);
  if (changed) {
    int written = slots_state_write(copy, &st);
    if (written == copy) {
      say("boot: flash error: the boot state was not written");
      /* A test boot whose attempt is not counted could repeat for ever: the
       * confirmed fallback boots instead, when there is one. */
      if (slot >= 0 && st.status[slot] == MG_SLOT_TEST && valid[1 - slot] &&
          st.status[1 - slot] == MG_SLOT_CONFIRMED) {
        slot = 1 - slot;
      }
    }
    copy = written;
  }
  if (slot < 0) {
    say("boot: no bootable slot: staying in the bootloader");
    for (;;) board_idle();
  }
  say("boot: slot %c (%s, attempt %u), version %s", 'A' + slot,
      mg_bootstate_status_str(st.status[slot]), st.attempts[slot],
      mg_image_version_str(h[slot].version, ver, sizeof(ver)));
  /* An image on test gets the watchdog, which its main loop feeds until it
   * confirms itself: a hung one is reset, and the next boot rolls it back.
   * A confirmed boot never arms it. */
  if (st.status[slot] == MG_SLOT_TEST) {
    if (board_watchdog_arm(BOARD_WATCHDOG_MS)) {
      say("boot: watchdog armed: reset after %lu ms without a feed",
          (unsigned long) (2 * BOARD_WATCHDOG_MS));
    } else {
      say("boot: no watchdog on this board: a hung image waits for a reset");
    }
  }
  boot_jump(&h[slot]);
}
