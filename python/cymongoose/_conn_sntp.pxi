
    # ---- SNTP (docs/api-contract.md#connection); part of `cdef class Connection` ----

    def sntp_request(self):
        """Send one SNTP request; MG_EV_SNTP_TIME follows the reply."""
        self._check()
        mg_sntp_request(self._c)
