/* SPDX-License-Identifier: MIT */
/*
 * Tasks on the loop: spawning, switching, handing futures over, and what a
 * sleeping task costs in memory. The same work, metric for metric, is in
 * bench/peers/task_{asyncio,uvloop}.py and bench/peers/task_go.go, so the
 * figures compare directly (run them pinned: taskset -c 0).
 *
 *   task.rss_sleep       KiB of VmRSS per task, 1M tasks all sleeping on the
 *                        real clock (an hour), from the VmRSS delta between
 *                        before the first spawn and all of them asleep; they
 *                        are then cancelled and joined
 *   task.create_1m       s (CPU) to spawn those 1M tasks and let each reach its
 *                        sleep (the spawner's sleep(0) runs after all of
 *                        their first steps)
 *   task.spawn_await     ns per task: spawn N tasks (each does one sleep(0),
 *                        then returns), then join them one by one; N = 1M,
 *                        all alive at once; median of 3 rounds
 *   task.sleep0          ns per sleep(0) task switch, 1 task, 10M switches
 *                        in 5 batches of 2M (median batch)
 *   task.sleep0_100      the same with 100 tasks round-robin (5 rounds of
 *                        100 tasks x 20k switches)
 *   task.future_pingpong ns per hop: two tasks hand a fresh future back and
 *                        forth (await mine, make a new one, complete the
 *                        other's), 1M hops in 5 batches
 *
 * Every metric runs in its own tulip_run() (a fresh loop, as asyncio.run()
 * per metric in the Python peers). No metric uses the virtual clock:
 * sleep(0) needs no clock, and the sleepers of rss_sleep are cancelled long
 * before their hour is up. The memory metric runs first, in a process whose
 * pools and heap have not been grown by the others, in every language.
 */
#include "prefix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tulip.h>

#include "bench.h"

#define BATCHES 5

static long n_rss = 1000000;      /* sleeping tasks */
static long n_spawn = 1000000;    /* tasks per spawn_await round */
static long n_sleep0 = 10000000;  /* switches, all batches together */
static long n_pingpong = 1000000; /* hops, all batches together */
static int spawn_rounds = 3;
static const char *only; /* --only=PREFIX: run only the metrics named so */

static int want(const char *name)
{
    return !only || strncmp(name, only, strlen(only)) == 0;
}

/*
 * The clock of every figure: the process's CPU time (CLOCK_PROCESS_CPUTIME_ID,
 * exact in ns on Linux), not the wall clock. These runs never block, so on
 * an idle machine the two agree; on the shared 2-vCPU machines where the
 * project measures (perf.md section 0), other jobs' time slices stretch the
 * wall clock by up to 5x but leave the CPU time alone. The peers use the
 * same clock (time.process_time_ns, clock_gettime in Go). --wall, in all
 * of them, uses the wall clock instead.
 */
static int use_wall; /* --wall: the wall clock instead */

static int64_t cpu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(use_wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_task: %s: %s\n", what, tulip_strerror(rc));
        exit(1);
    }
}

static void run(tulip_task_fn *fn, void *arg)
{
    int result = 0;

    check(tulip_run(fn, arg, &result, NULL), "tulip_run");
    check(result, "main task");
}

/* ---- rss_sleep and create_1m --------------------------------------------- */

struct rss_arg {
    tulip_task **tasks;
    double kib_per_task;
    double create_s;
};

static int sleeper(void *arg)
{
    (void)arg;
    return tulip_sleep(3600 * TULIP_SEC) == -ECANCELED ? 0 : -EINVAL;
}

static int rss_main(void *p)
{
    struct rss_arg *a = p;
    tulip_loop *loop = tulip_loop_current();
    long i, before, after;
    int64_t t0;
    int r;

    before = bench_status_kib("VmRSS");
    t0 = cpu_now_ns();
    for (i = 0; i < n_rss; i++)
        check(tulip_spawn(&a->tasks[i], loop, sleeper, NULL), "spawn");
    check(tulip_sleep(0), "sleep(0)"); /* every sleeper reaches its sleep */
    a->create_s = (double)(cpu_now_ns() - t0) / 1e9;
    after = bench_status_kib("VmRSS");
    a->kib_per_task = (double)(after - before) / (double)n_rss;
    for (i = 0; i < n_rss; i++)
        check(tulip_task_cancel(a->tasks[i]), "cancel");
    for (i = 0; i < n_rss; i++) {
        check(tulip_task_join(a->tasks[i], &r), "join");
        check(r, "sleeper");
        tulip_task_release(a->tasks[i]);
    }
    return 0;
}

/* ---- spawn_await ------------------------------------------------------------
 */

struct spawn_arg {
    tulip_task **tasks;
    double ns_per_task;
};

static int child(void *arg)
{
    (void)arg;
    return tulip_sleep(0);
}

static int spawn_main(void *p)
{
    struct spawn_arg *a = p;
    tulip_loop *loop = tulip_loop_current();
    int64_t t0 = cpu_now_ns();
    long i;
    int r;

    for (i = 0; i < n_spawn; i++)
        check(tulip_spawn(&a->tasks[i], loop, child, NULL), "spawn");
    for (i = 0; i < n_spawn; i++) {
        check(tulip_task_join(a->tasks[i], &r), "join");
        check(r, "child");
        tulip_task_release(a->tasks[i]);
    }
    a->ns_per_task = (double)(cpu_now_ns() - t0) / (double)n_spawn;
    return 0;
}

/* ---- sleep0 ----------------------------------------------------------------
 */

struct sleep0_arg {
    double ns[BATCHES];
};

