/* SPDX-License-Identifier: MIT */
/*
 * tulip_lock: bad arguments and misuse (NULL, outside tasks, unlocking a
 * lock not held, re-entry), strict FIFO hand-off without barging, and
 * cancellation and deadlines at every waiting point: before the call, while
 * waiting, and in the same pass as the hand-off, checking each time that
 * the lock is never leaked to a task that left, that the next waiter is
 * served, and that nobody deadlocks. Every test closes its loop with 0 and
 * checks that no byte and no stack leaked.
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"
#include "tools.h"

static tulip_lock *lk;

/* A task that acquires lk (with a deadline), records what it saw, holds the
 * lock for hold_ns, and releases it. */
struct waiter {
    const char *name;
    int64_t deadline_ns; /* of the acquire; 0: TULIP_FOREVER */
    int64_t hold_ns;     /* time held */
    int rc;              /* of the acquire */
    int rc_after;        /* of a sleep(0) right after it */
    int rc_release;      /* of the release */
    int64_t at;          /* when the acquire returned */
};

static int waiter_body(void *arg)
{
    struct waiter *w = arg;

    w->rc = tulip_lock_acquire_until(lk, w->deadline_ns ? w->deadline_ns
                                                        : TULIP_FOREVER);
    w->at = tulip_now();
    log_add("%s:%s", w->name, w->rc == 0 ? "got" : tulip_err_name(w->rc));
    if (w->rc != 0)
        return w->rc;
    w->rc_after = tulip_sleep(w->hold_ns);
    w->rc_release = tulip_lock_release(lk);
    log_add("%s:rel", w->name);
    return 0;
}

static tulip_task *spawn_waiter(struct waiter *w)
{
    return fx_spawn(waiter_body, w);
}

static void lock_begin(void)
{
    fx_begin();
    cr_assert_eq(tulip_lock_new(&lk), 0);
}

static void lock_end(void)
{
    cr_assert_not(tulip_lock_locked(lk), "lock leaked");
    tulip_lock_free(lk);
    lk = NULL;
    fx_end();
}

/* ---- bad input and misuse ------------------------------------------------ */

static int rc_misuse[8];

static int misuse_body(void *arg)
{
    (void)arg;
    rc_misuse[0] = tulip_lock_release(lk);     /* not held */
    rc_misuse[1] = tulip_lock_acquire(lk);     /* ok */
    rc_misuse[2] = tulip_lock_acquire(lk);     /* re-entry */
    rc_misuse[3] = tulip_lock_try_acquire(lk); /* re-entry */
    rc_misuse[4] = tulip_lock_acquire(NULL);
    rc_misuse[5] = tulip_lock_release(NULL);
    return 0;
}

static int release_other_body(void *arg)
{
    (void)arg;
    rc_misuse[6] = tulip_lock_release(lk); /* held by misuse_body */
    rc_misuse[7] = tulip_lock_try_acquire(lk);
    return 0;
}

Test(lock, bad_input_and_misuse)
{
    lock_begin();
    cr_assert_eq(tulip_lock_new(NULL), -EINVAL);
    tulip_lock_free(NULL);
    cr_assert_not(tulip_lock_locked(NULL));
    /* Outside a task. */
    cr_assert_eq(tulip_lock_acquire(lk), -EPERM);
    cr_assert_eq(tulip_lock_acquire_until(lk, 5), -EPERM);
    cr_assert_eq(tulip_lock_try_acquire(lk), -EPERM);
    cr_assert_eq(tulip_lock_release(lk), -EPERM);
    cr_assert_eq(tulip_lock_acquire(NULL), -EINVAL);
    cr_assert_eq(tulip_lock_acquire_until(NULL, 5), -EINVAL);
    cr_assert_eq(tulip_lock_try_acquire(NULL), -EINVAL);
    cr_assert_eq(tulip_lock_release(NULL), -EINVAL);

    /* misuse_body must take the free lock in its first step */
    SKIP_UNDER_FORCED_YIELD("acquiring a free lock yields first");
    tulip_task *a = fx_spawn(misuse_body, NULL);
    tulip_task *b = fx_spawn(release_other_body, NULL);
    fx_run();
    cr_assert_eq(rc_misuse[0], -EPERM);
    cr_assert_eq(rc_misuse[1], 0);
    cr_assert_eq(rc_misuse[2], -EDEADLK);
    cr_assert_eq(rc_misuse[3], -EDEADLK);
    cr_assert_eq(rc_misuse[4], -EINVAL);
    cr_assert_eq(rc_misuse[5], -EINVAL);
    cr_assert_eq(rc_misuse[6], -EPERM, "unlocking a lock another task holds");
    cr_assert_eq(rc_misuse[7], -EAGAIN);
    /* misuse_body returned holding it: still locked, by a finished task. */
    cr_assert(tulip_lock_locked(lk));
    tulip_task_release(a);
    tulip_task_release(b);
    tulip_lock_free(lk);
    lk = NULL;
    fx_end();
}

