/* The built-in stack as a manager transport (struct mg_net): connections
 * map onto TCP/UDP endpoints of the interface in mgr->net_data, so HTTP,
 * WebSocket, MQTT... run over it unchanged.
 *
 * c->fd holds: a struct mg_tcpip_tcp * (TCP connection), a struct
 * mg_tcpip_udp * (UDP), or listener index + 1 (TCP listener). The wakeup
 * channel is a connection with a marker fd that turns readable while the
 * core's wakeup queue is pending; a sleeping wait notices within one slice. */
#include "stack.h"

#include "mg_core.h"

#if MG_ENABLE_TCPIP

#define WAIT_SLICE_MS 5 /* longest sleep between stack timer runs */
#define WAKEUP_FD ((void *) (uintptr_t) 0xffff)

static struct mg_tcpip_if *iface(struct mg_mgr *mgr) {
  return (struct mg_tcpip_if *) mgr->net_data;
}

static int listener_of(const struct mg_connection *c) {
  return (int) (uintptr_t) c->fd - 1;
}

static void set_addr(struct mg_addr *a, uint32_t ip, uint16_t port) {
  memset(a, 0, sizeof(*a));
  memcpy(a->ip, &ip, 4);
  a->port = mg_htons(port);
}

static uint32_t addr_ip(const struct mg_addr *a) {
  uint32_t ip;
  memcpy(&ip, a->ip, 4);
  return ip;
}

static bool st_listen(struct mg_connection *c) {
  struct mg_tcpip_if *ifp = iface(c->mgr);
  uint16_t port = mg_ntohs(c->loc.port);
  if (ifp == NULL || c->loc.is_ip6) return false;
  if (c->is_udp) {
    struct mg_tcpip_udp *u = mg_tcpip_udp_open(ifp, port, 0, 0);
    if (u == NULL) return false;
    c->fd = u;
    port = u->lport;
  } else {
    int li;
    if (port == 0) port = mg_tcpip_ephemeral(ifp);
    li = mg_tcpip_tcp_listen(ifp, port, MG_TCPIP_BACKLOG);
    if (li < 0) return false;
    c->fd = (void *) (uintptr_t) (li + 1);
  }
  set_addr(&c->loc, ifp->ip, port);
  return true;
}

static void st_connect(struct mg_connection *c) {
  struct mg_tcpip_if *ifp = iface(c->mgr);
  uint32_t ip = addr_ip(&c->rem);
  uint16_t port = mg_ntohs(c->rem.port);
  if (ifp == NULL || c->rem.is_ip6) {
    mg_error(c, "IPv6 is not supported by the built-in stack");
    return;
  }
  if (c->is_udp) {
    struct mg_tcpip_udp *u = mg_tcpip_udp_open(ifp, 0, ip, port);
    if (u == NULL) {
      mg_error(c, "no free UDP endpoint");
      return;
    }
    c->fd = u;
    set_addr(&c->loc, ifp->ip, u->lport);
    if (ifp->ip == 0) {
      /* DHCP still running: MG_EV_CONNECT once addressed (scan, then
       * st_check_connect), so the first datagram has a source address. */
      u->addr_deadline = mg_tcpip_addr_deadline(ifp);
      c->is_connecting = 1;
      return;
    }
    mg_connect_done(c);
  } else {
    struct mg_tcpip_tcp *t = mg_tcpip_tcp_connect(ifp, ip, port, 0);
    if (t == NULL) {
      mg_error(c, "no free TCP connection slot");
      return;
    }
    c->fd = t;
    set_addr(&c->loc, ifp->ip, t->lport);
    c->is_connecting = 1;
  }
}

static int st_check_connect(struct mg_connection *c) {
  struct mg_tcpip_if *ifp = iface(c->mgr);
  struct mg_tcpip_tcp *t = (struct mg_tcpip_tcp *) c->fd;
  if (ifp == NULL) return -1;
  if (c->is_udp) {
    struct mg_tcpip_udp *u = (struct mg_tcpip_udp *) c->fd;
    if (ifp->ip != 0) {
      set_addr(&c->loc, ifp->ip, u->lport);
      return 1;
    }
    if (ifp->now >= u->addr_deadline) {
      mg_error(c, "network not ready: the interface got no address (DHCP) "
                  "in time");
    }
    return 0;
  }
  if (t == NULL || t->state == MG_TCP_CLOSED) {
    static const char *why[] = {"connection closed",
                                "connection refused",
                                "connection reset",
                                "connection timed out",
                                "no route to host",
                                ("network not ready: the interface got no "
                                 "address (DHCP) in time"),
                                "connection reset to make room for a new one"};
    /* The reason itself, rather than the core's generic "socket error". */
    mg_error(c, "%s", why[t != NULL && t->err < 7 ? t->err : 0]);
    return 0;
  }
  if (!mg_tcpip_tcp_is_open(t)) return 0;
  set_addr(&c->loc, ifp->ip, t->lport); /* the address may be new (DHCP) */
  return 1;
}

