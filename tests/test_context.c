/* SPDX-License-Identifier: MIT */
/*
 * Task-local storage (contextvars): bad arguments; the root context; a task
 * inheriting its spawner's values by copy, isolated from its siblings;
 * call_soon and call_later running in the context they were scheduled
 * from, and a callback's own sets vanishing when it returns (also for the
 * process's first set, made in a bare callback); tokens and their misuse;
 * tulip_context_copy/run/lookup; destructors running exactly once (shared
 * values, cancelled and destroyed tasks, cancelled and discarded
 * callbacks); out of memory at every allocation. Every test closes its
 * loop with 0 and checks that no byte and no stack leaked.
 */
/* ctest: labels=unit timeout=120 */
#include "task_fixture.h"

#include <errno.h>

#define V(n) ((void *)(uintptr_t)(n))
#define N(p) ((int)(uintptr_t)(p))

static tulip_ctxvar *var;   /* default V(0), destructor counting */
static tulip_ctxvar *other; /* default V(0), no destructor */
static int destroyed[64];   /* per value: how often destroyed */
static int destroyed_total;

static void count_dtor(void *value)
{
    destroyed[N(value)]++;
    destroyed_total++;
}

static void cv_begin(void)
{
    fx_begin();
    memset(destroyed, 0, sizeof(destroyed));
    destroyed_total = 0;
    cr_assert_eq(tulip_ctxvar_new(&var, V(0), count_dtor), 0);
    cr_assert_eq(tulip_ctxvar_new(&other, V(0), NULL), 0);
}

static void cv_end(void)
{
    tulip_ctxvar_free(var);
    tulip_ctxvar_free(other);
    fx_end();
}

/* The value of var here, as an int. */
static int cur(void)
{
    return N(tulip_ctxvar_get(var));
}

