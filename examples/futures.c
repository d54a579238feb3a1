/* SPDX-License-Identifier: MIT */
/*
 * Chapter 5 of Jordan Moldow's "jmoldow-python3-async-tutorial", "Event loop
 * futures": a task waits on a future that a callback completes, awaits it
 * again once done, and yields the turn; then a task waits the wrong way.
 *
 *   def good_task(*, loop):
 *       print('Starting good task')
 *       future = Future(loop=loop)
 *       print(future)
 *       loop.call_soon(future.set_result, 10)
 *       print('Waiting on future')
 *       future = iter(future)
 *       result = (yield from future)
 *       print("Task resumed from waiting on", future)
 *       print("Result:", result)
 *       result2 = (yield from future)
 *       print("Didn't ever yield")
 *       print("Result:", result2)
 *       print("Yielding")
 *       yield
 *       print("Resumed")
 *
 *   asyncio.ensure_future(good_task(loop=loop), loop=loop)
 *   for _ in range(100):
 *       test_utils.run_once(loop=loop)
 *
 *   def bad_task(*, loop):
 *       future = Future(loop=loop)
 *       try:
 *           result = (yield future)
 *       except RuntimeError:
 *           traceback.print_exc()
 *
 *   print()
 *   asyncio.ensure_future(bad_task(loop=loop), loop=loop)
 *   for _ in range(100):
 *       test_utils.run_once(loop=loop)
 *
 * The notebook's Future is a copy of asyncio's with prints in it, which is
 * where its lines "Add done callback ...", "Set result 10 for ..." and
 * "Scheduling callback ..." come from. What differs here, line by line:
 *
 * - Reprs: tulip objects have no repr and the output must not hold
 *   addresses, so the program prints its own: "<Future pending>" and
 *   "<Future done result=10>", from tulip_future_done() and
 *   tulip_future_result().
 * - "Add done callback <TaskWakeupMethWrapper ...>" and "Scheduling callback
 *   ..." are not printed: a tulip task does not wait through a done-callback
 *   but through a wait-queue entry of its own in the future, which
 *   tulip_future_set_result() wakes (on the next pass, as asyncio's
 *   scheduled callback does). Neither step is visible from outside.
 * - "Set result 10 for ..." is printed by the callback that call_soon
 *   schedules, which calls tulip_future_set_result().
 * - "Task resumed from waiting on <generator object Future.__iter__ ...>":
 *   the task waited on the future itself, so that is what is printed.
 * - The second wait prints "Result: 10", not "Result: None". In the notebook
 *   `future` was rebound to the exhausted iterator of the first wait, and
 *   `yield from` an exhausted generator gives None; what the passage shows is
 *   that waiting on a done future returns at once. tulip_future_await() on a
 *   done future does return at once, with the future's result, as
 *   `await future` does in asyncio today. The program checks that it did
 *   not yield: a callback queued just before the wait has not run after it.
 * - The bare `yield` is tulip_sleep(0); the same callback has run when the
 *   task comes back, which shows the turn was given up.
 * - bad_task: `yield future` instead of `yield from future` makes asyncio's
 *   Task throw a RuntimeError into the coroutine, whose traceback goes to
 *   stderr. The C counterpart of the mistake is calling tulip_yield() (a
 *   generator's yield) in a task, which is refused with -EPERM; the program
 *   prints that on stdout, after the empty line, so the test checks it.
 *
 * The loop is driven as in the notebook, 100 passes at a time with
 * tulip_loop_run_once() (test_utils.run_once), then closed.
 */
#include <stdint.h>
#include <stdio.h>

#include "tulip.h"

static int failed; /* set when a callback, which cannot return one, fails */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

/* The future's repr, without addresses. */
static const char *future_repr(char *buf, size_t size, tulip_future *f)
{
    void *value;

    if (!tulip_future_done(f))
        snprintf(buf, size, "<Future pending>");
    else if (tulip_future_result(f, &value) == 0)
        snprintf(buf, size, "<Future done result=%ld>", (long)(intptr_t)value);
    else
        snprintf(buf, size, "<Future done error>");
    return buf;
}

