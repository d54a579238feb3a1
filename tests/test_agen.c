/* SPDX-License-Identifier: MIT */
/*
 * Generators driven by tasks (asyncio's async generators): a body that
 * suspends its driving task, cancellation and deadlines reaching it, misuse
 * while it waits, and the closing of abandoned generators at shutdown.
 * Observations are recorded in plain structs and asserted on the main stack
 * (never cr_assert on a coroutine stack).
 */
/* ctest: labels=unit;backends timeout=120 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "tulip.h"

static tulip_loop *new_loop(void)
{
    struct tulip_loop_opts o = {.virtual_clock = true};
    tulip_loop *loop = NULL;

    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    return loop;
}

static void close_loop(tulip_loop *loop)
{
    struct tulip_stack_stats st;

    cr_assert_eq(tulip_loop_close(loop), 0);
    tulip_stack_stats(&st);
    cr_assert_eq(st.in_use, 0, "stacks in use: %zu", st.in_use);
}

static int run_main(tulip_loop *loop, tulip_task_fn *fn, void *arg)
{
    tulip_task *t;
    int result = -1;

    cr_assert_eq(tulip_spawn(&t, loop, fn, arg), 0);
    cr_assert_eq(tulip_loop_run_until(loop, t, &result), 0);
    tulip_task_release(t);
    return result;
}

/* ---- a body that sleeps between yields ----------------------------------- */

struct obs {
    int rc[8];
    int64_t at[8];
    int n;
    int cleanup;
    int cleanup_sleep;
    tulip_task *seen_task;
};

static int sleepy(void *arg, void **ret)
{
    struct obs *o = arg;
    int rc = 0;

    o->seen_task = tulip_task_current();
    for (intptr_t i = 0; i < 3 && rc == 0; i++) {
        rc = tulip_sleep(TULIP_SEC);
        if (rc == 0)
            rc = tulip_yield((void *)i, NULL);
    }
    o->cleanup++;
    o->cleanup_sleep = tulip_sleep(TULIP_SEC);
    *ret = (void *)(intptr_t)99;
    return rc == TULIP_GENEXIT ? 0 : rc;
}

struct drive {
    struct obs obs;
    int next_rc[5];
    void *vals[5];
    int64_t at[5];
    tulip_task *self;
};

static int drive_all(void *arg)
{
    struct drive *d = arg;
    tulip_gen *g;
    int i;

    d->self = tulip_task_current();
    if (tulip_gen_new(&g, sleepy, &d->obs))
        return -1;
    for (i = 0; i < 4; i++) {
        d->next_rc[i] = tulip_gen_next(g, &d->vals[i]);
        d->at[i] = tulip_now();
    }
    tulip_gen_free(g);
    return 0;
}

Test(agen, body_sleeps_between_yields)
{
    tulip_loop *loop = new_loop();
    struct drive d;

    memset(&d, 0, sizeof(d));
    cr_assert_eq(run_main(loop, drive_all, &d), 0);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(d.next_rc[i], 0);
        cr_expect_eq((intptr_t)d.vals[i], i);
        cr_expect_eq(d.at[i], (i + 1) * TULIP_SEC);
    }
    cr_expect_eq(d.next_rc[3], TULIP_STOP);
    cr_expect_eq((intptr_t)d.vals[3], 99);
    cr_expect_eq(d.at[3], 4 * TULIP_SEC, "cleanup slept one second");
    cr_expect_eq(d.obs.cleanup, 1);
    cr_expect_eq(d.obs.cleanup_sleep, 0);
    cr_expect_eq(d.obs.seen_task, d.self, "current task in the body");
    close_loop(loop);
}

/* ---- aclose while suspended at a yield runs awaiting cleanup ------------- */

static int close_early(void *arg)
{
    struct drive *d = arg;
    tulip_gen *g;

    if (tulip_gen_new(&g, sleepy, &d->obs))
        return -1;
    d->next_rc[0] = tulip_gen_next(g, &d->vals[0]);
    d->next_rc[1] = tulip_gen_close(g);
    d->at[1] = tulip_now();
    tulip_gen_free(g);
    return 0;
}

