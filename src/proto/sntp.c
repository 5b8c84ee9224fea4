/* SNTP client: request/reply codec and the UDP connection glue. */
#include "mg.h"

#if MG_ENABLE_SNTP

#include <stdlib.h>
#include <string.h>

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
#define NTP_UNIX_OFFSET 2208988800ULL

struct sntp_state {
  uint8_t xmit[8];  /* transmit timestamp of the request in flight */
  uint64_t sent;    /* mg_millis() when it left */
  uint8_t pending;  /* a reply is expected */
  uint8_t deferred; /* requested before the connection was up */
};

void mg_sntp_build_request(uint8_t buf[48], const uint8_t xmit[8]) {
  memset(buf, 0, 48);
  buf[0] = (0 << 6) | (4 << 3) | 3; /* LI 0, version 4, mode 3 (client) */
  memcpy(buf + 40, xmit, 8);
}

static uint32_t rd32(const uint8_t *p) {
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
         ((uint32_t) p[2] << 8) | p[3];
}

int64_t mg_sntp_parse(const uint8_t *buf, size_t len, uint8_t *orig) {
  uint8_t mode, version, li, stratum;
  uint64_t secs;
  uint32_t frac;
  if (len < 48) return -1;
  li = buf[0] >> 6;
  version = (buf[0] >> 3) & 7;
  mode = buf[0] & 7;
  stratum = buf[1];
  if ((mode != 4 && mode != 5) || version < 1 || version > 4) return -1;
  if (orig != NULL) memcpy(orig, buf + 24, 8);
  if (li == 3 || stratum == 0 || stratum > 15) return 0;
  secs = rd32(buf + 40);
  frac = rd32(buf + 44);
  if (secs == 0 && frac == 0) return -1;
  /* Era 1 starts in 2036: small values are read as after the wrap. */
  if (secs < 0x80000000ULL) secs += 0x100000000ULL;
  if (secs < NTP_UNIX_OFFSET) return -1;
  return (int64_t) ((secs - NTP_UNIX_OFFSET) * 1000ULL +
                    (((uint64_t) frac * 1000ULL) >> 32));
}

static void sntp_handler(struct mg_connection *c, int ev, void *ev_data);

static struct sntp_state *sstate(struct mg_connection *c) {
  return c->pfn == sntp_handler ? (struct sntp_state *) c->pfn_data : NULL;
}

static void send_request(struct mg_connection *c, struct sntp_state *st) {
  uint8_t buf[48];
  if (!mg_random(st->xmit, sizeof(st->xmit)))
    memcpy(st->xmit, &c->id, sizeof(c->id) < 8 ? sizeof(c->id) : 8);
  mg_sntp_build_request(buf, st->xmit);
  st->sent = mg_millis();
  st->pending = 1;
  mg_send(c, buf, sizeof(buf));
}

void mg_sntp_request(struct mg_connection *c) {
  struct sntp_state *st = sstate(c);
  if (st == NULL) {
    /* Not an SNTP connection: still a valid request, without matching. */
    uint8_t buf[48], x[8] = {0};
    mg_sntp_build_request(buf, x);
    mg_send(c, buf, sizeof(buf));
  } else if (c->is_resolving || c->fd == NULL || c->is_connecting) {
    st->deferred = 1;
  } else {
    send_request(c, st);
  }
}

static void sntp_handler(struct mg_connection *c, int ev, void *ev_data) {
  struct sntp_state *st = (struct sntp_state *) c->pfn_data;
  (void) ev_data;
  if (st == NULL) return;
  if (ev == MG_EV_CONNECT) {
    send_request(c, st); /* covers a deferred request too */
    st->deferred = 0;
  } else if (ev == MG_EV_READ) {
    uint8_t orig[8];
    int64_t ms = mg_sntp_parse(c->recv.buf, c->recv.len, orig);
    c->recv.len = 0; /* one datagram per read */
    if (ms < 0 || !st->pending || memcmp(orig, st->xmit, 8) != 0) {
      MG_DEBUG("conn %lu: ignoring a datagram that is no reply of ours", c->id);
    } else if (ms == 0) {
      st->pending = 0;
      mg_error(c, "SNTP server refused (kiss-o'-death or unsynchronised)");
    } else {
      /* The server stamped the reply about half a round trip ago. */
      ms += (int64_t) ((mg_millis() - st->sent) / 2);
      st->pending = 0;
      mg_call(c, MG_EV_SNTP_TIME, &ms);
    }
  } else if (ev == MG_EV_CLOSE) {
    free(st);
    c->pfn_data = NULL;
  }
}

struct mg_connection *mg_sntp_connect(struct mg_mgr *mgr, const char *url,
                                      mg_event_handler_t fn, void *fn_data) {
  char u[300];
  struct mg_str host;
  long port;
  struct mg_connection *c;
  struct sntp_state *st;
  if (url == NULL) url = MG_SNTP_DEFAULT_SERVER;
  host = mg_url_host(url);
  port = mg_url_port_explicit(url);
  if (host.len == 0 || port < 0 || host.len > 256) return NULL;
  mg_snprintf(u, sizeof(u), "udp://%.*s:%ld", (int) host.len, host.buf,
              port > 0 ? port : 123L);
  if ((st = (struct sntp_state *) calloc(1, sizeof(*st))) == NULL) return NULL;
  if ((c = mg_connect(mgr, u, fn, fn_data)) == NULL) {
    free(st);
    return NULL;
  }
  c->pfn = sntp_handler;
  c->pfn_data = st;
  /* A numeric host connects inside mg_connect(), before pfn was set. */
  if (c->fd != NULL && !c->is_connecting && !c->is_resolving && !c->is_closing)
    send_request(c, st);
  return c;
}

#endif /* MG_ENABLE_SNTP */
