/* SPDX-License-Identifier: MIT */
/*
 * The ordering probe (engineersofai.com, "Advanced Event Loop"): which runs
 * first, callbacks scheduled with call_soon or a task coming back from
 * sleep(0)?
 *
 *   async def main():
 *       results = []
 *       loop = asyncio.get_running_loop()
 *       loop.call_soon(results.append, "C")
 *       loop.call_soon(results.append, "D")
 *       results.append(item_a)
 *       await asyncio.sleep(0)
 *       results.append(item_b)
 *       await asyncio.sleep(0)
 *       print(*results)
 *
 *   asyncio.run(main())
 *
 * Prints "A C D B". The rule behind it (DESIGN.md decision 6): the ready
 * queue is FIFO, and sleep(0) puts the task's next step at its end. C and D
 * were queued before the task's step, so they run first; B is appended when
 * the task resumes. The second sleep(0) lets any callback queued by C or D
 * run before the results are printed, as in the original.
 *
 * What differs: the results list is a fixed array of strings; the loop's
 * call_soon takes a C callback and one argument.
 */
#include <stdio.h>

#include "tulip.h"

/* The items; not string literals, which are const under -Wwrite-strings
 * while a callback's argument is a plain void *. */
static char item_a[] = "A", item_b[] = "B", item_c[] = "C", item_d[] = "D";

struct results {
    const char *item[8]; /* what was appended, in order */
    int n;               /* how many */
};

static struct results results;

/* results.append(arg) */
static void append(void *arg)
{
    if (results.n < 8)
        results.item[results.n++] = arg;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

static int main_task(void *arg)
{
    tulip_loop *loop = tulip_task_loop(tulip_task_current());
    int rc;

    (void)arg;
    rc = tulip_call_soon(loop, append, item_c, NULL);
    if (rc < 0)
        return fail("tulip_call_soon", rc);
    rc = tulip_call_soon(loop, append, item_d, NULL);
    if (rc < 0)
        return fail("tulip_call_soon", rc);
    append(item_a);
    rc = tulip_sleep(0);
    if (rc < 0)
        return fail("tulip_sleep", rc);
    append(item_b);
    rc = tulip_sleep(0);
    if (rc < 0)
        return fail("tulip_sleep", rc);
    for (int i = 0; i < results.n; i++)
        printf("%s%s", i ? " " : "", results.item[i]);
    printf("\n");
    return 0;
}

int main(void)
{
    int result;
    int rc = tulip_run(main_task, NULL, &result, NULL);

    if (rc < 0) {
        fail("tulip_run", rc);
        return 1;
    }
    return result < 0 ? 1 : 0;
}
