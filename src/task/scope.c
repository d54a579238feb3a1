/* SPDX-License-Identifier: MIT */
/*
 * Cancellation scopes: deadlines and shields, nested per task.
 *
 * A task's scopes form a chain from the innermost outwards, on the task's
 * own storage (usually its stack); only the task walks it, while running.
 * What the loop needs while the task waits is computed before it suspends:
 * the nearest deadline that applies (its timer is armed at it) and the
 * innermost shield (a cancel does not wake a shielded wait).
 *
 * Which conditions apply: walking outwards from the innermost scope up to
 * and including the first shielded one, every expired deadline (giving
 * -ETIMEDOUT) and every cancelled scope (a task group's body, giving
 * -ECANCELED); and the task's own cancellation if no shield was met. When
 * several apply, -ECANCELED wins.
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>

int64_t tulip__scope_deadline(struct tulip_task *t, int *shield_depth)
{
    struct tulip_scope *s;
    int64_t d = TULIP_FOREVER;

    *shield_depth = 0;
    for (s = t->scopes; s; s = s->outer_) {
        if (s->deadline_ns_ < d)
            d = s->deadline_ns_;
        if (s->flags_ & TULIP_SCOPE_SHIELD) {
            *shield_depth = s->depth_;
            break;
        }
    }
    return d;
}

int tulip__scope_check(struct tulip_task *t)
{
    return tulip__scope_check_from(t, t->scopes);
}

int tulip__scope_check_from(struct tulip_task *t, struct tulip_scope *from)
{
    struct tulip_scope *s;
    int64_t now = -1;
    int rc = 0;

    for (s = from; s; s = s->outer_) {
        if (s->state_ == -ECANCELED)
            return -ECANCELED;
        if (!s->state_ && s->deadline_ns_ != TULIP_FOREVER) {
            if (now < 0)
                now = tulip__loop_now(t->loop);
            if (now >= s->deadline_ns_)
                s->state_ = -ETIMEDOUT;
        }
        if (s->state_)
            rc = s->state_;
        if (s->flags_ & TULIP_SCOPE_SHIELD)
            return rc;
    }
    return t->cancelled ? -ECANCELED : rc;
}

int tulip_scope_enter(struct tulip_scope *s, int64_t deadline_ns,
                      unsigned flags)
{
    struct tulip_task *t = tulip__task_running();

    if (!s || (flags & ~TULIP_SCOPE_SHIELD))
        return -EINVAL;
    if (!t)
        return -EPERM;
    s->outer_ = t->scopes;
    s->deadline_ns_ = deadline_ns;
    s->task_ = t;
    s->flags_ = flags;
    s->depth_ = ++t->scope_depth;
    s->state_ = 0;
    if ((flags & TULIP_SCOPE_SHIELD) && !t->outer_shield_depth)
        t->outer_shield_depth = s->depth_;
    t->scopes = s;
    return 0;
}

int tulip_scope_exit(struct tulip_scope *s)
{
    struct tulip_task *t = tulip__task_running();

    if (!s)
        return -EINVAL;
    if (!t || s->task_ != t)
        return -EPERM;
    if (t->scopes != s)
        return -EINVAL;
    if (!s->state_ && s->deadline_ns_ != TULIP_FOREVER &&
        tulip__loop_now(t->loop) >= s->deadline_ns_)
        s->state_ = -ETIMEDOUT;
    t->scopes = s->outer_;
    t->scope_depth--;
    if (t->outer_shield_depth == s->depth_)
        t->outer_shield_depth = 0;
    return s->state_ == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

int tulip_scope_reschedule(struct tulip_scope *s, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();

    if (!s)
        return -EINVAL;
    if (!t || s->task_ != t)
        return -EPERM;
    s->deadline_ns_ = deadline_ns;
    return 0;
}

int tulip_check_cancel(void)
{
    struct tulip_task *t = tulip__task_running();

    return t ? tulip__scope_check(t) : -EPERM;
}
