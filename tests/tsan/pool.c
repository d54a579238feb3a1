/* SPDX-License-Identifier: MIT */
/*
 * The blocking and DNS pools, for TSan: many tasks hand jobs to a pool
 * smaller than their number (results come back whole, what a job wrote is
 * seen by its task, never more jobs run at once than the pool's size);
 * tasks cancelled or timed out while their job runs or waits in the queue
 * (a running job finishes on its thread and its abandon callback frees
 * its argument on the loop's thread, once; a queued one never runs); the
 * pool resized and its threads counted from another thread meanwhile;
 * closing a loop with an abandoned job still running; name lookups on the
 * DNS pool, some abandoned by their deadline; shutdown and restart. Every
 * case closes its loop and leaves no memory behind.
 */
#define _GNU_SOURCE 1
#include "plain.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>

#define MSEC (TULIP_SEC / 1000)

static tulip_loop *loop;
static pthread_t loop_thread;

static void new_loop(void)
{
    PLAIN_EQ(tulip_loop_new(&loop, NULL), 0);
    loop_thread = pthread_self();
}

static void close_loop(void)
{
    PLAIN_EQ(tulip_loop_close(loop), 0);
    loop = NULL;
}

/* ---- many jobs, few threads ------------------------------------------- */

enum { TASKS = 24, JOBS_PER_TASK = 6, POOL = 3 };

struct work {
    int in;      /* written by the task before the job */
    int out[64]; /* written by the job, read by the task after it */
    bool ran;    /* set by the job */
};

static atomic_int running, most_running;

static int square_job(void *arg)
{
    struct work *w = arg;
    int now = atomic_fetch_add(&running, 1) + 1;
    int most = atomic_load(&most_running);

    while (now > most &&
           !atomic_compare_exchange_weak(&most_running, &most, now))
        ;
    for (int i = 0; i < 64; i++)
        w->out[i] = w->in * i;
    w->ran = true;
    sched_yield();
    atomic_fetch_sub(&running, 1);
    return w->in * w->in;
}

static int many_body(void *arg)
{
    int base = (int)(intptr_t)arg;

    for (int j = 0; j < JOBS_PER_TASK; j++) {
        struct work w = {.in = base * 100 + j};
        int result = 0;
        int rc = tulip_to_thread(square_job, &w, &result);
        if (rc != 0)
            return rc;
        PLAIN_CHECK(w.ran);
        PLAIN_EQ(result, w.in * w.in);
        for (int i = 0; i < 64; i++)
            PLAIN_EQ(w.out[i], w.in * i);
    }
    return 0;
}

static atomic_bool resizer_quit;

/* Reads and changes the pool's size while jobs run. */
static void *resizer(void *arg)
{
    (void)arg;
    while (!atomic_load(&resizer_quit)) {
        PLAIN_CHECK(tulip_pool_threads(TULIP_POOL_BLOCKING) >= 0);
        PLAIN_EQ(tulip_pool_set_size(TULIP_POOL_BLOCKING, POOL), 0);
        PLAIN_EQ(tulip_pool_size(TULIP_POOL_BLOCKING), POOL);
        plain_sleep_ms(1);
    }
    return NULL;
}

static void many_jobs(void)
{
    tulip_task *t[TASKS];
    pthread_t th;

    PLAIN_EQ(tulip_pool_set_size(TULIP_POOL_BLOCKING, POOL), 0);
    new_loop();
    atomic_store(&resizer_quit, false);
    PLAIN_EQ(pthread_create(&th, NULL, resizer, NULL), 0);
    for (int i = 0; i < TASKS; i++)
        PLAIN_EQ(tulip_spawn(&t[i], loop, many_body, (void *)(intptr_t)i), 0);
    PLAIN_EQ(tulip_loop_run(loop), 0);
    atomic_store(&resizer_quit, true);
    PLAIN_EQ(pthread_join(th, NULL), 0);
    for (int i = 0; i < TASKS; i++) {
        int result = -1;
        PLAIN_EQ(tulip_task_result(t[i], &result), 0);
        PLAIN_EQ(result, 0);
        tulip_task_release(t[i]);
    }
    PLAIN_CHECK(atomic_load(&most_running) <= POOL);
    PLAIN_CHECK(atomic_load(&most_running) >= 1);
    close_loop();
}

/* ---- abandoned jobs ----------------------------------------------------- */

static sem_t gate; /* the gated jobs wait for it */
static atomic_int gated_started;
static int abandon_calls;      /* on the loop's thread only */
static int abandon_results[8]; /* their results, in order */

struct gated {
    int value;
    bool *freed_flag;
};

static int gated_job(void *arg)
{
    struct gated *g = arg;

    atomic_fetch_add(&gated_started, 1);
    while (sem_wait(&gate) != 0)
        ;
    return g->value;
}