static int sleep0_main(void *p)
{
    struct sleep0_arg *a = p;
    long per = n_sleep0 / BATCHES, i;
    int b;

    for (b = 0; b < BATCHES; b++) {
        int64_t t0 = cpu_now_ns();

        for (i = 0; i < per; i++)
            check(tulip_sleep(0), "sleep(0)");
        a->ns[b] = (double)(cpu_now_ns() - t0) / (double)per;
    }
    return 0;
}

static int yielder(void *arg)
{
    long n = *(const long *)arg, i;

    for (i = 0; i < n; i++)
        if (tulip_sleep(0) != 0)
            return -EINVAL;
    return 0;
}

static int sleep0_100_main(void *p)
{
    struct sleep0_arg *a = p;
    tulip_loop *loop = tulip_loop_current();
    tulip_task *tasks[100];
    long per_task = n_sleep0 / BATCHES / 100;
    int b, i, r;

    for (b = 0; b < BATCHES; b++) {
        int64_t t0 = cpu_now_ns();

        for (i = 0; i < 100; i++)
            check(tulip_spawn(&tasks[i], loop, yielder, &per_task), "spawn");
        for (i = 0; i < 100; i++) {
            check(tulip_task_join(tasks[i], &r), "join");
            check(r, "yielder");
            tulip_task_release(tasks[i]);
        }
        a->ns[b] = (double)(cpu_now_ns() - t0) / (double)(per_task * 100);
    }
    return 0;
}

/* ---- future_pingpong -------------------------------------------------------
 */

/* slot[p] is the future player p waits for; it belongs to p, which makes a
 * fresh one after each wait. The other player completes it. */
struct pp_arg {
    tulip_future *slot[2];
    long hops; /* iterations per player in this batch */
};

struct pp_player {
    struct pp_arg *game;
    int me;
};

static int player(void *p)
{
    struct pp_player *pl = p;
    struct pp_arg *g = pl->game;
    tulip_loop *loop = tulip_loop_current();
    long i;

    for (i = 0; i < g->hops; i++) {
        if (tulip_future_await(g->slot[pl->me], NULL) != 0)
            return -EINVAL;
        tulip_future_release(g->slot[pl->me]);
        if (tulip_future_new(&g->slot[pl->me], loop) != 0)
            return -ENOMEM;
        if (tulip_future_set_result(g->slot[1 - pl->me], NULL) != 0)
            return -EINVAL;
    }
    return 0;
}

static int pingpong_main(void *p)
{
    struct sleep0_arg *a = p;
    tulip_loop *loop = tulip_loop_current();
    struct pp_arg g;
    struct pp_player pl[2] = {{&g, 0}, {&g, 1}};
    tulip_task *t[2];
    int b, i, r;

    g.hops = n_pingpong / BATCHES / 2;
    for (b = 0; b < BATCHES; b++) {
        int64_t t0 = cpu_now_ns();

        check(tulip_future_new(&g.slot[0], loop), "future");
        check(tulip_future_new(&g.slot[1], loop), "future");
        check(tulip_future_set_result(g.slot[0], NULL), "set_result");
        for (i = 0; i < 2; i++)
            check(tulip_spawn(&t[i], loop, player, &pl[i]), "spawn");
        for (i = 0; i < 2; i++) {
            check(tulip_task_join(t[i], &r), "join");
            check(r, "player");
            tulip_task_release(t[i]);
        }
        tulip_future_release(g.slot[0]);
        tulip_future_release(g.slot[1]);
        a->ns[b] = (double)(cpu_now_ns() - t0) / (double)(2 * g.hops);
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------
 */

int main(int argc, char **argv)
{
    struct rss_arg ra;
    struct spawn_arg sa;
    struct sleep0_arg s0;
    double spawn_ns[3];
    long ntasks;
    int i;

    if (bench_is_smoke(argc, argv)) {
        n_rss = n_spawn = 10000;
        n_sleep0 = 100000;
        n_pingpong = 10000;
    }
    /* --tasks=N: another task count for rss_sleep and spawn_await, to see
     * how their costs scale. */
    for (i = 1; i < argc; i++)
        if (strncmp(argv[i], "--tasks=", 8) == 0)
            n_rss = n_spawn = atol(argv[i] + 8);
        else if (strncmp(argv[i], "--only=", 7) == 0)
            only = argv[i] + 7;
        else if (strcmp(argv[i], "--wall") == 0)
            use_wall = 1;
    ntasks = n_rss > n_spawn ? n_rss : n_spawn;
    ra.tasks = calloc((size_t)ntasks, sizeof(*ra.tasks));
    if (!ra.tasks)
        check(-ENOMEM, "calloc");
    sa.tasks = ra.tasks;

    if (want("task.rss_sleep") || want("task.create_1m")) {
        run(rss_main, &ra);
        bench_report("task.rss_sleep", ra.kib_per_task, "KiB/task");
        bench_report("task.create_1m", ra.create_s, "s");
    }
    if (want("task.spawn_await")) {
        for (i = 0; i < spawn_rounds; i++) {
            run(spawn_main, &sa);
            spawn_ns[i] = sa.ns_per_task;
        }
        bench_report("task.spawn_await", bench_median(spawn_ns, spawn_rounds),
                     "ns/task");
    }
    if (want("task.sleep0")) {
        run(sleep0_main, &s0);
        bench_report("task.sleep0", bench_median(s0.ns, BATCHES), "ns/switch");
    }
    if (want("task.sleep0_100")) {
        run(sleep0_100_main, &s0);
        bench_report("task.sleep0_100", bench_median(s0.ns, BATCHES),
                     "ns/switch");
    }
    if (want("task.future_pingpong")) {
        run(pingpong_main, &s0);
        bench_report("task.future_pingpong", bench_median(s0.ns, BATCHES),
                     "ns/hop");
    }
    free(ra.tasks);
    return 0;
}