static bool st_accept(struct mg_connection *lc, struct mg_connection *nc) {
  struct mg_tcpip_if *ifp = iface(lc->mgr);
  struct mg_tcpip_tcp *t;
  if (ifp == NULL) return false;
  t = mg_tcpip_tcp_accept(ifp, listener_of(lc));
  if (t == NULL) return false;
  nc->fd = t;
  set_addr(&nc->rem, t->rip, t->rport);
  set_addr(&nc->loc, ifp->ip, t->lport);
  return true;
}

static long st_recv(struct mg_connection *c, void *buf, size_t len) {
  struct mg_tcpip_if *ifp = iface(c->mgr);
  if (ifp == NULL) return -1; /* detached */
  if (c->is_wakeup) {
    *(uint8_t *) buf = 0; /* the core drains the queue on any byte */
    return 1;
  }
  if (c->is_udp) {
    uint32_t ip = 0;
    uint16_t port = 0;
    long n = mg_tcpip_udp_recvfrom((struct mg_tcpip_udp *) c->fd, buf, len,
                                   &ip, &port);
    if (n > 0 && c->is_listening) set_addr(&c->rem, ip, port);
    return n;
  }
  return mg_tcpip_tcp_recv(ifp, (struct mg_tcpip_tcp *) c->fd, buf, len);
}

static void st_shutdown(struct mg_connection *c) {
  struct mg_tcpip_if *ifp = iface(c->mgr);
  if (ifp != NULL && !c->is_udp && !c->is_wakeup)
    mg_tcpip_tcp_shutdown(ifp, (struct mg_tcpip_tcp *) c->fd);
}

static long st_send(struct mg_connection *c, const void *buf, size_t len) {
  struct mg_tcpip_if *ifp = iface(c->mgr);
  if (ifp == NULL) return -1;
  if (c->is_udp) {
    struct mg_tcpip_udp *u = (struct mg_tcpip_udp *) c->fd;
    uint32_t ip = c->is_listening ? addr_ip(&c->rem) : u->rip;
    uint16_t port = c->is_listening ? mg_ntohs(c->rem.port) : u->rport;
    if (len > IP_MAX_PAYLOAD - 8 || ifp->ip == 0) return -1;
    /* A datagram waiting for ARP is sent once resolved: count it as sent. */
    mg_tcpip_udp_sendto(ifp, u, ip, port, buf, len);
    return (long) len;
  }
  return mg_tcpip_tcp_send(ifp, (struct mg_tcpip_tcp *) c->fd, buf, len);
}

static void st_close(struct mg_connection *c) {
  struct mg_tcpip_if *ifp = iface(c->mgr);
  if (c->fd == NULL || ifp == NULL) return;
  if (c->is_wakeup) {
    /* nothing to release */
  } else if (c->is_udp) {
    mg_tcpip_udp_close(ifp, (struct mg_tcpip_udp *) c->fd);
  } else if (c->is_listening) {
    mg_tcpip_tcp_unlisten(ifp, listener_of(c));
  } else {
    mg_tcpip_tcp_close(ifp, (struct mg_tcpip_tcp *) c->fd);
  }
  c->fd = NULL;
}

static bool wakeup_pending(struct mg_mgr *mgr) {
  bool p;
  if (mgr->wakeup_lock == NULL) return false;
  mg_lock_acquire(mgr->wakeup_lock);
  p = mgr->wakeup_pending;
  mg_lock_release(mgr->wakeup_lock);
  return p;
}

/* Sets is_readable/is_writable from the stack's state; true if any. */
static bool scan(struct mg_mgr *mgr) {
  struct mg_tcpip_if *ifp = iface(mgr);
  struct mg_connection *c;
  bool any = false;
  for (c = mgr->conns; c != NULL; c = c->next) {
    c->is_readable = c->is_writable = 0;
    c->io_mask = MG_IO_READ | (c->send.len > 0 ? MG_IO_WRITE : 0u);
    if (c->fd == NULL) continue;
    if (c->is_wakeup) {
      c->is_readable = wakeup_pending(mgr);
    } else if (c->is_udp) {
      struct mg_tcpip_udp *u = (struct mg_tcpip_udp *) c->fd;
      c->is_readable = u->len > 0 && !c->is_connecting;
      c->is_writable = !c->is_connecting || ifp->ip != 0 ||
                       ifp->now >= u->addr_deadline;
    } else if (c->is_listening) {
      c->is_readable = mg_tcpip_tcp_acceptable(ifp, listener_of(c));
    } else {
      struct mg_tcpip_tcp *t = (struct mg_tcpip_tcp *) c->fd;
      if (c->is_connecting) {
        c->is_writable = mg_tcpip_tcp_is_open(t) || t->state == MG_TCP_CLOSED;
      } else {
        c->is_readable = mg_tcpip_tcp_readable(t);
        c->is_writable = mg_tcpip_tcp_space(t) > 0;
      }
    }
    /* Writability matters only with bytes to write; reads pause when the
     * core says so. */
    if (c->is_readable && !c->is_full && !c->is_draining && !c->is_eof)
      any = true;
    if (c->is_writable && (c->send.len > 0 || c->is_connecting)) any = true;
    if (c->is_closing) any = true;
  }
  return any;
}

