/* Build-time options of the cymongoose core, with their defaults.
 *
 * Every option can be overridden with -DNAME=value (CMake passes them through).
 * Each feature flag must build alone: the core compiles with any single one of
 * them switched on or off. */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

/* Target architecture: MG_ARCH_POSIX for Linux, macOS and BSD hosts,
 * MG_ARCH_WIN32 for Windows hosts (Winsock, built with mingw-w64),
 * MG_ARCH_BAREMETAL for microcontrollers without an OS. */
#define MG_ARCH_POSIX 1
#define MG_ARCH_BAREMETAL 2
#define MG_ARCH_WIN32 3
#ifndef MG_ARCH
#if defined(_WIN32)
#define MG_ARCH MG_ARCH_WIN32
#elif defined(__unix__) || defined(__APPLE__)
#define MG_ARCH MG_ARCH_POSIX
#else
#define MG_ARCH MG_ARCH_BAREMETAL
#endif
#endif
/* 1 on an operating system (POSIX or Windows): the sizes below default to
 * a host's plenty instead of a microcontroller's few kilobytes. */
#define MG_ARCH_HOSTED (MG_ARCH == MG_ARCH_POSIX || MG_ARCH == MG_ARCH_WIN32)

/* What a failed MG_ASSERT(cond) (mg_base.h) does. Firmware on Arm Thumb: the
 * permanently undefined instruction UDF #0xA5, inline, so the fault's pc is
 * the assert's own line; the board's fault handler reports it as an "assert"
 * crash record (boards/common/cortex_m_startup.c). Other bare-metal targets:
 * __builtin_trap(). Hosts: nothing (the condition is still evaluated).
 * Define it to call a function of your own. */
#ifndef MG_ASSERT_FAIL
#if MG_ARCH == MG_ARCH_BAREMETAL && defined(__thumb__)
#define MG_ASSERT_FAIL() __asm__ volatile("udf #0xa5")
#elif MG_ARCH == MG_ARCH_BAREMETAL
#define MG_ASSERT_FAIL() __builtin_trap()
#else
#define MG_ASSERT_FAIL() ((void) 0)
#endif
#endif

/* Kernel BSD sockets (hosts only: src/net/sock.c, Winsock on Windows). */
#ifndef MG_ENABLE_SOCKET
#define MG_ENABLE_SOCKET MG_ARCH_HOSTED
#endif

/* Portable POSIX profile (CMake -DMG_PORTABLE_POSIX=ON): the code paths of
 * macOS and the BSDs, also on Linux, where it is tested (make test-posix,
 * docs/hosts.md): poll(2) instead of epoll, fcntl(2) instead of accept4 and
 * SOCK_NONBLOCK/SOCK_CLOEXEC, no MSG_MORE, no Linux sendfile(2), no
 * getrandom(2), no TAP driver, no <linux/...> or other Linux-only header. */
#ifndef MG_PORTABLE_POSIX
#define MG_PORTABLE_POSIX 0
#endif
/* 1 where Linux-only interfaces may be used: on Linux outside the portable
 * profile. Code tests this, never __linux__ itself. */
#if defined(__linux__) && !MG_PORTABLE_POSIX
#define MG_LINUX 1
#else
#define MG_LINUX 0
#endif

/* epoll(7) readiness on Linux; poll(2) otherwise. */
#ifndef MG_ENABLE_EPOLL
#if MG_LINUX
#define MG_ENABLE_EPOLL 1
#else
#define MG_ENABLE_EPOLL 0
#endif
#endif

/* Built-in TCP/IP stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP, DHCP). On by
 * default everywhere: firmware runs on it, and on hosts it reaches devices
 * over TAP, QEMU socket netdevs or serial links without the kernel. */
#ifndef MG_ENABLE_TCPIP
#define MG_ENABLE_TCPIP 1
#endif

/* The built-in stack's small DHCP server (src/net/stack/dhcps.c, ~0.8 KiB of
 * flash): the host end of a device bridge needs it (on every host, Windows
 * too), boards do not. Without it, mg_tcpip_init refuses an interface with
 * enable_dhcp_server. */