Test(context, bad_input)
{
    struct tulip_ctxvar_token tok = {0};
    tulip_context *c = NULL;
    void *out;

    cv_begin();
    cr_assert_eq(tulip_ctxvar_new(NULL, NULL, NULL), -EINVAL);
    cr_assert_null(tulip_ctxvar_get(NULL));
    cr_assert_eq(tulip_ctxvar_lookup(NULL, &out), -EINVAL);
    cr_assert_eq(tulip_ctxvar_lookup(var, NULL), -EINVAL);
    cr_assert_eq(tulip_ctxvar_set(NULL, V(1), NULL), -EINVAL);
    cr_assert_eq(tulip_ctxvar_reset(NULL, &tok), -EINVAL);
    cr_assert_eq(tulip_ctxvar_reset(var, NULL), -EINVAL);
    cr_assert_eq(tulip_ctxvar_reset(var, &tok), -EALREADY); /* never set */
    tulip_ctxvar_token_drop(NULL);
    tulip_ctxvar_token_drop(&tok);
    tulip_ctxvar_free(NULL);
    cr_assert_eq(tulip_context_copy(NULL), -EINVAL);
    cr_assert_eq(tulip_context_copy(&c), 0);
    cr_assert_eq(tulip_context_run(NULL, log_cb, L("x")), -EINVAL);
    cr_assert_eq(tulip_context_run(c, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_context_lookup(NULL, var, &out), -EINVAL);
    cr_assert_eq(tulip_context_lookup(c, NULL, &out), -EINVAL);
    cr_assert_eq(tulip_context_lookup(c, var, NULL), -EINVAL);
    cr_assert_eq(tulip_context_lookup(c, var, &out), -ENOENT);
    cr_assert_eq(N(out), 0);
    tulip_context_free(c);
    tulip_context_free(NULL);
    cr_assert_eq(destroyed_total, 0);
    cv_end();
}

Test(context, root_set_get_reset)
{
    struct tulip_ctxvar_token t1, t2;
    void *out = V(99);

    cv_begin();
    cr_assert_eq(cur(), 0);
    cr_assert_eq(tulip_ctxvar_lookup(var, &out), -ENOENT);
    cr_assert_eq(N(out), 0);
    cr_assert_eq(tulip_ctxvar_set(var, V(1), &t1), 0);
    cr_assert_eq(tulip_ctxvar_set(var, V(2), &t2), 0);
    cr_assert_eq(cur(), 2);
    cr_assert_eq(tulip_ctxvar_lookup(var, &out), 0);
    cr_assert_eq(N(out), 2);
    cr_assert_eq(N(tulip_ctxvar_get(other)), 0);
    /* Value 1 is held by t2 (the old value) only. */
    cr_assert_eq(tulip_ctxvar_reset(var, &t2), 0);
    cr_assert_eq(cur(), 1);
    cr_assert_eq(destroyed[2], 1);
    cr_assert_eq(tulip_ctxvar_reset(var, &t2), -EALREADY);
    cr_assert_eq(tulip_ctxvar_reset(other, &t1), -EINVAL); /* another var */
    cr_assert_eq(tulip_ctxvar_reset(var, &t1), 0);
    cr_assert_eq(tulip_ctxvar_lookup(var, &out), -ENOENT);
    cr_assert_eq(destroyed[1], 1);
    cr_assert_eq(destroyed_total, 2);
    cv_end();
}

Test(context, reset_after_later_sets_and_dropped_tokens)
{
    struct tulip_ctxvar_token t1, t2;

    cv_begin();
    cr_assert_eq(tulip_ctxvar_set(var, V(1), &t1), 0);
    cr_assert_eq(tulip_ctxvar_set(var, V(2), &t2), 0);
    cr_assert_eq(tulip_ctxvar_set(var, V(3), NULL), 0);
    cr_assert_eq(destroyed[2], 1); /* no token holds it */
    cr_assert_eq(destroyed[1], 0); /* t2 holds it */
    /* t1 brings back the state before its set: unset. */
    cr_assert_eq(tulip_ctxvar_reset(var, &t1), 0);
    cr_assert_eq(cur(), 0);
    cr_assert_eq(destroyed[3], 1);
    cr_assert_eq(destroyed[1], 0);
    tulip_ctxvar_token_drop(&t2);
    cr_assert_eq(destroyed[1], 1);
    cr_assert_eq(tulip_ctxvar_reset(var, &t2), -EALREADY);
    tulip_ctxvar_token_drop(&t2); /* no-op */
    cr_assert_eq(destroyed_total, 3);
    cv_end();
}

/* ---- tasks ---------------------------------------------------------------
 */

static int child_seen, child_seen_after;

static int child_body(void *arg)
{
    (void)arg;
    child_seen = cur();
    cr_expect_eq(tulip_ctxvar_set(var, V(20), NULL), 0);
    tulip_sleep(TULIP_MSEC);
    child_seen_after = cur();
    return 0;
}

static int parent_body(void *arg)
{
    tulip_task *c = NULL;

    (void)arg;
    cr_expect_eq(cur(), 1); /* from the root */
    cr_expect_eq(tulip_ctxvar_set(var, V(10), NULL), 0);
    cr_expect_eq(tulip_spawn(&c, NULL, child_body, NULL), 0);
    /* After the spawn, before the child ran: not seen by the child. */
    cr_expect_eq(tulip_ctxvar_set(var, V(11), NULL), 0);
    cr_expect_eq(tulip_task_join(c, NULL), 0);
    tulip_task_release(c);
    log_add("parent:%d", cur());
    return 0;
}

Test(context, task_inherits_by_copy)
{
    struct tulip_ctxvar_token tok;

    cv_begin();
    cr_assert_eq(tulip_ctxvar_set(var, V(1), &tok), 0);
    tulip_task *p = fx_spawn(parent_body, NULL);
    /* Set at the root after the spawn: the parent copied 1 already. */
    cr_assert_eq(tulip_ctxvar_set(var, V(2), NULL), 0);
    fx_run();
    tulip_task_release(p);
    cr_assert_eq(child_seen, 10);
    cr_assert_eq(child_seen_after, 20);
    cr_assert_str_eq(fx_log, "parent:11");
    cr_assert_eq(cur(), 2); /* the root kept its own */
    /* Tasks' values went with them, once each. */
    cr_assert_eq(destroyed[10], 1);
    cr_assert_eq(destroyed[11], 1);
    cr_assert_eq(destroyed[20], 1);
    /* Replaced in the root and in the parent; tok holds the unset state. */
    cr_assert_eq(destroyed[1], 1);
    cr_assert_eq(tulip_ctxvar_reset(var, &tok), 0);
    cr_assert_eq(destroyed[2], 1);
    cr_assert_eq(destroyed_total, 5);
    cv_end();
}

static int sibling_body(void *arg)
{
    int me = N(arg);
    int want = me;

    cr_expect_eq(tulip_ctxvar_set(var, V(me), NULL), 0);
    for (int i = 0; i < 3; i++) {
        tulip_sleep(0);
        if (cur() != want)
            log_add("leak:%d:%d", want, cur());
        want = me + 10 * (i + 1);
        cr_expect_eq(tulip_ctxvar_set(var, V(want), NULL), 0);
    }
    return 0;
}

Test(context, siblings_are_isolated)
{
    cv_begin();
    tulip_task *a = fx_spawn(sibling_body, V(1));
    tulip_task *b = fx_spawn(sibling_body, V(2));
    fx_run();
    tulip_task_release(a);
    tulip_task_release(b);
    cr_assert_str_eq(fx_log, "");
    /* Each task's four values, each destroyed once. */
    cr_assert_eq(destroyed_total, 8);
    for (int i = 0; i < 64; i++)
        cr_assert_leq(destroyed[i], 1);
    cr_assert_eq(cur(), 0);
    cv_end();
}

/* ---- callbacks -----------------------------------------------------------
 */

static void report_cb(void *arg)
{
    log_add("%s:%d", (const char *)arg, cur());
}

static void setter_cb(void *arg)
{
    cr_expect_eq(tulip_ctxvar_set(var, arg, NULL), 0);
    log_add("set:%d", cur());
}

static int scheduler_body(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(5), NULL), 0);
    cr_expect_eq(tulip_call_soon(loop, report_cb, L("soon"), NULL), 0);
    cr_expect_eq(
        tulip_call_later(loop, TULIP_MSEC, report_cb, L("later"), NULL), 0);
    /* A callback's sets stay in its own copy. */
    cr_expect_eq(tulip_call_soon(loop, setter_cb, V(7), NULL), 0);
    cr_expect_eq(tulip_call_soon(loop, report_cb, L("after"), NULL), 0);
    cr_expect_eq(tulip_ctxvar_set(var, V(6), NULL), 0);
    tulip_sleep(2 * TULIP_MSEC);
    log_add("task:%d", cur());
    return 0;
}