static void gated_abandon(void *arg, int result)
{
    struct gated *g = arg;

    PLAIN_CHECK(pthread_equal(pthread_self(), loop_thread));
    PLAIN_CHECK(abandon_calls < 8);
    abandon_results[abandon_calls++] = result;
    free(g);
}

/* Hands out a heap argument; returns what to_thread_ex returned. */
static int abandoning_body(void *arg)
{
    struct gated *g = malloc(sizeof(*g));

    PLAIN_CHECK(g != NULL);
    g->value = (int)(intptr_t)arg;
    return tulip_to_thread_ex(gated_job, g, NULL, gated_abandon, TULIP_FOREVER);
}

/* Times out (20 ms) while its job waits in the queue. */
static int timed_body(void *arg)
{
    struct gated *g = malloc(sizeof(*g));

    PLAIN_CHECK(g != NULL);
    g->value = (int)(intptr_t)arg;
    return tulip_to_thread_ex(gated_job, g, NULL, gated_abandon,
                              tulip_now() + 20 * MSEC);
}

/* Sleep until n gated jobs have started and n_abandoned abandon callbacks
 * have run (or fail after ~10 s). */
static void await_state(int n, int n_abandoned)
{
    for (int i = 0;
         atomic_load(&gated_started) < n || abandon_calls < n_abandoned; i++) {
        PLAIN_CHECK(i < 10000);
        PLAIN_EQ(tulip_sleep(MSEC), 0);
    }
}

static tulip_task *a, *b, *c, *d;

/* a's job runs; b's and d's wait behind it; d times out in the queue,
 * then b is cancelled, then a, then a's job may end. */
static int controller(void *arg)
{
    (void)arg;
    await_state(1, 1);
    PLAIN_EQ(tulip_task_cancel(b), 0);
    /* the cancel takes effect when b runs: b's job could still start if
     * a's ended before then */
    await_state(1, 2);
    PLAIN_EQ(tulip_task_cancel(a), 0);
    sem_post(&gate);
    return 0;
}

/* c's job runs; c is cancelled, then the job may end. */
static int controller2(void *arg)
{
    (void)arg;
    await_state(2, 3);
    PLAIN_EQ(tulip_task_cancel(c), 0);
    sem_post(&gate);
    return 0;
}

/* With one thread: job a runs, jobs b and d wait in the queue; d's task
 * times out and b's is cancelled: their jobs never run, their abandon
 * callbacks run at once (-ECANCELED); a's task is cancelled while its job
 * runs: the callback gets the job's result once it returns. Then job c
 * runs and its task is cancelled meanwhile: the loop waits for the job. */
static void abandoned(void)
{
    int result;

    PLAIN_EQ(sem_init(&gate, 0, 0), 0);
    tulip_pool_shutdown(); /* workers beyond a lowered size would stay */
    PLAIN_EQ(tulip_pool_set_size(TULIP_POOL_BLOCKING, 1), 0);
    atomic_store(&gated_started, 0);
    abandon_calls = 0;
    new_loop();
    PLAIN_EQ(tulip_spawn(&a, loop, abandoning_body, (void *)(intptr_t)11), 0);
    PLAIN_EQ(tulip_spawn(&b, loop, abandoning_body, (void *)(intptr_t)22), 0);
    PLAIN_EQ(tulip_spawn(&d, loop, timed_body, (void *)(intptr_t)55), 0);
    PLAIN_EQ(tulip_spawn(NULL, loop, controller, NULL), 0);
    /* runs until a's abandoned job has finished */
    PLAIN_EQ(tulip_loop_run(loop), 0);
    PLAIN_EQ(tulip_task_result(a, &result), 0);
    PLAIN_EQ(result, -ECANCELED);
    PLAIN_EQ(tulip_task_result(b, &result), 0);
    PLAIN_EQ(result, -ECANCELED);
    PLAIN_EQ(tulip_task_result(d, &result), 0);
    PLAIN_EQ(result, -ETIMEDOUT);
    PLAIN_EQ(atomic_load(&gated_started), 1); /* b's and d's never ran */
    PLAIN_EQ(abandon_calls, 3);
    PLAIN_EQ(abandon_results[0], -ECANCELED); /* d's, at its deadline */
    PLAIN_EQ(abandon_results[1], -ECANCELED); /* b's, at its cancel */
    PLAIN_EQ(abandon_results[2], 11);         /* a's, when it returned */
    tulip_task_release(a);
    tulip_task_release(b);
    tulip_task_release(d);

    PLAIN_EQ(tulip_spawn(&c, loop, abandoning_body, (void *)(intptr_t)33), 0);
    PLAIN_EQ(tulip_spawn(NULL, loop, controller2, NULL), 0);
    PLAIN_EQ(tulip_loop_run(loop), 0);
    PLAIN_EQ(tulip_task_result(c, &result), 0);
    PLAIN_EQ(result, -ECANCELED);
    PLAIN_EQ(abandon_calls, 4);
    PLAIN_EQ(abandon_results[3], 33);
    tulip_task_release(c);
    close_loop();
    PLAIN_EQ(sem_destroy(&gate), 0);
}

