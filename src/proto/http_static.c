/* Static files: serve_dir / serve_file with MIME types, conditional and range
 * requests, directory listings, precompressed .gz files, and streaming of
 * large files as the socket drains. File access goes through struct mg_fs. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

static const struct mg_fs *default_fs(const struct mg_http_serve_opts *o) {
  if (o != NULL && o->fs != NULL) return o->fs;
#if MG_ARCH_HOSTED
  return &mg_fs_posix;
#else
  return NULL;
#endif
}

/* Unsigned 64-bit decimal, independent of the C library's printf. */
static char *u64str(uint64_t v, char *buf /* >= 21 */) {
  char tmp[21];
  size_t n = 0;
  do {
    tmp[n++] = (char) ('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return buf;
}

/* ---- MIME types ---- */

static const char *const s_mime[] = {
    "html", "text/html; charset=utf-8",
    "htm", "text/html; charset=utf-8",
    "css", "text/css; charset=utf-8",
    "js", "text/javascript; charset=utf-8",
    "mjs", "text/javascript; charset=utf-8",
    "json", "application/json",
    "txt", "text/plain; charset=utf-8",
    "md", "text/markdown; charset=utf-8",
    "csv", "text/csv; charset=utf-8",
    "xml", "application/xml",
    "svg", "image/svg+xml",
    "png", "image/png",
    "jpg", "image/jpeg",
    "jpeg", "image/jpeg",
    "gif", "image/gif",
    "webp", "image/webp",
    "ico", "image/x-icon",
    "bmp", "image/bmp",
    "avif", "image/avif",
    "woff", "font/woff",
    "woff2", "font/woff2",
    "ttf", "font/ttf",
    "otf", "font/otf",
    "wasm", "application/wasm",
    "pdf", "application/pdf",
    "zip", "application/zip",
    "gz", "application/gzip",
    "tar", "application/x-tar",
    "mp3", "audio/mpeg",
    "wav", "audio/wav",
    "ogg", "audio/ogg",
    "mp4", "video/mp4",
    "webm", "video/webm",
    "bin", "application/octet-stream",
    NULL, NULL};

/* Content type for path: overrides ("ext=type,...") first, then the table. */
static struct mg_str mime_type(struct mg_str path, const char *overrides) {
  size_t dot = path.len;
  while (dot > 0 && path.buf[dot - 1] != '.' && path.buf[dot - 1] != '/') dot--;
  if (dot == 0 || path.buf[dot - 1] != '.')
    return mg_str("application/octet-stream");
  struct mg_str ext = mg_str_n(path.buf + dot, path.len - dot);
  struct mg_str rest = mg_str(overrides != NULL ? overrides : ""), item, k, v;
  while (rest.len > 0) {
    mg_str_split(rest, ',', &item, &rest);
    if (!mg_str_split(item, '=', &k, &v)) continue;
    k = mg_str_trim(k);
    if (k.len > 0 && k.buf[0] == '.') k = mg_str_n(k.buf + 1, k.len - 1);
    if (mg_strcasecmp(k, ext) == 0) return mg_str_trim(v);
  }
  for (size_t i = 0; s_mime[i] != NULL; i += 2) {
    if (mg_strcasecmp(ext, mg_str(s_mime[i])) == 0) return mg_str(s_mime[i + 1]);
  }
  return mg_str("application/octet-stream");
}

/* ---- HTTP dates (IMF-fixdate, always GMT) ---- */

static const char *const s_days[] = {"Thu", "Fri", "Sat", "Sun",
                                     "Mon", "Tue", "Wed"};
static const char *const s_months[] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_from_date(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void date_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int) (doy - (153 * mp + 2) / 5 + 1);
  *m = (int) (mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static void http_date(int64_t t, char *buf, size_t len) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, y;
  int64_t secs = t - days * 86400;
  int m, d;
  date_from_days(days, &y, &m, &d);
  mg_snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
              s_days[((days % 7) + 7) % 7], d, s_months[m - 1], (int) y,
              (int) (secs / 3600), (int) (secs / 60 % 60), (int) (secs % 60));
}

static bool num(const char *s, size_t n, int *out) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" -> epoch seconds; false otherwise. */
static bool parse_http_date(struct mg_str s, int64_t *out) {
  int d, y, hh, mm, ss, m = -1;
  if (s.len != 29 || s.buf[3] != ',' || memcmp(s.buf + 25, " GMT", 4) != 0)
    return false;
  for (int i = 0; i < 12; i++) {
    if (memcmp(s.buf + 8, s_months[i], 3) == 0) m = i + 1;
  }
  if (m < 0 || !num(s.buf + 5, 2, &d) || !num(s.buf + 12, 4, &y) ||
      !num(s.buf + 17, 2, &hh) || !num(s.buf + 20, 2, &mm) ||
      !num(s.buf + 23, 2, &ss) || s.buf[19] != ':' || s.buf[22] != ':')
    return false;
  *out = days_from_date(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
  return true;
}

/* ---- Conditional and range requests ---- */

/* True when an If-None-Match list names etag (weak comparison) or is "*". */
static bool etag_matches(struct mg_str list, const char *etag) {
  struct mg_str rest = list, item;
  struct mg_str want = mg_str(etag);
  while (rest.len > 0) {
    mg_str_split(rest, ',', &item, &rest);
    item = mg_str_trim(item);
    if (mg_str_eq(item, "*")) return true;
    if (item.len > 2 && item.buf[0] == 'W' && item.buf[1] == '/')
      item = mg_str_n(item.buf + 2, item.len - 2);
    if (mg_strcmp(item, want) == 0) return true;
  }
  return false;
}

/* Parses "bytes=a-b", "bytes=a-", "bytes=-n" against size. Returns 1 with
 * [*from, *to] set, 0 to ignore the header (bad syntax, several ranges),
 * -1 when unsatisfiable. */
static int parse_range(struct mg_str r, uint64_t size, uint64_t *from,
                       uint64_t *to) {
  struct mg_str a, b;
  uint64_t x = 0, y = 0;
  if (!mg_str_starts_with(r, "bytes=", true)) return 0;
  r = mg_str_trim(mg_str_n(r.buf + 6, r.len - 6));
  if (memchr(r.buf, ',', r.len) != NULL) return 0;
  if (!mg_str_split(r, '-', &a, &b)) return 0;
  a = mg_str_trim(a), b = mg_str_trim(b);
  if (a.len == 0) { /* suffix: the last n bytes */
    if (!mg_str_to_u64(b, &y)) return 0;
    if (y == 0 || size == 0) return -1;
    *from = y >= size ? 0 : size - y;
    *to = size - 1;
    return 1;
  }
  if (!mg_str_to_u64(a, &x)) return 0;
  if (b.len > 0 && (!mg_str_to_u64(b, &y) || y < x)) return 0;
  if (x >= size) return -1;
  *from = x;
  *to = (b.len == 0 || y >= size) ? size - 1 : y;
  return 1;
}

/* ---- Streaming ---- */

void mg_http_file_done(struct mg_http_state *st) {
  if (st != NULL && st->fd != NULL) {
    st->fs->cl(st->fd);
    st->fd = NULL;
    st->remaining = 0;
    st->zero_copy = 0;
  }
}

/* Appends up to want bytes of the file to the send buffer. Returns false on
 * a read error or early end of file. */
static bool send_from_file(struct mg_connection *c, const struct mg_fs *fs,
                           void *fd, uint64_t *remaining, size_t want) {
  if (want > *remaining) want = (size_t) *remaining;
  if (want == 0) return true;
  if (!mg_iobuf_resize(&c->send, c->send.len + want)) return false;
  size_t got = 0;
  while (got < want) {
    size_t n = fs->rd(fd, c->send.buf + c->send.len + got, want - got);
    if (n == 0) break;
    got += n;
  }
  c->send.len += got;
  *remaining -= got;
  return got == want;
}

/* True when the file at fd can go out zero-copy on c: the transport can send
 * from a descriptor, the file system has one, and the bytes travel as they
 * are (no TLS). Clients keep copying: their request sniffer counts the bytes
 * leaving c->send. */
static bool zero_copy_ok(struct mg_connection *c, const struct mg_fs *fs,
                         void *fd, int *os_fd) {
  if (c->is_tls || c->is_client || c->mgr->net == NULL ||
      c->mgr->net->send_file == NULL || fs->os_fd == NULL)
    return false;
  *os_fd = fs->os_fd(fd);
  return *os_fd >= 0;
}

/* One zero-copy step. Whatever waits in c->send (the headers) goes first,
 * in the same call, so head and file share packets and stay in order. The
 * transport reports writability again, so MG_EV_POLL brings us back while
 * the socket drains. The bytes are reported as MG_EV_WRITE later, from the
 * handler (see mg_http_report_sent), never nested in the caller's event. */
static void pump_zero_copy(struct mg_connection *c, struct mg_http_state *st) {
  size_t want = st->remaining > MG_HTTP_SENDFILE_MAX
                    ? (size_t) MG_HTTP_SENDFILE_MAX
                    : (size_t) st->remaining;
  size_t head = c->send.len;
  long n = c->mgr->net->send_file(c, c->send.buf, head, st->os_fd, st->offset,
                                  want);
  if (n < 0) { /* peer gone, or the file shrank: the length was promised */
    MG_DEBUG("conn %lu: file send stopped", c->id);
    mg_http_file_done(st);
    c->is_closing = 1;
    return;
  }
  if ((size_t) n > head) {
    st->offset += (uint64_t) n - head;
    st->remaining -= (uint64_t) n - head;
  }
  mg_iobuf_del(&c->send, 0, (size_t) n < head ? (size_t) n : head);
  st->unreported += (size_t) n;
}

void mg_http_report_sent(struct mg_connection *c, struct mg_http_state *st) {
  long n = (long) st->unreported;
  if (n == 0 || st->pumping) return;
  st->unreported = 0;
  st->pumping = 1; /* our own handler must not pump from inside */
  mg_call(c, MG_EV_WRITE, &n);
  if (c->pfn_data == st) st->pumping = 0;
}

void mg_http_pump(struct mg_connection *c, struct mg_http_state *st) {
  if (st->fd == NULL || c->is_closing || st->pumping) return;
  if (st->zero_copy) {
    pump_zero_copy(c, st);
    if (st->fd == NULL) return; /* failed */
  } else if (c->send.len < MG_HTTP_STREAM_BUF) {
    if (!send_from_file(c, st->fs, st->fd, &st->remaining,
                        MG_HTTP_STREAM_BUF - c->send.len)) {
      /* The file shrank or broke: the length is promised, so close. */
      mg_http_file_done(st);
      c->is_draining = 1;
      return;
    }
  }
  if (st->remaining == 0) {
    mg_http_file_done(st);
    mg_http_response_done(c);
  }
}

/* ---- Serving one file ---- */

static void send_status(struct mg_connection *c, int code, const char *extra,
                        const char *body) {
  mg_printf(c,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "%sContent-Length: %u\r\n\r\n%s",
            code, mg_http_reason(code), extra != NULL ? extra : "",
            (unsigned) strlen(body), mg_http_answering_head(c) ? "" : body);
  mg_http_response_done(c);
}

static bool accepts_gzip(struct mg_http_message *hm) {
  struct mg_str *ae = mg_http_get_header(hm, "Accept-Encoding");
  struct mg_str rest, item, coding, params;
  if (ae == NULL) return false;
  rest = *ae;
  while (rest.len > 0) {
    mg_str_split(rest, ',', &item, &rest);
    mg_str_split(item, ';', &coding, &params);
    params = mg_str_trim(params);
    if (mg_str_ieq(mg_str_trim(coding), "gzip") &&
        !mg_str_eq(params, "q=0") && !mg_str_eq(params, "q=0.0"))
      return true;
  }
  return false;
}

/* Serves path with status code (200, or 404 for page404). */
/* What a caller already learned from fs->st(path), saving a second stat. */
struct known_stat {
  unsigned flags;
  uint64_t size;
  int64_t mtime;
};

static void serve_path(struct mg_connection *c, struct mg_http_message *hm,
                       const char *path, int code,
                       const struct mg_http_serve_opts *opts,
                       const struct known_stat *ks) {
  const struct mg_fs *fs = default_fs(opts);
  const char *extra = opts != NULL && opts->extra_headers != NULL
                          ? opts->extra_headers
                          : "";
  char gzpath[MG_PATH_MAX], etag[48], lm[40], a[21], b[21], cl[21];
  uint64_t size = 0, from = 0, to = 0;
  int64_t mtime = 0;
  bool gz = false, head = mg_str_eq(hm->method, "HEAD");
  const char *use = path;
  unsigned flags;
  if (fs == NULL) {
    send_status(c, 404, extra, "Not Found\n");
    return;
  }
  /* A precompressed sibling wins when the client takes gzip. */
  if (accepts_gzip(hm) && strlen(path) + 4 < sizeof(gzpath)) {
    mg_snprintf(gzpath, sizeof(gzpath), "%s.gz", path);
    if (fs->st(gzpath, NULL, NULL) & MG_FS_READ) use = gzpath, gz = true;
  }
  if (ks != NULL && !gz) {
    flags = ks->flags, size = ks->size, mtime = ks->mtime;
  } else {
    flags = fs->st(use, &size, &mtime);
  }
  if (!(flags & MG_FS_READ)) {
    send_status(c, 404, extra, "Not Found\n");
    return;
  }
  mg_snprintf(etag, sizeof(etag), "\"%lx.%lx%s\"", (unsigned long) mtime,
              (unsigned long) size, gz ? ".gz" : "");
  http_date(mtime, lm, sizeof(lm));
  struct mg_str mime = mime_type(mg_str(path), opts ? opts->mime_types : NULL);

  if (code == 200) {
    struct mg_str *inm = mg_http_get_header(hm, "If-None-Match");
    struct mg_str *ims = mg_http_get_header(hm, "If-Modified-Since");
    int64_t since;
    bool not_modified =
        inm != NULL ? etag_matches(*inm, etag)
                    : (ims != NULL && parse_http_date(*ims, &since) &&
                       mtime <= since);
    if (not_modified) {
      mg_printf(c,
                "HTTP/1.1 304 Not Modified\r\nEtag: %s\r\n"
                "Last-Modified: %s\r\n%sContent-Length: 0\r\n\r\n",
                etag, lm, extra);
      mg_http_response_done(c);
      return;
    }
  }

  void *fd = fs->op(use);
  if (fd == NULL) {
    send_status(c, 404, extra, "Not Found\n");
    return;
  }
  char range_hdr[96] = "";
  uint64_t len = size, start = 0;
  int os_fd = -1;
  struct mg_str *rh = code == 200 ? mg_http_get_header(hm, "Range") : NULL;
  struct mg_str *ifr = mg_http_get_header(hm, "If-Range");
  if (rh != NULL && (ifr == NULL || mg_str_eq(*ifr, etag))) {
    int r = parse_range(*rh, size, &from, &to);
    if (r < 0) {
      fs->cl(fd);
      mg_snprintf(range_hdr, sizeof(range_hdr), "Content-Range: bytes */%s\r\n",
                  u64str(size, a));
      mg_printf(c,
                "HTTP/1.1 416 Range Not Satisfiable\r\n%s%s"
                "Content-Length: 0\r\n\r\n",
                range_hdr, extra);
      mg_http_response_done(c);
      return;
    }
    if (r > 0 && (from > 0 || to + 1 < size) && fs->sk(fd, from)) {
      code = 206;
      start = from;
      len = to - from + 1;
      mg_snprintf(range_hdr, sizeof(range_hdr),
                  "Content-Range: bytes %s-%s/%s\r\n", u64str(from, a),
                  u64str(to, b), u64str(size, cl));
    }
  }
  mg_printf(c,
            "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nEtag: %s\r\n"
            "Last-Modified: %s\r\nAccept-Ranges: bytes\r\n%s%s%s"
            "Content-Length: %s\r\n\r\n",
            code, mg_http_reason(code), (int) mime.len, mime.buf, etag, lm,
            range_hdr, gz ? "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n" : "",
            extra, u64str(len, cl));
  if (head || len == 0) {
    fs->cl(fd);
    mg_http_response_done(c);
    return;
  }
  struct mg_http_state *st = mg_http_state(c);
  bool zc = st != NULL && len >= MG_HTTP_SENDFILE_MIN &&
            zero_copy_ok(c, fs, fd, &os_fd);
  if (st != NULL && (zc || len > MG_HTTP_STREAM_BUF)) {
    mg_http_file_done(st); /* a previous stream, should one be unfinished */
    st->fd = fd, st->fs = fs, st->remaining = len;
    st->zero_copy = zc, st->os_fd = os_fd, st->offset = start;
    mg_http_pump(c, st);
    return;
  }
  /* Small file, or a connection without HTTP state: send it all now. */
  if (!send_from_file(c, fs, fd, &len, (size_t) len)) c->is_draining = 1;
  fs->cl(fd);
  mg_http_response_done(c);
}

void mg_http_serve_file(struct mg_connection *c, struct mg_http_message *hm,
                        const char *path,
                        const struct mg_http_serve_opts *opts) {
  serve_path(c, hm, path, 200, opts, NULL);
}

/* ---- Directories ---- */

/* Decodes the URI path and appends it to root, refusing anything that could
 * leave root: "..", NUL, backslashes, bad escapes, and on Windows ':' (a
 * drive letter, or an NTFS stream such as "a.txt::$DATA"). Returns false if
 * so. */
static bool build_path(const struct mg_str uri, const char *root, char *buf,
                       size_t len) {
  char dec[MG_PATH_MAX];
  int n = (int) mg_url_decode(uri.buf, uri.len, dec, sizeof(dec), false);
  size_t rl = strlen(root);
  if (n < 0 || uri.len == 0 || uri.buf[0] != '/') return false;
  if (memchr(dec, '\0', (size_t) n) != NULL || memchr(dec, '\\', (size_t) n))
    return false;
#if MG_ARCH == MG_ARCH_WIN32
  if (memchr(dec, ':', (size_t) n) != NULL) return false;
#endif
  /* Every segment is checked; "." and ".." are both refused. */
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && dec[j] != '/') j++;
    int sl = j - i;
    if ((sl == 1 && dec[i] == '.') || (sl == 2 && dec[i] == '.' && dec[i + 1] == '.'))
      return false;
    i = j + 1;
  }
  while (rl > 1 && root[rl - 1] == '/') rl--;
  if (rl + (size_t) n + 1 > len) return false;
  memcpy(buf, root, rl);
  memcpy(buf + rl, dec, (size_t) n + 1);
  return true;
}

