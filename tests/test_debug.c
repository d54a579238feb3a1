/* SPDX-License-Identifier: MIT */
/*
 * Debug mode: a slow step is reported with its task's name; a task that
 * ends with an error nobody reads is reported with where it was spawned;
 * a task that used most of its stack is reported. stderr is captured in a
 * file for the checks.
 */
/* ctest: labels=unit timeout=60 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tulip.h"

static char errpath[] = "/tmp/tulip_debug_XXXXXX";

static void capture(void)
{
    int fd = mkstemp(errpath);
    cr_assert(fd >= 0);
    fflush(stderr);
    dup2(fd, 2);
    close(fd);
}

static char *captured(void)
{
    static char buf[65536];
    FILE *f;
    size_t n;

    fflush(stderr);
    f = fopen(errpath, "r");
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(errpath);
    return buf;
}

static int busy(void *arg)
{
    struct timespec t0, t;
    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec <
           30000000L);
    return 0;
}

static int failing(void *arg)
{
    (void)arg;
    return -EIO;
}

/* Under ASan frames carry redzones: the hog would really overflow its
 * stack, so that part is left out there. */
#if defined(__SANITIZE_ADDRESS__)
#define HOG 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOG 0
#endif
#endif
#ifndef HOG
#define HOG 1
#endif

static int deep(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    return n ? deep(n - 1) + pad[0] : 0;
}

static int stack_hog(void *arg)
{
    (void)arg;
    return deep(14) > 0 ? 0 : 1; /* ~14 KiB of a 16 KiB stack */
}

static int main_body(void *arg)
{
    struct tulip_task_opts o = {0};
    tulip_task *t;
    int r;

    (void)arg;
    o.name = "slowpoke";
    tulip_spawn_ex(&t, NULL, busy, NULL, &o);
    tulip_task_join(t, &r);
    tulip_task_release(t);
    o.name = "failer";
    tulip_spawn_ex(NULL, NULL, failing, NULL, &o);
    if (HOG) {
        o.name = "hog";
        o.stack_size = 16 * 1024;
        tulip_spawn_ex(&t, NULL, stack_hog, NULL, &o);
        tulip_task_join(t, &r);
        tulip_task_release(t);
    }
    tulip_sleep(1000000);
    return 0;
}

Test(debug, slow_steps_unread_errors_stack_use)
{
    int result;
    char *err;

    capture();
    tulip_debug_enable(true);
    tulip_debug_set_slow(10000000);
    cr_assert_eq(tulip_run(main_body, NULL, &result, NULL), 0);
    tulip_debug_enable(false);
    err = captured();
    fprintf(stdout, "%s", err);
    cr_expect(strstr(err, "executing task slowpoke took") != NULL);
    cr_expect(strstr(err, "task failer") != NULL &&
              strstr(err, "was spawned at:") != NULL);
    cr_expect(!HOG || strstr(err, "task hog used") != NULL);
}
