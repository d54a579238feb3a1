/* SPDX-License-Identifier: MIT */
/*
 * Task groups: structured concurrency (asyncio.TaskGroup, trio's nursery).
 *
 * A group is opened by a task (its parent) and is, in the parent, a scope:
 * the body between tulip_group_new() and tulip_group_wait(). Children are
 * ordinary tasks linked into the group while unfinished. The first child to
 * fail cancels its siblings and the body (the group's scope turns
 * cancelled, so the parent's suspending calls in the body return
 * -ECANCELED). tulip_group_wait() waits for every child; if the parent is
 * cancelled from outside, or an outer deadline passes, it cancels the
 * children and keeps waiting, shielded, until they have all finished. The
 * group object lives on the heap, so children and the loop never touch the
 * parent's stack.
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>

struct tulip_group {
    struct tulip_scope scope;    /* the body, in the parent's chain */
    struct tulip_task *parent;   /* the task that opened it */
    struct tulip_task *children; /* unfinished children */
    size_t live;                 /* their number */
    int first_error;             /* first failure of a child, or 0 */
    unsigned char closed;        /* tulip_group_wait() has begun */
    unsigned char cancelled;     /* the body is cancelled */
    struct tulip_group *outer;   /* the parent's enclosing open group */
    struct tulip__waitq waitq;   /* the parent, waiting for the last child */
};

int tulip_group_new(tulip_group **out)
{
    struct tulip_task *t = tulip__task_running();
    tulip_group *g;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!t)
        return -EPERM;
    g = tulip__calloc(sizeof(*g));
    if (!g)
        return -ENOMEM;
    tulip_scope_enter(&g->scope, TULIP_FOREVER, 0);
    g->parent = t;
    g->outer = t->groups;
    t->groups = g;
    *out = g;
    return 0;
}

void tulip__group_link(tulip_group *g, struct tulip_task *child)
{
    child->group = g;
    child->group_prev = NULL;
    child->group_next = g->children;
    if (g->children)
        g->children->group_prev = child;
    g->children = child;
    g->live++;
}

static void cancel_children(tulip_group *g)
{
    struct tulip_task *c, *next;

    for (c = g->children; c; c = next) {
        next = c->group_next;
        tulip_task_cancel(c);
    }
}

/* Cancel the children and the body. */
static void group_cancel(tulip_group *g)
{
    struct tulip_task *p = g->parent;

    if (g->cancelled)
        return;
    g->cancelled = 1;
    if (!(g->scope.flags_ & TULIP_SCOPE_SHIELD))
        g->scope.state_ = -ECANCELED;
    cancel_children(g);
    /* Wake the parent if its wait sees the body's scope (no shield nested
     * inside the body hides it). */
    if (p->state == TULIP__TASK_WAITING &&
        (p->shield_depth == 0 || g->scope.depth_ >= p->shield_depth))
        tulip__task_wake(p, TULIP__WAKE_CANCEL);
}

int tulip_group_cancel(tulip_group *g)
{
    if (!g)
        return -EINVAL;
    group_cancel(g);
    return 0;
}

void tulip__group_child_done(struct tulip_task *c)
{
    tulip_group *g = c->group;

    if (c->group_prev)
        c->group_prev->group_next = c->group_next;
    else
        g->children = c->group_next;
    if (c->group_next)
        c->group_next->group_prev = c->group_prev;
    c->group = NULL;
    g->live--;
    if (c->result < 0 && c->result != -ECANCELED) {
        c->retrieved = 1; /* the group reports it */
        if (!g->first_error) {
            g->first_error = c->result;
            group_cancel(g);
        }
    }
    if (g->live == 0)
        while (g->waitq.head)
            tulip__task_wake_waiter(g->waitq.head, NULL, 0);
}

void tulip__group_parent_cancelled(struct tulip_task *t)
{
    tulip_group *g;

    /* Groups opened inside a shielded scope keep their children. */
    for (g = t->groups; g; g = g->outer)
        if (!t->outer_shield_depth || g->scope.depth_ < t->outer_shield_depth)
            cancel_children(g);
}

void tulip__group_destroy_all(struct tulip_task *t)
{
    tulip_group *g;

    while ((g = t->groups) != NULL) {
        while (g->children) {
            struct tulip_task *c = g->children;
            g->children = c->group_next;
            c->group = NULL;
        }
        /* The parent may wait in g's queue (loop close during
         * tulip_group_wait): unlink its node before g's memory goes. */
        while (g->waitq.head)
            tulip__waitq_remove(g->waitq.head);
        t->groups = g->outer;
        tulip__free(g, sizeof(*g));
    }
}

int tulip_group_spawn(tulip_group *g, tulip_task_fn *fn, void *arg,
                      const struct tulip_task_opts *opts, tulip_task **out)
{
    if (out)
        *out = NULL;
    if (!g || !fn)
        return -EINVAL;
    if (g->closed)
        return -EPIPE;
    if (g->cancelled)
        return -ECANCELED;
    return tulip__task_spawn(out, g->parent->loop, fn, arg, opts, g);
}

int tulip_group_wait(tulip_group *g)
{
    struct tulip_task *t = tulip__task_running();
    int outside = 0;
    int rc;

    if (!g)
        return -EINVAL;
    if (!t || g->parent != t || t->scopes != &g->scope)
        return -EPERM;
    g->closed = 1;
    while (g->live > 0) {
        rc = 0;
        if (!(g->scope.flags_ & TULIP_SCOPE_SHIELD))
            rc = tulip__task_check(t);
        /* The last child may have ended during the stress build's yield: */
        /* cppcheck-suppress knownConditionTrueFalse ; changed meanwhile */
        if (!rc && g->live == 0)
            break;
        if (!rc) {
            tulip__waitq_push(&g->waitq, &t->waiter);
            rc = tulip__task_suspend(t, TULIP_FOREVER);
        }
        if (rc < 0) {
            /* Cancelled or timed out: what came from outside the group is
             * returned; the children are cancelled and still waited for. */
            outside = tulip__scope_check_from(t, g->scope.outer_);
            /* Not a cancel: no memory for a deadline's timer. It must not
             * pass for a clean end of children it cancels. */
            if (!outside && rc != -ECANCELED && rc != -ETIMEDOUT)
                outside = rc;
            group_cancel(g);
            g->scope.flags_ |= TULIP_SCOPE_SHIELD;
            g->scope.state_ = 0;
        }
    }
    t->scopes = g->scope.outer_;
    t->scope_depth--;
    if (t->outer_shield_depth == g->scope.depth_)
        t->outer_shield_depth = 0;
    t->groups = g->outer;
    /* Look outside once more at the end: a parent cancelled before the
     * call with no child left to wait for, or cancelled while draining
     * shielded (after tulip_group_cancel() or a child's failure), must
     * still get -ECANCELED, not 0 (asyncio's gh-155433). Outer states are
     * sticky, so this only adds to what was seen while waiting. */
    rc = tulip__scope_check_from(t, g->scope.outer_);
    if (!rc)
        rc = outside;
    if (g->first_error)
        rc = g->first_error;
    tulip__free(g, sizeof(*g));
    return rc;
}
