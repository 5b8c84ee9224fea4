/* The built-in TCP/IP stack: Ethernet II, ARP, IPv4, ICMP echo, UDP, TCP, a
 * DHCP client and a small DHCP server, on top of any driver implementing
 * struct mg_driver (drivers here: TAP, in-memory link, QEMU stream socket,
 * SLIP serial framing). See docs/stack.md.
 *
 * Everything lives in one interface object (struct mg_tcpip_if) that the
 * application owns: fixed pools sized by the MG_TCPIP_* options of
 * mg_config.h, no heap use after mg_tcpip_init(). The stack is sans-IO with
 * respect to time: mg_tcpip_poll(ifp, now_ms) feeds it the clock, so tests
 * drive it with simulated time.
 *
 * Two ways to use it:
 *  - directly, through the small socket-like API below (mg_tcpip_tcp_*,
 *    mg_tcpip_udp_*), which is what the unit tests do;
 *  - as the transport of a manager:
 *        static struct mg_tcpip_if ifp = {.driver = &mg_driver_tap, ...};
 *        mg_tcpip_init(&ifp);
 *        mg_mgr_init_net(&mgr, &mg_net_stack);
 *        mg_tcpip_attach(&mgr, &ifp);   // mgr->net_data = &ifp
 *    after which mg_listen/mg_connect/mg_send work exactly as on sockets
 *    (IPv4 only). mg_tcpip_use() moves a manager made by mg_mgr_init().
 *
 * Addresses (ip, mask, gw, dns) are IPv4 in network byte order, ports in
 * host byte order inside the stack API. */
#ifndef MG_STACK_H
#define MG_STACK_H

#include "mg_base.h"
#include "mg_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

#if MG_ENABLE_TCPIP

#define MG_TCPIP_ETH_HDR 14
#define MG_TCPIP_FRAME_MAX (MG_TCPIP_MTU + MG_TCPIP_ETH_HDR)
/* Frame buffers of the interface: larger than a frame when offloading. */
#if MG_TCPIP_OFFLOAD_MAX > MG_TCPIP_MTU
#define MG_TCPIP_FRAME_BUF (MG_TCPIP_OFFLOAD_MAX + MG_TCPIP_ETH_HDR)
#else
#define MG_TCPIP_FRAME_BUF MG_TCPIP_FRAME_MAX
#endif

/* Interface life cycle. */
enum {
  MG_TCPIP_STATE_DOWN,  /* driver reports the link down */
  MG_TCPIP_STATE_UP,    /* link up, no address yet (DHCP in progress) */
  MG_TCPIP_STATE_READY  /* link up and addressed */
};

/* TCP states (RFC 793 names). */
enum {
  MG_TCP_CLOSED,
  MG_TCP_SYN_SENT,
  MG_TCP_SYN_RCVD,
  MG_TCP_ESTABLISHED,
  MG_TCP_FIN_WAIT_1,
  MG_TCP_FIN_WAIT_2,
  MG_TCP_CLOSE_WAIT,
  MG_TCP_CLOSING,
  MG_TCP_LAST_ACK,
  MG_TCP_TIME_WAIT
};

/* Why a TCP connection ended abnormally (mg_tcpip_tcp_error). */
enum {
  MG_TCP_ERR_NONE,
  MG_TCP_ERR_REFUSED, /* RST answered our SYN */
  MG_TCP_ERR_RESET,   /* peer reset an open connection */
  MG_TCP_ERR_TIMEOUT, /* retransmissions or keep-alives exhausted */
  MG_TCP_ERR_NOROUTE, /* ARP for the next hop failed */
  MG_TCP_ERR_NOADDR,  /* connect waited for an address (DHCP) in vain */
  MG_TCP_ERR_YIELDED  /* reset to give its slot to a new connection */
};

