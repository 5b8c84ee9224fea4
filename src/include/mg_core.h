/* The event core: manager, connections, events, timers, wakeup. */
#ifndef MG_CORE_H
#define MG_CORE_H

#include "mg_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Event numbers are part of the public contract (docs/api-contract.md#events). */
enum {
  MG_EV_ERROR = 0,      /* ev_data: const char *error message */
  MG_EV_OPEN = 1,       /* connection created */
  MG_EV_POLL = 2,       /* once per mg_mgr_poll() iteration */
  MG_EV_RESOLVE = 3,    /* host name resolved */
  MG_EV_CONNECT = 4,    /* outbound connection established */
  MG_EV_ACCEPT = 5,     /* inbound connection accepted */
  MG_EV_TLS_HS = 6,     /* TLS handshake done */
  MG_EV_READ = 7,       /* ev_data: long *bytes_read */
  MG_EV_WRITE = 8,      /* ev_data: long *bytes_written */
  MG_EV_CLOSE = 9,      /* last event of a connection */
  MG_EV_HTTP_HDRS = 10, /* ev_data: struct mg_http_message * */
  MG_EV_HTTP_MSG = 11,  /* ev_data: struct mg_http_message * */
  MG_EV_WS_OPEN = 12,   /* ev_data: struct mg_http_message * */
  MG_EV_WS_MSG = 13,    /* ev_data: struct mg_ws_message * */
  MG_EV_WS_CTL = 14,    /* ev_data: struct mg_ws_message * */
  MG_EV_MQTT_CMD = 15,  /* ev_data: struct mg_mqtt_message * */
  MG_EV_MQTT_MSG = 16,  /* ev_data: struct mg_mqtt_message * */
  MG_EV_MQTT_OPEN = 17, /* ev_data: int *connack_return_code */
  MG_EV_SNTP_TIME = 18, /* ev_data: int64_t *epoch_milliseconds */
  MG_EV_WAKEUP = 19,    /* ev_data: struct mg_str *payload */
  MG_EV_USER = 23       /* first number free for applications */
};

/* An IPv4 or IPv6 address with port, in network byte order. */
struct mg_addr {
  uint8_t ip[16];   /* IPv4 uses the first 4 bytes */
  uint16_t port;    /* network byte order */
  uint8_t is_ip6;
  uint32_t scope_id;
};

struct mg_connection;
struct mg_mgr;
typedef void (*mg_event_handler_t)(struct mg_connection *c, int ev,
                                   void *ev_data);

struct mg_connection {
  struct mg_connection *next; /* manager's list, newest first */
  struct mg_mgr *mgr;
  struct mg_addr loc;         /* local address */
  struct mg_addr rem;         /* remote address */
  void *fd;                   /* transport handle (socket number, stack pcb) */
  unsigned long id;           /* unique per manager, starting at 1 */
  struct mg_iobuf recv;       /* received, not yet consumed bytes */
  struct mg_iobuf send;       /* bytes waiting to be written */
  mg_event_handler_t fn;      /* user event handler */
  void *fn_data;              /* user handler's argument */
  mg_event_handler_t pfn;     /* protocol handler (HTTP, WS, MQTT ...) */
  void *pfn_data;             /* protocol handler's state */
  void *tls;                  /* TLS backend state, NULL for plain */
  uint32_t io_mask;           /* MG_IO_* interest registered by the transport */
  size_t send_high, send_low; /* backpressure marks; 0 = the manager's */
  unsigned is_listening : 1;  /* accepts connections */
  unsigned is_client : 1;     /* outbound */
  unsigned is_accepted : 1;   /* created by a listener */
  unsigned is_resolving : 1;  /* waiting for DNS */
  unsigned is_connecting : 1; /* non-blocking connect in progress */
  unsigned is_tls : 1;        /* TLS enabled */
  unsigned is_tls_hs : 1;     /* TLS handshake in progress */
  unsigned is_udp : 1;        /* datagram socket */
  unsigned is_websocket : 1;  /* upgraded to WebSocket */
  unsigned is_mqtt5 : 1;      /* speaks MQTT 5 */
  unsigned is_hexdumping : 1; /* log traffic at MG_LL_DEBUG */
  unsigned is_draining : 1;   /* flush the send buffer, then close */
  unsigned is_closing : 1;    /* close at the end of this poll iteration */
  unsigned is_full : 1;       /* reads paused (receive cap or backpressure) */
  unsigned is_throttled : 1;  /* send buffer above its high-water mark */
  unsigned is_resp : 1;       /* protocol: a response is in progress */
  unsigned is_readable : 1;   /* readable in the last poll */
  unsigned is_writable : 1;   /* writable in the last poll */
  unsigned is_wakeup : 1;     /* the manager's internal wakeup channel */
  unsigned is_half_close : 1; /* app: keep c open after the peer's end */
  unsigned is_eof : 1;        /* the peer ended its stream (half-close) */
  unsigned is_shutdown : 1;   /* end our stream once send drained */
  unsigned is_shut_done : 1;  /* our end of stream has been sent */
};

