/* OTA: a firmware image (docs/image-format.md) goes into the second bank,
 * chunk by chunk and in order. Its header is checked as soon as it is in
 * (magic, format, this board's id, size), so a raw ELF or another board's
 * image is refused before the rest is sent; at the end the whole image is
 * checked (size, SHA-256 of header + payload, then the Ed25519 signature
 * when the firmware holds a key, DEVICE_OTA_PUBKEY), and
 * so is the SHA-256 of the upload when the client announced one. Only a
 * verified image becomes the bank to boot next; anything else discards the
 * bank and the running firmware carries on.
 *
 * The bank functions are what a flash bank would implement (erase, program,
 * read back). On QEMU and on the host the bank is RAM from the heap, which
 * keeps the boards' RAM figures honest: it exists only during an update. */
#include "app.h"

#if DEVICE_OTA
#include <stdlib.h>
#include <string.h>

/* ---- the bank ---- */
#if DEVICE_SLOTS
/* The bank is the slot the running image is not in. Before it is erased, the
 * boot state stops counting on it as a fallback, so a reset in the middle of
 * the write never boots half an image (the bootloader also checks the hash). */
static int bank_slot(void) {
  int running = slot_running();
  return running < 0 ? -1 : 1 - running;
}

static size_t bank_max(void) {
  return bank_slot() < 0 ? 0 : slot_size(bank_slot());
}

/* 0, or the error: the state not written or the slot not erased (the flash
 * reported a failure; the running slot is untouched either way). */
static int bank_erase(struct ota *o, size_t size) {
  struct mg_bootstate st;
  int slot = bank_slot(), copy;
  if (slot < 0) return OTA_ERR_SLOT;
  copy = slots_state_read(&st);
  if (mg_bootstate_set_empty(&st, slot) && slots_state_write(copy, &st) == copy) {
    return OTA_ERR_FLASH; /* the slot still counts as a fallback: not erased */
  }
  if (!board_flash_erase(slot_start(slot), size)) return OTA_ERR_FLASH;
  o->bank = (uint8_t *) (uintptr_t) slot_start(slot);
  return 0;
}

static bool bank_program(struct ota *o, size_t ofs, const void *p, size_t n) {
  return board_flash_program((uint32_t) (uintptr_t) (o->bank + ofs), p, n);
}

static void bank_release(struct ota *o) {
  o->bank = NULL; /* the slot keeps its bytes; the state says it is empty */
}
#else
static size_t bank_max(void) {
  return DEVICE_OTA_BANK_MAX;
}

static int bank_erase(struct ota *o, size_t size) {
  free(o->bank);
  o->bank = (uint8_t *) malloc(size);
  return o->bank != NULL ? 0 : OTA_ERR_NOMEM;
}

static bool bank_program(struct ota *o, size_t ofs, const void *p, size_t n) {
  memcpy(o->bank + ofs, p, n);
  return true;
}

static void bank_release(struct ota *o) {
  free(o->bank);
  o->bank = NULL;
}
#endif

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
  int err;
  if (sha_hex.len != 64 && sha_hex.len != 0) {
    return fail(app, RPC_ERR_PARAMS, "sha256 must be 64 hex digits");
  }
  for (size_t i = 0; i < sha_hex.len / 2; i++) {
    int hi = hexval(sha_hex.buf[2 * i]), lo = hexval(sha_hex.buf[2 * i + 1]);
    if (hi < 0 || lo < 0) return fail(app, RPC_ERR_PARAMS, "sha256 must be 64 hex digits");
    digest[i] = (uint8_t) (hi << 4 | lo);
  }
  if (o->state == OTA_RECEIVING) ota_abort(app, "restarted");
  if (size == 0) return fail(app, RPC_ERR_PARAMS, "size must be > 0");
#if DEVICE_SLOTS
  if (bank_slot() < 0) {
    return fail(app, OTA_ERR_SLOT, "not running from an update slot: no slot to write");
  }
