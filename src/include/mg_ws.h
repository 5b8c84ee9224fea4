/* WebSocket (RFC 6455): a sans-IO frame codec (src/proto/ws_frame.c) and the
 * glue that upgrades an HTTP server connection or opens a client
 * (src/proto/ws.c). */
#ifndef MG_WS_H
#define MG_WS_H

#include "mg_http.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEBSOCKET_OP_CONTINUE 0
#define WEBSOCKET_OP_TEXT 1
#define WEBSOCKET_OP_BINARY 2
#define WEBSOCKET_OP_CLOSE 8
#define WEBSOCKET_OP_PING 9
#define WEBSOCKET_OP_PONG 10

/* Largest (reassembled) message accepted; a bigger one closes with 1009.
 * Must stay below MG_MAX_RECV_SIZE since messages are assembled in place. */
#ifndef MG_WS_MAX_MSG_SIZE
#define MG_WS_MAX_MSG_SIZE (1024UL * 1024UL)
#endif

/* A client whose upgrade request got no 101 answer this long after
 * mg_ws_connect fails with "WebSocket handshake timed out" (the server side
 * is bounded by the HTTP head deadline); mg_ws_set_handshake_timeout
 * changes it per connection. */
#ifndef MG_WS_HANDSHAKE_MS
#define MG_WS_HANDSHAKE_MS 10000
#endif

/* A received message (MG_EV_WS_MSG) or control frame (MG_EV_WS_CTL). data
 * points into the receive buffer and is valid during the event only. flags is
 * the first frame byte: 0x80 (FIN) | opcode. */
struct mg_ws_message {
  struct mg_str data;
  uint8_t flags;
};

/* ---- Sans-IO frame codec ---- */

/* One parsed frame header. */
struct mg_ws_frame {
  uint8_t b0;           /* FIN, RSV1-3 and opcode */
  uint8_t masked;       /* MASK bit */
  uint8_t mask[4];      /* masking key when masked */
  uint64_t payload_len; /* declared payload length */
  size_t header_len;    /* 2..14 bytes */
};

/* Parses the frame header at the start of buf. Returns the header length
 * (> 0), 0 when more bytes are needed, or -1 when the length encoding is
 * invalid (64-bit length with the top bit set, or a non-minimal encoding). */
int mg_ws_parse_header(const uint8_t *buf, size_t len, struct mg_ws_frame *f);

/* Writes a frame header (FIN set, opcode op) for a payload of len bytes into
 * out (at least 14 bytes); mask NULL = unmasked. Returns its length. */
size_t mg_ws_build_header(uint8_t *out, int op, uint64_t len,
                          const uint8_t *mask);

/* XORs data with the masking key; ofs is the position of data[0] within the
 * payload (so a payload can be (un)masked in pieces). */
void mg_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], size_t ofs);

/* Strict UTF-8 check (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF). */
bool mg_utf8_valid(const uint8_t *s, size_t len);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(sha1(key + GUID)),
 * 28 characters plus NUL. */
void mg_ws_accept_key(struct mg_str key, char out[29]);

/* Checks a close frame payload: empty, or a valid status code followed by
 * UTF-8 text. Returns 0 when fine, else the close code to answer with
 * (1002 protocol error, 1007 invalid text). */
int mg_ws_check_close(const uint8_t *p, size_t len);

/* ---- Connection glue ---- */

/* Answers the upgrade request hm on HTTP connection c with 101 and switches c
 * to WebSocket; extra_headers are raw "Name: value\r\n" lines (may be NULL).
 * Emits MG_EV_WS_OPEN (ev_data hm) before returning. Without a
 * Sec-WebSocket-Key the request gets a 400 and c is not upgraded (false). */
bool mg_ws_upgrade(struct mg_connection *c, struct mg_http_message *hm,
                   const char *extra_headers);

/* Connects to a ws:// URL and sends the upgrade request once connected;
 * MG_EV_WS_OPEN (ev_data: the 101 response) follows when the server accepts.
 * extra_headers as above. */
struct mg_connection *mg_ws_connect(struct mg_mgr *mgr, const char *url,
                                    mg_event_handler_t fn, void *fn_data,
                                    const char *extra_headers);

/* Client: the handshake must complete within ms from now (0 = no limit). */
void mg_ws_set_handshake_timeout(struct mg_connection *c, uint32_t ms);

/* Sends one frame with FIN set; op may be any opcode 0..15 (a close frame
 * carries a 2-byte big-endian code and a reason). Client frames are masked.
 * Returns the number of bytes queued (0 on failure). */
size_t mg_ws_send(struct mg_connection *c, const void *buf, size_t len,
                  int op);

/* The protocol handler of upgraded connections. */
void mg_ws_handler(struct mg_connection *c, int ev, void *ev_data);

#ifdef __cplusplus
}
#endif
#endif /* MG_WS_H */
