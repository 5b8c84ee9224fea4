/* net_fw: network bring-up on a board. The built-in TCP/IP stack runs on the
 * board's Ethernet driver under the cymongoose manager, takes an address by
 * DHCP, and serves
 *   tcp://:7    echo
 *   http://:80  GET / -> a one-line greeting; GET /api/info -> JSON;
 *               GET /api/stats -> the stack's counters as JSON
 * Anything else on HTTP gets a 404; malformed requests are answered by the
 * HTTP layer. The console prints the address once the interface is ready. */
#include <string.h>

#include "board.h"
#include "mg.h"
#include "mg_stack.h"

#define ECHO_URL "tcp://0.0.0.0:7"
#define HTTP_URL "http://0.0.0.0:80"

struct app {
  struct mg_mgr mgr;
  struct mg_tcpip_if ifp;
};

static void out(const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  size_t n = mg_vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  board_console_write(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

static void on_state(struct mg_tcpip_if *ifp, int state, void *arg) {
  char ip[16], gw[16];
  (void) arg;
  if (state == MG_TCPIP_STATE_READY) {
    mg_tcpip_ntoa(ifp->ip, ip, sizeof(ip));
    mg_tcpip_ntoa(ifp->gw, gw, sizeof(gw));
    out("net: ready ip=%s gw=%s\n", ip, gw);
  } else {
    out("net: %s\n", state == MG_TCPIP_STATE_UP ? "link up" : "link down");
  }
}

static void echo_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void) ev_data;
  if (ev == MG_EV_READ) {
    mg_send(c, c->recv.buf, c->recv.len);
    c->recv.len = 0;
  }
}

static void http_fn(struct mg_connection *c, int ev, void *ev_data) {
  if (ev != MG_EV_HTTP_MSG) return;
  struct mg_http_message *hm = (struct mg_http_message *) ev_data;
  struct app *app = (struct app *) c->fn_data;
  if (mg_str_eq(hm->uri, "/")) {
    mg_http_reply(c, 200, "Content-Type: text/plain\r\n",
                  "hello from cymongoose %s on %s\n", MG_FW_VERSION, board_name());
  } else if (mg_str_eq(hm->uri, "/api/info")) {
    char ip[16];
    mg_tcpip_ntoa(app->ifp.ip, ip, sizeof(ip));
    mg_http_reply(c, 200, "Content-Type: application/json\r\n",
                  "{\"version\":\"%s\",\"board\":\"%s\",\"uptime_ms\":%lu,"
                  "\"ip\":\"%s\",\"rx_frames\":%lu,\"tx_frames\":%lu}\n",
                  MG_FW_VERSION, board_name(), (unsigned long) mg_millis(), ip,
                  (unsigned long) app->ifp.stats.rx_frames,
                  (unsigned long) app->ifp.stats.tx_frames);
  } else if (mg_str_eq(hm->uri, "/api/stats")) {
    const struct mg_tcpip_stats *st = &app->ifp.stats;
    mg_http_reply(c, 200, "Content-Type: application/json\r\n",
                  "{\"rx_frames\":%lu,\"tx_frames\":%lu,\"tx_fail\":%lu,"
                  "\"drop_eth\":%lu,\"drop_ip\":%lu,\"drop_tcp\":%lu,"
                  "\"tcp_retransmits\":%lu,\"tcp_fast_retransmits\":%lu,"
                  "\"tcp_rst_sent\":%lu,\"tcp_syn_dropped\":%lu}\n",
                  (unsigned long) st->rx_frames, (unsigned long) st->tx_frames,
                  (unsigned long) st->tx_fail, (unsigned long) st->drop_eth,
                  (unsigned long) st->drop_ip, (unsigned long) st->drop_tcp,
                  (unsigned long) st->tcp_retransmits,
                  (unsigned long) st->tcp_fast_retransmits,
                  (unsigned long) st->tcp_rst_sent,
                  (unsigned long) st->tcp_syn_dropped);
  } else {
    mg_http_reply(c, 404, "Content-Type: text/plain\r\n", "not found\n");
  }
}

int main(void) {
  static struct app app;
  out("cymongoose %s on %s: net\n", MG_FW_VERSION, board_name());
  app.ifp.driver = board_eth(&app.ifp.driver_data);
  if (app.ifp.driver == NULL) {
    out("net: board has no Ethernet\n");
    return 1;
  }
  board_eth_mac(app.ifp.mac);
  app.ifp.enable_dhcp = true;
  app.ifp.on_state = on_state;
  if (!mg_tcpip_init(&app.ifp)) {
    out("net: %s init failed\n", app.ifp.driver->name);
    return 1;
  }
  mg_mgr_init_net(&app.mgr, &mg_net_stack);
  mg_tcpip_attach(&app.mgr, &app.ifp);
  if (mg_listen(&app.mgr, ECHO_URL, echo_fn, &app) == NULL ||
      mg_http_listen(&app.mgr, HTTP_URL, http_fn, &app) == NULL) {
    out("net: cannot listen\n");
    return 1;
  }
  out("net: listening on %s and %s\n", ECHO_URL, HTTP_URL);
  for (;;) {
    mg_mgr_poll(&app.mgr, 0);
    board_idle();
  }
}
