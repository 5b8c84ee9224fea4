/* The manager and its event loop. */
#include <stdlib.h>
#include <string.h>

#include "mg_core.h"
#include "mg_tls.h"

void mg_mgr_init_net(struct mg_mgr *mgr, const struct mg_net *net) {
  memset(mgr, 0, sizeof(*mgr));
  mgr->net = net;
  mgr->send_high = MG_SEND_HIGH_WATER;
  mgr->send_low = MG_SEND_LOW_WATER;
  if (net != NULL && net->init != NULL && !net->init(mgr)) {
    MG_ERROR("transport init failed");
    mgr->net = NULL;
  }
}

void mg_mgr_init(struct mg_mgr *mgr) {
#if MG_ENABLE_SOCKET
  mg_mgr_init_net(mgr, &mg_net_sock);
#else
  /* Without kernel sockets the application picks a transport (the built-in
   * stack) with mg_mgr_init_net(); until then there is no I/O. */
  mg_mgr_init_net(mgr, NULL);
#endif
}

/* Reads once into the receive buffer, growing it by MG_IO_SIZE steps.
 * Returns true when the read filled all the free space, so more data may
 * be waiting. */
static bool read_conn(struct mg_connection *c) {
  long n;
  size_t room;
  if (c->recv.size - c->recv.len < MG_IO_SIZE &&
      !mg_iobuf_resize(&c->recv, c->recv.len + MG_IO_SIZE)) {
    mg_error(c, "out of memory");
    return false;
  }
  room = c->recv.size - c->recv.len;
  n = c->is_tls ? mg_tls_recv(c, c->recv.buf + c->recv.len, room)
                : c->mgr->net->recv(c, c->recv.buf + c->recv.len, room);
  if (n > 0) {
    c->recv.len += (size_t) n;
    if (c->is_wakeup) {
      c->recv.len = 0;
      mg_wakeup_drain(c->mgr);
      return false;
    }
    mg_call(c, MG_EV_READ, &n);
  } else if (n == MG_IO_EOF && c->is_half_close) {
    c->is_eof = 1; /* reads stop; c stays open for writing */
  } else if (n == MG_IO_EOF && c->send.len > 0) {
    c->is_draining = 1; /* the peer is done: deliver what was answered */
  } else if (n < 0) {
    c->is_closing = 1; /* end of stream or reset */
  }
  mg_send_backlogged(c); /* the handler may have answered: pause if backlogged */
  return n > 0 && (size_t) n == room;
}

/* Reads a stream connection until it has no more data, up to MG_READ_BURST
 * times: one MG_IO_SIZE read per loop iteration would cap a bulk receiver
 * at a few KiB per poll, yet the bound keeps one busy peer from starving
 * the others. The handler consumes between the reads, so the buffer need
 * not grow. */
static void read_stream(struct mg_connection *c) {
  int i;
  for (i = 0; i < MG_READ_BURST; i++) {
    if (!read_conn(c) || c->is_closing || c->is_full || c->is_draining ||
        c->is_eof)
      break;
  }
}

/* Writes until the transport pushes back, then drops the sent prefix once:
 * one memmove per iteration keeps a huge queued body linear, not quadratic. */
static void write_conn(struct mg_connection *c) {
  size_t done = 0;
  long n = 0;
  while (done < c->send.len) {
    const unsigned char *p = c->send.buf + done;
    size_t left = c->send.len - done;
    n = c->is_tls ? mg_tls_send(c, p, left) : c->mgr->net->send(c, p, left);
    if (n <= 0) break;
    done += (size_t) n;
  }
  if (done > 0) {
    long total = (long) done;
    mg_iobuf_del(&c->send, 0, done);
    if (c->send.len == 0 && c->send.size > 64 * MG_IO_SIZE)
      mg_iobuf_resize(&c->send, 0); /* give back a burst's memory */
    mg_send_backlogged(c); /* drained: reads may resume */
    mg_call(c, MG_EV_WRITE, &total);
  }
  if (n < 0) c->is_closing = 1;
}

static void accept_conns(struct mg_connection *lc) {
  int i;
  /* Bounded so one busy listener cannot starve everyone else. */
  for (i = 0; i < 64 && !lc->is_closing; i++) {
    struct mg_connection *nc = mg_alloc_conn(lc->mgr);
    if (nc == NULL) break;
    if (!lc->mgr->net->accept(lc, nc)) {
      mg_free_conn(nc);
      break;
    }
    nc->is_accepted = 1;
    nc->fn = lc->fn;
    nc->fn_data = lc->fn_data;
    nc->pfn = lc->pfn;
    nc->pfn_data = lc->pfn_data;
    mg_add_conn(nc);
    mg_call(nc, MG_EV_OPEN, NULL);
    mg_call(nc, MG_EV_ACCEPT, NULL);
  }
}

