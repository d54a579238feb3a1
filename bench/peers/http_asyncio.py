# SPDX-License-Identifier: MIT
#
# bench-server: driven by bench_http (`bench_http --server PROG`).
#
# The keep-alive hello-world server on asyncio streams, the shape of
# tulip's handler: readuntil(b"\r\n\r\n") for a request head (bodies are
# ignored, wrk sends GETs), write the fixed response, drain. Listens on
# 127.0.0.1:PORT (sys.argv[1]) until killed. http_uvloop.py runs this same
# handler on uvloop.
import asyncio
import sys

RESP = (b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Length: 13\r\n"
        b"\r\n"
        b"Hello, world!")


async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(RESP)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            ConnectionError):
        pass
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port,
                                        backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
