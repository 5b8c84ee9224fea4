/* Feature macros, before any system header. The portable profile leaves
 * _GNU_SOURCE out so that glibc hides GNU-only calls (accept4 ...). */
#if !defined(MG_PORTABLE_POSIX) || !MG_PORTABLE_POSIX
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, SOCK_NONBLOCK with -std=c11 */
#endif
#elif defined(__APPLE__)
#define _DARWIN_C_SOURCE /* SO_NOSIGPIPE, sendfile */
#elif defined(__linux__) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* POSIX names only, as elsewhere */
#endif
/* Kernel-socket transport (struct mg_net) for hosts: non-blocking sockets,
 * epoll(7) readiness on Linux, poll(2) on other POSIX systems and in the
 * portable POSIX profile (MG_PORTABLE_POSIX), WSAPoll on Windows (Winsock). The few calls that differ between POSIX and Winsock sit
 * in the "OS layer" below; everything after it is shared. */
#include "mg_core.h"
#include "mg_tls.h"

#if MG_ENABLE_SOCKET
#include <stdlib.h>
#include <string.h>

/* ---- OS layer ---- */
#if MG_ARCH == MG_ARCH_WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <limits.h>

typedef SOCKET sock_t;
#define SOCK_NONE INVALID_SOCKET
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* Winsock never raises SIGPIPE */
#endif
#define SOCK_MORE 0
#define SOCK_SHUT_WR SD_SEND
typedef WSAPOLLFD sock_pollfd;

static int sock_err(void) {
  return WSAGetLastError();
}
static bool err_would_block(int e) {
  return e == WSAEWOULDBLOCK || e == WSAEINTR;
}
static bool err_in_progress(int e) {
  return e == WSAEWOULDBLOCK || e == WSAEINPROGRESS;
}
static bool err_starved(int e) {
  return e == WSAEMFILE || e == WSAENOBUFS;
}
static bool set_nonblock(sock_t s) {
  u_long on = 1;
  return ioctlsocket(s, FIONBIO, &on) == 0;
}
static void sock_os_close(sock_t s) {
  closesocket(s);
}
static sock_t new_socket(int family, bool udp) {
  /* Not inherited by child processes, like SOCK_CLOEXEC. */
  sock_t s = WSASocketW(family, udp ? SOCK_DGRAM : SOCK_STREAM, 0, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s != SOCK_NONE && !set_nonblock(s)) {
    closesocket(s);
    s = SOCK_NONE;
  }
  return s;
}
/* The wakeup doorbell: two UDP sockets on 127.0.0.1 connected to each other
 * (Windows has no socketpair; a connected UDP socket only takes datagrams
 * from its peer, so nothing else can ring it). */
