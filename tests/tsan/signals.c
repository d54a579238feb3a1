/* SPDX-License-Identifier: MIT */
/*
 * Signals sent from other threads, for TSan: a task waits for SIGUSR1 again
 * and again while a thread sends it with kill(2) (to the process: the
 * kernel picks the one thread that does not block it... none, so it stays
 * pending for the loop's signalfd); a handler set with
 * tulip_add_signal_handler counts SIGUSR2 sent with pthread_kill to the
 * loop's thread; a loop that runs in a thread of its own, not main, waits
 * for SIGUSR1; a POSIX signal handler on a helper thread posts into the
 * loop with tulip_call_soon_threadsafe (async-signal-safe); and tulip_run's
 * Ctrl-C: a SIGINT sent from another thread cancels the main task, which
 * returns -EINTR. Each signal is sent once the previous one was seen:
 * standard signals pending together merge into one.
 */
#define _GNU_SOURCE 1
#include "plain.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum { ROUNDS = 50 };

static tulip_loop *loop;
static pthread_t loop_thread;
static atomic_int seen; /* signals the loop has seen */

/* Wait until the loop has seen n signals (or fail after ~10 s). */
static void await_seen(int n)
{
    for (int i = 0; atomic_load(&seen) < n; i++) {
        PLAIN_CHECK(i < 10000);
        plain_sleep_ms(1);
    }
}

static void block(int signo)
{
    sigset_t s;

    sigemptyset(&s);
    sigaddset(&s, signo);
    PLAIN_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);
}

/* ---- a task waits, a thread sends with kill(2) ------------------------- */

static void *kill_sender(void *arg)
{
    int signo = (int)(intptr_t)arg;

    block(signo);
    for (int i = 0; i < ROUNDS; i++) {
        await_seen(i);
        PLAIN_EQ(kill(getpid(), signo), 0);
    }
    return NULL;
}

static int waiter(void *arg)
{
    int signo = (int)(intptr_t)arg;

    for (int i = 0; i < ROUNDS; i++) {
        int rc = tulip_signal_wait(signo);
        if (rc != signo)
            return rc < 0 ? rc : -EPROTO;
        atomic_fetch_add(&seen, 1);
    }
    return 0;
}

static void run_waiter(int signo)
{
    tulip_task *t;
    pthread_t th;
    int result = -1;

    atomic_store(&seen, 0);
    PLAIN_EQ(tulip_loop_new(&loop, NULL), 0);
    loop_thread = pthread_self();
    PLAIN_EQ(tulip_spawn(&t, loop, waiter, (void *)(intptr_t)signo), 0);
    PLAIN_EQ(pthread_create(&th, NULL, kill_sender, (void *)(intptr_t)signo),
             0);
    PLAIN_EQ(tulip_loop_run_until(loop, t, &result), 0);
    PLAIN_EQ(result, 0);
    PLAIN_EQ(pthread_join(th, NULL), 0);
    PLAIN_EQ(atomic_load(&seen), ROUNDS);
    tulip_task_release(t);
    PLAIN_EQ(tulip_loop_close(loop), 0);
}

/* ---- a handler, signals sent to the loop's thread ---------------------- */

static void usr2_handler(void *arg, int signo)
{
    (void)arg;
    PLAIN_EQ(signo, SIGUSR2);
    PLAIN_CHECK(pthread_equal(pthread_self(), loop_thread));
    if (atomic_fetch_add(&seen, 1) + 1 == ROUNDS)
        tulip_loop_stop(loop);
}

static void *thread_sender(void *arg)
{
    (void)arg;
    block(SIGUSR2);
    for (int i = 0; i < ROUNDS; i++) {
        await_seen(i);
        PLAIN_EQ(pthread_kill(loop_thread, SIGUSR2), 0);
    }
    return NULL;
}

static void handler(void)
{
    pthread_t th;

    atomic_store(&seen, 0);
    PLAIN_EQ(tulip_loop_new(&loop, NULL), 0);
    loop_thread = pthread_self();
    PLAIN_EQ(tulip_add_signal_handler(loop, SIGUSR2, usr2_handler, NULL), 0);
    PLAIN_EQ(pthread_create(&th, NULL, thread_sender, NULL), 0);
    PLAIN_EQ(tulip_loop_run_forever(loop), 0);
    PLAIN_EQ(pthread_join(th, NULL), 0);
    PLAIN_EQ(atomic_load(&seen), ROUNDS);
    PLAIN_EQ(tulip_remove_signal_handler(loop, SIGUSR2), 1);
    PLAIN_EQ(tulip_loop_close(loop), 0);
}

/* ---- the loop in a thread of its own ----------------------------------- */

static void *loop_thread_main(void *arg)
{
    (void)arg;
    block(SIGUSR1);
    run_waiter(SIGUSR1);
    return NULL;
}

