"""HTTPS hello-world server for bench/tls_bench.py (ours or the PyPI wheel,
whichever `cymongoose` imports): TLS started on MG_EV_ACCEPT.

    https_hello.py CERT_PEM KEY_PEM

Prints the bound port on stdout, serves until SIGTERM.
"""

import sys

import cymongoose as mg

HELLO = b"Hello, World!"
with open(sys.argv[1], "rb") as f:
    cert = f.read()
with open(sys.argv[2], "rb") as f:
    key = f.read()
opts = mg.TlsOpts(cert=cert, key=key)


def handler(conn, ev, hm):
    if ev == mg.MG_EV_ACCEPT:
        conn.tls_init(opts)
    elif ev == mg.MG_EV_HTTP_MSG:
        # Echo "Connection: close" so wrk's handshake runs close cleanly instead
        # of counting a read error per connection.
        # HTTP/1.0 (openssl s_time) reads until the close: drain after replying.
        if (hm.header("Connection") or "").lower() == "close" or hm.proto == "HTTP/1.0":
            conn.reply(200, HELLO, {"Content-Type": "text/plain", "Connection": "close"})
            conn.drain()
        else:
            conn.reply(200, HELLO)


mgr = mg.Manager(handler)
listener = mgr.listen("http://127.0.0.1:0")
print(listener.local_addr[1], flush=True)
mgr.run(poll_ms=100)
