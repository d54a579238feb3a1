/* SPDX-License-Identifier: MIT */
/*
 * Combinators over tasks: gather, wait, wait_for, as_completed.
 *
 * Waiting for any of several tasks puts one waiter node of the calling task
 * into each unfinished task's queue (nodes on the heap, never on the stack,
 * held by the task so that a destroy at loop close frees them);
 * the first completion wakes the caller, which looks at every task again,
 * and all nodes leave their queues before the call returns.
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>
#include <stdlib.h>

static int task_failed(const struct tulip_task *t)
{
    return t->state == TULIP__TASK_DONE && t->result < 0;
}

static int task_done(const struct tulip_task *t)
{
    return t->state == TULIP__TASK_DONE;
}

/* Queue a node of t on every unfinished task not yet taken. */
static void nodes_arm(struct tulip_task *t, tulip_task *const *tasks, size_t n,
                      struct tulip__waiter *nodes, const unsigned char *taken)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (task_done(tasks[i]) || (taken && taken[i]) || nodes[i].queue)
            continue;
        nodes[i].task = t;
        tulip__waitq_push(&tasks[i]->done.waiters, &nodes[i]);
    }
}

static void nodes_disarm(struct tulip__waiter *nodes, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        tulip__waitq_remove(&nodes[i]);
}

static int check_tasks(tulip_task *const *tasks, size_t n)
{
    size_t i;

    if (n && !tasks)
        return -EINVAL;
    for (i = 0; i < n; i++)
        if (!tasks[i])
            return -EINVAL;
    return 0;
}

static void cancel_unfinished(tulip_task *const *tasks, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!task_done(tasks[i]))
            tulip_task_cancel(tasks[i]);
}

/* Results of the finished tasks (read, so never reported as unretrieved)
 * and -EINPROGRESS for the others. Every return after the arguments were
 * checked fills them, the cancelled ones included, as tulip.h says. */
static void gather_results(tulip_task *const *tasks, size_t n, int *results)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (task_done(tasks[i]))
            tasks[i]->retrieved = 1;
        if (results)
            results[i] = task_done(tasks[i]) ? tasks[i]->result : -EINPROGRESS;
    }
}

/* Whether a gather may return: every task done, or (without
 * TULIP_RETURN_ERRORS) one failed, whose result goes to *err. */
static bool gather_over(tulip_task *const *tasks, size_t n, unsigned flags,
                        int *err)
{
    size_t i, ndone = 0;

    for (i = 0; i < n; i++) {
        ndone += (size_t)task_done(tasks[i]);
        if (!(flags & TULIP_RETURN_ERRORS) && !*err && task_failed(tasks[i]))
            *err = tasks[i]->result;
    }
    return *err || ndone == n;
}

int tulip_gather(tulip_task *const *tasks, size_t n, int *results,
                 unsigned flags)
{
    struct tulip_task *t = tulip__task_running();
    struct tulip__waiter *nodes;
    int err = 0, rc;

    if ((flags & ~TULIP_RETURN_ERRORS) || check_tasks(tasks, n))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc) {
        gather_results(tasks, n, results);
        cancel_unfinished(tasks, n);
        return rc;
    }
    nodes = tulip__task_hold(t, n, 0);
    if (!nodes)
        return -ENOMEM;
    for (;;) {
        if (gather_over(tasks, n, flags, &err))
            break;
        /* Check again before each wait: a cancel (or deadline) that came
         * in the pass of the wake-up found us READY and did not wake us;
         * without this we slept on until the next child finished. The
         * stress build may yield in the check: look at the tasks again. */
        rc = tulip__task_check(t);
        if (!rc) {
            if (gather_over(tasks, n, flags, &err))
                break;
            nodes_arm(t, tasks, n, nodes, NULL);
            rc = tulip__task_suspend(t, TULIP_FOREVER);
        }
        if (rc) {
            /* Cancelling a gather cancels what it gathers. */
            tulip__task_unhold(nodes);
            gather_results(tasks, n, results);
            cancel_unfinished(tasks, n);
            return rc;
        }
    }
    tulip__task_unhold(nodes);
    gather_results(tasks, n, results);
    return err;
}

static int wait_satisfied(tulip_task *const *tasks, size_t n,
                          enum tulip_wait_mode mode, size_t *count)
{
    size_t i, ndone = 0;
    int failed = 0;

    for (i = 0; i < n; i++) {
        ndone += (size_t)task_done(tasks[i]);
        if (task_failed(tasks[i]) && tasks[i]->result != -ECANCELED)
            failed = 1;
    }
    *count = ndone;
    if (ndone == n)
        return 1;
    if (mode == TULIP_FIRST_COMPLETED)
        return ndone > 0;
    return mode == TULIP_FIRST_EXCEPTION && failed;
}

