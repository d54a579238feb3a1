/* SPDX-License-Identifier: MIT */
/*
 * Cancellation scopes, deadlines and shields, and level-triggered
 * cancellation at every point where a call can suspend.
 *
 * The first part checks scopes themselves: enter/exit/reschedule and their
 * misuse, what tulip_scope_exit() tells, shields hiding outer cancellation
 * and deadlines (but not their own), and tulip_check_cancel().
 *
 * The second part is a matrix: every suspending call of the task layer
 * (sleep, future_await, task_join, gather, wait, wait_for, as_completed,
 * group_wait) under every way its wait can end early: cancelled before the
 * call (returns at once), cancelled while waiting, a scope deadline while
 * waiting, a cancel and a deadline in the same pass in either order (must
 * give -ECANCELED), a shield hiding the cancel while its own deadline still
 * applies, nested scopes whose inner or outer deadline comes first, and a
 * rescheduled deadline. Each case also checks the scopes' exit codes, the
 * time of return, that the cancel is still seen afterwards (nothing lost),
 * and what happened to the task waited for (cancelled only by gather,
 * wait_for and groups).
 */
/* ctest: labels=unit;backends timeout=120 */
#include "task_fixture.h"
#include "tools.h"

static void cancel_cb(void *arg)
{
    cr_expect_eq(tulip_task_cancel(arg), 0);
}

/* ---- scopes themselves --------------------------------------------------- */

struct misuse {
    struct tulip_scope *shared; /* entered by the first task */
    int enter_null, enter_flags, exit_null, exit_order, exit_ok1, exit_ok2;
    int other_exit, other_resched, resched_null;
};

