/* SPDX-License-Identifier: MIT */
/*
 * tulip_run(), asyncio.run's counterpart: the main task's result, its
 * options, -EINVAL / -EBUSY (nested, or handles kept) / -EDEADLK (a main
 * task waiting for a future nobody will set), tasks still running when the
 * main task returns are cancelled and awaited (their cleanup runs), -ENOMEM
 * at every allocation with nothing leaked, and no stack left in use.
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"

static const struct tulip_run_opts vopts = {.loop = {.virtual_clock = true}};

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

/* A first run with FX_WARM_TASKS live tasks, as fx_begin's loop. */
static int warm_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < FX_WARM_TASKS; i++)
        if (tulip_spawn(NULL, tulip_task_loop(tulip_task_current()),
                        fx_warm_body, NULL) != 0)
            return -1;
    return tulip_sleep(TULIP_MSEC); /* they all finish meanwhile */
}

/* Leak accounting around tulip_run, which makes and closes its own loop:
 * a first run warms the thread's stack pool before counting starts, with
 * as many live tasks as fx_begin: the pool keeps for good the bookkeeping
 * of its free stacks, whose size depends on how many have been live at
 * once beyond its warm cache (one stack in the stress build). */
static void run_begin(void)
{
    int result = -1;

    cr_assert_eq(tulip_run(warm_main, NULL, &result, &vopts), 0);
    cr_assert_eq(result, 0);
    test_alloc_install(&alloc_c);
    fx_stacks0 = fx_stacks_in_use();
    fx_log[0] = '\0';
}

static void run_end(void)
{
    cr_assert_eq(fx_stacks_in_use(), fx_stacks0);
    cr_assert_eq(alloc_c.live_bytes, 0, "leaked %lld bytes",
                 alloc_c.live_bytes);
    test_alloc_remove();
}

Test(run, result_and_errors)
{
    int result = 0;

    run_begin();
    cr_assert_eq(tulip_run(ret_arg, (void *)42, &result, &vopts), 0);
    cr_assert_eq(result, 42);
    cr_assert_eq(tulip_run(ret_arg, (void *)-5, &result, NULL), 0);
    cr_assert_eq(result, -5);
    cr_assert_eq(tulip_run(ret_arg, NULL, NULL, NULL), 0);
    cr_assert_eq(tulip_run(NULL, NULL, &result, NULL), -EINVAL);
    cr_assert_null(tulip_loop_current());
    run_end();
}

static int name_and_clock(void *arg)
{
    const char **name = arg;
    *name = tulip_task_name(tulip_task_current());
    tulip_sleep(3600 * TULIP_SEC); /* instant on the virtual clock */
    return tulip_now() == 3600 * TULIP_SEC ? 0 : -1;
}

Test(run, options_apply)
{
    struct tulip_run_opts o = {.loop = {.virtual_clock = true},
                               .task = {.name = "main"}};
    const char *name = NULL;
    int result = 1;

    run_begin();
    cr_assert_eq(tulip_run(name_and_clock, &name, &result, &o), 0);
    cr_assert_eq(result, 0);
    cr_assert_not_null(name);
    run_end();
}

static int nested_run(void *arg)
{
    int *rc = arg;
    *rc = tulip_run(ret_arg, NULL, NULL, NULL);
    return 0;
}

Test(run, nested_run_ebusy)
{
    int rc = 0;

    run_begin();
    cr_assert_eq(tulip_run(nested_run, &rc, NULL, &vopts), 0);
    cr_assert_eq(rc, -EBUSY);
    run_end();
}

/* A main task that keeps a handle of its loop past the run. */
static tulip_loop *kept_loop;
static tulip_handle *kept_handle;

static void never_called(void *arg)
{
    (void)arg;
    cr_assert_fail("a handle of a finished run fired");
}

static int keeps_a_handle(void *arg)
{
    (void)arg;
    kept_loop = tulip_loop_current();
    cr_assert_eq(tulip_loop_set_error_handler(kept_loop, fx_on_error, NULL), 0);
    return tulip_call_later(kept_loop, TULIP_SEC, never_called, NULL,
                            &kept_handle);
}

