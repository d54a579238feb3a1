# SPDX-License-Identifier: MIT
#
# The work of bench/bench_sync.c on uvloop: exactly the code of
# sync_asyncio.py (same metric names, same counts), with each metric's event
# loop made by uvloop.new_event_loop. Run it as /usr/bin/python3 (Debian's
# python3-uvloop). --smoke: a tiny run.
import os
import sys

import uvloop

sys.dont_write_bytecode = True  # leave no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync_asyncio  # noqa: E402

if __name__ == "__main__":
    sync_asyncio.main(loop_factory=uvloop.new_event_loop)
