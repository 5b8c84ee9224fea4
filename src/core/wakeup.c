/* Cross-thread wakeup: other threads queue payloads under a lock and signal
 * the transport; the poll thread drains the whole queue in order. Payloads
 * of any size are copied intact (no pipe atomicity limits: the pipe only
 * carries a one-byte doorbell). */
#include <stdlib.h>
#include <string.h>

#include "mg_core.h"

bool mg_wakeup_init(struct mg_mgr *mgr) {
  if (mgr->wakeup_conn != NULL) return true;
  if (mgr->net == NULL || mgr->net->wakeup_init == NULL) return false;
  if ((mgr->wakeup_lock = mg_lock_new()) == NULL) return false;
  mgr->wakeup_conn = mgr->net->wakeup_init(mgr);
  if (mgr->wakeup_conn == NULL) {
    mg_lock_free(mgr->wakeup_lock);
    mgr->wakeup_lock = NULL;
    return false;
  }
  return true;
}

bool mg_wakeup(struct mg_mgr *mgr, unsigned long conn_id, const void *buf,
               size_t len) {
  struct mg_wakeup_msg *m;
  bool signal;
  if (mgr->wakeup_conn == NULL || mgr->wakeup_lock == NULL) return false;
  if (len > SIZE_MAX - sizeof(*m)) return false;
  m = (struct mg_wakeup_msg *) malloc(sizeof(*m) + len);
  if (m == NULL) return false;
  m->next = NULL;
  m->conn_id = conn_id;
  m->len = len;
  if (len > 0) memcpy(m + 1, buf, len);
  mg_lock_acquire(mgr->wakeup_lock);
  if (mgr->wakeup_tail != NULL) {
    mgr->wakeup_tail->next = m;
  } else {
    mgr->wakeup_head = m;
  }
  mgr->wakeup_tail = m;
  signal = !mgr->wakeup_pending;
  mgr->wakeup_pending = true;
  mg_lock_release(mgr->wakeup_lock);
  if (signal) mgr->net->wakeup_signal(mgr);
  return true;
}

void mg_wakeup_drain(struct mg_mgr *mgr) {
  struct mg_wakeup_msg *m, *next;
  mg_lock_acquire(mgr->wakeup_lock);
  m = mgr->wakeup_head;
  mgr->wakeup_head = mgr->wakeup_tail = NULL;
  mgr->wakeup_pending = false; /* later wakeups ring the doorbell again */
  mg_lock_release(mgr->wakeup_lock);
  for (; m != NULL; m = next) {
    struct mg_connection *c = mg_conn_by_id(mgr, m->conn_id);
    next = m->next;
    if (c != NULL && !c->is_closing && !c->is_wakeup) {
      struct mg_str payload = mg_str_n((const char *) (m + 1), m->len);
      mg_call(c, MG_EV_WAKEUP, &payload);
    }
    free(m);
  }
}