static bool os_pair(sock_t sv[2]) {
  struct sockaddr_in a[2];
  int i, sl = sizeof(a[0]);
  sv[0] = new_socket(AF_INET, true);
  sv[1] = new_socket(AF_INET, true);
  for (i = 0; i < 2 && sv[0] != SOCK_NONE && sv[1] != SOCK_NONE; i++) {
    memset(&a[i], 0, sizeof(a[i]));
    a[i].sin_family = AF_INET;
    a[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(sv[i], (struct sockaddr *) &a[i], sl) != 0 ||
        getsockname(sv[i], (struct sockaddr *) &a[i], &sl) != 0)
      break;
  }
  if (i == 2 && connect(sv[0], (struct sockaddr *) &a[1], sl) == 0 &&
      connect(sv[1], (struct sockaddr *) &a[0], sl) == 0)
    return true;
  for (i = 0; i < 2; i++)
    if (sv[i] != SOCK_NONE) closesocket(sv[i]);
  return false;
}
static sock_t os_accept(sock_t ls, struct sockaddr_storage *ss, int *sl) {
  sock_t s = accept(ls, (struct sockaddr *) ss, sl);
  if (s != SOCK_NONE && !set_nonblock(s)) {
    closesocket(s);
    s = SOCK_NONE;
  }
  return s;
}
static int os_poll(sock_pollfd *p, size_t n, int ms) {
  if (n == 0) { /* WSAPoll fails at once on an empty set; poll(2) sleeps */
    Sleep(ms < 0 ? INFINITE : (DWORD) ms);
    return 0;
  }
  return WSAPoll(p, (ULONG) n, ms); /* entries of INVALID_SOCKET are skipped */
}
static long os_send(sock_t s, const void *buf, size_t len, int flags) {
  return send(s, (const char *) buf, len > INT_MAX ? INT_MAX : (int) len,
              flags);
}
static long os_recv(sock_t s, void *buf, size_t len) {
  return recv(s, (char *) buf, len > INT_MAX ? INT_MAX : (int) len, 0);
}
static long os_sendto(sock_t s, const void *buf, size_t len,
                      const struct sockaddr_storage *ss, int sl) {
  return sendto(s, (const char *) buf, len > INT_MAX ? INT_MAX : (int) len, 0,
                (const struct sockaddr *) ss, sl);
}
static long os_recvfrom(sock_t s, void *buf, size_t len,
                        struct sockaddr_storage *ss, int *sl) {
  return recvfrom(s, (char *) buf, len > INT_MAX ? INT_MAX : (int) len, 0,
                  (struct sockaddr *) ss, sl);
}
#else
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#if MG_LINUX
#include <sys/sendfile.h>
#elif defined(__APPLE__)
#include <sys/types.h>
#include <sys/uio.h> /* sendfile(2) of macOS */
#endif
#if MG_LINUX && defined(MSG_MORE)
#define SOCK_MORE MSG_MORE
#else
#define SOCK_MORE 0
#endif
/* SIGPIPE on a write to a closed peer: MSG_NOSIGNAL per call where the
 * system has it (Linux, the BSDs), SO_NOSIGPIPE per socket where it has that
 * (macOS, the BSDs). A system with neither would raise SIGPIPE; the library
 * never changes the process's signal handling (docs/hosts.md). */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#if MG_ENABLE_EPOLL
#include <sys/epoll.h>
#else
#include <poll.h>
typedef struct pollfd sock_pollfd;
#endif

typedef int sock_t;
#define SOCK_NONE (-1)
#define SOCK_SHUT_WR SHUT_WR

static int sock_err(void) {
  return errno;
}
static bool err_would_block(int e) {
  return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}
static bool err_in_progress(int e) {
  return e == EINPROGRESS;
}
static bool err_starved(int e) {
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}
static void sock_os_close(sock_t s) {
  close(s);
}
#if MG_LINUX
static sock_t new_socket(int family, bool udp) {
  return socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
                            SOCK_CLOEXEC, 0);
}
static sock_t os_accept(sock_t ls, struct sockaddr_storage *ss, socklen_t *sl) {
  return accept4(ls, (struct sockaddr *) ss, sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
static bool os_pair(sock_t sv[2]) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                    sv) == 0;
}
#else
/* Without SOCK_NONBLOCK/SOCK_CLOEXEC: set the flags after creation (another
 * thread's fork+exec in between could inherit the descriptor; the atomic
 * flags exist only on Linux and newer BSDs). Closes s on failure. */
static sock_t setup(sock_t s) {
  int fl;
  if (s < 0) return SOCK_NONE;
  fl = fcntl(s, F_GETFL, 0);
  if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) != 0 ||
      fcntl(s, F_SETFD, FD_CLOEXEC) != 0) {
    close(s);
    return SOCK_NONE;
  }
#ifdef SO_NOSIGPIPE
  {
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
  }
