/* Unit tests of the sans-IO HTTP parser and the lookup helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "mg_test.h"


static bool eq(struct mg_str s, const char *want) {
  return s.len == strlen(want) && memcmp(s.buf, want, s.len) == 0;
}

static long frame(const char *s, struct mg_http_message *hm, int *framing) {
  return mg_http_frame(s, strlen(s), false, hm, framing);
}

static void test_request_line(void) {
  struct mg_http_message hm;
  const char *r = "GET /a/b?x=1&y=a+b HTTP/1.1\r\nHost: h\r\nX-Y:  v w \r\n\r\n";
  int n = mg_http_parse(r, strlen(r), &hm);
  CHECK(n == (int) strlen(r));
  CHECK(eq(hm.method, "GET"));
  CHECK(eq(hm.uri, "/a/b"));
  CHECK(eq(hm.query, "x=1&y=a+b"));
  CHECK(eq(hm.proto, "HTTP/1.1"));
  CHECK(eq(hm.headers[0].name, "Host") && eq(hm.headers[0].value, "h"));
  CHECK(eq(hm.headers[1].name, "X-Y") && eq(hm.headers[1].value, "v w"));
  CHECK(hm.headers[2].name.len == 0);
  CHECK(mg_http_get_header(&hm, "x-y") != NULL);
  CHECK(mg_http_get_header(&hm, "nope") == NULL);
  CHECK(mg_http_status(&hm) == 0);
  CHECK(eq(hm.head, r) && hm.body.len == 0);

  /* Every prefix of a complete head is "need more". */
  for (size_t i = 0; i < strlen(r); i++) {
    CHECK(mg_http_parse(r, i, &hm) == 0);
  }
  /* Bare LF line ends and leading empty lines are tolerated. */
  r = "\r\nPOST / HTTP/1.0\nA: 1\n\n";
  CHECK(mg_http_parse(r, strlen(r), &hm) == (int) strlen(r));
  CHECK(eq(hm.method, "POST") && eq(hm.headers[0].value, "1"));
  CHECK(hm.query.len == 0);
}

static void test_malformed(void) {
  static const char *bad[] = {
      "GET\r\n\r\n",
      "GET / HTTP/1.1 extra\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "GET / HTTP/x.1\r\n\r\n",
      "G(T / HTTP/1.1\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
      "GET / HTTP/1.1\r\nName : v\r\n\r\n",
      "GET / HTTP/1.1\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
      "\x16\x03\x01\x02",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      NULL};
  struct mg_http_message hm;
  for (int i = 0; bad[i] != NULL; i++) {
    int n = mg_http_parse(bad[i], strlen(bad[i]), &hm);
    if (n != MG_HTTP_ERR_BAD) printf("  case %d -> %d\n", i, n);
    CHECK(n == MG_HTTP_ERR_BAD);
  }
  /* NUL inside the head. */
  const char nul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
  CHECK(mg_http_parse(nul, sizeof(nul) - 1, &hm) == MG_HTTP_ERR_BAD);
}

/* The buffer of the header-limit tests and the big header value. A board
 * with less than 1 MiB of RAM (the target tests, tests/target) has room for
 * neither, so it checks a smaller value and leaves out the head past
 * MG_HTTP_MAX_HEAD_SIZE (256 KiB by default), which needs a larger buffer. */
#ifdef MG_TEST_SMALL_RAM
#define HDR_BUF 8192
#define BIG_VALUE 2000
#else
#define HDR_BUF 400000
#define BIG_VALUE 100000
#endif