/* True when realpath(path) lies inside realpath(root). */
/* True when canonical path p is root r or lies below it. */
static bool has_dir_prefix(const char *p, const char *r, size_t rl) {
  if (rl == 1 && r[0] == '/') return true;
  return strncmp(r, p, rl) == 0 && (p[rl] == '\0' || p[rl] == '/');
}

/* True when no component of path below root (path = root + "/...", as
 * build_path made it, without "." or "..") is a symbolic link: then path
 * resolves below whatever root resolves to. One lst per component is much
 * cheaper than resolving the whole path (a readlink per component of it).
 * last_plain: the caller already knows the last component is no link. */
static bool no_links_below(const struct mg_fs *fs, const char *root,
                           char *path, bool last_plain) {
  size_t rl = strlen(root), n = strlen(path);
  while (rl > 1 && root[rl - 1] == '/') rl--;
  for (size_t i = rl + 1; i <= n; i++) {
    if (i < n && path[i] != '/') continue;
    if (i == n && last_plain) break;
    if (path[i - 1] == '/') continue; /* empty component ("//", trailing) */
    char saved = path[i];
    path[i] = '\0';
    unsigned flags = fs->lst(path, NULL, NULL);
    path[i] = saved;
    if (flags == 0 || (flags & MG_FS_LINK)) return false;
  }
  return true;
}