static int misuse_body(void *arg)
{
    struct misuse *m = arg;
    struct tulip_scope a, b;

    m->enter_null = tulip_scope_enter(NULL, TULIP_FOREVER, 0);
    m->enter_flags = tulip_scope_enter(&a, TULIP_FOREVER, 0x80);
    m->exit_null = tulip_scope_exit(NULL);
    m->resched_null = tulip_scope_reschedule(NULL, 0);
    tulip_scope_enter(&a, TULIP_FOREVER, 0);
    tulip_scope_enter(&b, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    m->exit_order = tulip_scope_exit(&a); /* b is innermost */
    m->shared = &b;
    tulip_sleep(TULIP_SEC); /* the other task tries b meanwhile */
    m->exit_ok1 = tulip_scope_exit(&b);
    m->exit_ok2 = tulip_scope_exit(&a);
    m->shared = NULL;
    return 0;
}

static int misuse_other(void *arg)
{
    struct misuse *m = arg;

    tulip_sleep(TULIP_MSEC);
    m->other_exit = tulip_scope_exit(m->shared);
    m->other_resched = tulip_scope_reschedule(m->shared, 0);
    return 0;
}

Test(scope, misuse)
{
    struct misuse m = {0};
    struct tulip_scope s;

    fx_begin();
    cr_assert_eq(tulip_scope_enter(&s, TULIP_FOREVER, 0), -EPERM);
    cr_assert_eq(tulip_scope_enter(NULL, TULIP_FOREVER, 0), -EINVAL);
    tulip_task *a = fx_spawn(misuse_body, &m);
    tulip_task *b = fx_spawn(misuse_other, &m);
    fx_run();
    cr_assert_eq(m.enter_null, -EINVAL);
    cr_assert_eq(m.enter_flags, -EINVAL);
    cr_assert_eq(m.exit_null, -EINVAL);
    cr_assert_eq(m.resched_null, -EINVAL);
    cr_assert_eq(m.exit_order, -EINVAL);
    cr_assert_eq(m.other_exit, -EPERM);
    cr_assert_eq(m.other_resched, -EPERM);
    cr_assert_eq(m.exit_ok1, 0);
    cr_assert_eq(m.exit_ok2, 0);
    tulip_task_release(a);
    tulip_task_release(b);
    fx_end();
}

struct basics {
    int r[16];
    int64_t t[16];
};

/* A deadline passed inside the scope, though no call saw it (a shield hid
 * it): exit still tells -ETIMEDOUT. */
static int hidden_deadline(void *arg)
{
    struct basics *b = arg;
    struct tulip_scope s, sh;

    tulip_scope_enter(&s, tulip_now() + TULIP_SEC, 0);
    tulip_scope_enter(&sh, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    b->r[0] = tulip_sleep(2 * TULIP_SEC);
    b->t[0] = tulip_now();
    b->r[1] = tulip_check_cancel();
    b->r[2] = tulip_scope_exit(&sh);
    b->r[3] = tulip_check_cancel();
    b->r[4] = tulip_sleep(TULIP_SEC);
    b->t[4] = tulip_now();
    b->r[5] = tulip_scope_exit(&s);
    b->r[6] = tulip_check_cancel();
    /* Not expired: 0. */
    tulip_scope_enter(&s, tulip_now() + TULIP_SEC, 0);
    b->r[7] = tulip_sleep(TULIP_MSEC);
    b->r[8] = tulip_scope_exit(&s);
    return 0;
}

Test(scope, shield_hides_outer_deadline_exit_tells)
{
    struct basics b = {0};

    fx_begin();
    tulip_task *t = fx_spawn(hidden_deadline, &b);
    fx_run();
    cr_assert_eq(b.r[0], 0);
    cr_assert_eq(b.t[0], 2 * TULIP_SEC);
    cr_assert_eq(b.r[1], 0);
    cr_assert_eq(b.r[2], 0);
    cr_assert_eq(b.r[3], -ETIMEDOUT);
    cr_assert_eq(b.r[4], -ETIMEDOUT);
    cr_assert_eq(b.t[4], 2 * TULIP_SEC); /* at once */
    cr_assert_eq(b.r[5], -ETIMEDOUT);
    cr_assert_eq(b.r[6], 0);
    cr_assert_eq(b.r[7], 0);
    cr_assert_eq(b.r[8], 0);
    tulip_task_release(t);
    fx_end();
}

/* Shielded cleanup can still wait after the task was cancelled. */
static int shielded_cleanup(void *arg)
{
    struct basics *b = arg;
    struct tulip_scope sh;

    b->r[0] = tulip_sleep(100 * TULIP_SEC); /* cancelled at 1 s */
    b->t[0] = tulip_now();
    tulip_scope_enter(&sh, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    b->r[1] = tulip_check_cancel();
    b->r[2] = tulip_sleep(TULIP_SEC);
    b->t[2] = tulip_now();
    b->r[3] = tulip_scope_exit(&sh);
    b->r[4] = tulip_sleep(TULIP_SEC);
    b->t[4] = tulip_now();
    return b->r[4];
}

Test(scope, shielded_cleanup_sleeps_after_cancel)
{
    struct basics b = {0};

    fx_begin();
    tulip_task *t = fx_spawn(shielded_cleanup, &b);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(b.r[0], -ECANCELED);
    cr_assert_eq(b.t[0], TULIP_SEC);
    cr_assert_eq(b.r[1], 0);
    cr_assert_eq(b.r[2], 0);
    cr_assert_eq(b.t[2], 2 * TULIP_SEC);
    cr_assert_eq(b.r[3], 0);
    cr_assert_eq(b.r[4], -ECANCELED);
    cr_assert_eq(b.t[4], 2 * TULIP_SEC);
    cr_assert_eq(fx_result(t), -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

/* A cancel arriving during a shielded wait does not end it; the next call
 * outside the shield sees it. */
static int cancel_during_shield(void *arg)
{
    struct basics *b = arg;
    struct tulip_scope sh;

    tulip_scope_enter(&sh, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    b->r[0] = tulip_sleep(2 * TULIP_SEC);
    b->t[0] = tulip_now();
    tulip_scope_exit(&sh);
    b->r[1] = tulip_sleep(0);
    return 0;
}

Test(scope, cancel_does_not_wake_shielded_wait)
{
    struct basics b = {0};

    fx_begin();
    tulip_task *t = fx_spawn(cancel_during_shield, &b);
    tulip_call_later(loop, TULIP_SEC, cancel_cb, t, NULL);
    fx_run();
    cr_assert_eq(b.r[0], 0);
    cr_assert_eq(b.t[0], 2 * TULIP_SEC);
    cr_assert_eq(b.r[1], -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

static int reschedule_body(void *arg)
{
    struct basics *b = arg;
    struct tulip_scope s;

    /* Later: the wait completes. */
    tulip_scope_enter(&s, TULIP_SEC, 0);
    b->r[0] = tulip_scope_reschedule(&s, 5 * TULIP_SEC);
    b->r[1] = tulip_sleep(3 * TULIP_SEC);
    b->r[2] = tulip_scope_exit(&s);
    /* Into the past: the next call fails at once, without waiting. */
    tulip_scope_enter(&s, TULIP_FOREVER, 0);
    tulip_scope_reschedule(&s, 0);
    b->r[3] = tulip_check_cancel();
    b->r[4] = tulip_sleep(TULIP_SEC);
    b->t[4] = tulip_now();
    b->r[5] = tulip_scope_exit(&s);
    /* A deadline already passed when entering. */
    tulip_scope_enter(&s, tulip_now() - 1, 0);
    b->r[6] = tulip_sleep(0);
    b->r[7] = tulip_scope_exit(&s);
    return 0;
}

Test(scope, reschedule_and_past_deadlines)
{
    struct basics b = {0};

    fx_begin();
    tulip_task *t = fx_spawn(reschedule_body, &b);
    fx_run();
    cr_assert_eq(b.r[0], 0);
    cr_assert_eq(b.r[1], 0);
    cr_assert_eq(b.r[2], 0);
    cr_assert_eq(b.r[3], -ETIMEDOUT);
    cr_assert_eq(b.r[4], -ETIMEDOUT);
    cr_assert_eq(b.t[4], 3 * TULIP_SEC);
    cr_assert_eq(b.r[5], -ETIMEDOUT);
    cr_assert_eq(b.r[6], -ETIMEDOUT);
    cr_assert_eq(b.r[7], -ETIMEDOUT);
    tulip_task_release(t);
    fx_end();
}

static int check_body(void *arg)
{
    struct basics *b = arg;
    struct tulip_scope s;

    b->r[0] = tulip_check_cancel();
    tulip_scope_enter(&s, 0, 0);
    b->r[1] = tulip_check_cancel();
    tulip_task_cancel(tulip_task_current());
    b->r[2] = tulip_check_cancel(); /* both: -ECANCELED wins */
    tulip_scope_exit(&s);
    b->r[3] = tulip_check_cancel();
    return 0;
}

Test(scope, check_cancel)
{
    struct basics b = {0};

    fx_begin();
    tulip_task *t = fx_spawn(check_body, &b);
    fx_run();
    cr_assert_eq(b.r[0], 0);
    cr_assert_eq(b.r[1], -ETIMEDOUT);
    cr_assert_eq(b.r[2], -ECANCELED);
    cr_assert_eq(b.r[3], -ECANCELED);
    tulip_task_release(t);
    fx_end();
}

/* A shield's own deadline applies inside it, and a nested inner scope's
 * deadline inside a shield too. */
static int shield_own_deadline(void *arg)
{
    struct basics *b = arg;
    struct tulip_scope outer, sh, in;

    tulip_scope_enter(&outer, TULIP_SEC, 0);
    tulip_scope_enter(&sh, 3 * TULIP_SEC, TULIP_SCOPE_SHIELD);
    tulip_scope_enter(&in, 2 * TULIP_SEC, 0);
    b->r[0] = tulip_sleep(10 * TULIP_SEC);
    b->t[0] = tulip_now();
    b->r[1] = tulip_scope_exit(&in);
    b->r[2] = tulip_sleep(10 * TULIP_SEC);
    b->t[2] = tulip_now();
    b->r[3] = tulip_scope_exit(&sh);
    b->r[4] = tulip_scope_exit(&outer);
    return 0;
}

Test(scope, shield_own_and_inner_deadlines_apply)
{
    struct basics b = {0};

    fx_begin();
    tulip_task *t = fx_spawn(shield_own_deadline, &b);
    fx_run();
    cr_assert_eq(b.r[0], -ETIMEDOUT);
    cr_assert_eq(b.t[0], 2 * TULIP_SEC);
    cr_assert_eq(b.r[1], -ETIMEDOUT);
    cr_assert_eq(b.r[2], -ETIMEDOUT);
    cr_assert_eq(b.t[2], 3 * TULIP_SEC);
    cr_assert_eq(b.r[3], -ETIMEDOUT);
    cr_assert_eq(b.r[4], -ETIMEDOUT);
    tulip_task_release(t);
    fx_end();
}

/* ---- the matrix: every suspending call x every early end ----------------- */

enum mx_op {
    OP_SLEEP,
    OP_AWAIT,
    OP_JOIN,
    OP_GATHER,
    OP_WAIT,
    OP_WAIT_FOR,
    OP_AS_COMPLETED,
    OP_GROUP
};

enum mx_sc {
    SC_PRE,         /* cancelled before the call */
    SC_CANCEL,      /* cancelled while waiting, at 1 s */
    SC_DEADLINE,    /* a scope deadline while waiting, at 1 s */
    SC_BOTH_CANCEL, /* both at 1 s, the cancel's timer first */
    SC_BOTH_TIMER,  /* both at 1 s, the deadline's timer first */
    SC_SHIELD,      /* cancelled, in a shield with a deadline at 1 s */
    SC_INNER_FIRST, /* inner deadline 1 s, outer 2 s */
    SC_OUTER_FIRST, /* outer deadline 1 s, inner 2 s */
    SC_RESCHEDULE   /* deadline 50 s moved to 1 s before the call */
};

struct mx {
    enum mx_op op;
    enum mx_sc sc;
    tulip_future *fut;  /* never completed */
    tulip_task *helper; /* sleeps 100 s unless cancelled */
    tulip_task *child;  /* the group's child */
    tulip_task *self;
    int rc;
    int64_t when;
    int soon_ran;  /* a callback queued just before the call ran */
    int soon_seen; /* ... by the time the call returned */
    int exit_inner, exit_outer, after;
};

static int sleep100(void *arg)
{
    (void)arg;
    return tulip_sleep(100 * TULIP_SEC);
}

static void soon_cb(void *arg)
{
    ((struct mx *)arg)->soon_ran = 1;
}

static void arm_cancel_cb(void *arg)
{
    struct mx *m = arg;
    tulip_call_at(loop, TULIP_SEC, cancel_cb, m->self, NULL);
}

static int mx_op_run(struct mx *m)
{
    struct tulip_as_completed it;
    tulip_group *g;
    tulip_task *t;
    int rc;

    switch (m->op) {
    case OP_SLEEP:
        return tulip_sleep(100 * TULIP_SEC);
    case OP_AWAIT:
        return tulip_future_await(m->fut, NULL);
    case OP_JOIN:
        return tulip_task_join(m->helper, NULL);
    case OP_GATHER:
        return tulip_gather(&m->helper, 1, NULL, 0);
    case OP_WAIT:
        return tulip_wait(&m->helper, 1, TULIP_ALL_COMPLETED, TULIP_FOREVER,
                          NULL);
    case OP_WAIT_FOR:
        return tulip_wait_for(m->helper, 100 * TULIP_SEC, NULL);
    case OP_AS_COMPLETED:
        rc = tulip_as_completed_init(&it, &m->helper, 1, TULIP_FOREVER);
        if (rc == 0)
            rc = tulip_as_completed_next(&it, &t);
        tulip_as_completed_done(&it);
        return rc;
    case OP_GROUP:
        rc = tulip_group_new(&g);
        if (rc)
            return rc;
        cr_expect_eq(tulip_group_spawn(g, sleep100, NULL, NULL, &m->child), 0);
        return tulip_group_wait(g);
    }
    return 1;
}

static int mx_body(void *arg)
{
    struct mx *m = arg;
    struct tulip_scope in, out;
    int64_t in_d = TULIP_FOREVER, out_d = TULIP_FOREVER;
    unsigned in_flags = 0;
    bool two = false;

    switch (m->sc) {
    case SC_PRE:
        tulip_task_cancel(m->self);
        break;
    case SC_CANCEL:
        tulip_call_later(loop, TULIP_SEC, cancel_cb, m->self, NULL);
        break;
    case SC_DEADLINE:
    case SC_BOTH_TIMER:
        in_d = TULIP_SEC;
        break;
    case SC_BOTH_CANCEL:
        tulip_call_at(loop, TULIP_SEC, cancel_cb, m->self, NULL);
        in_d = TULIP_SEC;
        break;
    case SC_SHIELD:
        tulip_task_cancel(m->self);
        in_d = TULIP_SEC;
        in_flags = TULIP_SCOPE_SHIELD;
        break;
    case SC_INNER_FIRST:
        two = true;
        in_d = TULIP_SEC;
        out_d = 2 * TULIP_SEC;
        break;
    case SC_OUTER_FIRST:
        two = true;
        in_d = 2 * TULIP_SEC;
        out_d = TULIP_SEC;
        break;
    case SC_RESCHEDULE:
        in_d = 50 * TULIP_SEC;
        break;
    }
    if (two)
        tulip_scope_enter(&out, out_d, 0);
    tulip_scope_enter(&in, in_d, in_flags);
    if (m->sc == SC_RESCHEDULE)
        tulip_scope_reschedule(&in, TULIP_SEC);
    if (m->sc == SC_BOTH_TIMER)
        tulip_call_soon(loop, arm_cancel_cb, m, NULL);
    tulip_call_soon(loop, soon_cb, m, NULL);
    m->rc = mx_op_run(m);
    m->when = tulip_now();
    m->soon_seen = m->soon_ran;
    m->exit_inner = tulip_scope_exit(&in);
    if (two)
        m->exit_outer = tulip_scope_exit(&out);
    m->after = tulip_check_cancel();
    return 0;
}

static void mx_run(enum mx_op op, enum mx_sc sc)
{
    struct mx m = {.op = op, .sc = sc, .rc = 1, .exit_outer = 1};
    bool cancelled = sc == SC_PRE || sc == SC_CANCEL || sc == SC_BOTH_CANCEL ||
                     sc == SC_BOTH_TIMER;
    int helper_expect = 0;

    fx_begin();
    cr_assert_eq(tulip_future_new(&m.fut, loop), 0);
    m.helper = fx_spawn(sleep100, NULL);
    m.self = fx_spawn(mx_body, &m);
    fx_run();

    cr_assert_eq(m.rc, cancelled ? -ECANCELED : -ETIMEDOUT, "rc %s",
                 tulip_err_name(m.rc));
    cr_assert_eq(m.when, sc == SC_PRE ? 0 : TULIP_SEC, "returned at %lld",
                 (long long)m.when);
    /* (The forced yield yields first, cancelled or not.) */
    if (sc == SC_PRE && op != OP_WAIT_FOR && op != OP_GROUP &&
        !test_forced_yield())
        cr_assert_eq(m.soon_seen, 0, "did not return at once");
    /* Nothing is lost: the cancel is still there after the call. */
    cr_assert_eq(m.after, cancelled || sc == SC_SHIELD ? -ECANCELED : 0);
    switch (sc) {
    case SC_PRE:
    case SC_CANCEL:
        cr_assert_eq(m.exit_inner, 0);
        break;
    case SC_INNER_FIRST:
        cr_assert_eq(m.exit_inner, -ETIMEDOUT);
        cr_assert_eq(m.exit_outer, 0);
        break;
    case SC_OUTER_FIRST:
        cr_assert_eq(m.exit_inner, 0);
        cr_assert_eq(m.exit_outer, -ETIMEDOUT);
        break;
    default:
        cr_assert_eq(m.exit_inner, -ETIMEDOUT);
        break;
    }
    /* Only gather and wait_for cancel the task they wait for. */
    if (op == OP_GATHER || op == OP_WAIT_FOR)
        helper_expect = -ECANCELED;
    cr_assert_eq(fx_result(m.helper), helper_expect, "helper %s",
                 tulip_err_name(fx_result(m.helper)));
    if (op == OP_GROUP) {
        cr_assert_not_null(m.child);
        cr_assert_eq(fx_result(m.child), -ECANCELED);
        tulip_task_release(m.child);
    }
    cr_assert_eq(fx_result(m.self), 0);
    cr_assert_eq(fx_reports, 0);
    tulip_future_release(m.fut);
    tulip_task_release(m.helper);
    tulip_task_release(m.self);
    fx_end();
}

#define MX_SCENARIOS(X, op)                                                    \
    X(op, PRE)                                                                 \
    X(op, CANCEL)                                                              \
    X(op, DEADLINE)                                                            \
    X(op, BOTH_CANCEL)                                                         \
    X(op, BOTH_TIMER)                                                          \
    X(op, SHIELD)                                                              \
    X(op, INNER_FIRST)                                                         \
    X(op, OUTER_FIRST)                                                         \
    X(op, RESCHEDULE)

#define MX_TEST(op, sc)                                                        \
    Test(matrix, op##_##sc)                                                    \
    {                                                                          \
        mx_run(OP_##op, SC_##sc);                                              \
    }

MX_SCENARIOS(MX_TEST, SLEEP)
MX_SCENARIOS(MX_TEST, AWAIT)
MX_SCENARIOS(MX_TEST, JOIN)
MX_SCENARIOS(MX_TEST, GATHER)
MX_SCENARIOS(MX_TEST, WAIT)
MX_SCENARIOS(MX_TEST, WAIT_FOR)
MX_SCENARIOS(MX_TEST, AS_COMPLETED)
MX_SCENARIOS(MX_TEST, GROUP)
