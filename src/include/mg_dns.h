/* Asynchronous DNS resolver over UDP (src/proto/dns.c): A, then AAAA when a
 * name has no IPv4 address; timeouts and retries; one server per manager
 * (default: MG_DNS_SERVER from the environment or the first nameserver of
 * /etc/resolv.conf on POSIX hosts, else MG_DNS_DEFAULT_SERVER). The message
 * codec is sans-IO (src/proto/dns_msg.c). */
#ifndef MG_DNS_H
#define MG_DNS_H

#include "mg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MG_DNS_TIMEOUT_MS /* wait for an answer this long per attempt */
#define MG_DNS_TIMEOUT_MS 2000
#endif
#ifndef MG_DNS_RETRIES /* resend a query this many times before failing */
#define MG_DNS_RETRIES 2
#endif
/* Used when the platform names no server. Empty by default: a device must
 * not silently query a public resolver; the application (or DHCP) sets one. */
#ifndef MG_DNS_DEFAULT_SERVER
#define MG_DNS_DEFAULT_SERVER ""
#endif

#define MG_DNS_TYPE_A 1
#define MG_DNS_TYPE_CNAME 5
#define MG_DNS_TYPE_AAAA 28

/* What a response says about the first question. */
struct mg_dns_answer {
  uint16_t txid;     /* transaction id */
  uint8_t rcode;     /* 0 ok, 3 NXDOMAIN, ... */
  bool truncated;    /* TC bit */
  bool found;        /* an A or AAAA record was found (addr, ttl) */
  struct mg_addr addr;
  uint32_t ttl;
  char qname[256];   /* the question's name, dotted, lower case */
  uint16_t qtype;
};

/* Writes a recursive query for name (dotted, no trailing dot needed) into
 * buf; returns its length or 0 when the name is invalid or buf too small. */
size_t mg_dns_query(uint8_t *buf, size_t len, uint16_t txid,
                    struct mg_str name, uint16_t qtype);

/* Reads the (possibly compressed) name at ofs of the message msg into out
 * (dotted, lower case, NUL-terminated). Returns the bytes the name occupies
 * at ofs, or 0 when it is malformed: out of bounds, longer than 255, or a
 * compression pointer that does not point backwards (which rules out loops). */
size_t mg_dns_name(const uint8_t *msg, size_t len, size_t ofs, char *out,
                   size_t outlen);

/* Parses a response. Returns false when buf is not a DNS response with one
 * question, or has a malformed answer record. A truncated (TC) message is
 * read as far as its records are complete and may still yield an address. */
bool mg_dns_parse(const uint8_t *buf, size_t len, struct mg_dns_answer *a);

/* Sets the DNS server of mgr ("udp://1.2.3.4:53"), the wait per attempt and
 * the number of resends (0 = the MG_DNS_* defaults); false when the URL is
 * not a numeric udp:// address. */
bool mg_dns_set_server(struct mg_mgr *mgr, const char *url,
                       unsigned timeout_ms, unsigned retries);

/* Used by mg_resolve() (src/core/resolve.c). */
void mg_dns_start(struct mg_connection *c, struct mg_str host);
void mg_dns_cancel(struct mg_connection *c);

/* The first usable "nameserver" of resolv.conf text as a udp:// URL into
 * buf (zone ids and garbage skipped); false when there is none. */
bool mg_dns_resolv_conf(struct mg_str text, char *buf, size_t len);

/* Platform default server URL into buf (src/arch); false when none. */
bool mg_arch_dns_server(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MG_DNS_H */
