/* JSON-RPC 2.0 on the console (docs/device-rpc.md): RS-prefixed lines, the
 * core's dispatcher (mg_rpc_*) for method lookup, and the methods. */
#include "app.h"

#if DEVICE_RPC
#include <string.h>

#define RS "\x1e"

static struct app *app_of(struct mg_rpc_req *r) {
  return (struct app *) r->fn_data;
}

static void ok_fmt(struct mg_rpc_req *r, const char *fmt, ...) {
  char buf[400];
  va_list ap;
  va_start(ap, fmt);
  size_t n = mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n >= sizeof(buf)) {
    mg_rpc_err(r, -32603, mg_str("result too long"));
  } else {
    mg_rpc_ok(r, mg_str_n(buf, n));
  }
}

static void m_info(struct mg_rpc_req *r) {
  char up[24], slot[120];
  ok_fmt(r,
         "{\"app\":\"device_app\",\"version\":\"%s\",\"board\":\"%s\","
         "\"uptime_ms\":%s,\"free_ram\":%ld,\"features\":%s,"
         "\"console_dropped\":%lu,\"signed_updates\":%s%s}",
         MG_FW_VERSION, board_name(), app_u64(app_uptime(app_of(r)), up),
         platform_free_ram(), app_features_json(),
         (unsigned long) board_console_dropped(), DEVICE_OTA_SIGNED ? "true" : "false",
         boot_info_json(app_of(r), slot, sizeof(slot)));
}

static void m_reboot(struct mg_rpc_req *r) {
  long delay = mg_json_get_long(r->params, "$.delay_ms", 100);
  if (delay < 0 || delay > 60000) {
    mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("delay_ms must be 0..60000"));
    return;
  }
  app_of(r)->reboot_at = mg_millis() + (uint64_t) delay + 1;
  app_log(app_of(r), "device: reboot in %ld ms", delay);
  mg_rpc_ok(r, mg_str("true"));
}

static void m_led_get(struct mg_rpc_req *r) {
  ok_fmt(r, "{\"on\":%s}", app_of(r)->led ? "true" : "false");
}

static void m_led_set(struct mg_rpc_req *r) {
  bool on;
  if (!mg_json_get_bool(r->params, "$.on", &on)) {
    mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("params.on must be true or false"));
    return;
  }
  app_led_set(app_of(r), on);
  m_led_get(r);
}

static void m_net_status(struct mg_rpc_req *r) {
  struct app *app = app_of(r);
  char ip[16], gw[16] = "0.0.0.0", mask[16] = "0.0.0.0", t[24];
  char mac[18] = "00:00:00:00:00:00";
  bool dhcp = false;
  int64_t now = 0;
  unsigned long tcp_used = 0, tcp_yielded = 0;
#if DEVICE_USE_STACK
  const uint8_t *m = app->ifp.mac;
  for (size_t i = 0; i < MG_TCPIP_MAX_TCP; i++) {
    if (app->ifp.tcp[i].state != MG_TCP_CLOSED) tcp_used++;
  }
  tcp_yielded = app->ifp.stats.tcp_yielded;
  mg_tcpip_ntoa(app->ifp.gw, gw, sizeof(gw));
  mg_tcpip_ntoa(app->ifp.mask, mask, sizeof(mask));
  mg_snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
              m[2], m[3], m[4], m[5]);
  dhcp = app->ifp.enable_dhcp;
#endif
#if DEVICE_SNTP
  now = sntp_now_ms(app);
#endif
  ok_fmt(r,
         "{\"state\":\"%s\",\"ip\":\"%s\",\"gw\":\"%s\",\"mask\":\"%s\","
         "\"mac\":\"%s\",\"dhcp\":%s,\"mqtt\":\"%s\",\"time_synced\":%s,"
         "\"time_ms\":%s,\"tcp_used\":%lu,\"tcp_max\":%d,"
         "\"tcp_yielded\":%lu}",
         app_net_state(app), app_ip(app, ip, sizeof(ip)), gw, mask, mac,
         dhcp ? "true" : "false",
#if DEVICE_MQTT
         mqtt_state_name(app),
#else
         "off",
#endif
         app->time_synced ? "true" : "false", app_u64((uint64_t) now, t),
         tcp_used, DEVICE_TCP_MAX, tcp_yielded);
}

