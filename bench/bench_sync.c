/* SPDX-License-Identifier: MIT */
/*
 * The cost of handing something from one task to another through the sync
 * layer; each figure is ns per hand-off, including the switch to the task
 * that receives it (every unit lower-is-better):
 *
 *   sync.lock_handoff    two tasks take turns on one lock: each releases
 *                        (the other, waiting, becomes the owner and is
 *                        woken) and acquires again (and waits); ns per
 *                        release that hands the lock over
 *   sync.queue_roundtrip two tasks ping-pong an item over two unbounded FIFO
 *                        queues (put on one, get from the other); ns per
 *                        hop, i.e. one put and the get that receives it
 *   sync.chan_msg        the same over two channels of capacity 1 (the
 *                        peers use asyncio.Queue(maxsize=1)); ns per message
 *
 * Each metric runs BATCHES batches of N/BATCHES hand-offs in one loop and
 * reports the median batch. bench/peers/sync_{asyncio,uvloop}.py and
 * sync_go.go do the same work; --smoke runs a tiny size. Time is the
 * process's CPU time (as bench_task and the peers measure it): these runs
 * never block, so it equals wall time on an idle machine, and is not
 * stretched by other jobs' time slices on the shared one; --wall uses the
 * wall clock instead, and --ops=N another number of hand-offs per metric
 * (the peers take the same flags).
 */
#include "prefix.h"
#include "tulip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define BATCHES 5

static long n_ops = 2000000; /* hand-offs per metric, all batches */
static int use_wall;         /* --wall: wall time, not process CPU time */

static int64_t now_ns(void)
{
    struct timespec ts;

    if (use_wall)
        return bench_now_ns();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_sync: %s: %s\n", what, tulip_strerror(rc));
        exit(1);
    }
}

struct bench_arg {
    int (*batch)(long n); /* runs n hand-offs */
    double ns[BATCHES];
};

static int bench_main(void *p)
{
    struct bench_arg *a = p;
    long per = n_ops / BATCHES;
    int b;

    for (b = 0; b < BATCHES; b++) {
        int64_t t0 = now_ns();
        check(a->batch(per), "batch");
        a->ns[b] = (double)(now_ns() - t0) / (double)per;
    }
    return 0;
}

static double measure(int (*batch)(long n))
{
    struct bench_arg a;
    int result = 0;

    a.batch = batch;
    check(tulip_run(bench_main, &a, &result, NULL), "tulip_run");
    check(result, "main task");
    return bench_median(a.ns, BATCHES);
}

static int join2(tulip_task_fn *fn, void *a0, void *a1)
{
    tulip_loop *loop = tulip_task_loop(tulip_task_current());
    tulip_task *t[2];
    int i, r, rc = 0;

    check(tulip_spawn(&t[0], loop, fn, a0), "spawn");
    check(tulip_spawn(&t[1], loop, fn, a1), "spawn");
    for (i = 0; i < 2; i++) {
        check(tulip_task_join(t[i], &r), "join");
        if (r)
            rc = r;
        tulip_task_release(t[i]);
    }
    return rc;
}

/* ---- lock ---------------------------------------------------------------- */

struct lock_player {
    tulip_lock *l;
    long turns; /* releases this player makes */
    bool first; /* holds the lock first */
};

static int lock_player(void *p)
{
    struct lock_player *pl = p;
    long i;
    int rc;

    rc = tulip_lock_acquire(pl->l); /* the second one waits */
    if (rc)
        return rc;
    if (pl->first)
        tulip_sleep(0); /* until the other waits */
    for (i = 0; i < pl->turns; i++) {
        if ((rc = tulip_lock_release(pl->l)) != 0)
            return rc;
        if (i + 1 < pl->turns || pl->first)
            if ((rc = tulip_lock_acquire(pl->l)) != 0)
                return rc;
    }
    if (pl->first)
        rc = tulip_lock_release(pl->l);
    return rc;
}

static int lock_batch(long n)
{
    struct lock_player a = {NULL, n / 2, true}, b = {NULL, n / 2, false};
    int rc;

    check(tulip_lock_new(&a.l), "lock_new");
    b.l = a.l;
    rc = join2(lock_player, &a, &b);
    tulip_lock_free(a.l);
    return rc;
}

/* ---- queue --------------------------------------------------------------- */

struct q_player {
    tulip_queue *in, *out;
    long hops; /* items this player gets */
    bool first;
};

static int queue_player(void *p)
{
    struct q_player *pl = p;
    void *item = NULL;
    long i;
    int rc;

    if (pl->first && (rc = tulip_queue_put(pl->out, item)) != 0)
        return rc;
    for (i = 0; i < pl->hops; i++) {
        if ((rc = tulip_queue_get(pl->in, &item)) != 0)
            return rc;
        if (pl->first && i + 1 == pl->hops)
            break;
        if ((rc = tulip_queue_put(pl->out, item)) != 0)
            return rc;
    }
    return 0;
}

static int queue_batch(long n)
{
    struct q_player a = {NULL, NULL, n / 2, true};
    struct q_player b = {NULL, NULL, n / 2, false};
    int rc;

    check(tulip_queue_new(&a.out, NULL), "queue_new");
    check(tulip_queue_new(&a.in, NULL), "queue_new");
    b.in = a.out;
    b.out = a.in;
    rc = join2(queue_player, &a, &b);
    tulip_queue_free(a.in);
    tulip_queue_free(a.out);
    return rc;
}

/* ---- channel ------------------------------------------------------------- */

struct c_player {
    tulip_chan *in, *out;
    long hops;
    bool first;
};

static int chan_player(void *p)
{
    struct c_player *pl = p;
    void *msg = NULL;
    long i;
    int rc;

    if (pl->first && (rc = tulip_chan_send(pl->out, msg)) != 0)
        return rc;
    for (i = 0; i < pl->hops; i++) {
        if ((rc = tulip_chan_recv(pl->in, &msg)) != 0)
            return rc;
        if (pl->first && i + 1 == pl->hops)
            break;
        if ((rc = tulip_chan_send(pl->out, msg)) != 0)
            return rc;
    }
    return 0;
}

static int chan_batch(long n)
{
    struct c_player a = {NULL, NULL, n / 2, true};
    struct c_player b = {NULL, NULL, n / 2, false};
    int rc;

    check(tulip_chan_new(&a.out, 1), "chan_new");
    check(tulip_chan_new(&a.in, 1), "chan_new");
    b.in = a.out;
    b.out = a.in;
    rc = join2(chan_player, &a, &b);
    tulip_chan_free(a.in);
    tulip_chan_free(a.out);
    return rc;
}

int main(int argc, char **argv)
{
    int i;

    if (bench_is_smoke(argc, argv))
        n_ops = 10000;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--wall") == 0)
            use_wall = 1;
        else if (strncmp(argv[i], "--ops=", 6) == 0)
            n_ops = atol(argv[i] + 6);
    if (n_ops < 2 * BATCHES)
        n_ops = 2 * BATCHES;
    bench_report("sync.lock_handoff", measure(lock_batch), "ns/op");
    bench_report("sync.queue_roundtrip", measure(queue_batch), "ns/op");
    bench_report("sync.chan_msg", measure(chan_batch), "ns/op");
    return 0;
}