Test(context, call_soon_and_call_later_capture)
{
    cv_begin();
    tulip_task *t = fx_spawn(scheduler_body, NULL);
    fx_run();
    tulip_task_release(t);
    cr_assert_str_eq(fx_log, "soon:5 set:7 after:5 later:5 task:6");
    cr_assert_eq(destroyed[5], 1);
    cr_assert_eq(destroyed[6], 1);
    cr_assert_eq(destroyed[7], 1);
    cr_assert_eq(destroyed_total, 3);
    cv_end();
}

Test(context, first_set_in_a_bare_callback_stays_in_it)
{
    /* Scheduled before any variable of the process was set: both run
     * bare, from one chunk of call_soon records. */
    cv_begin();
    cr_assert_eq(tulip_call_soon(loop, setter_cb, V(3), NULL), 0);
    cr_assert_eq(tulip_call_soon(loop, report_cb, L("next"), NULL), 0);
    tulip_handle *h = NULL;
    cr_assert_eq(tulip_call_soon(loop, setter_cb, V(4), &h), 0);
    cr_assert_eq(tulip_call_soon(loop, report_cb, L("last"), NULL), 0);
    fx_run();
    tulip_handle_release(h);
    cr_assert_str_eq(fx_log, "set:3 next:0 set:4 last:0");
    cr_assert_eq(destroyed[3], 1);
    cr_assert_eq(destroyed[4], 1);
    cr_assert_eq(cur(), 0);
    cv_end();
}

