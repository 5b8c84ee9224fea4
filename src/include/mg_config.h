/* Build-time options of the cymongoose core, with their defaults.
 *
 * Every option can be overridden with -DNAME=value (CMake passes them through).
 * Each feature flag must build alone: the core compiles with any single one of
 * them switched on or off. */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

/* Target architecture: MG_ARCH_POSIX for Linux hosts, MG_ARCH_BAREMETAL for
 * microcontrollers without an OS. */
#define MG_ARCH_POSIX 1
#define MG_ARCH_BAREMETAL 2
#ifndef MG_ARCH
#if defined(__unix__) || defined(__APPLE__)
#define MG_ARCH MG_ARCH_POSIX
#else
#define MG_ARCH MG_ARCH_BAREMETAL
#endif
#endif

/* Kernel BSD sockets (host only). */
#ifndef MG_ENABLE_SOCKET
#define MG_ENABLE_SOCKET (MG_ARCH == MG_ARCH_POSIX)
#endif

/* epoll(7) readiness on Linux; poll(2) otherwise. */
#ifndef MG_ENABLE_EPOLL
#ifdef __linux__
#define MG_ENABLE_EPOLL 1
#else
#define MG_ENABLE_EPOLL 0
#endif
#endif

/* Built-in TCP/IP stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP, DHCP). */
#ifndef MG_ENABLE_TCPIP
#define MG_ENABLE_TCPIP (MG_ARCH == MG_ARCH_BAREMETAL)
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

/* A connection stops reading (is_full) once its receive buffer holds this much. */
#ifndef MG_MAX_RECV_SIZE
#define MG_MAX_RECV_SIZE (3UL * 1024UL * 1024UL)
#endif

/* Listen backlog for TCP listeners. */
#ifndef MG_SOCK_LISTEN_BACKLOG
#define MG_SOCK_LISTEN_BACKLOG 128
#endif

#endif /* MG_CONFIG_H */
