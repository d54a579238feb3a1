/* SPDX-License-Identifier: MIT */
/*
 * tulip_call_soon_threadsafe from many threads, for TSan: producers post
 * into a loop that waits in its poll with nothing to do, into one busy with
 * a task that yields on every pass, and into one that sleeps on a far
 * timer; every callback runs once, on the loop's thread, each producer's in
 * its order, and what a producer wrote before posting is seen by its
 * callback (the door is a happens-before edge). A last case starts and
 * joins producers while the loop runs, many times over, so that the
 * eventfd's wake-up races the loop going to sleep.
 */
#define _GNU_SOURCE 1
#include "plain.h"

#include <pthread.h>
#include <stdint.h>

enum { THREADS = 4, PER_THREAD = 4000 };

static tulip_loop *cur;
static pthread_t loop_thread;
static long total, expected;
static tulip_handle *far_timer; /* sleeping_loop's: cancelled at the end */
static long last_seq[THREADS];
static int out_of_order, wrong_thread, bad_payload;
static bool stop_when_done;

/* What a producer writes before each post: its callback must see it. */
static long payload[THREADS][PER_THREAD + 1];

static void count_cb(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int t = (int)(v >> 32);
    long seq = (long)(v & 0xffffffffu);

    if (seq <= last_seq[t])
        out_of_order++;
    last_seq[t] = seq;
    if (payload[t][seq] != seq * 7 + t)
        bad_payload++;
    if (!pthread_equal(pthread_self(), loop_thread))
        wrong_thread++;
    if (++total == expected) {
        if (stop_when_done)
            tulip_loop_stop(cur);
        if (far_timer)
            tulip_handle_cancel(far_timer);
    }
}

static void *producer(void *arg)
{
    uintptr_t t = (uintptr_t)arg;

    for (uintptr_t i = 1; i <= PER_THREAD; i++) {
        payload[t][i] = (long)(i * 7 + t);
        if (tulip_call_soon_threadsafe(cur, count_cb,
                                       (void *)((t << 32) | i)) != 0)
            return (void *)1;
        if (i % 512 == 0)
            sched_yield(); /* let the loop drain now and then */
    }
    return NULL;
}

static void reset(long n, bool stop)
{
    total = 0;
    expected = n;
    stop_when_done = stop;
    out_of_order = wrong_thread = bad_payload = 0;
    for (int t = 0; t < THREADS; t++)
        last_seq[t] = 0;
}

static void start_producers(pthread_t *th)
{
    for (int t = 0; t < THREADS; t++)
        PLAIN_EQ(pthread_create(&th[t], NULL, producer, (void *)(uintptr_t)t),
                 0);
}

static void join_producers(pthread_t *th)
{
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        PLAIN_EQ(pthread_join(th[t], &ret), 0);
        PLAIN_CHECK(ret == NULL);
    }
}

static void check_counts(void)
{
    PLAIN_EQ(total, expected);
    PLAIN_EQ(out_of_order, 0);
    PLAIN_EQ(wrong_thread, 0);
    PLAIN_EQ(bad_payload, 0);
}

/* The loop has nothing to do but wait for the producers. */
static void idle_loop(void)
{
    pthread_t th[THREADS];

    PLAIN_EQ(tulip_loop_new(&cur, NULL), 0);
    loop_thread = pthread_self();
    reset((long)THREADS * PER_THREAD, true);
    start_producers(th);
    PLAIN_EQ(tulip_loop_run_forever(cur), 0);
    join_producers(th);
    check_counts();
    PLAIN_EQ(tulip_loop_close(cur), 0);
}

/* A task yields on every pass while the callbacks arrive. */
static int spinner(void *arg)
{
    long passes = 0;

    (void)arg;
    while (total < expected) {
        int rc = tulip_sleep(0);
        if (rc != 0)
            return rc;
        passes++;
    }
    return passes > 0 ? 0 : -1;
}

static void busy_loop(void)
{
    pthread_t th[THREADS];
    tulip_task *t;
    int result = -1;

    PLAIN_EQ(tulip_loop_new(&cur, NULL), 0);
    loop_thread = pthread_self();
    reset((long)THREADS * PER_THREAD, false);
    PLAIN_EQ(tulip_spawn(&t, cur, spinner, NULL), 0);
    start_producers(th);
    PLAIN_EQ(tulip_loop_run_until(cur, t, &result), 0);
    PLAIN_EQ(result, 0);
    tulip_task_release(t);
    join_producers(th);
    check_counts();
    PLAIN_EQ(tulip_loop_close(cur), 0);
}

/* The loop sleeps on a timer an hour away; the last callback cancels it,
 * which leaves the loop without work. */
static void never_cb(void *arg)
{
    (void)arg;
    PLAIN_CHECK(!"the far timer fired");
}

static void sleeping_loop(void)
{
    pthread_t th[THREADS];

    PLAIN_EQ(tulip_loop_new(&cur, NULL), 0);
    loop_thread = pthread_self();
    reset((long)THREADS * PER_THREAD, false);
    PLAIN_EQ(
        tulip_call_later(cur, 3600 * TULIP_SEC, never_cb, NULL, &far_timer), 0);
    start_producers(th);
    PLAIN_EQ(tulip_loop_run(cur), 0);
    join_producers(th);
    check_counts();
    tulip_handle_release(far_timer);
    far_timer = NULL;
    PLAIN_EQ(tulip_loop_close(cur), 0);
}

/* One post per producer, many rounds: each round's wake-up races the loop
 * going back to sleep in its poll. */
static atomic_int round_posts;

static void round_cb(void *arg)
{
    (void)arg;
    if (!pthread_equal(pthread_self(), loop_thread))
        wrong_thread++;
    if (atomic_fetch_add(&round_posts, 1) + 1 == THREADS)
        tulip_loop_stop(cur);
}

static void *one_post(void *arg)
{
    (void)arg;
    return tulip_call_soon_threadsafe(cur, round_cb, NULL) == 0 ? NULL
                                                                : (void *)1;
}

static void racing_wakeups(void)
{
    pthread_t th[THREADS];

    PLAIN_EQ(tulip_loop_new(&cur, NULL), 0);
    loop_thread = pthread_self();
    wrong_thread = 0;
    for (int round = 0; round < 200; round++) {
        atomic_store(&round_posts, 0);
        for (int t = 0; t < THREADS; t++)
            PLAIN_EQ(pthread_create(&th[t], NULL, one_post, NULL), 0);
        PLAIN_EQ(tulip_loop_run_forever(cur), 0);
        join_producers(th);
        PLAIN_EQ(atomic_load(&round_posts), THREADS);
    }
    PLAIN_EQ(wrong_thread, 0);
    PLAIN_EQ(tulip_loop_close(cur), 0);
}

int main(void)
{
    long long bytes0, blocks0;

    plain_begin(&bytes0, &blocks0);
    plain_case("threadsafe", "idle loop");
    idle_loop();
    plain_case("threadsafe", "busy loop");
    busy_loop();
    plain_case("threadsafe", "sleeping loop");
    sleeping_loop();
    plain_case("threadsafe", "racing wake-ups");
    racing_wakeups();
    PLAIN_NO_LEAK(bytes0, blocks0);
    return 0;
}
