/* Static file serving over an in-memory struct mg_fs (the path a device with
 * a ROM file system takes): requests go through the HTTP protocol handler of
 * a connection without a socket, responses are read from its send buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"


/* ---- A read-only file system of three files and two directories ---- */
struct file {
  const char *path, *data;
};
static const struct file s_files[] = {
    {"/r/index.html", "<p>index</p>"},
    {"/r/a.txt", "0123456789"},
    {"/r/a:b.txt", "colon"},
    {"/r/docs/x.mine", "custom"},
    {"/r/404.html", "nothing here"},
    {NULL, NULL},
};
#define MTIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

static const struct file *find(const char *path) {
  for (int i = 0; s_files[i].path != NULL; i++)
    if (strcmp(s_files[i].path, path) == 0) return &s_files[i];
  return NULL;
}
static unsigned m_st(const char *path, uint64_t *size, int64_t *mtime) {
  const struct file *f = find(path);
  if (mtime != NULL) *mtime = MTIME;
  if (f != NULL) {
    if (size != NULL) *size = strlen(f->data);
    return MG_FS_READ;
  }
  if (strcmp(path, "/r") == 0 || strcmp(path, "/r/") == 0 ||
      strcmp(path, "/r/docs") == 0 || strcmp(path, "/r/docs/") == 0)
    return MG_FS_DIR;
  return 0;
}
static void m_ls(const char *path, void (*fn)(const char *, void *), void *arg) {
  if (strncmp(path, "/r/docs", 7) == 0) fn("x.mine", arg);
}
struct h {
  const struct file *f;
  size_t pos;
};
static void *m_op(const char *path) {
  const struct file *f = find(path);
  struct h *h = f != NULL ? (struct h *) calloc(1, sizeof(*h)) : NULL;
  if (h != NULL) h->f = f;
  return h;
}
static void m_cl(void *fd) {
  free(fd);
}
static size_t m_rd(void *fd, void *buf, size_t len) {
  struct h *h = (struct h *) fd;
  size_t left = strlen(h->f->data) - h->pos;
  if (len > left) len = left;
  memcpy(buf, h->f->data + h->pos, len);
  h->pos += len;
  return len;
}
static bool m_sk(void *fd, uint64_t ofs) {
  struct h *h = (struct h *) fd;
  if (ofs > strlen(h->f->data)) return false;
  h->pos = (size_t) ofs;
  return true;
}
static const struct mg_fs s_fs = {m_st, m_ls, m_op, m_cl, m_rd, m_sk, NULL, NULL, NULL, NULL, NULL};

static const char *s_page404;

static void fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    struct mg_http_serve_opts o = {"/r", "X-Extra: 1\r\n", "mine=text/x-mine",
                                   s_page404, &s_fs};
    if (mg_str_eq(hm->uri, "/file")) {
      mg_http_serve_file(c, hm, "/r/a.txt", &o);
    } else {
      mg_http_serve_dir(c, hm, &o);
    }
  }
}

/* Feeds one request to a fresh connection, returns the response bytes
 * (NUL-terminated, caller frees). */
static char *exchange(const char *req) {
  struct mg_mgr mgr;
  struct mg_connection *c = (struct mg_connection *) calloc(1, sizeof(*c));
  long n = (long) strlen(req);
  char *out;
  memset(&mgr, 0, sizeof(mgr));
  c->mgr = &mgr;
  c->fn = fn;
  mg_http_attach(c);
  mg_iobuf_add(&c->recv, 0, req, strlen(req));
  mg_call(c, MG_EV_READ, &n);
  out = (char *) calloc(1, c->send.len + 1);
  memcpy(out, c->send.buf, c->send.len);
  mg_call(c, MG_EV_CLOSE, NULL);
  mg_iobuf_free(&c->recv);
  mg_iobuf_free(&c->send);
  free(c);
  return out;
}

