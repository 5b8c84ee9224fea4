/* HTTP: a status page and the REST API.
 *   GET  /            status page (HTML)
 *   GET  /api/info    {"app","version","board","uptime_ms","free_ram","ip","led","features",
 *                      "signed_updates"}
 *   GET  /api/led     {"on":bool}
 *   POST /api/led     body {"on":bool} -> the new state
 *   POST /api/ota     image body, X-SHA256 header (ota.c); GET: OTA status
 *   GET  /ws, /ws/log WebSocket echo and live log (ws.c) */
#include "app.h"

#define JSON "Content-Type: application/json\r\n"

static const char s_page[] =
    "<!doctype html><html><head><title>cymongoose device</title></head>"
    "<body><h1>cymongoose device</h1><pre id=i>loading</pre>"
    "<button onclick=\"led(true)\">LED on</button>"
    "<button onclick=\"led(false)\">LED off</button><script>"
    "function show(){fetch('/api/info').then(r=>r.json()).then(j=>"
    "{document.getElementById('i').textContent=JSON.stringify(j,null,1)})}"
    "function led(on){fetch('/api/led',{method:'POST',body:JSON.stringify({on:on})})"
    ".then(show)}show();setInterval(show,2000)</script></body></html>\n";

static void reply_info(struct mg_connection *c, struct app *app) {
  char ip[16], up[24], slot[120];
  mg_http_reply(c, 200, JSON,
                "{\"app\":\"device_app\",\"version\":\"%s\",\"board\":\"%s\","
                "\"uptime_ms\":%s,\"free_ram\":%ld,\"ip\":\"%s\",\"led\":%s,"
                "\"features\":%s,\"signed_updates\":%s%s}\n",
                MG_FW_VERSION, board_name(), app_u64(app_uptime(app), up),
                platform_free_ram(), app_ip(app, ip, sizeof(ip)),
                app->led ? "true" : "false", app_features_json(),
                DEVICE_OTA_SIGNED ? "true" : "false", boot_info_json(app, slot, sizeof(slot)));
}

static void handle_led(struct mg_connection *c, struct mg_http_message *hm,
                       struct app *app) {
  if (mg_str_eq(hm->method, "POST")) {
    bool on;
    if (!mg_json_get_bool(hm->body, "$.on", &on)) {
      mg_http_reply(c, 400, JSON,
                    "{\"error\":\"body must be {\\\"on\\\": true|false}\"}\n");
      return;
    }
    app_led_set(app, on);
  } else if (!mg_str_eq(hm->method, "GET")) {
    mg_http_reply(c, 405, JSON "Allow: GET, POST\r\n",
                  "{\"error\":\"method not allowed\"}\n");
    return;
  }
  mg_http_reply(c, 200, JSON, "{\"on\":%s}\n", app->led ? "true" : "false");
}

static void http_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct app *app = (struct app *) c->fn_data;
#if DEVICE_WS
  if (c->is_websocket) {
    ws_event(c, ev, ev_data);
    return;
  }
#endif
#if DEVICE_OTA
  if (ev == MG_EV_HTTP_HDRS) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    if (mg_str_eq(hm->uri, "/api/ota") && mg_str_eq(hm->method, "POST")) {
      ota_http_start(c, hm);
    }
    return;
  }
#endif
  if (ev == MG_EV_ERROR) {
    app_log(app, "http: %s", (const char *) ev_data);
    return;
  }
  if (ev != MG_EV_HTTP_MSG) return;
  struct mg_http_message *hm = (struct mg_http_message *) ev_data;
  if (mg_str_eq(hm->uri, "/")) {
    mg_http_reply(c, 200, "Content-Type: text/html\r\n", "%s", s_page);
  } else if (mg_str_eq(hm->uri, "/api/info")) {
    reply_info(c, app);
  } else if (mg_str_eq(hm->uri, "/api/led")) {
    handle_led(c, hm, app);
#if DEVICE_OTA
  } else if (mg_str_eq(hm->uri, "/api/ota")) {
    char buf[400];
    ota_status_json(app, buf, sizeof(buf));
    mg_http_reply(c, 200, JSON, "%s\n", buf);
#endif
#if DEVICE_WS
  } else if (ws_handle(c, hm)) {
    /* upgraded (or refused with 400) by ws.c */
#endif
  } else {
    mg_http_reply(c, 404, JSON, "{\"error\":\"not found\"}\n");
  }
}

bool http_api_init(struct app *app, const char *url) {
  app->http = mg_http_listen(&app->mgr, url, http_fn, app);
  return app->http != NULL;
}
