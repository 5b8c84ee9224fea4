"""WebSocket echo server on the `websockets` package (asyncio; uvloop when
installed). Prints the bound port on stdout, serves until SIGTERM."""

import asyncio
import signal

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws):
    try:
        async for msg in ws:
            await ws.send(msg)
    except ConnectionClosed:
        pass  # the benchmark client just drops the connection


async def main():
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(echo, "127.0.0.1", 0, compression=None, max_queue=None) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await stop


asyncio.run(main())