int tulip_wait(tulip_task *const *tasks, size_t n, enum tulip_wait_mode mode,
               int64_t timeout_ns, bool *done)
{
    struct tulip_task *t = tulip__task_running();
    struct tulip__waiter *nodes;
    int64_t deadline;
    size_t i, count;
    int rc = 0;

    if (!n || check_tasks(tasks, n) ||
        (mode != TULIP_ALL_COMPLETED && mode != TULIP_FIRST_COMPLETED &&
         mode != TULIP_FIRST_EXCEPTION))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    deadline =
        timeout_ns == TULIP_FOREVER
            ? TULIP_FOREVER
            : tulip__deadline_after(tulip__loop_now(t->loop), timeout_ns);
    nodes = tulip__task_hold(t, n, 0);
    if (!nodes)
        return -ENOMEM;
    while (!wait_satisfied(tasks, n, mode, &count)) {
        /* As in tulip_gather: a cancel that came with a wake-up, and
         * tasks that finished during the stress build's yield. */
        rc = tulip__task_check(t);
        if (rc || wait_satisfied(tasks, n, mode, &count))
            break;
        nodes_arm(t, tasks, n, nodes, NULL);
        rc = tulip__task_suspend(t, deadline);
        if (rc) {
            if (rc == TULIP__DEADLINE)
                rc = 0; /* asyncio.wait never raises on its timeout */
            break;
        }
    }
    tulip__task_unhold(nodes);
    if (rc < 0)
        return rc;
    wait_satisfied(tasks, n, mode, &count);
    for (i = 0; done && i < n; i++)
        done[i] = task_done(tasks[i]);
    return (int)count;
}

/* Cancel target and wait, shielded, until it has finished. */
static void cancel_and_drain(tulip_task *target)
{
    struct tulip_scope shield;

    tulip_task_cancel(target);
    tulip_scope_enter(&shield, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    tulip_task_join(target, NULL);
    tulip_scope_exit(&shield);
}

int tulip_wait_for(tulip_task *target, int64_t timeout_ns, int *result)
{
    struct tulip_task *t = tulip__task_running();
    int64_t deadline;
    int rc;

    if (!target)
        return -EINVAL;
    if (!t || target->loop != t->loop)
        return -EPERM;
    if (target == t)
        return -EDEADLK;
    deadline = tulip__deadline_after(tulip__loop_now(t->loop), timeout_ns);
    rc = tulip_task_join_until(target, deadline, result);
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        cancel_and_drain(target);
    return rc;
}

int tulip_wait_for_fn(tulip_task_fn *fn, void *arg, int64_t timeout_ns)
{
    struct tulip_task *t = tulip__task_running();
    struct tulip_scope s;
    int rc, expired;

    if (!fn)
        return -EINVAL;
    if (!t)
        return -EPERM;
    tulip_scope_enter(
        &s, tulip__deadline_after(tulip__loop_now(t->loop), timeout_ns), 0);
    rc = fn(arg);
    /* Timed out only if the body ran into the deadline, not if it finished
     * and the deadline passed afterwards. */
    expired = s.state_ == -ETIMEDOUT;
    tulip_scope_exit(&s);
    if (!expired)
        return rc;
    /* A cancel that came with the deadline wins, as everywhere: fn saw
     * -ECANCELED, and reporting -ETIMEDOUT would turn an outside cancel
     * into a timeout (the asyncio bug of C.3, gh-86296). */
    return tulip__scope_check(t) == -ECANCELED ? -ECANCELED : -ETIMEDOUT;
}

/* The iteration keeps, in one block held by the task (tulip__task_hold), a
 * waiter node and a "taken" flag per task. */
static struct tulip__waiter *ac_nodes(struct tulip_as_completed *it)
{
    return it->mem_;
}

static unsigned char *ac_taken(struct tulip_as_completed *it)
{
    return (unsigned char *)(ac_nodes(it) + it->n_);
}

int tulip_as_completed_init(struct tulip_as_completed *it,
                            tulip_task *const *tasks, size_t n,
                            int64_t timeout_ns)
{
    struct tulip_task *t = tulip__task_running();

    if (!it)
        return -EINVAL;
    it->mem_ = NULL;
    it->n_ = 0;
    it->left_ = 0;
    if (check_tasks(tasks, n))
        return -EINVAL;
    if (!t)
        return -EPERM;
    it->mem_ = tulip__task_hold(t, n, n);
    if (!it->mem_)
        return -ENOMEM;
    it->tasks_ = tasks;
    it->n_ = n;
    it->left_ = n;
    it->deadline_ns_ =
        timeout_ns == TULIP_FOREVER
            ? TULIP_FOREVER
            : tulip__deadline_after(tulip__loop_now(t->loop), timeout_ns);
    return 0;
}

int tulip_as_completed_next(struct tulip_as_completed *it, tulip_task **out)
{
    struct tulip_task *t = tulip__task_running();
    size_t i;
    int rc;

    if (!it || !out)
        return -EINVAL;
    *out = NULL;
    if (!it->mem_ && it->n_ == 0)
        return TULIP_STOP;
    if (!t)
        return -EPERM;
    for (;;) {
        if (it->left_ == 0)
            return TULIP_STOP;
        rc = tulip__task_check(t);
        if (rc)
            return rc;
        for (i = 0; i < it->n_; i++) {
            if (!ac_taken(it)[i] && task_done(it->tasks_[i])) {
                ac_taken(it)[i] = 1;
                it->left_--;
                *out = it->tasks_[i];
                return 0;
            }
        }
        nodes_arm(t, it->tasks_, it->n_, ac_nodes(it), ac_taken(it));
        rc = tulip__task_suspend(t, it->deadline_ns_);
        nodes_disarm(ac_nodes(it), it->n_);
        if (rc)
            return rc == TULIP__DEADLINE ? -ETIMEDOUT : rc;
    }
}

void tulip_as_completed_done(struct tulip_as_completed *it)
{
    if (!it || !it->mem_)
        return;
    tulip__task_unhold(it->mem_);
    it->mem_ = NULL;
}
