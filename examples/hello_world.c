/* SPDX-License-Identifier: MIT */
/*
 * The first program of the asyncio documentation ("Coroutines and Tasks"):
 * print hello, wait one second, print world.
 *
 *   import asyncio
 *
 *   async def main():
 *       print('hello')
 *       await asyncio.sleep(1)
 *       print('world')
 *
 *   asyncio.run(main())
 *
 * Prints "hello" and, one second later, "world". What differs: the coroutine
 * is a C function `int main_task(void *arg)` run as the main task by
 * tulip_run() (asyncio.run), and the loop runs on the virtual clock, so the
 * second passes at once; `--real` runs it on the real clock. Calling main()
 * without awaiting it, which the documentation shows returning a coroutine
 * object, has no counterpart: a C function called directly just runs.
 */
#include <stdio.h>
#include <string.h>

#include "tulip.h"

/* Report a failed tulip call and pass its code on. */
static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static int main_task(void *arg)
{
    int rc;

    (void)arg;
    printf("hello\n");
    rc = tulip_sleep(1 * TULIP_SEC);
    if (rc < 0)
        return fail("tulip_sleep", rc);
    printf("world\n");
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
