# SPDX-License-Identifier: MIT
#
# bench/peers/loop_asyncio.py on uvloop: the same work, metric names and
# units, with uvloop's event loop (Debian's python3-uvloop; run it as
# /usr/bin/python3). --smoke: 1000 of each.
import os
import sys

import uvloop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loop_asyncio  # noqa: E402

if __name__ == "__main__":
    loop_asyncio.main(uvloop.new_event_loop)
