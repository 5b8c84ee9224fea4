/* OTA: an image goes into the second bank, chunk by chunk and in order; at
 * the end the bank is hashed and compared with the SHA-256 announced at the
 * start. Only a verified image becomes the bank to boot next; anything else
 * discards the bank and the running firmware carries on.
 *
 * The bank functions are what a flash bank would implement (erase, program,
 * read back). On QEMU and on the host the bank is RAM from the heap, which
 * keeps the boards' RAM figures honest: it exists only during an update. */
#include "app.h"

#if DEVICE_OTA
#include <stdlib.h>
#include <string.h>

/* ---- the bank ---- */
static bool bank_erase(struct ota *o, size_t size) {
  free(o->bank);
  o->bank = (uint8_t *) malloc(size);
  return o->bank != NULL;
}

static void bank_program(struct ota *o, size_t ofs, const void *p, size_t n) {
  memcpy(o->bank + ofs, p, n);
}

static void bank_release(struct ota *o) {
  free(o->bank);
  o->bank = NULL;
}

/* ---- the state machine ---- */
static int fail(struct app *app, int code, const char *fmt, ...) {
  struct ota *o = &app->ota;
  va_list ap;
  va_start(ap, fmt);
  mg_vsnprintf(o->error, sizeof(o->error), fmt, ap);
  va_end(ap);
  if (o->state == OTA_RECEIVING || code == OTA_ERR_DIGEST) {
    o->state = OTA_FAILED;
    bank_release(o);
  }
  app_log(app, "ota: error: %s", o->error);
  return code;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void hex(const uint8_t *p, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[p[i] >> 4];
    out[2 * i + 1] = d[p[i] & 15];
  }
  out[2 * n] = '\0';
}

int ota_begin(struct app *app, size_t size, struct mg_str sha_hex, int source) {
  struct ota *o = &app->ota;
  uint8_t digest[32];
  if (sha_hex.len != 64) return fail(app, RPC_ERR_PARAMS, "sha256 must be 64 hex digits");
  for (size_t i = 0; i < 32; i++) {
    int hi = hexval(sha_hex.buf[2 * i]), lo = hexval(sha_hex.buf[2 * i + 1]);
    if (hi < 0 || lo < 0) return fail(app, RPC_ERR_PARAMS, "sha256 must be 64 hex digits");
    digest[i] = (uint8_t) (hi << 4 | lo);
  }
  if (o->state == OTA_RECEIVING) ota_abort(app, "restarted");
  if (size == 0) return fail(app, RPC_ERR_PARAMS, "size must be > 0");
  if (size > DEVICE_OTA_BANK_MAX) {
    return fail(app, OTA_ERR_TOO_BIG, "image larger than the bank (%lu bytes)",
                (unsigned long) DEVICE_OTA_BANK_MAX);
  }
  o->error[0] = '\0';
  o->source = source;
  o->http_conn = 0;
  o->size = size;
  o->received = 0;
  memcpy(o->sha256, digest, sizeof(digest));
  if (!bank_erase(o, size)) {
    o->state = OTA_FAILED;
    return fail(app, OTA_ERR_NOMEM, "no memory for a %lu byte bank", (unsigned long) size);
  }
  o->state = OTA_RECEIVING;
  app_log(app, "ota: begin size=%lu via %s", (unsigned long) size,
          source == OTA_SRC_HTTP ? "http" : "rpc");
  return 0;
}

int ota_write(struct app *app, size_t offset, const void *buf, size_t len) {
  struct ota *o = &app->ota;
  if (o->state != OTA_RECEIVING) {
    return fail(app, OTA_ERR_NO_SESSION, "no update in progress");
  }
  if (offset != o->received) {
    /* Not a session failure: the client may resend from the right place. */
    mg_snprintf(o->error, sizeof(o->error), "expected offset %lu",
                (unsigned long) o->received);
    return OTA_ERR_ORDER;
  }
  if (len > o->size - o->received) {
    return fail(app, OTA_ERR_TOO_BIG, "data beyond the announced size");
  }
  bank_program(o, offset, buf, len);
  o->received += len;
  return 0;
}

int ota_end(struct app *app) {
  struct ota *o = &app->ota;
  uint8_t digest[32];
  char got[65];
  if (o->state != OTA_RECEIVING) {
    return fail(app, OTA_ERR_NO_SESSION, "no update in progress");
  }
  if (o->received != o->size) {
    return fail(app, OTA_ERR_INCOMPLETE, "image incomplete: %lu of %lu bytes",
                (unsigned long) o->received, (unsigned long) o->size);
  }
  mg_sha256(digest, o->bank, o->size); /* what the bank holds, read back */
  if (memcmp(digest, o->sha256, sizeof(digest)) != 0) {
    hex(digest, 8, got);
    return fail(app, OTA_ERR_DIGEST, "sha256 mismatch (image has %s...)", got);
  }
  o->state = OTA_VERIFIED;
  o->next_bank = 1;
  hex(digest, 32, got);
  app_log(app, "ota: verified %lu bytes sha256=%s; bank 1 boots next",
          (unsigned long) o->size, got);
  return 0;
}

