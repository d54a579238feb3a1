# SPDX-License-Identifier: MIT
"""Peer of bench/bench_gen.c: the same work with CPython generators.

gen.next       next(g) on a generator that yields straight back
gen.lifecycle  create a generator whose body returns at once, run it to
               StopIteration, drop it (CPython frees it at once)

Each figure is the median of several batches, after a warm-up batch, in
ns/op like the C program. Run as /usr/bin/python3 gen_python.py [--smoke].
"""
import statistics
import sys
import time


def yield_forever():
    k = 0
    while True:
        k += 1
        yield k


def return_at_once(x):
    return x
    yield  # makes this a generator function


def batch_next(g, n):
    nxt = next
    t0 = time.perf_counter_ns()
    for _ in range(n):
        nxt(g)
    return (time.perf_counter_ns() - t0) / n


def batch_lifecycle(n):
    nxt = next
    t0 = time.perf_counter_ns()
    for i in range(n):
        g = return_at_once(i)
        try:
            nxt(g)
        except StopIteration:
            pass
        del g
    return (time.perf_counter_ns() - t0) / n


def main():
    smoke = "--smoke" in sys.argv[1:]
    n = 10000 if smoke else 1000000
    batches = 3 if smoke else 7
    g = yield_forever()
    batch_next(g, n // 10)
    batch_lifecycle(n // 10)
    nexts, lives = [], []
    for _ in range(batches):
        nexts.append(batch_next(g, n))
        lives.append(batch_lifecycle(n))
    print("gen.next %.1f ns/op" % statistics.median(nexts))
    print("gen.lifecycle %.1f ns/op" % statistics.median(lives))


if __name__ == "__main__":
    main()
