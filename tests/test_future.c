/* SPDX-License-Identifier: MIT */
/*
 * Futures through the public API: completion with a value, an error or a
 * cancel, and the InvalidStateError cases (-EALREADY, -EAGAIN); awaiting in
 * tasks (woken on the next pass, outcome handed over even if the future is
 * released meanwhile), await with a deadline, cancelling a waiter leaves
 * the future alone; done-callbacks (through the loop, in add order, exactly
 * once, never inline, removable); the "Future exception was never
 * retrieved" report; release of a pending future with waiters; and -ENOMEM
 * at every allocation of future_new and add_done_callback.
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"
#include "tools.h"

struct awaiter {
    tulip_future *f;
    const char *name;
    int rc;
    void *value;
    int64_t when;
};

static int await_body(void *arg)
{
    struct awaiter *a = arg;
    a->rc = tulip_future_await(a->f, &a->value);
    a->when = tulip_now();
    if (a->name)
        log_add("%s", a->name);
    return 0;
}

static void set_result_cb(void *arg)
{
    log_add("set");
    cr_expect_eq(tulip_future_set_result(arg, L("v")), 0);
}

static void fut_cb(tulip_future *f, void *arg)
{
    void *v = NULL;
    int rc = tulip_future_result(f, &v);
    log_add("%s:%d", (const char *)arg, rc);
}

/* ---- completion ---------------------------------------------------------- */

Test(future, set_result_and_read)
{
    tulip_future *f;
    void *v = L("x");

    fx_begin();
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    cr_assert_not(tulip_future_done(f));
    cr_assert_not(tulip_future_cancelled(f));
    cr_assert_eq(tulip_future_result(f, &v), -EAGAIN);
    cr_assert_null(v);
    cr_assert_eq(tulip_future_set_result(f, L("r")), 0);
    cr_assert(tulip_future_done(f));
    cr_assert_eq(tulip_future_result(f, &v), 0);
    cr_assert_str_eq(v, "r");
    cr_assert_eq(tulip_future_result(f, NULL), 0);
    cr_assert_eq(tulip_future_set_result(f, NULL), -EALREADY);
    cr_assert_eq(tulip_future_set_error(f, -EIO), -EALREADY);
    cr_assert_eq(tulip_future_cancel(f), -EALREADY);
    cr_assert_not(tulip_future_cancelled(f));
    cr_assert_eq(tulip_future_retain(f), f);
    tulip_future_release(f);
    tulip_future_release(f);
    tulip_future_release(NULL);
    cr_assert_null(tulip_future_retain(NULL));
    fx_end();
}

Test(future, set_error_and_cancel)
{
    tulip_future *f, *g;

    fx_begin();
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    cr_assert_eq(tulip_future_set_error(f, 0), -EINVAL);
    cr_assert_eq(tulip_future_set_error(f, 5), -EINVAL);
    cr_assert_eq(tulip_future_set_error(f, -EIO), 0);
    cr_assert_eq(tulip_future_result(f, NULL), -EIO);
    cr_assert_eq(tulip_future_set_error(f, -EIO), -EALREADY);
    tulip_future_release(f);
    cr_assert_eq(fx_reports, 0); /* read: not reported */

    cr_assert_eq(tulip_future_new(&g, loop), 0);
    cr_assert_eq(tulip_future_cancel(g), 0);
    cr_assert(tulip_future_done(g));
    cr_assert(tulip_future_cancelled(g));
    cr_assert_eq(tulip_future_result(g, NULL), -ECANCELED);
    cr_assert_eq(tulip_future_cancel(g), -EALREADY);
    cr_assert_eq(tulip_future_set_result(g, NULL), -EALREADY);
    tulip_future_release(g);
    fx_end();
}

