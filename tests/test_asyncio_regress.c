/* SPDX-License-Identifier: MIT */
/*
 * asyncio's worst bugs, each replayed against tulip and named after its
 * CPython issue or its pain point in the design reference (C.1 ... C.9):
 * lost or swallowed cancellations in wait_for and nested task groups,
 * gather's sibling semantics, fire-and-forget tasks vanishing, shield
 * pitfalls, and tasks pending at shutdown. With level-triggered
 * cancellation the rule each test checks is one: a cancel is never lost,
 * whatever it races with; the next suspending call still sees it.
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"
#include "tools.h"

static void cancel_cb(void *arg)
{
    cr_expect_eq(tulip_task_cancel(arg), 0);
}

static int sleep_ms(void *arg)
{
    return tulip_sleep((int64_t)(intptr_t)arg * TULIP_MSEC);
}

/* ---- gh-86296: wait_for hiding a cancel in the same pass as completion -- */

struct race {
    tulip_task *waiter;
    tulip_task *inner;
    int rc, result, next;
};

/* The inner task queues the cancel of its waiter, then completes: the
 * waiter is woken by the completion and cancelled in the same pass. */
static int inner_cancels_waiter(void *arg)
{
    struct race *r = arg;
    tulip_sleep(TULIP_SEC);
    tulip_call_soon(loop, cancel_cb, r->waiter, NULL);
    return 11;
}

static int race_waiter(void *arg)
{
    struct race *r = arg;
    r->rc = tulip_wait_for(r->inner, 10 * TULIP_SEC, &r->result);
    r->next = tulip_sleep(0);
    return 0;
}

Test(regress, gh_86296_wait_for_completion_then_cancel_same_pass)
{
    struct race r = {.rc = 1};

    fx_begin();
    r.waiter = fx_spawn(race_waiter, &r);
    r.inner = fx_spawn(inner_cancels_waiter, &r);
    fx_run();
    /* The inner result was delivered, and the cancel is not lost. */
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.result, 11);
    cr_assert_eq(r.next, -ECANCELED);
    cr_assert(tulip_task_cancelling(r.waiter));
    tulip_task_release(r.waiter);
    tulip_task_release(r.inner);
    fx_end();
}

static void arm_cancel_at_1s(void *arg)
{
    tulip_call_at(loop, TULIP_SEC, cancel_cb, arg, NULL);
}

Test(regress, gh_86296_wait_for_cancel_then_completion_same_pass)
{
    struct race r = {.rc = 1};

    fx_begin();
    r.inner = fx_spawn(sleep_ms, (void *)1000);
    r.waiter = fx_spawn(race_waiter, &r);
    /* Its timer is due with the inner's, after it: both run in one pass. */
    tulip_call_soon(loop, arm_cancel_at_1s, r.waiter, NULL);
    fx_run();
    cr_assert_eq(r.rc, -ECANCELED);
    cr_assert_eq(r.next, -ECANCELED);
    /* Finished on its own; under the forced yield the inner yields once
     * more after its wake-up, and the waiter's cancel of it comes first
     * (as in asyncio, for a task cancelled between wake-up and step). */
    if (!test_forced_yield())
        cr_assert_eq(fx_result(r.inner), 0);
    tulip_task_release(r.waiter);
    tulip_task_release(r.inner);
    fx_end();
}

/* The same race through wait_for_fn, asyncio 3.12's timeout-based form. */
struct fnrace {
    tulip_task *self;
    int rc, next;
};

static int fn_completes_and_cancels(void *arg)
{
    struct fnrace *f = arg;
    tulip_sleep(TULIP_SEC);
    tulip_task_cancel(f->self); /* arrives as the body completes */
    return 3;
}

static int fnrace_body(void *arg)
{
    struct fnrace *f = arg;
    f->rc = tulip_wait_for_fn(fn_completes_and_cancels, f, 5 * TULIP_SEC);
    f->next = tulip_sleep(TULIP_SEC);
    return 0;
}

Test(regress, gh_86296_wait_for_fn_keeps_cancel)
{
    struct fnrace f = {0};

    fx_begin();
    f.self = fx_spawn(fnrace_body, &f);
    fx_run();
    cr_assert_eq(f.rc, 3);
    cr_assert_eq(f.next, -ECANCELED);
    tulip_task_release(f.self);
    fx_end();
}

/* ---- gh-116720: nested TaskGroups swallowing the parent's cancel --------- */

struct nest {
    int inner_rc, outer_rc, next;
    bool fail_inner; /* an inner child fails as the cancel arrives */
};