/* True when realpath(path) lies inside realpath(root). */
static bool inside_root(const struct mg_fs *fs, const char *root,
                        char *path, bool last_plain) {
  char r[MG_PATH_MAX], p[MG_PATH_MAX];
  size_t rl = strlen(root);
  if (fs->rp == NULL) return true; /* no links on this file system */
  if (fs->lst != NULL && no_links_below(fs, root, path, last_plain))
    return true;
  if (!fs->rp(path, p, sizeof(p))) return false;
  /* Fast path: a prefix of a canonical path is canonical itself, so if p
   * starts with root as written, root is its own realpath. */
  while (rl > 1 && root[rl - 1] == '/') rl--;
  if (has_dir_prefix(p, root, rl)) return true;
  if (!fs->rp(root, r, sizeof(r))) return false;
  return has_dir_prefix(p, r, strlen(r));
}

struct listing {
  struct mg_iobuf out;
  const struct mg_fs *fs;
  const char *dir;
};

static void append(struct mg_iobuf *io, const char *s, size_t n) {
  mg_iobuf_add(io, io->len, s, n);
}

static void appends(struct mg_iobuf *io, const char *s) {
  append(io, s, strlen(s));
}

static void append_escaped_html(struct mg_iobuf *io, const char *s) {
  for (; *s != '\0'; s++) {
    switch (*s) {
      case '<': appends(io, "&lt;"); break;
      case '>': appends(io, "&gt;"); break;
      case '&': appends(io, "&amp;"); break;
      case '"': appends(io, "&quot;"); break;
      case '\'': appends(io, "&#39;"); break;
      default: append(io, s, 1);
    }
  }
}