static void m_config_get(struct mg_rpc_req *r) {
  struct app *app = app_of(r);
  char mq[DEVICE_URL_MAX * 2], sn[DEVICE_URL_MAX * 2];
  mg_json_escape(mg_str(app->mqtt_url), mq, sizeof(mq));
  mg_json_escape(mg_str(app->sntp_url), sn, sizeof(sn));
  ok_fmt(r, "{\"id\":\"%s\",\"mqtt_url\":\"%s\",\"sntp_url\":\"%s\"}", app->id,
         mq, sn);
}

static void m_config_set(struct mg_rpc_req *r) {
  char mq[DEVICE_URL_MAX], sn[DEVICE_URL_MAX];
  long lm = mg_json_get(r->params, "$.mqtt_url", NULL);
  long ls = mg_json_get(r->params, "$.sntp_url", NULL);
  bool has_m = lm >= 0, has_s = ls >= 0;
  if ((has_m && mg_json_get_str(r->params, "$.mqtt_url", mq, sizeof(mq)) < 0) ||
      (has_s && mg_json_get_str(r->params, "$.sntp_url", sn, sizeof(sn)) < 0)) {
    mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("urls must be strings, at most 79 bytes"));
    return;
  }
#if DEVICE_MQTT
  double ka;
  if (mg_json_get_num(r->params, "$.mqtt_keepalive", &ka)) {
    if (ka < 1 || ka > 65535) {
      mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("mqtt_keepalive: 1..65535 s"));
      return;
    }
    app_of(r)->mqtt_keepalive = (uint16_t) ka; /* from the next connection */
  }
  if (has_m) mqtt_configure(app_of(r), mq);
#endif
#if DEVICE_SNTP
  if (has_s) sntp_configure(app_of(r), sn);
#endif
  m_config_get(r);
}

#if DEVICE_OTA
static void ota_reply(struct mg_rpc_req *r, int err, const char *fmt, ...) {
  char buf[400];
  if (err != 0) {
    mg_rpc_err(r, err, mg_str(app_of(r)->ota.error));
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  mg_rpc_ok(r, mg_str(buf));
}

static void m_ota_begin(struct mg_rpc_req *r) {
  int64_t size;
  long len = 0, ofs = mg_json_get(r->params, "$.sha256", &len);
  /* sha256 (of the whole upload) is optional: the image carries its own. */
  if (!mg_json_get_i64(r->params, "$.size", &size) || size <= 0 ||
      (ofs >= 0 && (len != 66 || r->params.buf[ofs] != '"'))) {
    mg_rpc_err(r, RPC_ERR_PARAMS,
               mg_str("params: size (bytes > 0) and optional sha256 (64 hex digits)"));
    return;
  }
  struct mg_str hex = mg_str_n(ofs >= 0 ? r->params.buf + ofs + 1 : NULL, ofs >= 0 ? 64 : 0);
  size_t sz = size > (int64_t) DEVICE_OTA_BANK_MAX ? DEVICE_OTA_BANK_MAX + 1
                                                   : (size_t) size;
  int err = ota_begin(app_of(r), sz, hex, OTA_SRC_RPC);
  ota_reply(r, err, "{\"bank_size\":%lu,\"chunk_max\":%d}",
            (unsigned long) DEVICE_OTA_BANK_MAX, DEVICE_OTA_CHUNK_MAX);
}

static void m_ota_write(struct mg_rpc_req *r) {
  uint8_t data[DEVICE_OTA_CHUNK_MAX + 4];
  int64_t offset;
  long len = 0, ofs = mg_json_get(r->params, "$.data_b64", &len);
  if (!mg_json_get_i64(r->params, "$.offset", &offset) || offset < 0 ||
      ofs < 0 || len < 2 || r->params.buf[ofs] != '"') {
    mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("params: offset and data_b64"));
    return;
  }
  size_t n = (size_t) len - 2, dl = 0;
  if (n > MG_BASE64_ENCODED_LEN(DEVICE_OTA_CHUNK_MAX)) {
    mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("data_b64: more than chunk_max bytes"));
    return;
  }
  if (n > 0) {
    dl = mg_base64_decode(r->params.buf + ofs + 1, n, (char *) data, sizeof(data));
    if (dl == 0 || dl > DEVICE_OTA_CHUNK_MAX) {
      mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("data_b64: invalid base64"));
      return;
    }
  }
  int err = ota_write(app_of(r), (size_t) offset, data, dl);
  ota_reply(r, err, "{\"received\":%lu}", (unsigned long) app_of(r)->ota.received);
}