/* Counters, all monotonic. */
struct mg_tcpip_stats {
  uint32_t rx_frames, tx_frames, tx_fail;
  uint32_t drop_eth;      /* short, foreign MAC, unknown ethertype */
  uint32_t drop_arp;      /* malformed or ignored ARP */
  uint32_t drop_ip;       /* bad header/checksum, not for us */
  uint32_t drop_frag;     /* IPv4 fragments (not reassembled) */
  uint32_t drop_icmp, drop_udp, drop_tcp;
  uint32_t arp_requests, arp_replies, arp_failed;
  uint32_t icmp_echo;     /* echo requests answered */
  uint32_t tcp_rst_sent, tcp_retransmits, tcp_fast_retransmits;
  uint32_t tcp_accepted, tcp_syn_dropped;
  uint32_t tcp_yielded;   /* connections reset to make room (docs/stack.md) */
  uint32_t dhcp_leases;   /* ACKs accepted */
  uint32_t dhcps_acks;    /* ACKs our DHCP server sent */
  uint32_t dhcps_naks;    /* NAKs our DHCP server sent */
  uint32_t dhcps_ignored; /* requests unanswered while dhcps_paused */
};

/* A contiguous byte ring (receive and send queues of a TCP connection). */
struct mg_tcpip_ring {
  uint8_t *buf;
  uint32_t size, head, len;
};

/* One TCP connection (a "protocol control block"). */
struct mg_tcpip_tcp {
  uint8_t state;       /* MG_TCP_* */
  uint8_t err;         /* MG_TCP_ERR_* once the connection failed */
  uint8_t listener;    /* index + 1 of the listener that spawned it, or 0 */
  uint8_t is_attached : 1; /* owned by the application (not yet closed) */
  uint8_t is_accepted : 1; /* handed out by mg_tcpip_tcp_accept */
  uint8_t fin_queued : 1;  /* application closed: FIN after queued data */
  uint8_t fin_rcvd : 1;    /* peer's FIN consumed: end of stream */
  uint8_t rtt_active : 1;  /* timing one segment (Karn: never a resent one) */
  uint8_t in_recovery : 1; /* fast recovery after 3 duplicate ACKs */
  uint8_t ack_now : 1;     /* send an ACK at the end of input processing */
  uint8_t wnd_update : 1;  /* window grew enough to tell the peer */
  uint8_t wait_addr : 1;   /* SYN_SENT, SYN held until we have an address */
  uint8_t ws_ok : 1;       /* window scaling (RFC 7323) agreed in the SYNs */
  uint8_t snd_scale, rcv_scale; /* shift of the peer's / our windows */
  uint8_t dupacks, retries, ka_probes;
  uint16_t lport, rport;
  uint32_t rip;
  uint16_t mss;        /* peer's MSS (what we may send) */
  /* Send side. */
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
  uint32_t tx_base;    /* sequence number of tx.buf[head] */
  uint32_t cwnd, ssthresh, recover;
  uint32_t rtt_seq;
  uint32_t srtt, rttvar, rto; /* milliseconds; srtt scaled by 8, rttvar by 4 */
  uint64_t rtt_start, rtx_deadline, persist_deadline, idle_since, tw_deadline;
  uint32_t persist_ms;
  /* Receive side. */
  uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge last advertised */
  uint32_t ooo[MG_TCPIP_OOO_RANGES][2]; /* out-of-order [start, end) */
  uint8_t nooo;
  struct mg_tcpip_ring rx, tx;
  uint8_t rxbuf[MG_TCPIP_TCP_RXBUF];
  uint8_t txbuf[MG_TCPIP_TCP_TXBUF];
};

struct mg_tcpip_listener {
  uint16_t port;       /* 0 = free slot */
  uint8_t backlog;     /* connections not yet accepted, max */
};

/* One UDP endpoint; received datagrams queue in buf as records
 * [len:2][ip:4][port:2][data]. */
struct mg_tcpip_udp {
  uint16_t lport;      /* 0 = free slot */
  uint16_t rport;      /* connected peer, or 0 */
  uint32_t rip;
  uint32_t head, len;
  uint64_t addr_deadline; /* manager connect made before DHCP: gives up */
  uint8_t buf[MG_TCPIP_UDP_RXBUF];
};

struct mg_tcpip_arp {
  uint32_t ip;         /* 0 = free slot */
  uint8_t mac[6];
  uint8_t resolved, tries;
  uint64_t expire;     /* resolved: drop after; pending: next retry */
};