static void append_escaped_url(struct mg_iobuf *io, const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char) *s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL) {
      append(io, s, 1);
    } else {
      char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
      append(io, e, 3);
    }
  }
}

static void list_entry(const char *name, void *arg) {
  struct listing *l = (struct listing *) arg;
  char path[MG_PATH_MAX], sz[21], date[40];
  uint64_t size = 0;
  int64_t mtime = 0;
  unsigned flags = 0;
  if (mg_snprintf(path, sizeof(path), "%s/%s", l->dir, name) < sizeof(path))
    flags = l->fs->st(path, &size, &mtime);
  http_date(mtime, date, sizeof(date));
  appends(&l->out, "<tr><td><a href=\"");
  append_escaped_url(&l->out, name);
  if (flags & MG_FS_DIR) appends(&l->out, "/");
  appends(&l->out, "\">");
  append_escaped_html(&l->out, name);
  if (flags & MG_FS_DIR) appends(&l->out, "/");
  appends(&l->out, "</a></td><td>");
  if (flags & MG_FS_DIR) {
    appends(&l->out, "[DIR]");
  } else {
    u64str(size, sz);
    append(&l->out, sz, strlen(sz));
  }
  appends(&l->out, "</td><td>");
  append(&l->out, date, strlen(date));
  appends(&l->out, "</td></tr>\n");
}

