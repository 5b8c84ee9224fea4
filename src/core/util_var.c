/* Lookup in '&'-separated key=value lists (query strings, form bodies). */
#include "mg_util.h"

static unsigned char var_lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + 32) : c;
}

bool mg_var_get(struct mg_str buf, struct mg_str name, struct mg_str *val) {
  size_t i = 0;
  while (i < buf.len) {
    size_t start = i, eq, k;
    while (i < buf.len && buf.buf[i] != '&') i++;  // [start, i) is one pair
    for (eq = start; eq < i && buf.buf[eq] != '='; eq++) continue;
    if (eq - start == name.len) {
      for (k = 0; k < name.len; k++) {
        if (var_lower((unsigned char) buf.buf[start + k]) !=
            var_lower((unsigned char) name.buf[k]))
          break;
      }
      if (k == name.len) {
        if (val != NULL) {
          val->buf = eq < i ? buf.buf + eq + 1 : buf.buf + i;
          val->len = eq < i ? i - eq - 1 : 0;
        }
        return true;
      }
    }
    i++;  // skip the '&'
  }
  return false;
}
