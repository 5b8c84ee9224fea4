/* A session's subscriptions: a hash table keyed by the filter text (with
 * its "$share/group/" prefix, if any), so SUBSCRIBE/UNSUBSCRIBE cost O(1)
 * per filter however many a client holds. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"

uint32_t filter_hash(struct mg_str f) {
  uint32_t h = 2166136261u; /* FNV-1a */
  size_t i;
  for (i = 0; i < f.len; i++) h = (h ^ (uint8_t) f.buf[i]) * 16777619u;
  return h;
}

/* The filter to match topics against (without a $share prefix). */
struct mg_str sub_filter(const struct sub *sb) {
  return mg_str_n(sb->filter + sb->skip, sb->len - sb->skip);
}

/* The link pointing at the subscription to f, or NULL when there is none. */
struct sub **subs_find(struct subs *t, struct mg_str f, uint32_t h) {
  struct sub **p;
  if (t->nbuckets == 0) return NULL;
  for (p = &t->buckets[h & (t->nbuckets - 1)]; *p != NULL; p = &(*p)->next) {
    if ((*p)->hash == h && (*p)->len == f.len &&
        memcmp((*p)->filter, f.buf, f.len) == 0)
      return p;
  }
  return NULL;
}

/* Doubles the table when it is as full as it has buckets. */
static bool subs_grow(struct subs *t) {
  size_t n = t->nbuckets ? t->nbuckets * 2 : 8, i;
  struct sub **b;
  if (t->count < t->nbuckets) return true;
  if ((b = (struct sub **) calloc(n, sizeof(*b))) == NULL) return false;
  for (i = 0; i < t->nbuckets; i++) {
    struct sub *sb = t->buckets[i], *next;
    for (; sb != NULL; sb = next) {
      next = sb->next;
      sb->next = b[sb->hash & (n - 1)];
      b[sb->hash & (n - 1)] = sb;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
  return true;
}

/* Adds the subscription, or replaces the options of an existing one
 * (*existed says which). NULL when out of memory. */
struct sub *subs_add(struct subs *t, struct mg_str f, uint8_t opts,
                     uint32_t subid, uint64_t seq, bool *existed) {
  uint32_t h = filter_hash(f);
  struct sub **p = subs_find(t, f, h), *sb;
  *existed = p != NULL;
  if (p != NULL) {
    (*p)->opts = opts, (*p)->subid = subid;
    return *p;
  }
  if (!subs_grow(t)) return NULL;
  if ((sb = (struct sub *) malloc(sizeof(*sb) + f.len)) == NULL) return NULL;
  memcpy(sb->filter, f.buf, f.len);
  sb->len = f.len;
  sb->skip = 0;
  if (f.len > 7 && memcmp(f.buf, "$share/", 7) == 0)
    sb->skip =
        (size_t) ((const char *) memchr(f.buf + 7, '/', f.len - 7) - f.buf) + 1;
  sb->hash = h;
  sb->opts = opts;
  sb->subid = subid;
  sb->seq = seq;
  sb->share_last = 0;
  p = &t->buckets[h & (t->nbuckets - 1)];
  sb->next = *p;
  *p = sb;
  t->count++;
  return sb;
}

bool subs_del(struct subs *t, struct mg_str f) {
  struct sub **p = subs_find(t, f, filter_hash(f)), *sb;
  if (p == NULL) return false;
  sb = *p;
  *p = sb->next;
  free(sb);
  t->count--;
  return true;
}

void subs_free(struct subs *t) {
  size_t i;
  for (i = 0; i < t->nbuckets; i++) {
    while (t->buckets[i] != NULL) {
      struct sub *n = t->buckets[i]->next;
      free(t->buckets[i]);
      t->buckets[i] = n;
    }
  }
  free(t->buckets);
  memset(t, 0, sizeof(*t));
}
