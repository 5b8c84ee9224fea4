"""WebSocket echo server on cymongoose (ours or the PyPI wheel, whichever
imports): upgrades any request, echoes every message with its opcode.
Prints the bound port on stdout, serves until SIGTERM/SIGINT."""

import cymongoose as mg


def handler(conn, ev, data):
    if ev == mg.MG_EV_WS_MSG:
        conn.ws_send(data.data, data.flags & 0x0F)
    elif ev == mg.MG_EV_HTTP_MSG:
        conn.ws_upgrade(data)


mgr = mg.Manager(handler)
listener = mgr.listen("http://127.0.0.1:0")
print(listener.local_addr[1], flush=True)
mgr.run(poll_ms=50)
