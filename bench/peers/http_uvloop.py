# SPDX-License-Identifier: MIT
#
# bench-server: driven by bench_http (`bench_http --server PROG`).
#
# http_asyncio.py's streams handler (readuntil, write, drain) on uvloop.
# Listens on 127.0.0.1:PORT (sys.argv[1]) until killed.
import asyncio
import os
import sys

import uvloop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_asyncio import main  # noqa: E402

if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(int(sys.argv[1])))