static void io_conn(struct mg_connection *c) {
  const struct mg_net *net = c->mgr->net;
  if (c->is_listening) {
    if (c->is_readable && !c->is_udp) {
      accept_conns(c);
    } else if (c->is_readable) {
      read_conn(c);
    }
    return;
  }
  if (c->is_connecting) {
    int r;
    if (!c->is_readable && !c->is_writable) return;
    r = net->check_connect(c);
    if (r < 0) mg_error(c, "socket error");
    if (r > 0) mg_connect_done(c);
    if (r <= 0) return;
  }
  if (c->fd == NULL) return; /* resolving */
  if (c->is_tls_hs) {
    if (!c->is_closing) mg_tls_handshake(c);
    if (c->is_tls_hs) return; /* application data waits for the handshake */
  }
  if ((c->is_readable || (c->is_tls && mg_tls_pending(c) > 0)) &&
      !c->is_draining && !c->is_full && !c->is_closing && !c->is_eof)
    read_stream(c);
  /* Write eagerly; wait for writability only once the OS pushed back. */
  if (c->send.len > 0 && !c->is_closing &&
      (c->is_writable || !(c->io_mask & MG_IO_WRITE)))
    write_conn(c);
}

static void close_conn(struct mg_connection *c) {
  struct mg_connection **p;
  mg_call(c, MG_EV_CLOSE, NULL);
  if (c->tls != NULL) mg_tls_free(c);
  if (c->mgr->net != NULL && c->fd != NULL) c->mgr->net->close(c);
  for (p = &c->mgr->conns; *p != NULL; p = &(*p)->next) {
    if (*p == c) {
      *p = c->next;
      break;
    }
  }
  mg_free_conn(c);
}

/* Wait no longer than the next timer, and not at all when work is pending. */
static int wait_budget(struct mg_mgr *mgr, int ms, long next_timer) {
  struct mg_connection *c;
  for (c = mgr->conns; c != NULL; c = c->next) {
    if (c->is_closing || (c->is_draining && c->send.len == 0)) return 0;
    if (c->is_tls && !c->is_tls_hs && !c->is_full && !c->is_draining &&
        mg_tls_pending(c) > 0)
      return 0; /* decrypted bytes to deliver (unless reads are paused) */
    if (c->send.len > 0 && !c->is_connecting && !c->is_tls_hs &&
        !(c->io_mask & MG_IO_WRITE))
      return 0;
  }
  if (next_timer >= 0 && (ms < 0 || next_timer < ms)) return (int) next_timer;
  return ms;
}

void mg_mgr_poll(struct mg_mgr *mgr, int ms) {
  struct mg_connection *c, *next;
  uint64_t now = mg_millis();
  long next_timer = -1;
  struct mg_timer *t;
  for (t = mgr->timers; t != NULL; t = t->next) {
    long left;
    if (t->flags & MG_TIMER_CANCELLED) continue;
    left = t->expire > now ? (long) (t->expire - now) : 0;
    if (next_timer < 0 || left < next_timer) next_timer = left;
  }
  mgr->polling = true;
  if (mgr->net != NULL) {
    int budget = wait_budget(mgr, ms, next_timer);
    bool hook = mgr->wait_hook != NULL && budget != 0;
    if (hook) mgr->wait_hook(mgr, true);
    mgr->net->wait(mgr, budget);
    if (hook) mgr->wait_hook(mgr, false);
    /* Connections created by handlers during this loop are at the list head
     * and are serviced from the next iteration on. */
    for (c = mgr->conns; c != NULL; c = c->next) io_conn(c);
  }
  now = mg_millis();
  mg_timer_poll(mgr, now);
  for (c = mgr->conns; c != NULL; c = c->next) {
    if (c->is_tls_hs) mg_tls_check_timeout(c, now);
    mg_call(c, MG_EV_POLL, &now);
  }
  for (c = mgr->conns; c != NULL; c = next) {
    next = c->next;
    /* Reads resume once a handler consumed the receive buffer below its cap
     * and the send buffer drained below its low-water mark. */
    mg_send_backlogged(c);
    if (c->is_draining && c->send.len == 0) c->is_closing = 1;
    if (c->is_shutdown && !c->is_shut_done && c->send.len == 0 &&
        !c->is_connecting && c->fd != NULL && !c->is_closing) {
      c->mgr->net->shutdown(c);
      c->is_shut_done = 1;
    }
    if (c->is_shut_done && c->is_eof) c->is_closing = 1; /* both ended */
    if (c->is_closing) close_conn(c);
  }
  mgr->polling = false;
}

void mg_mgr_free(struct mg_mgr *mgr) {
  struct mg_timer *t, *tn;
  struct mg_wakeup_msg *m, *mn;
  while (mgr->conns != NULL) {
    mgr->conns->is_closing = 1;
    close_conn(mgr->conns); /* newest first */
  }
  mg_tls_mgr_free(mgr);
  for (t = mgr->timers; t != NULL; t = tn) {
    tn = t->next;
    if (t->flags & MG_TIMER_AUTODELETE) free(t);
  }
  mgr->timers = NULL;
  for (m = mgr->wakeup_head; m != NULL; m = mn) {
    mn = m->next;
    free(m);
  }
  mgr->wakeup_head = mgr->wakeup_tail = NULL;
  if (mgr->wakeup_lock != NULL) mg_lock_free(mgr->wakeup_lock);
  mgr->wakeup_lock = NULL;
  if (mgr->net != NULL && mgr->net->free != NULL) mgr->net->free(mgr);
  mgr->net = NULL;
}