static bool has(const char *hay, const char *needle) {
  return strstr(hay, needle) != NULL;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

#define EXPECT(req, ...)                      \
  do {                                        \
    char *r_ = exchange(req);                 \
    const char *want_[] = {__VA_ARGS__, NULL}; \
    for (int i_ = 0; want_[i_] != NULL; i_++) { \
      bool ok_ = has(r_, want_[i_]);          \
      if (!ok_) printf("  missing %s in:\n%s\n", want_[i_], r_); \
      CHECK(ok_);                             \
    }                                         \
    free(r_);                                 \
  } while (0)

int main(void) {
  char *r;
  EXPECT("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 200 OK\r\n",
         "Content-Type: text/html; charset=utf-8\r\n", "X-Extra: 1\r\n",
         "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
         "Content-Length: 12\r\n\r\n<p>index</p>");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n", "text/plain", "\r\n\r\n0123456789");
  EXPECT("GET /docs/x.mine HTTP/1.1\r\nHost: h\r\n\r\n", "Content-Type: text/x-mine\r\n");
  EXPECT("GET /docs?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", "301 Moved Permanently",
         "Location: /docs/?q=1\r\n");
  EXPECT("GET /docs/ HTTP/1.1\r\nHost: h\r\n\r\n", "200 OK", "href=\"x.mine\"", "Index of /docs/");
  EXPECT("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 404 Not Found");
  s_page404 = "/r/404.html";
  EXPECT("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 404 Not Found", "text/html",
         "\r\n\r\nnothing here");
  s_page404 = NULL;
  EXPECT("GET /../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request", "Invalid path");
  EXPECT("GET /%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n", "Invalid path");
  EXPECT("GET /a%00 HTTP/1.1\r\nHost: h\r\n\r\n", "Invalid path");
#ifdef _WIN32 /* drive letters and NTFS streams ("a.txt::$DATA") */
  EXPECT("GET /a:b.txt HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request", "Invalid path");
  EXPECT("GET /a%3ab.txt HTTP/1.1\r\nHost: h\r\n\r\n", "400 Bad Request", "Invalid path");
#else
  EXPECT("GET /a:b.txt HTTP/1.1\r\nHost: h\r\n\r\n", "200 OK", "\r\n\r\ncolon");
#endif
  EXPECT("GET /file?x HTTP/1.1\r\nHost: h\r\n\r\n", "\r\n\r\n0123456789");

  /* Ranges. */
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=2-4\r\n\r\n", "206 Partial Content",
         "Content-Range: bytes 2-4/10\r\n", "Content-Length: 3\r\n\r\n234");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=-3\r\n\r\n", "\r\n\r\n789");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=7-\r\n\r\n", "\r\n\r\n789");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=5-100\r\n\r\n", "bytes 5-9/10", "\r\n\r\n56789");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=10-\r\n\r\n", "416 Range Not Satisfiable",
         "Content-Range: bytes */10");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2,4-5\r\n\r\n", "200 OK", "0123456789");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: lines=1-2\r\n\r\n", "200 OK");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nIf-Range: \"nope\"\r\n\r\n",
         "200 OK", "0123456789");

  /* Conditional requests. */
  r = exchange("GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
  const char *e = strstr(r, "Etag: ");
  CHECK(e != NULL);
  if (e != NULL) {
    char req[200], etag[64];
    size_t n = strcspn(e + 6, "\r");
    memcpy(etag, e + 6, n);
    etag[n] = '\0';
    snprintf(req, sizeof(req), "GET /a.txt HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\", %s\r\n\r\n", etag);
    EXPECT(req, "304 Not Modified", "Content-Length: 0\r\n\r\n");
    snprintf(req, sizeof(req), "GET /a.txt HTTP/1.1\r\nHost: h\r\nIf-None-Match: W/%s\r\n\r\n", etag);
    EXPECT(req, "304 Not Modified");
  }
  free(r);
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
         "304 Not Modified");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n\r\n",
         "200 OK");
  EXPECT("GET /a.txt HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: garbage\r\n\r\n", "200 OK");

  /* HEAD: headers with the full length, no body; also for errors. */
  r = exchange("HEAD /a.txt HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(has(r, "Content-Length: 10\r\n") && ends_with(r, "\r\n\r\n"));
  free(r);
  r = exchange("HEAD /nope HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(has(r, "404") && ends_with(r, "\r\n\r\n"));
  free(r);
  r = exchange("HEAD /docs/ HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(has(r, "200 OK") && ends_with(r, "\r\n\r\n"));
  free(r);

  printf("%d passed, %d failed\n", s_passed, s_failed);
  return s_failed == 0 ? 0 : 1;
}
