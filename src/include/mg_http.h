/* HTTP/1.1: sans-IO message parser, reply helpers, static files, multipart,
 * and the glue that turns a connection into an HTTP server or client
 * (src/proto/http*.c). */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include "mg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most header fields a message may carry; all of them are exposed. A request
 * with more gets 431 and the connection closes, a response with more is an
 * error: a field past the limit must never be ignored, since a framing field
 * (Content-Length, Transfer-Encoding) left unseen would let a body be read as
 * a second request. Each field costs 32 bytes (64-bit) of every
 * struct mg_http_message, which lives on the stack. */
#ifndef MG_MAX_HTTP_HEADERS
#if MG_ARCH_HOSTED
#define MG_MAX_HTTP_HEADERS 100
#else
#define MG_MAX_HTTP_HEADERS 30 /* small stacks */
#endif
#endif

/* Largest accepted request/status line plus headers, in bytes (431 past it).
 * Large enough for a 100 KB cookie or token header. */
#ifndef MG_HTTP_MAX_HEAD_SIZE
#if MG_MAX_RECV_SIZE >= 1048576UL
#define MG_HTTP_MAX_HEAD_SIZE (256UL * 1024UL)
#else
#define MG_HTTP_MAX_HEAD_SIZE (MG_MAX_RECV_SIZE / 4) /* small devices */
#endif
#endif

/* Longest request method accepted (400 past it), so junk made of token
 * characters is refused without waiting for a line end. */
#ifndef MG_HTTP_MAX_METHOD
#define MG_HTTP_MAX_METHOD 32
#endif

/* Largest body held in memory for one message (413 past it). The whole
 * message must fit in the receive buffer, so keep it below MG_MAX_RECV_SIZE. */
#ifndef MG_HTTP_MAX_BODY_SIZE
#define MG_HTTP_MAX_BODY_SIZE (MG_MAX_RECV_SIZE - MG_HTTP_MAX_HEAD_SIZE)
#endif

/* A connection with no complete request for this long is closed (server).
 * While a body arrives, each such period must also bring at least
 * MG_HTTP_BODY_MIN_RATE bytes per second (mg_config.h). */
#ifndef MG_HTTP_IDLE_TIMEOUT_MS
#define MG_HTTP_IDLE_TIMEOUT_MS 30000
#endif

/* A server connection with nothing to do (no request pending or unanswered,
 * nothing buffered either way, no file streaming) is closed after this long
 * without traffic: a fresh connection that never sends, or a keep-alive
 * connection between requests, cannot hold a slot for ever (firmware has
 * few). Responses still being produced (long polls, SSE) keep it open. */
#ifndef MG_HTTP_KEEPALIVE_MS
#define MG_HTTP_KEEPALIVE_MS 60000
#endif

/* Longest file system path built by the static file server. */
#ifndef MG_PATH_MAX
#define MG_PATH_MAX 512
#endif

struct mg_http_header {
  struct mg_str name;  /* original case */
  struct mg_str value; /* surrounding whitespace removed */
};

/* A parsed request or response. Every mg_str points into the buffer that was
 * parsed. For a response, method holds the protocol ("HTTP/1.1"), uri the
 * status code ("200") and proto the reason phrase ("OK"). */
struct mg_http_message {
  struct mg_str method, uri, query, proto;
  struct mg_http_header headers[MG_MAX_HTTP_HEADERS];
  struct mg_str body;    /* body (de-chunked once complete) */
  struct mg_str head;    /* start line and headers, blank line included */
  struct mg_str message; /* head and body */
};

/* Negative results of the parsers, mapped to response codes by the server. */
enum {
  MG_HTTP_ERR_BAD = -1,      /* malformed: 400 */
  MG_HTTP_ERR_HEAD_BIG = -2, /* start line + headers too large: 431 */
  MG_HTTP_ERR_BODY_BIG = -3, /* declared body too large: 413 */
  MG_HTTP_ERR_TE = -4,       /* unsupported transfer coding: 501 */
  MG_HTTP_ERR_FIELDS = -5,   /* more than MG_MAX_HTTP_HEADERS fields: 431 */
  MG_HTTP_ERR_VERSION = -6   /* request names a major version other than 1: 505 */
};