static int fail_at_1s(void *arg)
{
    (void)arg;
    tulip_sleep(TULIP_SEC);
    return -EIO;
}

static int nested_groups(void *arg)
{
    struct nest *n = arg;
    tulip_group *outer, *inner;

    tulip_group_new(&outer);
    tulip_group_spawn(outer, sleep_ms, (void *)5000, NULL, NULL);
    tulip_group_new(&inner);
    tulip_group_spawn(inner, sleep_ms, (void *)5000, NULL, NULL);
    if (n->fail_inner)
        tulip_group_spawn(inner, fail_at_1s, NULL, NULL, NULL);
    n->inner_rc = tulip_group_wait(inner);
    n->outer_rc = tulip_group_wait(outer);
    n->next = tulip_sleep(0);
    return n->next;
}

Test(regress, gh_116720_nested_groups_keep_parent_cancel)
{
    struct nest n = {0};

    fx_begin();
    tulip_task *t = fx_spawn(nested_groups, &n);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(n.inner_rc, -ECANCELED);
    cr_assert_eq(n.outer_rc, -ECANCELED);
    cr_assert_eq(n.next, -ECANCELED);
    cr_assert_eq(fx_result(t), -ECANCELED);
    cr_assert_eq(tulip_loop_time_ns(loop), TULIP_SEC);
    tulip_task_release(t);
    fx_end();
}

Test(regress, gh_116720_inner_failure_and_outer_cancel_same_pass)
{
    struct nest n = {.fail_inner = true};

    fx_begin();
    tulip_task *t = fx_spawn(nested_groups, &n);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(n.inner_rc, -EIO); /* the child's error is not lost */
    cr_assert_eq(n.outer_rc, -ECANCELED);
    cr_assert_eq(n.next, -ECANCELED); /* nor is the cancel */
    tulip_task_release(t);
    fx_end();
}

/* ---- gh-95289: a child's failure and an outside cancel together ---------- */

struct both {
    int rc, ignored, next;
};

static int group_fail_and_cancel(void *arg)
{
    struct both *b = arg;
    tulip_group *g;

    tulip_group_new(&g);
    tulip_group_spawn(g, fail_at_1s, NULL, NULL, NULL);
    tulip_group_spawn(g, sleep_ms, (void *)5000, NULL, NULL);
    b->rc = tulip_group_wait(g);
    /* The parent "replaces" the cancel with its own handling: it drops one
     * -ECANCELED; the next call gives it again. */
    b->ignored = tulip_sleep(TULIP_SEC);
    b->next = tulip_sleep(TULIP_SEC);
    return 0;
}

Test(regress, gh_95289_group_error_and_outside_cancel)
{
    struct both b = {0};

    fx_begin();
    tulip_task *t = fx_spawn(group_fail_and_cancel, &b);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(b.rc, -EIO);
    cr_assert_eq(b.ignored, -ECANCELED);
    cr_assert_eq(b.next, -ECANCELED);
    cr_assert_eq(fx_reports, 0);
    tulip_task_release(t);
    fx_end();
}

/* ---- gh-155433: tg.cancel() and an outside cancel ------------------------ */

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

struct gc {
    int rc, next;
    int64_t when;
    bool outside_first;
};

static int group_cancel_then_wait(void *arg)
{
    struct gc *c = arg;
    tulip_group *g;

    tulip_group_new(&g);
    tulip_group_spawn(g, slow_cleanup, NULL, NULL, NULL);
    tulip_sleep(TULIP_SEC);
    if (c->outside_first)
        tulip_task_cancel(tulip_task_current());
    tulip_group_cancel(g);
    c->rc = tulip_group_wait(g);
    c->when = tulip_now();
    c->next = tulip_check_cancel();
    return 0;
}