/* future.set_result(10), as scheduled by call_soon. */
static void set_result_10(void *arg)
{
    tulip_future *f = arg;
    char buf[64];
    int rc = tulip_future_set_result(f, (void *)(intptr_t)10);

    if (rc < 0) {
        fail("tulip_future_set_result", rc);
        failed = 1;
        return;
    }
    printf("Set result 10 for %s\n", future_repr(buf, sizeof(buf), f));
}

/* A callback that notes it ran: has the task given up its turn? */
static void note_turn(void *arg)
{
    *(int *)arg = 1;
}

static int good_task_waits(tulip_loop *loop, tulip_future *future)
{
    char buf[64];
    void *result;
    int turn_given = 0;
    int rc;

    rc = tulip_call_soon(loop, set_result_10, future, NULL);
    if (rc < 0)
        return fail("tulip_call_soon", rc);
    printf("Waiting on future\n");
    rc = tulip_future_await(future, &result);
    if (rc < 0)
        return fail("tulip_future_await", rc);
    printf("Task resumed from waiting on %s\n",
           future_repr(buf, sizeof(buf), future));
    printf("Result: %ld\n", (long)(intptr_t)result);

    rc = tulip_call_soon(loop, note_turn, &turn_given, NULL);
    if (rc < 0)
        return fail("tulip_call_soon", rc);
    rc = tulip_future_await(future, &result);
    if (rc < 0)
        return fail("tulip_future_await", rc);
    printf(turn_given ? "Yielded\n" : "Didn't ever yield\n");
    printf("Result: %ld\n", (long)(intptr_t)result);

    printf("Yielding\n");
    rc = tulip_sleep(0);
    if (rc < 0)
        return fail("tulip_sleep", rc);
    printf(turn_given ? "Resumed\n" : "Resumed without yielding\n");
    return 0;
}

static int good_task(void *arg)
{
    tulip_loop *loop = arg;
    tulip_future *future;
    char buf[64];
    int rc;

    printf("Starting good task\n");
    rc = tulip_future_new(&future, loop);
    if (rc < 0)
        return fail("tulip_future_new", rc);
    printf("%s\n", future_repr(buf, sizeof(buf), future));
    rc = good_task_waits(loop, future);
    tulip_future_release(future);
    return rc;
}

static int bad_task(void *arg)
{
    tulip_loop *loop = arg;
    tulip_future *future;
    int rc;

    rc = tulip_future_new(&future, loop);
    if (rc < 0)
        return fail("tulip_future_new", rc);
    rc = tulip_yield(future, NULL); /* the mistake */
    if (rc == -EPERM)
        printf("bad_task: tulip_yield() in a task, not a generator: %s\n",
               tulip_strerror(rc));
    else
        fprintf(stderr, "bad_task: tulip_yield() returned %d\n", rc);
    tulip_future_release(future);
    return rc == -EPERM ? 0 : -EPROTO;
}

/* ensure_future(task(loop=loop)), then 100 x run_once(loop). */
static int run_task(tulip_loop *loop, tulip_task_fn *fn)
{
    tulip_task *t;
    int result;
    int rc = tulip_spawn(&t, loop, fn, loop);

    if (rc < 0)
        return fail("tulip_spawn", rc);
    for (int i = 0; i < 100 && rc >= 0; i++) {
        rc = tulip_loop_run_once(loop);
        if (rc < 0)
            fail("tulip_loop_run_once", rc);
    }
    if (rc >= 0) {
        rc = tulip_task_result(t, &result);
        if (rc < 0)
            fail("tulip_task_result", rc);
        else if (result < 0)
            rc = result;
    }
    tulip_task_release(t);
    return rc;
}

int main(void)
{
    tulip_loop *loop;
    int close_rc;
    int rc = tulip_loop_new(&loop, NULL);

    if (rc < 0) {
        fail("tulip_loop_new", rc);
        return 1;
    }
    rc = run_task(loop, good_task);
    if (rc >= 0) {
        printf("\n");
        rc = run_task(loop, bad_task);
    }
    close_rc = tulip_loop_close(loop);
    if (close_rc < 0) {
        fail("tulip_loop_close", close_rc);
        return 1;
    }
    return rc < 0 || failed ? 1 : 0;
}