/* Readiness interest bits kept by a transport in c->io_mask. The core writes
 * eagerly and only waits for writability while MG_IO_WRITE is registered. */
#define MG_IO_READ 1u
#define MG_IO_WRITE 2u

/* Timers. flags combine the MG_TIMER_* bits. */
#define MG_TIMER_ONCE 0u
#define MG_TIMER_REPEAT 1u     /* fire every period_ms */
#define MG_TIMER_RUN_NOW 2u    /* also fire on the first poll */
#define MG_TIMER_AUTODELETE 4u /* the core frees it after its last call */
#define MG_TIMER_CANCELLED 8u  /* set by mg_timer_cancel: never fires again */
#define MG_TIMER_CALLED 16u    /* internal: has fired at least once */

struct mg_timer {
  struct mg_timer *next;
  unsigned long id;
  uint64_t period_ms;
  uint64_t expire; /* mg_millis() value of the next firing */
  unsigned flags;
  void (*fn)(void *arg);
  void *arg;
};

/* The transport contract: kernel sockets (net/sock.c) and the built-in
 * TCP/IP stack (net/stack) both implement it, so a connection never knows how
 * its bytes travel. Every function may assume c->mgr->net == this table. */
struct mg_net {
  /* Opens a listener bound to c->loc (port 0 = ephemeral; the real address is
   * written back to c->loc). Returns false with a log line on failure. */
  bool (*listen)(struct mg_connection *c);
  /* Starts a non-blocking connect to c->rem. Sets c->is_connecting, or calls
   * mg_connect_done(c) at once when it completed; on failure mg_error(). */
  void (*connect)(struct mg_connection *c);
  /* Result of a pending connect once c is readable or writable: 1 done,
   * 0 still in progress, -1 failed (the core then reports "socket error"). */
  int (*check_connect)(struct mg_connection *c);
  /* Accepts one pending connection on listener lc into new connection nc
   * (already allocated, fills nc->fd / loc / rem). Returns false if none. */
  bool (*accept)(struct mg_connection *lc, struct mg_connection *nc);
  /* Reads/writes without blocking: >0 bytes, 0 = would block, MG_IO_EOF =
   * the peer's orderly end of stream, other <0 = error. UDP: one datagram
   * per call, rem set to the sender on read. */
  long (*recv)(struct mg_connection *c, void *buf, size_t len);
  long (*send)(struct mg_connection *c, const void *buf, size_t len);
  /* Optional zero-copy file sending (e.g. sendfile(2)); NULL when the
   * transport has none. Sends head_len bytes of head (may be 0), then len
   * bytes at offset off of the OS file descriptor file, both in as few
   * packets as possible. Returns the bytes accepted, head first (0 = would
   * block, <0 = error, including a file shorter than promised). Afterwards
   * the transport reports c writable once more (is_writable, then
   * MG_EV_POLL) even though c->send may be empty, so the caller can go on.
   * Callers use it for plain (non-TLS) connections, passing c->send as the
   * head, so bytes stay in order. */
  long (*send_file)(struct mg_connection *c, const void *head,
                    size_t head_len, int file, uint64_t off, size_t len);
  /* Waits at most ms milliseconds (negative = no limit) for readiness of any
   * connection and sets is_readable/is_writable on each. */
  void (*wait)(struct mg_mgr *mgr, int ms);
  /* Releases the transport handle of c. */
  void (*close)(struct mg_connection *c);
  /* Optional (NULL = none): ends c's outgoing stream (TCP FIN) while its
   * incoming one stays open, for mg_shutdown(). */
  void (*shutdown)(struct mg_connection *c);
  /* Per-manager setup and teardown of the transport. */
  bool (*init)(struct mg_mgr *mgr);
  void (*free)(struct mg_mgr *mgr);
  /* Cross-thread wakeup: creates the channel connection, and signals it. */
  struct mg_connection *(*wakeup_init)(struct mg_mgr *mgr);
  void (*wakeup_signal)(struct mg_mgr *mgr);
};