#endif
  if (size > bank_max()) {
    return fail(app, OTA_ERR_TOO_BIG, "image larger than the bank (%lu bytes)",
                (unsigned long) bank_max());
  }
  o->error[0] = '\0';
  o->source = source;
  o->http_conn = 0;
  o->size = size;
  o->received = 0;
  o->has_sha256 = sha_hex.len != 0;
  memcpy(o->sha256, digest, sizeof(digest));
  o->next_bank = 0; /* erasing the bank discards an image verified before */
  err = bank_erase(o, size);
  if (err != 0) {
    o->state = OTA_FAILED;
    if (err == OTA_ERR_FLASH) return fail(app, err, "flash error: the inactive slot not erased");
    return fail(app, err, "no memory for a %lu byte bank", (unsigned long) size);
  }
  o->state = OTA_RECEIVING;
  app_log(app, "ota: begin size=%lu via %s", (unsigned long) size,
          source == OTA_SRC_HTTP ? "http" : "rpc");
  return 0;
}

/* An mg_image error as an OTA error, with the reason in o->error. */
static int image_fail(struct app *app, int err) {
  if (err == MG_IMAGE_ERR_MAGIC && app->ota.received >= 4 &&
      memcmp(app->ota.bank, "\x7f" "ELF", 4) == 0) {
    return fail(app, OTA_ERR_IMAGE,
                "raw ELF file, not an image: pack it (cymongoose image pack)");
  }
  return fail(app, err == MG_IMAGE_ERR_BOARD ? OTA_ERR_BOARD
                   : err == MG_IMAGE_ERR_HASH ? OTA_ERR_DIGEST : OTA_ERR_IMAGE,
              "%s", mg_image_strerror(err));
}

/* The header, as soon as it is in: a foreign, oversized or cut image is
 * refused before the rest of it is sent. */
static int check_header(struct app *app) {
  struct ota *o = &app->ota;
  struct mg_image_header h;
  size_t total;
  int err = mg_image_parse(o->bank, o->received, &h);
  if (err != MG_IMAGE_OK) return image_fail(app, err);
  if (h.board_id != mg_image_board_id(board_name())) {
    return image_fail(app, MG_IMAGE_ERR_BOARD);
  }
  total = mg_image_total(&h);
  if (total == 0 || total > bank_max()) {
    return fail(app, OTA_ERR_TOO_BIG, "image larger than the bank (%lu bytes)",
                (unsigned long) bank_max());
  }
#if DEVICE_SLOTS
  {
    /* Direct XIP: the image runs where it was linked, so it must be linked
     * for the slot it goes into, with its header filling the slot's head. */
    int target = slot_of_load_addr(h.load_addr);
    if (target == slot_running()) {
      return fail(app, OTA_ERR_SLOT,
                  "image is linked for the running slot %c: send the slot %c build",
                  'A' + target, 'A' + bank_slot());
    }
    if (target != bank_slot() || h.header_size != MG_BOARD_SLOT_HEADER_ROOM) {
      return fail(app, OTA_ERR_SLOT,
                  "image is not laid out for slot %c (load address 0x%lx, header %u bytes)",
                  'A' + bank_slot(), (unsigned long) h.load_addr, (unsigned) h.header_size);
    }
  }
#endif
  if (total != o->size) {
    return fail(app, OTA_ERR_IMAGE, "image %s: header says %lu bytes, upload is %lu",
                total > o->size ? "truncated" : "has extra bytes", (unsigned long) total,
                (unsigned long) o->size);
  }
  return 0;
}

/* With a key built in, only an image signed by it is installed: the
 * signature covers the digest of header + payload, so it binds every byte.
 * A development build (no key) takes hash-checked images, signed or not. */
