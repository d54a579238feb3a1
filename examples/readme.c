/* SPDX-License-Identifier: MIT */
/*
 * The program shown in the README, kept here so that it is compiled and its
 * output checked: two countdowns in a task group under tulip_run(), about
 * 3 seconds of real time.
 */
#include <stdio.h>
#include "tulip.h"

static int countdown(void *arg)
{
    for (int n = 3; n > 0; n--) {
        printf("T-minus %d (%s)\n", n, (const char *)arg);
        int rc = tulip_sleep(TULIP_SEC); /* suspends this task only */
        if (rc < 0)
            return rc; /* -ECANCELED, -ETIMEDOUT ... */
    }
    return 0;
}

static int main_task(void *arg)
{
    tulip_group *g;
    (void)arg;
    tulip_group_new(&g); /* asyncio.TaskGroup */
    tulip_group_spawn(g, countdown, (void *)"A", NULL, NULL);
    tulip_group_spawn(g, countdown, (void *)"B", NULL, NULL);
    return tulip_group_wait(g); /* waits for both */
}

int main(void)
{
    return tulip_run(main_task, NULL, NULL, NULL) ? 1 : 0; /* asyncio.run */
}