struct mg_tcpip_dhcp {
  uint8_t state;       /* see dhcp.c */
  uint8_t tries;
  uint32_t xid, server, offered, lease_s;
  uint64_t deadline, t1, t2, expire;
};

struct mg_tcpip_if {
  /* ---- configuration, set before mg_tcpip_init ---- */
  uint8_t mac[6];
  uint32_t ip, mask, gw;   /* static address; ip == 0 with enable_dhcp */
  uint32_t dns;            /* DNS server (static, or learnt by DHCP) */
  bool enable_dhcp;        /* run the DHCP client */
  /* Small DHCP server (e.g. the host side of a device bridge): hands out
   * MG_TCPIP_DHCPS_LEASES addresses from dhcp_pool on, with us as router. */
  bool enable_dhcp_server;
  uint32_t dhcp_pool;      /* may change while running: renewals then get NAKs */
  /* Server faults a test can switch at any time: the lease time it hands out
   * (0 = MG_TCPIP_DHCPS_LEASE_S), silence (every request ignored), and a NAK
   * for the next dhcps_nak REQUESTs. */
  uint32_t dhcps_lease_s;
  bool dhcps_paused;
  uint32_t dhcps_nak;
  const struct mg_driver *driver;
  void *driver_data;       /* the driver's ctx */
  uint32_t seed;           /* PRNG seed: ISNs, ports, DHCP xid (0 = fixed) */
  /* How long a connect made before DHCP finished waits for the address
   * (0 = MG_TCPIP_ADDR_WAIT_MS). */
  uint32_t addr_wait_ms;
  /* With every TCP slot taken, an incoming connection idle this long may
   * yield to a new SYN (0: MG_TCPIP_YIELD_IDLE_MS). */
  uint32_t yield_idle_ms;
  /* Optional host-side blocking wait for traffic (e.g. mg_tap_wait); NULL
   * makes the manager transport poll without sleeping. */
  void (*wait)(void *driver_data, int ms);
  /* Optional: called on each state change (READY after DHCP, ...). */
  void (*on_state)(struct mg_tcpip_if *ifp, int state, void *arg);
  void *on_state_arg;
  /* Optional: called when a manager using the interface is freed, so an
   * owner that shares it with the manager (the Python binding) can release
   * it last. */
  void (*on_release)(struct mg_tcpip_if *ifp);

  /* ---- status ---- */
  int state;               /* MG_TCPIP_STATE_* */
  struct mg_tcpip_stats stats;

  /* ---- private ---- */
  uint64_t now;            /* clock of the last mg_tcpip_poll */
  uint64_t rng;            /* xorshift state */
  uint16_t next_port;      /* next ephemeral port */
  bool initialised;
  uint32_t gso_max;        /* largest IPv4 packet the driver offloads, or 0 */
  bool rx_trusted;         /* frame in hand: driver vouched for its L4 sum */
  bool defer_acks;         /* pure ACKs wait for mg_tcpip_flush_acks */
  struct mg_tcpip_arp arp[MG_TCPIP_ARP_SIZE];
  struct mg_tcpip_dhcp dhcp;
  uint8_t dhcps_mac[MG_TCPIP_DHCPS_LEASES][6]; /* lease i: dhcp_pool + i */
  struct mg_tcpip_listener listeners[MG_TCPIP_MAX_LISTEN];
  struct mg_tcpip_udp udp[MG_TCPIP_MAX_UDP];
  struct mg_tcpip_tcp tcp[MG_TCPIP_MAX_TCP];
  /* One SYN waiting for the slot a yielding connection frees once the
   * application has closed it (tcp.c, passive_open). */
  uint32_t syn_src;
  uint64_t syn_until;  /* forgotten after this (the peer retries) */
  uint8_t syn_len;     /* 0: none parked */
  uint8_t syn_seg[60]; /* its TCP header with options */
  /* One frame parked while ARP resolves its next hop. */
  uint32_t pending_ip;
  size_t pending_len;
  uint8_t pending[MG_TCPIP_FRAME_MAX];
  uint8_t txf[MG_TCPIP_FRAME_BUF]; /* frame being built */
  uint8_t rxf[MG_TCPIP_FRAME_BUF + 4]; /* frame being read from the driver */
};

