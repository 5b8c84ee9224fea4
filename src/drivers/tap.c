/* Linux TAP driver (host only): Ethernet frames to and from a tap device, so
 * the built-in stack can talk to the kernel, ping, curl, or a namespace.
 *
 * Unless mg_tap.no_offload is set, the device is opened with IFF_VNET_HDR:
 * every read and write carries a struct virtio_net_hdr (10 bytes, little
 * endian) in front of the frame, and TUNSETOFFLOAD lets the kernel hand us
 * TCP segments of up to 64 KiB with the checksum left partial, and take the
 * same from us (it cuts them to the MSS and fills the checksums). One
 * syscall then moves up to 64 KiB instead of one 1500-byte frame. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* O_CLOEXEC and friends under -std=c11 */
#endif
#include "mg_stack.h"

#if MG_ENABLE_TCPIP && MG_LINUX && MG_ARCH == MG_ARCH_POSIX

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* struct virtio_net_hdr, written and parsed byte by byte (little endian):
 * flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
#define VNET_HLEN 10
#define TAP_MAX_FRAME (14 + 65535) /* one IPv4 packet of any size */

static void le16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t) v;
  p[1] = (uint8_t) (v >> 8);
}
static unsigned get_le16(const uint8_t *p) {
  return (unsigned) p[0] | ((unsigned) p[1] << 8);
}

static int tap_open(struct mg_tap *t, bool vnet) {
  struct ifreq ifr;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = (short) (IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
  mg_snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    close(fd);
    return -1;
  }
  if (vnet) {
    int hlen = VNET_HLEN, le = 1;
    unsigned off = TUN_F_CSUM | TUN_F_TSO4;
    /* Little-endian header fields on any host; not fatal where the ioctl
     * is missing, as the legacy default is little endian on x86/arm. */
    (void) ioctl(fd, TUNSETVNETLE, &le);
    if (ioctl(fd, TUNSETVNETHDRSZ, &hlen) != 0 ||
        ioctl(fd, TUNSETOFFLOAD, (unsigned long) off) != 0) {
      close(fd);
      return -1;
    }
  } else {
    /* The device may keep offloads an earlier owner turned on: without a
     * header to describe them, large or partial frames must not come. */
    (void) ioctl(fd, TUNSETOFFLOAD, 0UL);
  }
  mg_snprintf(t->name, sizeof(t->name), "%.*s", (int) IFNAMSIZ, ifr.ifr_name);
  return fd;
}

static bool tap_init(void *ctx, const uint8_t mac[6]) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  int fd = -1;
  (void) mac; /* the stack's MAC is its own; the kernel side has another */
  if (t == NULL) return false;
  t->vnet = false;
  /* The kernel may then deliver 64 KiB packets: only into buffers that big. */
  if (!t->no_offload && MG_TCPIP_OFFLOAD_MAX >= 65535) {
    fd = tap_open(t, true);
    t->vnet = fd >= 0;
  }
  if (fd < 0) fd = tap_open(t, false); /* plain frames still work */
  if (fd < 0) return false;
  t->fd = fd;
  return true;
}

static bool tap_tx_meta(void *ctx, const void *frame, size_t len,
                        const struct mg_frame_meta *m) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  uint8_t h[VNET_HLEN];
  struct iovec iov[2];
  ssize_t n;
  memset(h, 0, sizeof(h));
  if (m != NULL && (m->flags & MG_FRAME_CSUM_PARTIAL)) {
    h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    le16(h + 6, m->csum_start);
    le16(h + 8, m->csum_offset);
  }
  if (m != NULL && m->gso_size != 0) {
    const uint8_t *f = (const uint8_t *) frame;
    size_t l4 = m->csum_start;
    if (l4 + 13 > len) return false;
    h[1] = VIRTIO_NET_HDR_GSO_TCPV4;
    le16(h + 2, (unsigned) (l4 + (size_t) (f[l4 + 12] >> 4) * 4)); /* headers */
    le16(h + 4, m->gso_size);
  }
  iov[0].iov_base = h;
  iov[0].iov_len = sizeof(h);
  iov[1].iov_base = (void *) (uintptr_t) frame;
  iov[1].iov_len = len;
  n = writev(t->fd, iov, 2);
  return n == (ssize_t) (sizeof(h) + len);
}