/* The outside cancel arrives while the group drains its cancelled child. */
Test(regress, gh_155433_outside_cancel_during_group_cancel)
{
    struct gc c = {0};

    fx_begin();
    tulip_task *t = fx_spawn(group_cancel_then_wait, &c);
    tulip_call_later(loop, 2 * TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(c.rc, -ECANCELED, "rc %s", tulip_err_name(c.rc));
    cr_assert_eq(c.when, 3 * TULIP_SEC);
    cr_assert_eq(c.next, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

Test(regress, gh_155433_outside_cancel_before_group_cancel)
{
    struct gc c = {.outside_first = true};

    fx_begin();
    tulip_task *t = fx_spawn(group_cancel_then_wait, &c);
    fx_run();
    cr_assert_eq(c.rc, -ECANCELED);
    cr_assert_eq(c.next, -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

/* Without the outside cancel, tg.cancel() ends the group normally. */
Test(regress, gh_155433_group_cancel_alone_is_not_an_error)
{
    struct gc c = {.rc = 1};

    fx_begin();
    tulip_task *t = fx_spawn(group_cancel_then_wait, &c);
    fx_run();
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(c.next, 0);
    tulip_task_release(t);
    fx_end();
}

/* ---- bpo-31452 / C.7: gather does not cancel siblings on error ----------- */

struct gat {
    tulip_task *t[3];
    int rc;
    int results[3];
};

static int gatherer(void *arg)
{
    struct gat *g = arg;
    g->rc = tulip_gather(g->t, 3, g->results, 0);
    return 0;
}

static int fail_at_10ms(void *arg)
{
    (void)arg;
    tulip_sleep(10 * TULIP_MSEC);
    return -EIO;
}

Test(regress, bpo_31452_gather_error_keeps_siblings)
{
    struct gat g = {0};

    fx_begin();
    g.t[0] = fx_spawn(sleep_ms, (void *)1000);
    g.t[1] = fx_spawn(fail_at_10ms, NULL);
    g.t[2] = fx_spawn(sleep_ms, (void *)2000);
    tulip_task *t = fx_spawn(gatherer, &g);
    fx_run();
    cr_assert_eq(g.rc, -EIO);
    cr_assert_not(tulip_task_cancelling(g.t[0]));
    cr_assert_not(tulip_task_cancelling(g.t[2]));
    cr_assert_eq(fx_result(g.t[0]), 0);
    cr_assert_eq(fx_result(g.t[2]), 0);
    cr_assert_eq(tulip_loop_time_ns(loop), 2 * TULIP_SEC);
    for (int i = 0; i < 3; i++)
        tulip_task_release(g.t[i]);
    tulip_task_release(t);
    fx_end();
}

/* ---- C.4: fire-and-forget tasks never vanish ----------------------------- */

struct ff {
    tulip_future *f;
    int finished;
};

/* Waits on a future with no timer anywhere: only the loop's reference
 * keeps it. */
static int ff_waiter(void *arg)
{
    struct ff *s = arg;
    if (tulip_future_await(s->f, NULL) == 0)
        s->finished++;
    return 0;
}

static int ff_setter(void *arg)
{
    struct ff *s = arg;
    tulip_sleep(TULIP_SEC);
    tulip_future_set_result(s->f, NULL);
    return 0;
}

Test(regress, c4_fire_and_forget_never_vanishes)
{
    struct ff s = {0};

    fx_begin();
    cr_assert_eq(tulip_future_new(&s.f, loop), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tulip_spawn(NULL, loop, ff_waiter, &s), 0);
    cr_assert_eq(tulip_spawn(NULL, loop, ff_setter, &s), 0);
    fx_run();
    cr_assert_eq(s.finished, 100);
    cr_assert_eq(tulip_loop_tasks(loop, NULL, 0), 0);
    cr_assert_eq(fx_stacks_in_use(), fx_stacks0);
    tulip_future_release(s.f);
    fx_end();
}

/* ---- C.9: shield pitfalls --------------------------------------------------
 */

struct sh {
    tulip_task *target;
    int rc, result, target_saw;
};

static int joiner(void *arg)
{
    struct sh *s = arg;
    s->rc = tulip_task_join(s->target, &s->result);
    return 0;
}

/* Cancelling the joiner (asyncio's outer of shield()) never cancels the
 * joined task, which finishes and can still be joined. */
Test(regress, c9_cancelling_joiner_never_cancels_joined)
{
    struct sh s = {0};
    int r = 0;

    fx_begin();
    s.target = fx_spawn(sleep_ms, (void *)2000);
    tulip_task *j = fx_spawn(joiner, &s);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, j, NULL);
    fx_run();
    cr_assert_eq(s.rc, -ECANCELED);
    cr_assert_not(tulip_task_cancelling(s.target));
    cr_assert_eq(tulip_task_result(s.target, &r), 0);
    cr_assert_eq(r, 0);
    tulip_task_release(s.target);
    tulip_task_release(j);
    fx_end();
}

/* A joined task that fails after its joiner was cancelled: its error is
 * reported once the last reference goes, never silently lost. */
static int fail_at_2s(void *arg)
{
    (void)arg;
    tulip_sleep(2 * TULIP_SEC);
    return -EIO;
}

Test(regress, c9_error_of_abandoned_join_is_reported)
{
    struct sh s = {0};

    fx_begin();
    s.target = fx_spawn(fail_at_2s, NULL);
    tulip_task *j = fx_spawn(joiner, &s);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, j, NULL);
    tulip_task_release(s.target); /* only the loop holds it now */
    fx_run();
    cr_assert_eq(s.rc, -ECANCELED);
    cr_assert_eq(fx_reports, 1);
    cr_assert_eq(fx_report_err, -EIO);
    tulip_task_release(j);
    fx_end();
}

/* A shield around a join hides the outer deadline and cancel; its own
 * deadline still applies. */
static int shielded_join(void *arg)
{
    struct sh *s = arg;
    struct tulip_scope outer, shield;

    tulip_scope_enter(&outer, TULIP_SEC, 0);
    tulip_scope_enter(&shield, 3 * TULIP_SEC, TULIP_SCOPE_SHIELD);
    s->rc = tulip_task_join(s->target, &s->result);
    tulip_scope_exit(&shield);
    s->target_saw = tulip_scope_exit(&outer);
    return 0;
}

Test(regress, c9_shielded_join_own_deadline)
{
    struct sh s = {0};

    fx_begin();
    s.target = fx_spawn(sleep_ms, (void *)5000);
    tulip_task *j = fx_spawn(shielded_join, &s);
    tulip_call_later(loop, 2 * TULIP_SEC, cancel_cb, j, NULL);
    fx_run();
    cr_assert_eq(s.rc, -ETIMEDOUT);
    cr_assert_eq(s.target_saw, -ETIMEDOUT);
    cr_assert_eq(fx_result(s.target), 0); /* never cancelled */
    tulip_task_release(s.target);
    tulip_task_release(j);
    fx_end();
}

/* ---- C.1: tasks pending at shutdown, in the middle of every wait --------- */

struct pend {
    tulip_task *kids[2];
    tulip_future *f;
    int which;
};

static int pending_waiter(void *arg)
{
    struct pend *p = arg;
    struct tulip_as_completed it;
    tulip_task *t;
    tulip_group *g;

    switch (p->which) {
    case 0:
        return tulip_gather(p->kids, 2, NULL, 0);
    case 1:
        return tulip_wait(p->kids, 2, TULIP_ALL_COMPLETED, TULIP_FOREVER, NULL);
    case 2:
        tulip_as_completed_init(&it, p->kids, 2, TULIP_FOREVER);
        tulip_as_completed_next(&it, &t);
        tulip_as_completed_done(&it);
        return 0;
    case 3:
        return tulip_wait_for(p->kids[0], 100 * TULIP_SEC, NULL);
    case 4:
        tulip_group_new(&g);
        tulip_group_spawn(g, sleep_ms, (void *)100000, NULL, NULL);
        return tulip_group_wait(g);
    case 5:
        return tulip_task_join(p->kids[0], NULL);
    default:
        return tulip_future_await(p->f, NULL);
    }
}

static void pending_at_close(int which)
{
    struct pend p = {.which = which};

    fx_begin();
    cr_assert_eq(tulip_future_new(&p.f, loop), 0);
    p.kids[0] = fx_spawn(sleep_ms, (void *)100000);
    p.kids[1] = fx_spawn(sleep_ms, (void *)200000);
    tulip_task *w = fx_spawn(pending_waiter, &p);
    /* One pass (two for the group's child to start): a pass with nothing
     * ready would jump the virtual clock to the kids' deadlines. */
    for (int i = 0; i < (which == 4 ? 2 : 1); i++)
        tulip_loop_run_once(loop);
    cr_assert_not(tulip_task_done(w));
    tulip_task_release(p.kids[0]);
    tulip_task_release(p.kids[1]);
    tulip_task_release(w);
    tulip_future_release(p.f);
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_geq(fx_reports, 3);
    cr_assert(strstr(fx_report_msg, "Task was destroyed but it is pending"));
    struct tulip_loop_opts o = {.virtual_clock = true};
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    fx_end(); /* nothing leaked */
}

Test(regress, c1_pending_in_gather_at_close)
{
    pending_at_close(0);
}

Test(regress, c1_pending_in_wait_at_close)
{
    pending_at_close(1);
}

Test(regress, c1_pending_in_as_completed_at_close)
{
    pending_at_close(2);
}

Test(regress, c1_pending_in_wait_for_at_close)
{
    pending_at_close(3);
}

Test(regress, c1_pending_in_group_wait_at_close)
{
    pending_at_close(4);
}

Test(regress, c1_pending_in_join_at_close)
{
    pending_at_close(5);
}

Test(regress, c1_pending_in_future_await_at_close)
{
    pending_at_close(6);
}
