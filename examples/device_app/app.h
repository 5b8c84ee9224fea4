/* device_app: the cymongoose reference firmware. One app for every board and
 * for the host (a Linux process on kernel sockets):
 *   http_api.c  status page, /api/info, /api/led, /api/ota
 *   ws.c        WebSocket echo (/ws) and live log stream (/ws/log)
 *   mqtt.c      client of a configured broker: status out, commands in
 *   sntp.c      SNTP time sync
 *   rpc.c       JSON-RPC 2.0 on the console (framing: docs/device-rpc.md)
 *   ota.c       firmware image update into the second bank: header, board,
 *               size and SHA-256 checked (docs/image-format.md)
 *   platform.c  reboot and free RAM per platform
 * Each feature is a DEVICE_<X> switch (1 by default); the HTTP-only build
 * turns all but HTTP off. */
#ifndef DEVICE_APP_H
#define DEVICE_APP_H

#include "board.h"
#include "mg.h"
#include "mg_image.h"

#ifndef DEVICE_WS
#define DEVICE_WS 1
#endif
#ifndef DEVICE_MQTT
#define DEVICE_MQTT 1
#endif
#ifndef DEVICE_SNTP
#define DEVICE_SNTP 1
#endif
#ifndef DEVICE_RPC
#define DEVICE_RPC 1
#endif
#ifndef DEVICE_OTA
#define DEVICE_OTA 1
#endif
/* DEVICE_OTA_PUBKEY: the 32 bytes of the Ed25519 public key updates must be
 * signed with, as an initialiser list (CMake -DMG_OTA_PUBKEY=key.pub sets it,
 * examples/device_app/ota_pubkey.cmake). Without it the build is a development
 * build: OTA takes unsigned, hash-checked images. */
#if DEVICE_OTA && defined(DEVICE_OTA_PUBKEY)
#define DEVICE_OTA_SIGNED 1
#else
#define DEVICE_OTA_SIGNED 0
#endif
/* Two-slot updates (docs/updates.md): the image runs from a slot of the
 * board's flash (board.toml [slots]) under the bootloader; an update goes
 * into the other slot, boots once on test and confirms itself after its
 * health check. The slot builds (device_app_slot_a/_b) set it; device_app
 * itself (loaded with -kernel) keeps the RAM bank. */
#ifndef DEVICE_SLOTS
#define DEVICE_SLOTS 0
#endif
/* A test build whose health check never passes: it never confirms itself,
 * so it resets itself at DEVICE_CONFIRM_TIMEOUT_MS and the bootloader rolls
 * it back. */
#ifndef DEVICE_HEALTH_FAIL
#define DEVICE_HEALTH_FAIL 0
#endif
/* An image on test that has not passed its health check this long after it
 * started resets itself, so that the bootloader rolls it back. Generous: the
 * check needs the network (DHCP) and must not fail a slow but healthy boot. */
#ifndef DEVICE_CONFIRM_TIMEOUT_MS
#define DEVICE_CONFIRM_TIMEOUT_MS 60000
#endif
/* A test build that hangs once it listens (a spin loop, nothing polled, the
 * watchdog not fed): the watchdog resets it and the bootloader rolls it back. */
#ifndef DEVICE_HANG
#define DEVICE_HANG 0
#endif
#if DEVICE_SLOTS
#include "slots.h"
#endif
/* The debug.fault RPC method (crashes the device on purpose; needs RPC). */
#ifndef DEVICE_DEBUG_FAULT
#define DEVICE_DEBUG_FAULT DEVICE_RPC
#endif

/* The built-in TCP/IP stack on the board's Ethernet (firmware), or the
 * kernel's sockets (host build). */
#ifndef DEVICE_USE_STACK
#define DEVICE_USE_STACK (MG_ARCH == MG_ARCH_BAREMETAL)
#endif
#if DEVICE_USE_STACK
#include "mg_stack.h"
#endif

/* DHCP unless DEVICE_STATIC_IP is given (a string, like the two below). */
#ifdef DEVICE_STATIC_IP
#ifndef DEVICE_STATIC_MASK
#define DEVICE_STATIC_MASK "255.255.255.0"
#endif
#ifndef DEVICE_STATIC_GW
#define DEVICE_STATIC_GW "0.0.0.0"
#endif
#endif

