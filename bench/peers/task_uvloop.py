# SPDX-License-Identifier: MIT
#
# The work of bench/bench_task.c on uvloop: exactly the code of
# task_asyncio.py (same metric names, same counts), with each metric's event
# loop made by uvloop.new_event_loop. Run it as /usr/bin/python3 (Debian's
# python3-uvloop). --smoke: a tiny run.
import os
import sys

import uvloop

sys.dont_write_bytecode = True  # leave no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import task_asyncio  # noqa: E402

if __name__ == "__main__":
    task_asyncio.main(loop_factory=uvloop.new_event_loop)