/* One queued cross-thread wakeup (payload follows the struct). */
struct mg_wakeup_msg {
  struct mg_wakeup_msg *next;
  unsigned long conn_id;
  size_t len;
};

struct mg_mgr {
  struct mg_connection *conns; /* newest first */
  struct mg_timer *timers;
  const struct mg_net *net;    /* transport in use */
  void *net_data;              /* transport state (epoll fd, stack ...) */
  unsigned long next_id;       /* next connection id */
  unsigned long next_timer_id;
  /* Called right before (begin = true) and after (begin = false) the
   * transport blocks waiting for I/O; the Python binding releases the GIL
   * there. */
  void (*wait_hook)(struct mg_mgr *mgr, bool begin);
  void *userdata;              /* free for the embedding application */
  /* Wakeup channel, guarded by wakeup_lock; read side is wakeup_conn. */
  struct mg_connection *wakeup_conn;
  struct mg_lock *wakeup_lock;
  struct mg_wakeup_msg *wakeup_head, *wakeup_tail;
  bool wakeup_pending;         /* a signal byte is in flight */
  void *dns;                   /* DNS resolver state (proto/dns.c) */
  uint16_t mqtt_id;            /* last MQTT packet id (proto/mqtt.c) */
  void *tls;                   /* TLS backend state shared by connections */
  bool polling;                /* inside mg_mgr_poll() */
  size_t send_high, send_low;  /* default backpressure marks (MG_SEND_*) */
};

/* ---- Manager ---- */
/* Initialises mgr on the platform's default transport. */
void mg_mgr_init(struct mg_mgr *mgr);
/* Same, on a given transport (e.g. the built-in stack). */
void mg_mgr_init_net(struct mg_mgr *mgr, const struct mg_net *net);
/* One loop iteration: wait for I/O up to ms (never past the next due timer),
 * read/accept/write, run due timers, MG_EV_POLL to every connection, then
 * free connections marked closing. */
void mg_mgr_poll(struct mg_mgr *mgr, int ms);
/* Closes every connection (MG_EV_CLOSE, newest first) and frees all. */
void mg_mgr_free(struct mg_mgr *mgr);

/* ---- Connections ---- */
/* url: [tcp://|udp://|scheme://]host[:port][/path]. Returns NULL (with a log
 * line) on a malformed URL or when the transport refuses. */
struct mg_connection *mg_listen(struct mg_mgr *mgr, const char *url,
                                mg_event_handler_t fn, void *fn_data);
struct mg_connection *mg_connect(struct mg_mgr *mgr, const char *url,
                                 mg_event_handler_t fn, void *fn_data);
/* Appends bytes to the send buffer; false when memory is exhausted. */
bool mg_send(struct mg_connection *c, const void *buf, size_t len);
size_t mg_printf(struct mg_connection *c, const char *fmt, ...);
size_t mg_vprintf(struct mg_connection *c, const char *fmt, va_list ap);
/* Backpressure (see MG_SEND_HIGH_WATER): reads of c pause while its send
 * buffer holds high bytes or more, and resume once it drained to low. Marks
 * of 0 fall back to the manager's, which apply to accepted connections only
 * (outbound ones are paused only with marks of their own); high = SIZE_MAX
 * never pauses c. The
 * manager's own marks are set the same way on mgr->send_high/send_low
 * (mg_mgr_set_send_marks); a manager high of 0 turns backpressure off. */
void mg_set_send_marks(struct mg_connection *c, size_t high, size_t low);
void mg_mgr_set_send_marks(struct mg_mgr *mgr, size_t high, size_t low);
/* The marks in force for c (0 from mg_send_high: no backpressure). */
size_t mg_send_high(const struct mg_connection *c);
size_t mg_send_low(const struct mg_connection *c);
/* Re-evaluates c->is_throttled and c->is_full after c->send or c->recv
 * changed; returns c->is_throttled. Protocol handlers call it between the
 * answers to input already buffered and stop answering while it is true. */
bool mg_send_backlogged(struct mg_connection *c);
/* Marks c closing; it is torn down at the end of the current poll iteration,
 * so this is safe from inside any handler. Pending output is discarded. */
