/* Writing HTTP responses: whole replies, chunks, server-sent events. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* True when a header block carries a Transfer-Encoding line. */
static bool has_transfer_encoding(const char *headers) {
  struct mg_str rest = mg_str(headers), line;
  while (rest.len > 0) {
    mg_str_split(rest, '\n', &line, &rest);
    if (mg_str_starts_with(mg_str_trim(line), "Transfer-Encoding:", true))
      return true;
  }
  return false;
}

void mg_http_reply_n(struct mg_connection *c, int status, const char *headers,
                     const void *body, size_t body_len) {
  bool head = mg_http_answering_head(c);
  bool te = headers != NULL && has_transfer_encoding(headers);
  char line[96];
  size_t n;
  if (headers == NULL) headers = "";
  n = mg_snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status,
                  mg_http_reason(status));
  mg_send(c, line, n);
  mg_send(c, headers, strlen(headers));
  if (!te) {
    /* HEAD: announce the length the GET would have, send no body. */
    n = mg_snprintf(line, sizeof(line), "Content-Length: %lu\r\n\r\n",
                    (unsigned long) body_len);
    mg_send(c, line, n);
  } else {
    mg_send(c, "\r\n", 2);
  }
  if (!head) mg_send(c, body, body_len);
  if (!te) mg_http_response_done(c); /* else the last chunk ends it */
}

void mg_http_reply(struct mg_connection *c, int status, const char *headers,
                   const char *fmt, ...) {
  char small[256], *p;
  size_t n;
  va_list ap;
  va_start(ap, fmt);
  p = mg_vmprintf(small, sizeof(small), &n, fmt, ap);
  va_end(ap);
  mg_http_reply_n(c, status, headers, p, n);
  if (p != small) free(p);
}

void mg_http_write_chunk(struct mg_connection *c, const void *buf,
                         size_t len) {
  char hdr[24];
  size_t n = mg_snprintf(hdr, sizeof(hdr), "%lx\r\n", (unsigned long) len);
  mg_send(c, hdr, n);
  mg_send(c, buf, len);
  mg_send(c, "\r\n", 2);
  if (len == 0) mg_http_response_done(c);
}

void mg_http_printf_chunk(struct mg_connection *c, const char *fmt, ...) {
  char small[256], *p;
  size_t n;
  va_list ap;
  va_start(ap, fmt);
  p = mg_vmprintf(small, sizeof(small), &n, fmt, ap);
  va_end(ap);
  /* An empty formatted chunk would end the stream by accident. */
  if (n > 0) mg_http_write_chunk(c, p, n);
  if (p != small) free(p);
}

void mg_http_sse(struct mg_connection *c, const char *type, const char *data) {
  size_t tl = strlen(type), dl = strlen(data);
  size_t total = 7 + tl + 7 + dl + 2;
  char hdr[24];
  size_t n = mg_snprintf(hdr, sizeof(hdr), "%lx\r\n", (unsigned long) total);
  mg_send(c, hdr, n);
  mg_send(c, "event: ", 7);
  mg_send(c, type, tl);
  mg_send(c, "\ndata: ", 7);
  mg_send(c, data, dl);
  mg_send(c, "\n\n\r\n", 4);
}

#endif /* MG_ENABLE_HTTP */