#endif
  return s;
}
static sock_t new_socket(int family, bool udp) {
  return setup(socket(family, udp ? SOCK_DGRAM : SOCK_STREAM, 0));
}
static sock_t os_accept(sock_t ls, struct sockaddr_storage *ss, socklen_t *sl) {
  return setup(accept(ls, (struct sockaddr *) ss, sl));
}
static bool os_pair(sock_t sv[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return false;
  sv[0] = setup(sv[0]);
  sv[1] = setup(sv[1]);
  if (sv[0] != SOCK_NONE && sv[1] != SOCK_NONE) return true;
  if (sv[0] != SOCK_NONE) close(sv[0]);
  if (sv[1] != SOCK_NONE) close(sv[1]);
  return false;
}
#endif
#if !MG_ENABLE_EPOLL
static int os_poll(sock_pollfd *p, size_t n, int ms) {
  return poll(p, n, ms);
}
#endif
static long os_send(sock_t s, const void *buf, size_t len, int flags) {
  return (long) send(s, buf, len, flags);
}
static long os_recv(sock_t s, void *buf, size_t len) {
  return (long) recv(s, buf, len, 0);
}
static long os_sendto(sock_t s, const void *buf, size_t len,
                      const struct sockaddr_storage *ss, socklen_t sl) {
  return (long) sendto(s, buf, len, MSG_NOSIGNAL, (const struct sockaddr *) ss,
                       sl);
}
static long os_recvfrom(sock_t s, void *buf, size_t len,
                        struct sockaddr_storage *ss, socklen_t *sl) {
  return (long) recvfrom(s, buf, len, 0, (struct sockaddr *) ss, sl);
}
#endif
/* ---- end of the OS layer ---- */

/* c->fd holds the socket plus one, so NULL means "no socket" even when the
 * kernel hands out descriptor 0 (CI runs without stdin). */
#define FD(c) ((sock_t) ((uintptr_t) (c)->fd - 1))
#define SET_FD(c, s) ((c)->fd = (void *) ((uintptr_t) (s) + 1))

#define MAX_EVENTS 256

/* Transport-private bits of c->io_mask next to MG_IO_READ / MG_IO_WRITE. */
#define IO_REGISTERED 0x80000000u /* epoll knows the descriptor */
#define IO_FILE_WAIT 0x40000000u  /* send_file wants one writability report */
#define IO_INTEREST (MG_IO_READ | MG_IO_WRITE)

struct sock_state {
  sock_t wake_wr; /* write end of the wakeup socket pair, SOCK_NONE if none */
  /* Descriptor exhaustion: listeners are left out of the wait until
   * accept_resume (mg_millis), 0 when accepting normally. */
  uint64_t accept_resume;
  uint64_t accept_failed; /* mg_millis of the last such failure, 0 = none */
#if MG_ENABLE_EPOLL
  int epfd;
  struct epoll_event events[MAX_EVENTS];
#else
  sock_pollfd *pfds;
  size_t pfds_cap;
#endif
};

static struct sock_state *state(struct mg_mgr *mgr) {
  return (struct sock_state *) mgr->net_data;
}

static socklen_t to_sa(const struct mg_addr *a, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (a->is_ip6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = a->port;
    sin6->sin6_scope_id = a->scope_id;
    memcpy(&sin6->sin6_addr, a->ip, 16);
    return sizeof(*sin6);
  } else {
    struct sockaddr_in *sin = (struct sockaddr_in *) ss;
    sin->sin_family = AF_INET;
    sin->sin_port = a->port;
    memcpy(&sin->sin_addr, a->ip, 4);
    return sizeof(*sin);
  }
}

static void from_sa(const struct sockaddr_storage *ss, struct mg_addr *a) {
  memset(a, 0, sizeof(*a));
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;
    a->is_ip6 = 1;
    a->port = sin6->sin6_port;
    a->scope_id = sin6->sin6_scope_id;
    memcpy(a->ip, &sin6->sin6_addr, 16);
  } else if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;
    a->port = sin->sin_port;
    memcpy(a->ip, &sin->sin_addr, 4);
  }
}

static void read_local(struct mg_connection *c) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(FD(c), (struct sockaddr *) &ss, &sl) == 0)
    from_sa(&ss, &c->loc);
}

