/* SPDX-License-Identifier: MIT */
/*
 * tulip_call_soon_threadsafe from several threads at once: every callback
 * runs exactly once on the loop's thread, each producer's callbacks in the
 * order it made them, and a loop waiting in its poll (for a far timer, or
 * for nothing at all) is woken through the eventfd. Counts are bounded so
 * the test is fast under TSan and valgrind too.
 */
/* ctest: labels=unit;backends timeout=120 */
#define _GNU_SOURCE 1 /* nanosleep */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "tulip.h"

TestSuite(threadsafe, .timeout = 60);

enum { THREADS = 4, PER_THREAD = 20000 };

static tulip_loop *cur;
static pthread_t loop_thread;
static long total;
static long last_seq[THREADS];
static int out_of_order, wrong_thread;

static void count_cb(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int t = (int)(v >> 32);
    long seq = (long)(v & 0xffffffffu);
    if (seq <= last_seq[t])
        out_of_order++;
    last_seq[t] = seq;
    if (!pthread_equal(pthread_self(), loop_thread))
        wrong_thread++;
    if (++total == (long)THREADS * PER_THREAD)
        tulip_loop_stop(cur);
}

static void *producer(void *arg)
{
    uintptr_t t = (uintptr_t)arg;
    for (uintptr_t i = 1; i <= PER_THREAD; i++) {
        int rc =
            tulip_call_soon_threadsafe(cur, count_cb, (void *)((t << 32) | i));
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

static tulip_loop *new_loop(void)
{
    tulip_loop *loop;
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    loop_thread = pthread_self();
    return cur = loop;
}

Test(threadsafe, many_producers)
{
    tulip_loop *loop = new_loop();
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(
            pthread_create(&th[t], NULL, producer, (void *)(uintptr_t)t), 0);
    /* nothing else to do: the loop waits in its poll for the eventfd */
    cr_assert_eq(tulip_loop_run_forever(loop), 0);
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        cr_assert_null(ret);
    }
    cr_assert_eq(total, (long)THREADS * PER_THREAD);
    cr_assert_eq(out_of_order, 0);
    cr_assert_eq(wrong_thread, 0);
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(last_seq[t], PER_THREAD);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static void stop_cb(void *arg)
{
    tulip_loop_stop(arg);
}

static void *post_stop_later(void *arg)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    tulip_call_soon_threadsafe(arg, stop_cb, arg);
    return NULL;
}

static void never(void *arg)
{
    (void)arg;
    cr_expect_fail("the far timer must not fire");
}

/* The loop sleeps towards a timer 60 s away; another thread wakes it. */
Test(threadsafe, wakes_a_waiting_loop)
{
    tulip_loop *loop = new_loop();
    tulip_handle *h;
    tulip_call_later(loop, 60 * TULIP_SEC, never, NULL, &h);
    int64_t t0 = tulip_loop_time_ns(loop);
    pthread_t th;
    pthread_create(&th, NULL, post_stop_later, loop);
    cr_assert_eq(tulip_loop_run_forever(loop), 0);
    pthread_join(th, NULL);
    int64_t dt = tulip_loop_time_ns(loop) - t0;
    cr_assert_geq(dt, 20 * TULIP_MSEC);
    cr_assert_lt(dt, 30 * TULIP_SEC);
    tulip_handle_cancel(h);
    tulip_handle_release(h);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

/* run() returns once the posted callback ran: pending calls are work. */
Test(threadsafe, from_the_loop_thread)
{
    tulip_loop *loop = new_loop();
    total = 0;
    for (int i = 0; i < 5; i++)
        tulip_call_soon_threadsafe(loop, count_cb, (void *)(uintptr_t)(i + 1));
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(total, 5);
    cr_assert_eq(out_of_order, 0);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

/* ---- from a signal handler ------------------------------------------------
 */

enum { SIGNALS = 2000 };
static _Atomic int handled;       /* lock-free: fine in a handler */
static _Atomic long signal_calls; /* read by the sending thread */
static tulip_loop *sig_loop;

static void on_signal_cb(void *arg)
{
    (void)arg;
    if (++signal_calls == SIGNALS)
        tulip_loop_stop(sig_loop);
}

static void on_sigusr1(int sig)
{
    (void)sig;
    int saved = errno; /* as every handler must */
    errno = 1234;      /* the call must leave errno as it was */
    if (tulip_call_soon_threadsafe(sig_loop, on_signal_cb, NULL) == 0 &&
        errno == 1234)
        handled++;
    errno = saved;
}

static void *send_signals(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    struct timespec ts = {0, 20 * 1000};
    for (int i = 0; i < SIGNALS; i++) {
        /* wait until the previous callback ran: signals coalesce, and at
         * most one call is then in flight (the pool's guarantee) */
        while (signal_calls < i)
            nanosleep(&ts, NULL);
        pthread_kill(target, SIGUSR1);
    }
    return NULL;
}

/* A signal handler interrupts the loop's thread (waiting in its poll, or
 * running) and schedules a callback: every one runs, on the loop's thread,
 * from the preallocated nodes. */
Test(threadsafe, from_a_signal_handler)
{
    tulip_loop *loop = sig_loop = new_loop();
    struct sigaction sa = {.sa_handler = on_sigusr1};
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    pthread_t self = pthread_self(), th;
    pthread_create(&th, NULL, send_signals, &self);
    cr_assert_eq(tulip_loop_run_forever(loop), 0);
    pthread_join(th, NULL);
    cr_assert_eq(handled, SIGNALS);
    cr_assert_eq(signal_calls, SIGNALS);
    cr_assert_eq(tulip_loop_close(loop), 0);
}
