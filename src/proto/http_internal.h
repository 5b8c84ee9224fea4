/* Private to src/proto/http*.c: per-connection HTTP state. */
#ifndef MG_HTTP_INTERNAL_H
#define MG_HTTP_INTERNAL_H

#include "mg.h"

/* Static file bytes kept queued in the send buffer while streaming. */
#ifndef MG_HTTP_STREAM_BUF
#define MG_HTTP_STREAM_BUF (256UL * 1024UL)
#endif

/* Files (or ranges) at least this large go out zero-copy when the transport
 * offers send_file; smaller ones are cheaper read into c->send behind the
 * headers, leaving in one write. */
#ifndef MG_HTTP_SENDFILE_MIN
#define MG_HTTP_SENDFILE_MIN (64UL * 1024UL)
#endif
/* Most bytes handed to send_file at once, so one big download cannot hold
 * the event loop for long. */
#ifndef MG_HTTP_SENDFILE_MAX
#define MG_HTTP_SENDFILE_MAX (1024UL * 1024UL)
#endif

/* A server that refuses a request (400, 408, 413, 431, 505...) keeps reading
 * and discarding input until the client has been quiet for
 * MG_HTTP_LINGER_QUIET_MS, at most MG_HTTP_LINGER_MS, before it closes:
 * closing with unread input makes the kernel send a reset, which can destroy
 * the answer before the client reads it. */
#ifndef MG_HTTP_LINGER_MS
#define MG_HTTP_LINGER_MS 1000
#endif
#ifndef MG_HTTP_LINGER_QUIET_MS
#define MG_HTTP_LINGER_QUIET_MS 100
#endif

struct mg_http_state {
  uint64_t expire;         /* mg_millis() deadline for the pending request */
  size_t scanned;          /* recv bytes searched for the end of the head */
  void *fd;                /* static file being streamed, NULL when none */
  const struct mg_fs *fs;  /* its file system */
  uint64_t remaining;      /* file bytes still to send */
  uint64_t offset;         /* zero-copy: file offset of the next byte */
  int os_fd;               /* zero-copy: the file's OS descriptor */
  size_t unreported;       /* zero-copy: bytes sent, MG_EV_WRITE pending */
  uint32_t timeout_ms;     /* request timeout, 0 = MG_HTTP_IDLE_TIMEOUT_MS */
  uint32_t keepalive_ms;   /* idle limit, 0 = MG_HTTP_KEEPALIVE_MS */
  uint64_t last_io;        /* server: mg_millis() of the last traffic */
  /* Server: the body being received must bring body_rate bytes/s over each
   * window of the request timeout, counted from body_t0 (0 = no body
   * pending). */
  uint32_t body_rate;      /* bytes/s, 0 = no minimum */
  uint64_t body_t0;        /* mg_millis() when this window began */
  uint64_t body_got;       /* bytes received in this window */
  /* Server, after a refusal: input is discarded until linger_quiet (pushed
   * back by each read), at most until linger_end; 0 = not lingering. */
  uint64_t linger_quiet, linger_end;
  /* Requests parsed but not answered yet, oldest in bit 0, so replies given
   * later (or to pipelined requests) still match their request: */
  uint32_t q_head;         /* it was a HEAD: answer without a body */
  uint32_t q_close;        /* it asked to close after its response */
  uint8_t q_len;
  unsigned hdrs_done : 1;  /* MG_EV_HTTP_HDRS delivered for current message */
  unsigned line_seen : 1;  /* a line end of the current head has arrived */
  unsigned continued : 1;  /* "100 Continue" sent for current message */
  unsigned to_close : 1;   /* client: response body runs until close */
  unsigned zero_copy : 1;  /* the file goes out through net->send_file */
  unsigned pumping : 1;    /* raising MG_EV_WRITE for zero-copy bytes */
  unsigned paused : 1;     /* buffered requests wait: send is backlogged */
  /* Client: the application writes requests itself, so their methods are
   * read back from c->send before the bytes leave (see http_client.c) and
   * queued in q_head/q_len, letting HEAD responses skip their body. */
  unsigned out_chunked : 1; /* inside a chunked request body */
  unsigned out_lost : 1;    /* request bytes left unseen: stop sniffing */
  size_t out_pos;           /* c->send bytes already examined */
  uint64_t out_skip;        /* request body bytes still to step over */
  mg_event_handler_t user_fn; /* application handler behind the wrapper */
};

/* Client: examines requests queued in c->send since the last call. */
void mg_http_sniff(struct mg_connection *c, struct mg_http_state *st);
/* Client: bytes left c->send (MG_EV_WRITE). */
void mg_http_sniff_sent(struct mg_http_state *st, size_t n);
/* Client: puts the request sniffer behind the application's c->fn. */
void mg_http_client_wrap(struct mg_connection *c);
/* Client: gives the application's handler back its place in c->fn before
 * the state goes away. */
void mg_http_client_release(struct mg_connection *c, struct mg_http_state *st);

/* State of an HTTP connection, allocated on first use; NULL when c is not
 * (or no longer) handled by mg_http_handler, or memory is exhausted. */
struct mg_http_state *mg_http_state(struct mg_connection *c);

/* Tops the send buffer up from the file being streamed; closes the file at
 * its end. */
void mg_http_pump(struct mg_connection *c, struct mg_http_state *st);

/* Raises MG_EV_WRITE for bytes the zero-copy path sent (outside the
 * transport's own write accounting). */
void mg_http_report_sent(struct mg_connection *c, struct mg_http_state *st);

/* The request being answered (the oldest unanswered one) is a HEAD. */
bool mg_http_answering_head(struct mg_connection *c);

/* Called when a whole response has been queued: closes the connection after
 * it is flushed if the request asked for that (Connection: close, HTTP/1.0). */
void mg_http_response_done(struct mg_connection *c);

/* Closes the file being streamed, if any. */
void mg_http_file_done(struct mg_http_state *st);

#endif /* MG_HTTP_INTERNAL_H */
