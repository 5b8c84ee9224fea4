/* Utilities: encodings, hashes, JSON and glob helpers (src/core/util_*.c).
 *
 * Everything here is sans-IO and allocation-free: the caller provides every
 * output buffer, inputs are (pointer, length) pairs that need not be
 * NUL-terminated, and work is bounded by the input sizes. */
#ifndef MG_UTIL_H
#define MG_UTIL_H

#include "mg_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Base64 (RFC 4648, standard alphabet, '=' padding) ---- */
/* Output size for n input bytes (without the terminating NUL). */
#define MG_BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* Encodes n bytes into buf (len bytes). Returns the encoded length and
 * NUL-terminates, or returns 0 (buf untouched) when it does not fit
 * including the NUL. */
size_t mg_base64_encode(const unsigned char *p, size_t n, char *buf,
                        size_t len);
/* Decodes n characters into dst (dl bytes, NUL-terminated when room is left).
 * Trailing CR/LF are ignored and missing '=' padding is accepted. Returns the
 * decoded length, or 0 on an invalid character, impossible length, misplaced
 * padding or too small dst. A decoded length never exceeds n * 3 / 4. */
size_t mg_base64_decode(const char *src, size_t n, char *dst, size_t dl);

/* ---- MD5 (RFC 1321) ---- */
struct mg_md5_ctx {
  uint32_t state[4];
  uint64_t total;          /* bytes hashed so far */
  unsigned char block[64]; /* pending partial block */
};
void mg_md5_init(struct mg_md5_ctx *ctx);
void mg_md5_update(struct mg_md5_ctx *ctx, const void *data, size_t len);
void mg_md5_final(struct mg_md5_ctx *ctx, unsigned char digest[16]);

/* ---- SHA-1 (FIPS 180-4) ---- */
struct mg_sha1_ctx {
  uint32_t state[5];
  uint64_t total;
  unsigned char block[64];
};
void mg_sha1_init(struct mg_sha1_ctx *ctx);
void mg_sha1_update(struct mg_sha1_ctx *ctx, const void *data, size_t len);
void mg_sha1_final(struct mg_sha1_ctx *ctx, unsigned char digest[20]);

/* ---- SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104) ---- */
struct mg_sha256_ctx {
  uint32_t state[8];
  uint64_t total;
  unsigned char block[64];
};
void mg_sha256_init(struct mg_sha256_ctx *ctx);
void mg_sha256_update(struct mg_sha256_ctx *ctx, const void *data,
                      size_t len);
void mg_sha256_final(struct mg_sha256_ctx *ctx, unsigned char digest[32]);
/* One-shot helpers. */
void mg_sha256(unsigned char digest[32], const void *data, size_t len);
void mg_hmac_sha256(unsigned char mac[32], const void *key, size_t keylen,
                    const void *data, size_t datalen);

/* ---- SHA-512 (FIPS 180-4) ---- */
struct mg_sha512_ctx {
  uint64_t state[8];
  uint64_t total;           /* bytes hashed so far (inputs < 2^61 bytes) */
  unsigned char block[128]; /* pending partial block */
};
void mg_sha512_init(struct mg_sha512_ctx *ctx);
void mg_sha512_update(struct mg_sha512_ctx *ctx, const void *data,
                      size_t len);
void mg_sha512_final(struct mg_sha512_ctx *ctx, unsigned char digest[64]);
void mg_sha512(unsigned char digest[64], const void *data, size_t len);

#if MG_ENABLE_ED25519
/* ---- Ed25519 signature verification (RFC 8032 section 5.1.7) ---- */
/* True when sig (R || S) is a valid signature of msg (len bytes) under the
 * public key pub. False for a wrong signature and for every malformed
 * input: S >= L, an R or pub that is not the canonical encoding of a curve
 * point. Pure Ed25519 only (no context, no prehash). Not constant-time: it
 * handles public data only. Stack: about 1.7 KiB on Cortex-M3. See
 * docs/crypto.md. */
bool mg_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                       const uint8_t pub[32]);
#endif

/* ---- CRC-32 (IEEE 802.3, reflected, as zlib/binascii) ---- */
/* Chainable: mg_crc32(mg_crc32(0, a, n), b, m) == CRC of a||b. */
uint32_t mg_crc32(uint32_t crc, const void *buf, size_t len);

/* ---- JSON (RFC 8259) ---- */
#define MG_JSON_INVALID (-1)   /* the document is not valid JSON */
#define MG_JSON_TOO_DEEP (-2)  /* nesting beyond MG_JSON_MAX_DEPTH */
#define MG_JSON_NOT_FOUND (-3) /* valid document, no element at path */
#ifndef MG_JSON_MAX_DEPTH
#define MG_JSON_MAX_DEPTH 64
#endif
/* Finds the element at path in the document json and returns its offset
 * (>= 0) with its length in *toklen (may be NULL), or one of the negative
 * codes above. The whole document is validated, so a broken document never
 * yields a result. Path syntax: "$" (the whole document), then any sequence
 * of ".key" and "[index]", e.g. "$.a.b[0].c". Keys are compared after JSON
 * unescaping; with duplicate keys the first one wins. The returned token is
 * the raw element text: strings keep their quotes and escapes. */
long mg_json_get(struct mg_str json, const char *path, long *toklen);
/* The element at path as a number. Exact for integers up to 2^53 and for
 * short decimals; otherwise within a few ulps. */
bool mg_json_get_num(struct mg_str json, const char *path, double *v);
bool mg_json_get_bool(struct mg_str json, const char *path, bool *v);
/* A JSON number as an integer: the fraction is truncated toward zero and
 * values beyond the int64 range saturate. */