Test(lock, new_out_of_memory)
{
    fx_begin();
    long long before = alloc_c.live_bytes;
    test_alloc_fail_nth(&alloc_c, 1, false);
    lk = (tulip_lock *)1;
    cr_assert_eq(tulip_lock_new(&lk), -ENOMEM);
    cr_assert_null(lk);
    cr_assert_eq(alloc_c.live_bytes, before);
    fx_end();
}

/* ---- fairness ------------------------------------------------------------ */

Test(lock, fifo_hand_off_in_arrival_order)
{
    struct waiter w[4] = {{.name = "H", .hold_ns = TULIP_SEC},
                          {.name = "A"},
                          {.name = "B"},
                          {.name = "C"}};
    tulip_task *t[4];

    lock_begin();
    for (int i = 0; i < 4; i++)
        t[i] = spawn_waiter(&w[i]);
    fx_run();
    FX_LOG_IS("H:got H:rel A:got A:rel B:got B:rel C:got C:rel");
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(w[i].rc, 0);
        cr_assert_eq(w[i].rc_release, 0);
        cr_assert_eq(fx_result(t[i]), 0);
        tulip_task_release(t[i]);
    }
    cr_assert_eq(w[1].at, TULIP_SEC);
    lock_end();
}

/* Release and re-acquire at once: the waiter was handed the lock, so the
 * re-acquire must queue behind it (asyncio's barging cannot happen). */
static int barger_try_rc, barger_rc;

static int barger_body(void *arg)
{
    (void)arg;
    tulip_lock_acquire(lk);
    log_add("X:got");
    tulip_sleep(TULIP_SEC);
    tulip_lock_release(lk);
    barger_try_rc = tulip_lock_try_acquire(lk);
    barger_rc = tulip_lock_acquire(lk);
    log_add("X:again");
    tulip_lock_release(lk);
    return 0;
}

Test(lock, no_barging_after_release)
{
    struct waiter a = {.name = "A", .hold_ns = TULIP_SEC};

    lock_begin();
    tulip_task *x = fx_spawn(barger_body, NULL);
    tulip_task *t = spawn_waiter(&a);
    fx_run();
    cr_assert_eq(barger_try_rc, -EAGAIN);
    cr_assert_eq(barger_rc, 0);
    FX_LOG_IS("X:got A:got A:rel X:again");
    tulip_task_release(x);
    tulip_task_release(t);
    lock_end();
}

/* ---- cancellation and deadlines at every moment -------------------------- */

static int cancel_then_acquire_body(void *arg)
{
    struct waiter *w = arg;
    tulip_task_cancel(tulip_task_current());
    return waiter_body(w);
}

Test(lock, cancelled_before_the_call)
{
    struct waiter w = {.name = "A"};

    lock_begin();
    tulip_task *t = fx_spawn(cancel_then_acquire_body, &w);
    fx_run();
    /* Level-triggered: even a free lock is not taken. */
    cr_assert_eq(w.rc, -ECANCELED);
    FX_LOG_IS("A:ECANCELED");
    tulip_task_release(t);
    lock_end();
}

static tulip_task *victim;
static int holder_cancel_order; /* 0: cancel then release; 1: reverse */

static int holder_cancels_body(void *arg)
{
    (void)arg;
    tulip_lock_acquire(lk);
    log_add("H:got");
    tulip_sleep(TULIP_SEC);
    if (holder_cancel_order == 0) {
        tulip_task_cancel(victim);
        tulip_lock_release(lk);
    } else {
        tulip_lock_release(lk);
        tulip_task_cancel(victim);
    }
    log_add("H:rel");
    return 0;
}

Test(lock, cancelled_while_waiting_next_waiter_served)
{
    struct waiter a = {.name = "A"}, b = {.name = "B"};

    lock_begin();
    holder_cancel_order = 0;
    tulip_task *h = fx_spawn(holder_cancels_body, NULL);
    tulip_task *ta = spawn_waiter(&a);
    tulip_task *tb = spawn_waiter(&b);
    victim = ta;
    fx_run();
    /* A left before the release: B gets the lock, A never held it. */
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, 0);
    if (!test_forced_yield()) /* A's wake-up check yields: B logs first */
        FX_LOG_IS("H:got H:rel A:ECANCELED B:got B:rel");
    tulip_task_release(h);
    tulip_task_release(ta);
    tulip_task_release(tb);
    lock_end();
}

Test(lock, cancelled_in_the_same_pass_as_the_hand_off)
{
    struct waiter a = {.name = "A"}, b = {.name = "B"};

    lock_begin();
    holder_cancel_order = 1;
    tulip_task *h = fx_spawn(holder_cancels_body, NULL);
    tulip_task *ta = spawn_waiter(&a);
    tulip_task *tb = spawn_waiter(&b);
    victim = ta;
    fx_run();
    /* The hand-off came first: A returns 0 holding the lock, sees the
     * cancellation at its next call, still releases, and B is served. */
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(a.rc_after, -ECANCELED);
    cr_assert_eq(a.rc_release, 0);
    cr_assert_eq(b.rc, 0);
    FX_LOG_IS("H:got H:rel A:got A:rel B:got B:rel");
    tulip_task_release(h);
    tulip_task_release(ta);
    tulip_task_release(tb);
    lock_end();
}