Test(agen, aclose_runs_cleanup_that_awaits)
{
    tulip_loop *loop = new_loop();
    struct drive d;

    memset(&d, 0, sizeof(d));
    cr_assert_eq(run_main(loop, close_early, &d), 0);
    cr_expect_eq(d.next_rc[0], 0);
    cr_expect_eq(d.next_rc[1], 0);
    cr_expect_eq(d.obs.cleanup, 1);
    cr_expect_eq(d.obs.cleanup_sleep, 0);
    cr_expect_eq(d.at[1], 2 * TULIP_SEC);
    close_loop(loop);
}

/* ---- cancellation and deadlines reach a body that waits ------------------ */

static int drive_forever(void *arg)
{
    struct drive *d = arg;
    tulip_gen *g;

    if (tulip_gen_new(&g, sleepy, &d->obs))
        return -1;
    d->next_rc[0] = tulip_gen_next(g, &d->vals[0]);
    d->next_rc[1] = tulip_gen_next(g, &d->vals[1]); /* cancelled in here */
    d->next_rc[2] = tulip_gen_state(g) == TULIP_GEN_CLOSED;
    tulip_gen_free(g);
    return d->next_rc[1];
}

static int cancel_later(void *arg)
{
    tulip_sleep(TULIP_SEC + TULIP_SEC / 2);
    return tulip_task_cancel(arg);
}

Test(agen, cancel_reaches_the_body)
{
    tulip_loop *loop = new_loop();
    struct drive d;
    tulip_task *t, *c;
    int result = 0;

    memset(&d, 0, sizeof(d));
    cr_assert_eq(tulip_spawn(&t, loop, drive_forever, &d), 0);
    /* At 1.5 s the driver waits inside its second next(). */
    cr_assert_eq(tulip_spawn(&c, loop, cancel_later, t), 0);
    cr_assert_eq(tulip_loop_run_until(loop, t, &result), 0);
    cr_expect_eq(d.next_rc[0], 0);
    cr_expect_eq(d.next_rc[1], -ECANCELED, "got %d", d.next_rc[1]);
    cr_expect_eq(d.obs.cleanup, 1);
    cr_expect_eq(d.obs.cleanup_sleep, -ECANCELED, "level-triggered");
    cr_expect_eq(d.next_rc[2], 1, "body returned the error: closed");
    cr_expect_eq(result, -ECANCELED);
    cr_assert_eq(tulip_loop_run(loop), 0);
    tulip_task_release(t);
    tulip_task_release(c);
    close_loop(loop);
}

static int drive_in_scope(void *arg)
{
    struct drive *d = arg;
    struct tulip_scope s;
    tulip_gen *g;

    if (tulip_gen_new(&g, sleepy, &d->obs))
        return -1;
    tulip_scope_enter(&s, tulip_now() + TULIP_SEC / 2, 0);
    d->next_rc[0] = tulip_gen_next(g, &d->vals[0]);
    d->next_rc[1] = tulip_scope_exit(&s);
    tulip_gen_free(g);
    return 0;
}

Test(agen, deadline_reaches_the_body)
{
    tulip_loop *loop = new_loop();
    struct drive d;

    memset(&d, 0, sizeof(d));
    cr_assert_eq(run_main(loop, drive_in_scope, &d), 0);
    cr_expect_eq(d.next_rc[0], -ETIMEDOUT);
    cr_expect_eq(d.next_rc[1], -ETIMEDOUT);
    cr_expect_eq(d.obs.cleanup, 1);
    cr_expect_eq(d.obs.cleanup_sleep, -ETIMEDOUT);
    close_loop(loop);
}

/* ---- misuse while the body waits ----------------------------------------- */

struct shared {
    tulip_gen *g;
    int other_next;
    int other_close;
    struct obs obs;
};

static int holder(void *arg)
{
    struct shared *s = arg;

    return tulip_gen_next(s->g, NULL); /* waits 1 s inside the body */
}

static int intruder(void *arg)
{
    struct shared *s = arg;

    s->other_next = tulip_gen_next(s->g, NULL);
    s->other_close = tulip_gen_close(s->g);
    return 0;
}

