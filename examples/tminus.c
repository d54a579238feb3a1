/* SPDX-License-Identifier: MIT */
/*
 * The Python 3.4 asyncio countdown that Brett Cannon borrows from the curio
 * tutorial in "How the heck does async/await work in Python 3.5?": two
 * countdowns, one second a step, run side by side.
 *
 *   @asyncio.coroutine
 *   def countdown(number, n):
 *       while n > 0:
 *           print('T-minus', n, '({})'.format(number))
 *           yield from asyncio.sleep(1)
 *           n -= 1
 *
 *   loop = asyncio.get_event_loop()
 *   tasks = [
 *       asyncio.ensure_future(countdown("A", 2)),
 *       asyncio.ensure_future(countdown("B", 3))]
 *   loop.run_until_complete(asyncio.wait(tasks))
 *   loop.close()
 *
 * Prints T-minus 2 (A), T-minus 3 (B), T-minus 1 (A), T-minus 2 (B),
 * T-minus 1 (B), over three seconds. At each second both timers are due at
 * the same instant and fire in the order they were set, A before B, as
 * asyncio's do (their real deadlines differ by the microseconds A ran
 * first).
 *
 * What differs: `@asyncio.coroutine` and `yield from` (removed in Python
 * 3.11) become a task body that calls tulip_sleep(); the loop is made,
 * run until the wait is done and closed by tulip_run(), whose main task
 * spawns the two countdowns and waits for both with tulip_wait(). The
 * virtual clock makes the seconds pass at once; `--real` uses the real clock.
 */
#include <stdio.h>
#include <string.h>

#include "tulip.h"

struct countdown_args {
    const char *number; /* the countdown's label */
    int n;              /* where it starts */
};

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static int countdown(void *arg)
{
    const struct countdown_args *a = arg;

    for (int n = a->n; n > 0; n--) {
        int rc;

        printf("T-minus %d (%s)\n", n, a->number);
        rc = tulip_sleep(1 * TULIP_SEC);
        if (rc < 0)
            return fail("tulip_sleep", rc);
    }
    return 0;
}

static int main_task(void *arg)
{
    static const struct countdown_args args[2] = {{"A", 2}, {"B", 3}};
    tulip_loop *loop = tulip_task_loop(tulip_task_current());
    tulip_task *tasks[2] = {NULL, NULL};
    int rc = 0;

    (void)arg;
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = tulip_spawn(&tasks[i], loop, countdown, (void *)&args[i]);
        if (rc < 0)
            fail("tulip_spawn", rc);
    }
    if (rc == 0) {
        rc = tulip_wait(tasks, 2, TULIP_ALL_COMPLETED, TULIP_FOREVER, NULL);
        if (rc < 0)
            fail("tulip_wait", rc);
    }
    for (int i = 0; i < 2; i++) {
        int result;

        /* asyncio.wait leaves the outcomes in the tasks: read them. */
        if (rc >= 0 && tulip_task_result(tasks[i], &result) == 0 && result < 0)
            rc = result;
        tulip_task_release(tasks[i]);
    }
    return rc < 0 ? rc : 0;
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