static size_t tap_rx_meta(void *ctx, void *buf, size_t len,
                          struct mg_frame_meta *m) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  uint8_t h[VNET_HLEN];
  struct iovec iov[2];
  ssize_t n;
  iov[0].iov_base = h;
  iov[0].iov_len = sizeof(h);
  iov[1].iov_base = buf;
  iov[1].iov_len = len;
  n = readv(t->fd, iov, 2);
  if (n <= (ssize_t) sizeof(h)) return 0;
  memset(m, 0, sizeof(*m));
  if (h[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    m->flags |= MG_FRAME_CSUM_PARTIAL;
    m->csum_start = (uint16_t) get_le16(h + 6);
    m->csum_offset = (uint16_t) get_le16(h + 8);
  }
  if (h[0] & VIRTIO_NET_HDR_F_DATA_VALID) m->flags |= MG_FRAME_CSUM_VALID;
  return (size_t) n - sizeof(h);
}

static size_t tap_offload(void *ctx) {
  return ((struct mg_tap *) ctx)->vnet ? TAP_MAX_FRAME : 0;
}

static bool tap_tx(void *ctx, const void *frame, size_t len) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  if (t->vnet) return tap_tx_meta(ctx, frame, len, NULL);
  return write(t->fd, frame, len) == (ssize_t) len;
}

static size_t tap_rx(void *ctx, void *buf, size_t len) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  ssize_t n;
  if (t->vnet) {
    struct mg_frame_meta m;
    return tap_rx_meta(ctx, buf, len, &m);
  }
  n = read(t->fd, buf, len);
  return n > 0 ? (size_t) n : 0;
}

static bool tap_poll(void *ctx) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  return t->fd >= 0;
}

void mg_tap_wait(void *ctx, int ms) {
  struct mg_tap *t = (struct mg_tap *) ctx;
  struct pollfd pfd;
  pfd.fd = t->fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  while (poll(&pfd, 1, ms) < 0 && errno == EINTR) {
  }
}

const struct mg_driver mg_driver_tap = {
    .name = "tap",
    .init = tap_init,
    .tx = tap_tx,
    .rx = tap_rx,
    .poll = tap_poll,
    .offload = tap_offload,
    .tx_meta = tap_tx_meta,
    .rx_meta = tap_rx_meta,
};

#elif MG_ENABLE_TCPIP && MG_ARCH == MG_ARCH_POSIX

/* Other POSIX systems (and the portable profile) have no Linux TAP: the
 * driver exists so that code naming it builds (the Python extension), and
 * bringing an interface up on it fails with a clear error. */
static bool tap_none_init(void *ctx, const uint8_t mac[6]) {
  (void) ctx;
  (void) mac;
  MG_ERROR("tap: Linux TAP devices are not available on this system");
  return false;
}
static bool tap_none_tx(void *ctx, const void *frame, size_t len) {
  (void) ctx;
  (void) frame;
  (void) len;
  return false;
}
static size_t tap_none_rx(void *ctx, void *buf, size_t len) {
  (void) ctx;
  (void) buf;
  (void) len;
  return 0;
}
static bool tap_none_poll(void *ctx) {
  (void) ctx;
  return false;
}

const struct mg_driver mg_driver_tap = {
    .name = "tap",
    .init = tap_none_init,
    .tx = tap_none_tx,
    .rx = tap_none_rx,
    .poll = tap_none_poll,
};

void mg_tap_wait(void *tap, int ms) {
  (void) tap;
  (void) ms;
}
#endif