/* ---- Interface ---- */
/* Validates the configuration, brings the driver up, and starts DHCP or
 * announces the static address. False when the driver init fails. */
bool mg_tcpip_init(struct mg_tcpip_if *ifp);
/* Drops every connection (no frames sent) and marks the interface down. */
void mg_tcpip_free(struct mg_tcpip_if *ifp);
/* Services the driver: reads every pending frame, then runs timers. */
void mg_tcpip_poll(struct mg_tcpip_if *ifp, uint64_t now_ms);
/* Sends the ACKs that mg_tcpip_poll held back for replies to carry; called
 * by mg_tcpip_poll itself and by the transport before it blocks. */
void mg_tcpip_flush_acks(struct mg_tcpip_if *ifp);
/* Processes one received Ethernet frame (no FCS) and answers it at once
 * (held-back ACKs included). Any bytes are safe. */
void mg_tcpip_rx(struct mg_tcpip_if *ifp, const void *frame, size_t len);
/* Runs the protocol timers at ifp->now (part of mg_tcpip_poll). */
void mg_tcpip_timers(struct mg_tcpip_if *ifp);
/* Formats an IPv4 address (network order) as a dotted quad. */
char *mg_tcpip_ntoa(uint32_t ip, char *buf, size_t len);
/* Makes an address in network order from four octets. */
uint32_t mg_tcpip_ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d);

/* ---- TCP (handles are pointers into ifp->tcp; NULL = no resource) ---- */
/* Listens on port; returns the listener index or -1 (pool full, in use). */
int mg_tcpip_tcp_listen(struct mg_tcpip_if *ifp, uint16_t port, int backlog);
void mg_tcpip_tcp_unlisten(struct mg_tcpip_if *ifp, int listener);
/* Takes one established connection from a listener; NULL when none. */
struct mg_tcpip_tcp *mg_tcpip_tcp_accept(struct mg_tcpip_if *ifp,
                                         int listener);
/* True when mg_tcpip_tcp_accept would return a connection. */
bool mg_tcpip_tcp_acceptable(const struct mg_tcpip_if *ifp, int listener);
/* Starts an active open (SYN). lport 0 picks an ephemeral port. Without an
 * address yet (DHCP running) the SYN waits until the interface is READY, for
 * at most addr_wait_ms; then the connection fails with MG_TCP_ERR_NOADDR. */
struct mg_tcpip_tcp *mg_tcpip_tcp_connect(struct mg_tcpip_if *ifp,
                                          uint32_t ip, uint16_t port,
                                          uint16_t lport);
/* >0 bytes, 0 = nothing yet, MG_IO_EOF (-2) = the peer's FIN after all
 * its data, -1 = reset or error (see err). */
long mg_tcpip_tcp_recv(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                       void *buf, size_t len);
/* Queues bytes; returns how many fit (0 = queue full), -1 if not open. */
long mg_tcpip_tcp_send(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t,
                       const void *buf, size_t len);
/* Bytes that mg_tcpip_tcp_send would accept now. */
size_t mg_tcpip_tcp_space(const struct mg_tcpip_tcp *t);
/* True once the handshake finished (data may flow). */
bool mg_tcpip_tcp_is_open(const struct mg_tcpip_tcp *t);
/* True when recv would return non-zero (data, end of stream or error). */
bool mg_tcpip_tcp_readable(const struct mg_tcpip_tcp *t);
/* Graceful close: sends queued data, then FIN; the handle is invalid after
 * this call (the stack finishes and recycles the slot). */
void mg_tcpip_tcp_close(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t);
/* Abortive close: sends RST, frees the slot at once. */
void mg_tcpip_tcp_abort(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t);
/* Half-close: sends our FIN after the queued data; receiving goes on. */
void mg_tcpip_tcp_shutdown(struct mg_tcpip_if *ifp, struct mg_tcpip_tcp *t);

/* ---- UDP ---- */
/* Opens port (0 = ephemeral); rip/rport non-zero restricts it to one peer. */
struct mg_tcpip_udp *mg_tcpip_udp_open(struct mg_tcpip_if *ifp, uint16_t lport,
                                       uint32_t rip, uint16_t rport);