static void m_ota_end(struct mg_rpc_req *r) {
  int err = ota_end(app_of(r));
  char buf[400];
  if (err == 0) {
    ota_status_json(app_of(r), buf, sizeof(buf));
    mg_rpc_ok(r, mg_str(buf));
  } else {
    ota_reply(r, err, "");
  }
}

static void m_ota_status(struct mg_rpc_req *r) {
  char buf[400];
  ota_status_json(app_of(r), buf, sizeof(buf));
  mg_rpc_ok(r, mg_str(buf));
}
#endif

#if DEVICE_DEBUG_FAULT
/* Each kind fails inside a function of its own name (not inlined, not
 * cloned) so that a decoded crash can be checked for it. */
#if defined(__GNUC__) && !defined(__clang__)
#define FAULT_FN __attribute__((noinline, noclone))
#else
#define FAULT_FN __attribute__((noinline))
#endif

/* A call through a null function pointer. (A NULL data access does not
 * fault on these boards: their code memory starts at address 0.) */
FAULT_FN void debug_fault_nullptr(void) {
  void (*volatile fn)(void) = NULL;
  fn();
  __asm__ volatile("" ::: "memory"); /* no tail call: lr stays in here */
}

/* Integer division by zero (a trap on Cortex-M3 and up: CCR.DIV_0_TRP). */
FAULT_FN int debug_fault_divzero(int divisor) {
  volatile int d = divisor, n = 1000;
  return n / d;
}

#if MG_ARCH == MG_ARCH_BAREMETAL
extern uint32_t __stack_limit[] __attribute__((weak)); /* linker script */
#endif

/* Recursion past the bottom of the stack. Where no stack limit register
 * stops it, it goes 512 bytes past the end (into the heap's far end) and
 * waits there for the tick's guard check. */
FAULT_FN int debug_fault_stack(uint32_t depth) {
  volatile uint32_t pad[16];
  uintptr_t here = (uintptr_t) pad;
  for (size_t i = 0; i < 16; i++) pad[i] = depth + i;
#if MG_ARCH == MG_ARCH_BAREMETAL
  uintptr_t end = __stack_limit ? (uintptr_t) __stack_limit - 512 : 0;
  if (here <= end) {
    for (;;) pad[0]++; /* overflowed: the tick notices */
  }
#endif
  if (depth >= 1000000) return 0; /* ~80 MB: more than any stack here */
  return debug_fault_stack(depth + 1) + (int) pad[depth % 16] + (int) (here & 1);
}

FAULT_FN void debug_fault_assert(int value) {
  MG_ASSERT(value == 0);
}

static void m_debug_fault(struct mg_rpc_req *r) {
  char kind[16];
  if (mg_json_get_str(r->params, "$.kind", kind, sizeof(kind)) < 0) kind[0] = 0;
  app_log(app_of(r), "device: debug.fault %s", kind);
  if (strcmp(kind, "nullptr") == 0) {
    debug_fault_nullptr();
  } else if (strcmp(kind, "divzero") == 0) {
    debug_fault_divzero(0);
  } else if (strcmp(kind, "stack") == 0) {
    debug_fault_stack(0);
  } else if (strcmp(kind, "assert") == 0) {
    debug_fault_assert(1);
  } else {
    mg_rpc_err(r, RPC_ERR_PARAMS,
               mg_str("kind must be nullptr, divzero, stack or assert"));
    return;
  }
  mg_rpc_ok(r, mg_str("false")); /* the fault did not stop us (host assert) */
}

#if MG_ARCH == MG_ARCH_BAREMETAL
/* A lock-up: interrupts masked (no tick, no console), then a loop that never
 * ends, so the SDK has to find it through the debugger (pc in here). */
