/* SPDX-License-Identifier: MIT */
/*
 * tulip_barrier: bad arguments (NULL, zero and negative parties, outside
 * tasks), arrival indices and repeated rounds, a one-party barrier, waiters
 * that are cancelled or time out while filling (they withdraw at once, the
 * barrier is not broken, and a later arrival does not pass a round short of
 * parties), a release in the same pass as a cancel, abort and reset with
 * waiters and the broken state, and freeing with waiters. Every test closes
 * its loop with 0 and checks that no byte and no stack leaked.
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"
#include "tools.h"

#include <limits.h>

static tulip_barrier *bar;

struct waiter {
    const char *name;
    int64_t delay_ns;    /* arrives after this */
    int64_t deadline_ns; /* 0: TULIP_FOREVER */
    int rounds;          /* 0: 1 */
    int rc;
    int index;
    int rc_after;
    int64_t at;
};

static int waiter_body(void *arg)
{
    struct waiter *w = arg;

    tulip_sleep(w->delay_ns);
    for (int r = 0; r < (w->rounds ? w->rounds : 1); r++) {
        w->index = -1;
        w->rc = tulip_barrier_wait_until(
            bar, w->deadline_ns ? w->deadline_ns : TULIP_FOREVER, &w->index);
        w->at = tulip_now();
        if (w->rc == 0)
            log_add("%s:%d", w->name, w->index);
        else
            log_add("%s:%s", w->name, tulip_err_name(w->rc));
        if (w->rc)
            break;
    }
    w->rc_after = tulip_sleep(0);
    return 0;
}

static void bar_begin(int parties)
{
    fx_begin();
    cr_assert_eq(tulip_barrier_new(&bar, parties), 0);
}

static void bar_end(void)
{
    tulip_barrier_free(bar);
    bar = NULL;
    fx_end();
}

static void run_and_release(tulip_task **t, int n)
{
    fx_run();
    for (int i = 0; i < n; i++) {
        cr_assert(tulip_task_done(t[i]));
        tulip_task_release(t[i]);
    }
}

static void cancel_cb(void *arg)
{
    tulip_task_cancel(arg);
}

Test(barrier, bad_input)
{
    tulip_barrier *b = (tulip_barrier *)1;

    bar_begin(2);
    cr_assert_eq(tulip_barrier_new(NULL, 2), -EINVAL);
    cr_assert_eq(tulip_barrier_new(&b, 0), -EINVAL);
    cr_assert_null(b);
    cr_assert_eq(tulip_barrier_new(&b, -3), -EINVAL);
    tulip_barrier_free(NULL);
    cr_assert_eq(tulip_barrier_wait(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_barrier_wait_until(NULL, 0, NULL), -EINVAL);
    cr_assert_eq(tulip_barrier_new(&b, INT_MIN), -EINVAL);
    cr_assert_null(b);
    cr_assert_eq(tulip_barrier_abort(NULL), -EINVAL);
    cr_assert_eq(tulip_barrier_reset(NULL), -EINVAL);
    cr_assert_eq(tulip_barrier_n_waiting(NULL), -EINVAL);
    cr_assert_eq(tulip_barrier_parties(NULL), -EINVAL);
    cr_assert_not(tulip_barrier_broken(NULL));
    cr_assert_eq(tulip_barrier_wait(bar, NULL), -EPERM);
    cr_assert_eq(tulip_barrier_parties(bar), 2);
    cr_assert_eq(tulip_barrier_n_waiting(bar), 0);
    test_alloc_fail_nth(&alloc_c, 1, false);
    cr_assert_eq(tulip_barrier_new(&b, 2), -ENOMEM);
    cr_assert_null(b);
    bar_end();
}

Test(barrier, indices_in_arrival_order_over_rounds)
{
    struct waiter w[3] = {
        {.name = "A", .rounds = 3},
        {.name = "B", .delay_ns = TULIP_SEC, .rounds = 3},
        {.name = "C", .delay_ns = 2 * TULIP_SEC, .rounds = 3}};
    tulip_task *t[3];

    bar_begin(3);
    for (int i = 0; i < 3; i++)
        t[i] = fx_spawn(waiter_body, &w[i]);
    run_and_release(t, 3);
    /* C arrives last (index 2) and passes first, and starts the next round
     * at once (index 0 there), while A and B have yet to wake up */
    FX_LOG_IS("C:2 A:0 B:1 B:2 C:0 A:1 A:2 B:0 C:1");
    cr_assert_eq(w[0].at, 2 * TULIP_SEC);
    cr_assert_eq(tulip_barrier_n_waiting(bar), 0);
    bar_end();
}

Test(barrier, one_party_passes_at_once)
{
    struct waiter a = {.name = "A", .rounds = 2};

    bar_begin(1);
    tulip_task *t = fx_spawn(waiter_body, &a);
    run_and_release(&t, 1);
    FX_LOG_IS("A:0 A:0");
    bar_end();
}

Test(barrier, cancelled_waiter_withdraws_without_breaking)
{
    struct waiter a = {.name = "A"}, b = {.name = "B"};
    struct waiter c = {.name = "C", .delay_ns = 2 * TULIP_SEC};
    struct waiter d = {.name = "D", .delay_ns = 3 * TULIP_SEC};

    bar_begin(3);
    tulip_task *t[4] = {fx_spawn(waiter_body, &a), fx_spawn(waiter_body, &b),
                        fx_spawn(waiter_body, &c), fx_spawn(waiter_body, &d)};
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t[1], NULL);
    /* C arrives at 2 s: only A waits, so C must not pass */
    run_and_release(t, 4);
    FX_LOG_IS("B:ECANCELED D:2 A:0 C:1");
    cr_assert_eq(a.at, 3 * TULIP_SEC);
    cr_assert_not(tulip_barrier_broken(bar));
    bar_end();
}

