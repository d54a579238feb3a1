/* SPDX-License-Identifier: MIT */
/*
 * Debug mode, turned on process-wide (tulip_debug_enable) or for one loop
 * (tulip_loop_opts.debug): a slow step is reported with its task's name; a
 * task that ends with an error nobody reads is reported with where it was
 * spawned; a task that used most of its stack is reported; a call from a
 * thread that is not the loop's is reported (and only with debug on). A
 * loop without the option reports nothing. stderr is captured in a file
 * for the checks.
 */
/* ctest: labels=unit timeout=60 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
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

/* The same, with debug mode an option of the loop only. */
Test(debug, loop_option)
{
    struct tulip_run_opts o = {0};
    int result;
    char *err;

    capture();
    tulip_debug_set_slow(10000000);
    o.loop.debug = true;
    cr_assert_eq(tulip_run(main_body, NULL, &result, &o), 0);
    err = captured();
    fprintf(stdout, "%s", err);
    cr_expect(strstr(err, "executing task slowpoke took") != NULL);
    cr_expect(strstr(err, "task failer") != NULL &&
              strstr(err, "was spawned at:") != NULL);
    cr_expect(!HOG || strstr(err, "task hog used") != NULL);
}

/* Without the option (and without tulip_debug_enable) nothing is said, and
 * the option of a closed loop does not outlive it. */
Test(debug, off_without_option)
{
    struct tulip_run_opts o = {0};
    int result;
    char *err;

    o.loop.debug = true;
    cr_assert_eq(tulip_run(failing, NULL, &result, &o), 0);
    capture();
    tulip_debug_set_slow(10000000);
    o.loop.debug = false;
    cr_assert_eq(tulip_run(main_body, NULL, &result, &o), 0);
    err = captured();
    fprintf(stdout, "%s", err);
    cr_expect(strstr(err, "tulip: debug") == NULL, "%s", err);
}

/* ---- wrong thread --------------------------------------------------------
 * A thread that is not the loop's schedules a callback on it. To keep the
 * misuse from racing for real, the loop's task blocks in pthread_join while
 * the other thread does it (the loop runs nothing meanwhile). */

static int called_back;

static void on_loop(void *arg)
{
    (void)arg;
    called_back++;
}

static void *intruder(void *arg)
{
    tulip_loop *lp = arg;
    tulip_call_soon(lp, on_loop, NULL, NULL);
    return NULL;
}

static int foreign_call(void *arg)
{
    pthread_t th;

    (void)arg;
    if (pthread_create(&th, NULL, intruder, tulip_loop_current()) != 0)
        return -1;
    pthread_join(th, NULL);
    tulip_call_soon(tulip_loop_current(), on_loop, NULL, NULL); /* fine */
    return tulip_sleep(1000000);
}

static void run_foreign(bool loop_debug, char **err)
{
    struct tulip_run_opts o = {0};
    int result = -1;

    capture();
    o.loop.debug = loop_debug;
    called_back = 0;
    cr_assert_eq(tulip_run(foreign_call, NULL, &result, &o), 0);
    cr_assert_eq(result, 0);
    cr_assert_eq(called_back, 2); /* the program goes on */
    *err = captured();
    fprintf(stdout, "%s", *err);
}

Test(debug, wrong_thread_reported)
{
    char *err;
    const char *hit;

    run_foreign(true, &err);
    hit = strstr(err, "tulip: debug: wrong thread: a callback or task step "
                      "scheduled on loop");
    cr_expect(hit != NULL, "%s", err);
    cr_expect(strstr(err, "only tulip_call_soon_threadsafe crosses") != NULL);
    cr_expect(strstr(err, "Called from:") != NULL);
    /* the loop's own call is not reported: one report only */
    cr_expect(hit && strstr(hit + 20, "wrong thread") == NULL, "%s", err);
}

Test(debug, wrong_thread_silent_without_debug)
{
    char *err;

    run_foreign(false, &err);
    cr_expect(strstr(err, "wrong thread") == NULL, "%s", err);
}

/* TULIP_DEBUG_SLOW_MS, and a step just under the threshold is not slow. */
static int quick(void *arg)
{
    (void)arg;
    return 0;
}

Test(debug, fast_steps_not_reported)
{
    struct tulip_run_opts o = {0};
    int result;
    char *err;

    capture();
    tulip_debug_set_slow(1000000000); /* 1 s: busy()'s 30 ms is fast */
    o.loop.debug = true;
    cr_assert_eq(tulip_run(busy, NULL, &result, &o), 0);
    cr_assert_eq(tulip_run(quick, NULL, &result, &o), 0);
    err = captured();
    cr_expect(strstr(err, "took") == NULL, "%s", err);
}
