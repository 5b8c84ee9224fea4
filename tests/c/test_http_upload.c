/* mg_http_upload over loopback: chunks appended at matching offsets, offset 0
 * restarting a file, bad names and offsets refused, the size limit, and a
 * read-only file system. The files land in a fresh temporary directory. */
#define _XOPEN_SOURCE 700 /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mg.h"
#include "mg_test.h"

static char s_dir[64];
static char s_url[64];
static const struct mg_fs *s_fs;
static long s_last; /* mg_http_upload's result for the last request */
static size_t s_max = 100;
extern char **environ;

static void server_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    s_last = mg_http_upload(c, hm, s_fs, s_dir, s_max);
  }
}

struct cli {
  char req[512];
  size_t req_len;
  int status, done;
  char body[64];
};

static void client_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct cli *k = (struct cli *) c->fn_data;
  if (ev == MG_EV_CONNECT) {
    mg_send(c, k->req, k->req_len);
  } else if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = (struct mg_http_message *) ev_data;
    size_t n = hm->body.len < sizeof(k->body) - 1 ? hm->body.len
                                                  : sizeof(k->body) - 1;
    k->status = mg_http_status(hm);
    memcpy(k->body, hm->body.buf, n);
    k->body[n] = '\0';
    k->done = 1;
    c->is_closing = 1;
  } else if (ev == MG_EV_CLOSE) {
    k->done = 1;
  }
}

/* One POST /upload?QUERY with body; returns the status (0: no answer). */
static int post(struct mg_mgr *mgr, const char *query, const char *body,
                struct cli *k) {
  memset(k, 0, sizeof(*k));
  s_last = -99;
  k->req_len = (size_t) snprintf(
      k->req, sizeof(k->req),
      "POST /upload?%s HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n\r\n%s",
      query, (unsigned) strlen(body), body);
  if (mg_http_connect(mgr, s_url, client_fn, k) == NULL) return 0;
  for (int i = 0; i < 400 && !k->done; i++) mg_mgr_poll(mgr, 5);
  for (int i = 0; i < 5; i++) mg_mgr_poll(mgr, 0); /* let the close finish */
  return k->status;
}

static size_t file_content(const char *name, char *buf, size_t len) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", s_dir, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return (size_t) -1;
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
  return n;
}

/* A file system without the write operations. */
static unsigned ro_st(const char *p, uint64_t *s, int64_t *m) {
  (void) p, (void) s, (void) m;
  return 0;
}
static const struct mg_fs s_rofs = {ro_st, NULL, NULL, NULL, NULL,
                                    NULL,  NULL, NULL, NULL, NULL, NULL};

/* curl uploads a 250 000 byte file in three chunks over one keep-alive
 * connection (--next); the stored file must hash like the original. */
static void curl_upload(struct mg_mgr *mgr) {
  static unsigned char data[250000], back[250001];
  const size_t cuts[4] = {0, 100000, 200000, sizeof(data)};
  char part[3][160], url[3][160], *argv[32];
  uint32_t x = 12345;
  int argc = 0, status = -1;
  pid_t pid;
  for (size_t i = 0; i < sizeof(data); i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (unsigned char) (x >> 16);
  }
  argv[argc++] = "curl";
  for (int i = 0; i < 3; i++) {
    snprintf(part[i], sizeof(part[i]), "@%s/part%d", s_dir, i);
    FILE *f = fopen(part[i] + 1, "wb");
    if (f == NULL) return;
    fwrite(data + cuts[i], 1, cuts[i + 1] - cuts[i], f);
    fclose(f);
    snprintf(url[i], sizeof(url[i]), "%s/upload?file=curl.bin&offset=%u",
             s_url, (unsigned) cuts[i]);
    if (i > 0) argv[argc++] = "--next";
    argv[argc++] = "-sf"; /* --next resets options: repeat them */
    argv[argc++] = "-o";
    argv[argc++] = "/dev/null";
    argv[argc++] = "--data-binary";
    argv[argc++] = part[i];
    argv[argc++] = url[i];
  }
  argv[argc] = NULL;
  s_max = sizeof(data);
  if (posix_spawnp(&pid, "curl", NULL, NULL, argv, environ) != 0) {
    printf("curl not runnable\n");
    s_failed++;
    return;
  }
  for (int i = 0; i < 2000; i++) {
    mg_mgr_poll(mgr, 5);
    if (waitpid(pid, &status, WNOHANG) == pid) break;
  }
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(s_last == (long) sizeof(data));
  CHECK(file_content("curl.bin", (char *) back, sizeof(back)) == sizeof(data));
  unsigned char d1[32], d2[32];
  mg_sha256(d1, data, sizeof(data));
  mg_sha256(d2, back, sizeof(data));
  CHECK(memcmp(d1, d2, 32) == 0);
  s_max = 100;
  for (int i = 0; i < 3; i++) unlink(part[i] + 1);
}