static int spawned_seen;

static int spawned_body(void *arg)
{
    (void)arg;
    spawned_seen = cur();
    return 0;
}

static void spawning_cb(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(8), NULL), 0);
    cr_expect_eq(tulip_spawn(NULL, loop, spawned_body, NULL), 0);
}

Test(context, task_spawned_by_a_callback_copies_its_context)
{
    struct tulip_ctxvar_token tok;

    cv_begin();
    cr_assert_eq(tulip_ctxvar_set(var, V(1), &tok), 0);
    cr_assert_eq(tulip_call_soon(loop, spawning_cb, NULL, NULL), 0);
    fx_run();
    cr_assert_eq(spawned_seen, 8);
    cr_assert_eq(cur(), 1);
    cr_assert_eq(destroyed[8], 1);
    cr_assert_eq(tulip_ctxvar_reset(var, &tok), 0);
    cr_assert_eq(destroyed[1], 1);
    cv_end();
}

Test(context, cancelled_and_discarded_callbacks_drop_their_context)
{
    struct tulip_ctxvar_token tok;
    tulip_handle *h1 = NULL, *h2 = NULL;

    cv_begin();
    cr_assert_eq(tulip_ctxvar_set(var, V(1), &tok), 0);
    cr_assert_eq(tulip_call_soon(loop, report_cb, L("a"), &h1), 0);
    cr_assert_eq(tulip_call_later(loop, TULIP_SEC, report_cb, L("b"), &h2), 0);
    cr_assert_eq(tulip_call_soon(loop, report_cb, L("c"), NULL), 0);
    cr_assert_eq(tulip_call_later(loop, TULIP_SEC, report_cb, L("d"), NULL), 0);
    tulip_handle_cancel(h1);
    tulip_handle_cancel(h2);
    tulip_handle_cancel(h2); /* again: no-op */
    tulip_handle_release(h1);
    tulip_handle_release(h2);
    cr_assert_eq(tulip_ctxvar_reset(var, &tok), 0);
    cr_assert_eq(destroyed[1], 0); /* c and d still hold it */
    /* Closed without running c and d: discarded with their contexts. */
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(destroyed[1], 1);
    cr_assert_str_eq(fx_log, "");
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    cv_end();
}

static tulip_future *fut;

static void fut_done_cb(tulip_future *f, void *arg)
{
    (void)f;
    log_add("%s:%d", (const char *)arg, cur());
    cr_expect_eq(tulip_ctxvar_set(var, V(9), NULL), 0); /* its own copy */
}

static int adder_body(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(3), NULL), 0);
    cr_expect_eq(tulip_future_add_done_callback(fut, fut_done_cb, L("cb")), 0);
    cr_expect_eq(tulip_ctxvar_set(var, V(4), NULL), 0);
    return 0;
}

static int completer_body(void *arg)
{
    (void)arg;
    tulip_sleep(TULIP_MSEC);
    cr_expect_eq(tulip_future_set_result(fut, NULL), 0);
    tulip_sleep(TULIP_MSEC);
    log_add("completer:%d", cur());
    return 0;
}

Test(context, done_callbacks_run_in_the_context_they_were_added_from)
{
    cv_begin();
    cr_assert_eq(tulip_future_new(&fut, loop), 0);
    tulip_task *a = fx_spawn(adder_body, NULL);
    tulip_task *c = fx_spawn(completer_body, NULL);
    fx_run();
    /* Added with an empty context: a fresh one, gone when it returns. */
    cr_assert_eq(tulip_future_add_done_callback(fut, fut_done_cb, L("late")),
                 0);
    fx_run();
    tulip_task_release(a);
    tulip_task_release(c);
    tulip_future_release(fut);
    cr_assert_str_eq(fx_log, "cb:3 completer:0 late:0");
    cr_assert_eq(destroyed[3], 1);
    cr_assert_eq(destroyed[4], 1);
    cr_assert_eq(destroyed[9], 2);
    cv_end();
}

