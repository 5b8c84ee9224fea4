/* Streaming upload to a file: each request carries one chunk of the file at
 * an explicit offset, so a device never holds more than one chunk and an
 * interrupted transfer can resume where the file ends. */
#include "mg.h"

#if MG_ENABLE_HTTP

#include <string.h>

/* One path component: no separators, no parent references, no NUL. */
static bool safe_name(const char *name, size_t len) {
  if (len == 0 || strlen(name) != len) return false; /* empty or %00 */
  if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL) return false;
  return strstr(name, "..") == NULL;
}

static long refuse(struct mg_connection *c, int code, const char *why) {
  mg_http_reply(c, code, "Content-Type: text/plain\r\n", "%s\n", why);
  return -1;
}

long mg_http_upload(struct mg_connection *c, struct mg_http_message *hm,
                    const struct mg_fs *fs, const char *dir, size_t max_size) {
  char name[128], ofs[24], path[MG_PATH_MAX];
  uint64_t offset = 0, size = 0;
  int n;
  void *fd;
#if MG_ARCH_HOSTED
  if (fs == NULL) fs = &mg_fs_posix;
#endif
  if (fs == NULL || fs->ow == NULL || fs->wr == NULL || dir == NULL)
    return refuse(c, 500, "No writable file system");
  n = mg_http_get_var(&hm->query, "file", name, sizeof(name));
  if (n < 0 || !safe_name(name, (size_t) n))
    return refuse(c, 400, "Bad file name");
  n = mg_http_get_var(&hm->query, "offset", ofs, sizeof(ofs));
  if (n == -1) {
    offset = 0; /* absent: the first chunk */
  } else if (n <= 0 || !mg_str_to_u64(mg_str_n(ofs, (size_t) n), &offset)) {
    return refuse(c, 400, "Bad offset");
  }
  if (mg_snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
    return refuse(c, 400, "Path too long");
  if (offset != 0) {
    unsigned kind = fs->st(path, &size, NULL);
    if (kind != MG_FS_READ || size != offset)
      return refuse(c, 400, "Offset does not match the file size");
  }
  if (offset > max_size || hm->body.len > max_size - offset)
    return refuse(c, 413, "File too large");
  if ((fd = fs->ow(path, offset == 0)) == NULL)
    return refuse(c, 500, "Cannot open file");
  size = fs->wr(fd, hm->body.buf, hm->body.len);
  fs->cl(fd);
  if (size != hm->body.len) return refuse(c, 500, "Write failed");
  size += offset;
  mg_http_reply(c, 200, "Content-Type: text/plain\r\n", "%lu\n",
                (unsigned long) size);
  return (long) size;
}

#endif /* MG_ENABLE_HTTP */