void ota_abort(struct app *app, const char *why) {
  if (app->ota.state == OTA_RECEIVING) fail(app, OTA_ERR_INCOMPLETE, "aborted: %s", why);
}

size_t ota_status_json(struct app *app, char *buf, size_t len) {
  static const char *names[] = {"idle", "receiving", "verified", "failed"};
  static const char *sources[] = {"", "rpc", "http"};
  struct ota *o = &app->ota;
  char sha[65] = "", err[2 * sizeof(o->error)];
  if (o->state == OTA_VERIFIED) hex(o->sha256, 32, sha);
  mg_json_escape(mg_str(o->error), err, sizeof(err));
  return mg_snprintf(buf, len,
                     "{\"state\":\"%s\",\"size\":%lu,\"received\":%lu,"
                     "\"sha256\":\"%s\",\"error\":\"%s\",\"bank\":%d,\"source\":\"%s\"}",
                     names[o->state], (unsigned long) o->size,
                     (unsigned long) o->received, sha, err, o->next_bank,
                     sources[o->source]);
}

/* ---- HTTP upload: POST /api/ota, body streamed into the bank ---- */
#define UPLOAD_IDLE_MS 10000
static void http_done(struct mg_connection *c, int status, const char *body) {
  mg_printf(c,
            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %lu\r\nConnection: close\r\n\r\n%s\n",
            status, mg_http_reason(status), (unsigned long) strlen(body) + 1, body);
  c->is_draining = 1;
  c->recv.len = 0;
}

static void http_error(struct mg_connection *c, int status, const char *msg) {
  char buf[160], esc[128];
  mg_json_escape(mg_str(msg), esc, sizeof(esc));
  mg_snprintf(buf, sizeof(buf), "{\"error\":\"%s\"}", esc);
  http_done(c, status, buf);
}

static void http_consume(struct mg_connection *c) {
  struct app *app = (struct app *) c->fn_data;
  struct ota *o = &app->ota;
  if (c->is_draining || o->http_conn != c->id) {
    c->recv.len = 0;
    return;
  }
  size_t want = o->size - o->received;
  size_t n = c->recv.len < want ? c->recv.len : want;
  if (n > 0 && ota_write(app, o->received, c->recv.buf, n) != 0) {
    http_error(c, 400, o->error);
    return;
  }
  mg_iobuf_del(&c->recv, 0, n);
  if (o->received < o->size) return;
  o->http_conn = 0;
  if (ota_end(app) == 0) {
    char buf[400];
    ota_status_json(app, buf, sizeof(buf));
    http_done(c, 200, buf);
  } else {
    http_error(c, 400, o->error);
  }
}

static void http_upload_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct app *app = (struct app *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_READ) {
    app->ota.http_deadline = mg_millis() + UPLOAD_IDLE_MS;
    http_consume(c);
  } else if (ev == MG_EV_POLL && app->ota.http_conn == c->id &&
             mg_millis() > app->ota.http_deadline) {
    app->ota.http_conn = 0;
    ota_abort(app, "upload stalled");
    http_error(c, 408, app->ota.error);
  } else if (ev == MG_EV_CLOSE && app->ota.http_conn == c->id) {
    app->ota.http_conn = 0;
    ota_abort(app, "upload connection closed");
  }
}

void ota_http_start(struct mg_connection *c, struct mg_http_message *hm) {
  struct app *app = (struct app *) c->fn_data;
  struct mg_str *cl = mg_http_get_header(hm, "Content-Length");
  struct mg_str *sha = mg_http_get_header(hm, "X-SHA256");
  struct mg_str *expect = mg_http_get_header(hm, "Expect");
  uint64_t size = 0;
  size_t head = hm->head.len;
  int err;
  /* From here on the body is ours, not the HTTP parser's. */
  c->pfn = NULL;
  c->fn = http_upload_fn;
  if (cl == NULL || !mg_str_to_u64(mg_str_trim(*cl), &size)) {
    http_error(c, 411, "Content-Length required");
    return;
  }
  if (sha == NULL) {
    http_error(c, 400, "X-SHA256 header required");
    return;
  }
  err = ota_begin(app, size > DEVICE_OTA_BANK_MAX ? DEVICE_OTA_BANK_MAX + 1 : (size_t) size,
                  mg_str_trim(*sha), OTA_SRC_HTTP);
  if (err != 0) {
    http_error(c, err == OTA_ERR_TOO_BIG ? 413 : err == OTA_ERR_NOMEM ? 507 : 400,
               app->ota.error);
    return;
  }
  app->ota.http_conn = c->id;
  app->ota.http_deadline = mg_millis() + UPLOAD_IDLE_MS;
  if (expect != NULL && mg_str_ieq(*expect, "100-continue")) {
    mg_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
  }
  mg_iobuf_del(&c->recv, 0, head);
  http_consume(c);
}
#endif
