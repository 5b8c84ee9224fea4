/* Standalone driver for libFuzzer-style targets, for machines without clang.
 *
 * Link it with one file defining
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
 * and run
 *     ./fuzz_x [-n RUNS] [-s SEED] [-t SECONDS] [-m MAXLEN] [-d DICT] [-o FILE]
 *              [CORPUS...]
 * Every CORPUS file (or every regular file in a CORPUS directory) is replayed
 * once, then RUNS mutated inputs are generated from them with a deterministic
 * PRNG (same seed, same inputs), stopping early after SECONDS of wall-clock
 * time (so a CI budget holds on a loaded machine too). DICT is a file
 * of tokens, one per line, spliced into inputs by some mutations. A crash is
 * whatever the target or the sanitizers abort on. Runs are reproducible from
 * the seed; with -o FILE each input is also written to FILE before it runs,
 * so after a crash FILE holds the offending input (replay: ./fuzz_x FILE). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct blob {
  uint8_t *buf;
  size_t len;
};

struct blobs {
  struct blob *items;
  size_t n, cap;
};

static void blobs_add(struct blobs *b, const uint8_t *p, size_t len) {
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 16;
    b->items = (struct blob *) realloc(b->items, b->cap * sizeof(*b->items));
    if (b->items == NULL) abort();
  }
  b->items[b->n].buf = (uint8_t *) malloc(len ? len : 1);
  if (b->items[b->n].buf == NULL) abort();
  if (len) memcpy(b->items[b->n].buf, p, len);
  b->items[b->n++].len = len;
}

static void blobs_free(struct blobs *b) {
  size_t i;
  for (i = 0; i < b->n; i++) free(b->items[i].buf);
  free(b->items);
}

static int read_file(const char *path, struct blobs *out, size_t maxlen) {
  FILE *fp = fopen(path, "rb");
  uint8_t *buf;
  size_t n;
  if (fp == NULL) return -1;
  buf = (uint8_t *) malloc(maxlen);
  if (buf == NULL) abort();
  n = fread(buf, 1, maxlen, fp);
  fclose(fp);
  blobs_add(out, buf, n);
  free(buf);
  return 0;
}

static void load_corpus(const char *path, struct blobs *out, size_t maxlen) {
  struct stat st;
  DIR *d;
  struct dirent *e;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "fuzz: cannot open %s\n", path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    read_file(path, out, maxlen);
    return;
  }
  if ((d = opendir(path)) == NULL) return;
  while ((e = readdir(d)) != NULL) {
    char full[4096];
    if (e->d_name[0] == '.') continue;
    snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) read_file(full, out, maxlen);
  }
  closedir(d);
}

static void load_dict(const char *path, struct blobs *out) {
  char line[512];
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    fprintf(stderr, "fuzz: cannot open dictionary %s\n", path);
    exit(2);
  }
  while (fgets(line, sizeof(line), fp) != NULL) {
    size_t n = strcspn(line, "\r\n");
    if (n > 0 && line[0] != '#') blobs_add(out, (const uint8_t *) line, n);
  }
  fclose(fp);
}

/* xorshift64*: small, deterministic, good enough to pick mutations. */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

static size_t rng_below(uint64_t *s, size_t n) {
  return n == 0 ? 0 : (size_t) (rng_next(s) % n);
}

/* Inserts len bytes from p at position at; buf has room for maxlen bytes. */
static size_t insert(uint8_t *buf, size_t n, size_t maxlen, size_t at,
                     const uint8_t *p, size_t len) {
  if (n + len > maxlen) len = maxlen - n;
  memmove(buf + at + len, buf + at, n - at);
  memcpy(buf + at, p, len);
  return n + len;
}