static int pending_adder_body(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(7), NULL), 0);
    cr_expect_eq(tulip_future_add_done_callback(fut, fut_done_cb, L("x")), 0);
    cr_expect_eq(tulip_future_add_done_callback(fut, fut_done_cb, L("y")), 0);
    cr_expect_eq(tulip_future_remove_done_callback(fut, fut_done_cb, L("y")),
                 1);
    return 0;
}

Test(context, done_callbacks_never_run_give_their_context_back)
{
    cv_begin();
    cr_assert_eq(tulip_future_new(&fut, loop), 0);
    tulip_task *a = fx_spawn(pending_adder_body, NULL);
    fx_run();
    tulip_task_release(a);
    cr_assert_eq(destroyed[7], 0); /* x still holds it */
    tulip_future_release(fut);     /* never completed: x dropped */
    cr_assert_eq(destroyed[7], 1);
    cr_assert_str_eq(fx_log, "");
    cv_end();
}

/* ---- tokens across contexts ----------------------------------------------
 */

static struct tulip_ctxvar_token shared_tok;

static int token_maker(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(1), &shared_tok), 0);
    tulip_sleep(2 * TULIP_MSEC);
    cr_expect_eq(tulip_ctxvar_reset(var, &shared_tok), 0);
    log_add("maker:%d", cur());
    return 0;
}

static int token_thief(void *arg)
{
    (void)arg;
    tulip_sleep(TULIP_MSEC);
    log_add("thief:%s", tulip_err_name(tulip_ctxvar_reset(var, &shared_tok)));
    cr_expect_eq(tulip_ctxvar_set(var, V(2), NULL), 0);
    log_add("thief:%s", tulip_err_name(tulip_ctxvar_reset(var, &shared_tok)));
    return 0;
}

Test(context, token_from_another_context)
{
    cv_begin();
    tulip_task *a = fx_spawn(token_maker, NULL);
    tulip_task *b = fx_spawn(token_thief, NULL);
    fx_run();
    tulip_task_release(a);
    tulip_task_release(b);
    cr_assert_str_eq(fx_log, "thief:EXDEV thief:EXDEV maker:0");
    /* Also from the root. */
    cr_assert_eq(tulip_ctxvar_reset(var, &shared_tok), -EALREADY);
    cr_assert_eq(destroyed[1], 1);
    cr_assert_eq(destroyed[2], 1);
    cv_end();
}

/* ---- values of tasks cancelled or destroyed -------------------------------
 */

static int holder_body(void *arg)
{
    cr_expect_eq(tulip_ctxvar_set(var, arg, NULL), 0);
    int rc = tulip_sleep(TULIP_SEC);
    log_add("%d:%s", N(arg), tulip_err_name(rc));
    return rc;
}

Test(context, values_of_cancelled_and_destroyed_tasks)
{
    cv_begin();
    tulip_task *a = fx_spawn(holder_body, V(1));
    tulip_task *b = fx_spawn(holder_body, V(2));
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_eq(tulip_task_cancel(a), 0);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_str_eq(fx_log, "1:ECANCELED");
    cr_assert_eq(destroyed[1], 1);
    cr_assert_eq(destroyed[2], 0);
    tulip_task_release(a);
    tulip_task_release(b);
    /* b is pending: destroyed by close, its value with it. */
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(destroyed[2], 1);
    cr_assert_eq(destroyed_total, 2);
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    cv_end();
}

/* ---- tulip_context_run ----------------------------------------------------
 */

static tulip_context *ctx_a;

static void in_ctx(void *arg)
{
    log_add("in:%d", cur());
    cr_expect_eq(tulip_ctxvar_set(var, arg, NULL), 0);
    cr_expect_eq(tulip_context_run(ctx_a, log_cb, L("x")), -EBUSY);
}

