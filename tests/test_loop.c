/* SPDX-License-Identifier: MIT */
/*
 * The event loop through its public API: scheduling order exactly as
 * asyncio's _run_once (a pass runs only what was ready when it began; due
 * timers run after the callbacks queued before them; equal deadlines fire
 * FIFO), handles and cancellation, stop and run_once semantics, the virtual
 * clock, the error handler, every documented error code, and allocation
 * failure with nothing leaked. Runs on both backends (TULIP_BACKEND=poll).
 */
/* ctest: labels=unit;backends timeout=120 */
#define _GNU_SOURCE 1 /* setenv */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_hook.h"
#include "tulip.h"

/* A string literal as a callback argument (log_cb only reads it). */
#define L(s) ((void *)(uintptr_t)(s))

TestSuite(loop, .timeout = 20);

/* ---- a log of what ran, in order ----------------------------------------- */

static char logbuf[4096];

static void log_add(const char *s)
{
    if (logbuf[0])
        strcat(logbuf, " ");
    strcat(logbuf, s);
}

static void log_cb(void *arg)
{
    log_add(arg);
}

static void log_reset(void)
{
    logbuf[0] = 0;
}

static tulip_loop *new_loop(bool virtual_clock)
{
    tulip_loop *loop = NULL;
    struct tulip_loop_opts o = {.virtual_clock = virtual_clock};
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    cr_assert_not_null(loop);
    log_reset();
    return loop;
}

static void close_loop(tulip_loop *loop)
{
    cr_assert_eq(tulip_loop_close(loop), 0);
}

/* ---- creation ------------------------------------------------------------ */

Test(loop, new_close_and_backend)
{
    tulip_loop *loop = NULL;
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    const char *env = getenv("TULIP_BACKEND");
    cr_assert_str_eq(tulip_loop_backend(loop), env ? env : "epoll");
    cr_assert_not(tulip_loop_is_running(loop));
    cr_assert_null(tulip_loop_current());
    close_loop(loop);
    cr_assert_eq(tulip_loop_close(NULL), 0);

    struct tulip_loop_opts o = {.backend = "poll"};
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    cr_assert_str_eq(tulip_loop_backend(loop), "poll");
    close_loop(loop);
    o.backend = "epoll";
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    cr_assert_str_eq(tulip_loop_backend(loop), "epoll");
    close_loop(loop);
}

Test(loop, new_errors)
{
    tulip_loop *loop = (tulip_loop *)1;
    cr_assert_eq(tulip_loop_new(NULL, NULL), -EINVAL);
    struct tulip_loop_opts o = {.backend = "kqueue"};
    cr_assert_eq(tulip_loop_new(&loop, &o), -EINVAL);
    cr_assert_null(loop);
}

Test(loop, unknown_env_backend_falls_back_to_epoll)
{
    setenv("TULIP_BACKEND", "uring-someday", 1);
    tulip_loop *loop = NULL;
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    cr_assert_str_eq(tulip_loop_backend(loop), "epoll");
    close_loop(loop);
}

/* ---- ordering ------------------------------------------------------------ */

Test(loop, call_soon_is_fifo)
{
    tulip_loop *loop = new_loop(false);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(tulip_call_soon(loop, log_cb, L(names[i]), NULL), 0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "a b c d e");
    close_loop(loop);
}

static tulip_loop *cur_loop;

static void schedule_next(void *arg)
{
    log_add(arg);
    if (strcmp(arg, "a1") == 0)
        tulip_call_soon(cur_loop, log_cb, L("a2"), NULL);
    if (strcmp(arg, "b1") == 0)
        tulip_call_soon(cur_loop, log_cb, L("b2"), NULL);
}

/* Callbacks scheduled during a pass run in the next pass. */
Test(loop, pass_runs_only_what_was_ready)
{
    tulip_loop *loop = cur_loop = new_loop(false);
    tulip_call_soon(loop, schedule_next, L("a1"), NULL);
    tulip_call_soon(loop, schedule_next, L("b1"), NULL);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_str_eq(logbuf, "a1 b1");
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_str_eq(logbuf, "a1 b1 a2 b2");
    cr_assert_eq(tulip_loop_run_once(loop), 0); /* no work: returns at once */
    close_loop(loop);
}

/* asyncio: call_soon(A); call_later(0, T): the first pass moves T behind A
 * and runs both; what A schedules runs in the next pass, after another
 * poll. */
