/* A connection closed while another descriptor still shares its open file.
 * That happens whenever the application starts a child process: between
 * fork and exec the child holds a copy of every descriptor, CLOEXEC or not.
 * epoll forgets a descriptor on close() only once all copies are closed, so
 * the transport must leave the epoll set itself; otherwise the next poll
 * reports an event naming the freed connection (a use-after-free that the
 * ASan build of this test shows, and that aborted the Python test suite
 * while curl children were being spawned). Here dup() stands in for the
 * child's copy. */
#include <unistd.h>

#include "mg.h"
#include "mg_test.h"

struct server {
  struct mg_connection *accepted;
  int closed, copy;
};

/* On its first bytes the server takes the "child's" copy of the socket and
 * closes the connection from its handler, so the epoll registration still
 * asks for input when the descriptor is closed. */
static void srv_fn(struct mg_connection *c, int ev, void *ev_data) {
  struct server *s = (struct server *) c->fn_data;
  (void) ev_data;
  if (ev == MG_EV_ACCEPT) s->accepted = c;
  if (ev == MG_EV_READ && s->copy < 0) {
    s->copy = dup((int) ((uintptr_t) c->fd - 1));
    mg_close_conn(c);
  }
  if (ev == MG_EV_CLOSE && c->is_accepted) s->closed++;
}

static bool s_client_open;
static void cli_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  (void) c;
  if (ev == MG_EV_CONNECT) s_client_open = true;
}

int main(void) {
#if MG_ENABLE_SOCKET
  struct mg_mgr mgr;
  struct server srv = {NULL, 0, -1};
  struct mg_connection *l, *cc;
  char url[64];
  int i;
  mg_mgr_init(&mgr);
  l = mg_listen(&mgr, "tcp://127.0.0.1:0", srv_fn, &srv);
  CHECK(l != NULL);
  if (l == NULL) return TEST_REPORT();
  mg_snprintf(url, sizeof(url), "tcp://127.0.0.1:%u",
              (unsigned) mg_ntohs(l->loc.port));
  cc = mg_connect(&mgr, url, cli_fn, NULL);
  CHECK(cc != NULL);
  for (i = 0; i < 200 && (srv.accepted == NULL || !s_client_open); i++)
    mg_mgr_poll(&mgr, 5);
  CHECK(srv.accepted != NULL && s_client_open);
  if (srv.accepted == NULL || cc == NULL) return TEST_REPORT();
  mg_send(cc, "first", 5);
  for (i = 0; i < 200 && srv.closed == 0; i++) mg_mgr_poll(&mgr, 5);
  CHECK(srv.copy >= 0 && srv.closed == 1);
  /* The peer writes again: the shared open file turns readable. Polling must
   * not touch the freed connection (ASan: heap-use-after-free in sock_wait). */
  mg_send(cc, "after close", 11);
  for (i = 0; i < 20; i++) mg_mgr_poll(&mgr, 5);
  CHECK(srv.closed == 1);
  if (srv.copy >= 0) close(srv.copy);
  mg_mgr_free(&mgr);
#endif
  return TEST_REPORT();
}