Test(context, context_run_keeps_what_fn_sets)
{
    struct tulip_ctxvar_token t1, t2;
    void *out;

    cv_begin();
    cr_assert_eq(tulip_ctxvar_set(var, V(1), &t1), 0);
    cr_assert_eq(tulip_context_copy(&ctx_a), 0);
    cr_assert_eq(tulip_ctxvar_set(var, V(2), &t2), 0);
    cr_assert_eq(tulip_context_run(ctx_a, in_ctx, V(3)), 0);
    cr_assert_eq(cur(), 2);
    cr_assert_eq(tulip_context_lookup(ctx_a, var, &out), 0);
    cr_assert_eq(N(out), 3);
    cr_assert_eq(tulip_context_run(ctx_a, in_ctx, V(4)), 0);
    cr_assert_str_eq(fx_log, "in:1 in:3");
    cr_assert_eq(destroyed[1], 0); /* t2 holds it */
    cr_assert_eq(destroyed[3], 1);
    tulip_context_free(ctx_a);
    cr_assert_eq(destroyed[4], 1);
    cr_assert_eq(tulip_ctxvar_reset(var, &t2), 0);
    cr_assert_eq(cur(), 1);
    cr_assert_eq(destroyed[2], 1);
    cr_assert_eq(tulip_ctxvar_reset(var, &t1), 0);
    cr_assert_eq(destroyed[1], 1);
    cr_assert_eq(destroyed_total, 4);
    cv_end();
}

static void suspend_in_ctx(void *arg)
{
    log_add("%s:%d", (const char *)arg, cur());
    tulip_sleep(TULIP_MSEC);
    log_add("%s:%d", (const char *)arg, cur());
}

static int runner_body(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(5), NULL), 0);
    cr_expect_eq(tulip_context_run(ctx_a, suspend_in_ctx, L("r")), 0);
    log_add("r:%d", cur());
    return 0;
}

static int bystander_body(void *arg)
{
    (void)arg;
    log_add("b:%d", cur());
    cr_expect_eq(tulip_context_run(ctx_a, log_cb, L("x")), -EBUSY);
    return 0;
}

Test(context, context_run_in_a_task_that_suspends)
{
    struct tulip_ctxvar_token t1, t2;

    cv_begin();
    cr_assert_eq(tulip_ctxvar_set(var, V(1), &t1), 0);
    cr_assert_eq(tulip_context_copy(&ctx_a), 0);
    cr_assert_eq(tulip_ctxvar_set(var, V(2), &t2), 0);
    tulip_task *r = fx_spawn(runner_body, NULL);
    tulip_task *b = fx_spawn(bystander_body, NULL);
    fx_run();
    tulip_task_release(r);
    tulip_task_release(b);
    cr_assert_str_eq(fx_log, "r:1 b:2 r:1 r:5");
    tulip_context_free(ctx_a);
    cr_assert_eq(destroyed[5], 1);
    cr_assert_eq(tulip_ctxvar_reset(var, &t2), 0);
    cr_assert_eq(tulip_ctxvar_reset(var, &t1), 0);
    cr_assert_eq(destroyed[1], 1);
    cr_assert_eq(destroyed[2], 1);
    cv_end();
}

static void sleep_forever_in_ctx(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(6), NULL), 0);
    tulip_sleep(TULIP_SEC);
}

static int stuck_runner_body(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_ctxvar_set(var, V(5), NULL), 0);
    cr_expect_eq(tulip_context_run(ctx_a, sleep_forever_in_ctx, NULL), 0);
    return 0;
}

Test(context, task_destroyed_inside_context_run)
{
    cv_begin();
    cr_assert_eq(tulip_context_copy(&ctx_a), 0);
    tulip_task *r = fx_spawn(stuck_runner_body, NULL);
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    tulip_task_release(r);
    /* Destroyed while ctx_a is entered: the task's own context (5) goes,
     * ctx_a is left entered by nobody and usable again. */
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(destroyed[5], 1);
    cr_assert_eq(destroyed[6], 0);
    cr_assert_eq(tulip_context_run(ctx_a, log_cb, L("again")), 0);
    tulip_context_free(ctx_a);
    cr_assert_eq(destroyed[6], 1);
    cr_assert_str_eq(fx_log, "again");
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    cv_end();
}

