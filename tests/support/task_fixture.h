/* SPDX-License-Identifier: MIT */
/*
 * A fixture for the task layer's tests, header-only (each test file is its
 * own executable): one loop on the virtual clock, created with the counting
 * allocator installed and an error handler that records reports, and a
 * closing check that the loop closes with 0, that no byte allocated through
 * the hook is left, and that the stack pool has as many stacks in use as
 * before. A log of short words records the order in which things happened.
 *
 * Task bodies run on coroutine stacks, where cr_assert must never be used
 * (it longjmps off the stack): bodies record what they see, or use
 * cr_expect, and the test asserts on the main stack after running the loop.
 */
#ifndef TULIP_TEST_TASK_FIXTURE_H
#define TULIP_TEST_TASK_FIXTURE_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc_hook.h"
#include "tulip.h"

/* A string literal passed through a void * argument. */
#define L(s) ((void *)(uintptr_t)(s))

/* Not every test file uses every helper. */
#define FX_UNUSED __attribute__((unused))

static FX_UNUSED tulip_loop *loop;          /* the test's loop */
static FX_UNUSED struct test_alloc alloc_c; /* the counting allocator */
static FX_UNUSED long long fx_bytes0; /* live bytes when the loop was made */
static FX_UNUSED size_t fx_stacks0;   /* stacks in use when the loop was made */

/* Error reports received by the loop's handler. */
static FX_UNUSED int fx_reports;
static FX_UNUSED char fx_report_msg[256];
static FX_UNUSED int fx_report_err;
static FX_UNUSED void *fx_report_obj;

/* The order of events. */
static FX_UNUSED char fx_log[8192];

static FX_UNUSED void log_add(const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(fx_log);

    if (n && n < sizeof(fx_log) - 1)
        fx_log[n++] = ' ';
    va_start(ap, fmt);
    vsnprintf(fx_log + n, sizeof(fx_log) - n, fmt, ap);
    va_end(ap);
}

/* A loop callback that logs its argument, a string literal. */
static FX_UNUSED void log_cb(void *arg)
{
    log_add("%s", (const char *)arg);
}

static FX_UNUSED void
fx_on_error(tulip_loop *l, const struct tulip_error_context *ctx, void *ud)
{
    (void)l;
    (void)ud;
    fx_reports++;
    snprintf(fx_report_msg, sizeof(fx_report_msg), "%s", ctx->message);
    fx_report_err = ctx->err;
    fx_report_obj = ctx->object;
}

static FX_UNUSED size_t fx_stacks_in_use(void)
{
    struct tulip_stack_stats st;

    tulip_stack_stats(&st);
    return st.in_use;
}

static FX_UNUSED int fx_warm_body(void *arg)
{
    (void)arg;
    return tulip_sleep(0);
}

/* Make the loop. The thread's stack pool keeps its bookkeeping (lists that
 * grow with the number of live stacks) for good, so a first loop with
 * FX_WARM_TASKS live tasks warms it before the byte count starts. */
#define FX_WARM_TASKS 256
static FX_UNUSED void fx_begin(void)
{
    struct tulip_loop_opts o = {.virtual_clock = true};

    test_alloc_install(&alloc_c);
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    for (int i = 0; i < FX_WARM_TASKS; i++)
        cr_assert_eq(tulip_spawn(NULL, loop, fx_warm_body, NULL), 0);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(tulip_loop_close(loop), 0);
    fx_bytes0 = alloc_c.live_bytes;
    fx_stacks0 = fx_stacks_in_use();
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    cr_assert_eq(tulip_loop_set_error_handler(loop, fx_on_error, NULL), 0);
    fx_reports = 0;
    fx_report_msg[0] = '\0';
    fx_report_err = 0;
    fx_report_obj = NULL;
    fx_log[0] = '\0';
}

/* Close the loop and check that nothing leaked. */
static FX_UNUSED void fx_end(void)
{
    cr_assert_eq(tulip_loop_close(loop), 0);
    loop = NULL;
    cr_assert_eq(fx_stacks_in_use(), fx_stacks0, "stacks in use: %zu, not %zu",
                 fx_stacks_in_use(), fx_stacks0);
    cr_assert_eq(alloc_c.live_bytes, fx_bytes0, "leaked %lld bytes",
                 alloc_c.live_bytes - fx_bytes0);
    test_alloc_remove();
}

static FX_UNUSED void fx_run(void)
{
    cr_assert_eq(tulip_loop_run(loop), 0);
}

/* Spawn fn(arg) with a reference for the test. */
static FX_UNUSED tulip_task *fx_spawn(tulip_task_fn *fn, void *arg)
{
    tulip_task *t = NULL;

    cr_assert_eq(tulip_spawn(&t, loop, fn, arg), 0);
    cr_assert_not_null(t);
    return t;
}

/* The result of a finished task (read on the main stack). */
static FX_UNUSED int fx_result(tulip_task *t)
{
    int r = 12345;

    cr_assert(tulip_task_done(t), "task %s not done", tulip_task_name(t));
    cr_assert_eq(tulip_task_result(t, &r), 0);
    return r;
}

/* Run the loop until t has finished; its result. */
static FX_UNUSED int fx_run_until(tulip_task *t)
{
    int r = 12345;

    cr_assert_eq(tulip_loop_run_until(loop, t, &r), 0);
    return r;
}

#define FX_LOG_IS(s) cr_assert_str_eq(fx_log, (s))

#endif /* TULIP_TEST_TASK_FIXTURE_H */
