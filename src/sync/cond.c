/* SPDX-License-Identifier: MIT */
/*
 * Condition: asyncio.Condition bound to a tulip_lock. wait() releases the
 * lock, waits for a notification and takes the lock back inside a shielded
 * scope, so that a cancelled or timed-out waiter still returns holding the
 * lock (the caller's unlock stays correct on every path) and reports the
 * cancellation afterwards. A notification goes to the longest waiting task
 * only, and is consumed by it even if it is cancelled in the same pass, so
 * notify(1) never wakes nobody while a task waits.
 */
#include "../prefix.h"
#include "sync.h"

#include <errno.h>
#include <limits.h>

struct tulip_cond {
    tulip_lock *lock;            /* the lock it is bound to */
    bool own_lock;               /* made by tulip_cond_new, freed with it */
    struct tulip__waitq waiters; /* tasks in wait, FIFO */
};

int tulip_cond_new(tulip_cond **out, tulip_lock *lock)
{
    tulip_cond *c;

    if (!out)
        return -EINVAL;
    *out = NULL;
    c = tulip__calloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->lock = lock;
    if (!lock) {
        if (tulip_lock_new(&c->lock) != 0) {
            tulip__free(c, sizeof(*c));
            return -ENOMEM;
        }
        c->own_lock = true;
    }
    *out = c;
    return 0;
}

void tulip_cond_free(tulip_cond *c)
{
    if (!c)
        return;
    tulip__sync_wake_all(&c->waiters, TULIP_ECLOSED);
    if (c->own_lock)
        tulip_lock_free(c->lock);
    tulip__free(c, sizeof(*c));
}

tulip_lock *tulip_cond_lock(const tulip_cond *c)
{
    return c ? c->lock : NULL;
}

/* Take l back whatever the task's cancellation state. */
static int cond_reacquire(tulip_lock *l)
{
    struct tulip_scope s;
    int rc;

    tulip_scope_enter(&s, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    rc = tulip_lock_acquire(l);
    tulip_scope_exit(&s);
    return rc;
}

int tulip_cond_wait_until(tulip_cond *c, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    tulip_lock *l;
    bool own;
    int rc, rc2;

    if (!c)
        return -EINVAL;
    if (!tulip__lock_held_by(c->lock, t))
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc; /* never released: still held */
    l = c->lock;
    own = c->own_lock;
    tulip__lock_release(l);
    rc = tulip__sync_wait(&c->waiters, t, deadline_ns);
    if (rc == TULIP_ECLOSED && own)
        return rc; /* c and its lock are gone */
    rc2 = cond_reacquire(l);
    return rc ? rc : rc2;
}

int tulip_cond_wait(tulip_cond *c)
{
    return tulip_cond_wait_until(c, TULIP_FOREVER);
}

int tulip_cond_wait_for_until(tulip_cond *c, tulip_cond_pred *pred, void *arg,
                              int64_t deadline_ns)
{
    if (!c || !pred)
        return -EINVAL;
    if (!tulip__lock_held_by(c->lock, tulip__task_running()))
        return -EPERM;
    while (!pred(arg)) {
        int rc = tulip_cond_wait_until(c, deadline_ns);
        if (rc)
            return rc;
    }
    return 0;
}

int tulip_cond_wait_for(tulip_cond *c, tulip_cond_pred *pred, void *arg)
{
    return tulip_cond_wait_for_until(c, pred, arg, TULIP_FOREVER);
}

int tulip_cond_notify(tulip_cond *c, int n)
{
    if (!c || n < 0)
        return -EINVAL;
    if (!tulip__lock_held_by(c->lock, tulip__task_running()))
        return -EPERM;
    while (n-- > 0 && c->waiters.head)
        tulip__task_wake_waiter(c->waiters.head, NULL, 0);
    return 0;
}

int tulip_cond_notify_all(tulip_cond *c)
{
    return tulip_cond_notify(c, INT_MAX);
}