/* ---- out of memory --------------------------------------------------------
 */

static int oom_child(void *arg)
{
    (void)arg;
    return cur();
}

Test(context, enomem_everywhere)
{
    struct tulip_ctxvar_token tok;
    tulip_context *c;
    int rc, n;

    cv_begin();
    /* set: the record, the root's context object, the map. */
    for (n = 1;; n++) {
        test_alloc_fail_nth(&alloc_c, (unsigned long)n, false);
        rc = tulip_ctxvar_set(var, V(n), &tok);
        if (rc == 0)
            break;
        cr_assert_eq(rc, -ENOMEM);
        cr_assert_eq(cur(), 0);
        cr_assert_eq(destroyed_total, 0); /* the caller's still */
    }
    cr_assert_geq(n, 3);
    test_alloc_fail_nth(&alloc_c, 0, false);
    cr_assert_eq(cur(), n);
    /* copy */
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_context_copy(&c), -ENOMEM);
    /* reset: a new (empty) map costs nothing, so set another variable
     * first to make the reset build one. */
    struct tulip_ctxvar_token t2, t3;
    cr_assert_eq(tulip_ctxvar_set(other, V(1), &t2), 0);
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_ctxvar_reset(var, &tok), -ENOMEM);
    cr_assert_eq(cur(), n);
    cr_assert_eq(tulip_ctxvar_reset(var, &tok), 0);
    cr_assert_eq(destroyed[n], 1);
    cr_assert_eq(tulip_ctxvar_set(var, V(40), &t3), 0);
    /* spawn copies the root's context: fails cleanly. */
    for (n = 1;; n++) {
        test_alloc_fail_nth(&alloc_c, (unsigned long)n, false);
        rc = tulip_spawn(NULL, loop, oom_child, NULL);
        if (rc == 0)
            break;
        cr_assert_eq(rc, -ENOMEM);
    }
    /* call_soon and call_later capture it. */
    for (n = 1;; n++) {
        test_alloc_fail_nth(&alloc_c, (unsigned long)n, false);
        rc = tulip_call_soon(loop, report_cb, L("s"), NULL);
        if (rc == 0)
            break;
        cr_assert_eq(rc, -ENOMEM);
    }
    for (n = 1;; n++) {
        test_alloc_fail_nth(&alloc_c, (unsigned long)n, false);
        rc = tulip_call_later(loop, 1, report_cb, L("l"), NULL);
        if (rc == 0)
            break;
        cr_assert_eq(rc, -ENOMEM);
    }
    test_alloc_fail_nth(&alloc_c, 0, false);
    fx_run();
    cr_assert_str_eq(fx_log, "s:40 l:40");
    cr_assert_eq(tulip_ctxvar_reset(var, &t3), 0);
    cr_assert_eq(tulip_ctxvar_reset(other, &t2), 0);
    cr_assert_eq(destroyed[40], 1);
    cv_end();
}

static int first_ok, first_cur;

static int set_in_task_body(void *arg)
{
    int rc;
    int n;

    (void)arg;
    for (n = 1;; n++) {
        test_alloc_fail_nth(&alloc_c, (unsigned long)n, false);
        rc = tulip_ctxvar_set(var, V(n), NULL);
        if (rc == 0)
            break;
        cr_expect_eq(rc, -ENOMEM);
        cr_expect_eq(cur(), 0);
    }
    test_alloc_fail_nth(&alloc_c, 0, false);
    first_ok = n;
    first_cur = cur();
    return 0;
}

Test(context, enomem_on_a_tasks_first_set)
{
    cv_begin();
    tulip_task *t = fx_spawn(set_in_task_body, NULL);
    fx_run();
    tulip_task_release(t);
    /* the record, the table and its array, the context object, the map */
    cr_assert_geq(first_ok, 4);
    cr_assert_eq(first_cur, first_ok);
    cr_assert_eq(destroyed[first_ok], 1);
    cr_assert_eq(destroyed_total, 1);
    cv_end();
}
