/* SPDX-License-Identifier: MIT */
/*
 * asyncio.gather from the asyncio documentation ("Running Tasks
 * Concurrently"): three factorials computed concurrently, one multiplication
 * per second each.
 *
 *   async def factorial(name, number):
 *       f = 1
 *       for i in range(2, number + 1):
 *           print(f"Task {name}: Compute factorial({number}), currently
 * i={i}...") await asyncio.sleep(1) f *= i print(f"Task {name}:
 * factorial({number}) = {f}") return f
 *
 *   async def main():
 *       L = await asyncio.gather(
 *           factorial("A", 2),
 *           factorial("B", 3),
 *           factorial("C", 4),
 *       )
 *       print(L)
 *
 *   asyncio.run(main())
 *
 * Prints the interleaving the documentation shows, then [2, 6, 24]. The
 * tasks start in argument order on the loop's next pass, and at each second
 * their timers, due at the same instant, fire in the order they were set:
 * A, B, C.
 *
 * What differs: gather takes tasks, not coroutines, so main spawns them
 * first (gather of coroutines wraps each in a task, in the same order). A
 * task's result is its int return value (C11 threads' convention), which
 * suits a factorial; the list is printed by hand. The virtual clock makes
 * the three seconds pass at once; `--real` uses the real clock.
 */
#include <stdio.h>
#include <string.h>

#include "tulip.h"

struct factorial_args {
    const char *name; /* the task's label */
    int number;       /* compute number! */
};

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static int factorial(void *arg)
{
    const struct factorial_args *a = arg;
    int f = 1;

    for (int i = 2; i <= a->number; i++) {
        int rc;

        printf("Task %s: Compute factorial(%d), currently i=%d...\n", a->name,
               a->number, i);
        rc = tulip_sleep(1 * TULIP_SEC);
        if (rc < 0)
            return fail("tulip_sleep", rc);
        f *= i;
    }
    printf("Task %s: factorial(%d) = %d\n", a->name, a->number, f);
    return f;
}

static int main_task(void *arg)
{
    static const struct factorial_args args[3] = {
        {"A", 2},
        {"B", 3},
        {"C", 4},
    };
    tulip_loop *loop = tulip_task_loop(tulip_task_current());
    tulip_task *tasks[3] = {NULL, NULL, NULL};
    int results[3];
    int rc = 0;

    (void)arg;
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = tulip_spawn(&tasks[i], loop, factorial, (void *)&args[i]);
        if (rc < 0)
            fail("tulip_spawn", rc);
    }
    if (rc == 0) {
        rc = tulip_gather(tasks, 3, results, 0);
        if (rc < 0)
            fail("tulip_gather", rc);
    }
    if (rc == 0)
        printf("[%d, %d, %d]\n", results[0], results[1], results[2]);
    for (int i = 0; i < 3; i++)
        tulip_task_release(tasks[i]);
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
