/* SPDX-License-Identifier: MIT */
/*
 * Semaphore and BoundedSemaphore. A release while tasks wait hands its
 * permit to the longest waiting one (the value stays 0), and an acquire
 * takes a free permit only when nobody waits, so permits are granted in
 * FIFO order and a cancelled waiter can never strand one: it either left
 * the queue before any hand-off, or it returns 0 holding the permit.
 */
#include "../prefix.h"
#include "sync.h"

#include <errno.h>
#include <limits.h>

struct tulip_sem {
    int value;                   /* free permits; 0 while tasks wait */
    int bound;                   /* initial value if bounded, else -1 */
    struct tulip__waitq waiters; /* tasks in acquire, FIFO */
};

static int sem_make(tulip_sem **out, int value, bool bounded)
{
    tulip_sem *s;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (value < 0)
        return -EINVAL;
    s = tulip__calloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->value = value;
    s->bound = bounded ? value : -1;
    *out = s;
    return 0;
}

int tulip_sem_new(tulip_sem **out, int value)
{
    return sem_make(out, value, false);
}

int tulip_sem_new_bounded(tulip_sem **out, int value)
{
    return sem_make(out, value, true);
}

void tulip_sem_free(tulip_sem *s)
{
    if (!s)
        return;
    tulip__sync_wake_all(&s->waiters, TULIP_ECLOSED);
    tulip__free(s, sizeof(*s));
}

int tulip_sem_acquire_until(tulip_sem *s, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!s)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    if (s->value > 0) {
        s->value--; /* value > 0 implies nobody waits */
        return 0;
    }
    return tulip__sync_wait(&s->waiters, t, deadline_ns);
}

int tulip_sem_acquire(tulip_sem *s)
{
    return tulip_sem_acquire_until(s, TULIP_FOREVER);
}

int tulip_sem_try_acquire(tulip_sem *s)
{
    if (!s)
        return -EINVAL;
    if (s->value == 0)
        return -EAGAIN;
    s->value--;
    return 0;
}

int tulip_sem_release(tulip_sem *s)
{
    if (!s)
        return -EINVAL;
    if ((s->bound >= 0 && s->value >= s->bound) || s->value == INT_MAX)
        return -EOVERFLOW;
    if (s->waiters.head)
        tulip__task_wake_waiter(s->waiters.head, NULL, 0);
    else
        s->value++;
    return 0;
}

int tulip_sem_value(const tulip_sem *s)
{
    return s ? s->value : -EINVAL;
}