Test(agen, resuming_a_waiting_body_is_erunning)
{
    tulip_loop *loop = new_loop();
    struct shared s;
    tulip_task *a, *b;

    memset(&s, 0, sizeof(s));
    cr_assert_eq(tulip_gen_new(&s.g, sleepy, &s.obs), 0);
    cr_assert_eq(tulip_spawn(&a, loop, holder, &s), 0);
    cr_assert_eq(tulip_spawn(&b, loop, intruder, &s), 0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_expect_eq(s.other_next, TULIP_ERUNNING);
    cr_expect_eq(s.other_close, TULIP_ERUNNING);
    cr_expect_eq(tulip_gen_state(s.g), TULIP_GEN_SUSPENDED);
    tulip_task_release(a);
    tulip_task_release(b);
    tulip_gen_free(s.g); /* closes it outside any task: cleanup sleep fails */
    cr_expect_eq(s.obs.cleanup, 1);
    cr_expect_eq(s.obs.cleanup_sleep, -EPERM);
    close_loop(loop);
}

static int sleeps_once(void *arg, void **ret)
{
    (void)ret;
    *(int *)arg = tulip_sleep(TULIP_SEC);
    return 0;
}

Test(agen, suspending_outside_a_task_is_eperm)
{
    tulip_gen *g;
    int rc = 1;

    cr_assert_eq(tulip_gen_new(&g, sleeps_once, &rc), 0);
    cr_assert_eq(tulip_gen_next(g, NULL), TULIP_STOP);
    cr_expect_eq(rc, -EPERM);
    cr_expect_eq(tulip_shutdown_gens(), -EPERM);
    tulip_gen_free(g);
}

/* ---- the driving task may change between resumes ------------------------- */

static int next_once(void *arg)
{
    return tulip_gen_next(arg, NULL);
}

Test(agen, driven_by_two_tasks_in_turn)
{
    tulip_loop *loop = new_loop();
    struct obs o;
    tulip_gen *g;

    memset(&o, 0, sizeof(o));
    cr_assert_eq(tulip_gen_new(&g, sleepy, &o), 0);
    cr_expect_eq(run_main(loop, next_once, g), 0);
    cr_expect_eq(run_main(loop, next_once, g), 0);
    cr_expect_eq(tulip_loop_time_ns(loop), 2 * TULIP_SEC);
    cr_expect_eq(run_main(loop, next_once, g), 0);
    cr_expect_eq(run_main(loop, next_once, g), TULIP_STOP);
    cr_expect_eq(o.cleanup, 1);
    tulip_gen_free(g);
    close_loop(loop);
}

/* ---- nested generators both awaiting, and yield-from ----------------------
 */

static int inner_body(void *arg, void **ret)
{
    (void)arg;
    for (intptr_t i = 0; i < 2; i++) {
        int rc = tulip_sleep(TULIP_SEC);
        if (rc == 0)
            rc = tulip_yield((void *)(i + 10), NULL);
        if (rc)
            return rc == TULIP_GENEXIT ? 0 : rc;
    }
    *ret = (void *)(intptr_t)7;
    return 0;
}

static int outer_body(void *arg, void **ret)
{
    void *r = NULL;
    int rc = tulip_sleep(TULIP_SEC);

    (void)arg;
    if (rc == 0)
        rc = tulip_yield_from_fn(inner_body, NULL, &r);
    if (rc == 0)
        rc = tulip_sleep(TULIP_SEC);
    *ret = r;
    return rc;
}

struct nest {
    intptr_t vals[4];
    int rcs[4];
    int64_t at[4];
};

static int drive_outer(void *arg)
{
    struct nest *n = arg;
    tulip_gen *g;

    if (tulip_gen_new(&g, outer_body, NULL))
        return -1;
    for (int i = 0; i < 3; i++) {
        void *v = NULL;
        n->rcs[i] = tulip_gen_next(g, &v);
        n->vals[i] = (intptr_t)v;
        n->at[i] = tulip_now();
    }
    tulip_gen_free(g);
    return 0;
}

Test(agen, yield_from_a_body_that_awaits)
{
    tulip_loop *loop = new_loop();
    struct nest n;

    memset(&n, 0, sizeof(n));
    cr_assert_eq(run_main(loop, drive_outer, &n), 0);
    cr_expect_eq(n.rcs[0], 0);
    cr_expect_eq(n.vals[0], 10);
    cr_expect_eq(n.at[0], 2 * TULIP_SEC);
    cr_expect_eq(n.rcs[1], 0);
    cr_expect_eq(n.vals[1], 11);
    cr_expect_eq(n.at[1], 3 * TULIP_SEC);
    cr_expect_eq(n.rcs[2], TULIP_STOP);
    cr_expect_eq(n.vals[2], 7);
    cr_expect_eq(n.at[2], 4 * TULIP_SEC);
    close_loop(loop);
}

/* ---- shutdown: abandoned generators are closed, their cleanup runs ------- */

static struct obs abandoned_obs[3];
static tulip_gen *abandoned_gens[3];

static int abandon(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        if (tulip_gen_new(&abandoned_gens[i], sleepy, &abandoned_obs[i]))
            return -1;
        if (i < 2 && tulip_gen_next(abandoned_gens[i], NULL) != 0)
            return -2;
    }
    return 0; /* gens 0 and 1 suspended, gen 2 never started */
}