/* Body framing of a parsed head. */
enum {
  MG_HTTP_BODY_LENGTH,  /* exactly Content-Length bytes (0 when absent) */
  MG_HTTP_BODY_CHUNKED, /* chunked transfer coding */
  MG_HTTP_BODY_TO_CLOSE /* response delimited by the end of the connection */
};

/* Parses the head (start line + headers) at the start of buf. Returns the
 * head's length including the blank line, 0 when it is not complete yet, or an
 * MG_HTTP_ERR_* value. On success hm->head is set, hm->body is empty and
 * hm->message equals hm->head. Leading empty lines are skipped (and counted).
 * Responses are recognised by a start line beginning with "HTTP/".
 * An incomplete head is checked as far as it goes, so input that cannot
 * become a valid head (a TLS hello, binary, a bad method character, a
 * complete but malformed start line or header line, too many fields) is an
 * error at once rather than "need more". A method is at most
 * MG_HTTP_MAX_METHOD characters; a request naming an HTTP major version
 * other than 1 is MG_HTTP_ERR_VERSION. */
int mg_http_parse(const char *buf, size_t len, struct mg_http_message *hm);

/* RFC 9112 rules a server applies to a parsed request head beyond its syntax:
 * a request with more than one Host field or an invalid Host value
 * (uri-host [":" port], RFC 9110 7.2; empty is allowed), an HTTP/1.1 request
 * without Host, or a response where a request belongs is MG_HTTP_ERR_BAD.
 * Returns 0 when the request is acceptable. */
int mg_http_check_request(const struct mg_http_message *hm);

/* Works out how the body following a successfully parsed head is framed:
 * returns one of MG_HTTP_BODY_* and stores the Content-Length (0 otherwise)
 * in *clen, or an MG_HTTP_ERR_* value (conflicting/negative/garbage
 * Content-Length, both Content-Length and chunked, unknown coding in a
 * request). is_head_req: the response answers a HEAD request (no body). */
int mg_http_body_framing(const struct mg_http_message *hm, bool is_head_req,
                         uint64_t *clen);

/* Scans a chunked body at the start of buf. Returns the number of wire bytes
 * it occupies (chunks, last chunk and trailers), 0 when incomplete, or an
 * MG_HTTP_ERR_* value. *body_len receives the decoded size. */
long mg_http_chunked_len(const char *buf, size_t len, size_t *body_len);

/* Decodes a complete chunked body (as validated by mg_http_chunked_len) in
 * place; returns the decoded length. */
size_t mg_http_dechunk(char *buf, size_t wire_len);

/* Frames one whole message at the start of buf: head and complete body.
 * Returns its total wire length (hm->message.len), 0 when more bytes are
 * needed, or an MG_HTTP_ERR_* value. For a chunked body hm->body spans the
 * raw chunks (decode with mg_http_dechunk). A MG_HTTP_BODY_TO_CLOSE response
 * is never complete here (see *framing); the caller ends it at close. */
long mg_http_frame(const char *buf, size_t len, bool is_head_req,
                   struct mg_http_message *hm, int *framing);

/* First header named name (case-insensitive), or NULL. */
struct mg_str *mg_http_get_header(struct mg_http_message *hm, const char *name);

/* Value of parameter v inside a header value s, e.g. boundary in
 * `multipart/form-data; boundary="x"` (quotes removed). Empty if missing. */
struct mg_str mg_http_get_header_var(struct mg_str s, struct mg_str v);

/* URL-decoded value of variable name in an &-separated query/form buffer.
 * Returns the decoded length (0 when the variable is empty), -1 when it is
 * absent or buf empty, -2 when dst is too small (dst always NUL-terminated
 * when dst_len > 0), -3 on bad percent-encoding. */
int mg_http_get_var(const struct mg_str *buf, const char *name, char *dst,
                    size_t dst_len);

/* Credentials of a request: "Authorization: Basic" fills user and pass,
 * "Authorization: Bearer <token>" or an access_token query variable fill pass
 * only. Both buffers are NUL-terminated (empty when absent or too long). */