/* Registers the readiness interest of c with the OS when it changed. */
static void watch(struct mg_connection *c, uint32_t mask) {
  uint32_t keep = c->io_mask & IO_FILE_WAIT;
#if MG_ENABLE_EPOLL
  struct epoll_event ev;
  bool added = c->io_mask & IO_REGISTERED;
  if (added && (c->io_mask & IO_INTEREST) == mask) return;
  memset(&ev, 0, sizeof(ev));
  ev.events = ((mask & MG_IO_READ) ? EPOLLIN : 0u) |
              ((mask & MG_IO_WRITE) ? EPOLLOUT : 0u);
  ev.data.ptr = c;
  epoll_ctl(state(c->mgr)->epfd, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, FD(c),
            &ev);
  c->io_mask = mask | IO_REGISTERED | keep;
#else
  c->io_mask = mask | keep;
#endif
}

static uint32_t wanted(const struct mg_connection *c) {
  uint32_t m = 0;
  if (c->is_listening || c->is_wakeup) return MG_IO_READ;
  if (c->is_connecting) return MG_IO_WRITE;
  if (!c->is_draining && !c->is_full && !c->is_closing && !c->is_eof)
    m |= MG_IO_READ;
  /* During a TLS handshake queued plaintext waits: only the handshake's own
   * ciphertext may need writability. */
  if (c->is_tls_hs ? mg_tls_wants_write(c) : c->send.len > 0) m |= MG_IO_WRITE;
  if (c->io_mask & IO_FILE_WAIT) m |= MG_IO_WRITE;
  return m;
}

/* Interest for the coming wait; a send_file request is served once. */
static uint32_t next_interest(struct mg_connection *c) {
  uint32_t m = wanted(c);
  c->io_mask &= ~IO_FILE_WAIT;
  if (c->is_listening && !c->is_udp && state(c->mgr)->accept_resume != 0)
    m = 0; /* accept back-off, see accept_starved */
  return m;
}

/* Ends an elapsed accept back-off, else shortens the wait to its end. */
static int accept_backoff_wait(struct mg_mgr *mgr, int ms) {
  struct sock_state *st = state(mgr);
  uint64_t now = mg_millis();
  if (st->accept_resume == 0) return ms;
  if (now >= st->accept_resume) {
    st->accept_resume = 0;
    return ms;
  }
  if (ms < 0 || (uint64_t) ms > st->accept_resume - now)
    ms = (int) (st->accept_resume - now);
  return ms;
}

static bool sock_listen(struct mg_connection *c) {
  struct sockaddr_storage ss;
  socklen_t sl = to_sa(&c->loc, &ss);
  int on = 1;
  sock_t s = new_socket(ss.ss_family, c->is_udp);
  if (s == SOCK_NONE) return false;
#if MG_ARCH == MG_ARCH_WIN32
  /* Windows binds over TIME_WAIT anyway; its SO_REUSEADDR would let another
   * socket take a port we listen on, so ask for the opposite. */
  setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *) &on,
             sizeof(on));
#else
  /* SO_REUSEADDR lets a restarted server bind over TIME_WAIT; a port that
   * another socket listens on still fails with EADDRINUSE. */
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
#endif
  if (bind(s, (struct sockaddr *) &ss, sl) != 0 ||
      (!c->is_udp && listen(s, MG_SOCK_LISTEN_BACKLOG) != 0)) {
    MG_ERROR("bind/listen: error %d", sock_err());
    sock_os_close(s);
    return false;
  }
  SET_FD(c, s);
  read_local(c);
  watch(c, MG_IO_READ);
  return true;
}

static void tune(sock_t s) {
  int on = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *) &on, sizeof(on));
}

