/* SPDX-License-Identifier: MIT */
/*
 * The combinators through the public API, against asyncio's semantics:
 * gather (results in argument order, the first error ends the wait without
 * cancelling siblings, TULIP_RETURN_ERRORS collects, cancelling the
 * gathering task cancels the children), wait (FIRST_COMPLETED,
 * FIRST_EXCEPTION, ALL_COMPLETED; a timeout returns a partial count, never
 * an error, and cancels nothing), wait_for (timeout cancels the task and
 * waits until it has finished), wait_for_fn (asyncio 3.12's timeout-based
 * wait_for), and as_completed (completion order, timeout). Also every
 * documented error code and -ENOMEM with nothing leaked.
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"
#include "tools.h"

static void cancel_cb(void *arg)
{
    cr_expect_eq(tulip_task_cancel(arg), 0);
}

/* A child: sleeps d->ms milliseconds, logs its name, returns d->ret. */
struct kid {
    const char *name;
    int64_t ms;
    int ret;
    int saw; /* what its sleep returned */
};

static int kid_body(void *arg)
{
    struct kid *k = arg;
    k->saw = tulip_sleep(k->ms * TULIP_MSEC);
    if (k->saw)
        return k->saw;
    log_add("%s", k->name);
    return k->ret;
}

#define MAXK 8

struct combo {
    struct kid k[MAXK];
    tulip_task *t[MAXK];
    size_t n;
    int rc;
    int results[MAXK];
    bool done[MAXK];
    int64_t when;
    unsigned flags;
    int mode;
    int64_t timeout;
};

static void spawn_kids(struct combo *c)
{
    for (size_t i = 0; i < c->n; i++)
        c->t[i] = fx_spawn(kid_body, &c->k[i]);
}

static void release_kids(struct combo *c)
{
    for (size_t i = 0; i < c->n; i++)
        tulip_task_release(c->t[i]);
}

/* ---- gather -------------------------------------------------------------- */

static int gather_body(void *arg)
{
    struct combo *c = arg;
    for (size_t i = 0; i < MAXK; i++)
        c->results[i] = 777;
    c->rc = tulip_gather(c->t, c->n, c->results, c->flags);
    c->when = tulip_now();
    return 0;
}

