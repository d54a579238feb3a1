/* SPDX-License-Identifier: MIT */
/*
 * Futures: a value that is not there yet (asyncio.Future).
 *
 * Completing a future wakes the tasks waiting for it, handing each the
 * outcome (so a waiter never reads the future after it may have been
 * released), and schedules its done-callbacks on the loop. A waiting task
 * that is cancelled leaves the wait queue and the future untouched: other
 * tasks may be waiting for the same future.
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>

enum { FUT_PENDING, FUT_DONE, FUT_CANCELLED };

struct tulip_future {
    struct tulip__done done; /* waiters and callbacks */
    tulip_loop *loop;        /* runs the callbacks */
    void *value;             /* the result */
    int err;                 /* 0, the error, or -ECANCELED */
    unsigned refs;           /* references */
    unsigned char state;     /* FUT_* */
    unsigned char retrieved; /* outcome read by someone */
};

static void fut_ops_retain(void *f)
{
    tulip_future_retain(f);
}

static void fut_ops_release(void *f)
{
    tulip_future_release(f);
}

static void fut_ops_call(void *f, tulip__fn *fn, void *arg)
{
    ((tulip_future_cb *)fn)(f, arg);
}

static const struct tulip__done_ops fut_ops = {
    fut_ops_retain,
    fut_ops_release,
    fut_ops_call,
};

int tulip_future_new(tulip_future **out, tulip_loop *loop)
{
    tulip_future *f;

    if (!out || !loop)
        return -EINVAL;
    f = tulip__alloc(sizeof(*f));
    if (!f)
        return -ENOMEM;
    tulip__done_init(&f->done);
    f->loop = loop;
    f->value = NULL;
    f->err = 0;
    f->refs = 1;
    f->state = FUT_PENDING;
    f->retrieved = 0;
    *out = f;
    return 0;
}

tulip_future *tulip_future_retain(tulip_future *f)
{
    if (f)
        f->refs++;
    return f;
}

static void complete(tulip_future *f, int state, void *value, int err)
{
    f->state = (unsigned char)state;
    f->value = value;
    f->err = err;
    /* Waiters get the outcome with their wake-up: it counts as read. */
    if (!tulip__waitq_empty(&f->done.waiters))
        f->retrieved = 1;
    tulip__done_fire(&f->done, f->loop, value, err);
}

void tulip_future_release(tulip_future *f)
{
    struct tulip_error_context ctx;

    if (!f || --f->refs > 0)
        return;
    if (f->state == FUT_PENDING && !tulip__waitq_empty(&f->done.waiters)) {
        /* Nobody can complete it any more: release its waiters. */
        f->refs = 1;
        complete(f, FUT_CANCELLED, NULL, -ECANCELED);
        f->refs = 0;
    }
    if (f->state == FUT_DONE && f->err < 0 && !f->retrieved) {
        ctx.message = "Future exception was never retrieved";
        ctx.err = f->err;
        ctx.source = "future";
        ctx.object = f;
        tulip__loop_report(f->loop, &ctx);
    }
    tulip__done_drop(&f->done);
    tulip__free(f, sizeof(*f));
}

int tulip_future_set_result(tulip_future *f, void *value)
{
    if (!f)
        return -EINVAL;
    if (f->state != FUT_PENDING)
        return -EALREADY;
    complete(f, FUT_DONE, value, 0);
    return 0;
}

int tulip_future_set_error(tulip_future *f, int err)
{
    if (!f || err >= 0)
        return -EINVAL;
    if (f->state != FUT_PENDING)
        return -EALREADY;
    complete(f, FUT_DONE, NULL, err);
    return 0;
}

int tulip_future_cancel(tulip_future *f)
{
    if (!f)
        return -EINVAL;
    if (f->state != FUT_PENDING)
        return -EALREADY;
    complete(f, FUT_CANCELLED, NULL, -ECANCELED);
    return 0;
}

bool tulip_future_done(const tulip_future *f)
{
    return f->state != FUT_PENDING;
}

bool tulip_future_cancelled(const tulip_future *f)
{
    return f->state == FUT_CANCELLED;
}

int tulip_future_result(tulip_future *f, void **value)
{
    if (value)
        *value = NULL;
    if (!f)
        return -EINVAL;
    if (f->state == FUT_PENDING)
        return -EAGAIN;
    f->retrieved = 1;
    if (value)
        *value = f->value;
    return f->err;
}

int tulip_future_await_until(tulip_future *f, int64_t deadline_ns, void **value)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (value)
        *value = NULL;
    if (!f)
        return -EINVAL;
    if (!t || t->loop != f->loop)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    if (f->state != FUT_PENDING)
        return tulip_future_result(f, value);
    tulip__waitq_push(&f->done.waiters, &t->waiter);
    rc = tulip__task_suspend(t, deadline_ns);
    if (rc)
        return rc == TULIP__DEADLINE ? -ETIMEDOUT : rc;
    /* The outcome came with the wake-up; f may be gone already. */
    if (value)
        *value = t->wake_value;
    return t->wake_code;
}

int tulip_future_await(tulip_future *f, void **value)
{
    return tulip_future_await_until(f, TULIP_FOREVER, value);
}

int tulip_future_add_done_callback(tulip_future *f, tulip_future_cb *fn,
                                   void *arg)
{
    if (!f || !fn)
        return -EINVAL;
    return tulip__done_add(&f->done, f->loop, &fut_ops, f, (tulip__fn *)fn,
                           arg);
}

int tulip_future_remove_done_callback(tulip_future *f, tulip_future_cb *fn,
                                      void *arg)
{
    if (!f || !fn)
        return -EINVAL;
    return tulip__done_remove(&f->done, (tulip__fn *)fn, arg);
}