static void sock_connect(struct mg_connection *c) {
  struct sockaddr_storage ss;
  socklen_t sl = to_sa(&c->rem, &ss);
  sock_t s = new_socket(ss.ss_family, c->is_udp);
  int rc;
  if (s == SOCK_NONE) {
    mg_error(c, "socket error");
    return;
  }
  SET_FD(c, s);
  if (!c->is_udp) tune(s);
  rc = connect(s, (struct sockaddr *) &ss, sl);
  if (rc == 0) {
    read_local(c);
    watch(c, wanted(c));
    mg_connect_done(c);
  } else if (err_in_progress(sock_err())) {
    c->is_connecting = 1;
    watch(c, MG_IO_WRITE);
  } else {
    mg_error(c, "socket error");
  }
}

static int sock_check_connect(struct mg_connection *c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(FD(c), SOL_SOCKET, SO_ERROR, (char *) &err, &len) != 0 ||
      err != 0) {
    MG_DEBUG("conn %lu: connect failed, errno %d", c->id, err);
    return -1;
  }
  read_local(c);
  return 1;
}

/* Out of descriptors or kernel memory: the pending connection stays queued
 * and its listener readable, so pause all listeners for a while instead of
 * retrying in a busy loop. Logged once per episode; an episode ends after
 * ten back-off periods without such a failure (a burst of queued clients
 * that refills the table right after one accept is the same episode). */
static void accept_starved(struct mg_connection *lc, int err) {
  struct sock_state *st = state(lc->mgr);
  uint64_t now = mg_millis();
  if (st->accept_failed == 0 ||
      now - st->accept_failed > 10 * (uint64_t) MG_SOCK_ACCEPT_BACKOFF_MS)
    MG_ERROR(
        "accept: errno %d (out of descriptors or memory), pausing "
        "listeners for %d ms at a time until it succeeds",
        err, (int) MG_SOCK_ACCEPT_BACKOFF_MS);
  st->accept_failed = now > 0 ? now : 1;
  st->accept_resume = now + MG_SOCK_ACCEPT_BACKOFF_MS;
}

static bool sock_accept(struct mg_connection *lc, struct mg_connection *nc) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  sock_t s = os_accept(FD(lc), &ss, &sl);
  if (s == SOCK_NONE) {
    int err = sock_err();
    if (err_starved(err)) accept_starved(lc, err);
    return false;
  }
  tune(s);
  SET_FD(nc, s);
  from_sa(&ss, &nc->rem);
  read_local(nc);
  watch(nc, MG_IO_READ);
  return true;
}

static bool would_block(void) {
  return err_would_block(sock_err());
}

static long sock_recv(struct mg_connection *c, void *buf, size_t len) {
  long n;
  if (c->is_udp && c->is_listening) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    n = os_recvfrom(FD(c), buf, len, &ss, &sl);
    if (n >= 0) from_sa(&ss, &c->rem);
  } else {
    n = os_recv(FD(c), buf, len);
  }
  if (n > 0) return (long) n;
  if (n == 0) return c->is_udp ? 0 : MG_IO_EOF; /* empty datagram / end */
  if (would_block()) return 0;
  return c->is_udp ? 0 : -1; /* UDP errors (e.g. ICMP refused) are not fatal */
}

static long sock_send(struct mg_connection *c, const void *buf, size_t len) {
  long n;
  if (c->is_udp && c->is_listening) {
    struct sockaddr_storage ss;
    socklen_t sl = to_sa(&c->rem, &ss);
    n = os_sendto(FD(c), buf, len, &ss, sl);
  } else {
    n = os_send(FD(c), buf, len, MSG_NOSIGNAL);
  }
  if (n >= 0) return (long) n;
  if (would_block()) return 0;
  return -1;
}

#if MG_ARCH != MG_ARCH_WIN32
/* Copying fallback of sock_send_file: file -> stack buffer -> socket. Bytes
 * read but not accepted by the socket are read again by the next call. */
static long send_file_copy(struct mg_connection *c, int file, uint64_t off,
                           size_t len) {
  char buf[16384];
  ssize_t n = pread(file, buf, len < sizeof(buf) ? len : sizeof(buf),
                    (off_t) off);
  if (n <= 0) return -1; /* read error, or the file shrank under us */
  return sock_send(c, buf, (size_t) n);
}