static void test_header_limits(void) {
  char *buf = (char *) malloc(HDR_BUF);
  if (buf == NULL) abort();
  struct mg_http_message hm;
  size_t n = (size_t) mg_snprintf(buf, HDR_BUF, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < 500; i++) {
    n += (size_t) mg_snprintf(buf + n, HDR_BUF - n, "H%d: %d\r\n", i, i);
  }
  n += (size_t) mg_snprintf(buf + n, HDR_BUF - n, "\r\n");
  /* More fields than the limit: refused, never cut (a framing field past
   * the limit would go unseen). */
  CHECK(mg_http_parse(buf, n, &hm) == MG_HTTP_ERR_FIELDS);
  CHECK(hm.head.len == 0);
  /* Exactly the limit is fine and every field is exposed. */
  char last[16];
  mg_snprintf(last, sizeof(last), "H%d", MG_MAX_HTTP_HEADERS - 1);
  n = (size_t) mg_snprintf(buf, HDR_BUF, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < MG_MAX_HTTP_HEADERS; i++) {
    n += (size_t) mg_snprintf(buf + n, HDR_BUF - n, "H%d: %d\r\n", i, i);
  }
  CHECK(mg_http_parse(buf, n, &hm) == 0); /* no blank line yet */
  memcpy(buf + n, "\r\n", 2);
  CHECK(mg_http_parse(buf, n + 2, &hm) == (int) n + 2);
  CHECK(eq(hm.headers[MG_MAX_HTTP_HEADERS - 1].name, last));
  /* One more field line, even incomplete, is refused before the blank line. */
  size_t k = (size_t) mg_snprintf(buf + n, HDR_BUF - n, "Content-Le");
  CHECK(mg_http_parse(buf, n + k, &hm) == MG_HTTP_ERR_FIELDS);
  k = (size_t) mg_snprintf(buf + n, HDR_BUF - n, "Content-Length: 5\r\n\r\n");
  CHECK(mg_http_parse(buf, n + k, &hm) == MG_HTTP_ERR_FIELDS);
  /* The same for a response. */
  n = (size_t) mg_snprintf(buf, HDR_BUF, "HTTP/1.1 200 OK\r\n");
  for (int i = 0; i <= MG_MAX_HTTP_HEADERS; i++) {
    n += (size_t) mg_snprintf(buf + n, HDR_BUF - n, "H%d: %d\r\n", i, i);
  }
  n += (size_t) mg_snprintf(buf + n, HDR_BUF - n, "\r\n");
  CHECK(mg_http_parse(buf, n, &hm) == MG_HTTP_ERR_FIELDS);

  /* A 100 KB header value is accepted. */
  n = (size_t) mg_snprintf(buf, HDR_BUF, "GET / HTTP/1.1\r\nBig: ");
  memset(buf + n, 'a', BIG_VALUE);
  n += BIG_VALUE;
  n += (size_t) mg_snprintf(buf + n, HDR_BUF - n, "\r\n\r\n");
  CHECK(mg_http_parse(buf, n, &hm) == (int) n);
  CHECK(mg_http_get_header(&hm, "big")->len == BIG_VALUE);

#if HDR_BUF > MG_HTTP_MAX_HEAD_SIZE + 64
  /* Past the head limit: 431, with or without the blank line. */
  n = (size_t) mg_snprintf(buf, HDR_BUF, "GET / HTTP/1.1\r\nBig: ");
  memset(buf + n, 'a', MG_HTTP_MAX_HEAD_SIZE);
  n += MG_HTTP_MAX_HEAD_SIZE;
  CHECK(mg_http_parse(buf, n, &hm) == MG_HTTP_ERR_HEAD_BIG);
  n += (size_t) mg_snprintf(buf + n, HDR_BUF - n, "\r\n\r\n");
  CHECK(mg_http_parse(buf, n, &hm) == MG_HTTP_ERR_HEAD_BIG);
#endif
  free(buf);
}

/* Input whose head is not complete yet: refused when it cannot become valid,
 * "need more" (0) while it still can. */
