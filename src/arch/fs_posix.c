/* POSIX implementation of the static file server's file system interface.
 * Windows hosts use it too, over the C runtime's POSIX-style calls (binary
 * mode, 64-bit sizes and offsets; no symbolic links, so no lst). */
/* Feature macros must come before any system header (mg.h pulls some). */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, O_CLOEXEC */
#endif
#include "mg.h"

#if MG_ENABLE_HTTP && MG_ARCH_HOSTED

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if MG_ARCH == MG_ARCH_WIN32
#include <io.h>
typedef struct _stat64 stat_t;
#define STAT _stat64
#define LSEEK _lseeki64
#define O_FLAGS (O_BINARY | O_NOINHERIT) /* no CRLF translation */
#else
typedef struct stat stat_t;
#define STAT stat
#define LSEEK lseek
#define O_FLAGS O_CLOEXEC
#endif

static unsigned p_st(const char *path, uint64_t *size, int64_t *mtime) {
  stat_t st;
#if MG_ARCH == MG_ARCH_WIN32
  /* The CRT's stat fails on "dir/": drop trailing separators (but keep the
   * one of a drive root, "C:/"). */
  char tmp[MG_PATH_MAX];
  size_t n = strlen(path);
  while (n > 1 && (path[n - 1] == '/' || path[n - 1] == '\\') &&
         path[n - 2] != ':')
    n--;
  if (n >= sizeof(tmp)) return 0;
  memcpy(tmp, path, n);
  tmp[n] = '\0';
  path = tmp;
#endif
  if (STAT(path, &st) != 0) return 0;
  if (size != NULL) *size = (uint64_t) st.st_size;
  if (mtime != NULL) *mtime = (int64_t) st.st_mtime;
  if (S_ISDIR(st.st_mode)) return MG_FS_DIR;
  return S_ISREG(st.st_mode) ? MG_FS_READ : 0;
}

#if MG_ARCH != MG_ARCH_WIN32
static unsigned p_lst(const char *path, uint64_t *size, int64_t *mtime) {
  struct stat st;
  if (lstat(path, &st) != 0) return 0;
  if (S_ISLNK(st.st_mode)) return MG_FS_LINK;
  if (size != NULL) *size = (uint64_t) st.st_size;
  if (mtime != NULL) *mtime = (int64_t) st.st_mtime;
  if (S_ISDIR(st.st_mode)) return MG_FS_DIR;
  return S_ISREG(st.st_mode) ? MG_FS_READ : 0;
}
#endif

static void p_ls(const char *path, void (*fn)(const char *, void *),
                 void *arg) {
  DIR *d = opendir(path);
  struct dirent *e;
  if (d == NULL) return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    fn(e->d_name, arg);
  }
  closedir(d);
}

/* The descriptor travels as a pointer: fd + 1, so fd 0 is not NULL. */
static void *p_op(const char *path) {
  int fd = open(path, O_RDONLY | O_FLAGS);
  return fd < 0 ? NULL : (void *) (intptr_t) (fd + 1);
}

static void p_cl(void *h) {
  close((int) (intptr_t) h - 1);
}

static size_t p_rd(void *h, void *buf, size_t len) {
  ssize_t n = read((int) (intptr_t) h - 1, buf, len);
  return n > 0 ? (size_t) n : 0;
}

static bool p_sk(void *h, uint64_t offset) {
  return LSEEK((int) (intptr_t) h - 1, (int64_t) offset, SEEK_SET) ==
         (int64_t) offset;
}

static bool p_rp(const char *path, char *buf, size_t len) {
#if MG_ARCH == MG_ARCH_WIN32
  /* Absolute and normalised, with '/' separators as the server compares
   * paths with '/'. Junctions are not resolved. */
  char *r = _fullpath(NULL, path, 0), *q;
  for (q = r; q != NULL && *q != '\0'; q++)
    if (*q == '\\') *q = '/';
#else
  char *r = realpath(path, NULL);
#endif
  bool ok = r != NULL && strlen(r) < len;
  if (ok) memcpy(buf, r, strlen(r) + 1);
  free(r);
  return ok;
}

static void *p_ow(const char *path, bool truncate) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_FLAGS |
                          (truncate ? O_TRUNC : 0),
                0644);
  return fd < 0 ? NULL : (void *) (intptr_t) (fd + 1);
}

static size_t p_wr(void *h, const void *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = write((int) (intptr_t) h - 1, (const char *) buf + done,
                      len - done);
    if (n <= 0) break;
    done += (size_t) n;
  }
  return done;
}

static int p_os_fd(void *h) {
  return (int) (intptr_t) h - 1;
}

#if MG_ARCH == MG_ARCH_WIN32
const struct mg_fs mg_fs_posix = {p_st, p_ls, p_op, p_cl, p_rd,
                                  p_sk, p_rp, p_ow, p_wr, p_os_fd, NULL};
#else
const struct mg_fs mg_fs_posix = {p_st, p_ls, p_op, p_cl, p_rd,
                                  p_sk, p_rp, p_ow, p_wr, p_os_fd, p_lst};
#endif

#endif