int main(void) {
  struct mg_mgr mgr;
  struct cli k;
  char buf[256];
  strcpy(s_dir, "/tmp/mg_upload_XXXXXX");
  if (mkdtemp(s_dir) == NULL) return 1;
  mg_mgr_init(&mgr);
  struct mg_connection *lc =
      mg_http_listen(&mgr, "http://127.0.0.1:0", server_fn, NULL);
  CHECK(lc != NULL);
  if (lc == NULL) return 1;
  snprintf(s_url, sizeof(s_url), "http://127.0.0.1:%u", mg_ntohs(lc->loc.port));

  /* Three chunks build the file; each answer is the new size. */
  CHECK(post(&mgr, "file=a.bin&offset=0", "hello ", &k) == 200);
  CHECK(strcmp(k.body, "6\n") == 0 && s_last == 6);
  CHECK(post(&mgr, "file=a.bin&offset=6", "brave ", &k) == 200);
  CHECK(strcmp(k.body, "12\n") == 0 && s_last == 12);
  CHECK(post(&mgr, "offset=12&file=a.bin", "world", &k) == 200);
  CHECK(strcmp(k.body, "17\n") == 0);
  CHECK(file_content("a.bin", buf, sizeof(buf)) == 17);
  CHECK(strcmp(buf, "hello brave world") == 0);

  /* Offsets other than the current size are refused; the file is intact. */
  CHECK(post(&mgr, "file=a.bin&offset=5", "XX", &k) == 400 && s_last == -1);
  CHECK(post(&mgr, "file=a.bin&offset=18", "XX", &k) == 400);
  CHECK(post(&mgr, "file=a.bin&offset=abc", "XX", &k) == 400);
  CHECK(post(&mgr, "file=a.bin&offset=", "XX", &k) == 400);
  CHECK(post(&mgr, "file=new.bin&offset=3", "XX", &k) == 400);
  CHECK(file_content("a.bin", buf, sizeof(buf)) == 17);
  CHECK(file_content("new.bin", buf, sizeof(buf)) == (size_t) -1);

  /* Offset 0 (or none) starts over. */
  CHECK(post(&mgr, "file=a.bin&offset=0", "fresh", &k) == 200);
  CHECK(file_content("a.bin", buf, sizeof(buf)) == 5 &&
        strcmp(buf, "fresh") == 0);
  CHECK(post(&mgr, "file=a.bin", "again", &k) == 200);
  CHECK(file_content("a.bin", buf, sizeof(buf)) == 5 &&
        strcmp(buf, "again") == 0);
  /* An empty first chunk creates an empty file. */
  CHECK(post(&mgr, "file=empty&offset=0", "", &k) == 200);
  CHECK(strcmp(k.body, "0\n") == 0);
  CHECK(file_content("empty", buf, sizeof(buf)) == 0);

  /* Names that are not one plain path component. */
  const char *bad[] = {"file=&offset=0",      "offset=0",
                       "file=..&offset=0",    "file=a%2fb&offset=0",
                       "file=a/b&offset=0",   "file=a%5cb&offset=0",
                       "file=..%2fx&offset=0", "file=x%00y&offset=0",
                       "file=%zz&offset=0",   "file=a..b&offset=0"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK(post(&mgr, bad[i], "evil", &k) == 400);
  }
  CHECK(file_content("x", buf, sizeof(buf)) == (size_t) -1);

  /* The limit counts the whole file, not the chunk (max_size is 100). */
  memset(buf, 'z', 60);
  buf[60] = '\0';
  CHECK(post(&mgr, "file=big&offset=0", buf, &k) == 200);
  CHECK(post(&mgr, "file=big&offset=60", buf, &k) == 413);
  CHECK(file_content("big", buf, sizeof(buf)) == 60);
  memset(buf, 'y', 40);
  buf[40] = '\0';
  CHECK(post(&mgr, "file=big&offset=60", buf, &k) == 200);
  CHECK(strcmp(k.body, "100\n") == 0);
  CHECK(post(&mgr, "file=big&offset=100", "1", &k) == 413);
  CHECK(post(&mgr, "file=big&offset=100", "", &k) == 200);

  curl_upload(&mgr);

  /* A file system that cannot write answers 500. */
  s_fs = &s_rofs;
  CHECK(post(&mgr, "file=ro&offset=0", "data", &k) == 500 && s_last == -1);
  s_fs = NULL;

  mg_mgr_free(&mgr);
  const char *names[] = {"a.bin", "empty", "big", "curl.bin"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(buf, sizeof(buf), "%s/%s", s_dir, names[i]);
    unlink(buf);
  }
  CHECK(rmdir(s_dir) == 0); /* nothing else was created */
  return TEST_REPORT();
}
