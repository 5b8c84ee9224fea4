/* eth_probe_fw: exercises the board's Ethernet driver without a TCP/IP
 * stack, for the QEMU test with a userspace peer.
 *
 *   - brings the interface up with the board's MAC and reports it
 *   - asks "who has PEER_IP" (ARP) every ARP_RETRY_MS until the peer answers
 *   - answers ARP requests for OWN_IP, ignores requests for other addresses
 *   - echoes frames of the experimental EtherType PROBE_ETHERTYPE back to
 *     their sender; a probe frame whose payload starts with "QUIT" makes the
 *     firmware print its counters and exit (status 0) via semihosting */
#include <string.h>

#include "board.h"
#include "mg.h"

#define OWN_IP_INIT {10, 0, 2, 15}
#define PEER_IP_INIT {10, 0, 2, 2}
#define ARP_RETRY_MS 500u
#define LINK_POLL_MS 50u
#define PROBE_ETHERTYPE 0x88B5u /* IEEE 802 "local experimental 1" */
#define PROBE_QUIT "QUIT"

#define ETH_ALEN 6u
#define ETH_HDR_LEN 14u
#define ETH_MAX_FRAME 1514u
#define ETHERTYPE_ARP 0x0806u
#define ETHERTYPE_IPV4 0x0800u
#define ARP_LEN 28u
#define ARP_HTYPE_ETHERNET 1u
#define ARP_OP_REQUEST 1u
#define ARP_OP_REPLY 2u
/* Offsets inside the ARP payload (RFC 826, Ethernet/IPv4). */
#define ARP_OFF_HTYPE 0u
#define ARP_OFF_PTYPE 2u
#define ARP_OFF_HLEN 4u
#define ARP_OFF_PLEN 5u
#define ARP_OFF_OP 6u
#define ARP_OFF_SHA 8u
#define ARP_OFF_SPA 14u
#define ARP_OFF_THA 18u
#define ARP_OFF_TPA 24u
#define IPV4_ALEN 4u

static const uint8_t k_own_ip[IPV4_ALEN] = OWN_IP_INIT;
static const uint8_t k_peer_ip[IPV4_ALEN] = PEER_IP_INIT;
static const uint8_t k_broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct probe {
  struct mg_mgr mgr;
  const struct mg_driver *drv;
  void *drv_ctx;
  uint8_t mac[ETH_ALEN];
  bool link_up;
  bool peer_known;
  uint8_t peer_mac[ETH_ALEN];
  uint32_t arp_answered, arp_ignored, echoed, other;
  uint8_t rx[ETH_MAX_FRAME];
  uint8_t tx[ETH_MAX_FRAME];
};

