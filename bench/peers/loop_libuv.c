/* SPDX-License-Identifier: MIT */
/*
 * The work of bench/bench_loop.c on libuv, metric for metric, with the same
 * names and units. libuv has no call_soon, so each row uses the closest
 * idiom:
 *
 *   loop.call_soon_chain  one uv_idle handle whose callback runs once per
 *                         loop iteration (libuv polls with timeout 0 on each
 *                         iteration while an idle handle is active), 1M
 *                         iterations: ns per callback
 *   loop.call_soon_batch  1M uv_idle handles started up front, each stopping
 *                         itself in its callback, so one iteration runs all
 *                         of them: ns per callback, uv_idle_init + start
 *                         included (the handle array is allocated outside
 *                         the timing: libuv handles are caller storage)
 *   loop.timers_1m        1M uv_timer handles started with random timeouts
 *                         then all fired by uv_run: ns per timer, init +
 *                         start included. libuv timeouts are whole
 *                         milliseconds, so distinct nanosecond deadlines
 *                         cannot be expressed; timeouts are 0 or 1 ms at
 *                         random (ties then order by start_id, which only
 *                         makes libuv's heap work easier)
 *
 * Build: cc -O2 loop_libuv.c -luv -lm. --smoke: 1000 of each.
 */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define REPS 5

static long count, target;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(const char *name, double value, const char *unit)
{
    printf("%s %.*f %s\n", name, value < 10 ? 2 : (value < 1000 ? 1 : 0), value,
           unit);
    fflush(stdout);
}

static void chain_cb(uv_idle_t *h)
{
    if (++count >= target)
        uv_idle_stop(h);
}

static double run_chain(long n)
{
    uv_loop_t loop;
    uv_idle_t idle;
    uv_loop_init(&loop);
    count = 0;
    target = n;
    int64_t t0 = now_ns();
    uv_idle_init(&loop, &idle);
    uv_idle_start(&idle, chain_cb);
    uv_run(&loop, UV_RUN_DEFAULT);
    int64_t t1 = now_ns();
    uv_close((uv_handle_t *)&idle, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return (double)(t1 - t0) / (double)n;
}

static void batch_cb(uv_idle_t *h)
{
    count++;
    uv_idle_stop(h);
}

static void close_all(uv_loop_t *loop, uv_handle_t *hs, size_t size, long n)
{
    for (long i = 0; i < n; i++)
        uv_close((uv_handle_t *)((char *)hs + (size_t)i * size), NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}

static double run_batch(long n, uv_idle_t *hs)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    count = 0;
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        uv_idle_init(&loop, &hs[i]);
        uv_idle_start(&hs[i], batch_cb);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int64_t t1 = now_ns();
    if (count != n)
        exit(1);
    close_all(&loop, (uv_handle_t *)hs, sizeof(*hs), n);
    return (double)(t1 - t0) / (double)n;
}

static void timer_cb(uv_timer_t *t)
{
    (void)t;
    count++;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static double run_timers(long n, uv_timer_t *ts, const uint8_t *ms)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    count = 0;
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        uv_timer_init(&loop, &ts[i]);
        uv_timer_start(&ts[i], timer_cb, ms[i], 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int64_t t1 = now_ns();
    if (count != n)
        exit(1);
    close_all(&loop, (uv_handle_t *)ts, sizeof(*ts), n);
    return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
    int smoke = argc > 1 && strcmp(argv[1], "--smoke") == 0;
    long n = smoke ? 1000 : 1000000;
    int reps = smoke ? 1 : REPS;
    double v[REPS];

    for (int r = 0; r < reps; r++)
        v[r] = run_chain(n);
    report("loop.call_soon_chain", median(v, reps), "ns/op");

    uv_idle_t *hs = calloc((size_t)n, sizeof(*hs));
    for (int r = 0; r < reps; r++)
        v[r] = run_batch(n, hs);
    report("loop.call_soon_batch", median(v, reps), "ns/op");
    free(hs);

    uv_timer_t *ts = calloc((size_t)n, sizeof(*ts));
    uint8_t *ms = malloc((size_t)n);
    for (long i = 0; i < n; i++)
        ms[i] = (uint8_t)(rng_next() >> 63);
    reps = smoke ? 1 : 3;
    for (int r = 0; r < reps; r++)
        v[r] = run_timers(n, ts, ms);
    report("loop.timers_1m", median(v, reps), "ns/op");
    free(ts);
    free(ms);
    return 0;
}
