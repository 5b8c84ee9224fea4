/* Fuzz target of the HTTP layer: the sans-IO parser, chunked decoding, the
 * lookup helpers, multipart, and the connection glue (pipelined requests in
 * one receive buffer, replies, static files over an in-memory file system).
 * Built by the generic standalone driver or by libFuzzer. */
#include <stdlib.h>
#include <string.h>

#include "mg.h"

/* ---- A tiny in-memory file system: /www/a.txt and the directory /www. ---- */
static const char s_file[] = "hello from a.txt\n";

static unsigned fs_st(const char *path, uint64_t *size, int64_t *mtime) {
  if (mtime != NULL) *mtime = 1700000000;
  if (strcmp(path, "/www") == 0 || strcmp(path, "/www/") == 0) return MG_FS_DIR;
  if (strcmp(path, "/www/a.txt") == 0 || strcmp(path, "/www/index.html") == 0) {
    if (size != NULL) *size = sizeof(s_file) - 1;
    return MG_FS_READ;
  }
  return 0;
}
static void fs_ls(const char *path, void (*fn)(const char *, void *), void *arg) {
  (void) path;
  fn("a.txt", arg);
  fn("we<ird>&.txt", arg);
}
struct memfd {
  size_t pos;
};
static void *fs_op(const char *path) {
  if (!(fs_st(path, NULL, NULL) & MG_FS_READ)) return NULL;
  return calloc(1, sizeof(struct memfd));
}
static void fs_cl(void *fd) {
  free(fd);
}
static size_t fs_rd(void *fd, void *buf, size_t len) {
  struct memfd *m = (struct memfd *) fd;
  size_t left = sizeof(s_file) - 1 - m->pos;
  if (len > left) len = left;
  memcpy(buf, s_file + m->pos, len);
  m->pos += len;
  return len;
}
static bool fs_sk(void *fd, uint64_t ofs) {
  if (ofs > sizeof(s_file) - 1) return false;
  ((struct memfd *) fd)->pos = (size_t) ofs;
  return true;
}
static const struct mg_fs s_memfs = {fs_st, fs_ls, fs_op, fs_cl, fs_rd, fs_sk, NULL, NULL, NULL, NULL, NULL};

static void user_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    struct mg_http_serve_opts opts = {"/www", "X-A: 1\r\n", "txt=text/x", NULL, &s_memfs};
    char buf[64];
    struct mg_http_part part;
    size_t ofs = 0;
    mg_http_get_var(&hm->query, "a", buf, sizeof(buf));
    struct mg_str *ct = mg_http_get_header(hm, "Content-Type");
    if (ct != NULL) mg_http_get_header_var(*ct, mg_str("boundary"));
    while ((ofs = mg_http_next_multipart(hm->body, ofs, &part)) > 0) {
    }
    if (hm->uri.len > 0 && hm->uri.buf[hm->uri.len - 1] == 'x') {
      mg_http_reply(c, 200, "", "%.*s", (int) hm->body.len, hm->body.buf);
    } else {
      mg_http_serve_dir(c, hm, &opts);
    }
  }
}

/* Every view the parser returns must lie inside the input. */
static void check_inside(struct mg_str v, const char *s, size_t size) {
  if (v.len == 0) return;
  if (v.buf < s || v.buf + v.len > s + size) abort();
}

static void check_message(const struct mg_http_message *hm, const char *s,
                          size_t size) {
  check_inside(hm->method, s, size);
  check_inside(hm->uri, s, size);
  check_inside(hm->query, s, size);
  check_inside(hm->proto, s, size);
  check_inside(hm->head, s, size);
  check_inside(hm->body, s, size);
  check_inside(hm->message, s, size);
  for (size_t i = 0; i < MG_MAX_HTTP_HEADERS; i++) {
    check_inside(hm->headers[i].name, s, size);
    check_inside(hm->headers[i].value, s, size);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mg_http_message hm;
  int framing;
  size_t blen;
  const char *s = (const char *) data;

  /* Parser and framing, as request and as answer to HEAD. */
  int h = mg_http_parse(s, size, &hm);
  if (h > 0 && ((size_t) h > size || hm.head.len == 0)) abort();
  if (h > 0) check_message(&hm, s, size);
  if (h > 0) {
    struct mg_http_message part;
    const char *lf = (const char *) memchr(s, '\n', (size_t) h);
    int rc = mg_http_check_request(&hm);
    if (rc != 0 && rc != MG_HTTP_ERR_BAD) abort();
    /* The early checks never refuse a prefix of a valid head. */
    if (mg_http_parse(s, (size_t) h - 1, &part) != 0) abort();
    if (mg_http_parse(s, (size_t) h / 2, &part) != 0) abort();
    if (lf != NULL && lf + 1 < s + h &&
        mg_http_parse(s, (size_t) (lf + 1 - s), &part) != 0)
      abort();
  }
  long n = mg_http_frame(s, size, false, &hm, &framing);
  if (n > 0 && ((size_t) n > size || hm.message.len > (size_t) n)) abort();
  if (n >= 0) check_message(&hm, s, size);
  if (n > 0 && framing == MG_HTTP_BODY_CHUNKED) {
    char *copy = (char *) malloc(hm.body.len + 1);
    if (copy != NULL) {
      memcpy(copy, hm.body.buf, hm.body.len);
      size_t d = mg_http_dechunk(copy, hm.body.len);
      if (d > hm.body.len) abort();
      free(copy);
    }
  }
  mg_http_frame(s, size, true, &hm, &framing);
  long w = mg_http_chunked_len(s, size, &blen);
  if (w > 0 && (size_t) w > size) abort();

  /* Helpers straight on the input. */
  struct mg_str in = mg_str_n(s, size);
  char buf[32];
  mg_http_get_var(&in, "x", buf, sizeof(buf));
  mg_http_get_header_var(in, mg_str("b"));
  size_t ofs = 0;
  struct mg_http_part part;
  for (int i = 0; i < 100 && (ofs = mg_http_next_multipart(in, ofs, &part)) > 0; i++) {
    if (ofs > size) abort();
  }

  /* The glue: the input arrives on a server connection in two reads. */
  struct mg_mgr mgr;
  struct mg_connection *c = (struct mg_connection *) calloc(1, sizeof(*c));
  memset(&mgr, 0, sizeof(mgr));
  if (c == NULL) return 0;
  c->mgr = &mgr;
  c->fn = user_fn;
  mg_http_attach(c);
  size_t half = size / 2;
  long r1 = (long) half, r2 = (long) (size - half);
  mg_iobuf_add(&c->recv, 0, data, half);
  mg_call(c, MG_EV_READ, &r1);
  if (!c->is_closing && !c->is_draining) {
    mg_iobuf_add(&c->recv, c->recv.len, data + half, size - half);
    mg_call(c, MG_EV_READ, &r2);
  }
  for (int i = 0; i < 4; i++) {
    c->send.len = 0; /* pretend the socket took it */
    mg_call(c, MG_EV_WRITE, &r1);
  }
  mg_call(c, MG_EV_CLOSE, NULL);
  mg_iobuf_free(&c->recv);
  mg_iobuf_free(&c->send);
  free(c);
  return 0;
}
