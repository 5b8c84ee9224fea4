/* The running slot and its confirmation (DEVICE_SLOTS, docs/updates.md).
 *
 * The bootloader boots an image on test once; that image confirms itself
 * here, in the boot state, once its health check passes: the network is up
 * (an address), the HTTP server listens, and the RPC dispatcher answers an
 * `info` call. An image that resets before that is rolled back by the
 * bootloader at the next boot. Until it confirms, the main loop feeds the
 * watchdog the bootloader armed for the test boot, so a hung image is reset;
 * one that stays unhealthy resets itself after DEVICE_CONFIRM_TIMEOUT_MS. */
#include "app.h"

#if DEVICE_SLOTS
#define HEALTH_PERIOD_MS 200

void boot_init(struct app *app) {
  struct mg_bootstate st;
  char ver[24];
  int slot = slot_running();
  app->boot.slot = slot;
  if (slot < 0) {
    app_log(app, "boot: not running from an update slot: updates refused");
    return;
  }
  mg_image_parse((const void *) (uintptr_t) slot_start(slot), MG_IMAGE_HEADER_SIZE,
                 &app->boot.image);
  slots_state_read(&st);
  app->boot.confirmed = st.active == slot && st.status[slot] == MG_SLOT_CONFIRMED;
  app_log(app, "boot: slot %c, image %s, %s", 'A' + slot,
          mg_image_version_str(app->boot.image.version, ver, sizeof(ver)),
          app->boot.confirmed ? "confirmed" : "on test: confirms after its health check");
}

static bool healthy(struct app *app) {
  bool ok = strcmp(app_net_state(app), "ready") == 0 && app->http != NULL &&
            app->http->is_listening;
#if DEVICE_RPC
  if (ok) {
    struct mg_iobuf out = {NULL, 0, 0, 64};
    rpc_call(app, mg_str("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"info\"}"), &out);
    ok = mg_json_get(mg_str_n((char *) out.buf, out.len), "$.result", NULL) >= 0;
    mg_iobuf_free(&out);
  }
#endif
  return ok;
}

void boot_poll(struct app *app) {
  struct mg_bootstate st;
  int copy;
  if (app->boot.slot < 0 || app->boot.confirmed || mg_millis() < app->boot.check_at) return;
  app->boot.check_at = mg_millis() + HEALTH_PERIOD_MS;
  board_watchdog_feed(); /* the main loop runs: not hung (200 ms << the 4 s period) */
  if (app->reboot_at == 0 && mg_millis() - app->boot_ms >= DEVICE_CONFIRM_TIMEOUT_MS) {
    app_log(app, "boot: not healthy %lu ms after start: resetting to roll back",
            (unsigned long) DEVICE_CONFIRM_TIMEOUT_MS);
    app->reboot_at = mg_millis() + 1;
    return;
  }
  if (!healthy(app)) return;
  if (DEVICE_HEALTH_FAIL) {
    if (!app->boot.health_failed_logged) {
      app_log(app, "boot: health check failed (a build made to fail): not confirming");
    }
    app->boot.health_failed_logged = true;
    return;
  }
  copy = slots_state_read(&st);
  if (mg_bootstate_confirm(&st, app->boot.slot) && slots_state_write(copy, &st) == copy) {
    /* Not written: still on test (and the watchdog armed); tried again at
     * the next health check. */
    if (!app->boot.confirm_failed_logged) {
      app_log(app, "boot: flash error: the confirm of slot %c not written", 'A' + app->boot.slot);
    }
    app->boot.confirm_failed_logged = true;
    return;
  }
  /* Written: the bootloader's watchdog (armed for a test boot) is done. */
  board_watchdog_disarm();
  app->boot.confirmed = true;
  app_log(app, "boot: health check passed: slot %c confirmed", 'A' + app->boot.slot);
}

const char *boot_info_json(struct app *app, char *buf, size_t len) {
  char ver[24];
  if (app->boot.slot < 0) {
    mg_snprintf(buf, len, ",\"slot\":null");
  } else {
    mg_snprintf(buf, len, ",\"slot\":\"%c\",\"image_version\":\"%s\",\"confirmed\":%s",
                'A' + app->boot.slot,
                mg_image_version_str(app->boot.image.version, ver, sizeof(ver)),
                app->boot.confirmed ? "true" : "false");
  }
  return buf;
}
#else
void boot_init(struct app *app) {
  (void) app;
}

void boot_poll(struct app *app) {
  (void) app;
}

const char *boot_info_json(struct app *app, char *buf, size_t len) {
  (void) app;
  if (len > 0) buf[0] = '\0';
  return buf;
}
#endif