static long sock_send_file(struct mg_connection *c, const void *head,
                           size_t head_len, int file, uint64_t off,
                           size_t len) {
  long done = 0;
  /* Whatever happens, report writability once more so the caller goes on
   * (or learns about the error) without a byte in c->send. */
  c->io_mask |= IO_FILE_WAIT;
  if (head_len > 0) {
    /* MSG_MORE holds the head back so it leaves together with the file's
     * first bytes, not as a small packet of its own. */
    ssize_t n = send(FD(c), head, head_len,
                     MSG_NOSIGNAL | (len > 0 ? SOCK_MORE : 0));
    if (n < 0) return would_block() ? 0 : -1;
    if ((size_t) n < head_len || len == 0) return (long) n;
    done = (long) n;
  }
  if (len == 0) return 0;
#if MG_LINUX
  {
    off_t o = (off_t) off;
    ssize_t n = sendfile(FD(c), file, &o, len);
    if (n > 0) return done + (long) n;
    if (n == 0) return done > 0 ? done : -1; /* the file shrank */
    if (would_block()) return done;
    /* File systems without splice support refuse: copy instead. */
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return done > 0 ? done : -1; /* the next call reports the error */
  }
#elif defined(__APPLE__)
  {
    /* macOS: sendfile(file, socket, offset, &len in/out, hdtr, flags); on
     * EAGAIN len still says how much was sent. Not built here (docs/hosts.md):
     * the copying fallback below is what the portable profile tests. */
    off_t n = (off_t) len;
    int rc = sendfile(file, FD(c), (off_t) off, &n, NULL, 0);
    if (n > 0) return done + (long) n;
    if (rc == 0) return done > 0 ? done : -1; /* nothing sent: end of file */
    if (would_block()) return done;
    if (errno != ENOTSOCK && errno != ENOTSUP && errno != EOPNOTSUPP &&
        errno != EINVAL)
      return done > 0 ? done : -1;
  }
#endif
  {
    long n = send_file_copy(c, file, off, len);
    return n >= 0 ? done + n : (done > 0 ? done : -1);
  }
}

#endif /* Windows has no sendfile(2) on descriptors: send_file is NULL */

static void sock_close(struct mg_connection *c) {
#if MG_ENABLE_EPOLL
  /* close() drops the descriptor from the epoll set only when no other
   * descriptor shares its open file (a child process between fork and exec
   * holds copies, CLOEXEC or not); epoll would then still report events
   * naming the freed connection. So leave the set explicitly first. */
  if (c->io_mask & IO_REGISTERED) {
    struct epoll_event ev; /* ignored, but kernels before 2.6.9 want it */
    epoll_ctl(state(c->mgr)->epfd, EPOLL_CTL_DEL, FD(c), &ev);
  }
#endif
  sock_os_close(FD(c));
  c->fd = NULL;
}

static void sock_shutdown(struct mg_connection *c) {
  shutdown(FD(c), SOCK_SHUT_WR);
}

