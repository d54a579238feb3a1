/* SPDX-License-Identifier: MIT */
/*
 * The sync layer's shared helpers: the one way every primitive of
 * src/sync/ parks a task in a wait queue and reads the outcome of its wait,
 * and the wake-up of a whole queue with one code (free, shutdown, abort).
 *
 * Hand-off rule (see the top of src/task/task.h): a primitive hands what it
 * frees only to the head of a wait queue, which is always still waiting,
 * because a task woken by its timer or a cancel leaves its queue at once;
 * the handed object travels in the wake-up (t->wake_value / t->wake_code),
 * so the woken task owns it even if it is cancelled before it runs.
 *
 * A task that parks a value for the object to take (a queue putter's item,
 * a channel sender's message) leaves it in its own t->wake_value before it
 * suspends: nothing writes that field until the task is woken by an object,
 * and the object reads it before waking the task.
 */
#ifndef TULIP_SYNC_H
#define TULIP_SYNC_H

#include "../task/task.h"

/* Suspend t in q until woken by the object or deadline_ns; t must have
 * passed tulip__task_check() already. Returns the wake-up's code (0 or an
 * object error), or -ECANCELED / -ETIMEDOUT / -ENOMEM; on those the waiter
 * has left q. */
static inline int tulip__sync_wait(struct tulip__waitq *q, struct tulip_task *t,
                                   int64_t deadline_ns)
{
    int rc;

    tulip__waitq_push(q, &t->waiter);
    rc = tulip__task_suspend(t, deadline_ns);
    if (rc)
        return rc == TULIP__DEADLINE ? -ETIMEDOUT : rc;
    return t->wake_code;
}

/* Wake every waiter of q with (NULL, code), longest waiting first. */
static inline void tulip__sync_wake_all(struct tulip__waitq *q, int code)
{
    while (q->head)
        tulip__task_wake_waiter(q->head, NULL, code);
}

/* lock.c, for cond.c: release l on behalf of its owner; whether t holds l. */
TULIP_PRIVATE void tulip__lock_release(tulip_lock *l);
TULIP_PRIVATE bool tulip__lock_held_by(const tulip_lock *l,
                                       const struct tulip_task *t);

#endif /* TULIP_SYNC_H */