void mg_http_creds(struct mg_http_message *hm, char *user, size_t ulen,
                   char *pass, size_t plen);

/* Status code of a response (0 for a request or garbage). */
int mg_http_status(const struct mg_http_message *hm);

/* Standard reason phrase of a status code ("" when unknown). */
const char *mg_http_reason(int status);

/* ---- Responses ---- */

/* Queues a whole response: status line, headers (zero or more complete
 * "Name: value\r\n" lines, may be NULL), Content-Length unless headers carry
 * Transfer-Encoding, blank line, body (exact bytes, NULs allowed). The body is
 * left out when the request being answered was a HEAD. */
void mg_http_reply_n(struct mg_connection *c, int status, const char *headers,
                     const void *body, size_t body_len);
/* The same with a printf-style body. */
void mg_http_reply(struct mg_connection *c, int status, const char *headers,
                   const char *fmt, ...);
/* One chunk of chunked transfer coding; len 0 writes the last chunk. */
void mg_http_write_chunk(struct mg_connection *c, const void *buf, size_t len);
void mg_http_printf_chunk(struct mg_connection *c, const char *fmt, ...);
/* One server-sent event as one chunk: "event: t\ndata: d\n\n". */
void mg_http_sse(struct mg_connection *c, const char *type, const char *data);

/* ---- Static files ---- */

/* File system access used by the static file server, so a ROM file system can
 * replace the POSIX one on devices. */
#define MG_FS_READ 1u
#define MG_FS_DIR 2u
#define MG_FS_LINK 4u /* from lst only: a symbolic link */
struct mg_fs {
  /* Returns MG_FS_* flags (0 = does not exist); size and mtime (seconds since
   * the Unix epoch) may be NULL. */
  unsigned (*st)(const char *path, uint64_t *size, int64_t *mtime);
  /* Calls fn once per entry name of a directory (not "." or ".."). */
  void (*ls)(const char *path, void (*fn)(const char *name, void *arg),
             void *arg);
  void *(*op)(const char *path);                     /* open for reading */
  void (*cl)(void *fd);                              /* close */
  size_t (*rd)(void *fd, void *buf, size_t len);     /* read, 0 at end */
  bool (*sk)(void *fd, uint64_t offset);             /* seek from start */
  /* Canonical path with symlinks resolved (NULL when the file system has no
   * links); false when it cannot be resolved. */
  bool (*rp)(const char *path, char *buf, size_t len);
  /* Writing, used by mg_http_upload (NULL on a read-only file system):
   * open for appending, creating the file, emptied first when truncate. */
  void *(*ow)(const char *path, bool truncate);
  size_t (*wr)(void *fd, const void *buf, size_t len); /* bytes written */
  /* OS file descriptor behind a handle from op, so a transport can send the
   * file without copying it (sendfile); NULL, or -1 returned, when the file
   * system has none (ROM / packed file systems). */
  int (*os_fd)(void *fd);
  /* Like st, but a symbolic link is not followed: MG_FS_LINK. Optional; it
   * lets the static file server check for links below its root with one
   * cheap call per path component instead of resolving rp each time. */
  unsigned (*lst)(const char *path, uint64_t *size, int64_t *mtime);
};
#if MG_ARCH_HOSTED /* POSIX, and Windows through its C runtime */
extern const struct mg_fs mg_fs_posix;
#endif

struct mg_http_serve_opts {
  const char *root_dir;      /* serve_dir: directory to serve */
  const char *extra_headers; /* raw "Name: value\r\n" lines, may be NULL */
  const char *mime_types;    /* "ext=type,ext2=type2" overrides, may be NULL */
  const char *page404;       /* file served for missing paths, may be NULL */
  const struct mg_fs *fs;    /* NULL = the platform's default */
};

/* Serves the file the request's URI names under opts->root_dir: index.html
 * for directories (else a listing), 301 for directories without a trailing
 * slash, 400 "Invalid path" for escapes, 404 (or page404) when missing. */