FAULT_FN void debug_hang_spin(void) {
#if defined(__arm__)
  __asm__ volatile("cpsid i" ::: "memory");
#elif defined(__riscv)
  __asm__ volatile("csrci mstatus, 8" ::: "memory");
#endif
  for (volatile uint32_t n = 0;; n++) (void) n;
}
#endif

static void m_debug_hang(struct mg_rpc_req *r) {
  app_log(app_of(r), "device: debug.hang");
#if MG_ARCH == MG_ARCH_BAREMETAL
  debug_hang_spin();
#else
  /* A host process that never answers helps nobody: refuse. */
  mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("debug.hang is for boards only"));
#endif
}
#endif

/* net.fetch: one HTTP GET at a time from the device to another host (e.g.
 * another board on the segment). The call answers at once; the result comes
 * as a "net.fetched" notification: status, body length and SHA-256. */
#define FETCH_TIMEOUT_MS 10000
static struct {
  struct mg_connection *c;
  uint64_t deadline;
  char url[DEVICE_URL_MAX];
} s_fetch;

static void fetch_done(const char *fmt, ...) {
  char buf[300];
  size_t n = mg_snprintf(buf, sizeof(buf),
                         RS "{\"jsonrpc\":\"2.0\",\"method\":\"net.fetched\","
                            "\"params\":{\"url\":\"%s\",", s_fetch.url);
  va_list ap;
  va_start(ap, fmt);
  if (n < sizeof(buf)) n += mg_vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
  va_end(ap);
  if (n < sizeof(buf)) n += mg_snprintf(buf + n, sizeof(buf) - n, "}}\n");
  if (n >= sizeof(buf)) n = sizeof(buf) - 1;
  app_console(buf, n);
  s_fetch.c = NULL;
}

static void fetch_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (c != s_fetch.c) return;
  if (ev == MG_EV_CONNECT) {
    struct mg_str host = mg_url_host(s_fetch.url);
    mg_printf(c, "GET %s HTTP/1.1\r\nHost: %.*s\r\nConnection: close\r\n\r\n",
              mg_url_uri(s_fetch.url), (int) host.len, host.buf);
  } else if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    unsigned char d[32];
    char hex[65];
    size_t i;
    mg_sha256(d, hm->body.buf, hm->body.len);
    for (i = 0; i < 32; i++) mg_snprintf(hex + 2 * i, 3, "%02x", d[i]);
    fetch_done("\"status\":%d,\"length\":%lu,\"sha256\":\"%s\"", mg_http_status(hm),
               (unsigned long) hm->body.len, hex);
    c->is_draining = 1;
  } else if (ev == MG_EV_POLL && mg_millis() > s_fetch.deadline) {
    fetch_done("\"error\":\"timeout\"");
    c->is_closing = 1;
  } else if (ev == MG_EV_ERROR) {
    fetch_done("\"error\":\"%s\"", (const char *) ev_data);
  } else if (ev == MG_EV_CLOSE) {
    fetch_done("\"error\":\"closed without a response\"");
  }
}

static void m_net_fetch(struct mg_rpc_req *r) {
  struct app *app = app_of(r);
  if (s_fetch.c != NULL) {
    mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("a fetch is running"));
    return;
  }
  if (mg_json_get_str(r->params, "$.url", s_fetch.url, sizeof(s_fetch.url)) < 0 ||
      strncmp(s_fetch.url, "http://", 7) != 0) {
    mg_rpc_err(r, RPC_ERR_PARAMS, mg_str("params.url: an http:// URL, at most 79 bytes"));
    return;
  }
  s_fetch.deadline = mg_millis() + FETCH_TIMEOUT_MS;
  s_fetch.c = mg_http_connect(&app->mgr, s_fetch.url, fetch_fn, NULL);
  if (s_fetch.c == NULL) {
    mg_rpc_err(r, -32603, mg_str("cannot connect"));
    return;
  }
  mg_rpc_ok(r, mg_str("{\"started\":true}"));
}