Test(loop, due_timers_run_after_ready_callbacks)
{
    tulip_loop *loop = cur_loop = new_loop(true);
    tulip_call_later(loop, 0, log_cb, L("T0"), NULL);
    tulip_call_soon(loop, schedule_next, L("a1"), NULL);
    tulip_call_at(loop, -5, log_cb, L("Tpast"), NULL);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_str_eq(logbuf, "a1 Tpast T0");
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_str_eq(logbuf, "a1 Tpast T0 a2");
    close_loop(loop);
}

Test(loop, equal_deadlines_fire_fifo)
{
    tulip_loop *loop = new_loop(true);
    const char *names[] = {"t0", "t1", "t2", "t3", "t4", "t5"};
    for (int i = 0; i < 6; i++)
        tulip_call_at(loop, 1000, log_cb, L(names[i]), NULL);
    tulip_call_at(loop, 999, log_cb, L("early"), NULL);
    tulip_call_at(loop, 1001, log_cb, L("late"), NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "early t0 t1 t2 t3 t4 t5 late");
    cr_assert_eq(tulip_loop_time_ns(loop), 1001);
    close_loop(loop);
}

static void timer_schedules_soon(void *arg)
{
    log_add(arg);
    tulip_call_soon(cur_loop, log_cb, L("soon"), NULL);
    tulip_call_later(cur_loop, 0, log_cb, L("later0"), NULL);
}

/* A timer that schedules a call_soon and a zero timer: both run in the next
 * pass, the callback first (it was queued before the timer fell due). */
Test(loop, timer_callbacks_schedule_for_next_pass)
{
    tulip_loop *loop = cur_loop = new_loop(true);
    tulip_call_later(loop, 10, timer_schedules_soon, L("T"), NULL);
    tulip_call_later(loop, 10, log_cb, L("T2"), NULL);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_str_eq(logbuf, "T T2");
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_str_eq(logbuf, "T T2 soon later0");
    close_loop(loop);
}

/* ---- handles ------------------------------------------------------------- */

Test(loop, cancel_before_run)
{
    tulip_loop *loop = new_loop(true);
    tulip_handle *s = NULL, *t = NULL;
    cr_assert_eq(tulip_call_soon(loop, log_cb, L("soon"), &s), 0);
    cr_assert_eq(tulip_call_later(loop, TULIP_SEC, log_cb, L("timer"), &t), 0);
    tulip_call_soon(loop, log_cb, L("kept"), NULL);
    cr_assert_not(tulip_handle_cancelled(s));
    tulip_handle_cancel(s);
    tulip_handle_cancel(t);
    tulip_handle_cancel(t); /* twice: no-op */
    cr_assert(tulip_handle_cancelled(s));
    cr_assert(tulip_handle_cancelled(t));
    cr_assert_eq(tulip_handle_when_ns(t), TULIP_SEC);
    cr_assert_eq(tulip_handle_when_ns(s), INT64_MIN);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "kept");
    cr_assert_eq(tulip_loop_time_ns(loop), 0); /* the timer left the heap */
    tulip_handle_release(s);
    tulip_handle_release(t);
    close_loop(loop);
}

Test(loop, cancel_after_run_is_noop)
{
    tulip_loop *loop = new_loop(true);
    tulip_handle *s = NULL, *t = NULL;
    tulip_call_soon(loop, log_cb, L("soon"), &s);
    tulip_call_later(loop, 5, log_cb, L("timer"), &t);
    cr_assert_eq(tulip_loop_run(loop), 0);
    tulip_handle_cancel(s);
    tulip_handle_cancel(t);
    cr_assert_not(tulip_handle_cancelled(s));
    cr_assert_not(tulip_handle_cancelled(t));
    cr_assert_str_eq(logbuf, "soon timer");
    tulip_handle_release(s);
    tulip_handle_release(t);
    tulip_handle_release(t); /* a double release is ignored */
    close_loop(loop);
}

static tulip_handle *victim;

static void cancel_victim(void *arg)
{
    log_add(arg);
    tulip_handle_cancel(victim);
}

