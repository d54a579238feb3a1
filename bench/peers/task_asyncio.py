# SPDX-License-Identifier: MIT
#
# The work of bench/bench_task.c in Python asyncio, metric for metric, with
# the same names and units (every unit lower-is-better):
#
#   task.rss_sleep       KiB of VmRSS per task: 1M tasks sleeping at once
#                        (asyncio.sleep(3600)), VmRSS delta from before the
#                        first create_task to all of them asleep; then each
#                        is cancelled and awaited
#   task.create_1m       s to create those tasks and let each reach its
#                        sleep (the creator's sleep(0) runs after their
#                        first steps)
#   task.spawn_await     ns per task: create_task N children (each does one
#                        sleep(0), then returns), then await them one by one;
#                        N = 1M; median of 3 rounds
#   task.sleep0          ns per sleep(0), 1 task, 1M in 5 batches (median;
#                        tulip and Go do 10M)
#   task.sleep0_100      the same with 100 tasks round-robin
#   task.future_pingpong ns per hop: two tasks hand a fresh future back and
#                        forth, 1M hops in 5 batches (median)
#
# Times are the process's CPU time (time.process_time_ns), as in
# bench_task.c: equal to the wall clock when the machine is idle, and not
# stretched by other jobs' time slices when it is not; --wall: the wall clock.
# Each metric runs in its own event loop (asyncio.Runner, as asyncio.run).
# Run it as /usr/bin/python3 (Debian's interpreter, which has uvloop);
# task_uvloop.py runs this same code on uvloop. --smoke: a tiny run.
import asyncio
import statistics
import sys
import time

BATCHES = 5
# The clock of every figure: CPU time, or the wall clock with --wall.
now_ns = time.perf_counter_ns if "--wall" in sys.argv[1:] else time.process_time_ns


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def report(name, value, unit):
    digits = 2 if value < 10 else (1 if value < 1000 else 0)
    print(f"{name} {value:.{digits}f} {unit}", flush=True)


async def sleeper():
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        return 0
    return -1


async def rss_main(n, out):
    before = status_kib("VmRSS")
    t0 = now_ns()
    tasks = [asyncio.create_task(sleeper()) for _ in range(n)]
    await asyncio.sleep(0)  # every sleeper reaches its sleep
    out["create_s"] = (now_ns() - t0) / 1e9
    after = status_kib("VmRSS")
    out["kib"] = (after - before) / n
    for t in tasks:
        t.cancel()
    for t in tasks:
        assert await t == 0


async def child():
    await asyncio.sleep(0)
    return 0


async def spawn_main(n, out):
    t0 = now_ns()
    tasks = [asyncio.create_task(child()) for _ in range(n)]
    for t in tasks:
        await t
    out["ns"] = (now_ns() - t0) / n


async def sleep0_main(n, out):
    per = n // BATCHES
    ns = []
    for _ in range(BATCHES):
        t0 = now_ns()
        for _ in range(per):
            await asyncio.sleep(0)
        ns.append((now_ns() - t0) / per)
    out["ns"] = statistics.median(ns)


async def yielder(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def sleep0_100_main(n, out):
    per_task = n // BATCHES // 100
    ns = []
    for _ in range(BATCHES):
        t0 = now_ns()
        tasks = [asyncio.create_task(yielder(per_task)) for _ in range(100)]
        for t in tasks:
            await t
        ns.append((now_ns() - t0) / (per_task * 100))
    out["ns"] = statistics.median(ns)


async def player(slot, me, hops, loop):
    # slot[me] is my future: await it, make a fresh one, complete the other's.
    for _ in range(hops):
        await slot[me]
        slot[me] = loop.create_future()
        slot[1 - me].set_result(None)


async def pingpong_main(n, out):
    loop = asyncio.get_running_loop()
    hops = n // BATCHES // 2
    ns = []
    for _ in range(BATCHES):
        t0 = now_ns()
        slot = [loop.create_future(), loop.create_future()]
        slot[0].set_result(None)
        tasks = [asyncio.create_task(player(slot, i, hops, loop))
                 for i in range(2)]
        for t in tasks:
            await t
        ns.append((now_ns() - t0) / (2 * hops))
    out["ns"] = statistics.median(ns)


def main(loop_factory=None):
    smoke = "--smoke" in sys.argv[1:]
    n_tasks = 10_000 if smoke else 1_000_000
    # A Python switch costs some hundred times tulip's: 1M of them (5
    # batches of 200k) give a steady median in a tenth of the time 10M
    # took, which kept the whole sitting of make bench over its budget.
    n_sleep0 = 100_000 if smoke else 1_000_000
    n_pingpong = 10_000 if smoke else 1_000_000
    for arg in sys.argv[1:]:
        if arg.startswith("--tasks="):
            n_tasks = int(arg[8:])

    def run(coro):
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(coro)

    out = {}
    run(rss_main(n_tasks, out))
    report("task.rss_sleep", out["kib"], "KiB/task")
    report("task.create_1m", out["create_s"], "s")
    ns = []
    for _ in range(3):
        run(spawn_main(n_tasks, out))
        ns.append(out["ns"])
    report("task.spawn_await", statistics.median(ns), "ns/task")
    run(sleep0_main(n_sleep0, out))
    report("task.sleep0", out["ns"], "ns/switch")
    run(sleep0_100_main(n_sleep0, out))
    report("task.sleep0_100", out["ns"], "ns/switch")
    run(pingpong_main(n_pingpong, out))
    report("task.future_pingpong", out["ns"], "ns/hop")


if __name__ == "__main__":
    main()