Test(agen, tulip_run_closes_abandoned_generators)
{
    struct tulip_run_opts o = {.loop = {.virtual_clock = true}};
    int result = -1;

    memset(abandoned_obs, 0, sizeof(abandoned_obs));
    cr_assert_eq(tulip_run(abandon, NULL, &result, &o), 0);
    cr_assert_eq(result, 0);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(abandoned_obs[i].cleanup, 1, "gen %d cleaned", i);
        cr_expect_eq(abandoned_obs[i].cleanup_sleep, 0, "cleanup awaited");
        cr_expect_eq(tulip_gen_state(abandoned_gens[i]), TULIP_GEN_CLOSED);
    }
    cr_expect_eq(abandoned_obs[2].cleanup, 0, "never started: nothing");
    cr_expect_eq(tulip_gen_state(abandoned_gens[2]), TULIP_GEN_CREATED);
    for (int i = 0; i < 3; i++)
        tulip_gen_free(abandoned_gens[i]);
}

static int bad_cleanup(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    if (tulip_yield(NULL, NULL) == TULIP_GENEXIT)
        return -EIO; /* cleanup fails */
    return 0;
}

static int reports;
static int report_err;

static void count_reports(tulip_loop *loop, const struct tulip_error_context *c,
                          void *ud)
{
    (void)loop;
    (void)ud;
    reports++;
    report_err = c->err;
}

static int abandon_bad(void *arg)
{
    tulip_gen **g = arg;

    tulip_loop_set_error_handler(tulip_task_loop(tulip_task_current()),
                                 count_reports, NULL);
    if (tulip_gen_new(g, bad_cleanup, NULL) || tulip_gen_next(*g, NULL))
        return -1;
    return tulip_shutdown_gens();
}

Test(agen, shutdown_reports_failed_cleanup)
{
    tulip_loop *loop = new_loop();
    tulip_gen *g = NULL;

    reports = 0;
    cr_assert_eq(run_main(loop, abandon_bad, &g), 0);
    cr_expect_eq(reports, 1);
    cr_expect_eq(report_err, -EIO);
    cr_expect_eq(tulip_gen_state(g), TULIP_GEN_CLOSED);
    tulip_gen_free(g);
    close_loop(loop);
}

static int free_then_close(void *arg)
{
    (void)arg;
    tulip_gen *g;

    /* Freed while registered: unregistered, so the loop's close does not
     * touch it. */
    if (tulip_gen_new(&g, bad_cleanup, NULL) || tulip_gen_next(g, NULL))
        return -1;
    tulip_gen_free(g);
    return 0;
}

Test(agen, freed_generator_leaves_the_registry)
{
    tulip_loop *loop = new_loop();

    reports = 0;
    tulip_loop_set_error_handler(loop, count_reports, NULL);
    cr_assert_eq(run_main(loop, free_then_close, NULL), 0);
    cr_expect_eq(reports, 0, "closing at free gave -EIO, reported nowhere");
    close_loop(loop);
}
