/* SPDX-License-Identifier: MIT */
/*
 * Wait queues and completion, the two things futures and tasks share (and
 * that locks, queues and I/O will use): a FIFO of suspended tasks, each
 * linked through the waiter node in its own task object, and the "done"
 * state with its done-callbacks.
 *
 * Callbacks follow asyncio: they are never run inline but scheduled on the
 * loop when the object completes (or at once-scheduled when added to a done
 * object), each exactly once, in the order added. The object is retained
 * while a callback of it is scheduled, so releasing it right after
 * completing it is safe.
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>

struct tulip__donecb {
    struct tulip__cb cb;               /* scheduled when done */
    struct tulip__donecb *next;        /* in the pending list */
    const struct tulip__done_ops *ops; /* keeps obj alive meanwhile */
    void *obj;                         /* the future or task */
    tulip__fn *fn;                     /* the user's, of obj's type */
    void *arg;
    void *ctx; /* context.c: the context it was added from, or NULL */
};

static void donecb_free(struct tulip__donecb *n)
{
    void *ctx = n->ctx;

    tulip__free(n, sizeof(*n));
    if (ctx)
        tulip__context_release(ctx);
}

void tulip__done_init(struct tulip__done *d)
{
    d->done = 0;
    d->waiters.head = d->waiters.tail = NULL;
    d->cbs = NULL;
}

static void donecb_run(struct tulip__cb *cb)
{
    struct tulip__donecb *n = tulip__container_of(cb, struct tulip__donecb, cb);

    if (n->ctx) {
        /* In the context it was added from, as asyncio's done-callbacks. */
        void *prev = tulip__context_enter(n->ctx);
        n->ops->call(n->obj, n->fn, n->arg);
        tulip__context_leave(prev);
    } else {
        n->ops->call(n->obj, n->fn, n->arg);
        tulip__cb_returned();
    }
    n->ops->release(n->obj);
    donecb_free(n);
}

static void donecb_schedule(tulip_loop *loop, struct tulip__donecb *n)
{
    n->ops->retain(n->obj);
    n->cb.fn = donecb_run;
    tulip__loop_ready_push(loop, &n->cb);
}

int tulip__done_add(struct tulip__done *d, tulip_loop *loop,
                    const struct tulip__done_ops *ops, void *obj, tulip__fn *fn,
                    void *arg)
{
    struct tulip__donecb *n, **pp;

    /* A scheduled callback holds its object: the task layer's close hook,
     * installed with the per-loop state, must be there to free both if the
     * loop closes first (a future's loop may have no task yet). */
    if (!tulip__tasks_of(loop))
        return -ENOMEM;
    n = tulip__alloc(sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->ops = ops;
    n->obj = obj;
    n->fn = fn;
    n->arg = arg;
    n->next = NULL;
    n->ctx = NULL;
    if (tulip__unlikely(tulip__context_active()) &&
        tulip__context_capture(&n->ctx) < 0) {
        tulip__free(n, sizeof(*n));
        return -ENOMEM;
    }
    if (d->done) {
        donecb_schedule(loop, n);
        return 0;
    }
    /* Appended, so they run in the order added; objects have few
     * callbacks, so no tail pointer is kept. */
    for (pp = &d->cbs; *pp; pp = &(*pp)->next)
        ;
    *pp = n;
    return 0;
}

/* cppcheck-suppress constParameter ; fn points to a function */
int tulip__done_remove(struct tulip__done *d, tulip__fn *fn, const void *arg)
{
    struct tulip__donecb **pp = &d->cbs;
    int removed = 0;

    while (*pp) {
        struct tulip__donecb *n = *pp;
        if (n->fn == fn && n->arg == arg) {
            *pp = n->next;
            donecb_free(n);
            removed++;
        } else {
            pp = &n->next;
        }
    }
    return removed;
}

void tulip__done_fire(struct tulip__done *d, tulip_loop *loop, void *value,
                      int code)
{
    struct tulip__donecb *n, *next;

    d->done = 1;
    while (d->waiters.head)
        tulip__task_wake_waiter(d->waiters.head, value, code);
    for (n = d->cbs; n; n = next) {
        next = n->next;
        donecb_schedule(loop, n);
    }
    d->cbs = NULL;
}

bool tulip__done_discard(struct tulip__cb *cb)
{
    struct tulip__donecb *n;

    if (cb->fn != donecb_run)
        return false;
    n = tulip__container_of(cb, struct tulip__donecb, cb);
    n->ops->release(n->obj);
    donecb_free(n);
    return true;
}

void tulip__done_drop(struct tulip__done *d)
{
    struct tulip__donecb *n, *next;

    for (n = d->cbs; n; n = next) {
        next = n->next;
        donecb_free(n);
    }
    d->cbs = NULL;
}