static void test_partial(void) {
  static const char *need_more[] = {
      "G", "GE", "GET", "GET ", "GET /pa", "GET /pa ", "GET /pa HTTP/1.",
      "GET /pa HTTP/1.1", "GET /pa HTTP/1.1\r", "GET /pa HTTP/1.1\r\n",
      "GET /pa HTTP/1.1\r\nHo", "GET /pa HTTP/1.1\r\nHost: a b",
      "GET /pa HTTP/1.1\r\nHost: a\r", "GET /pa HTTP/1.1\r\nHost: a\r\n\r",
      "GET /pa HTTP/1.1\nA: b\n", "\r\nGET /", "OPTIONS * HTTP/1.1\r\n",
      "H", "HTTP", "HTTP/", "HTTP/1.1 2", "HTTP/1.1 200", "HTTP/1.1 200 O",
      "HTTP/1.1 200\r", "HTTP/1.1 200 OK\r\nA: 1\r\n",
      "0123456789abcdefghijklmnopqrstuv", /* a 32-character method so far */
      NULL};
  static const char *junk[] = {
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* TLS ClientHello */
      "\xff\xfe", "G(T", " GET", "GET  /", "GET /\x01",
      "GET /\r", "GET /a\r\n", "GET / HTTP/1.1 x", "GET / HTTP/1.1\rx",
      "GET / FTP/1.1", "GET / HTTP/11", "GET / HTTPS", "GET / HTTP/1.1\r\n x",
      "GET / HTTP/1.1\r\nA b: c", "GET / HTTP/1.1\r\nA: \x01",
      "GET / HTTP/1.1\r\nA: b\rc", "GET / HTTP/1.1\r\nNo colon\r\n",
      "GET / HTTP/1.1 extra\r\n", "SSH-2.0-OpenSSH_9.2p1\r\n",
      "0123456789abcdefghijklmnopqrstuvw", /* 33 token characters */
      "HTTP/x", "HTTP/1.1 2x", "HTTP/1.1 200X", "HTTP/1.1 200 O\x01",
      "HTTP/1.1 200\rX", NULL};
  struct mg_http_message hm;
  for (int i = 0; need_more[i] != NULL; i++) {
    int n = mg_http_parse(need_more[i], strlen(need_more[i]), &hm);
    if (n != 0) printf("  need_more %d -> %d\n", i, n);
    CHECK(n == 0 && hm.method.len == 0);
  }
  for (int i = 0; junk[i] != NULL; i++) {
    int n = mg_http_parse(junk[i], strlen(junk[i]), &hm);
    if (n != MG_HTTP_ERR_BAD) printf("  junk %d -> %d\n", i, n);
    CHECK(n == MG_HTTP_ERR_BAD);
  }
  /* A NUL anywhere in an incomplete head. */
  CHECK(mg_http_parse("GET /\0", 6, &hm) == MG_HTTP_ERR_BAD);
  CHECK(mg_http_parse("GET / HTTP/1.1\r\nA: \0", 20, &hm) == MG_HTTP_ERR_BAD);
  /* The same limits hold for a complete head, whatever the packets were. */
  const char *r = "0123456789abcdefghijklmnopqrstuvw / HTTP/1.1\r\n\r\n";
  CHECK(mg_http_parse(r, strlen(r), &hm) == MG_HTTP_ERR_BAD);
  r++; /* 32 characters */
  CHECK(mg_http_parse(r, strlen(r), &hm) == (int) strlen(r));
}

static void test_version(void) {
  static const char *v505[] = {"GET / HTTP/2.0\r\n\r\n", "GET / HTTP/3.1\r\n\r\n",
                               "GET / HTTP/0.9\r\n\r\n", "PRI * HTTP/2.0\r\n",
                               "GET / HTTP/9.9\r\nHost: a\r\n", NULL};
  struct mg_http_message hm;
  for (int i = 0; v505[i] != NULL; i++) {
    int n = mg_http_parse(v505[i], strlen(v505[i]), &hm);
    if (n != MG_HTTP_ERR_VERSION) printf("  v505 %d -> %d\n", i, n);
    CHECK(n == MG_HTTP_ERR_VERSION);
  }
  /* 1.x minor versions are served as 1.1; responses are not checked. */
  CHECK(mg_http_parse("GET / HTTP/1.2\r\n\r\n", 18, &hm) == 18);
  CHECK(mg_http_parse("HTTP/2.0 200 OK\r\n\r\n", 19, &hm) == 19);
}

static int check_req(const char *r) {
  struct mg_http_message hm;
  int n = mg_http_parse(r, strlen(r), &hm);
  if (n <= 0) return 99;
  return mg_http_check_request(&hm);
}

static void test_check_request(void) {
  static const char *ok[] = {
      "GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nhOsT: example.com:8080\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", "GET / HTTP/1.1\r\nHost: a%41b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a-b_c~d!$&'()*+,;=e\r\n\r\n",
      "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
      NULL};
  static const char *bad[] = {
      "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.2\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: []\r\n\r\n", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: %zz\r\n\r\n", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", "GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n",
      "HTTP/1.1 200 OK\r\nHost: a\r\n\r\n", NULL};
  for (int i = 0; ok[i] != NULL; i++) {
    int n = check_req(ok[i]);
    if (n != 0) printf("  ok %d -> %d\n", i, n);
    CHECK(n == 0);
  }
  for (int i = 0; bad[i] != NULL; i++) {
    int n = check_req(bad[i]);
    if (n != MG_HTTP_ERR_BAD) printf("  bad %d -> %d\n", i, n);
    CHECK(n == MG_HTTP_ERR_BAD);
  }
}

