/* SNTP (RFC 4330) client: asks the configured server (udp://host:port) for
 * the time every 2 s until the first answer, then every 10 minutes. A reply
 * must echo our transmit timestamp (a random nonce) as its originate
 * timestamp, so stray or forged datagrams are ignored. */
#include "app.h"

#if DEVICE_SNTP
#include <string.h>

#define RETRY_MS 2000
#define RESYNC_MS (10UL * 60UL * 1000UL)
#define TIMEOUT_MS 1500
#define NTP_UNIX_OFFSET 2208988800ULL /* seconds from 1900 to 1970 */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

void sntp_request(uint8_t out[48], const uint8_t nonce[8]) {
  memset(out, 0, 48);
  out[0] = (0 << 6) | (4 << 3) | 3; /* LI 0, version 4, mode 3 (client) */
  memcpy(out + 40, nonce, 8);       /* transmit timestamp */
}

bool sntp_parse(const uint8_t *buf, size_t len, const uint8_t nonce[8],
                int64_t *epoch_ms) {
  if (len < 48) return false;
  if ((buf[0] & 7) != 4) return false;              /* mode 4: server */
  if (buf[1] == 0) return false;                    /* kiss-o'-death */
  if (memcmp(buf + 24, nonce, 8) != 0) return false; /* not our request */
  uint64_t secs = be32(buf + 40), frac = be32(buf + 44);
  if (secs < NTP_UNIX_OFFSET) return false; /* before 1970: not believable */
  *epoch_ms = (int64_t) ((secs - NTP_UNIX_OFFSET) * 1000ULL + ((frac * 1000ULL) >> 32));
  return true;
}

static void sntp_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct app *app = (struct app *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_READ && app->sntp == c) {
    int64_t t;
    if (sntp_parse(c->recv.buf, c->recv.len, app->sntp_nonce, &t)) {
      char s[24];
      app->time_offset_ms = t - (int64_t) mg_millis();
      if (!app->time_synced) app_log(app, "sntp: time %s ms since 1970", app_u64((uint64_t) t, s));
      app->time_synced = true;
      app->sntp_at = mg_millis() + RESYNC_MS;
      c->is_closing = 1;
    }
    c->recv.len = 0;
  } else if (ev == MG_EV_ERROR) {
    app_log(app, "sntp: %s", (const char *) ev_data);
  } else if (ev == MG_EV_CLOSE && app->sntp == c) {
    app->sntp = NULL;
  }
}

void sntp_poll(struct app *app) {
  uint64_t now = mg_millis();
  if (app->sntp != NULL && now > app->sntp_deadline) {
    app->sntp->is_closing = 1; /* no answer: try again later */
    app->sntp = NULL;
  }
  if (app->sntp_url[0] == '\0' || app->sntp != NULL || now < app->sntp_at) return;
#if DEVICE_USE_STACK
  if (app->ifp.state != MG_TCPIP_STATE_READY) return;
#endif
  app->sntp_at = now + RETRY_MS;
  app->sntp_deadline = now + TIMEOUT_MS;
  app->sntp = mg_connect(&app->mgr, app->sntp_url, sntp_fn, app);
  if (app->sntp != NULL) {
    uint8_t req[48];
    mg_random(app->sntp_nonce, sizeof(app->sntp_nonce));
    sntp_request(req, app->sntp_nonce);
    mg_send(app->sntp, req, sizeof(req));
  }
}

void sntp_configure(struct app *app, const char *url) {
  if (url != app->sntp_url) mg_snprintf(app->sntp_url, sizeof(app->sntp_url), "%s", url);
  if (app->sntp != NULL) app->sntp->is_closing = 1;
  app->sntp = NULL;
  app->sntp_at = 0;
  if (url[0] != '\0') app_log(app, "sntp: server %s", app->sntp_url);
}

int64_t sntp_now_ms(struct app *app) {
  return app->time_synced ? app->time_offset_ms + (int64_t) mg_millis() : 0;
}
#endif
