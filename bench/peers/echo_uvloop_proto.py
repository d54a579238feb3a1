# SPDX-License-Identifier: MIT
#
# bench-server: driven by bench_echo (`bench_echo --server PROG`).
#
# The fastest way to echo on uvloop: a Protocol whose data_received writes
# the bytes straight back to the transport (no streams, no task per
# connection). Listens on 127.0.0.1:PORT (sys.argv[1]) until killed.
import asyncio
import sys

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(int(sys.argv[1])))