static void loop_off_main(void)
{
    pthread_t th;

    PLAIN_EQ(pthread_create(&th, NULL, loop_thread_main, NULL), 0);
    PLAIN_EQ(pthread_join(th, NULL), 0);
}

/* ---- a POSIX handler posts into the loop -------------------------------- */

static atomic_bool helper_quit;
static atomic_int posted;
static atomic_bool taker_ready;

static void count_cb(void *arg)
{
    (void)arg;
    PLAIN_CHECK(pthread_equal(pthread_self(), loop_thread));
    if (atomic_fetch_add(&seen, 1) + 1 == ROUNDS)
        tulip_loop_stop(loop);
}

static void on_alarm(int signo)
{
    (void)signo;
    if (tulip_call_soon_threadsafe(loop, count_cb, NULL) == 0)
        atomic_fetch_add(&posted, 1);
}

/* The one thread that takes SIGALRM. */
static void *alarm_taker(void *arg)
{
    sigset_t s;

    (void)arg;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    PLAIN_EQ(pthread_sigmask(SIG_UNBLOCK, &s, NULL), 0);
    atomic_store(&taker_ready, true);
    while (!atomic_load(&helper_quit))
        plain_sleep_ms(1);
    return NULL;
}

static void posix_handler(void)
{
    struct sigaction sa, old;
    pthread_t taker;

    atomic_store(&seen, 0);
    atomic_store(&posted, 0);
    atomic_store(&helper_quit, false);
    atomic_store(&taker_ready, false);
    PLAIN_EQ(tulip_loop_new(&loop, NULL), 0);
    loop_thread = pthread_self();
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    PLAIN_EQ(sigaction(SIGALRM, &sa, &old), 0);
    PLAIN_EQ(pthread_create(&taker, NULL, alarm_taker, NULL), 0);
    /* Send only once the taker has SIGALRM unblocked: ThreadSanitizer defers
     * a handler to the thread's next intercepted call, and a signal that was
     * already pending when the mask opened was lost there in about half of
     * the runs on a loaded machine. */
    while (!atomic_load(&taker_ready))
        plain_sleep_ms(1);
    for (int i = 0; i < ROUNDS; i++) {
        for (int w = 0; atomic_load(&posted) < i; w++) {
            PLAIN_CHECK(w < 10000);
            plain_sleep_ms(1);
        }
        PLAIN_EQ(pthread_kill(taker, SIGALRM), 0);
    }
    PLAIN_EQ(tulip_loop_run_forever(loop), 0);
    atomic_store(&helper_quit, true);
    PLAIN_EQ(pthread_join(taker, NULL), 0);
    PLAIN_EQ(atomic_load(&posted), ROUNDS);
    PLAIN_EQ(atomic_load(&seen), ROUNDS);
    PLAIN_EQ(sigaction(SIGALRM, &old, NULL), 0);
    PLAIN_EQ(tulip_loop_close(loop), 0);
}

/* ---- tulip_run's Ctrl-C, sent from another thread ----------------------- */

static atomic_bool main_started;

static int sleepy_main(void *arg)
{
    int rc;

    (void)arg;
    atomic_store(&main_started, true);
    rc = tulip_sleep(3600 * TULIP_SEC);
    return rc == -ECANCELED ? 7 : -1;
}

static void *interrupter(void *arg)
{
    (void)arg;
    block(SIGINT);
    while (!atomic_load(&main_started))
        plain_sleep_ms(1);
    plain_sleep_ms(10);
    PLAIN_EQ(kill(getpid(), SIGINT), 0);
    return NULL;
}

static void ctrl_c(void)
{
    pthread_t th;
    int result = 0;

    atomic_store(&main_started, false);
    PLAIN_EQ(pthread_create(&th, NULL, interrupter, NULL), 0);
    PLAIN_EQ(tulip_run(sleepy_main, NULL, &result, NULL), -EINTR);
    PLAIN_EQ(result, 7);
    PLAIN_EQ(pthread_join(th, NULL), 0);
}

int main(void)
{
    long long bytes0, blocks0;
    sigset_t s;

    plain_begin(&bytes0, &blocks0);
    /* Every thread made from now on blocks these (the loops unblock nothing
     * they did not block); SIGINT stays deliverable to main only. */
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    sigaddset(&s, SIGALRM);
    PLAIN_EQ(pthread_sigmask(SIG_BLOCK, &s, NULL), 0);

    plain_case("signals", "a task waits, another thread kill()s");
    run_waiter(SIGUSR1);
    plain_case("signals", "a handler, pthread_kill() to the loop's thread");
    handler();
    plain_case("signals", "a loop in a thread that is not main");
    loop_off_main();
    plain_case("signals", "a POSIX handler posts into the loop");
    posix_handler();
    plain_case("signals", "tulip_run: SIGINT from another thread");
    ctrl_c();
    PLAIN_NO_LEAK(bytes0, blocks0);
    return 0;
}
