/* Private to src/proto/http*.c: per-connection HTTP state. */
#ifndef MG_HTTP_INTERNAL_H
#define MG_HTTP_INTERNAL_H

#include "mg.h"

/* Static file bytes kept queued in the send buffer while streaming. */
#ifndef MG_HTTP_STREAM_BUF
#define MG_HTTP_STREAM_BUF (256UL * 1024UL)
#endif

struct mg_http_state {
  uint64_t expire;         /* mg_millis() deadline for the pending request */
  size_t scanned;          /* recv bytes searched for the end of the head */
  void *fd;                /* static file being streamed, NULL when none */
  const struct mg_fs *fs;  /* its file system */
  uint64_t remaining;      /* file bytes still to send */
  uint32_t timeout_ms;     /* request timeout, 0 = MG_HTTP_IDLE_TIMEOUT_MS */
  /* Requests parsed but not answered yet, oldest in bit 0, so replies given
   * later (or to pipelined requests) still match their request: */
  uint32_t q_head;         /* it was a HEAD: answer without a body */
  uint32_t q_close;        /* it asked to close after its response */
  uint8_t q_len;
  unsigned hdrs_done : 1;  /* MG_EV_HTTP_HDRS delivered for current message */
  unsigned continued : 1;  /* "100 Continue" sent for current message */
  unsigned to_close : 1;   /* client: response body runs until close */
};

/* State of an HTTP connection, allocated on first use; NULL when c is not
 * (or no longer) handled by mg_http_handler, or memory is exhausted. */
struct mg_http_state *mg_http_state(struct mg_connection *c);

/* Tops the send buffer up from the file being streamed; closes the file at
 * its end. */
void mg_http_pump(struct mg_connection *c, struct mg_http_state *st);

/* The request being answered (the oldest unanswered one) is a HEAD. */
bool mg_http_answering_head(struct mg_connection *c);

/* Called when a whole response has been queued: closes the connection after
 * it is flushed if the request asked for that (Connection: close, HTTP/1.0). */
void mg_http_response_done(struct mg_connection *c);

/* Closes the file being streamed, if any. */
void mg_http_file_done(struct mg_http_state *st);

#endif /* MG_HTTP_INTERNAL_H */