void mg_http_serve_dir(struct mg_connection *c, struct mg_http_message *hm,
                       const struct mg_http_serve_opts *opts);
/* Serves exactly path with Range, ETag and Last-Modified support. */
void mg_http_serve_file(struct mg_connection *c, struct mg_http_message *hm,
                        const char *path,
                        const struct mg_http_serve_opts *opts);

/* ---- Streaming upload ---- */

/* Stores one chunk of a file upload: the request's body is written at the
 * query's offset=N into dir/NAME (file=NAME) through fs (NULL = platform
 * default). offset 0 starts the file afresh; any other offset must equal the
 * file's current size. Answers the request itself: 200 with the new size as
 * body, 400 for a bad name (empty, '/', '\\', "..", NUL) or offset, 413 when
 * the file would exceed max_size, 500 when writing fails. Returns the new
 * size, or -1 after an error reply. */
long mg_http_upload(struct mg_connection *c, struct mg_http_message *hm,
                    const struct mg_fs *fs, const char *dir, size_t max_size);

/* ---- Multipart ---- */

struct mg_http_part {
  struct mg_str name;     /* form field name */
  struct mg_str filename; /* empty for plain fields */
  struct mg_str body;
};

/* Parses the part of a multipart/form-data body starting at ofs (the boundary
 * is taken from the body's first line). Returns the offset of the next part,
 * or 0 when there is none (end or malformed). part may be NULL. */
size_t mg_http_next_multipart(struct mg_str body, size_t ofs,
                              struct mg_http_part *part);

/* ---- Server and client glue ---- */

/* The protocol handler (c->pfn) of HTTP connections. It parses c->recv and
 * emits MG_EV_HTTP_HDRS / MG_EV_HTTP_MSG. Its per-connection state lives in
 * c->pfn_data; a protocol that takes over c->pfn from inside an HTTP event
 * (e.g. a WebSocket upgrade) may overwrite c->pfn_data: the HTTP layer frees
 * its own state when it notices the switch. */
void mg_http_handler(struct mg_connection *c, int ev, void *ev_data);
/* Marks c as HTTP (sets pfn); used by the listen/connect wrappers. On a
 * client it also wraps c->fn so the requests the application queues are read
 * back from c->send before they leave: responses to HEAD requests then end
 * after their head despite a Content-Length (see http_client.c). */
void mg_http_attach(struct mg_connection *c);

/* Per-connection limit for receiving one request (default
 * MG_HTTP_IDLE_TIMEOUT_MS): a request whose head does not complete in time,
 * or whose body stops arriving for that long, gets 408 and the connection
 * closes. It is also the window of the body rate check below. Idle
 * keep-alive connections with nothing buffered are left to the keep-alive
 * limit below. ms 0 restores the default; a request already pending gets the
 * new limit from now on. */
void mg_http_set_request_timeout(struct mg_connection *c, uint32_t ms);
/* Per-connection minimum rate of a request body being received (default
 * MG_HTTP_BODY_MIN_RATE, see there): over each period of the request timeout
 * the body must bring bytes_per_s bytes per second on average, else the
 * request gets 408, the connection closes and MG_EV_ERROR reports "HTTP body
 * too slow". Every byte read counts, also bytes a handler removes from
 * c->recv itself. 0 switches the check off for this connection. */
void mg_http_set_body_min_rate(struct mg_connection *c, uint32_t bytes_per_s);
/* Per-connection limit for an idle server connection (default
 * MG_HTTP_KEEPALIVE_MS, see there); it is closed quietly, without
 * MG_EV_ERROR, since ending an idle keep-alive connection is normal HTTP.
 * ms 0 restores the default. */
void mg_http_set_keepalive_timeout(struct mg_connection *c, uint32_t ms);

struct mg_connection *mg_http_listen(struct mg_mgr *mgr, const char *url,
                                     mg_event_handler_t fn, void *fn_data);
struct mg_connection *mg_http_connect(struct mg_mgr *mgr, const char *url,
                                      mg_event_handler_t fn, void *fn_data);

#ifdef __cplusplus
}
#endif
#endif /* MG_HTTP_H */