/* Cancelling a callback queued later in the same pass skips it. */
Test(loop, cancel_within_batch)
{
    tulip_loop *loop = new_loop(true);
    tulip_call_soon(loop, cancel_victim, L("c"), NULL);
    tulip_call_soon(loop, log_cb, L("victim"), &victim);
    tulip_call_soon(loop, log_cb, L("after"), NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "c after");
    tulip_handle_release(victim);

    /* the same for a due timer, cancelled by an earlier callback */
    log_reset();
    tulip_call_at(loop, 10, cancel_victim, L("c"), NULL);
    tulip_call_at(loop, 10, log_cb, L("victim"), &victim);
    tulip_call_at(loop, 10, log_cb, L("after"), NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "c after");
    cr_assert(tulip_handle_cancelled(victim));
    tulip_handle_release(victim);
    close_loop(loop);
}

static tulip_handle *self_handle;

static void cancel_self(void *arg)
{
    log_add(arg);
    tulip_handle_cancel(self_handle);
}

Test(loop, cancel_self_while_running_is_noop)
{
    tulip_loop *loop = new_loop(true);
    tulip_call_soon(loop, cancel_self, L("self"), &self_handle);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "self");
    cr_assert_not(tulip_handle_cancelled(self_handle));
    tulip_handle_release(self_handle);
    close_loop(loop);
}

Test(loop, release_does_not_cancel)
{
    tulip_loop *loop = new_loop(true);
    tulip_handle *h;
    tulip_call_later(loop, 3, log_cb, L("ran"), &h);
    tulip_handle_release(h);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "ran");
    close_loop(loop);
}

Test(loop, handle_null_is_safe)
{
    tulip_handle_cancel(NULL);
    tulip_handle_release(NULL);
    cr_assert_not(tulip_handle_cancelled(NULL));
    cr_assert_eq(tulip_handle_when_ns(NULL), INT64_MIN);
}

/* ---- stop, run, run_once ------------------------------------------------- */

static void stop_and_schedule(void *arg)
{
    log_add(arg);
    tulip_loop_stop(cur_loop);
    tulip_call_soon(cur_loop, log_cb, L("next-run"), NULL);
}

/* asyncio: stop() lets the current batch finish; what it scheduled runs on
 * the next run. */
Test(loop, stop_finishes_the_batch)
{
    tulip_loop *loop = cur_loop = new_loop(false);
    tulip_call_soon(loop, stop_and_schedule, L("stopper"), NULL);
    tulip_call_soon(loop, log_cb, L("same-batch"), NULL);
    cr_assert_eq(tulip_loop_run_forever(loop), 0);
    cr_assert_str_eq(logbuf, "stopper same-batch");
    cr_assert_not(tulip_loop_is_running(loop));
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "stopper same-batch next-run");
    close_loop(loop);
}

/* stop() before run_forever: one pass, then return. */
Test(loop, stop_before_run_makes_one_pass)
{
    tulip_loop *loop = cur_loop = new_loop(false);
    tulip_call_soon(loop, schedule_next, L("a1"), NULL);
    cr_assert_eq(tulip_loop_stop(loop), 0);
    cr_assert_eq(tulip_loop_run_forever(loop), 0);
    cr_assert_str_eq(logbuf, "a1");
    /* the stop was consumed: run goes on until no work is left */
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_str_eq(logbuf, "a1 a2");
    close_loop(loop);
}

static int nested_rc[4];
static tulip_loop *other_loop;

static void try_nested(void *arg)
{
    (void)arg;
    nested_rc[0] = tulip_loop_run(cur_loop);
    nested_rc[1] = tulip_loop_run_once(cur_loop);
    nested_rc[2] = tulip_loop_run(other_loop);
    nested_rc[3] = tulip_loop_close(cur_loop);
    cr_expect_eq(tulip_loop_current(), cur_loop);
    cr_expect(tulip_loop_is_running(cur_loop));
}

Test(loop, misuse_while_running)
{
    tulip_loop *loop = cur_loop = new_loop(false);
    other_loop = new_loop(false);
    tulip_call_soon(loop, try_nested, NULL, NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nested_rc[0], -EBUSY);
    cr_assert_eq(nested_rc[1], -EBUSY);
    cr_assert_eq(nested_rc[2], -EBUSY);
    cr_assert_eq(nested_rc[3], -EBUSY);
    cr_assert_null(tulip_loop_current());
    close_loop(other_loop);
    close_loop(loop);
}

Test(loop, run_with_no_work_returns)
{
    tulip_loop *loop = new_loop(false);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    close_loop(loop);
}