bool mg_json_get_i64(struct mg_str json, const char *path, int64_t *v);
long mg_json_get_long(struct mg_str json, const char *path, long dflt);
/* Unescapes the JSON string at path into buf (NUL-terminated). Returns the
 * decoded length, or -1 if it is missing, not a string or buf is too small.
 * A buffer as long as the token (see mg_json_get) is always enough. */
long mg_json_get_str(struct mg_str json, const char *path, char *buf,
                     size_t len);
/* Unescapes the body of a JSON string (the text between the quotes) into
 * buf, NUL-terminated. \uXXXX becomes UTF-8 (surrogate pairs joined, lone
 * surrogates encoded as 3 bytes). Returns the length or -1 on a bad escape or
 * too small buf. */
long mg_json_unescape(struct mg_str s, char *buf, size_t len);
/* Writes s as the body of a JSON string (no quotes): '"', '\\' and control
 * characters are escaped, other bytes are copied. Returns the escaped length
 * (which may exceed len: then the output is truncated but still
 * NUL-terminated when len > 0). At most 6 output bytes per input byte. */
size_t mg_json_escape(struct mg_str s, char *buf, size_t len);

/* ---- URL encoding ---- */
/* Percent-encodes every byte outside A-Z a-z 0-9 - . _ ~ with lowercase hex.
 * Returns the encoded length and NUL-terminates, or 0 when it does not fit
 * (3 * n + 1 bytes are always enough). */
size_t mg_url_encode(const char *s, size_t n, char *buf, size_t len);
/* Decodes %xx escapes (and '+' to space when form is true). Returns the
 * decoded length (NUL-terminated), or -1 on a malformed escape or when buf is
 * too small (n + 1 bytes are always enough). */
long mg_url_decode(const char *s, size_t n, char *buf, size_t len, bool form);

/* ---- Glob matching ---- */
#ifndef MG_MATCH_MAX_PATTERN
#define MG_MATCH_MAX_PATTERN 1024
#endif
/* Matches the whole of s against pattern p: '?' is any one byte, '*' any run
 * of bytes without '/', '#' any run of bytes. Every wildcard yields one
 * capture, in pattern order, into caps[0..ncaps) (caps may be NULL; wildcards
 * past ncaps are matched but not captured). When several assignments match,
 * earlier wildcards take the shortest captures. Patterns longer than
 * MG_MATCH_MAX_PATTERN never match. Time is O(wildcards * |s| * |p|). */
bool mg_match(struct mg_str s, struct mg_str p, struct mg_str *caps,
              size_t ncaps);
/* Number of wildcards ('?', '*', '#') in p, i.e. captures of a match. */
size_t mg_match_ncaps(struct mg_str p);

/* ---- key=value lists ---- */
/* Looks up name in an '&'-separated list of key=value pairs (a query string
 * or form body). Keys are compared whole and case-insensitively. On success
 * *val (may be NULL) is the raw, still URL-encoded value ("" for "k=" and for
 * a bare "k"). */
bool mg_var_get(struct mg_str buf, struct mg_str name, struct mg_str *val);

/* ---- JSON-RPC 2.0-style dispatcher (src/core/util_rpc.c) ---- */
struct mg_rpc_req;
typedef void (*mg_rpc_fn_t)(struct mg_rpc_req *req);
/* Output sink: receives the response in pieces. */
typedef void (*mg_rpc_out_t)(const char *buf, size_t len, void *arg);

/* A registered method. Nodes are owned by the caller (static storage in
 * firmware); mg_rpc_add links them into a list, newest first. */
struct mg_rpc {
  struct mg_rpc *next;
  struct mg_str method; /* glob pattern, see mg_match */
  mg_rpc_fn_t fn;
  void *fn_data;
};

struct mg_rpc_req {
  struct mg_rpc *head;  /* registered methods */
  struct mg_str frame;  /* the request text */
  struct mg_str id;     /* raw JSON id token, empty for a notification */
  struct mg_str method; /* method name (raw string body, no quotes) */
  struct mg_str params; /* raw JSON params token, may be empty */
  void *fn_data;        /* of the matched method */
  mg_rpc_out_t out;     /* where the response goes */
  void *out_arg;
  bool responded;       /* set by mg_rpc_ok / mg_rpc_err */
};

void mg_rpc_add(struct mg_rpc **head, struct mg_rpc *node, struct mg_str method,
                mg_rpc_fn_t fn, void *fn_data);
/* Unlinks node; returns false when it was not in the list. */
bool mg_rpc_del(struct mg_rpc **head, struct mg_rpc *node);
/* Parses req->frame and calls the newest method whose pattern matches.
 * Output shapes: {"id":ID,"result":RESULT} from mg_rpc_ok (nothing for a
 * notification), {"id":ID,"error":{"code":C,"message":"..."}} from
 * mg_rpc_err, -32601 "<method> not found", -32700 with the frame as message
 * for frames that are not JSON objects with a string "method". */
void mg_rpc_process(struct mg_rpc_req *req);
/* Responds with a raw JSON result; false if already responded. */
bool mg_rpc_ok(struct mg_rpc_req *req, struct mg_str result_json);
/* Responds with an error; message is JSON-escaped. */
bool mg_rpc_err(struct mg_rpc_req *req, int code, struct mg_str message);
/* Same with message given as ready JSON text (e.g. a quoted string). */
bool mg_rpc_err_json(struct mg_rpc_req *req, int code, struct mg_str msg_json);
/* Sink that appends to a struct mg_iobuf passed as out_arg. */
void mg_rpc_out_iobuf(const char *buf, size_t len, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* MG_UTIL_H */
