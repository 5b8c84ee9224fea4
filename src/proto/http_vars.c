/* Lookups inside parsed HTTP data: query/form variables, header parameters,
 * percent-decoding. Pure functions over string views. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include <string.h>

static int hexdigit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

int mg_http_get_var(const struct mg_str *buf, const char *name, char *dst,
                    size_t dst_len) {
  struct mg_str v;
  if (dst != NULL && dst_len > 0) dst[0] = '\0';
  if (buf == NULL || buf->buf == NULL || buf->len == 0 || name[0] == '\0' ||
      !mg_var_get(*buf, mg_str(name), &v))
    return -1;
  if (dst == NULL || dst_len == 0) return -2;
  if (v.len == 0) return 0;
  long n = mg_url_decode(v.buf, v.len, dst, dst_len, true);
  if (n >= 0) return (int) n;
  dst[0] = '\0';
  /* mg_url_decode fails alike for bad escapes and a short dst: tell apart. */
  for (size_t i = 0; i < v.len; i++) {
    if (v.buf[i] == '%' &&
        (i + 2 >= v.len || hexdigit(v.buf[i + 1]) < 0 || hexdigit(v.buf[i + 2]) < 0))
      return -3;
  }
  return -2;
}

struct mg_str mg_http_get_header_var(struct mg_str s, struct mg_str v) {
  /* Parameters are ";"- or ","-separated name=value pairs; values may be
   * quoted. A quoted value may itself contain separators. */
  size_t i = 0;
  while (i < s.len) {
    while (i < s.len && (s.buf[i] == ' ' || s.buf[i] == '\t' ||
                         s.buf[i] == ';' || s.buf[i] == ','))
      i++;
    size_t ks = i;
    while (i < s.len && s.buf[i] != '=' && s.buf[i] != ';' && s.buf[i] != ',')
      i++;
    struct mg_str key = mg_str_trim(mg_str_n(s.buf + ks, i - ks));
    if (i >= s.len || s.buf[i] != '=') continue; /* a bare token */
    i++;
    while (i < s.len && (s.buf[i] == ' ' || s.buf[i] == '\t')) i++;
    struct mg_str val;
    if (i < s.len && s.buf[i] == '"') {
      size_t vs = ++i;
      while (i < s.len && s.buf[i] != '"') {
        if (s.buf[i] == '\\' && i + 1 < s.len) i++;
        i++;
      }
      val = mg_str_n(s.buf + vs, i - vs);
      if (i < s.len) i++;
    } else {
      size_t vs = i;
      while (i < s.len && s.buf[i] != ';' && s.buf[i] != ',') i++;
      val = mg_str_trim(mg_str_n(s.buf + vs, i - vs));
    }
    if (mg_strcasecmp(key, v) == 0) return val;
  }
  return mg_str_n(NULL, 0);
}

/* Copies s into buf as a C string; empty when it does not fit. */
static void copy_str(struct mg_str s, char *buf, size_t len) {
  if (len == 0) return;
  if (s.len >= len) s.len = 0;
  if (s.len > 0) memcpy(buf, s.buf, s.len);
  buf[s.len] = '\0';
}

void mg_http_creds(struct mg_http_message *hm, char *user, size_t ulen,
                   char *pass, size_t plen) {
  struct mg_str *v = mg_http_get_header(hm, "Authorization");
  if (ulen > 0) user[0] = '\0';
  if (plen > 0) pass[0] = '\0';
  if (v != NULL && mg_str_starts_with(*v, "Basic ", true)) {
    struct mg_str b64 = mg_str_trim(mg_str_n(v->buf + 6, v->len - 6)), u, p;
    char buf[256];
    size_t n = mg_base64_decode(b64.buf, b64.len, buf, sizeof(buf));
    if (n > 0 && mg_str_split(mg_str_n(buf, n), ':', &u, &p)) {
      copy_str(u, user, ulen);
      copy_str(p, pass, plen);
    }
  } else if (v != NULL && mg_str_starts_with(*v, "Bearer ", true)) {
    copy_str(mg_str_trim(mg_str_n(v->buf + 7, v->len - 7)), pass, plen);
  } else if (plen > 0) {
    if (mg_http_get_var(&hm->query, "access_token", pass, plen) < 0)
      pass[0] = '\0';
  }
}

const char *mg_http_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "";
  }
}

#endif /* MG_ENABLE_HTTP */
