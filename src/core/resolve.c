/* Host name resolution for outbound connections. Numeric addresses and
 * "localhost" need no lookup; other names go to the DNS resolver. */
#include <string.h>

#include "mg_core.h"

#if MG_ENABLE_DNS
void mg_dns_start(struct mg_connection *c, struct mg_str host); /* proto/dns.c */
void mg_dns_cancel(struct mg_connection *c);
#endif

void mg_resolve(struct mg_connection *c, const char *url) {
  struct mg_str host = mg_url_host(url);
  uint16_t port = mg_htons(mg_url_port(url));
  struct mg_addr a;
  if (host.len >= 2 && host.buf[0] == '[' && host.buf[host.len - 1] == ']')
    host = mg_str_n(host.buf + 1, host.len - 2);
  memset(&a, 0, sizeof(a));
  if (mg_str_ieq(host, "localhost")) {
    a.ip[0] = 127, a.ip[3] = 1;
  } else if (!mg_aton(host, &a) || a.port != 0) {
    c->rem.port = port;
#if MG_ENABLE_DNS
    c->is_resolving = 1;
    mg_dns_start(c, host);
#else
    mg_error(c, "%.*s DNS lookup failed", (int) host.len, host.buf);
#endif
    return;
  }
  a.port = port;
  c->rem = a;
  mg_resolve_done(c);
}

void mg_resolve_cancel(struct mg_connection *c) {
#if MG_ENABLE_DNS
  if (c->is_resolving) mg_dns_cancel(c);
#endif
  c->is_resolving = 0;
}

void mg_resolve_done(struct mg_connection *c) {
  c->is_resolving = 0;
  mg_call(c, MG_EV_RESOLVE, NULL);
  if (c->is_client && c->fd == NULL && !c->is_closing && c->mgr->net != NULL)
    c->mgr->net->connect(c);
}
