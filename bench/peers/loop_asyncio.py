# SPDX-License-Identifier: MIT
#
# The work of bench/bench_loop.c in Python asyncio, metric for metric, with
# the same names and units (every unit lower-is-better):
#
#   loop.call_soon_chain  ns per callback: 1M callbacks, each scheduling the
#                         next with loop.call_soon (one per loop iteration)
#   loop.call_soon_batch  ns per callback: 1M loop.call_soon queued up front,
#                         then run; scheduling included
#   loop.timers_1m        ns per timer: 1M loop.call_at with distinct random
#                         deadlines (a random permutation of now + 0 .. 1M-1
#                         ns, all due by the time scheduling ends), then run
#                         until all have fired; scheduling included
#
# Each repetition uses a fresh event loop; the figure is the median of 5
# (timers: 3) repetitions. Run it as /usr/bin/python3 (Debian's interpreter,
# which has uvloop); loop_uvloop.py runs this same code on uvloop.
# --smoke: 1000 of each.
import asyncio
import random
import statistics
import sys
import time


def report(name, value, unit):
    digits = 2 if value < 10 else (1 if value < 1000 else 0)
    print(f"{name} {value:.{digits}f} {unit}", flush=True)


def run_chain(new_loop, n):
    loop = new_loop()
    count = 0

    def cb():
        nonlocal count
        count += 1
        if count < n:
            loop.call_soon(cb)
        else:
            loop.stop()

    t0 = time.perf_counter_ns()
    loop.call_soon(cb)
    loop.run_forever()
    t1 = time.perf_counter_ns()
    loop.close()
    assert count == n
    return (t1 - t0) / n


def run_batch(new_loop, n):
    loop = new_loop()
    count = 0

    def cb():
        nonlocal count
        count += 1

    t0 = time.perf_counter_ns()
    call_soon = loop.call_soon
    for _ in range(n):
        call_soon(cb)
    call_soon(loop.stop)
    loop.run_forever()
    t1 = time.perf_counter_ns()
    loop.close()
    assert count == n
    return (t1 - t0) / n


def run_timers(new_loop, n, offsets):
    loop = new_loop()
    count = 0

    def cb():
        nonlocal count
        count += 1
        if count == n:
            loop.stop()

    t0 = time.perf_counter_ns()
    base = loop.time()
    call_at = loop.call_at
    for off in offsets:
        call_at(base + off * 1e-9, cb)
    loop.run_forever()
    t1 = time.perf_counter_ns()
    loop.close()
    assert count == n
    return (t1 - t0) / n


def main(new_loop):
    smoke = "--smoke" in sys.argv[1:]
    n = 1000 if smoke else 1000000
    reps = 1 if smoke else 5
    report("loop.call_soon_chain",
           statistics.median(run_chain(new_loop, n) for _ in range(reps)),
           "ns/op")
    report("loop.call_soon_batch",
           statistics.median(run_batch(new_loop, n) for _ in range(reps)),
           "ns/op")
    offsets = list(range(n))
    random.Random(12345).shuffle(offsets)
    reps = 1 if smoke else 3
    report("loop.timers_1m",
           statistics.median(run_timers(new_loop, n, offsets)
                             for _ in range(reps)),
           "ns/op")


if __name__ == "__main__":
    main(asyncio.new_event_loop)