#ifndef MG_ENABLE_DHCP_SERVER
#define MG_ENABLE_DHCP_SERVER MG_ARCH_HOSTED
#endif

/* Stellaris LM3S6965 Ethernet MAC (src/drivers/stellaris_enet.c): plain
 * memory-mapped registers, no OS calls, so it builds on any target; off
 * unless a board needs it (boards/lm3s6965evb turns it on). */
#ifndef MG_ENABLE_DRIVER_STELLARIS_ENET
#define MG_ENABLE_DRIVER_STELLARIS_ENET 0
#endif

/* Stream driver for the stack (src/drivers/stream.c): frames over a socket as
 * QEMU's "-netdev stream" carries them. Its codec is portable; the driver
 * itself needs POSIX sockets. */
#ifndef MG_ENABLE_DRIVER_STREAM
#define MG_ENABLE_DRIVER_STREAM (MG_ARCH == MG_ARCH_POSIX)
#endif

/* virtio-net driver over virtio-mmio (src/drivers/virtio_net.c), for
 * emulated boards such as QEMU's RISC-V virt; the board turns it on. */
#ifndef MG_ENABLE_DRIVER_VIRTIO_NET
#define MG_ENABLE_DRIVER_VIRTIO_NET 0
#endif
/* Buffers per virtqueue (receive and transmit each; a power of two >= 4),
 * 1536 bytes each, plus a 4 KiB-aligned ring page per queue. */
#ifndef MG_VIRTIO_NET_QSIZE
#define MG_VIRTIO_NET_QSIZE 4
#endif
/* How long tx() waits for the device to give a buffer back before it drops
 * the frame (QEMU sends from its own thread, soon after the notify). */
#ifndef MG_VIRTIO_NET_TX_WAIT_MS
#define MG_VIRTIO_NET_TX_WAIT_MS 2
#endif

/* Protocols. */
#ifndef MG_ENABLE_HTTP
#define MG_ENABLE_HTTP 1
#endif
#ifndef MG_ENABLE_WS
#define MG_ENABLE_WS MG_ENABLE_HTTP
#endif
#ifndef MG_ENABLE_MQTT
#define MG_ENABLE_MQTT 1
#endif
#ifndef MG_ENABLE_SNTP
#define MG_ENABLE_SNTP 1
#endif

/* ---- MQTT (src/proto/mqtt.c) ---- */
/* Largest packet accepted (fixed header included); larger ones close the
 * connection. Must stay below MG_MAX_RECV_SIZE. */
#ifndef MG_MQTT_MAX_PACKET
#define MG_MQTT_MAX_PACKET (1024UL * 1024UL)
#endif
/* Outgoing QoS 1/2 exchanges in flight (sent, not yet finished) per
 * connection; the peer's Receive Maximum (MQTT 5) lowers it. 20 is what
 * mosquitto and paho use by default, so a 3.1.1 broker, which cannot
 * announce a limit, is not overrun. Also the number of inbound QoS 2 ids
 * remembered between PUBREC and PUBREL for duplicate suppression. */
#ifndef MG_MQTT_INFLIGHT_MAX
#define MG_MQTT_INFLIGHT_MAX 20
#endif
/* Publishes waiting per connection for an in-flight slot (or, on a client,
 * for CONNACK); one more is refused: mg_mqtt_pub returns 0. */
#ifndef MG_MQTT_QUEUE_MAX
#define MG_MQTT_QUEUE_MAX (MG_ARCH_HOSTED ? 1000 : 16)
#endif
/* MQTT 3.1.1 only: resend an unacknowledged QoS 1/2 packet (DUP set) after
 * this long. MQTT 5 resends only on reconnection (spec 4.4). */
#ifndef MG_MQTT_RETRANSMIT_MS
#define MG_MQTT_RETRANSMIT_MS 5000
#endif
/* An accepted MQTT connection must send CONNECT, and a client must get
 * CONNACK, within this long (mg_mqtt_set_connect_timeout per connection). */