static int ota_verify_signature(struct app *app, const struct mg_image_header *h,
                                const uint8_t digest[32], const uint8_t sig[64]) {
#if DEVICE_OTA_SIGNED
  static const uint8_t pubkey[32] = {DEVICE_OTA_PUBKEY};
  uint64_t t0 = mg_millis();
  bool ok;
  if (h->flags & MG_IMAGE_F_UNSIGNED) {
    return fail(app, OTA_ERR_SIGNATURE, "image is unsigned: this device takes signed updates only");
  }
  ok = mg_ed25519_verify(sig, digest, 32, pubkey);
  t0 = mg_millis() - t0;
  if (!ok) return fail(app, OTA_ERR_SIGNATURE, "bad signature: not signed by this device's key");
  app_log(app, "ota: signature ok (Ed25519, %lu ms)", (unsigned long) t0);
#else
  (void) app, (void) h, (void) digest, (void) sig;
#endif
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
  if (!bank_program(o, offset, buf, len)) {
    return fail(app, OTA_ERR_FLASH, "flash error writing offset %lu", (unsigned long) offset);
  }
  o->received += len;
  if (offset < MG_IMAGE_HEADER_SIZE && o->received >= MG_IMAGE_HEADER_SIZE) {
    return check_header(app);
  }
  return 0;
}

int ota_end(struct app *app) {
  struct ota *o = &app->ota;
  uint8_t digest[32];
  char got[65], ver[24];
  int err;
  if (o->state != OTA_RECEIVING) {
    return fail(app, OTA_ERR_NO_SESSION, "no update in progress");
  }
  if (o->received != o->size) {
    return fail(app, OTA_ERR_INCOMPLETE, "image incomplete: %lu of %lu bytes",
                (unsigned long) o->received, (unsigned long) o->size);
  }
  mg_sha256(digest, o->bank, o->size); /* what the bank holds, read back */
  if (o->has_sha256 && memcmp(digest, o->sha256, sizeof(digest)) != 0) {
    hex(digest, 8, got);
    return fail(app, OTA_ERR_DIGEST, "sha256 mismatch (image has %s...)", got);
  }
  memcpy(o->sha256, digest, sizeof(digest));
  err = mg_image_check(o->bank, o->size, mg_image_board_id(board_name()), &o->image,
                       digest);
  if (err != MG_IMAGE_OK) return image_fail(app, err);
  err = ota_verify_signature(app, &o->image, digest,
                             o->bank + o->size - MG_IMAGE_TRAILER_SIZE + MG_IMAGE_TRAILER_OFS_SIG);
  if (err != 0) return err;
#if DEVICE_SLOTS
  if (o->image.version < app->boot.image.version &&
      !(o->image.flags & MG_IMAGE_F_ALLOW_DOWNGRADE)) {
    char run[24];
    o->state = OTA_FAILED;
    bank_release(o);
    return fail(app, OTA_ERR_DOWNGRADE,
                "version %s is older than the running %s (pack with --allow-downgrade)",
                mg_image_version_str(o->image.version, ver, sizeof(ver)),
                mg_image_version_str(app->boot.image.version, run, sizeof(run)));
  }
  {
    /* What the bootloader will check, read back from the slot; then the
     * one commit point: the boot state saying "test". */
    struct mg_bootstate st;
    struct mg_image_header h;
    int slot = bank_slot(), copy;
#if DEVICE_OTA_SIGNED
    static const uint8_t pubkey[32] = {DEVICE_OTA_PUBKEY};
    err = slot_check(slot, pubkey, &h);
#else
    err = slot_check(slot, NULL, &h);
#endif
    if (err != 0) {
      o->state = OTA_FAILED;
      bank_release(o);
      return fail(app, OTA_ERR_IMAGE, "slot %c read back: %s", 'A' + slot, slot_strerror(err));
    }
    copy = slots_state_read(&st);
    mg_bootstate_set_test(&st, slot);
    if (slots_state_write(copy, &st) == copy) { /* not committed: the old state stays */
      o->state = OTA_FAILED;
      bank_release(o);
      return fail(app, OTA_ERR_FLASH, "flash error: the boot state not written");
    }
    o->next_bank = slot;
  }
#else
  o->next_bank = 1;
#endif
  o->state = OTA_VERIFIED;
  hex(o->sha256, 32, got);
  app_log(app, "ota: verified %lu bytes sha256=%s version %s; bank %d boots next",
          (unsigned long) o->size, got, mg_image_version_str(o->image.version, ver, sizeof(ver)),
          o->next_bank);
  return 0;
}

