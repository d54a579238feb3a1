/* SPDX-License-Identifier: MIT */
/*
 * The say_after programs of the asyncio documentation ("Coroutines and
 * Tasks"): the same two waits, first awaited one after the other, then run
 * as two tasks, then in a task group.
 *
 *   async def say_after(delay, what):
 *       await asyncio.sleep(delay)
 *       print(what)
 *
 *   async def main():                       # 1: about 3 seconds
 *       print(f"started at {time.strftime('%X')}")
 *       await say_after(1, 'hello')
 *       await say_after(2, 'world')
 *       print(f"finished at {time.strftime('%X')}")
 *
 *   async def main():                       # 2: about 2 seconds
 *       task1 = asyncio.create_task(say_after(1, 'hello'))
 *       task2 = asyncio.create_task(say_after(2, 'world'))
 *       print(f"started at {time.strftime('%X')}")
 *       await task1
 *       await task2
 *       print(f"finished at {time.strftime('%X')}")
 *
 *   async def main():                       # 3: about 2 seconds
 *       async with asyncio.TaskGroup() as tg:
 *           task1 = tg.create_task(say_after(1, 'hello'))
 *           task2 = tg.create_task(say_after(2, 'world'))
 *           print(f"started at {time.strftime('%X')}")
 *       print(f"finished at {time.strftime('%X')}")
 *
 *   asyncio.run(main())
 *
 * Each prints "started at ...", hello, world, "finished at ...": 3 seconds
 * later for the first, 2 for the others.
 *
 * What differs: the three versions run one after the other in one program,
 * each under its own tulip_run() and after a line naming it. On the virtual
 * clock each loop's time starts at 0, and time.strftime('%X') of the wall
 * clock becomes the loop's time as HH:MM:SS, so the output is the same on
 * every run; `--real` runs on the real clock and prints the wall-clock time
 * as the documentation does. `await say_after(...)` is a plain call: a task
 * runs on a stack of its own, so any function it calls may wait, and no
 * coroutine object is made. Tasks take their arguments through a pointer.
 */
#define _POSIX_C_SOURCE 200809L /* localtime_r */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tulip.h"

struct say_after_args {
    int64_t delay; /* in ns */
    const char *what;
};

static bool real_clock; /* --real */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

/* time.strftime('%X'): the wall clock, or the virtual clock's time. */
static const char *clock_x(char *buf, size_t size)
{
    if (real_clock) {
        time_t now = time(NULL);
        struct tm tm;

        if (!localtime_r(&now, &tm) || strftime(buf, size, "%X", &tm) == 0)
            snprintf(buf, size, "?");
    } else {
        int64_t s = tulip_now() / TULIP_SEC;

        snprintf(buf, size, "%02d:%02d:%02d", (int)(s / 3600 % 24),
                 (int)(s / 60 % 60), (int)(s % 60));
    }
    return buf;
}

static int say_after(int64_t delay, const char *what)
{
    int rc = tulip_sleep(delay);

    if (rc < 0)
        return fail("tulip_sleep", rc);
    printf("%s\n", what);
    return 0;
}

static int say_after_task(void *arg)
{
    const struct say_after_args *a = arg;

    return say_after(a->delay, a->what);
}

static const struct say_after_args hello = {1 * TULIP_SEC, "hello"};
static const struct say_after_args world = {2 * TULIP_SEC, "world"};

/* 1: awaited one after the other. */
static int main_sequential(void *arg)
{
    char buf[32];
    int rc;

    (void)arg;
    printf("started at %s\n", clock_x(buf, sizeof(buf)));
    rc = say_after(1 * TULIP_SEC, "hello");
    if (rc < 0)
        return rc;
    rc = say_after(2 * TULIP_SEC, "world");
    if (rc < 0)
        return rc;
    printf("finished at %s\n", clock_x(buf, sizeof(buf)));
    return 0;
}

/* 2: two tasks, then await each. */
static int main_tasks(void *arg)
{
    tulip_loop *loop = tulip_task_loop(tulip_task_current());
    tulip_task *task1 = NULL;
    tulip_task *task2 = NULL;
    char buf[32];
    int result;
    int rc;

    (void)arg;
    rc = tulip_spawn(&task1, loop, say_after_task, (void *)&hello);
    if (rc < 0)
        return fail("tulip_spawn", rc);
    rc = tulip_spawn(&task2, loop, say_after_task, (void *)&world);
    if (rc < 0) {
        fail("tulip_spawn", rc);
        goto out;
    }
    printf("started at %s\n", clock_x(buf, sizeof(buf)));
    rc = tulip_task_join(task1, &result);
    if (rc < 0 || result < 0) {
        rc = rc < 0 ? fail("tulip_task_join", rc) : result;
        goto out;
    }
    rc = tulip_task_join(task2, &result);
    if (rc < 0 || result < 0) {
        rc = rc < 0 ? fail("tulip_task_join", rc) : result;
        goto out;
    }
    printf("finished at %s\n", clock_x(buf, sizeof(buf)));
out:
    tulip_task_release(task1);
    tulip_task_release(task2);
    return rc;
}

/* 3: a task group, waited for at the end of its block. */
static int main_group(void *arg)
{
    tulip_group *tg;
    char buf[32];
    int wait_rc;
    int rc;

    (void)arg;
    rc = tulip_group_new(&tg);
    if (rc < 0)
        return fail("tulip_group_new", rc);
    rc = tulip_group_spawn(tg, say_after_task, (void *)&hello, NULL, NULL);
    if (rc == 0)
        rc = tulip_group_spawn(tg, say_after_task, (void *)&world, NULL, NULL);
    if (rc < 0)
        fail("tulip_group_spawn", rc);
    else
        printf("started at %s\n", clock_x(buf, sizeof(buf)));
    /* `async with` ends: wait for the children, whatever happened. */
    wait_rc = tulip_group_wait(tg);
    if (wait_rc < 0) {
        fail("tulip_group_wait", wait_rc);
        if (rc == 0)
            rc = wait_rc;
    }
    if (rc < 0)
        return rc;
    printf("finished at %s\n", clock_x(buf, sizeof(buf)));
    return 0;
}

static int run(const char *title, tulip_task_fn *fn)
{
    struct tulip_run_opts opts = {0};
    int result;
    int rc;

    printf("%s\n", title);
    opts.loop.virtual_clock = !real_clock;
    rc = tulip_run(fn, NULL, &result, &opts);
    if (rc < 0)
        return fail("tulip_run", rc);
    return result;
}

int main(int argc, char **argv)
{
    real_clock = argc > 1 && strcmp(argv[1], "--real") == 0;
    if (run("# awaited one after the other", main_sequential) < 0)
        return 1;
    if (run("# two tasks, then awaited", main_tasks) < 0)
        return 1;
    if (run("# a task group", main_group) < 0)
        return 1;
    return 0;
}