/* The loop is stopped with an abandoned job still running: closing it
 * waits for the job and calls its abandon callback. */
static int stop_body(void *arg)
{
    int rc = abandoning_body(arg);
    tulip_loop_stop(loop);
    return rc;
}

static int controller3(void *arg)
{
    await_state(1, 0);
    PLAIN_EQ(tulip_task_cancel(arg), 0);
    return 0;
}

static void *open_gate_after(void *arg)
{
    (void)arg;
    plain_sleep_ms(50);
    sem_post(&gate);
    return NULL;
}

static void close_waits(void)
{
    tulip_task *t;
    pthread_t th;
    int result;

    PLAIN_EQ(sem_init(&gate, 0, 0), 0);
    atomic_store(&gated_started, 0);
    abandon_calls = 0;
    new_loop();
    PLAIN_EQ(tulip_spawn(&t, loop, stop_body, (void *)(intptr_t)44), 0);
    PLAIN_EQ(tulip_spawn(NULL, loop, controller3, t), 0);
    PLAIN_EQ(tulip_loop_run_forever(loop), 0); /* t stops it */
    PLAIN_EQ(tulip_task_result(t, &result), 0);
    PLAIN_EQ(result, -ECANCELED);
    tulip_task_release(t);
    PLAIN_EQ(abandon_calls, 0);
    PLAIN_EQ(pthread_create(&th, NULL, open_gate_after, NULL), 0);
    close_loop(); /* waits for the job */
    PLAIN_EQ(abandon_calls, 1);
    PLAIN_EQ(abandon_results[0], 44);
    PLAIN_EQ(pthread_join(th, NULL), 0);
    PLAIN_EQ(sem_destroy(&gate), 0);
}

/* ---- the DNS pool ------------------------------------------------------- */

enum { LOOKUPS = 8 };

static int lookup_body(void *arg)
{
    struct addrinfo hints, *res = NULL;
    int64_t deadline = (intptr_t)arg ? tulip_now() + 1 : TULIP_FOREVER;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    rc = tulip_getaddrinfo_until("localhost", "80", &hints, &res, deadline);
    if (rc == 0) {
        PLAIN_CHECK(res != NULL);
        PLAIN_EQ(res->ai_family, AF_INET);
        tulip_freeaddrinfo(res);
        return 0;
    }
    /* a lookup with a deadline 1 ns away is abandoned (or was quicker) */
    PLAIN_CHECK((intptr_t)arg && rc == -ETIMEDOUT);
    return 1;
}

static void lookups(void)
{
    tulip_task *t[LOOKUPS];
    int timed_out = 0;

    new_loop();
    for (int i = 0; i < LOOKUPS; i++)
        PLAIN_EQ(
            tulip_spawn(&t[i], loop, lookup_body, (void *)(intptr_t)(i & 1)),
            0);
    PLAIN_EQ(tulip_loop_run(loop), 0);
    for (int i = 0; i < LOOKUPS; i++) {
        int result = -1;
        PLAIN_EQ(tulip_task_result(t[i], &result), 0);
        PLAIN_CHECK(result == 0 || result == 1);
        PLAIN_CHECK(result == 0 || (i & 1));
        timed_out += result;
        tulip_task_release(t[i]);
    }
    printf("pool: %d of %d lookups abandoned by their deadline\n", timed_out,
           LOOKUPS / 2);
    close_loop();
}

int main(void)
{
    long long bytes0, blocks0;

    plain_begin(&bytes0, &blocks0);
    plain_case("pool", "many jobs, few threads, resized meanwhile");
    many_jobs();
    plain_case("pool", "abandoned jobs: running, queued, cancelled");
    abandoned();
    plain_case("pool", "closing a loop waits for an abandoned job");
    close_waits();
    plain_case("pool", "lookups on the DNS pool");
    lookups();
    plain_case("pool", "shutdown, then a job again, shutdown");
    tulip_pool_shutdown();
    PLAIN_EQ(tulip_pool_threads(TULIP_POOL_BLOCKING), 0);
    PLAIN_EQ(tulip_pool_threads(TULIP_POOL_DNS), 0);
    many_jobs();
    tulip_pool_shutdown();
    PLAIN_EQ(tulip_pool_threads(TULIP_POOL_BLOCKING), 0);
    PLAIN_NO_LEAK(bytes0, blocks0);
    return 0;
}
