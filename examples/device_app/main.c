/* device_app entry point: network bring-up, the console, the main loop.
 * See app.h for the feature files and docs/device-rpc.md for the console. */
#include <string.h>

#include "app.h"

#define RS 0x1e /* ASCII Record Separator: starts a JSON-RPC frame */

#if MG_ARCH == MG_ARCH_POSIX
#define POLL_MS 10 /* the host has no console interrupt: poll stdin often */
#else
#define POLL_MS 0 /* board_idle() sleeps until the next interrupt */
#endif

const char *app_u64(uint64_t v, char buf[24]) {
  char *p = buf + 23;
  *p = '\0';
  do {
    *--p = (char) ('0' + v % 10);
    v /= 10;
  } while (v > 0);
  return p;
}

uint64_t app_uptime(struct app *app) {
  return mg_millis() - app->boot_ms;
}

void app_console(const char *buf, size_t len) {
  board_console_write(buf, len);
}

/* A log line goes to the console and to every /ws/log subscriber. */
static void log_line(struct app *app, const char *buf, size_t n) {
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
  if (app->in_log) return; /* a log line about sending a log line */
  app->in_log = true;
  char tmp[200];
  if (n > sizeof(tmp) - 1) n = sizeof(tmp) - 1;
  memcpy(tmp, buf, n);
  /* A log line must never look like an RPC frame. */
  if (n > 0 && tmp[0] == RS) tmp[0] = ' ';
  tmp[n] = '\n';
  app_console(tmp, n + 1);
#if DEVICE_WS
  ws_log_broadcast(app, tmp, n);
#endif
  app->in_log = false;
}