#ifndef MG_MQTT_CONNECT_TIMEOUT_MS
#define MG_MQTT_CONNECT_TIMEOUT_MS 10000
#endif

/* Asynchronous DNS resolver over UDP (src/proto/dns.c). */
#ifndef MG_ENABLE_DNS
#define MG_ENABLE_DNS 1
#endif

/* TLS backend (src/tls/): MG_TLS_NONE, or MG_TLS_OPENSSL for hosts (CMake
 * sets it when it finds the system OpenSSL). */
#define MG_TLS_NONE 0
#define MG_TLS_OPENSSL 1
#ifndef MG_TLS
#define MG_TLS MG_TLS_NONE
#endif

/* A TLS handshake not finished this long after mg_tls_init fails with
 * "TLS handshake timed out" (a peer that connects and stays silent must not
 * hold the connection); mg_tls_opts.handshake_timeout_ms overrides it. */
#ifndef MG_TLS_HANDSHAKE_MS
#define MG_TLS_HANDSHAKE_MS 10000
#endif

/* HTTP server: a request body being received must bring at least this many
 * bytes per second on average over each period of the request timeout
 * (MG_HTTP_IDLE_TIMEOUT_MS, 30 s: 30 KiB per 30 s), else 408 and the
 * connection closes. A trickling body re-arms the timeout with every byte,
 * so without a minimum rate it could hold a connection for ever.
 * mg_http_set_body_min_rate changes it per connection; 0 = no minimum. */
#ifndef MG_HTTP_BODY_MIN_RATE
#define MG_HTTP_BODY_MIN_RATE 1024
#endif

/* TLS 1.2 cipher suites a server accepts, in its order of preference (it
 * picks, not the client): forward-secret ECDHE with AEAD only, no CBC and no
 * static RSA key exchange. OpenSSL cipher-list syntax; TLS 1.3 suites keep
 * the library's defaults (all AEAD). Clients keep the library's list. */
#ifndef MG_TLS_SERVER_CIPHERS
#define MG_TLS_SERVER_CIPHERS                                  \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#endif

/* Ed25519 signature verification (src/core/util_ed25519.c, RFC 8032), for
 * signed firmware images. On everywhere, firmware included: it costs 4.2 KiB
 * of code on Cortex-M3 at -Os (2.4 KiB verifier + 1.8 KiB SHA-512, see
 * docs/crypto.md) only in images that call mg_ed25519_verify, since
 * firmware links with --gc-sections. */
#ifndef MG_ENABLE_ED25519
#define MG_ENABLE_ED25519 1
#endif

/* Two-slot boot state (src/core/bootstate.c, docs/updates.md): how many
 * times the bootloader boots an image on test before it rolls back to the
 * other slot, when the image has not confirmed itself by then. One: a test
 * image that resets (crash, watchdog, power) before its health check passed
 * is not booted again. */
#ifndef MG_BOOTSTATE_TEST_BOOTS
#define MG_BOOTSTATE_TEST_BOOTS 1
#endif

/* Logging compiled in (runtime level still defaults to MG_LL_NONE). */
#ifndef MG_ENABLE_LOG
#define MG_ENABLE_LOG 1
#endif

/* Cross-thread wakeup channel (needs MG_ENABLE_SOCKET for its pipe). */
#ifndef MG_ENABLE_WAKEUP
#define MG_ENABLE_WAKEUP MG_ENABLE_SOCKET
#endif

/* Bytes read from a socket in one go, and the growth step of receive buffers. */
#ifndef MG_IO_SIZE
#define MG_IO_SIZE 2048
#endif

/* Reads per connection and loop iteration while data keeps arriving (each
 * read up to the free receive space, at least MG_IO_SIZE). */
#ifndef MG_READ_BURST
#define MG_READ_BURST 16
#endif

/* A connection stops reading (is_full) once its receive buffer holds this much. */
#ifndef MG_MAX_RECV_SIZE
#define MG_MAX_RECV_SIZE (3UL * 1024UL * 1024UL)
#endif