Test(combine, gather_results_in_argument_order)
{
    struct combo c = {.n = 3,
                      .k = {{"a", 30, 1, 0}, {"b", 10, 2, 0}, {"c", 20, 3, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_task *g = fx_spawn(gather_body, &c);
    fx_run();
    FX_LOG_IS("b c a");
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.results[0], 1);
    cr_assert_eq(c.results[1], 2);
    cr_assert_eq(c.results[2], 3);
    cr_assert_eq(c.when, 30 * TULIP_MSEC);
    release_kids(&c);
    tulip_task_release(g);
    fx_end();
}

/* C.7 / bpo-31452: the first error propagates; siblings keep running. */
Test(combine, gather_first_error_does_not_cancel_siblings)
{
    struct combo c = {
        .n = 3, .k = {{"a", 30, 1, 0}, {"b", 10, -EIO, 0}, {"c", 20, 3, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_task *g = fx_spawn(gather_body, &c);
    fx_run();
    cr_assert_eq(c.rc, -EIO);
    cr_assert_eq(c.when, 10 * TULIP_MSEC);
    cr_assert_eq(c.results[0], -EINPROGRESS);
    cr_assert_eq(c.results[1], -EIO);
    cr_assert_eq(c.results[2], -EINPROGRESS);
    FX_LOG_IS("b c a"); /* the siblings ran to their end */
    cr_assert_eq(fx_result(c.t[0]), 1);
    cr_assert_eq(fx_result(c.t[2]), 3);
    release_kids(&c);
    tulip_task_release(g);
    cr_assert_eq(fx_reports, 0); /* the gather read the error */
    fx_end();
}

Test(combine, gather_return_errors_collects)
{
    struct combo c = {.n = 4,
                      .flags = TULIP_RETURN_ERRORS,
                      .k = {{"a", 30, 1, 0},
                            {"b", 10, -EIO, 0},
                            {"c", 20, -EPIPE, 0},
                            {"d", 5, 0, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_task_cancel(c.t[3]); /* a cancelled child: -ECANCELED */
    tulip_task *g = fx_spawn(gather_body, &c);
    fx_run();
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.when, 30 * TULIP_MSEC);
    cr_assert_eq(c.results[0], 1);
    cr_assert_eq(c.results[1], -EIO);
    cr_assert_eq(c.results[2], -EPIPE);
    cr_assert_eq(c.results[3], -ECANCELED);
    release_kids(&c);
    tulip_task_release(g);
    cr_assert_eq(fx_reports, 0);
    fx_end();
}

/* Without TULIP_RETURN_ERRORS a cancelled child is an error, as asyncio
 * treats CancelledError. */
Test(combine, gather_cancelled_child_is_an_error)
{
    struct combo c = {.n = 2, .k = {{"a", 30, 1, 0}, {"b", 10, 2, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_call_later(loop, 10 * TULIP_MSEC / 2, cancel_cb, c.t[1], NULL);
    tulip_task *g = fx_spawn(gather_body, &c);
    fx_run();
    cr_assert_eq(c.rc, -ECANCELED);
    cr_assert_eq(c.results[1], -ECANCELED);
    cr_assert_eq(c.results[0], -EINPROGRESS);
    cr_assert_eq(fx_result(c.t[0]), 1);
    release_kids(&c);
    tulip_task_release(g);
    fx_end();
}

/* Cancelling the gathering task cancels every unfinished child. */
Test(combine, gather_cancel_cancels_children)
{
    struct combo c = {
        .n = 3,
        .flags = TULIP_RETURN_ERRORS,
        .k = {{"a", 3000, 1, 0}, {"b", 10, 2, 0}, {"c", 2000, 3, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_task *g = fx_spawn(gather_body, &c);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, g, NULL);
    fx_run();
    cr_assert_eq(c.rc, -ECANCELED);
    cr_assert_eq(c.when, TULIP_SEC);
    cr_assert_eq(c.k[0].saw, -ECANCELED);
    cr_assert_eq(c.k[2].saw, -ECANCELED);
    cr_assert_eq(fx_result(c.t[1]), 2);
    cr_assert_eq(fx_result(c.t[0]), -ECANCELED);
    /* What is known is reported, the rest is -EINPROGRESS. */
    cr_assert_eq(c.results[0], -EINPROGRESS);
    cr_assert_eq(c.results[1], 2);
    cr_assert_eq(c.results[2], -EINPROGRESS);
    cr_assert_eq(tulip_loop_time_ns(loop), TULIP_SEC);
    release_kids(&c);
    tulip_task_release(g);
    fx_end();
}

struct errs {
    tulip_task *t;
    int r[12];
};

static int gather_errors_body(void *arg)
{
    struct errs *e = arg;
    tulip_task *list[2] = {e->t, NULL};
    int res[2];

    e->r[0] = tulip_gather(NULL, 1, res, 0);
    e->r[1] = tulip_gather(list, 2, res, 0);
    e->r[2] = tulip_gather(list, 1, res, 0x10);
    e->r[3] = tulip_gather(NULL, 0, NULL, 0);
    e->r[4] = tulip_gather(list, 1, NULL, 0);
    e->r[5] = tulip_wait(NULL, 1, TULIP_ALL_COMPLETED, 0, NULL);
    e->r[6] = tulip_wait(list, 0, TULIP_ALL_COMPLETED, 0, NULL);
    e->r[7] = tulip_wait(list, 2, TULIP_ALL_COMPLETED, 0, NULL);
    e->r[8] = tulip_wait(list, 1, (enum tulip_wait_mode)42, 0, NULL);
    e->r[9] = tulip_wait_for(NULL, 0, NULL);
    e->r[10] = tulip_wait_for(tulip_task_current(), TULIP_SEC, NULL);
    e->r[11] = tulip_wait_for_fn(NULL, NULL, TULIP_SEC);
    return 0;
}

Test(combine, error_codes)
{
    struct errs e = {0};
    tulip_task *list[1];
    struct tulip_as_completed it;
    tulip_task *out;

    fx_begin();
    e.t = fx_spawn(kid_body, &(struct kid){"k", 1, 5, 0});
    list[0] = e.t;
    tulip_task *b = fx_spawn(gather_errors_body, &e);
    fx_run();
    cr_assert_eq(e.r[0], -EINVAL);
    cr_assert_eq(e.r[1], -EINVAL);
    cr_assert_eq(e.r[2], -EINVAL);
    cr_assert_eq(e.r[3], 0);
    cr_assert_eq(e.r[4], 0);
    cr_assert_eq(e.r[5], -EINVAL);
    cr_assert_eq(e.r[6], -EINVAL);
    cr_assert_eq(e.r[7], -EINVAL);
    cr_assert_eq(e.r[8], -EINVAL);
    cr_assert_eq(e.r[9], -EINVAL);
    cr_assert_eq(e.r[10], -EDEADLK);
    cr_assert_eq(e.r[11], -EINVAL);
    /* Outside a task. */
    cr_assert_eq(tulip_gather(list, 1, NULL, 0), -EPERM);
    cr_assert_eq(tulip_wait(list, 1, TULIP_ALL_COMPLETED, 0, NULL), -EPERM);
    cr_assert_eq(tulip_wait_for(e.t, 0, NULL), -EPERM);
    cr_assert_eq(tulip_wait_for_fn(kid_body, NULL, 0), -EPERM);
    cr_assert_eq(tulip_as_completed_init(&it, list, 1, 0), -EPERM);
    tulip_as_completed_done(&it);
    cr_assert_eq(tulip_as_completed_next(&it, &out), TULIP_STOP);
    cr_assert_eq(tulip_as_completed_init(NULL, list, 1, 0), -EINVAL);
    cr_assert_eq(tulip_as_completed_next(NULL, &out), -EINVAL);
    cr_assert_eq(tulip_as_completed_next(&it, NULL), -EINVAL);
    tulip_as_completed_done(NULL);
    tulip_task_release(e.t);
    tulip_task_release(b);
    fx_end();
}

static int gather_enomem_body(void *arg)
{
    struct combo *c = arg;
    test_alloc_fail_nth(&alloc_c, 1, false);
    c->rc = tulip_gather(c->t, c->n, c->results, 0);
    c->results[0] =
        tulip_wait(c->t, c->n, TULIP_ALL_COMPLETED, TULIP_FOREVER, NULL);
    test_alloc_fail_nth(&alloc_c, 1, false);
    c->results[1] =
        tulip_wait(c->t, c->n, TULIP_ALL_COMPLETED, TULIP_FOREVER, NULL);
    struct tulip_as_completed it;
    test_alloc_fail_nth(&alloc_c, 1, false);
    c->results[2] = tulip_as_completed_init(&it, c->t, c->n, TULIP_FOREVER);
    tulip_as_completed_done(&it);
    return 0;
}

Test(combine, enomem_nothing_leaked)
{
    struct combo c = {.n = 2, .k = {{"a", 10, 1, 0}, {"b", 10, 2, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_task *g = fx_spawn(gather_enomem_body, &c);
    fx_run();
    cr_assert_eq(c.rc, -ENOMEM);
    cr_assert_eq(c.results[0], 2); /* retried without failure */
    cr_assert_eq(c.results[1], -ENOMEM);
    cr_assert_eq(c.results[2], -ENOMEM);
    release_kids(&c);
    tulip_task_release(g);
    fx_end();
}

/* ---- wait ---------------------------------------------------------------- */

static int wait_body(void *arg)
{
    struct combo *c = arg;
    c->rc = tulip_wait(c->t, c->n, (enum tulip_wait_mode)c->mode, c->timeout,
                       c->done);
    c->when = tulip_now();
    return 0;
}

static void wait_case(int mode, int64_t timeout, int ret_b, int want_rc,
                      int64_t want_when, const bool *want_done)
{
    struct combo c = {
        .n = 3,
        .mode = mode,
        .timeout = timeout,
        .k = {{"a", 30, 1, 0}, {"b", 10, ret_b, 0}, {"c", 20, 3, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_task *w = fx_spawn(wait_body, &c);
    fx_run();
    cr_assert_eq(c.rc, want_rc, "rc %d", c.rc);
    cr_assert_eq(c.when, want_when, "when %lld", (long long)c.when);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(c.done[i], want_done[i], "done[%zu]", i);
    /* wait never cancels: every child ran to its end. */
    cr_assert_eq(fx_result(c.t[0]), 1);
    cr_assert_eq(fx_result(c.t[1]), ret_b);
    cr_assert_eq(fx_result(c.t[2]), 3);
    release_kids(&c);
    tulip_task_release(w);
    fx_end();
}

Test(combine, wait_first_completed)
{
    wait_case(TULIP_FIRST_COMPLETED, TULIP_FOREVER, 2, 1, 10 * TULIP_MSEC,
              (bool[]){false, true, false});
}

Test(combine, wait_all_completed)
{
    wait_case(TULIP_ALL_COMPLETED, TULIP_FOREVER, 2, 3, 30 * TULIP_MSEC,
              (bool[]){true, true, true});
}

Test(combine, wait_first_exception_with_error)
{
    wait_case(TULIP_FIRST_EXCEPTION, TULIP_FOREVER, -EIO, 1, 10 * TULIP_MSEC,
              (bool[]){false, true, false});
}

Test(combine, wait_first_exception_without_error_is_all)
{
    wait_case(TULIP_FIRST_EXCEPTION, TULIP_FOREVER, 2, 3, 30 * TULIP_MSEC,
              (bool[]){true, true, true});
}

Test(combine, wait_timeout_partial_count_never_error)
{
    wait_case(TULIP_ALL_COMPLETED, 25 * TULIP_MSEC, 2, 2, 25 * TULIP_MSEC,
              (bool[]){false, true, true});
}

Test(combine, wait_zero_and_negative_timeout)
{
    wait_case(TULIP_ALL_COMPLETED, 0, 2, 0, 0, (bool[]){false, false, false});
    wait_case(TULIP_ALL_COMPLETED, -TULIP_SEC, 2, 0, 0,
              (bool[]){false, false, false});
}

static int wait_done_body(void *arg)
{
    struct combo *c = arg;
    cr_expect_eq(tulip_sleep(TULIP_SEC), 0);
    tulip_call_soon(loop, log_cb, L("soon"), NULL);
    c->rc = tulip_wait(c->t, c->n, TULIP_ALL_COMPLETED, TULIP_FOREVER, NULL);
    log_add("ret");
    return 0;
}

Test(combine, wait_on_finished_tasks_returns_at_once)
{
    struct combo c = {.n = 2, .k = {{"a", 1, 1, 0}, {"b", 2, 2, 0}}};

    fx_begin();
    spawn_kids(&c);
    tulip_task *w = fx_spawn(wait_done_body, &c);
    fx_run();
    cr_assert_eq(c.rc, 2);
    if (!test_forced_yield()) /* which yields first, done tasks or not */
        FX_LOG_IS("a b ret soon");
    release_kids(&c);
    tulip_task_release(w);
    fx_end();
}

/* ---- wait_for ------------------------------------------------------------ */

struct wf {
    tulip_task *target;
    int64_t timeout;
    int rc, result;
    int64_t when;
};

static int wait_for_body(void *arg)
{
    struct wf *w = arg;
    w->result = 777;
    w->rc = tulip_wait_for(w->target, w->timeout, &w->result);
    w->when = tulip_now();
    return 0;
}

Test(combine, wait_for_in_time)
{
    struct wf w = {.timeout = TULIP_SEC};
    struct kid k = {"k", 500, 8, 0};

    fx_begin();
    w.target = fx_spawn(kid_body, &k);
    tulip_task *t = fx_spawn(wait_for_body, &w);
    fx_run();
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(w.result, 8);
    cr_assert_eq(w.when, 500 * TULIP_MSEC);
    tulip_task_release(w.target);
    tulip_task_release(t);
    fx_end();
}

Test(combine, wait_for_timeout_cancels_and_awaits)
{
    struct wf w = {.timeout = TULIP_SEC};
    struct kid k = {"k", 5000, 8, 0};

    fx_begin();
    w.target = fx_spawn(kid_body, &k);
    tulip_task *t = fx_spawn(wait_for_body, &w);
    fx_run();
    cr_assert_eq(w.rc, -ETIMEDOUT);
    cr_assert_eq(w.when, TULIP_SEC);
    cr_assert_eq(k.saw, -ECANCELED);
    cr_assert(tulip_task_done(w.target));
    cr_assert_eq(fx_result(w.target), -ECANCELED);
    cr_assert_eq(tulip_loop_time_ns(loop), TULIP_SEC);
    tulip_task_release(w.target);
    tulip_task_release(t);
    fx_end();
}

/* The target's shielded cleanup takes 2 s: wait_for returns after it. */
static int slow_cleanup(void *arg)
{
    struct tulip_scope sh;
    int rc = tulip_sleep(100 * TULIP_SEC);

    (void)arg;
    tulip_scope_enter(&sh, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    tulip_sleep(2 * TULIP_SEC);
    tulip_scope_exit(&sh);
    return rc;
}

Test(combine, wait_for_waits_for_cleanup)
{
    struct wf w = {.timeout = TULIP_SEC};

    fx_begin();
    w.target = fx_spawn(slow_cleanup, NULL);
    tulip_task *t = fx_spawn(wait_for_body, &w);
    fx_run();
    cr_assert_eq(w.rc, -ETIMEDOUT);
    cr_assert_eq(w.when, 3 * TULIP_SEC);
    cr_assert_eq(fx_result(w.target), -ECANCELED);
    tulip_task_release(w.target);
    tulip_task_release(t);
    fx_end();
}

Test(combine, wait_for_zero_timeout)
{
    struct wf w = {.timeout = 0};
    struct kid k = {"k", 0, 4, 0};

    fx_begin();
    /* Finished already: its result, even with no time allowed. */
    w.target = fx_spawn(kid_body, &k);
    fx_run();
    tulip_task *t = fx_spawn(wait_for_body, &w);
    fx_run();
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(w.result, 4);
    tulip_task_release(w.target);
    tulip_task_release(t);
    /* Not finished: cancelled, -ETIMEDOUT. */
    k.ms = 1000;
    w.timeout = -TULIP_SEC;
    w.target = fx_spawn(kid_body, &k);
    t = fx_spawn(wait_for_body, &w);
    fx_run();
    cr_assert_eq(w.rc, -ETIMEDOUT);
    cr_assert_eq(fx_result(w.target), -ECANCELED);
    tulip_task_release(w.target);
    tulip_task_release(t);
    fx_end();
}

/* ---- wait_for_fn --------------------------------------------------------- */

struct wfn {
    int64_t sleep_ms;
    int64_t timeout_ms;
    int inner; /* what the body's sleep returned */
    int rc;
    int after;
    int64_t when;
};

static int wfn_inner(void *arg)
{
    struct wfn *w = arg;
    w->inner = tulip_sleep(w->sleep_ms * TULIP_MSEC);
    return w->inner ? w->inner : 6;
}

static int wfn_body(void *arg)
{
    struct wfn *w = arg;
    w->rc = tulip_wait_for_fn(wfn_inner, w, w->timeout_ms * TULIP_MSEC);
    w->when = tulip_now();
    w->after = tulip_check_cancel();
    return 0;
}

Test(combine, wait_for_fn_in_time_and_timeout)
{
    struct wfn a = {.sleep_ms = 10, .timeout_ms = 20};
    struct wfn b = {.sleep_ms = 30, .timeout_ms = 20};

    fx_begin();
    tulip_task *ta = fx_spawn(wfn_body, &a);
    tulip_task *tb = fx_spawn(wfn_body, &b);
    fx_run();
    cr_assert_eq(a.rc, 6);
    cr_assert_eq(a.when, 10 * TULIP_MSEC);
    cr_assert_eq(b.inner, -ETIMEDOUT);
    cr_assert_eq(b.rc, -ETIMEDOUT);
    cr_assert_eq(b.when, 20 * TULIP_MSEC);
    cr_assert_eq(b.after, 0); /* the deadline was the scope's own */
    tulip_task_release(ta);
    tulip_task_release(tb);
    fx_end();
}

/* A cancel and the timeout in the same pass: -ECANCELED wins, as asyncio's
 * timeout() lets an outside cancel through (C.3). */
Test(combine, wait_for_fn_cancel_and_timeout_same_pass)
{
    struct wfn a = {.sleep_ms = 5000, .timeout_ms = 1000};

    fx_begin();
    tulip_task *t = fx_spawn(wfn_body, &a);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(a.inner, -ECANCELED);
    cr_assert_eq(a.rc, -ECANCELED, "rc %s", tulip_err_name(a.rc));
    cr_assert_eq(a.after, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

/* ---- as_completed -------------------------------------------------------- */

struct ac {
    struct combo c;
    tulip_task *order[MAXK];
    int rcs[MAXK + 1];
    int64_t times[MAXK + 1];
    int64_t timeout;
    int count;
};

static int ac_body(void *arg)
{
    struct ac *a = arg;
    struct tulip_as_completed it;
    tulip_task *t;
    int rc;

    rc = tulip_as_completed_init(&it, a->c.t, a->c.n, a->timeout);
    cr_expect_eq(rc, 0);
    for (a->count = 0; a->count <= MAXK; a->count++) {
        rc = tulip_as_completed_next(&it, &t);
        a->rcs[a->count] = rc;
        a->times[a->count] = tulip_now();
        if (rc)
            break;
        a->order[a->count] = t;
    }
    tulip_as_completed_done(&it);
    tulip_as_completed_done(&it); /* twice is harmless */
    return 0;
}

Test(combine, as_completed_order)
{
    struct ac a = {
        .timeout = TULIP_FOREVER,
        .c = {.n = 3,
              .k = {{"a", 30, 1, 0}, {"b", 10, -EIO, 0}, {"c", 20, 3, 0}}}};

    fx_begin();
    spawn_kids(&a.c);
    tulip_task *t = fx_spawn(ac_body, &a);
    fx_run();
    cr_assert_eq(a.count, 3);
    cr_assert_eq(a.order[0], a.c.t[1]);
    cr_assert_eq(a.order[1], a.c.t[2]);
    cr_assert_eq(a.order[2], a.c.t[0]);
    cr_assert_eq(a.times[0], 10 * TULIP_MSEC);
    cr_assert_eq(a.times[2], 30 * TULIP_MSEC);
    cr_assert_eq(a.rcs[3], TULIP_STOP);
    cr_assert_eq(fx_result(a.c.t[1]), -EIO);
    release_kids(&a.c);
    tulip_task_release(t);
    fx_end();
}

Test(combine, as_completed_timeout)
{
    struct ac a = {
        .timeout = 25 * TULIP_MSEC,
        .c = {.n = 3,
              .k = {{"a", 30, 1, 0}, {"b", 10, 2, 0}, {"c", 20, 3, 0}}}};

    fx_begin();
    spawn_kids(&a.c);
    tulip_task *t = fx_spawn(ac_body, &a);
    fx_run();
    cr_assert_eq(a.count, 2);
    cr_assert_eq(a.rcs[2], -ETIMEDOUT);
    cr_assert_eq(a.times[2], 25 * TULIP_MSEC);
    cr_assert_eq(fx_result(a.c.t[0]), 1); /* not cancelled */
    release_kids(&a.c);
    tulip_task_release(t);
    fx_end();
}

Test(combine, as_completed_empty_and_finished)
{
    struct ac a = {.timeout = TULIP_FOREVER};

    fx_begin();
    tulip_task *t = fx_spawn(ac_body, &a);
    fx_run();
    cr_assert_eq(a.count, 0);
    cr_assert_eq(a.rcs[0], TULIP_STOP);
    tulip_task_release(t);

    /* Finished before: returned in argument order, without waiting. */
    a.c.n = 2;
    a.c.k[0] = (struct kid){"a", 20, 1, 0};
    a.c.k[1] = (struct kid){"b", 10, 2, 0};
    spawn_kids(&a.c);
    fx_run();
    t = fx_spawn(ac_body, &a);
    fx_run();
    cr_assert_eq(a.count, 2);
    cr_assert_eq(a.order[0], a.c.t[0]);
    cr_assert_eq(a.order[1], a.c.t[1]);
    release_kids(&a.c);
    tulip_task_release(t);
    fx_end();
}

/* ---- a cancel arriving with a wake-up ------------------------------------ */

/* A child completes and queues the cancel of the waiting task: the waiter
 * is woken by the completion and cancelled in the same pass. It must not
 * go back to sleep as if nothing happened (level-triggered: its next wait
 * returns -ECANCELED at once). */
struct wake_cancel {
    tulip_task *waiter;
    tulip_task *t[3];
    int rc;
    int64_t when;
    bool use_wait;
};

static int completes_and_cancels(void *arg)
{
    struct wake_cancel *w = arg;
    tulip_sleep(TULIP_SEC);
    tulip_call_soon(loop, cancel_cb, w->waiter, NULL);
    return 0;
}

static int wake_cancel_body(void *arg)
{
    struct wake_cancel *w = arg;
    if (w->use_wait)
        w->rc = tulip_wait(w->t, 3, TULIP_ALL_COMPLETED, TULIP_FOREVER, NULL);
    else
        w->rc = tulip_gather(w->t, 3, NULL, 0);
    w->when = tulip_now();
    return 0;
}

static void wake_cancel_case(bool use_wait)
{
    struct wake_cancel w = {.use_wait = use_wait, .rc = 1};
    struct kid k1 = {"k1", 10000, 0, 0}, k2 = {"k2", 10000, 0, 0};

    fx_begin();
    w.waiter = fx_spawn(wake_cancel_body, &w);
    w.t[0] = fx_spawn(completes_and_cancels, &w);
    w.t[1] = fx_spawn(kid_body, &k1);
    w.t[2] = fx_spawn(kid_body, &k2);
    fx_run();
    cr_assert_eq(w.rc, -ECANCELED, "rc %s", tulip_err_name(w.rc));
    cr_assert_eq(w.when, TULIP_SEC);
    /* gather cancels what it gathers; wait never does. */
    cr_assert_eq(k1.saw, use_wait ? 0 : -ECANCELED);
    for (int i = 0; i < 3; i++)
        tulip_task_release(w.t[i]);
    tulip_task_release(w.waiter);
    fx_end();
}

Test(combine, gather_cancel_with_child_completion_same_pass)
{
    wake_cancel_case(false);
}

Test(combine, wait_cancel_with_child_completion_same_pass)
{
    wake_cancel_case(true);
}