#if MG_ENABLE_EPOLL
static void sock_wait(struct mg_mgr *mgr, int ms) {
  struct sock_state *st = state(mgr);
  struct mg_connection *c;
  int i, n;
  ms = accept_backoff_wait(mgr, ms);
  for (c = mgr->conns; c != NULL; c = c->next) {
    c->is_readable = c->is_writable = 0;
    if (c->fd != NULL) watch(c, next_interest(c));
  }
  n = epoll_wait(st->epfd, st->events, MAX_EVENTS, ms);
  for (i = 0; i < n; i++) {
    uint32_t e = st->events[i].events;
    c = (struct mg_connection *) st->events[i].data.ptr;
    if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) c->is_readable = 1;
    if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) c->is_writable = 1;
  }
}
#else
static void sock_wait(struct mg_mgr *mgr, int ms) {
  struct sock_state *st = state(mgr);
  struct mg_connection *c;
  size_t i, n = 0;
  ms = accept_backoff_wait(mgr, ms);
  for (c = mgr->conns; c != NULL; c = c->next) n++;
  if (n > st->pfds_cap) {
    sock_pollfd *p = (sock_pollfd *) realloc(st->pfds, n * sizeof(*p));
    if (p == NULL) return;
    st->pfds = p;
    st->pfds_cap = n;
  }
  for (i = 0, c = mgr->conns; c != NULL; c = c->next, i++) {
    uint32_t m = c->fd == NULL ? 0 : next_interest(c);
    c->is_readable = c->is_writable = 0;
    watch(c, m);
    st->pfds[i].fd = c->fd == NULL ? SOCK_NONE : FD(c);
    st->pfds[i].events = (short) (((m & MG_IO_READ) ? POLLIN : 0) |
                                  ((m & MG_IO_WRITE) ? POLLOUT : 0));
    st->pfds[i].revents = 0;
  }
  if (os_poll(st->pfds, n, ms) <= 0) return;
  for (i = 0, c = mgr->conns; c != NULL && i < n; c = c->next, i++) {
    short r = st->pfds[i].revents;
    if (r & (POLLIN | POLLERR | POLLHUP)) c->is_readable = 1;
    if (r & (POLLOUT | POLLERR | POLLHUP)) c->is_writable = 1;
  }
}
#endif

static bool sock_init(struct mg_mgr *mgr) {
  struct sock_state *st = (struct sock_state *) calloc(1, sizeof(*st));
  if (st == NULL) return false;
  st->wake_wr = SOCK_NONE;
#if MG_ARCH == MG_ARCH_WIN32
  {
    WSADATA wsa; /* reference-counted: one start per manager */
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
      free(st);
      return false;
    }
  }
#endif
#if MG_ENABLE_EPOLL
  st->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (st->epfd < 0) {
    free(st);
    return false;
  }
#endif
  mgr->net_data = st;
  return true;
}

static void sock_free(struct mg_mgr *mgr) {
  struct sock_state *st = state(mgr);
  if (st == NULL) return;
  if (st->wake_wr != SOCK_NONE) sock_os_close(st->wake_wr);
#if MG_ENABLE_EPOLL
  close(st->epfd);
#else
  free(st->pfds);
#endif
#if MG_ARCH == MG_ARCH_WIN32
  WSACleanup();
#endif
  free(st);
  mgr->net_data = NULL;
}

static struct mg_connection *sock_wakeup_init(struct mg_mgr *mgr) {
  sock_t sv[2];
  struct mg_connection *c;
  if (!os_pair(sv)) return NULL;
  if ((c = mg_alloc_conn(mgr)) == NULL) {
    sock_os_close(sv[0]);
    sock_os_close(sv[1]);
    return NULL;
  }
  c->is_wakeup = 1;
  SET_FD(c, sv[0]);
  state(mgr)->wake_wr = sv[1];
  mg_add_conn(c);
  watch(c, MG_IO_READ);
  return c;
}

static void sock_wakeup_signal(struct mg_mgr *mgr) {
  /* One doorbell byte; a full socket buffer already means "wake up". */
  long n = os_send(state(mgr)->wake_wr, "", 1, MSG_NOSIGNAL);
  (void) n;
}

const struct mg_net mg_net_sock = {
    .listen = sock_listen,
    .connect = sock_connect,
    .check_connect = sock_check_connect,
    .accept = sock_accept,
    .recv = sock_recv,
    .send = sock_send,
#if MG_ARCH != MG_ARCH_WIN32
    .send_file = sock_send_file,
#endif
    .wait = sock_wait,
    .close = sock_close,
    .shutdown = sock_shutdown,
    .init = sock_init,
    .free = sock_free,
    .wakeup_init = sock_wakeup_init,
    .wakeup_signal = sock_wakeup_signal,
};
#endif /* MG_ENABLE_SOCKET */