void mg_close_conn(struct mg_connection *c);
/* TCP half-close. Once c's send buffer drained, ends c's outgoing stream
 * (FIN) and keeps reading; where the transport cannot (TLS, UDP, a transport
 * without shutdown) it drains and closes instead. Set c->is_half_close
 * before the peer may finish (e.g. at MG_EV_OPEN/ACCEPT) to keep c open
 * after the peer's end of stream: c->is_eof is then set and reads stop, and
 * c closes by itself once both directions ended. Without is_half_close the
 * peer's end closes c after its pending output was written. */
void mg_shutdown(struct mg_connection *c);
/* Emits MG_EV_ERROR with the formatted text and marks c closing. */
void mg_error(struct mg_connection *c, const char *fmt, ...);
/* Dispatches an event: protocol handler first, then the user handler. */
void mg_call(struct mg_connection *c, int ev, void *ev_data);
struct mg_connection *mg_conn_by_id(struct mg_mgr *mgr, unsigned long id);

/* Allocates a zeroed connection (not yet linked, id 0); transports and
 * protocols fill it, then mg_add_conn() gives it an id and links it. */
struct mg_connection *mg_alloc_conn(struct mg_mgr *mgr);
void mg_add_conn(struct mg_connection *c);
/* Frees a connection that was never linked (e.g. a failed accept). */
void mg_free_conn(struct mg_connection *c);
/* Called by a transport when a pending connect completes. */
void mg_connect_done(struct mg_connection *c);
/* Resolves the host of url into c->rem (with the URL's port), then emits
 * MG_EV_RESOLVE; an outbound connection without a transport handle then
 * starts connecting. Numeric hosts and "localhost" resolve synchronously;
 * other names go to the asynchronous resolver when one is compiled in, else
 * fail with MG_EV_ERROR "<host> DNS lookup failed". */
void mg_resolve(struct mg_connection *c, const char *url);
void mg_resolve_cancel(struct mg_connection *c);
/* Called by a resolver when c->rem is known. */
void mg_resolve_done(struct mg_connection *c);

/* ---- Address parsing ---- */
/* Parses "host:port", "[v6]:port", "v4" or "v6" numerically into a. Does no
 * DNS. Returns false on anything else. */
bool mg_aton(struct mg_str s, struct mg_addr *a);
/* Formats ip (no port) into buf: dotted quad, or 8 groups of 4 hex digits. */
char *mg_ntoa(const struct mg_addr *a, char *buf, size_t len);
/* URL pieces: scheme default ports (http 80, https 443, ws 80, wss 443,
 * mqtt 1883, mqtts 8883), host (brackets kept for IPv6), userinfo, uri. */
unsigned short mg_url_port(const char *url);
/* The port written in url: 0 when absent, -1 when not a number 0..65535. */
long mg_url_port_explicit(const char *url);
struct mg_str mg_url_host(const char *url);
struct mg_str mg_url_user(const char *url);
struct mg_str mg_url_pass(const char *url);
const char *mg_url_uri(const char *url);
bool mg_url_is_ssl(const char *url);

/* ---- Timers ---- */
struct mg_timer *mg_timer_add(struct mg_mgr *mgr, uint64_t period_ms,
                              unsigned flags, void (*fn)(void *), void *arg);
/* Marks a timer cancelled; it is unlinked and freed (if AUTODELETE) at the
 * next poll. Safe from inside its own callback. */
void mg_timer_cancel(struct mg_timer *t);
/* Unlinks and frees a timer right away (not from inside its callback). */
void mg_timer_free(struct mg_mgr *mgr, struct mg_timer *t);
/* Runs due timers; returns milliseconds until the next one (or -1). */
long mg_timer_poll(struct mg_mgr *mgr, uint64_t now_ms);

/* ---- Wakeup from other threads ---- */
/* Creates the manager's wakeup channel; false if the transport has none. */
bool mg_wakeup_init(struct mg_mgr *mgr);
/* Queues MG_EV_WAKEUP with a copy of buf for connection conn_id and wakes a
 * blocked mg_mgr_poll(). Thread-safe. False when the channel is missing or
 * memory is exhausted; any payload size otherwise. */
bool mg_wakeup(struct mg_mgr *mgr, unsigned long conn_id, const void *buf,
               size_t len);
/* Delivers every queued wakeup (called by the transport on the poll thread). */
void mg_wakeup_drain(struct mg_mgr *mgr);

/* ---- Default transport of this build ---- */
extern const struct mg_net mg_net_sock;

#ifdef __cplusplus
}
#endif
#endif /* MG_CORE_H */