Test(future, null_arguments)
{
    tulip_future *f = NULL;

    fx_begin();
    cr_assert_eq(tulip_future_new(NULL, loop), -EINVAL);
    cr_assert_eq(tulip_future_new(&f, NULL), -EINVAL);
    cr_assert_eq(tulip_future_set_result(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_future_set_error(NULL, -EIO), -EINVAL);
    cr_assert_eq(tulip_future_cancel(NULL), -EINVAL);
    cr_assert_eq(tulip_future_result(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_future_await(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_future_add_done_callback(NULL, fut_cb, NULL), -EINVAL);
    cr_assert_eq(tulip_future_remove_done_callback(NULL, fut_cb, NULL),
                 -EINVAL);
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    cr_assert_eq(tulip_future_add_done_callback(f, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_future_remove_done_callback(f, NULL, NULL), -EINVAL);
    tulip_future_release(f);
    fx_end();
}

Test(future, unread_error_reported)
{
    tulip_future *f;

    fx_begin();
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    cr_assert_eq(tulip_future_set_error(f, -EPIPE), 0);
    tulip_future_release(f);
    cr_assert_eq(fx_reports, 1);
    cr_assert_str_eq(fx_report_msg, "Future exception was never retrieved");
    cr_assert_eq(fx_report_err, -EPIPE);
    /* Cancelled, or completed with a value: never reported. */
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    tulip_future_cancel(f);
    tulip_future_release(f);
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    tulip_future_set_result(f, NULL);
    tulip_future_release(f);
    cr_assert_eq(fx_reports, 1);
    fx_end();
}

/* ---- awaiting ------------------------------------------------------------ */

Test(future, await_outside_task_eperm)
{
    tulip_future *f;

    fx_begin();
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    cr_assert_eq(tulip_future_await(f, NULL), -EPERM);
    cr_assert_eq(tulip_future_await_until(f, 0, NULL), -EPERM);
    tulip_future_release(f);
    fx_end();
}

/* Completion wakes waiters on the next pass, in the order they waited. */
Test(future, completion_wakes_waiters_next_pass)
{
    struct awaiter a = {.name = "a"}, b = {.name = "b"};

    SKIP_UNDER_FORCED_YIELD("one pass does not bring the tasks to their wait");
    fx_begin();
    cr_assert_eq(tulip_future_new(&a.f, loop), 0);
    b.f = a.f;
    tulip_task *ta = fx_spawn(await_body, &a);
    tulip_task *tb = fx_spawn(await_body, &b);
    cr_assert_eq(tulip_loop_run_once(loop), 0); /* both waiting */
    cr_assert_eq(tulip_future_add_done_callback(a.f, fut_cb, L("cb")), 0);
    tulip_call_soon(loop, set_result_cb, a.f, NULL);
    tulip_call_soon(loop, log_cb, L("after"), NULL);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    FX_LOG_IS("set after");
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    FX_LOG_IS("set after a b cb:0");
    cr_assert_eq(a.rc, 0);
    cr_assert_str_eq(a.value, "v");
    cr_assert_eq(b.rc, 0);
    cr_assert_str_eq(b.value, "v");
    tulip_future_release(a.f);
    tulip_task_release(ta);
    tulip_task_release(tb);
    fx_end();
}

static void set_and_release_cb(void *arg)
{
    tulip_future *f = arg;
    tulip_future_set_error(f, -EPROTO);
    tulip_future_release(f);
}

/* The outcome travels with the wake-up: the waiter never reads a future
 * released in between. And a waiter counts as having read the error. */
Test(future, outcome_survives_release)
{
    struct awaiter a = {0};

    fx_begin();
    cr_assert_eq(tulip_future_new(&a.f, loop), 0);
    tulip_task *t = fx_spawn(await_body, &a);
    tulip_call_later(loop, TULIP_SEC, set_and_release_cb, a.f, NULL);
    fx_run();
    cr_assert_eq(a.rc, -EPROTO);
    cr_assert_eq(a.when, TULIP_SEC);
    cr_assert_eq(fx_reports, 0);
    tulip_task_release(t);
    fx_end();
}

Test(future, await_done_future_returns_at_once)
{
    struct awaiter a = {.name = "a"};

    fx_begin();
    cr_assert_eq(tulip_future_new(&a.f, loop), 0);
    tulip_future_set_error(a.f, -ENOENT);
    tulip_task *t = fx_spawn(await_body, &a);
    fx_run();
    cr_assert_eq(a.rc, -ENOENT);
    tulip_future_release(a.f);
    cr_assert_eq(fx_reports, 0);
    tulip_future_new(&a.f, loop);
    tulip_future_cancel(a.f);
    tulip_task_release(t);
    t = fx_spawn(await_body, &a);
    fx_run();
    cr_assert_eq(a.rc, -ECANCELED);
    tulip_future_release(a.f);
    tulip_task_release(t);
    fx_end();
}

/* Releasing the last reference to a pending future with waiters cancels
 * it: they wake with -ECANCELED. */
Test(future, release_pending_with_waiters_cancels)
{
    struct awaiter a = {0};

    SKIP_UNDER_FORCED_YIELD("one pass does not bring the tasks to their wait");
    fx_begin();
    cr_assert_eq(tulip_future_new(&a.f, loop), 0);
    tulip_task *t = fx_spawn(await_body, &a);
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    tulip_future_release(a.f);
    fx_run();
    cr_assert_eq(a.rc, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

struct until {
    tulip_future *f;
    int rc, rc2;
    int64_t when;
};

static int await_until_body(void *arg)
{
    struct until *u = arg;
    u->rc = tulip_future_await_until(u->f, 2 * TULIP_SEC, NULL);
    u->when = tulip_now();
    /* Its own deadline is not a scope's: the next call is not affected. */
    u->rc2 = tulip_future_await_until(u->f, TULIP_FOREVER, NULL);
    return 0;
}

Test(future, await_until_own_deadline)
{
    struct until u = {0};

    fx_begin();
    cr_assert_eq(tulip_future_new(&u.f, loop), 0);
    tulip_task *t = fx_spawn(await_until_body, &u);
    tulip_call_later(loop, 3 * TULIP_SEC, set_result_cb, u.f, NULL);
    fx_run();
    cr_assert_eq(u.rc, -ETIMEDOUT);
    cr_assert_eq(u.when, 2 * TULIP_SEC);
    cr_assert_eq(u.rc2, 0);
    cr_assert(tulip_future_done(u.f));
    tulip_future_release(u.f);
    tulip_task_release(t);
    fx_end();
}

/* Cancelling a waiting task ends its wait, not the future. */
Test(future, cancelling_waiter_leaves_future_pending)
{
    struct awaiter a = {.name = "a"}, b = {.name = "b"};

    SKIP_UNDER_FORCED_YIELD("one pass does not bring the tasks to their wait");
    fx_begin();
    cr_assert_eq(tulip_future_new(&a.f, loop), 0);
    b.f = a.f;
    tulip_task *ta = fx_spawn(await_body, &a);
    tulip_task *tb = fx_spawn(await_body, &b);
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_eq(tulip_task_cancel(ta), 0);
    cr_assert_eq(tulip_loop_run_once(loop), 0);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_not(tulip_future_done(a.f));
    cr_assert_eq(tulip_future_set_result(a.f, L("late")), 0);
    fx_run();
    cr_assert_eq(b.rc, 0);
    cr_assert_str_eq(b.value, "late");
    FX_LOG_IS("a b");
    tulip_future_release(a.f);
    tulip_task_release(ta);
    tulip_task_release(tb);
    fx_end();
}

struct xl {
    tulip_future *f;
    int rc;
};

static int await_other_loop(void *arg)
{
    struct xl *x = arg;
    x->rc = tulip_future_await(x->f, NULL);
    return 0;
}

Test(future, await_future_of_other_loop_eperm)
{
    struct tulip_loop_opts o = {.virtual_clock = true};
    tulip_loop *l2;
    struct xl x = {0};

    fx_begin();
    cr_assert_eq(tulip_loop_new(&l2, &o), 0);
    cr_assert_eq(tulip_future_new(&x.f, l2), 0);
    tulip_task *t = fx_spawn(await_other_loop, &x);
    fx_run();
    cr_assert_eq(x.rc, -EPERM);
    tulip_future_release(x.f);
    cr_assert_eq(tulip_loop_close(l2), 0);
    tulip_task_release(t);
    fx_end();
}

/* ---- done-callbacks ------------------------------------------------------ */

Test(future, done_callbacks_order_once_never_inline)
{
    tulip_future *f;

    fx_begin();
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("1")), 0);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("2")), 0);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("3")), 0);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("2")), 0);
    cr_assert_eq(tulip_future_remove_done_callback(f, fut_cb, L("2")), 2);
    cr_assert_eq(tulip_future_remove_done_callback(f, fut_cb, L("9")), 0);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("4")), 0);
    cr_assert_eq(tulip_future_set_error(f, -EIO), 0);
    FX_LOG_IS(""); /* never inline */
    /* Scheduled already: no longer removable. */
    cr_assert_eq(tulip_future_remove_done_callback(f, fut_cb, L("1")), 0);
    tulip_future_release(f); /* callbacks keep it alive */
    fx_run();
    FX_LOG_IS("1:-5 3:-5 4:-5");
    fx_run();
    FX_LOG_IS("1:-5 3:-5 4:-5");
    cr_assert_eq(fx_reports, 0); /* the callbacks read it */
    fx_end();
}