/* The waiter's timer fires and, in the same pass, the set would be
 * complete: the departed waiter must not be counted. */
Test(barrier, timed_out_waiter_is_not_counted_in_the_same_pass)
{
    struct waiter a = {.name = "A"};
    struct waiter b = {.name = "B", .deadline_ns = TULIP_SEC};
    struct waiter c = {.name = "C", .delay_ns = TULIP_SEC};
    struct waiter d = {.name = "D", .delay_ns = 2 * TULIP_SEC};

    SKIP_UNDER_FORCED_YIELD("two passes do not bring A and B to their wait");
    bar_begin(3);
    tulip_task *t[4] = {fx_spawn(waiter_body, &a), fx_spawn(waiter_body, &b),
                        fx_spawn(waiter_body, &c), fx_spawn(waiter_body, &d)};
    tulip_loop_run_once(loop);
    tulip_loop_run_once(loop); /* past the sleep(0) */
    cr_assert_eq(tulip_barrier_n_waiting(bar), 2);
    run_and_release(t, 4);
    FX_LOG_IS("B:ETIMEDOUT D:2 A:0 C:1");
    cr_assert_eq(b.at, TULIP_SEC);
    bar_end();
}

static int last_then_cancel_body(void *arg)
{
    tulip_task *victim = arg;
    int index = -1;
    int rc;

    tulip_sleep(TULIP_SEC);
    rc = tulip_barrier_wait(bar, &index);
    tulip_task_cancel(victim);
    log_add("L:%d:%d", rc, index);
    return 0;
}

Test(barrier, released_then_cancelled_in_the_same_pass_passes)
{
    struct waiter a = {.name = "A"};

    bar_begin(2);
    tulip_task *t[2] = {fx_spawn(waiter_body, &a), NULL};
    t[1] = fx_spawn(last_then_cancel_body, t[0]);
    run_and_release(t, 2);
    FX_LOG_IS("L:0:1 A:0");
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.rc_after, -ECANCELED);
    bar_end();
}

static void abort_cb(void *arg)
{
    (void)arg;
    log_add("abort");
    tulip_barrier_abort(bar);
}

static void reset_cb(void *arg)
{
    (void)arg;
    log_add("reset");
    tulip_barrier_reset(bar);
}

Test(barrier, abort_breaks_until_reset)
{
    struct waiter a = {.name = "A"}, b = {.name = "B"};
    struct waiter c = {.name = "C", .delay_ns = 2 * TULIP_SEC};

    bar_begin(3);
    tulip_task *t[3] = {fx_spawn(waiter_body, &a), fx_spawn(waiter_body, &b),
                        fx_spawn(waiter_body, &c)};
    tulip_call_later(loop, TULIP_SEC, abort_cb, NULL, NULL);
    run_and_release(t, 3);
    FX_LOG_IS("abort A:TULIP_EBROKEN B:TULIP_EBROKEN C:TULIP_EBROKEN");
    cr_assert(tulip_barrier_broken(bar));
    cr_assert_eq(tulip_barrier_reset(bar), 0);
    cr_assert_not(tulip_barrier_broken(bar));
    struct waiter d = {.name = "D"}, e = {.name = "E"}, f = {.name = "F"};
    tulip_task *u[3] = {fx_spawn(waiter_body, &d), fx_spawn(waiter_body, &e),
                        fx_spawn(waiter_body, &f)};
    fx_log[0] = '\0';
    run_and_release(u, 3);
    FX_LOG_IS("F:2 D:0 E:1");
    bar_end();
}

Test(barrier, reset_with_waiters_breaks_their_round_only)
{
    struct waiter a = {.name = "A"};
    struct waiter b = {.name = "B", .delay_ns = 2 * TULIP_SEC};
    struct waiter c = {.name = "C", .delay_ns = 3 * TULIP_SEC};

    bar_begin(2);
    tulip_task *t[3] = {fx_spawn(waiter_body, &a), fx_spawn(waiter_body, &b),
                        fx_spawn(waiter_body, &c)};
    tulip_call_later(loop, TULIP_SEC, reset_cb, NULL, NULL);
    run_and_release(t, 3);
    FX_LOG_IS("reset A:TULIP_EBROKEN C:1 B:0");
    cr_assert_not(tulip_barrier_broken(bar));
    bar_end();
}

Test(barrier, free_with_waiters)
{
    struct waiter a = {.name = "A"};

    SKIP_UNDER_FORCED_YIELD("one pass does not bring the task to its wait");
    bar_begin(2);
    tulip_task *t = fx_spawn(waiter_body, &a);
    tulip_loop_run_once(loop);
    tulip_loop_run_once(loop);
    tulip_barrier_free(bar);
    bar = NULL;
    run_and_release(&t, 1);
    cr_assert_eq(a.rc, TULIP_ECLOSED);
    fx_end();
}
