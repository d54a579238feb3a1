/* SPDX-License-Identifier: MIT */
/*
 * Direct hand-off between task steps: a task that suspends switches straight
 * to the next task step of the pass, and starts the next pass itself when
 * the boundary would do nothing. None of that may be visible: the order is
 * asyncio's pass by pass, callbacks and woken tasks keep their places, and
 * a task that never stops yielding still lets I/O, timers, other threads'
 * callbacks and a stop through, and a single pass stays a single pass.
 */
/* ctest: labels=unit;backends timeout=120 */
#define _GNU_SOURCE /* usleep */
#include "task_fixture.h"
#include "tools.h"

#include <pthread.h>
#include <unistd.h>

/* ---- order ----------------------------------------------------------------
 */

/* Three rounds of log + sleep(0); "a" schedules a callback in round 1. */
static int rounds(void *arg)
{
    const char *name = arg;

    for (int i = 0; i < 3; i++) {
        log_add("%s%d", name, i);
        if (i == 1 && name[0] == 'a')
            cr_expect_eq(tulip_call_soon(loop, log_cb, L("X"), NULL), 0);
        cr_expect_eq(tulip_sleep(0), 0);
    }
    return 0;
}

/* asyncio: pass 2 runs a1 (which queues X, then its own step), b1, c1;
 * pass 3 runs X before a2. */
Test(handoff, keeps_asyncio_order_with_callbacks_between)
{
    fx_begin();
    for (const char *n = "abc"; *n; n++) {
        static const char *names[] = {"a", "b", "c"};
        cr_assert_eq(tulip_spawn(NULL, loop, rounds, L(names[*n - 'a'])), 0);
    }
    fx_run();
    FX_LOG_IS("a0 b0 c0 a1 b1 c1 X a2 b2 c2");
    fx_end();
}

static tulip_future *chain_fut[3];

/* Wait on my future, then complete the next one's. */
static int relay(void *arg)
{
    int i = (int)(intptr_t)arg;

    log_add("w%d", i);
    cr_expect_eq(tulip_future_await(chain_fut[i], NULL), 0);
    log_add("r%d", i);
    if (i < 2)
        cr_expect_eq(tulip_future_set_result(chain_fut[i + 1], NULL), 0);
    return 0;
}

static void kick(void *arg)
{
    (void)arg;
    log_add("kick");
    cr_expect_eq(tulip_future_set_result(chain_fut[0], NULL), 0);
}

/* Woken tasks run on the pass after their wake, in wake order, with a
 * callback queued between them keeping its place. */
Test(handoff, woken_tasks_keep_their_pass)
{
    fx_begin();
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tulip_future_new(&chain_fut[i], loop), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tulip_spawn(NULL, loop, relay, (void *)(intptr_t)i), 0);
    cr_assert_eq(tulip_call_soon(loop, kick, NULL, NULL), 0);
    cr_assert_eq(tulip_call_later(loop, 0, log_cb, L("T"), NULL), 0);
    fx_run();
    /* Pass 1: kick runs after the three first steps (it was queued
     * after them); the timer of delay 0 is due in the same pass. */
    FX_LOG_IS("w0 w1 w2 kick T r0 r1 r2");
    for (int i = 0; i < 3; i++)
        tulip_future_release(chain_fut[i]);
    fx_end();
}

/* ---- a task that never stops yielding -------------------------------------
 */

static volatile int flag;      /* set by what the spinner waits for */
static long spins;             /* sleep(0) calls until it came */
static int spin_write_fd = -1; /* written by the spinner at spin 10 */

#define SPIN_MAX 50000000L /* about a second: the test fails, never hangs */

static int spinner(void *arg)
{
    (void)arg;
    for (spins = 0; !flag && spins < SPIN_MAX; spins++) {
        if (spins == 10 && spin_write_fd >= 0)
            cr_expect_eq(write(spin_write_fd, "x", 1), 1);
        if (tulip_sleep(0) != 0)
            return -1;
    }
    return flag ? 0 : -ETIMEDOUT;
}

static void set_flag(void *arg)
{
    (void)arg;
    flag = 1;
}

