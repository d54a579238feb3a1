# SPDX-License-Identifier: MIT
#
# bench-server: driven by bench_echo (`bench_echo --server PROG`).
#
# echo_asyncio.py's streams handler (read, write, drain) on uvloop.
# Listens on 127.0.0.1:PORT (sys.argv[1]) until killed.
import asyncio
import os
import sys

import uvloop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_asyncio import main  # noqa: E402

if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main(int(sys.argv[1])))