static void stop_cb(void *arg)
{
    log_add("stop");
    tulip_loop_stop(arg);
}

/* run_forever waits for timers (real clock) and stops from a timer. */
Test(loop, run_forever_real_clock)
{
    tulip_loop *loop = new_loop(false);
    int64_t t0 = tulip_loop_time_ns(loop);
    tulip_call_later(loop, 20 * TULIP_MSEC, stop_cb, loop, NULL);
    cr_assert_eq(tulip_loop_run_forever(loop), 0);
    int64_t dt = tulip_loop_time_ns(loop) - t0;
    cr_assert_geq(dt, 20 * TULIP_MSEC);
    cr_assert_lt(dt, 5 * TULIP_SEC); /* generous: loaded CI machines */
    close_loop(loop);
}

Test(loop, real_clock_is_monotonic_ns)
{
    tulip_loop *loop = new_loop(false);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * TULIP_SEC + ts.tv_nsec;
    int64_t t = tulip_loop_time_ns(loop);
    cr_assert_geq(t, now);
    cr_assert_lt(t - now, TULIP_SEC);
    cr_assert_eq(tulip_loop_time_ns(NULL), 0);
    close_loop(loop);
}

/* ---- virtual clock --------------------------------------------------------
 */

static int64_t seen_at[8];
static int nseen;

static void note_time(void *arg)
{
    (void)arg;
    seen_at[nseen++] = tulip_loop_time_ns(cur_loop);
}