Test(lock, deadline_while_waiting_next_waiter_served)
{
    struct waiter h = {.name = "H", .hold_ns = 3 * TULIP_SEC};
    struct waiter a = {.name = "A", .deadline_ns = TULIP_SEC};
    struct waiter b = {.name = "B"};
    struct waiter c = {.name = "C", .deadline_ns = 10 * TULIP_SEC};

    lock_begin();
    tulip_task *t[4] = {spawn_waiter(&h), spawn_waiter(&a), spawn_waiter(&b),
                        spawn_waiter(&c)};
    fx_run();
    cr_assert_eq(a.rc, -ETIMEDOUT);
    cr_assert_eq(a.at, TULIP_SEC);
    cr_assert_eq(b.rc, 0);
    cr_assert_eq(b.at, 3 * TULIP_SEC);
    cr_assert_eq(c.rc, 0);
    FX_LOG_IS("H:got A:ETIMEDOUT H:rel B:got B:rel C:got C:rel");
    for (int i = 0; i < 4; i++)
        tulip_task_release(t[i]);
    lock_end();
}

/* The holder's release and the waiter's deadline fall in the same pass:
 * timers run first, so the waiter has left when the release comes, and the
 * lock must end up free, not owned by the departed waiter. */
Test(lock, deadline_in_the_same_pass_as_the_release)
{
    struct waiter h = {.name = "H", .hold_ns = 2 * TULIP_SEC};
    struct waiter a = {.name = "A", .deadline_ns = 2 * TULIP_SEC};

    lock_begin();
    tulip_task *th = spawn_waiter(&h);
    tulip_task *ta = spawn_waiter(&a);
    fx_run();
    cr_assert_eq(a.rc, -ETIMEDOUT);
    cr_assert_eq(a.at, 2 * TULIP_SEC);
    cr_assert_eq(h.rc_release, 0);
    tulip_task_release(th);
    tulip_task_release(ta);
    lock_end();
}

static int scoped_waiter_body(void *arg)
{
    struct waiter *w = arg;
    struct tulip_scope s;
    int rc;

    tulip_scope_enter(&s, TULIP_SEC / 2, 0);
    rc = waiter_body(w);
    tulip_scope_exit(&s);
    return rc;
}

Test(lock, scope_deadline_while_waiting)
{
    struct waiter h = {.name = "H", .hold_ns = TULIP_SEC};
    struct waiter a = {.name = "A"};

    lock_begin();
    tulip_task *th = spawn_waiter(&h);
    tulip_task *ta = fx_spawn(scoped_waiter_body, &a);
    fx_run();
    cr_assert_eq(a.rc, -ETIMEDOUT);
    cr_assert_eq(a.at, TULIP_SEC / 2);
    tulip_task_release(th);
    tulip_task_release(ta);
    lock_end();
}

/* Cancel from outside while it waits (a callback, not the holder). */
static void cancel_cb(void *arg)
{
    tulip_task_cancel(arg);
}

Test(lock, cancel_from_a_callback_many_waiters)
{
    struct waiter h = {.name = "H", .hold_ns = TULIP_SEC};
    struct waiter w[5] = {{.name = "0"},
                          {.name = "1"},
                          {.name = "2"},
                          {.name = "3"},
                          {.name = "4"}};
    tulip_task *t[5];

    lock_begin();
    tulip_task *th = spawn_waiter(&h);
    for (int i = 0; i < 5; i++)
        t[i] = spawn_waiter(&w[i]);
    cr_assert_eq(tulip_call_later(loop, TULIP_SEC / 2, cancel_cb, t[1], NULL),
                 0);
    cr_assert_eq(tulip_call_later(loop, TULIP_SEC / 2, cancel_cb, t[3], NULL),
                 0);
    fx_run();
    FX_LOG_IS("H:got 1:ECANCELED 3:ECANCELED H:rel 0:got 0:rel 2:got 2:rel "
              "4:got 4:rel");
    for (int i = 0; i < 5; i++)
        tulip_task_release(t[i]);
    tulip_task_release(th);
    lock_end();
}

Test(lock, free_with_waiters_wakes_them_closed)
{
    struct waiter h = {.name = "H", .hold_ns = 5 * TULIP_SEC};
    struct waiter a = {.name = "A"};

    lock_begin();
    tulip_task *th = spawn_waiter(&h);
    tulip_task *ta = spawn_waiter(&a);
    tulip_loop_run_once(loop);
    tulip_loop_run_once(loop);
    tulip_lock_free(lk);
    lk = NULL;
    fx_run();
    cr_assert_eq(a.rc, TULIP_ECLOSED);
    cr_assert_eq(h.rc_release, -EINVAL); /* the holder sees lk == NULL */
    tulip_task_release(th);
    tulip_task_release(ta);
    fx_end();
}
