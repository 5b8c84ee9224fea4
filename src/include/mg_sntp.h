/* SNTP client (RFC 4330) over UDP: src/proto/sntp.c. */
#ifndef MG_SNTP_H
#define MG_SNTP_H

#include "mg_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MG_SNTP_DEFAULT_SERVER
#define MG_SNTP_DEFAULT_SERVER "udp://time.google.com:123"
#endif

/* Opens a UDP connection to the server of url (any scheme; port 123 unless
 * given; NULL = MG_SNTP_DEFAULT_SERVER) and sends a request once connected.
 * Each valid reply emits MG_EV_SNTP_TIME with an int64_t of milliseconds
 * since the Unix epoch. */
struct mg_connection *mg_sntp_connect(struct mg_mgr *mgr, const char *url,
                                      mg_event_handler_t fn, void *fn_data);
/* Sends one request (deferred until connected while resolving). */
void mg_sntp_request(struct mg_connection *c);

/* Sans-IO: the 48-byte client request with the given transmit timestamp
 * (echoed by the server as its originate timestamp). */
void mg_sntp_build_request(uint8_t buf[48], const uint8_t xmit[8]);
/* Parses a server reply: returns its transmit time in milliseconds since
 * the Unix epoch, 0 for a kiss-o'-death / unsynchronised server, or -1 when
 * buf is not a valid server reply. orig (8 bytes) receives the originate
 * timestamp when not NULL. */
int64_t mg_sntp_parse(const uint8_t *buf, size_t len, uint8_t *orig);

#ifdef __cplusplus
}
#endif
#endif /* MG_SNTP_H */