void mg_tcpip_udp_close(struct mg_tcpip_if *ifp, struct mg_tcpip_udp *u);
/* Sends one datagram; false when the next hop is not resolved yet (the frame
 * is parked and sent after ARP), too big, or the interface is down. */
bool mg_tcpip_udp_sendto(struct mg_tcpip_if *ifp, struct mg_tcpip_udp *u,
                         uint32_t ip, uint16_t port, const void *buf,
                         size_t len);
/* Pops one datagram (truncated to len); returns its size, 0 when none. */
long mg_tcpip_udp_recvfrom(struct mg_tcpip_udp *u, void *buf, size_t len,
                           uint32_t *ip, uint16_t *port);

/* ---- Manager transport ---- */
struct mg_mgr;
/* The struct mg_net of the stack; mgr->net_data must be the interface. */
extern const struct mg_net mg_net_stack;
/* mg_mgr_init_net(mgr, &mg_net_stack) then this: binds ifp to mgr. */
void mg_tcpip_attach(struct mg_mgr *mgr, struct mg_tcpip_if *ifp);
/* Moves a manager initialised on another transport (mg_mgr_init) onto the
 * stack, keeping its wakeup channel. Only before it has connections: false
 * otherwise (and while polling). */
bool mg_tcpip_use(struct mg_mgr *mgr, struct mg_tcpip_if *ifp);
/* Unbinds the interface (about to be freed) from mgr: afterwards the
 * manager's connections fail and close without touching the interface. */
void mg_tcpip_detach(struct mg_mgr *mgr);

/* ---- Drivers shipped with the stack ---- */
/* In-memory link pair with deterministic impairments (src/drivers/link.c).
 * Each direction is a bounded queue of frames stamped with a delivery time;
 * the pair's clock is `now` (set by the test) unless clock() is given. */
#define MG_LINK_QUEUE 128
struct mg_link_frame {
  uint64_t at;
  uint16_t len;
  uint8_t data[MG_TCPIP_FRAME_MAX];
};
struct mg_link_dir {
  struct mg_link_frame q[MG_LINK_QUEUE];
  uint32_t count;
  uint32_t sent, delivered, dropped, duplicated, reordered;
};
struct mg_link {
  /* impairments, per mille (0..1000), applied to each direction */
  uint16_t loss, dup, reorder;
  uint32_t delay_ms;        /* base one-way delay */
  uint32_t reorder_ms;      /* extra delay (1..reorder_ms) for reordered */
  uint64_t seed;
  uint64_t now;
  uint64_t (*clock)(void);  /* optional: real time instead of `now` */
  struct mg_link_dir dir[2]; /* dir[0]: end 0 -> end 1 */
  uint64_t rng;
  bool up;
};
/* ctx for a driver: end 0 or end 1 of the pair. */
struct mg_link_end {
  struct mg_link *link;
  int side;
};
void mg_link_init(struct mg_link *l, uint64_t seed);
extern const struct mg_driver mg_driver_link;

/* Serial framing (src/drivers/slip.c): an Ethernet frame plus its CRC-32
 * (mg_crc32, IEEE, little-endian) escaped with SLIP (RFC 1055) bytes END/ESC. */
#define MG_SLIP_END 0xC0
#define MG_SLIP_ESC 0xDB
#define MG_SLIP_ESC_END 0xDC
#define MG_SLIP_ESC_ESC 0xDD
/* Worst-case encoded size of a frame of n bytes. */
#define MG_SLIP_ENCODED_MAX(n) (2 * ((n) + 4) + 2)
/* Encodes frame into out; returns bytes written or 0 when out is too small. */
size_t mg_slip_encode(const void *frame, size_t len, void *out, size_t outlen);
struct mg_slip_decoder {
  size_t len;
  bool esc, overflow;
  uint32_t good, bad; /* frames accepted / rejected (CRC, size, escape) */
  uint8_t buf[MG_TCPIP_FRAME_MAX + 4];
};
/* Feeds one byte; returns the frame length (CRC stripped) when it completed a
 * valid frame, now in d->buf; 0 otherwise. */