void rpc_init(struct app *app) {
  static struct mg_rpc nodes[14];
  static const struct {
    const char *name;
    mg_rpc_fn_t fn;
  } methods[] = {
      {"info", m_info},         {"reboot", m_reboot},
      {"led.get", m_led_get},   {"led.set", m_led_set},
      {"net.status", m_net_status}, {"config.get", m_config_get},
      {"config.set", m_config_set}, {"net.fetch", m_net_fetch},
#if DEVICE_OTA
      {"ota.begin", m_ota_begin}, {"ota.write", m_ota_write},
      {"ota.end", m_ota_end},   {"ota.status", m_ota_status},
#endif
#if DEVICE_DEBUG_FAULT
      {"debug.fault", m_debug_fault}, {"debug.hang", m_debug_hang},
#endif
  };
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    mg_rpc_add(&app->rpc, &nodes[i], mg_str(methods[i].name), methods[i].fn, app);
  }
}

static void add(struct mg_iobuf *io, const char *s, size_t n) {
  mg_iobuf_add(io, io->len, s, n);
}

static void error_null_id(struct mg_iobuf *out, int code, const char *msg) {
  char buf[128];
  size_t n = mg_snprintf(buf, sizeof(buf),
                         "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
                         "{\"code\":%d,\"message\":\"%s\"}}",
                         code, msg);
  add(out, buf, n);
}

void rpc_call(struct app *app, struct mg_str frame, struct mg_iobuf *out) {
  long mlen = 0, mofs;
  if (mg_json_get(frame, "$", NULL) < 0) {
    error_null_id(out, RPC_ERR_PARSE, "parse error: not valid JSON");
    return;
  }
  mofs = mg_json_get(frame, "$.method", &mlen);
  if (mofs < 0 || frame.buf[mofs] != '"') {
    long ilen = 0, iofs = mg_json_get(frame, "$.id", &ilen);
    char buf[160];
    size_t n;
    if (iofs < 0 || ilen > 64) {
      error_null_id(out, RPC_ERR_REQUEST, "invalid request: no string method");
      return;
    }
    n = mg_snprintf(buf, sizeof(buf),
                    "{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"error\":{\"code\":%d,"
                    "\"message\":\"invalid request: no string method\"}}",
                    (int) ilen, frame.buf + iofs, RPC_ERR_REQUEST);
    add(out, buf, n);
    return;
  }
  struct mg_iobuf raw = {NULL, 0, 0, 64};
  struct mg_rpc_req req;
  memset(&req, 0, sizeof(req));
  req.head = app->rpc;
  req.frame = frame;
  req.out = mg_rpc_out_iobuf;
  req.out_arg = &raw;
  mg_rpc_process(&req);
  /* The dispatcher writes {"id":..,...}: add the version member. A request
   * without an id is a notification and gets nothing back. */
  if (req.id.len > 0 && raw.len > 1) {
    add(out, "{\"jsonrpc\":\"2.0\",", 17);
    add(out, (const char *) raw.buf + 1, raw.len - 1);
  }
  mg_iobuf_free(&raw);
}

static void write_frame(struct mg_iobuf *out) {
  if (out->len == 0) return;
  add(out, "\n", 1);
  app_console((const char *) out->buf, out->len);
}

void rpc_console_frame(struct app *app, struct mg_str json, bool too_long) {
  struct mg_iobuf out = {NULL, 0, 0, 64};
  add(&out, RS, 1);
  if (too_long) {
    error_null_id(&out, RPC_ERR_REQUEST, "invalid request: frame too long");
  } else {
    rpc_call(app, json, &out);
  }
  if (out.len > 1) write_frame(&out);
  mg_iobuf_free(&out);
}

void rpc_console_overrun(struct app *app, uint32_t lost) {
  char buf[160];
  size_t n =
      mg_snprintf(buf, sizeof(buf),
                  RS
                  "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,"
                  "\"message\":\"console input overrun: %lu bytes lost\"}}\n",
                  RPC_ERR_OVERRUN, (unsigned long) lost);
  (void) app;
  app_console(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

void rpc_notify_ready(struct app *app) {
  char buf[160];
  size_t n = mg_snprintf(buf, sizeof(buf),
                         RS "{\"jsonrpc\":\"2.0\",\"method\":\"ready\",\"params\":"
                            "{\"app\":\"device_app\",\"version\":\"%s\",\"id\":\"%s\"}}\n",
                         MG_FW_VERSION, app->id);
  app_console(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}
#endif
