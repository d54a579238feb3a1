/* SPDX-License-Identifier: MIT */
/*
 * Barrier: asyncio.Barrier. The arrival that completes the set wakes the
 * others with their indices (their order of arrival) and the next round
 * starts at once, so there is no draining state for a newcomer to wait
 * through. A waiter that is cancelled or times out leaves the queue at
 * once, without breaking the barrier (asyncio's rule); the waiting count is
 * therefore read from the queue itself whenever it matters, since a leaving
 * waiter cannot tell the barrier that it left.
 */
#include "../prefix.h"
#include "sync.h"

#include <errno.h>
#include <stdint.h>

struct tulip_barrier {
    int parties;                 /* tasks needed to pass */
    int hint;                    /* waiters, an upper bound (see above) */
    bool broken;                 /* aborted, until reset */
    struct tulip__waitq waiters; /* tasks in wait, in arrival order */
};

int tulip_barrier_new(tulip_barrier **out, int parties)
{
    tulip_barrier *b;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (parties <= 0)
        return -EINVAL;
    b = tulip__calloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->parties = parties;
    *out = b;
    return 0;
}

void tulip_barrier_free(tulip_barrier *b)
{
    if (!b)
        return;
    tulip__sync_wake_all(&b->waiters, TULIP_ECLOSED);
    tulip__free(b, sizeof(*b));
}

static int barrier_count(const tulip_barrier *b)
{
    const struct tulip__waiter *w;
    int n = 0;

    for (w = b->waiters.head; w; w = w->next)
        n++;
    return n;
}

int tulip_barrier_wait_until(tulip_barrier *b, int64_t deadline_ns, int *index)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!b)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    if (b->broken)
        return TULIP_EBROKEN;
    if (b->hint + 1 >= b->parties)
        b->hint = barrier_count(b);
    if (b->hint + 1 == b->parties) {
        intptr_t i = 0;
        while (b->waiters.head)
            tulip__task_wake_waiter(b->waiters.head, (void *)i++, 0);
        b->hint = 0;
        if (index)
            *index = b->parties - 1;
        return 0;
    }
    b->hint++;
    rc = tulip__sync_wait(&b->waiters, t, deadline_ns);
    if (rc == 0 && index)
        *index = (int)(intptr_t)t->wake_value;
    return rc;
}

int tulip_barrier_wait(tulip_barrier *b, int *index)
{
    return tulip_barrier_wait_until(b, TULIP_FOREVER, index);
}

int tulip_barrier_abort(tulip_barrier *b)
{
    if (!b)
        return -EINVAL;
    b->broken = true;
    tulip__sync_wake_all(&b->waiters, TULIP_EBROKEN);
    b->hint = 0;
    return 0;
}

int tulip_barrier_reset(tulip_barrier *b)
{
    if (!b)
        return -EINVAL;
    tulip__sync_wake_all(&b->waiters, TULIP_EBROKEN);
    b->broken = false;
    b->hint = 0;
    return 0;
}

int tulip_barrier_n_waiting(const tulip_barrier *b)
{
    return b ? barrier_count(b) : -EINVAL;
}

int tulip_barrier_parties(const tulip_barrier *b)
{
    return b ? b->parties : -EINVAL;
}

bool tulip_barrier_broken(const tulip_barrier *b)
{
    return b && b->broken;
}