static size_t mutate(uint8_t *buf, size_t n, size_t maxlen, uint64_t *rng,
                     const struct blobs *corpus, const struct blobs *dict) {
  static const uint8_t special[] = {0, 0xff, 0x7f, 0x80, '\n', '\r', ' ',
                                    '"', '\\', '{', '}', '[', ']', ':', ','};
  int k, rounds = 1 + (int) rng_below(rng, 4);
  for (k = 0; k < rounds; k++) {
    size_t at = rng_below(rng, n + 1);
    switch (rng_below(rng, 8)) {
      case 0:  // flip one bit
        if (n > 0) buf[rng_below(rng, n)] ^= (uint8_t) (1u << rng_below(rng, 8));
        break;
      case 1: {  // insert a random or special byte
        uint8_t c = rng_below(rng, 2) ? (uint8_t) rng_next(rng)
                                      : special[rng_below(rng, sizeof(special))];
        n = insert(buf, n, maxlen, at, &c, 1);
        break;
      }
      case 2:  // delete a run
        if (n > 0 && at < n) {
          size_t len = 1 + rng_below(rng, n - at);
          if (len > 16) len = 1 + rng_below(rng, 16);
          memmove(buf + at, buf + at + len, n - at - len);
          n -= len;
        }
        break;
      case 3:  // truncate
        n = rng_below(rng, n + 1);
        break;
      case 4:  // duplicate a chunk of the input at a random place
        if (n > 0) {
          size_t from = rng_below(rng, n), len = 1 + rng_below(rng, n - from);
          uint8_t tmp[256];
          if (len > sizeof(tmp)) len = sizeof(tmp);
          memcpy(tmp, buf + from, len);
          n = insert(buf, n, maxlen, at, tmp, len);
        }
        break;
      case 5:  // splice in part of another corpus entry
        if (corpus->n > 0) {
          const struct blob *b = &corpus->items[rng_below(rng, corpus->n)];
          size_t from = rng_below(rng, b->len);
          n = insert(buf, n, maxlen, at, b->buf + from, rng_below(rng, b->len - from + 1));
        }
        break;
      case 6:  // insert a dictionary token
        if (dict->n > 0) {
          const struct blob *b = &dict->items[rng_below(rng, dict->n)];
          n = insert(buf, n, maxlen, at, b->buf, b->len);
        }
        break;
      default:  // overwrite a byte with an ASCII digit or letter
        if (n > 0) buf[rng_below(rng, n)] = (uint8_t) ("0123456789aeE-+." [rng_below(rng, 16)]);
        break;
    }
  }
  return n;
}

static void save_input(const char *path, const uint8_t *buf, size_t n) {
  FILE *fp;
  if (path == NULL || (fp = fopen(path, "wb")) == NULL) return;
  if (n > 0) fwrite(buf, 1, n, fp);
  fclose(fp);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  unsigned long runs = 10000, seed = 1;
  double seconds = 60;
  size_t maxlen = 4096, i, n;
  const char *dict_path = NULL, *save_path = NULL;
  struct blobs corpus = {NULL, 0, 0}, dict = {NULL, 0, 0};
  uint8_t *buf;
  uint64_t rng;
  unsigned long r;
  double start = now_seconds();
  int a;
  for (a = 1; a < argc; a++) {
    if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
      runs = strtoul(argv[++a], NULL, 10);
    } else if (strcmp(argv[a], "-s") == 0 && a + 1 < argc) {
      seed = strtoul(argv[++a], NULL, 10);
    } else if (strcmp(argv[a], "-t") == 0 && a + 1 < argc) {
      seconds = atof(argv[++a]);
    } else if (strcmp(argv[a], "-m") == 0 && a + 1 < argc) {
      maxlen = (size_t) strtoul(argv[++a], NULL, 10);
      if (maxlen == 0) maxlen = 1;
    } else if (strcmp(argv[a], "-d") == 0 && a + 1 < argc) {
      dict_path = argv[++a];
    } else if (strcmp(argv[a], "-o") == 0 && a + 1 < argc) {
      save_path = argv[++a];
    } else if (argv[a][0] == '-') {
      fprintf(stderr, "usage: %s [-n RUNS] [-s SEED] [-t SECONDS] [-m MAXLEN] "
                      "[-d DICT] [-o FILE] [CORPUS...]\n", argv[0]);
      return 2;
    } else {
      load_corpus(argv[a], &corpus, maxlen);
    }
  }
  if (dict_path != NULL) load_dict(dict_path, &dict);
  buf = (uint8_t *) malloc(maxlen);
  if (buf == NULL) abort();
  for (i = 0; i < corpus.n; i++) {  // replay the corpus as is
    save_input(save_path, corpus.items[i].buf, corpus.items[i].len);
    LLVMFuzzerTestOneInput(corpus.items[i].buf, corpus.items[i].len);
  }
  rng = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (r = 0; r < runs; r++) {
    if ((r & 15) == 0 && now_seconds() - start > seconds) break;
    if (corpus.n > 0 && rng_below(&rng, 8) != 0) {
      const struct blob *b = &corpus.items[rng_below(&rng, corpus.n)];
      n = b->len < maxlen ? b->len : maxlen;
      memcpy(buf, b->buf, n);
    } else {
      n = 0;
    }
    n = mutate(buf, n, maxlen, &rng, &corpus, &dict);
    save_input(save_path, buf, n);
    LLVMFuzzerTestOneInput(buf, n);
  }
  if (save_path != NULL) remove(save_path);
  printf(
      "%s: %zu corpus inputs, %lu mutations (seed %lu) in %.1f s, no crash\n",
      argv[0], corpus.n, r, seed, now_seconds() - start);
  free(buf);
  blobs_free(&corpus);
  blobs_free(&dict);
  return 0;
}
