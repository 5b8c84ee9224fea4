/* MQTT client: keeps a connection to the configured broker (retry every
 * 2 s), publishes the device status to device/<id>/status on connect, every
 * DEVICE_MQTT_STATUS_MS and when the LED changes, and obeys commands:
 * JSON-RPC requests published to device/<id>/cmd run like console requests,
 * their responses go to device/<id>/reply. The will message marks the
 * device offline when the connection dies. The session is persistent (clean
 * session off), so no QoS 1 command is lost while the device is away. */
#include "app.h"

#if DEVICE_MQTT
#include <string.h>

#define RETRY_MS 2000

static void topic(struct app *app, const char *leaf, char *buf, size_t len) {
  mg_snprintf(buf, len, "device/%s/%s", app->id, leaf);
}

static void publish(struct app *app, const char *leaf, struct mg_str msg, bool retain) {
  char t[48];
  struct mg_mqtt_opts o;
  if (app->mqtt == NULL || app->mqtt_state != MQTT_CONNECTED) return;
  memset(&o, 0, sizeof(o));
  topic(app, leaf, t, sizeof(t));
  o.topic = mg_str(t);
  o.message = msg;
  o.retain = retain;
  mg_mqtt_pub(app->mqtt, &o);
}

void mqtt_publish_status(struct app *app) {
  char buf[200], ip[16], up[24];
  size_t n = mg_snprintf(buf, sizeof(buf),
                         "{\"online\":true,\"id\":\"%s\",\"version\":\"%s\","
                         "\"uptime_ms\":%s,\"ip\":\"%s\",\"led\":%s}",
                         app->id, MG_FW_VERSION, app_u64(app_uptime(app), up),
                         app_ip(app, ip, sizeof(ip)), app->led ? "true" : "false");
  publish(app, "status", mg_str_n(buf, n), true);
  app->mqtt_status_at = mg_millis() + DEVICE_MQTT_STATUS_MS;
}

static void on_command(struct app *app, struct mg_mqtt_message *mm) {
#if DEVICE_RPC
  struct mg_iobuf out = {NULL, 0, 0, 64};
  app_log(app, "mqtt: command %.*s", (int) (mm->data.len > 80 ? 80 : mm->data.len),
          mm->data.buf);
  rpc_call(app, mm->data, &out);
  if (out.len > 0) publish(app, "reply", mg_str_n((const char *) out.buf, out.len), false);
  mg_iobuf_free(&out);
#else
  (void) mm;
  app_log(app, "mqtt: commands need the JSON-RPC feature");
#endif
}

static void mqtt_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct app *app = (struct app *) c->fn_data;
  if (ev == MG_EV_MQTT_OPEN) {
    int code = *(int *) ev_data;
    if (code != 0) {
      app_log(app, "mqtt: broker refused the connection (code %d)", code);
      c->is_closing = 1;
      return;
    }
    char t[48];
    struct mg_mqtt_opts o;
    memset(&o, 0, sizeof(o));
    topic(app, "cmd", t, sizeof(t));
    o.topic = mg_str(t);
    o.qos = 1;
    app->mqtt_state = MQTT_CONNECTED;
    mg_mqtt_sub(c, &o);
    app_log(app, "mqtt: connected to %s as %s", app->mqtt_url, app->id);
    mqtt_publish_status(app);
  } else if (ev == MG_EV_MQTT_MSG) {
    struct mg_mqtt_message *mm = (struct mg_mqtt_message *) ev_data;
    char t[48];
    topic(app, "cmd", t, sizeof(t));
    if (mg_str_eq(mm->topic, t)) on_command(app, mm);
  } else if (ev == MG_EV_ERROR) {
    app_log(app, "mqtt: %s", (const char *) ev_data);
  } else if (ev == MG_EV_CLOSE) {
    if (app->mqtt == c) {
      if (app->mqtt_state == MQTT_CONNECTED) app_log(app, "mqtt: disconnected");
      app->mqtt = NULL;
      app->mqtt_state = MQTT_OFF;
      app->mqtt_retry_at = mg_millis() + RETRY_MS;
    }
  }
}

static void connect_now(struct app *app) {
  char will[48];
  struct mg_mqtt_opts o;
  memset(&o, 0, sizeof(o));
  topic(app, "status", will, sizeof(will));
  o.client_id = mg_str(app->id);
  o.keepalive = app->mqtt_keepalive ? app->mqtt_keepalive : DEVICE_MQTT_KEEPALIVE_S;
  /* A persistent session: QoS 1 commands sent while the device is offline
   * (broker restart, cable pulled) wait at the broker for its return. */
  o.clean = false;
  o.topic = mg_str(will);
  o.message = mg_str("{\"online\":false}");
  o.retain = true;
  app->mqtt_state = MQTT_CONNECTING;
  app->mqtt = mg_mqtt_connect(&app->mgr, app->mqtt_url, &o, mqtt_fn, app);
  if (app->mqtt == NULL) {
    app->mqtt_state = MQTT_OFF;
    app->mqtt_retry_at = mg_millis() + RETRY_MS;
  }
}

void mqtt_poll(struct app *app) {
  uint64_t now = mg_millis();
  if (app->mqtt_url[0] == '\0') return;
#if DEVICE_USE_STACK
  if (app->ifp.state != MG_TCPIP_STATE_READY) return;
#endif
  if (app->mqtt == NULL && now >= app->mqtt_retry_at) connect_now(app);
  if (app->mqtt_state == MQTT_CONNECTED && now >= app->mqtt_status_at) {
    mqtt_publish_status(app);
  }
}

void mqtt_configure(struct app *app, const char *url) {
  if (url != app->mqtt_url) mg_snprintf(app->mqtt_url, sizeof(app->mqtt_url), "%s", url);
  if (app->mqtt != NULL) {
    app->mqtt->is_closing = 1; /* reconnects to the new URL */
    app->mqtt = NULL;
    app->mqtt_state = MQTT_OFF;
  }
  app->mqtt_retry_at = 0;
  if (url[0] != '\0') app_log(app, "mqtt: broker %s", app->mqtt_url);
}

const char *mqtt_state_name(struct app *app) {
  return app->mqtt_state == MQTT_CONNECTED    ? "connected"
         : app->mqtt_state == MQTT_CONNECTING ? "connecting"
                                              : "off";
}
#endif
