/* SPDX-License-Identifier: MIT */
/*
 * Timeouts from the asyncio documentation ("asyncio.wait_for"): wait at most
 * one second for a coroutine that sleeps for an hour.
 *
 *   async def eternity():
 *       # Sleep for one hour
 *       await asyncio.sleep(3600)
 *       print('yay!')
 *
 *   async def main():
 *       # Wait for at most 1 second
 *       try:
 *           await asyncio.wait_for(eternity(), timeout=1.0)
 *       except TimeoutError:
 *           print('timeout!')
 *
 *   asyncio.run(main())
 *
 * Prints "timeout!". What differs: TimeoutError is the code -ETIMEDOUT.
 * Since Python 3.12, wait_for awaits the coroutine in the calling task under
 * `async with timeout(...)`; tulip_wait_for_fn() does the same: eternity()
 * runs in main's task inside a scope with a deadline, its tulip_sleep()
 * returns -ETIMEDOUT when the second has passed, and it returns that code
 * instead of printing "yay!" (the exception propagating). To wait for a task
 * that runs on its own, and cancel it on timeout, use tulip_wait_for(). The
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

static int eternity(void *arg)
{
    int rc;

    (void)arg;
    rc = tulip_sleep(3600 * TULIP_SEC); /* sleep for one hour */
    if (rc < 0)
        return rc; /* -ETIMEDOUT propagates, as the exception would */
    printf("yay!\n");
    return 0;
}

static int main_task(void *arg)
{
    int rc;

    (void)arg;
    rc = tulip_wait_for_fn(eternity, NULL, 1 * TULIP_SEC);
    if (rc == -ETIMEDOUT) {
        printf("timeout!\n");
        return 0;
    }
    if (rc < 0)
        return fail("tulip_wait_for_fn", rc);
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
