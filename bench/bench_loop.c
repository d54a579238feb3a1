/* SPDX-License-Identifier: MIT */
/*
 * Event-loop throughput, the loop rows of the benchmark suite. Each metric
 * is also measured by the peers in bench/peers/loop_<peer>.* doing the same
 * work under the same name (asyncio, uvloop, libuv, Go):
 *
 *   loop.call_soon_chain  ns per callback: 1M callbacks, each scheduling the
 *                         next with tulip_call_soon (one callback per pass)
 *   loop.call_soon_batch  ns per callback: 1M tulip_call_soon queued up
 *                         front, then run; scheduling included
 *   loop.timers_1m        ns per timer: 1M tulip_call_at with distinct
 *                         random deadlines (a random permutation of
 *                         now + 0 .. 1M-1 ns, so all are due by the time
 *                         scheduling ends), then run until all have fired;
 *                         scheduling included
 *
 * Each repetition uses a fresh loop (created outside the timing, so handle
 * slabs and the heap grow inside it, as asyncio allocates its handles);
 * the figure is the median of the repetitions. --smoke: 1000 of each.
 */
#define _GNU_SOURCE 1 /* clock_gettime in bench.h */
#include "bench.h"
#include "tulip.h"

#define REPS 5

static tulip_loop *loop;
static long count, target;

static tulip_loop *bench_loop_new(void)
{
    tulip_loop *l;
    if (tulip_loop_new(&l, NULL) != 0) {
        fprintf(stderr, "bench_loop: tulip_loop_new failed\n");
        exit(1);
    }
    return l;
}

static void chain_cb(void *arg)
{
    if (++count < target)
        tulip_call_soon(loop, chain_cb, arg, NULL);
}

static double run_chain(long n)
{
    loop = bench_loop_new();
    count = 0;
    target = n;
    int64_t t0 = bench_now_ns();
    tulip_call_soon(loop, chain_cb, NULL, NULL);
    tulip_loop_run(loop);
    int64_t t1 = bench_now_ns();
    if (count != n || tulip_loop_close(loop) != 0)
        exit(1);
    return (double)(t1 - t0) / (double)n;
}

static void batch_cb(void *arg)
{
    (void)arg;
    count++;
}

static double run_batch(long n)
{
    loop = bench_loop_new();
    count = 0;
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        tulip_call_soon(loop, batch_cb, NULL, NULL);
    tulip_loop_run(loop);
    int64_t t1 = bench_now_ns();
    if (count != n || tulip_loop_close(loop) != 0)
        exit(1);
    return (double)(t1 - t0) / (double)n;
}

/* xorshift64*: the same permutation on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static double run_timers(long n, const int64_t *offsets)
{
    loop = bench_loop_new();
    count = 0;
    int64_t t0 = bench_now_ns();
    int64_t base = tulip_loop_time_ns(loop);
    for (long i = 0; i < n; i++)
        tulip_call_at(loop, base + offsets[i], batch_cb, NULL, NULL);
    tulip_loop_run(loop);
    int64_t t1 = bench_now_ns();
    if (count != n || tulip_loop_close(loop) != 0)
        exit(1);
    return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    long n = smoke ? 1000 : 1000000;
    int reps = smoke ? 1 : REPS;
    double v[REPS];

    for (int r = 0; r < reps; r++)
        v[r] = run_chain(n);
    bench_report("loop.call_soon_chain", bench_median(v, reps), "ns/op");

    for (int r = 0; r < reps; r++)
        v[r] = run_batch(n);
    bench_report("loop.call_soon_batch", bench_median(v, reps), "ns/op");

    int64_t *offsets = malloc((size_t)n * sizeof(*offsets));
    if (!offsets)
        return 1;
    for (long i = 0; i < n; i++)
        offsets[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_next() % (uint64_t)(i + 1));
        int64_t t = offsets[i];
        offsets[i] = offsets[j];
        offsets[j] = t;
    }
    reps = smoke ? 1 : 3;
    for (int r = 0; r < reps; r++)
        v[r] = run_timers(n, offsets);
    bench_report("loop.timers_1m", bench_median(v, reps), "ns/op");
    free(offsets);
    return 0;
}