size_t mg_slip_decode(struct mg_slip_decoder *d, uint8_t byte);
/* A driver over any byte stream: read/write are non-blocking callbacks. */
struct mg_slip {
  size_t (*read)(void *arg, void *buf, size_t len);
  size_t (*write)(void *arg, const void *buf, size_t len);
  void *arg;
  struct mg_slip_decoder dec;
  uint8_t in[256];    /* bytes read but not decoded yet */
  size_t in_pos, in_len;
  uint8_t enc[MG_SLIP_ENCODED_MAX(MG_TCPIP_FRAME_MAX)];
};
extern const struct mg_driver mg_driver_slip;

#if MG_ARCH == MG_ARCH_POSIX
/* Frames over a stream socket, each after a 4-byte big-endian length: QEMU's
 * "-netdev stream" / "-netdev socket" (src/drivers/stream.c). fd is a
 * connected stream socket (made non-blocking by init); a closed peer turns
 * the link down. */
struct mg_stream {
  int fd;
  bool eof;
  uint32_t bad;        /* oversized frames skipped */
  size_t in_len, skip;
  uint8_t in[4 * (MG_TCPIP_FRAME_MAX + 4)];
};
extern const struct mg_driver mg_driver_stream;
void mg_stream_wait(void *stream, int ms);
/* SLIP over a file descriptor (src/drivers/serial_fd.c): set
 * slip.read = mg_fd_read, slip.write = mg_fd_write, slip.arg = &fd, and
 * the interface's wait hook to mg_slip_fd_wait. */
bool mg_fd_nonblock(int fd);
size_t mg_fd_read(void *fd_ptr, void *buf, size_t len);
size_t mg_fd_write(void *fd_ptr, const void *buf, size_t len);
void mg_slip_fd_wait(void *slip, int ms);
#endif

#if MG_ARCH == MG_ARCH_POSIX
/* Linux TAP (src/drivers/tap.c). Set name (e.g. "tap0"; empty = kernel
 * picks, written back) before init; the device must exist or we must be
 * allowed to create it. Offloads are used unless no_offload is set. On
 * other POSIX systems and in the portable profile (!MG_LINUX) the driver's
 * init fails ("not available on this system"). */
struct mg_tap {
  char name[16];
  int fd;
  /* Set before init to exchange plain frames only. Otherwise the device is
   * opened with IFF_VNET_HDR and TCP checksum/segmentation offloads: the
   * kernel takes and delivers TCP segments of up to 64 KiB (one read/write
   * each) instead of one syscall per 1500-byte frame. */
  bool no_offload;
  bool vnet;           /* status: offloads are on */
};
extern const struct mg_driver mg_driver_tap;
/* Blocks up to ms for a frame on the TAP fd (the interface's wait hook). */
void mg_tap_wait(void *tap, int ms);
#endif

#if MG_ARCH == MG_ARCH_WIN32 && \
    (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
/* Compiled out on Windows: using one of these is a compile error that says
 * so (GCC >= 12 / clang), instead of an unknown name. */
#define MG_WIN32_UNAVAILABLE(what) \
  __attribute__((unavailable(what " is not available on Windows")))
extern const struct mg_driver mg_driver_tap MG_WIN32_UNAVAILABLE("Linux TAP");
void mg_tap_wait(void *tap, int ms) MG_WIN32_UNAVAILABLE("Linux TAP");
extern const struct mg_driver mg_driver_stream
    MG_WIN32_UNAVAILABLE("the stream driver (POSIX sockets)");
void mg_stream_wait(void *stream, int ms)
    MG_WIN32_UNAVAILABLE("the stream driver (POSIX sockets)");
bool mg_fd_nonblock(int fd) MG_WIN32_UNAVAILABLE("SLIP on a file descriptor");
size_t mg_fd_read(void *fd_ptr, void *buf, size_t len)
    MG_WIN32_UNAVAILABLE("SLIP on a file descriptor");
size_t mg_fd_write(void *fd_ptr, const void *buf, size_t len)
    MG_WIN32_UNAVAILABLE("SLIP on a file descriptor");
void mg_slip_fd_wait(void *slip, int ms)
    MG_WIN32_UNAVAILABLE("SLIP on a file descriptor");
#endif

#endif /* MG_ENABLE_TCPIP */

#ifdef __cplusplus
}
#endif
#endif /* MG_STACK_H */