static void st_wait(struct mg_mgr *mgr, int ms) {
  struct mg_tcpip_if *ifp = iface(mgr);
  uint64_t start = mg_millis(), now = start;
  if (ifp == NULL) return;
  for (;;) {
    mg_tcpip_poll(ifp, now);
    if (scan(mgr) || ms == 0 || ifp->wait == NULL) return;
    if (ms > 0 && now - start >= (uint64_t) ms) return;
    mg_tcpip_flush_acks(ifp); /* nothing else will send them while we sleep */
    {
      int slice = WAIT_SLICE_MS;
      if (ms > 0 && (uint64_t) ms - (now - start) < (uint64_t) slice)
        slice = (int) ((uint64_t) ms - (now - start));
      ifp->wait(ifp->driver_data, slice);
    }
    now = mg_millis();
  }
}

static bool st_init(struct mg_mgr *mgr) {
  mgr->net_data = NULL; /* set by mg_tcpip_attach */
  return true;
}

static void st_free(struct mg_mgr *mgr) {
  struct mg_tcpip_if *ifp = iface(mgr);
  mgr->net_data = NULL; /* the interface belongs to the application */
  if (ifp != NULL && ifp->on_release != NULL) ifp->on_release(ifp);
}

static struct mg_connection *st_wakeup_init(struct mg_mgr *mgr) {
  struct mg_connection *c = mg_alloc_conn(mgr);
  if (c == NULL) return NULL;
  c->is_wakeup = 1;
  c->fd = WAKEUP_FD;
  mg_add_conn(c);
  return c;
}

static void st_wakeup_signal(struct mg_mgr *mgr) {
  (void) mgr; /* the pending flag itself is the doorbell */
}

const struct mg_net mg_net_stack = {
    .listen = st_listen,
    .connect = st_connect,
    .check_connect = st_check_connect,
    .accept = st_accept,
    .recv = st_recv,
    .send = st_send,
    .wait = st_wait,
    .close = st_close,
    .shutdown = st_shutdown,
    .init = st_init,
    .free = st_free,
    .wakeup_init = st_wakeup_init,
    .wakeup_signal = st_wakeup_signal,
};

void mg_tcpip_attach(struct mg_mgr *mgr, struct mg_tcpip_if *ifp) {
  mgr->net_data = ifp;
  if (ifp != NULL && ifp->seed == 0) {
    uint64_t r = 0;
    /* Unpredictable ISNs and ports unless a test asked for a fixed seed. */
    if (mg_random(&r, sizeof(r)) && r != 0) ifp->rng = r;
    ifp->next_port = (uint16_t) (49152 + mg_tcpip_rand(ifp) % 16384);
  }
  /* Bring the link up now, so connections made before the first
   * mg_mgr_poll() can already send. */
  if (ifp != NULL) mg_tcpip_poll(ifp, mg_millis());
}

bool mg_tcpip_use(struct mg_mgr *mgr, struct mg_tcpip_if *ifp) {
  struct mg_connection *w = mgr->wakeup_conn;
  if (mgr->polling || (mgr->conns != NULL && (mgr->conns != w || w->next != NULL)))
    return false; /* connections exist: they belong to the old transport */
  if (w != NULL) {
    mgr->conns = NULL;
    if (mgr->net != NULL && mgr->net->close != NULL && w->fd != NULL)
      mgr->net->close(w);
    mg_free_conn(w);
    mgr->wakeup_conn = NULL;
  }
  if (mgr->net != NULL && mgr->net->free != NULL) mgr->net->free(mgr);
  mgr->net = &mg_net_stack;
  st_init(mgr);
  mg_tcpip_attach(mgr, ifp);
  /* The wakeup lock and queue survive; only the doorbell changes hands. */
  if (w != NULL) mgr->wakeup_conn = st_wakeup_init(mgr);
  return w == NULL || mgr->wakeup_conn != NULL;
}

void mg_tcpip_detach(struct mg_mgr *mgr) {
  if (mgr->net == &mg_net_stack) mgr->net_data = NULL;
}

#endif /* MG_ENABLE_TCPIP */
