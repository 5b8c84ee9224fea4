/* WebSocket: /ws echoes every message back with the same opcode; /ws/log
 * streams the device log, one text message per line. */
#include "app.h"

#if DEVICE_WS
#include <string.h>

static struct app *app_of(struct mg_connection *c) {
  return (struct app *) c->fn_data;
}

static bool is_log_sub(struct app *app, unsigned long id) {
  for (size_t i = 0; i < DEVICE_LOG_SUBS; i++) {
    if (app->log_subs[i] == id) return true;
  }
  return false;
}

bool ws_handle(struct mg_connection *c, struct mg_http_message *hm) {
  struct app *app = app_of(c);
  bool log = mg_str_eq(hm->uri, "/ws/log");
  if (!log && !mg_str_eq(hm->uri, "/ws")) return false;
  size_t slot = DEVICE_LOG_SUBS;
  if (log) {
    for (slot = 0; slot < DEVICE_LOG_SUBS && app->log_subs[slot] != 0; slot++) {
    }
    if (slot == DEVICE_LOG_SUBS) {
      mg_http_reply(c, 503, "Content-Type: application/json\r\n",
                    "{\"error\":\"too many log listeners\"}\n");
      return true;
    }
  }
  if (mg_ws_upgrade(c, hm, NULL) && log) {
    app->log_subs[slot] = c->id;
    app_log(app, "ws: log listener %lu", c->id);
  }
  return true;
}

void ws_event(struct mg_connection *c, int ev, void *ev_data) {
  struct app *app = app_of(c);
  if (ev == MG_EV_WS_MSG && !is_log_sub(app, c->id)) {
    struct mg_ws_message *wm = (struct mg_ws_message *) ev_data;
    mg_ws_send(c, wm->data.buf, wm->data.len, wm->flags & 0x0f);
  } else if (ev == MG_EV_CLOSE) {
    for (size_t i = 0; i < DEVICE_LOG_SUBS; i++) {
      if (app->log_subs[i] == c->id) app->log_subs[i] = 0;
    }
  }
}

void ws_log_broadcast(struct app *app, const char *line, size_t len) {
  for (size_t i = 0; i < DEVICE_LOG_SUBS; i++) {
    struct mg_connection *c;
    if (app->log_subs[i] == 0) continue;
    c = mg_conn_by_id(&app->mgr, app->log_subs[i]);
    /* A listener that does not read loses lines rather than our memory. */
    if (c != NULL && !c->is_closing && c->send.len < 8192) {
      mg_ws_send(c, line, len, WEBSOCKET_OP_TEXT);
    }
  }
}
#endif