void app_log(struct app *app, const char *fmt, ...) {
  char buf[200];
  va_list ap;
  va_start(ap, fmt);
  size_t n = mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  log_line(app, buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

static void core_log(int level, const char *line, void *arg) {
  (void) level;
  log_line((struct app *) arg, line, strlen(line));
}

void app_led_set(struct app *app, bool on) {
  bool changed = app->led != on;
  app->led = on;
  app_log(app, "led: %s", on ? "on" : "off");
#if DEVICE_MQTT
  if (changed) mqtt_publish_status(app);
#else
  (void) changed;
#endif
}

const char *app_ip(struct app *app, char *buf, size_t len) {
#if DEVICE_USE_STACK
  return mg_tcpip_ntoa(app->ifp.ip, buf, len);
#else
  (void) app;
  mg_snprintf(buf, len, "0.0.0.0");
  return buf;
#endif
}

const char *app_net_state(struct app *app) {
#if DEVICE_USE_STACK
  return app->ifp.state == MG_TCPIP_STATE_READY ? "ready"
         : app->ifp.state == MG_TCPIP_STATE_UP  ? "up"
                                                : "down";
#else
  (void) app;
  return "ready";
#endif
}

const char *app_features_json(void) {
  return "[\"http\""
#if DEVICE_WS
         ",\"ws\""
#endif
#if DEVICE_MQTT
         ",\"mqtt\""
#endif
#if DEVICE_SNTP
         ",\"sntp\""
#endif
#if DEVICE_RPC
         ",\"rpc\""
#endif
#if DEVICE_OTA
         ",\"ota\""
#endif
         "]";
}

/* Plain text console commands (lines without the RS marker). */
static void console_command(struct app *app, struct mg_str line) {
  char ip[16], up[24];
  line = mg_str_trim(line);
  if (line.len == 0) return;
  if (mg_str_eq(line, "help")) {
    app_log(app, "commands: help, info, led on|off; JSON-RPC: RS {json} LF");
  } else if (mg_str_eq(line, "info")) {
    app_log(app, "info: version=%s board=%s uptime_ms=%s ip=%s led=%s",
            MG_FW_VERSION, board_name(), app_u64(app_uptime(app), up),
            app_ip(app, ip, sizeof(ip)), app->led ? "on" : "off");
  } else if (mg_str_eq(line, "led on") || mg_str_eq(line, "led off")) {
    app_led_set(app, line.len == 6);
  } else {
    app_log(app, "console: unknown command (try help)");
  }
}

/* Assembles console bytes into lines; RS starts a frame anywhere. */
static void console_input(struct app *app, const char *buf, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char ch = buf[i];
    if (ch == RS) {
      app->line[0] = (char) RS; /* a new frame drops any partial line */
      app->line_len = 1;
      app->line_too_long = false;
    } else if (ch == '\n') {
      struct mg_str l = mg_str_n(app->line, app->line_len);
      if (l.len > 0 && l.buf[l.len - 1] == '\r') l.len--;
      if (l.len > 0 && l.buf[0] == RS) {
#if DEVICE_RPC
        rpc_console_frame(app, mg_str_n(l.buf + 1, l.len - 1),
                          app->line_too_long);
#else
        app_log(app, "console: JSON-RPC is not built in");
#endif
      } else if (!app->line_too_long) {
        console_command(app, l);
      } else {
        app_log(app, "console: line too long");
      }
      app->line_len = 0;
      app->line_too_long = false;
    } else if (app->line_len < DEVICE_RPC_FRAME_MAX + 1) {
      app->line[app->line_len++] = ch;
    } else {
      app->line_too_long = true;
    }
  }
}

/* Console input lost before it reached us (receive ring full on a board
 * without flow control, or a UART overrun) is never silent: an RPC client
 * gets an error frame with id null, a person a log line. The partial line is
 * dropped since bytes of it may be missing. */
static void console_check_lost(struct app *app) {
  uint32_t dropped = board_console_dropped();
  if (dropped == app->con_dropped) return;
  uint32_t lost = dropped - app->con_dropped;
  app->con_dropped = dropped;
  app->line_len = 0;
  app->line_too_long = false;
#if DEVICE_RPC
  rpc_console_overrun(app, lost);
#else
  app_log(app, "console: input overrun, %lu bytes lost", (unsigned long) lost);
#endif
}

/* Every byte received so far, and so every complete line, is handled in one
 * call (not one line per main-loop turn). */
static void console_poll(struct app *app) {
  char buf[128];
  size_t n;
  console_check_lost(app);
  while ((n = board_console_read(buf, sizeof(buf))) > 0) {
    console_input(app, buf, n);
    console_check_lost(app);
  }
}

#if DEVICE_USE_STACK
static void on_state(struct mg_tcpip_if *ifp, int state, void *arg) {
  struct app *app = (struct app *) arg;
  char ip[16], gw[16];
  if (state == MG_TCPIP_STATE_READY) {
    app_log(app, "net: ready ip=%s gw=%s", mg_tcpip_ntoa(ifp->ip, ip, sizeof(ip)),
            mg_tcpip_ntoa(ifp->gw, gw, sizeof(gw)));
  } else {
    app_log(app, "net: %s", state == MG_TCPIP_STATE_UP ? "link up" : "link down");
  }
}

static bool net_init(struct app *app) {
  app->ifp.driver = board_eth(&app->ifp.driver_data);
  if (app->ifp.driver == NULL) {
    app_log(app, "net: board has no Ethernet");
    return false;
  }
  board_eth_mac(app->ifp.mac);
  mg_random(&app->ifp.seed, sizeof(app->ifp.seed));
#ifdef DEVICE_STATIC_IP
  /* Static address: -DDEVICE_STATIC_IP="a.b.c.d" [DEVICE_STATIC_MASK, _GW]. */
  struct mg_addr a;
  if (!mg_aton(mg_str(DEVICE_STATIC_IP), &a)) return false;
  memcpy(&app->ifp.ip, a.ip, 4);
  if (!mg_aton(mg_str(DEVICE_STATIC_MASK), &a)) return false;
  memcpy(&app->ifp.mask, a.ip, 4);
  if (!mg_aton(mg_str(DEVICE_STATIC_GW), &a)) return false;
  memcpy(&app->ifp.gw, a.ip, 4);
#else
  app->ifp.enable_dhcp = true;
#endif
  app->ifp.on_state = on_state;
  app->ifp.on_state_arg = app;
  if (!mg_tcpip_init(&app->ifp)) {
    app_log(app, "net: %s init failed", app->ifp.driver->name);
    return false;
  }
  mg_mgr_init_net(&app->mgr, &mg_net_stack);
  mg_tcpip_attach(&app->mgr, &app->ifp);
  mg_snprintf(app->id, sizeof(app->id), "dev-%02x%02x%02x", app->ifp.mac[3],
              app->ifp.mac[4], app->ifp.mac[5]);
  return true;
}
#else
static bool net_init(struct app *app) {
  uint8_t r[3] = {0, 0, 0};
  mg_mgr_init(&app->mgr);
  mg_random(r, sizeof(r));
  mg_snprintf(app->id, sizeof(app->id), "host-%02x%02x%02x", r[0], r[1], r[2]);
  return true;
}
#endif

static int run(struct app *app, const char *http_url) {
  app->boot_ms = mg_millis();
  app_log(app, "cymongoose %s on %s: device_app", MG_FW_VERSION, board_name());
  mg_log_set_fn(core_log, app);
  mg_log_set(MG_LL_ERROR);
  boot_init(app);
  if (!net_init(app)) return 1;
#if DEVICE_RPC
  rpc_init(app);
#endif
  /* Build-time defaults unless the command line gave a URL. */
  char url[DEVICE_URL_MAX];
#if DEVICE_MQTT
  mg_snprintf(url, sizeof(url), "%s", app->mqtt_url[0] ? app->mqtt_url : DEVICE_MQTT_URL);
  mqtt_configure(app, url);
#endif
#if DEVICE_SNTP
  mg_snprintf(url, sizeof(url), "%s", app->sntp_url[0] ? app->sntp_url : DEVICE_SNTP_URL);
  sntp_configure(app, url);
#endif
  (void) url;
  if (!http_api_init(app, http_url)) {
    app_log(app, "http: cannot listen on %s", http_url);
    return 1;
  }
  app_log(app, "http: listening on %s", http_url);
  if (DEVICE_HANG) {
    app_log(app, "device: hanging (a build made to hang)");
    for (;;) {
    }
  }
  app_log(app, "device: id=%s features=%s", app->id, app_features_json());
#if !DEVICE_USE_STACK
  app_log(app, "net: ready ip=0.0.0.0");
#endif
#if DEVICE_RPC
  rpc_notify_ready(app);
#endif
  for (;;) {
    mg_mgr_poll(&app->mgr, POLL_MS);
    console_poll(app);
#if DEVICE_MQTT
    mqtt_poll(app);
#endif
#if DEVICE_SNTP
    sntp_poll(app);
#endif
    boot_poll(app);
    if (app->reboot_at != 0 && mg_millis() >= app->reboot_at) {
      app_log(app, "device: rebooting");
      platform_reboot();
    }
    board_idle();
  }
}

#if MG_ARCH == MG_ARCH_POSIX
/* Host: device_app [--http URL] [--mqtt URL] [--sntp URL] */
int main(int argc, char **argv) {
  static struct app app;
  const char *http_url = "http://0.0.0.0:8000";
  board_host_args(argc, argv);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--http") == 0) {
      http_url = argv[i + 1];
    } else if (strcmp(argv[i], "--mqtt") == 0) {
      mg_snprintf(app.mqtt_url, sizeof(app.mqtt_url), "%s", argv[i + 1]);
    } else if (strcmp(argv[i], "--sntp") == 0) {
      mg_snprintf(app.sntp_url, sizeof(app.sntp_url), "%s", argv[i + 1]);
    } else {
      app_log(&app, "usage: %s [--http URL] [--mqtt URL] [--sntp URL]", argv[0]);
      return 2;
    }
  }
  return run(&app, http_url);
}
#else
int main(void) {
  static struct app app;
  return run(&app, DEVICE_HTTP_URL);
}
#endif
