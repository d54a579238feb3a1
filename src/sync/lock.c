/* SPDX-License-Identifier: MIT */
/*
 * Lock: asyncio.Lock with an owner. Strictly fair: release hands the lock
 * straight to the longest waiting task, so that a task that releases and
 * re-acquires at once queues behind the waiters instead of barging ahead
 * (asyncio lets a barging acquire win; with hand-off it cannot).
 */
#include "../prefix.h"
#include "sync.h"

#include <errno.h>

struct tulip_lock {
    struct tulip_task *owner;    /* holder, or NULL */
    struct tulip__waitq waiters; /* tasks in acquire, FIFO */
};

int tulip_lock_new(tulip_lock **out)
{
    tulip_lock *l;

    if (!out)
        return -EINVAL;
    *out = l = tulip__calloc(sizeof(*l));
    return l ? 0 : -ENOMEM;
}

void tulip_lock_free(tulip_lock *l)
{
    if (!l)
        return;
    tulip__sync_wake_all(&l->waiters, TULIP_ECLOSED);
    tulip__free(l, sizeof(*l));
}

int tulip_lock_acquire_until(tulip_lock *l, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!l)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    if (l->owner == t)
        return -EDEADLK;
    if (!l->owner) {
        /* Free means nobody waits: release hands over to waiters. */
        l->owner = t;
        return 0;
    }
    /* On 0 the releaser made t the owner before waking it. */
    return tulip__sync_wait(&l->waiters, t, deadline_ns);
}

int tulip_lock_acquire(tulip_lock *l)
{
    return tulip_lock_acquire_until(l, TULIP_FOREVER);
}

int tulip_lock_try_acquire(tulip_lock *l)
{
    struct tulip_task *t = tulip__task_running();

    if (!l)
        return -EINVAL;
    if (!t)
        return -EPERM;
    if (l->owner == t)
        return -EDEADLK;
    if (l->owner)
        return -EAGAIN;
    l->owner = t;
    return 0;
}

/* Internal: release on behalf of the owner (tulip_cond_wait). */
void tulip__lock_release(tulip_lock *l)
{
    struct tulip__waiter *w = l->waiters.head;

    if (!w) {
        l->owner = NULL;
        return;
    }
    l->owner = w->task;
    tulip__task_wake_waiter(w, NULL, 0);
}

int tulip_lock_release(tulip_lock *l)
{
    if (!l)
        return -EINVAL;
    if (!l->owner || l->owner != tulip__task_running())
        return -EPERM;
    tulip__lock_release(l);
    return 0;
}

bool tulip_lock_locked(const tulip_lock *l)
{
    return l && l->owner;
}

/* Internal: whether t holds l (tulip_cond_*). */
bool tulip__lock_held_by(const tulip_lock *l, const struct tulip_task *t)
{
    return t && l->owner == t;
}