static void listdir(struct mg_connection *c, struct mg_http_message *hm,
                    const char *dir, const struct mg_http_serve_opts *opts,
                    const struct mg_fs *fs) {
  struct listing l;
  char title[MG_PATH_MAX];
  const char *extra = opts->extra_headers != NULL ? opts->extra_headers : "";
  memset(&l, 0, sizeof(l));
  mg_iobuf_init(&l.out, 0, 1024);
  l.fs = fs, l.dir = dir;
  if ((int) mg_url_decode(hm->uri.buf, hm->uri.len, title, sizeof(title),
                         false) < 0)
    title[0] = '\0';
  appends(&l.out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
  append_escaped_html(&l.out, title);
  appends(&l.out, "</title></head>\n<body><h1>Index of ");
  append_escaped_html(&l.out, title);
  appends(&l.out,
          "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th>"
          "</tr>\n<tr><td><a href=\"../\">../</a></td><td>[DIR]</td>"
          "<td></td></tr>\n");
  if (fs->ls != NULL) fs->ls(dir, list_entry, &l);
  appends(&l.out, "</table>\n</body></html>\n");
  mg_printf(c,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            "%sContent-Length: %lu\r\n\r\n",
            extra, (unsigned long) l.out.len);
  if (!mg_str_eq(hm->method, "HEAD")) mg_send(c, l.out.buf, l.out.len);
  mg_iobuf_free(&l.out);
  mg_http_response_done(c);
}

static void not_found(struct mg_connection *c, struct mg_http_message *hm,
                      const struct mg_http_serve_opts *opts) {
  const struct mg_fs *fs = default_fs(opts);
  if (opts->page404 != NULL && opts->page404[0] != '\0' && fs != NULL &&
      (fs->st(opts->page404, NULL, NULL) & MG_FS_READ)) {
    serve_path(c, hm, opts->page404, 404, opts, NULL);
  } else {
    send_status(c, 404, opts->extra_headers, "Not Found\n");
  }
}

void mg_http_serve_dir(struct mg_connection *c, struct mg_http_message *hm,
                       const struct mg_http_serve_opts *opts) {
  const struct mg_fs *fs = default_fs(opts);
  const char *root = opts->root_dir != NULL && opts->root_dir[0] != '\0'
                         ? opts->root_dir
                         : ".";
  char path[MG_PATH_MAX];
  unsigned flags;
  if (fs == NULL) {
    not_found(c, hm, opts);
    return;
  }
  if (!build_path(hm->uri, root, path, sizeof(path))) {
    send_status(c, 400, opts->extra_headers, "Invalid path");
    return;
  }
  struct known_stat ks;
  /* lst answers like st for anything but a link, and tells the link check
   * below that the last component is none: one call fewer per request. A
   * trailing slash makes lstat follow a link, so it proves nothing then. */
  bool last_plain = false;
  if (fs->lst != NULL && fs->rp != NULL) {
    flags = fs->lst(path, &ks.size, &ks.mtime);
    if (flags & MG_FS_LINK) {
      flags = fs->st(path, &ks.size, &ks.mtime);
    } else {
      last_plain = path[strlen(path) - 1] != '/';
    }
  } else {
    flags = fs->st(path, &ks.size, &ks.mtime);
  }
  ks.flags = flags;
  if (flags == 0) {
    not_found(c, hm, opts);
    return;
  }
  if (!inside_root(fs, root, path, last_plain)) {
    send_status(c, 400, opts->extra_headers, "Invalid path");
    return;
  }
  if (flags & MG_FS_DIR) {
    if (hm->uri.len == 0 || hm->uri.buf[hm->uri.len - 1] != '/') {
      mg_printf(c,
                "HTTP/1.1 301 Moved Permanently\r\nLocation: %.*s/%s%.*s\r\n"
                "%sContent-Length: 0\r\n\r\n",
                (int) hm->uri.len, hm->uri.buf, hm->query.len ? "?" : "",
                (int) hm->query.len, hm->query.buf,
                opts->extra_headers != NULL ? opts->extra_headers : "");
      mg_http_response_done(c);
      return;
    }
    size_t pl = strlen(path);
    if (pl + 12 < sizeof(path)) {
      mg_snprintf(path + pl, sizeof(path) - pl, "%sindex.html",
                  pl > 0 && path[pl - 1] == '/' ? "" : "/");
      if (fs->st(path, NULL, NULL) & MG_FS_READ) {
        /* The index file may be a link of its own. */
        if (inside_root(fs, root, path, false)) {
          serve_path(c, hm, path, 200, opts, NULL);
        } else {
          send_status(c, 400, opts->extra_headers, "Invalid path");
        }
        return;
      }
      path[pl] = '\0';
    }
    listdir(c, hm, path, opts, fs);
    return;
  }
  serve_path(c, hm, path, 200, opts, &ks);
}

#endif /* MG_ENABLE_HTTP */
