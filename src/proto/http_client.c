/* HTTP client side: an outbound connection parsed by the same protocol
 * handler as the server (responses instead of requests). The application
 * writes the request itself (mg_printf) once MG_EV_CONNECT arrives. */
#include "mg.h"

#if MG_ENABLE_HTTP

struct mg_connection *mg_http_connect(struct mg_mgr *mgr, const char *url,
                                      mg_event_handler_t fn, void *fn_data) {
  struct mg_connection *c = mg_connect(mgr, url, fn, fn_data);
  if (c != NULL) mg_http_attach(c);
  return c;
}

#endif /* MG_ENABLE_HTTP */