#ifndef DEVICE_HTTP_URL
#define DEVICE_HTTP_URL "http://0.0.0.0:80"
#endif
#ifndef DEVICE_MQTT_URL /* empty: no broker until one is configured */
#define DEVICE_MQTT_URL ""
#endif
#ifndef DEVICE_SNTP_URL /* empty: no time sync until a server is configured */
#define DEVICE_SNTP_URL ""
#endif
#ifndef DEVICE_MQTT_KEEPALIVE_S /* MQTT keep-alive; config.set mqtt_keepalive */
#define DEVICE_MQTT_KEEPALIVE_S 30
#endif
#ifndef DEVICE_MQTT_STATUS_MS
#define DEVICE_MQTT_STATUS_MS 5000
#endif
#ifndef DEVICE_OTA_BANK_MAX /* bytes of the second bank */
#define DEVICE_OTA_BANK_MAX (256UL * 1024UL)
#endif
#define DEVICE_OTA_CHUNK_MAX 1024
#define DEVICE_RPC_FRAME_MAX 2048
#define DEVICE_LOG_SUBS 4
#define DEVICE_URL_MAX 80
#if DEVICE_USE_STACK
#define DEVICE_TCP_MAX MG_TCPIP_MAX_TCP
#else
#define DEVICE_TCP_MAX 0 /* the kernel's sockets: no fixed table */
#endif

/* JSON-RPC error codes (docs/device-rpc.md). */
#define RPC_ERR_PARSE (-32700)
#define RPC_ERR_REQUEST (-32600)
#define RPC_ERR_PARAMS (-32602)
/* Console input was lost: some requests may be missing. */
#define RPC_ERR_OVERRUN (-32010)
#define OTA_ERR_NO_SESSION (-32000)
#define OTA_ERR_TOO_BIG (-32001)
#define OTA_ERR_ORDER (-32002)
#define OTA_ERR_DIGEST (-32003)
#define OTA_ERR_INCOMPLETE (-32004)
#define OTA_ERR_NOMEM (-32005)
#define OTA_ERR_IMAGE (-32006)     /* not an image, malformed, truncated */
#define OTA_ERR_BOARD (-32007)     /* an image for another board */
#define OTA_ERR_SIGNATURE (-32008) /* refused by the signature check */
#define OTA_ERR_SLOT (-32009)      /* not linked for the slot it would go in */
#define OTA_ERR_DOWNGRADE (-32011) /* older than the running image */
#define OTA_ERR_FLASH (-32012)     /* the flash reported an error writing the slot */

enum { OTA_IDLE, OTA_RECEIVING, OTA_VERIFIED, OTA_FAILED };
enum { OTA_SRC_NONE, OTA_SRC_RPC, OTA_SRC_HTTP };
enum { MQTT_OFF, MQTT_CONNECTING, MQTT_CONNECTED };

struct ota {
  int state;                /* OTA_* */
  int source;               /* OTA_SRC_* of the current/last session */
  uint8_t *bank;            /* second bank (RAM on QEMU and host) */
  size_t size, received;
  uint8_t sha256[32];       /* announced digest of the upload, then the real one */
  bool has_sha256;          /* a digest was announced (optional) */
  struct mg_image_header image; /* header of the verified image */
  int next_bank;            /* bank to boot next: 0 running, 1 verified */
  unsigned long http_conn;  /* connection streaming an HTTP upload */
  uint64_t http_deadline;   /* the upload fails if no byte comes by then */
  size_t http_left;         /* body bytes still to read */
  int http_status;          /* refused: the answer once the body is read */
  bool http_reboot;         /* ?reboot=1: reboot after a verified upload */
  char error[80];
};