static void out(const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  size_t n = mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  board_console_write(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

static uint16_t get16(const uint8_t *p) {
  return (uint16_t) ((p[0] << 8) | p[1]);
}
static void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

static void fmt_mac(char *buf, size_t len, const uint8_t *m) {
  mg_snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
              m[4], m[5]);
}

static void send_arp(struct probe *p, uint32_t op, const uint8_t *dst_mac,
                     const uint8_t *target_mac, const uint8_t *target_ip) {
  uint8_t *f = p->tx, *a = p->tx + ETH_HDR_LEN;
  memcpy(f, dst_mac, ETH_ALEN);
  memcpy(f + ETH_ALEN, p->mac, ETH_ALEN);
  put16(f + 2 * ETH_ALEN, ETHERTYPE_ARP);
  put16(a + ARP_OFF_HTYPE, ARP_HTYPE_ETHERNET);
  put16(a + ARP_OFF_PTYPE, ETHERTYPE_IPV4);
  a[ARP_OFF_HLEN] = ETH_ALEN;
  a[ARP_OFF_PLEN] = IPV4_ALEN;
  put16(a + ARP_OFF_OP, op);
  memcpy(a + ARP_OFF_SHA, p->mac, ETH_ALEN);
  memcpy(a + ARP_OFF_SPA, k_own_ip, IPV4_ALEN);
  memcpy(a + ARP_OFF_THA, target_mac, ETH_ALEN);
  memcpy(a + ARP_OFF_TPA, target_ip, IPV4_ALEN);
  /* 42 bytes: the driver pads to the Ethernet minimum. */
  if (!p->drv->tx(p->drv_ctx, f, ETH_HDR_LEN + ARP_LEN)) out("eth: tx failed\n");
}

static void on_arp_timer(void *arg) {
  static const uint8_t k_unknown[ETH_ALEN] = {0};
  struct probe *p = (struct probe *) arg;
  if (!p->peer_known && p->link_up) {
    send_arp(p, ARP_OP_REQUEST, k_broadcast, k_unknown, k_peer_ip);
  }
}

static void handle_arp(struct probe *p, const uint8_t *a, size_t len) {
  char mac[18];
  if (len < ARP_LEN || get16(a + ARP_OFF_HTYPE) != ARP_HTYPE_ETHERNET ||
      get16(a + ARP_OFF_PTYPE) != ETHERTYPE_IPV4 || a[ARP_OFF_HLEN] != ETH_ALEN ||
      a[ARP_OFF_PLEN] != IPV4_ALEN) {
    p->other++;
    return;
  }
  uint16_t op = get16(a + ARP_OFF_OP);
  if (op == ARP_OP_REQUEST && memcmp(a + ARP_OFF_TPA, k_own_ip, IPV4_ALEN) == 0) {
    uint8_t sha[ETH_ALEN], spa[IPV4_ALEN];
    memcpy(sha, a + ARP_OFF_SHA, ETH_ALEN);
    memcpy(spa, a + ARP_OFF_SPA, IPV4_ALEN);
    send_arp(p, ARP_OP_REPLY, sha, sha, spa);
    p->arp_answered++;
    out("arp: answered %u.%u.%u.%u\n", spa[0], spa[1], spa[2], spa[3]);
  } else if (op == ARP_OP_REPLY &&
             memcmp(a + ARP_OFF_SPA, k_peer_ip, IPV4_ALEN) == 0) {
    memcpy(p->peer_mac, a + ARP_OFF_SHA, ETH_ALEN);
    if (!p->peer_known) {
      fmt_mac(mac, sizeof(mac), p->peer_mac);
      out("arp: %u.%u.%u.%u is at %s\n", k_peer_ip[0], k_peer_ip[1],
          k_peer_ip[2], k_peer_ip[3], mac);
    }
    p->peer_known = true;
  } else {
    p->arp_ignored++;
  }
}

static void handle_probe(struct probe *p, size_t len) {
  const uint8_t *payload = p->rx + ETH_HDR_LEN;
  size_t plen = len - ETH_HDR_LEN;
  if (plen >= sizeof(PROBE_QUIT) - 1 &&
      memcmp(payload, PROBE_QUIT, sizeof(PROBE_QUIT) - 1) == 0) {
    out("stats: echoed=%lu arp_answered=%lu arp_ignored=%lu other=%lu\n",
        (unsigned long) p->echoed, (unsigned long) p->arp_answered,
        (unsigned long) p->arp_ignored, (unsigned long) p->other);
    board_exit(0);
  }
  /* Echo: same payload, addresses swapped. */
  memcpy(p->tx, p->rx + ETH_ALEN, ETH_ALEN);
  memcpy(p->tx + ETH_ALEN, p->mac, ETH_ALEN);
  memcpy(p->tx + 2 * ETH_ALEN, p->rx + 2 * ETH_ALEN, len - 2 * ETH_ALEN);
  if (p->drv->tx(p->drv_ctx, p->tx, len)) p->echoed++;
}

static void poll_eth(struct probe *p) {
  size_t len;
  while ((len = p->drv->rx(p->drv_ctx, p->rx, sizeof(p->rx))) > 0) {
    if (len < ETH_HDR_LEN) continue;
    uint16_t type = get16(p->rx + 2 * ETH_ALEN);
    if (type == ETHERTYPE_ARP) {
      handle_arp(p, p->rx + ETH_HDR_LEN, len - ETH_HDR_LEN);
    } else if (type == PROBE_ETHERTYPE) {
      handle_probe(p, len);
    } else {
      p->other++;
    }
  }
}

static void on_link_timer(void *arg) {
  struct probe *p = (struct probe *) arg;
  bool up = p->drv->poll(p->drv_ctx);
  if (up != p->link_up) out("eth: link %s\n", up ? "up" : "down");
  p->link_up = up;
}

int main(void) {
  static struct probe p;
  char mac[18];
  out("cymongoose %s on %s: eth probe\n", MG_FW_VERSION, board_name());
  p.drv = board_eth(&p.drv_ctx);
  if (p.drv == NULL) {
    out("eth: board has no Ethernet\n");
    return 1;
  }
  board_eth_mac(p.mac);
  if (!p.drv->init(p.drv_ctx, p.mac)) {
    out("eth: %s init failed\n", p.drv->name);
    return 1;
  }
  fmt_mac(mac, sizeof(mac), p.mac);
  out("eth: %s mac=%s ip=%u.%u.%u.%u\n", p.drv->name, mac, k_own_ip[0],
      k_own_ip[1], k_own_ip[2], k_own_ip[3]);
  mg_mgr_init(&p.mgr);
  on_link_timer(&p);
  mg_timer_add(&p.mgr, LINK_POLL_MS, MG_TIMER_REPEAT, on_link_timer, &p);
  mg_timer_add(&p.mgr, ARP_RETRY_MS, MG_TIMER_REPEAT | MG_TIMER_RUN_NOW,
               on_arp_timer, &p);
  for (;;) {
    mg_mgr_poll(&p.mgr, 0);
    poll_eth(&p);
    board_idle();
  }
}