static void test_response(void) {
  struct mg_http_message hm;
  int framing;
  const char *r = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabcXX";
  CHECK(frame(r, &hm, &framing) == (long) strlen(r) - 2);
  CHECK(eq(hm.method, "HTTP/1.1") && eq(hm.uri, "404"));
  CHECK(eq(hm.proto, "Not Found"));
  CHECK(mg_http_status(&hm) == 404);
  CHECK(eq(hm.body, "abc"));
  r = "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == (long) strlen(r));
  CHECK(mg_http_status(&hm) == 299 && hm.proto.len == 0);
  /* No framing header: the body runs until close. */
  r = "HTTP/1.0 200 OK\r\n\r\nabc";
  CHECK(frame(r, &hm, &framing) == 0);
  CHECK(framing == MG_HTTP_BODY_TO_CLOSE && hm.head.len == 19);
  /* 204/304 never have a body; nor a response to HEAD. */
  r = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == (long) strlen(r));
  r = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  CHECK(mg_http_frame(r, strlen(r), true, &hm, &framing) == (long) strlen(r));
  CHECK(frame(r, &hm, &framing) == 0);
}

static void test_framing(void) {
  struct mg_http_message hm;
  int framing;
  const char *r;
  r = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
  long n = frame(r, &hm, &framing);
  CHECK(n == (long) strlen(r) - 18);
  CHECK(eq(hm.body, "hello"));
  CHECK(hm.message.len == (size_t) n);
  CHECK(frame(r + n, &hm, &framing) == 18);
  /* Partial body. */
  r = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel";
  CHECK(frame(r, &hm, &framing) == 0 && hm.head.len > 0);
  /* Duplicate equal lengths are fine, conflicting ones are not. */
  r = "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
  CHECK(frame(r, &hm, &framing) == (long) strlen(r));
  r = "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy";
  CHECK(frame(r, &hm, &framing) == MG_HTTP_ERR_BAD);
  r = "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == MG_HTTP_ERR_BAD);
  r = "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == MG_HTTP_ERR_BAD);
  r = "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == MG_HTTP_ERR_BAD);
  r = "POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == MG_HTTP_ERR_BODY_BIG);
  r = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == MG_HTTP_ERR_BAD);
  r = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
  CHECK(frame(r, &hm, &framing) == MG_HTTP_ERR_TE);
}

static void test_chunked(void) {
  struct mg_http_message hm;
  int framing;
  char buf[256];
  const char *r =
      "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  size_t blen;
  long n = frame(r, &hm, &framing);
  CHECK(framing == MG_HTTP_BODY_CHUNKED);
  CHECK(n == (long) strlen(r) - 4);
  /* Every prefix is incomplete, never an error. */
  for (size_t i = 0; i < strlen(r) - 4; i++) {
    CHECK(mg_http_frame(r, i, false, &hm, &framing) == 0);
  }
  n = frame(r, &hm, &framing);
  memcpy(buf, hm.body.buf, hm.body.len);
  CHECK(mg_http_chunked_len(buf, hm.body.len, &blen) == (long) hm.body.len);
  CHECK(blen == 11);
  CHECK(mg_http_dechunk(buf, hm.body.len) == 11 && memcmp(buf, "hello world", 11) == 0);
  CHECK(mg_http_chunked_len("zz\r\n", 4, &blen) == MG_HTTP_ERR_BAD);
  CHECK(mg_http_chunked_len("3\r\nabcX\r\n", 9, &blen) == MG_HTTP_ERR_BAD);
  CHECK(mg_http_chunked_len("ffffffffffffffff\r\n", 18, &blen) == MG_HTTP_ERR_BAD);
  CHECK(mg_http_chunked_len("fffffff\r\n", 9, &blen) == MG_HTTP_ERR_BODY_BIG);
  CHECK(mg_http_chunked_len("0\r\n\r\n", 5, &blen) == 5 && blen == 0);
}