Test(handoff, spinner_lets_a_timer_fire)
{
    struct tulip_loop_opts o = {.virtual_clock = false};

    flag = 0;
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    cr_assert_eq(tulip_call_later(loop, TULIP_MSEC, set_flag, NULL, NULL), 0);
    tulip_task *t;
    int r = -1;
    cr_assert_eq(tulip_spawn(&t, loop, spinner, NULL), 0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(tulip_task_result(t, &r), 0);
    cr_assert_eq(r, 0, "the timer never fired (%ld spins)", spins);
    tulip_task_release(t);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static int pipefd[2];

static void on_readable(void *arg)
{
    char c;

    (void)arg;
    cr_expect_eq(read(pipefd[0], &c, 1), 1);
    cr_expect_eq(tulip_remove_reader(loop, pipefd[0]), 1);
    flag = 1;
}

/* The poll that finds the fd comes at least every 64 entries. */
Test(handoff, spinner_lets_io_through_within_the_poll_budget)
{
    flag = 0;
    cr_assert_eq(pipe(pipefd), 0);
    spin_write_fd = pipefd[1];
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    cr_assert_eq(tulip_add_reader(loop, pipefd[0], on_readable, NULL), 0);
    tulip_task *t;
    int r = -1;
    cr_assert_eq(tulip_spawn(&t, loop, spinner, NULL), 0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(tulip_task_result(t, &r), 0);
    cr_assert_eq(r, 0);
    spin_write_fd = -1;
    cr_assert_leq(spins - 10, 66, "the fd waited %ld passes", spins - 10);
    tulip_task_release(t);
    close(pipefd[0]);
    close(pipefd[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static void *poster(void *arg)
{
    usleep(2000);
    cr_expect_eq(tulip_call_soon_threadsafe(arg, set_flag, NULL), 0);
    return NULL;
}

Test(handoff, spinner_lets_another_threads_callback_in)
{
    pthread_t th;
    struct tulip_loop_opts o = {.virtual_clock = false};

    flag = 0;
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    cr_assert_eq(pthread_create(&th, NULL, poster, loop), 0);
    tulip_task *t;
    int r = -1;
    cr_assert_eq(tulip_spawn(&t, loop, spinner, NULL), 0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(tulip_task_result(t, &r), 0);
    cr_assert_eq(r, 0, "the callback never ran (%ld spins)", spins);
    tulip_task_release(t);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static int stopper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        cr_expect_eq(tulip_sleep(0), 0);
    cr_expect_eq(tulip_loop_stop(loop), 0);
    return 0;
}

/* A stop ends the run after the pass it came in, spinner or not. */
Test(handoff, stop_ends_the_run_after_its_pass)
{
    tulip_task *t, *s;

    flag = 0;
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    cr_assert_eq(tulip_spawn(&t, loop, spinner, NULL), 0);
    cr_assert_eq(tulip_spawn(&s, loop, stopper, NULL), 0);
    cr_assert_eq(tulip_loop_run_forever(loop), 0);
    cr_assert_eq(spins, 1000, "the spinner ran %ld steps", spins);
    cr_assert(tulip_task_done(s));
    cr_assert_not(tulip_task_done(t));
    flag = 1;
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert(tulip_task_done(t));
    tulip_task_release(t);
    tulip_task_release(s);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

/* tulip_loop_run_once() runs one pass: one step of each task. */
Test(handoff, run_once_is_one_pass)
{
    SKIP_UNDER_FORCED_YIELD("sleep(0) yields twice (its check yields too)");
    fx_begin();
    cr_assert_eq(tulip_spawn(NULL, loop, rounds, L("a")), 0);
    cr_assert_eq(tulip_spawn(NULL, loop, rounds, L("b")), 0);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    FX_LOG_IS("a0 b0");
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    FX_LOG_IS("a0 b0 a1 b1");
    fx_run();
    FX_LOG_IS("a0 b0 a1 b1 X a2 b2");
    fx_end();
}

/* A task cancelled before its first step, next in the pass, finishes
 * without running, and the hand-off goes on past it. */
static tulip_task *victim;

static int canceller(void *arg)
{
    (void)arg;
    log_add("k");
    cr_expect_eq(tulip_task_cancel(victim), 0);
    cr_expect_eq(tulip_sleep(0), 0);
    log_add("k2");
    return 0;
}

Test(handoff, skips_a_step_cancelled_before_start)
{
    fx_begin();
    cr_assert_eq(tulip_spawn(NULL, loop, canceller, NULL), 0);
    victim = fx_spawn(rounds, L("v"));
    cr_assert_eq(tulip_spawn(NULL, loop, rounds, L("b")), 0);
    fx_run();
    FX_LOG_IS("k b0 k2 b1 b2");
    int r = 0;
    cr_assert_eq(tulip_task_result(victim, &r), 0);
    cr_assert_eq(r, -ECANCELED);
    tulip_task_release(victim);
    fx_end();
}
