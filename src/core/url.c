/* URL pieces: scheme://user:pass@host:port/uri. The authority ends at the
 * first '/', so "http://h?x=1" has host "h?x=1" (contract quirk kept). */
#include <string.h>

#include "mg_core.h"

struct url_parts {
  struct mg_str scheme, user, pass, host, port;
  const char *uri; /* NULL when there is no path */
};

/* The first "://" of s, or NULL. A loop rather than strstr(), which costs
 * firmware built on newlib about 1 KiB for this one call. */
static const char *find_scheme_sep(const char *s) {
  for (; *s != '\0'; s++)
    if (s[0] == ':' && s[1] == '/' && s[2] == '/') return s;
  return NULL;
}

static struct url_parts url_split(const char *url) {
  struct url_parts u;
  const char *p = url, *sep = find_scheme_sep(url), *end, *at, *hp;
  memset(&u, 0, sizeof(u));
  if (sep != NULL) {
    u.scheme = mg_str_n(url, (size_t) (sep - url));
    p = sep + 3;
  }
  end = strchr(p, '/');
  if (end == NULL) end = p + strlen(p);
  u.uri = *end == '/' ? end : NULL;
  /* userinfo is everything up to the last '@' of the authority */
  at = NULL;
  for (hp = p; hp < end; hp++)
    if (*hp == '@') at = hp;
  if (at != NULL) {
    struct mg_str info = mg_str_n(p, (size_t) (at - p));
    if (!mg_str_split(info, ':', &u.user, &u.pass)) u.pass = mg_str_n(at, 0);
    p = at + 1;
  }
  if (*p == '[') {
    const char *close = (const char *) memchr(p, ']', (size_t) (end - p));
    hp = close == NULL ? end : close + 1;
  } else {
    hp = (const char *) memchr(p, ':', (size_t) (end - p));
    if (hp == NULL) hp = end;
  }
  u.host = mg_str_n(p, (size_t) (hp - p));
  if (hp < end && *hp == ':') u.port = mg_str_n(hp + 1, (size_t) (end - hp - 1));
  return u;
}

static unsigned short scheme_port(struct mg_str s) {
  static const struct {
    const char *name;
    unsigned short port;
  } defaults[] = {{"http", 80},    {"ws", 80},      {"https", 443},
                  {"wss", 443},    {"mqtt", 1883},  {"mqtts", 8883},
                  {"sntp", 123},   {"ntp", 123}};
  size_t i;
  for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
    if (mg_str_ieq(s, defaults[i].name)) return defaults[i].port;
  return 0;
}

unsigned short mg_url_port(const char *url) {
  struct url_parts u = url_split(url);
  uint64_t v;
  if (u.port.len > 0 && mg_str_to_u64(u.port, &v) && v <= 65535)
    return (unsigned short) v;
  return scheme_port(u.scheme);
}

long mg_url_port_explicit(const char *url) {
  struct url_parts u = url_split(url);
  uint64_t v;
  if (u.port.len == 0) return 0;
  if (!mg_str_to_u64(u.port, &v) || v > 65535) return -1;
  return (long) v;
}

struct mg_str mg_url_host(const char *url) {
  return url_split(url).host;
}

struct mg_str mg_url_user(const char *url) {
  return url_split(url).user;
}

struct mg_str mg_url_pass(const char *url) {
  return url_split(url).pass;
}

const char *mg_url_uri(const char *url) {
  const char *uri = url_split(url).uri;
  return uri == NULL ? "/" : uri;
}

bool mg_url_is_ssl(const char *url) {
  static const char *const tls_schemes[] = {"https", "wss", "mqtts",
                                            "ssl",   "tls", "tcps"};
  struct mg_str s = url_split(url).scheme;
  size_t i;
  for (i = 0; i < sizeof(tls_schemes) / sizeof(tls_schemes[0]); i++)
    if (mg_str_eq(s, tls_schemes[i])) return true;
  return false;
}