Test(future, callback_added_when_done_is_scheduled)
{
    tulip_future *f;

    fx_begin();
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    tulip_future_set_result(f, NULL);
    tulip_call_soon(loop, log_cb, L("before"), NULL);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("cb")), 0);
    tulip_call_soon(loop, log_cb, L("after"), NULL);
    FX_LOG_IS("");
    fx_run();
    FX_LOG_IS("before cb:0 after");
    tulip_future_release(f);
    fx_end();
}

/* Callbacks scheduled but not run when the loop closes are dropped, and
 * the future they hold is freed. */
Test(future, scheduled_callbacks_dropped_at_close)
{
    tulip_future *f;

    fx_begin();
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("cb")), 0);
    tulip_future_cancel(f);
    tulip_future_release(f);
    fx_end();
    cr_assert_str_eq(fx_log, "");
}

/* ---- allocation failure -------------------------------------------------- */

Test(future, enomem)
{
    tulip_future *f = (tulip_future *)&f;

    fx_begin();
    long long before = alloc_c.live_bytes;
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_future_new(&f, loop), -ENOMEM);
    cr_assert_eq(alloc_c.live_bytes, before);
    cr_assert_eq(tulip_future_new(&f, loop), 0);
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("x")), -ENOMEM);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("y")), 0);
    tulip_future_set_result(f, NULL);
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_future_add_done_callback(f, fut_cb, L("z")), -ENOMEM);
    fx_run();
    FX_LOG_IS("y:0");
    tulip_future_release(f);
    fx_end();
}

/* On a loop without tasks, the first callback also makes the task layer's
 * per-loop state: each of the two allocations fails in turn. */
Test(future, add_done_callback_enomem_at_every_allocation)
{
    tulip_future *f;
    int rc = -1;

    fx_begin();
    for (unsigned long n = 1; n < 10 && rc != 0; n++) {
        cr_assert_eq(tulip_future_new(&f, loop), 0);
        long long before = alloc_c.live_bytes;
        test_alloc_fail_nth(&alloc_c, n, false);
        rc = tulip_future_add_done_callback(f, fut_cb, L("cb"));
        test_alloc_fail_nth(&alloc_c, 0, false);
        if (rc) {
            cr_assert_eq(rc, -ENOMEM);
            cr_assert(n > 1 || alloc_c.live_bytes == before);
        }
        tulip_future_set_result(f, NULL);
        tulip_future_release(f);
    }
    cr_assert_eq(rc, 0);
    fx_run();
    FX_LOG_IS("cb:0");
    fx_end();
}
