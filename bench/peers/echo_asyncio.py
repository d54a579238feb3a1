# SPDX-License-Identifier: MIT
#
# bench-server: driven by bench_echo (`bench_echo --server PROG`).
#
# The echo server on asyncio streams, the shape of tulip's handler: read,
# write, drain. Listens on 127.0.0.1:PORT (sys.argv[1]) until killed.
# echo_uvloop.py runs this same handler on uvloop.
import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port,
                                        backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