Test(run, unreleased_handle_leaves_loop_open)
{
    int result = -1;

    run_begin();
    fx_reports = 0;
    cr_assert_eq(tulip_run(keeps_a_handle, NULL, &result, &vopts), -EBUSY);
    cr_assert_eq(result, 0);
    cr_assert_eq(fx_reports, 1);
    cr_assert_eq(fx_report_err, -EBUSY);
    cr_assert_eq(fx_report_obj, kept_loop);
    /* the program releases what it held, then closes: nothing leaks */
    tulip_handle_release(kept_handle);
    cr_assert_eq(tulip_loop_close(kept_loop), 0);
    run_end();
}

static int waits_forever(void *arg)
{
    tulip_future *f;
    int *seen = arg;

    tulip_future_new(&f, tulip_task_loop(tulip_task_current()));
    *seen = tulip_future_await(f, NULL);
    tulip_future_release(f);
    return 0;
}

Test(run, main_waiting_forever_edeadlk)
{
    int seen = 1, result = 99;

    run_begin();
    cr_assert_eq(tulip_run(waits_forever, &seen, &result, &vopts), -EDEADLK);
    /* The main task was cancelled so that it could clean up. */
    cr_assert_eq(seen, -ECANCELED);
    run_end();
}

/* A background task still running when main returns: cancelled, and its
 * (shielded, sleeping) cleanup runs before tulip_run returns. */
static int background(void *arg)
{
    struct tulip_scope sh;
    int rc;

    (void)arg;
    while ((rc = tulip_sleep(TULIP_SEC)) == 0)
        log_add("tick");
    tulip_scope_enter(&sh, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    cr_expect_eq(tulip_sleep(TULIP_SEC), 0);
    tulip_scope_exit(&sh);
    log_add("cleanup");
    return rc;
}

static int main_with_leftovers(void *arg)
{
    (void)arg;
    tulip_spawn(NULL, tulip_task_loop(tulip_task_current()), background, NULL);
    tulip_spawn(NULL, tulip_task_loop(tulip_task_current()), background, NULL);
    tulip_sleep(2500 * TULIP_MSEC);
    log_add("main");
    return 7;
}

Test(run, leftover_tasks_cancelled_and_awaited)
{
    int result = 0;

    run_begin();
    cr_assert_eq(tulip_run(main_with_leftovers, NULL, &result, &vopts), 0);
    cr_assert_eq(result, 7);
    FX_LOG_IS("tick tick tick tick main cleanup cleanup");
    run_end();
}

/* A main task that fails is the caller's result, not a report. */
static int main_fails(void *arg)
{
    (void)arg;
    tulip_sleep(TULIP_MSEC);
    return -EIO;
}

Test(run, failing_main_result)
{
    int result = 0;

    run_begin();
    cr_assert_eq(tulip_run(main_fails, NULL, &result, &vopts), 0);
    cr_assert_eq(result, -EIO);
    run_end();
}

Test(run, enomem_at_every_allocation)
{
    int result = 0, rc = -1;
    unsigned long n;

    run_begin();
    for (n = 1; n < 100; n++) {
        result = 0;
        test_alloc_fail_nth(&alloc_c, n, false);
        rc = tulip_run(ret_arg, (void *)3, &result, &vopts);
        test_alloc_fail_nth(&alloc_c, 0, false);
        cr_assert_eq(alloc_c.live_bytes, 0, "n=%lu: leaked %lld", n,
                     alloc_c.live_bytes);
        cr_assert_eq(fx_stacks_in_use(), fx_stacks0);
        if (rc == 0 && alloc_c.failures == 0)
            break;
        cr_assert(rc == 0 || rc == -ENOMEM, "n=%lu rc=%d", n, rc);
        cr_assert(rc != 0 || result == 3);
        alloc_c.failures = 0;
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(result, 3);
    cr_assert_gt(n, 1);
    run_end();
}