/* Backpressure: a connection whose send buffer holds MG_SEND_HIGH_WATER bytes
 * or more stops reading, and protocol handlers stop answering input already
 * received (pipelined requests, WebSocket echoes, MQTT), until the buffer has
 * drained to MG_SEND_LOW_WATER. A peer that sends but never reads therefore
 * holds at most about this much of our memory. Per manager and per
 * connection: mg_set_send_marks(); 0 turns it off for a manager. */
#ifndef MG_SEND_HIGH_WATER
#define MG_SEND_HIGH_WATER \
  (MG_ARCH_HOSTED ? (1024UL * 1024UL) : 8192UL)
#endif
#ifndef MG_SEND_LOW_WATER
#define MG_SEND_LOW_WATER \
  (MG_ARCH_HOSTED ? (256UL * 1024UL) : 2048UL)
#endif

/* Listen backlog for TCP listeners. */
#ifndef MG_SOCK_LISTEN_BACKLOG
#define MG_SOCK_LISTEN_BACKLOG 128
#endif

/* When accept() fails for lack of descriptors or kernel memory (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM), listeners are not polled for this long, then
 * accept is retried: the pending connection keeps the listener readable, so
 * retrying at once would spin a core until a descriptor frees up. */
#ifndef MG_SOCK_ACCEPT_BACKOFF_MS
#define MG_SOCK_ACCEPT_BACKOFF_MS 100
#endif

/* ---- Built-in TCP/IP stack sizing (used when MG_ENABLE_TCPIP). RAM: see
 * mg_stack.h; per TCP connection ~sizeof(struct mg_tcpip_tcp) minus the two
 * buffers below. Timers in milliseconds. ---- */
#ifndef MG_TCPIP_MTU
#define MG_TCPIP_MTU 1500
#endif
/* Largest IPv4 packet exchanged with a driver that offloads segmentation and
 * checksums (struct mg_driver.offload, the host TAP driver): TCP hands it
 * up to this much at once and it may deliver as much. Sizes two frame
 * buffers of the interface; 0 (firmware) = MTU-sized frames only. */
#ifndef MG_TCPIP_OFFLOAD_MAX
#define MG_TCPIP_OFFLOAD_MAX (MG_ARCH_HOSTED ? 65535 : 0)
#endif
#ifndef MG_TCPIP_MAX_TCP /* TCP connections (incl. TIME_WAIT) */
#define MG_TCPIP_MAX_TCP (MG_ARCH_HOSTED ? 32 : 6)
#endif
#ifndef MG_TCPIP_MAX_LISTEN
#define MG_TCPIP_MAX_LISTEN 4
#endif
#ifndef MG_TCPIP_MAX_UDP
#define MG_TCPIP_MAX_UDP 4
#endif
/* Per-connection buffers. Windows beyond 64 KiB use window scaling. On hosts
 * the send buffer bounds bulk throughput over TAP (bench/RESULTS.md). */
#ifndef MG_TCPIP_TCP_RXBUF /* receive window of one connection */
#define MG_TCPIP_TCP_RXBUF (MG_ARCH_HOSTED ? 65535 : 4096)
#endif
#ifndef MG_TCPIP_TCP_TXBUF /* unacknowledged + unsent bytes of one connection */
#define MG_TCPIP_TCP_TXBUF (MG_ARCH_HOSTED ? 131072 : 4096)
#endif
#ifndef MG_TCPIP_UDP_RXBUF /* queued datagrams of one UDP endpoint */
#define MG_TCPIP_UDP_RXBUF (MG_ARCH_HOSTED ? 8192 : 2048)
#endif
#ifndef MG_TCPIP_OOO_RANGES /* out-of-order byte ranges kept per connection */
#define MG_TCPIP_OOO_RANGES 4
#endif
#ifndef MG_TCPIP_ARP_SIZE
#define MG_TCPIP_ARP_SIZE 8
#endif
#ifndef MG_TCPIP_ARP_TTL_MS
#define MG_TCPIP_ARP_TTL_MS 600000
#endif
#ifndef MG_TCPIP_ARP_RETRY_MS
#define MG_TCPIP_ARP_RETRY_MS 1000
#endif
#ifndef MG_TCPIP_ARP_TRIES
#define MG_TCPIP_ARP_TRIES 3
#endif
/* With every TCP slot taken, a new SYN makes an idle incoming connection
 * yield (docs/stack.md); one active within this long is never chosen, so a
 * burst of real clients (slowed by a busy host) is not reset. Firmware has
 * few slots and slow peers are the threat; hosts have many. Per interface:
 * mg_tcpip_if.yield_idle_ms. */
