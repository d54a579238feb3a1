/* SPDX-License-Identifier: MIT */
/*
 * Event: asyncio.Event. set() wakes every waiter with success at once, so a
 * clear() before they run cannot take the wake-up back from them.
 */
#include "../prefix.h"
#include "sync.h"

#include <errno.h>

struct tulip_event {
    bool set;                    /* the flag */
    struct tulip__waitq waiters; /* tasks in wait, only while clear */
};

int tulip_event_new(tulip_event **out)
{
    tulip_event *e;

    if (!out)
        return -EINVAL;
    *out = e = tulip__calloc(sizeof(*e));
    return e ? 0 : -ENOMEM;
}

void tulip_event_free(tulip_event *e)
{
    if (!e)
        return;
    tulip__sync_wake_all(&e->waiters, TULIP_ECLOSED);
    tulip__free(e, sizeof(*e));
}

int tulip_event_set(tulip_event *e)
{
    if (!e)
        return -EINVAL;
    e->set = true;
    tulip__sync_wake_all(&e->waiters, 0);
    return 0;
}

int tulip_event_clear(tulip_event *e)
{
    if (!e)
        return -EINVAL;
    e->set = false;
    return 0;
}

bool tulip_event_is_set(const tulip_event *e)
{
    return e && e->set;
}

int tulip_event_wait_until(tulip_event *e, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!e)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc || e->set)
        return rc;
    return tulip__sync_wait(&e->waiters, t, deadline_ns);
}

int tulip_event_wait(tulip_event *e)
{
    return tulip_event_wait_until(e, TULIP_FOREVER);
}
