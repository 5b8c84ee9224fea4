"""HTTP server for bench/http_bench.py: hello world or static files.

    http_hello.py cymongoose hello            (ours or the PyPI wheel: whichever imports)
    http_hello.py cymongoose static DIR
    http_hello.py aiohttp hello
    http_hello.py uvicorn hello               (raw ASGI app, httptools + uvloop)

Prints the bound port on stdout, serves until SIGTERM.
"""

import socket
import sys

impl, mode = sys.argv[1], sys.argv[2]
root = sys.argv[3] if len(sys.argv) > 3 else "."
HELLO = b"Hello, World!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if impl == "cymongoose":
    import cymongoose as mg

    def handler(conn, ev, hm):
        if ev == mg.MG_EV_HTTP_MSG:
            if mode == "static":
                conn.serve_dir(hm, root)
            else:
                conn.reply(200, HELLO)

    mgr = mg.Manager(handler)
    listener = mgr.listen("http://127.0.0.1:0")
    print(listener.local_addr[1], flush=True)
    mgr.run(poll_ms=100)
elif impl == "aiohttp":
    from aiohttp import web

    async def hello(request):
        return web.Response(body=HELLO, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/", hello)
    port = free_port()
    print(port, flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
elif impl == "uvicorn":
    import uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": HELLO})

    port = free_port()
    print(port, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                log_level="error", access_log=False, lifespan="off")
else:
    sys.exit(f"unknown implementation {impl}")