#ifndef MG_TCPIP_YIELD_IDLE_MS
#define MG_TCPIP_YIELD_IDLE_MS (MG_ARCH_HOSTED ? 10000 : 1000)
#endif
#ifndef MG_TCPIP_BACKLOG /* default cap of half-open + unaccepted */
#define MG_TCPIP_BACKLOG (MG_ARCH_HOSTED ? 16 : 4)
#endif
#ifndef MG_TCPIP_RTO_INIT_MS
#define MG_TCPIP_RTO_INIT_MS 1000
#endif
#ifndef MG_TCPIP_RTO_MIN_MS
#define MG_TCPIP_RTO_MIN_MS 200
#endif
#ifndef MG_TCPIP_RTO_MAX_MS
#define MG_TCPIP_RTO_MAX_MS 60000
#endif
#ifndef MG_TCPIP_MAX_RETRIES /* retransmissions before giving up */
#define MG_TCPIP_MAX_RETRIES 10
#endif
#ifndef MG_TCPIP_SYN_RETRIES /* SYN / SYN-ACK retransmissions */
#define MG_TCPIP_SYN_RETRIES 4
#endif
#ifndef MG_TCPIP_TIME_WAIT_MS
#define MG_TCPIP_TIME_WAIT_MS 4000
#endif
#ifndef MG_TCPIP_KEEPALIVE_MS /* idle time before the first probe; 0 = off */
#define MG_TCPIP_KEEPALIVE_MS 60000
#endif
#ifndef MG_TCPIP_KEEPALIVE_INTVL_MS
#define MG_TCPIP_KEEPALIVE_INTVL_MS 10000
#endif
#ifndef MG_TCPIP_DHCPS_LEASES /* clients of the optional DHCP server */
#define MG_TCPIP_DHCPS_LEASES 4
#endif
#ifndef MG_TCPIP_DHCPS_LEASE_S
#define MG_TCPIP_DHCPS_LEASE_S 3600
#endif
#ifndef MG_TCPIP_KEEPALIVE_PROBES
#define MG_TCPIP_KEEPALIVE_PROBES 5
#endif
/* A connect issued while the interface has no address (DHCP still running)
 * waits this long for one, then fails ("network not ready"). The interface's
 * addr_wait_ms overrides it. */
#ifndef MG_TCPIP_ADDR_WAIT_MS
#define MG_TCPIP_ADDR_WAIT_MS 10000
#endif

/* Linux-only features asked for where they cannot exist. */
#if MG_ENABLE_EPOLL && !MG_LINUX && MG_ARCH == MG_ARCH_POSIX
#error "MG_ENABLE_EPOLL: epoll is Linux-only (off in MG_PORTABLE_POSIX); poll(2) is used instead"
#endif

/* Features that cannot exist on Windows hosts. */
#if MG_ARCH == MG_ARCH_WIN32 && MG_ENABLE_EPOLL
#error "MG_ENABLE_EPOLL: epoll is Linux-only; Windows uses WSAPoll"
#endif
#if MG_ARCH == MG_ARCH_WIN32 && MG_ENABLE_DRIVER_STREAM
#error "MG_ENABLE_DRIVER_STREAM: the stream driver needs POSIX sockets, not available on Windows"
#endif

#endif /* MG_CONFIG_H */