struct app {
  struct mg_mgr mgr;
#if DEVICE_USE_STACK
  struct mg_tcpip_if ifp;
#endif
  bool led;
  uint64_t boot_ms;                  /* mg_millis() at start */
  char id[24];                       /* device id: MQTT topics, client id */
  char mqtt_url[DEVICE_URL_MAX];
  char sntp_url[DEVICE_URL_MAX];
  struct mg_connection *mqtt;
  int mqtt_state;                    /* MQTT_* */
  uint16_t mqtt_keepalive;           /* s, 0 = DEVICE_MQTT_KEEPALIVE_S */
  uint64_t mqtt_retry_at, mqtt_status_at;
  struct mg_connection *sntp;
  uint64_t sntp_at, sntp_deadline;
  uint8_t sntp_nonce[8];
  int64_t time_offset_ms;            /* epoch ms - mg_millis(), once synced */
  bool time_synced;
  uint64_t reboot_at;                /* 0: no reboot scheduled */
  unsigned long log_subs[DEVICE_LOG_SUBS]; /* /ws/log connection ids */
  bool in_log;
  struct ota ota;
  struct mg_rpc *rpc;                /* registered methods */
  char line[DEVICE_RPC_FRAME_MAX + 2]; /* console input line */
  size_t line_len;
  bool line_too_long;
  uint32_t con_dropped; /* board_console_dropped() already reported */
  struct mg_connection *http;        /* the HTTP listener */
#if DEVICE_SLOTS
  struct {
    int slot;                        /* running slot, -1: not from a slot */
    struct mg_image_header image;    /* header of the running image */
    bool confirmed;                  /* the state says confirmed */
    bool health_failed_logged;
    bool confirm_failed_logged; /* the flash refused the confirm (logged once) */
    uint64_t check_at;               /* next health check */
  } boot;
#endif
};

/* boot.c (DEVICE_SLOTS): the running slot and its confirmation */
void boot_init(struct app *app);
void boot_poll(struct app *app);
/* The slot fields of /api/info and the info RPC (leading comma; "" when
 * the image does not run from a slot). */
const char *boot_info_json(struct app *app, char *buf, size_t len);

/* main.c */
void app_log(struct app *app, const char *fmt, ...);
void app_led_set(struct app *app, bool on);
const char *app_ip(struct app *app, char *buf, size_t len);
const char *app_net_state(struct app *app);
/* The features compiled in, as a JSON array. */
const char *app_features_json(void);
/* Decimal text of v (newlib-nano's printf has no long long). */
const char *app_u64(uint64_t v, char buf[24]);
/* Milliseconds since the app started. */
uint64_t app_uptime(struct app *app);
/* Writes raw bytes to the console (one write: never split by log lines). */
void app_console(const char *buf, size_t len);

/* platform.c */
void platform_reboot(void);
long platform_free_ram(void);

/* http_api.c */
bool http_api_init(struct app *app, const char *url);

/* ws.c */
bool ws_handle(struct mg_connection *c, struct mg_http_message *hm);
void ws_event(struct mg_connection *c, int ev, void *ev_data);
void ws_log_broadcast(struct app *app, const char *line, size_t len);

/* mqtt.c */
void mqtt_poll(struct app *app);
void mqtt_publish_status(struct app *app);
void mqtt_configure(struct app *app, const char *url);
const char *mqtt_state_name(struct app *app);

/* sntp.c */
void sntp_poll(struct app *app);
void sntp_configure(struct app *app, const char *url);
int64_t sntp_now_ms(struct app *app); /* epoch ms, 0 before the first sync */
/* Sans-IO: builds a 48-byte client request carrying nonce as its transmit
 * time, and parses a reply to it (epoch ms; false if it is not valid). */
void sntp_request(uint8_t out[48], const uint8_t nonce[8]);
bool sntp_parse(const uint8_t *buf, size_t len, const uint8_t nonce[8],
                int64_t *epoch_ms);

/* rpc.c */
void rpc_init(struct app *app);
/* Runs one console frame (the JSON after the RS byte) and writes the framed
 * response to the console; too_long: the frame was cut (answers -32600). */
void rpc_console_frame(struct app *app, struct mg_str json, bool too_long);
void rpc_console_overrun(struct app *app, uint32_t lost);
/* Runs one request and writes the JSON response (without framing) to out;
 * out->len stays 0 for a notification. */
void rpc_call(struct app *app, struct mg_str frame, struct mg_iobuf *out);
void rpc_notify_ready(struct app *app);

/* rpc.c: debug.fault, each kind crashes in its own function (never return
 * on a board; on the host the process dies, except for the assert). */
void debug_fault_nullptr(void);
int debug_fault_divzero(int divisor);
int debug_fault_stack(uint32_t depth);
void debug_fault_assert(int value);

/* ota.c */
int ota_begin(struct app *app, size_t size, struct mg_str sha_hex, int source);
int ota_write(struct app *app, size_t offset, const void *buf, size_t len);
int ota_end(struct app *app);
void ota_abort(struct app *app, const char *why);
size_t ota_status_json(struct app *app, char *buf, size_t len);
/* POST /api/ota at MG_EV_HTTP_HDRS: streams the body into the bank. */
void ota_http_start(struct mg_connection *c, struct mg_http_message *hm);

#endif /* DEVICE_APP_H */
