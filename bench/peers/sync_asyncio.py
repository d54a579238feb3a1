# SPDX-License-Identifier: MIT
#
# The work of bench/bench_sync.c in Python asyncio, metric for metric, with
# the same names and units (ns per hand-off, lower is better):
#
#   sync.lock_handoff    two tasks take turns on one asyncio.Lock: each
#                        releases (the other is waiting; asyncio's fair
#                        acquire makes the releaser queue behind it) and
#                        acquires again; ns per release
#   sync.queue_roundtrip two tasks ping-pong an item over two unbounded
#                        asyncio.Queue; ns per hop (one put and its get)
#   sync.chan_msg        the same over two asyncio.Queue(maxsize=1), the
#                        closest asyncio analogue of a channel of capacity 1
#
# 2M hand-offs per metric in 5 batches (median batch), each metric in its own
# loop (asyncio.Runner). Run it as /usr/bin/python3 (Debian's interpreter,
# which has uvloop); sync_uvloop.py runs this same code on uvloop. --smoke:
# a tiny run. Time is the process's CPU time (time.process_time_ns), as in
# bench_sync.c; --wall: the wall clock instead; --ops=N: another number of
# hand-offs per metric.
import asyncio
import statistics
import sys
import time

BATCHES = 5
clock_ns = time.process_time_ns


def report(name, value, unit):
    digits = 2 if value < 10 else (1 if value < 1000 else 0)
    print(f"{name} {value:.{digits}f} {unit}", flush=True)


async def lock_player(lock, turns, first):
    await lock.acquire()  # the second one waits
    if first:
        await asyncio.sleep(0)  # until the other waits
    for i in range(turns):
        lock.release()
        if i + 1 < turns or first:
            await lock.acquire()
    if first:
        lock.release()


async def lock_batch(n):
    lock = asyncio.Lock()
    a = asyncio.create_task(lock_player(lock, n // 2, True))
    b = asyncio.create_task(lock_player(lock, n // 2, False))
    await a
    await b


async def queue_player(inq, outq, hops, first):
    item = None
    if first:
        await outq.put(item)
    for i in range(hops):
        item = await inq.get()
        if first and i + 1 == hops:
            break
        await outq.put(item)


async def queue_batch_of(n, maxsize):
    q1 = asyncio.Queue(maxsize)
    q2 = asyncio.Queue(maxsize)
    a = asyncio.create_task(queue_player(q2, q1, n // 2, True))
    b = asyncio.create_task(queue_player(q1, q2, n // 2, False))
    await a
    await b


async def queue_batch(n):
    await queue_batch_of(n, 0)


async def chan_batch(n):
    await queue_batch_of(n, 1)


async def bench_main(batch, n, out):
    per = n // BATCHES
    ns = []
    for _ in range(BATCHES):
        t0 = clock_ns()
        await batch(per)
        ns.append((clock_ns() - t0) / per)
    out["ns"] = statistics.median(ns)


def main(loop_factory=None):
    global clock_ns
    n = 10_000 if "--smoke" in sys.argv[1:] else 2_000_000
    if "--wall" in sys.argv[1:]:
        clock_ns = time.perf_counter_ns
    for arg in sys.argv[1:]:
        if arg.startswith("--ops="):
            n = max(int(arg[6:]), 2 * BATCHES)

    def measure(batch):
        out = {}
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(bench_main(batch, n, out))
        return out["ns"]

    report("sync.lock_handoff", measure(lock_batch), "ns/op")
    report("sync.queue_roundtrip", measure(queue_batch), "ns/op")
    report("sync.chan_msg", measure(chan_batch), "ns/op")


if __name__ == "__main__":
    main()