static void test_vars(void) {
  char buf[16];
  struct mg_str q = mg_str("a=1&b=x+y%21&c=&d&A2=z&long=0123456789abcdefgh&bad=%zz");
  CHECK(mg_http_get_var(&q, "a", buf, sizeof(buf)) == 1 && strcmp(buf, "1") == 0);
  CHECK(mg_http_get_var(&q, "B", buf, sizeof(buf)) == 4 && strcmp(buf, "x y!") == 0);
  CHECK(mg_http_get_var(&q, "c", buf, sizeof(buf)) == 0 && buf[0] == '\0');
  CHECK(mg_http_get_var(&q, "d", buf, sizeof(buf)) == 0);
  CHECK(mg_http_get_var(&q, "e", buf, sizeof(buf)) == -1);
  CHECK(mg_http_get_var(&q, "A", buf, sizeof(buf)) == 1); /* not A2 */
  CHECK(mg_http_get_var(&q, "long", buf, sizeof(buf)) == -2);
  CHECK(mg_http_get_var(&q, "bad", buf, sizeof(buf)) == -3);
  struct mg_str empty = mg_str("");
  CHECK(mg_http_get_var(&empty, "a", buf, sizeof(buf)) == -1);

  struct mg_str ct = mg_str("multipart/form-data; boundary=\"q q\"; charset=utf-8");
  CHECK(eq(mg_http_get_header_var(ct, mg_str("boundary")), "q q"));
  CHECK(eq(mg_http_get_header_var(ct, mg_str("charset")), "utf-8"));
  CHECK(mg_http_get_header_var(ct, mg_str("nope")).len == 0);
  CHECK(mg_http_get_header_var(ct, mg_str("form-data")).len == 0);
  CHECK(eq(mg_http_get_header_var(mg_str("b=1"), mg_str("b")), "1"));

  CHECK(strcmp(mg_http_reason(201), "Created") == 0);
  CHECK(strcmp(mg_http_reason(404), "Not Found") == 0);
  CHECK(strcmp(mg_http_reason(299), "") == 0);
}

static void test_creds(void) {
  struct mg_http_message hm;
  char u[16], p[16];
  const char *r = "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYTpzcw==\r\n\r\n";
  CHECK(mg_http_parse(r, strlen(r), &hm) > 0);
  mg_http_creds(&hm, u, sizeof(u), p, sizeof(p));
  CHECK(strcmp(u, "user") == 0 && strcmp(p, "pa:ss") == 0);
  r = "GET / HTTP/1.1\r\nAuthorization: Bearer tok123\r\n\r\n";
  CHECK(mg_http_parse(r, strlen(r), &hm) > 0);
  mg_http_creds(&hm, u, sizeof(u), p, sizeof(p));
  CHECK(u[0] == '\0' && strcmp(p, "tok123") == 0);
  r = "GET /?access_token=a%20b HTTP/1.1\r\n\r\n";
  CHECK(mg_http_parse(r, strlen(r), &hm) > 0);
  mg_http_creds(&hm, u, sizeof(u), p, sizeof(p));
  CHECK(u[0] == '\0' && strcmp(p, "a b") == 0);
  r = "GET / HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n";
  CHECK(mg_http_parse(r, strlen(r), &hm) > 0);
  mg_http_creds(&hm, u, sizeof(u), p, sizeof(p));
  CHECK(u[0] == '\0' && p[0] == '\0');
  /* A user name longer than the buffer comes back empty, not truncated. */
  r = "GET / HTTP/1.1\r\nAuthorization: Basic YWFhYWFhYWFhYWFhYWFhYWFhYWE6eA==\r\n\r\n";
  CHECK(mg_http_parse(r, strlen(r), &hm) > 0);
  mg_http_creds(&hm, u, sizeof(u), p, sizeof(p));
  CHECK(u[0] == '\0' && strcmp(p, "x") == 0);
}

static void test_multipart(void) {
  const char *b =
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"field\"\r\n\r\n"
      "value\r\n"
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\n"
      "line1\r\n--XyZnot\r\n\r\n"
      "--XyZ--\r\n";
  struct mg_http_part p;
  struct mg_str body = mg_str(b);
  size_t ofs = mg_http_next_multipart(body, 0, &p);
  CHECK(ofs > 0);
  CHECK(eq(p.name, "field") && p.filename.len == 0 && eq(p.body, "value"));
  ofs = mg_http_next_multipart(body, ofs, &p);
  CHECK(ofs > 0);
  CHECK(eq(p.name, "file") && eq(p.filename, "a.txt"));
  CHECK(eq(p.body, "line1\r\n--XyZnot\r\n"));
  CHECK(mg_http_next_multipart(body, ofs, &p) == 0);
  CHECK(mg_http_next_multipart(mg_str("garbage"), 0, &p) == 0);
  /* Truncated body: no part. */
  CHECK(mg_http_next_multipart(mg_str_n(b, 60), 0, &p) == 0);
}

int main(void) {
  test_request_line();
  test_malformed();
  test_header_limits();
  test_partial();
  test_version();
  test_check_request();
  test_response();
  test_framing();
  test_chunked();
  test_vars();
  test_multipart();
  test_creds();
  printf("%d passed, %d failed\n", s_passed, s_failed);
  return s_failed == 0 ? 0 : 1;
}
