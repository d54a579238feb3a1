/* SPDX-License-Identifier: MIT */
/*
 * Running a loop until a task completes, and tulip_run(), asyncio.run's
 * counterpart: a fresh loop, the main task to its end, then every task still
 * running cancelled and waited for, and the loop closed.
 */
#include "../prefix.h"
#include "task.h"

#include <errno.h>

int tulip_loop_run_until(tulip_loop *loop, tulip_task *t, int *result)
{
    struct tulip__tasks *ts;
    int rc = 0;

    if (!loop || !t || t->loop != loop)
        return -EINVAL;
    if (tulip_loop_is_running(loop))
        return -EBUSY;
    ts = tulip__tasks_of(loop);
    if (!ts)
        return -ENOMEM;
    tulip_task_retain(t);
    /*
     * The loop runs pass after pass inside tulip_loop_run(), and t stops it
     * in the pass it finishes in (task_finished), so the run ends exactly
     * where a check after every pass would end it. Entering the loop once
     * per pass instead costs about a sixth of a sleep(0) switch when each
     * pass runs one task. If the run ends with t pending, someone else
     * stopped the loop (run on) or no work is left, and one pass tells
     * which.
     */
    ts->until = t;
    while (t->state != TULIP__TASK_DONE) {
        rc = tulip_loop_run(loop);
        if (rc < 0 || t->state == TULIP__TASK_DONE)
            break;
        rc = tulip_loop_run_once(loop);
        if (rc < 0)
            break;
        if (rc == 0 && t->state != TULIP__TASK_DONE) {
            rc = -EDEADLK; /* no work left, and t still waits */
            break;
        }
        rc = 0;
    }
    ts->until = NULL;
    if (rc == 0) {
        t->retrieved = 1;
        if (result)
            *result = t->result;
    }
    tulip_task_release(t);
    return rc;
}

/* Cancel every unfinished task and run until they have all finished. */
static void cancel_all(tulip_loop *loop)
{
    struct tulip__tasks *ts = tulip__tasks_of(loop);
    struct tulip_task *t;

    if (!ts)
        return;
    for (t = ts->all; t; t = t->all_next)
        tulip_task_cancel(t);
    while (ts->all && tulip_loop_run_once(loop) > 0)
        ;
}

static int shutdown_gens_task(void *arg)
{
    (void)arg;
    return tulip_shutdown_gens();
}

/* Close the generators abandoned while suspended, running their cleanup
 * in a task of their own (asyncio.run's shutdown_asyncgens step). */
static void shutdown_gens(tulip_loop *loop)
{
    tulip_task *t;

    if (tulip_spawn(&t, loop, shutdown_gens_task, NULL) == 0) {
        tulip_loop_run_until(loop, t, NULL);
        tulip_task_release(t);
    }
}

int tulip_run(tulip_task_fn *fn, void *arg, int *result,
              const struct tulip_run_opts *opts)
{
    tulip_loop *loop;
    tulip_task *main_task;
    int rc, close_rc;

    if (!fn)
        return -EINVAL;
    if (tulip_loop_current())
        return -EBUSY;
    rc = tulip_loop_new(&loop, opts ? &opts->loop : NULL);
    if (rc)
        return rc;
    rc = tulip_spawn_ex(&main_task, loop, fn, arg, opts ? &opts->task : NULL);
    if (rc == 0) {
        /* asyncio.Runner's Ctrl-C: the first SIGINT cancels the main task,
         * the second kills the process; undone before the loop closes. */
        tulip__signal_run_begin(loop, main_task);
        rc = tulip_loop_run_until(loop, main_task, result);
        if (rc == -EDEADLK)
            tulip_task_cancel(main_task);
        cancel_all(loop);
        shutdown_gens(loop);
        cancel_all(loop);
        if (tulip__signal_run_end(loop) && rc == 0)
            rc = -EINTR; /* asyncio raises KeyboardInterrupt */
        tulip_task_release(main_task);
    }
    close_rc = tulip_loop_close(loop);
    if (close_rc < 0) {
        /* Handles the program still holds point into the loop: it stays
         * open (and allocated) for the caller to release them and close. */
        struct tulip_error_context ctx = {
            .message = "tulip_run: the loop cannot close: handles were not "
                       "released; it is left open",
            .err = close_rc,
            .source = "run",
            .object = loop};
        tulip__loop_report(loop, &ctx);
        if (rc == 0)
            rc = close_rc;
    }
    return rc;
}