Test(loop, virtual_clock_jumps)
{
    tulip_loop *loop = cur_loop = new_loop(true);
    nseen = 0;
    cr_assert_eq(tulip_loop_time_ns(loop), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    tulip_call_later(loop, 10 * 3600 * TULIP_SEC, note_time, NULL, NULL);
    tulip_call_later(loop, 5 * TULIP_SEC, note_time, NULL, NULL);
    tulip_call_later(loop, 1, note_time, NULL, NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert_eq(nseen, 3);
    cr_assert_eq(seen_at[0], 1);
    cr_assert_eq(seen_at[1], 5 * TULIP_SEC);
    cr_assert_eq(seen_at[2], 10 * 3600 * TULIP_SEC);
    cr_assert_lt(b.tv_sec - a.tv_sec, 2); /* instantly, in real time */
    close_loop(loop);
}

static int spins;

static void spin_cb(void *arg)
{
    (void)arg;
    if (++spins < 100)
        tulip_call_soon(cur_loop, spin_cb, NULL, NULL);
}

/* Time does not move while callbacks are ready. */
Test(loop, virtual_clock_waits_for_idle)
{
    tulip_loop *loop = cur_loop = new_loop(true);
    nseen = 0;
    spins = 0;
    tulip_call_later(loop, 7, note_time, NULL, NULL);
    tulip_call_soon(loop, spin_cb, NULL, NULL);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_eq(tulip_loop_time_ns(loop), 0);
    cr_assert_eq(nseen, 0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(spins, 100);
    cr_assert_eq(nseen, 1);
    cr_assert_eq(seen_at[0], 7);
    close_loop(loop);
}

Test(loop, deadlines_saturate)
{
    tulip_loop *loop = cur_loop = new_loop(true);
    tulip_handle *h, *neg;
    nseen = 0;
    tulip_call_later(loop, 100, note_time, NULL, NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(tulip_call_later(loop, INT64_MAX, note_time, NULL, &h), 0);
    cr_assert_eq(tulip_handle_when_ns(h), TULIP_FOREVER);
    cr_assert_eq(tulip_call_later(loop, -50, note_time, NULL, &neg), 0);
    cr_assert_eq(tulip_handle_when_ns(neg), 100); /* negative delay = 0 */
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(nseen, 3);
    cr_assert_eq(seen_at[1], 100);
    cr_assert_eq(seen_at[2], TULIP_FOREVER);
    tulip_handle_release(h);
    tulip_handle_release(neg);
    close_loop(loop);
}

/* ---- errors -------------------------------------------------------------- */

Test(loop, einval)
{
    tulip_loop *loop = new_loop(true);
    tulip_handle *h = NULL;
    cr_assert_eq(tulip_call_soon(NULL, log_cb, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_call_soon(loop, NULL, NULL, &h), -EINVAL);
    cr_assert_eq(tulip_call_later(NULL, 1, log_cb, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_call_later(loop, 1, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_call_at(NULL, 1, log_cb, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_call_at(loop, 1, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_call_soon_threadsafe(NULL, log_cb, NULL), -EINVAL);
    cr_assert_eq(tulip_call_soon_threadsafe(loop, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_loop_run(NULL), -EINVAL);
    cr_assert_eq(tulip_loop_run_forever(NULL), -EINVAL);
    cr_assert_eq(tulip_loop_run_once(NULL), -EINVAL);
    cr_assert_eq(tulip_loop_stop(NULL), -EINVAL);
    cr_assert_eq(tulip_loop_set_error_handler(NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_loop_report_error(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_loop_report_error(loop, NULL), -EINVAL);
    cr_assert_not(tulip_loop_is_running(NULL));
    cr_assert_null(h);
    close_loop(loop);
}

Test(loop, close_with_held_handle_is_busy)
{
    tulip_loop *loop = new_loop(true);
    tulip_handle *h;
    tulip_call_soon(loop, log_cb, L("x"), &h);
    cr_assert_eq(tulip_loop_close(loop), -EBUSY);
    tulip_handle_release(h);
    close_loop(loop); /* discards the pending callback */
    cr_assert_str_eq(logbuf, "");
}

Test(loop, close_discards_pending_work)
{
    struct test_alloc a;
    test_alloc_install(&a);
    tulip_loop *loop = new_loop(true);
    for (int i = 0; i < 100; i++) {
        tulip_call_soon(loop, log_cb, L("never"), NULL);
        tulip_call_later(loop, i, log_cb, L("never"), NULL);
        tulip_call_soon_threadsafe(loop, log_cb, L("never"));
    }
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    tulip_call_soon_threadsafe(loop, log_cb, L("never")); /* not drained yet */
    close_loop(loop);
    cr_assert_eq(a.live_bytes, 0);
    cr_assert_eq(a.live_blocks, 0);
    test_alloc_remove();
}

/* ---- error handler ------------------------------------------------------- */

struct seen_err {
    int calls;
    int err;
    char msg[64];
    tulip_loop *loop;
};

static void custom_handler(tulip_loop *loop,
                           const struct tulip_error_context *ctx, void *ud)
{
    struct seen_err *s = ud;
    s->calls++;
    s->err = ctx->err;
    s->loop = loop;
    snprintf(s->msg, sizeof(s->msg), "%s", ctx->message);
}

Test(loop, custom_error_handler)
{
    tulip_loop *loop = new_loop(true);
    struct seen_err s = {0};
    cr_assert_eq(tulip_loop_set_error_handler(loop, custom_handler, &s), 0);
    struct tulip_error_context ctx = {
        .message = "boom", .err = -EPIPE, .source = "test"};
    cr_assert_eq(tulip_loop_report_error(loop, &ctx), 0);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.err, -EPIPE);
    cr_assert_eq(s.loop, loop);
    cr_assert_str_eq(s.msg, "boom");
    close_loop(loop);
}

static void redirect_stderr(void)
{
    cr_redirect_stderr();
}

Test(loop, default_error_handler_prints, .init = redirect_stderr)
{
    tulip_loop *loop = new_loop(true);
    struct seen_err s = {0};
    tulip_loop_set_error_handler(loop, custom_handler, &s);
    tulip_loop_set_error_handler(loop, NULL, NULL); /* back to default */
    struct tulip_error_context ctx = {
        .message = "boom", .err = -EPIPE, .source = "test"};
    cr_assert_eq(tulip_loop_report_error(loop, &ctx), 0);
    struct tulip_error_context bare = {.message = "plain"};
    cr_assert_eq(tulip_loop_report_error(loop, &bare), 0);
    fflush(stderr);
    cr_assert_eq(s.calls, 0);
    char expect[256];
    snprintf(expect, sizeof(expect), "tulip: test: boom: %s\ntulip: plain\n",
             tulip_strerror(-EPIPE));
    cr_assert_stderr_eq_str(expect);
    close_loop(loop);
}

/* ---- allocation failure -------------------------------------------------- */

/* Fail the nth allocation (transient, then persistent) across creation and
 * scheduling; every failure must be -ENOMEM and nothing may leak. */
static void alloc_failure_run(bool persistent)
{
    struct test_alloc a;
    test_alloc_install(&a);
    int failures_seen = 0;
    for (unsigned long n = 1; n < 40; n++) {
        test_alloc_fail_nth(&a, n, persistent);
        tulip_loop *loop = NULL;
        struct tulip_loop_opts o = {.virtual_clock = true};
        int rc = tulip_loop_new(&loop, &o);
        if (rc < 0) {
            cr_assert_eq(rc, -ENOMEM);
            cr_assert_null(loop);
            failures_seen++;
            test_alloc_fail_nth(&a, 0, false);
            cr_assert_eq(a.live_bytes, 0);
            continue;
        }
        log_reset();
        int ok = 0;
        for (int i = 0; i < 300; i++) {
            rc = tulip_call_soon(loop, log_cb, L(""), NULL);
            if (rc == 0)
                rc = tulip_call_later(loop, 300 - i, log_cb, L(""), NULL);
            if (rc == 0)
                rc = tulip_call_soon_threadsafe(loop, log_cb, L(""));
            if (rc < 0) {
                cr_assert_eq(rc, -ENOMEM);
                failures_seen++;
                break;
            }
            ok++;
        }
        test_alloc_fail_nth(&a, 0, false);
        cr_assert_eq(tulip_loop_run(loop), 0);
        close_loop(loop);
        cr_assert_eq(a.live_bytes, 0, "leak after failing allocation %lu", n);
        cr_assert_eq(a.live_blocks, 0);
    }
    cr_assert_gt(failures_seen, 10);
    test_alloc_remove();
}

Test(loop, allocation_failure_transient)
{
    alloc_failure_run(false);
}

Test(loop, allocation_failure_persistent)
{
    alloc_failure_run(true);
}

static int64_t when_seen[200];
static int nwhen;

static void note_when(void *arg)
{
    when_seen[nwhen++] = *(int64_t *)arg;
}

/* Deadlines at the ends of the int64 range, many of them at once (the bulk
 * expiry path), on the real clock: no overflow, exact order. */
Test(loop, extreme_deadlines)
{
    tulip_loop *loop = new_loop(false);
    static int64_t whens[200];
    nwhen = 0;
    for (int i = 0; i < 200; i++) {
        whens[i] = i % 2 ? INT64_MIN + (199 - i) : -(int64_t)i * TULIP_SEC;
        cr_assert_eq(tulip_call_at(loop, whens[i], note_when, &whens[i], NULL),
                     0);
    }
    tulip_handle *far;
    cr_assert_eq(tulip_call_at(loop, INT64_MAX, note_when, &whens[0], &far), 0);
    cr_assert_eq(tulip_loop_run_once(loop), 1); /* the far one stays */
    cr_assert_eq(nwhen, 200);
    for (int i = 1; i < 200; i++)
        cr_assert_lt(when_seen[i - 1], when_seen[i]);
    tulip_handle_cancel(far);
    tulip_handle_release(far);
    cr_assert_eq(tulip_loop_run(loop), 0);
    close_loop(loop);
}

static int seq_seen[1000];
static int nseq;

static void seq_cb(void *arg)
{
    seq_seen[nseq++] = (int)(intptr_t)arg;
}

static void seq_resched(void *arg)
{
    seq_cb(arg);
    /* scheduled while its own batch runs: must wait for the next pass */
    tulip_call_soon(cur_loop, seq_cb, (void *)(intptr_t)(1000 - 1), NULL);
}

/* Bare call_soon entries share chunks; handles and chunks interleave; a
 * callback's own call_soon never joins the running batch. */
Test(loop, fifo_across_chunks_and_handles)
{
    tulip_loop *loop = cur_loop = new_loop(false);
    tulip_handle *hs[100];
    int nh = 0;
    nseq = 0;
    for (int i = 0; i < 900; i++) {
        tulip_handle **out = i % 7 == 3 && nh < 100 ? &hs[nh++] : NULL;
        tulip_callback_fn *fn = i == 450 ? seq_resched : seq_cb;
        cr_assert_eq(tulip_call_soon(loop, fn, (void *)(intptr_t)i, out), 0);
    }
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_eq(nseq, 900);
    for (int i = 0; i < 900; i++)
        cr_assert_eq(seq_seen[i], i);
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_eq(nseq, 901);
    cr_assert_eq(seq_seen[900], 999);
    for (int i = 0; i < nh; i++)
        tulip_handle_release(hs[i]);
    close_loop(loop);
}
