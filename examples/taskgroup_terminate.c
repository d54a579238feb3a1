/* SPDX-License-Identifier: MIT */
/*
 * "Terminating a Task Group", the recipe of the asyncio documentation: a
 * task group has no way to stop itself, so the recipe adds a task that
 * fails on purpose, which cancels the rest of the group.
 *
 *   class TerminateTaskGroup(Exception):
 *       """Exception raised to terminate a task group."""
 *
 *   async def force_terminate_task_group():
 *       """Used to force termination of a task group."""
 *       raise TerminateTaskGroup()
 *
 *   async def job(task_id, sleep_time):
 *       print(f'Task {task_id}: start')
 *       await asyncio.sleep(sleep_time)
 *       print(f'Task {task_id}: done')
 *
 *   async def main():
 *       try:
 *           async with TaskGroup() as group:
 *               # spawn some tasks
 *               group.create_task(job(1, 0.5))
 *               group.create_task(job(2, 1.5))
 *               # sleep for 1 second
 *               await asyncio.sleep(1)
 *               # add an exception-raising task to force the group to terminate
 *               group.create_task(force_terminate_task_group())
 *       except* TerminateTaskGroup:
 *           pass
 *
 *   asyncio.run(main())
 *
 * Prints "Task 1: start", "Task 2: start", "Task 1: done": job 2, which would
 * finish at 1.5 s, is cancelled at 1 s.
 *
 * What differs: an exception class becomes an error code. C has no room for
 * codes of the application's own, so TERMINATE_TASK_GROUP borrows an errno
 * value that nothing else here returns; what matters is that it is negative
 * and not -ECANCELED (a child ending with -ECANCELED does not fail the
 * group, as a cancelled child does not fail a TaskGroup). `except*` becomes
 * comparing tulip_group_wait()'s result, the group's first error, with it.
 * tulip_group_cancel() stops a group directly (asyncio added
 * TaskGroup.cancel() only later); the recipe is kept as written. The virtual
 * clock makes the second pass at once; `--real` uses the real clock.
 */
#include <stdio.h>
#include <string.h>

#include "tulip.h"

/* The exception that terminates the group. */
#define TERMINATE_TASK_GROUP (-ESHUTDOWN)

struct job_args {
    int task_id;        /* printed */
    int64_t sleep_time; /* in ns */
};

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static int force_terminate_task_group(void *arg)
{
    (void)arg;
    return TERMINATE_TASK_GROUP;
}

static int job(void *arg)
{
    const struct job_args *a = arg;
    int rc;

    printf("Task %d: start\n", a->task_id);
    rc = tulip_sleep(a->sleep_time);
    if (rc < 0)
        return rc; /* -ECANCELED: the group is terminating */
    printf("Task %d: done\n", a->task_id);
    return 0;
}

static int main_task(void *arg)
{
    static const struct job_args jobs[2] = {
        {1, 500 * TULIP_MSEC},
        {2, 1500 * TULIP_MSEC},
    };
    tulip_group *group;
    int rc;

    (void)arg;
    rc = tulip_group_new(&group);
    if (rc < 0)
        return fail("tulip_group_new", rc);
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = tulip_group_spawn(group, job, (void *)&jobs[i], NULL, NULL);
        if (rc < 0)
            fail("tulip_group_spawn", rc);
    }
    if (rc == 0) {
        rc = tulip_sleep(1 * TULIP_SEC);
        if (rc < 0)
            fail("tulip_sleep", rc);
    }
    if (rc == 0) {
        rc = tulip_group_spawn(group, force_terminate_task_group, NULL, NULL,
                               NULL);
        if (rc < 0)
            fail("tulip_group_spawn", rc);
    }
    /* The end of `async with`: wait for every child, even after an error. */
    rc = tulip_group_wait(group);
    if (rc == TERMINATE_TASK_GROUP) /* except* TerminateTaskGroup: pass */
        return 0;
    if (rc < 0)
        return fail("tulip_group_wait", rc);
    return 0;
}

int main(int argc, char **argv)
{
    struct tulip_run_opts opts = {0};
    int result;
    int rc;

    opts.loop.virtual_clock = !(argc > 1 && strcmp(argv[1], "--real") == 0);
    rc = tulip_run(main_task, NULL, &result, &opts);
    if (rc < 0) {
        fail("tulip_run", rc);
        return 1;
    }
    return result < 0 ? 1 : 0;
}
