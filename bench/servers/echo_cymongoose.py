"""Echo server on cymongoose (ours or the PyPI wheel, whichever imports).

Prints the bound port on stdout, serves until SIGTERM/SIGINT.
--accumulating: the PyPI wheel never consumes a raw TCP receive buffer, so
echo only the bytes past what was already seen (see bench/RESULTS.md).
"""

import sys

import cymongoose as mg

accumulating = "--accumulating" in sys.argv


def handler(conn, ev, data):
    if ev == mg.MG_EV_READ:
        if accumulating:
            buf = conn.recv_data()
            seen = conn.userdata or 0
            conn.send(buf[seen:])
            conn.userdata = len(buf)
        else:
            conn.send(conn.recv_data())


mgr = mg.Manager(handler)
listener = mgr.listen("tcp://127.0.0.1:0")
print(listener.local_addr[1], flush=True)
mgr.run(poll_ms=50)