void ota_abort(struct app *app, const char *why) {
  if (app->ota.state == OTA_RECEIVING) fail(app, OTA_ERR_INCOMPLETE, "aborted: %s", why);
}

size_t ota_status_json(struct app *app, char *buf, size_t len) {
  static const char *names[] = {"idle", "receiving", "verified", "failed"};
  static const char *sources[] = {"", "rpc", "http"};
  struct ota *o = &app->ota;
  char sha[65] = "", err[2 * sizeof(o->error)], ver[24] = "";
  bool verified = o->state == OTA_VERIFIED;
  if (verified) hex(o->sha256, 32, sha);
  if (verified) mg_image_version_str(o->image.version, ver, sizeof(ver));
  mg_json_escape(mg_str(o->error), err, sizeof(err));
  return mg_snprintf(buf, len,
                     "{\"state\":\"%s\",\"size\":%lu,\"received\":%lu,"
                     "\"sha256\":\"%s\",\"version\":\"%s\",\"signed\":%s,"
                     "\"error\":\"%s\",\"bank\":%d,\"source\":\"%s\"}",
                     names[o->state], (unsigned long) o->size,
                     (unsigned long) o->received, sha, ver,
                     verified && !(o->image.flags & MG_IMAGE_F_UNSIGNED) ? "true" : "false",
                     err, o->next_bank, sources[o->source]);
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

/* 403 for a signature refusal: the image is well formed, only not trusted. */
static int http_status(int err) {
  return err == OTA_ERR_TOO_BIG ? 413 : err == OTA_ERR_NOMEM ? 507
         : err == OTA_ERR_SIGNATURE ? 403 : err == OTA_ERR_DOWNGRADE ? 409
         : err == OTA_ERR_FLASH ? 500 : 400;
}

/* A refused upload is still read to its end before the answer goes out: a
 * reset while the client is sending could lose the answer. */
static void http_consume(struct mg_connection *c) {
  struct app *app = (struct app *) c->fn_data;
  struct ota *o = &app->ota;
  if (c->is_draining || o->http_conn != c->id) {
    c->recv.len = 0;
    return;
  }
  size_t n = c->recv.len < o->http_left ? c->recv.len : o->http_left;
  int err = 0;
  if (n > 0 && o->http_status == 0) err = ota_write(app, o->received, c->recv.buf, n);
  if (err != 0) o->http_status = http_status(err);
  mg_iobuf_del(&c->recv, 0, n);
  o->http_left -= n;
  if (o->http_left > 0) return;
  o->http_conn = 0;
  if (o->http_status != 0) {
    http_error(c, o->http_status, o->error);
  } else if ((err = ota_end(app)) == 0) {
    char buf[400];
    ota_status_json(app, buf, sizeof(buf));
    http_done(c, 200, buf);
    if (o->http_reboot) {
      /* POST /api/ota?reboot=1: boot the new image once the answer is out. */
      app->reboot_at = mg_millis() + 300;
      app_log(app, "device: reboot in 300 ms");
    }
  } else {
    http_error(c, http_status(err), o->error);
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
  char reboot[4] = "";
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
  err = ota_begin(app, size > bank_max() ? bank_max() + 1 : (size_t) size,
                  sha == NULL ? mg_str_n(NULL, 0) : mg_str_trim(*sha), OTA_SRC_HTTP);
  if (err != 0) {
    http_error(c, http_status(err), app->ota.error);
    return;
  }
  app->ota.http_conn = c->id;
  app->ota.http_left = app->ota.size;
  app->ota.http_status = 0;
  app->ota.http_reboot = mg_http_get_var(&hm->query, "reboot", reboot, sizeof(reboot)) > 0 &&
                         strcmp(reboot, "1") == 0;
  app->ota.http_deadline = mg_millis() + UPLOAD_IDLE_MS;
  if (expect != NULL && mg_str_ieq(*expect, "100-continue")) {
    mg_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
  }
  mg_iobuf_del(&c->recv, 0, head);
  http_consume(c);
}
#endif
