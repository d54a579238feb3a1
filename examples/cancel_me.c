/* SPDX-License-Identifier: MIT */
/*
 * Task cancellation from the asyncio documentation ("Task Cancellation"):
 * main cancels a task that sleeps for an hour, one second after starting it.
 *
 *   async def cancel_me():
 *       print('cancel_me(): before sleep')
 *       try:
 *           # Wait for 1 hour
 *           await asyncio.sleep(3600)
 *       except asyncio.CancelledError:
 *           print('cancel_me(): cancel sleep')
 *           raise
 *       finally:
 *           print('cancel_me(): after sleep')
 *
 *   async def main():
 *       # Create a "cancel_me" Task
 *       task = asyncio.create_task(cancel_me())
 *       # Wait for 1 second
 *       await asyncio.sleep(1)
 *       task.cancel()
 *       try:
 *           await task
 *       except asyncio.CancelledError:
 *           print("main(): cancel_me is cancelled now")
 *
 *   asyncio.run(main())
 *
 * Prints the same four lines. What differs: CancelledError is the code
 * -ECANCELED, which tulip_sleep() returns once the task is cancelled; the
 * `except ...: raise` and `finally` become an if and the code after it, and
 * the task returns the code (re-raising). Awaiting the task is
 * tulip_task_join(), which succeeds and hands back the task's result,
 * -ECANCELED, where `await task` raises. Cancellation is level-triggered in
 * tulip: had cancel_me() made another suspending call after the first
 * -ECANCELED, that call would have returned -ECANCELED at once too. The
 * virtual clock makes the second pass at once; `--real` uses the real clock.
 */
#include <stdio.h>
#include <string.h>

#include "tulip.h"

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static int cancel_me(void *arg)
{
    int rc;

    (void)arg;
    printf("cancel_me(): before sleep\n");
    rc = tulip_sleep(3600 * TULIP_SEC); /* wait for 1 hour */
    if (rc == -ECANCELED)
        printf("cancel_me(): cancel sleep\n");
    else if (rc < 0)
        fail("tulip_sleep", rc);
    printf("cancel_me(): after sleep\n");
    return rc;
}

static int main_task(void *arg)
{
    tulip_task *task;
    int result;
    int rc;

    (void)arg;
    rc = tulip_spawn(&task, tulip_task_loop(tulip_task_current()), cancel_me,
                     NULL);
    if (rc < 0)
        return fail("tulip_spawn", rc);
    rc = tulip_sleep(1 * TULIP_SEC); /* wait for 1 second */
    if (rc < 0) {
        fail("tulip_sleep", rc);
        goto out_release;
    }
    rc = tulip_task_cancel(task);
    if (rc < 0) {
        fail("tulip_task_cancel", rc);
        goto out_release;
    }
    rc = tulip_task_join(task, &result);
    if (rc < 0) {
        fail("tulip_task_join", rc);
        goto out_release;
    }
    if (result == -ECANCELED)
        printf("main(): cancel_me is cancelled now\n");
out_release:
    tulip_task_release(task);
    return rc;
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
