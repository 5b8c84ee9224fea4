/* Growable byte buffers for connection I/O. */
#include <stdlib.h>
#include <string.h>

#include "mg_base.h"

void mg_iobuf_init(struct mg_iobuf *io, size_t size, size_t align) {
  io->buf = NULL;
  io->size = io->len = 0;
  io->align = align;
  if (size > 0) mg_iobuf_resize(io, size);
}

static size_t round_up(size_t n, size_t align) {
  if (align <= 1) return n;
  return (n + align - 1) / align * align;
}

bool mg_iobuf_resize(struct mg_iobuf *io, size_t new_size) {
  unsigned char *p;
  if (new_size == 0) {
    mg_iobuf_free(io);
    return true;
  }
  new_size = round_up(new_size, io->align);
  if (new_size == io->size) return true;
  /* realloc keeps the data; a shrink below len truncates it. */
  p = (unsigned char *) realloc(io->buf, new_size);
  if (p == NULL) return false;
  io->buf = p;
  io->size = new_size;
  if (io->len > new_size) io->len = new_size;
  return true;
}

size_t mg_iobuf_add(struct mg_iobuf *io, size_t ofs, const void *buf,
                    size_t len) {
  if (len == 0) return 0;
  if (ofs > io->len) ofs = io->len;
  if (io->len + len < len) return 0; /* overflow */
  if (io->len + len > io->size) {
    /* Grow geometrically so appending many small pieces stays linear. */
    size_t want = io->len + len, doubled = io->size * 2;
    if (doubled > want) want = doubled;
    if (!mg_iobuf_resize(io, want) && !mg_iobuf_resize(io, io->len + len))
      return 0;
  }
  if (ofs < io->len) memmove(io->buf + ofs + len, io->buf + ofs, io->len - ofs);
  if (buf != NULL) {
    memcpy(io->buf + ofs, buf, len);
  } else {
    memset(io->buf + ofs, 0, len);
  }
  io->len += len;
  return len;
}

size_t mg_iobuf_del(struct mg_iobuf *io, size_t ofs, size_t len) {
  if (ofs >= io->len) return 0;
  if (len > io->len - ofs) len = io->len - ofs;
  if (ofs + len < io->len)
    memmove(io->buf + ofs, io->buf + ofs + len, io->len - ofs - len);
  io->len -= len;
  return len;
}

void mg_iobuf_free(struct mg_iobuf *io) {
  free(io->buf);
  io->buf = NULL;
  io->size = io->len = 0;
}
