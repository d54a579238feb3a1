/* SPDX-License-Identifier: MIT */
/*
 * The two low-level examples of the asyncio documentation ("Event Loop",
 * Examples): plain callbacks on a loop, with no task at all. The loop is
 * usable on its own, like libuv's.
 *
 *   def hello_world(loop):
 *       """A callback to print 'Hello World' and stop the event loop"""
 *       print('Hello World')
 *       loop.stop()
 *
 *   loop = asyncio.new_event_loop()
 *   loop.call_soon(hello_world, loop)
 *   try:
 *       loop.run_forever()
 *   finally:
 *       loop.close()
 *
 *   def display_date(end_time, loop):
 *       print(datetime.datetime.now())
 *       if (loop.time() + 1.0) < end_time:
 *           loop.call_later(1, display_date, end_time, loop)
 *       else:
 *           loop.stop()
 *
 *   loop = asyncio.new_event_loop()
 *   end_time = loop.time() + 5.0
 *   loop.call_soon(display_date, end_time, loop)
 *   try:
 *       loop.run_forever()
 *   finally:
 *       loop.close()
 *
 * Prints "Hello World", then the date five times, a second apart.
 *
 * What differs: both run in one program, the second on the virtual clock,
 * where datetime.datetime.now() becomes the loop's own time printed as
 * Python prints a timedelta (0:00:00 to 0:00:04), so that the output is the
 * same on every run; `--real` runs it on the real clock and prints the wall
 * clock's date and time as Python does. Callbacks take one argument, so
 * display_date's two travel in a struct.
 */
#define _POSIX_C_SOURCE 200809L /* localtime_r, clock_gettime */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tulip.h"

static int failed; /* set when a callback, which cannot return one, fails */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    failed = 1;
    return rc;
}

static void hello_world(void *arg)
{
    tulip_loop *loop = arg;
    int rc;

    printf("Hello World\n");
    rc = tulip_loop_stop(loop);
    if (rc < 0)
        fail("tulip_loop_stop", rc);
}

struct display_date_args {
    int64_t end_time; /* in ns of the loop's clock */
    tulip_loop *loop;
    bool real_clock; /* print the wall clock's date, not the loop's time */
};

/* print(datetime.datetime.now()), or the virtual time as a timedelta. */
static void print_now(const struct display_date_args *a)
{
    if (a->real_clock) {
        struct timespec ts;
        struct tm tm;
        char buf[32];

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0 ||
            !localtime_r(&ts.tv_sec, &tm) ||
            strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
            printf("?\n");
            return;
        }
        printf("%s.%06ld\n", buf, ts.tv_nsec / 1000);
    } else {
        int64_t s = tulip_loop_time_ns(a->loop) / TULIP_SEC;

        printf("%d:%02d:%02d\n", (int)(s / 3600), (int)(s / 60 % 60),
               (int)(s % 60));
    }
}

static void display_date(void *arg)
{
    struct display_date_args *a = arg;
    int rc;

    print_now(a);
    if (tulip_loop_time_ns(a->loop) + 1 * TULIP_SEC < a->end_time) {
        rc = tulip_call_later(a->loop, 1 * TULIP_SEC, display_date, a, NULL);
        if (rc < 0)
            fail("tulip_call_later", rc);
    } else {
        rc = tulip_loop_stop(a->loop);
        if (rc < 0)
            fail("tulip_loop_stop", rc);
    }
}

/* loop.close(), keeping the first error. */
static int close_loop(tulip_loop *loop, int rc)
{
    int close_rc = tulip_loop_close(loop);

    if (close_rc < 0)
        fail("tulip_loop_close", close_rc);
    return rc < 0 ? rc : close_rc;
}

/* loop.run_forever(), then loop.close() whatever happened (finally:). */
static int run_forever_and_close(tulip_loop *loop)
{
    int rc = tulip_loop_run_forever(loop);

    if (rc < 0)
        fail("tulip_loop_run_forever", rc);
    return close_loop(loop, rc);
}

static int hello_world_main(const struct tulip_loop_opts *opts)
{
    tulip_loop *loop;
    int rc = tulip_loop_new(&loop, opts);

    if (rc < 0)
        return fail("tulip_loop_new", rc);
    rc = tulip_call_soon(loop, hello_world, loop, NULL);
    if (rc < 0) {
        fail("tulip_call_soon", rc);
        return close_loop(loop, rc);
    }
    return run_forever_and_close(loop);
}

static int display_date_main(const struct tulip_loop_opts *opts,
                             struct display_date_args *dd)
{
    int rc = tulip_loop_new(&dd->loop, opts);

    if (rc < 0)
        return fail("tulip_loop_new", rc);
    dd->end_time = tulip_loop_time_ns(dd->loop) + 5 * TULIP_SEC;
    rc = tulip_call_soon(dd->loop, display_date, dd, NULL);
    if (rc < 0) {
        fail("tulip_call_soon", rc);
        return close_loop(dd->loop, rc);
    }
    return run_forever_and_close(dd->loop);
}

int main(int argc, char **argv)
{
    struct tulip_loop_opts opts = {0};
    struct display_date_args dd = {0};

    dd.real_clock = argc > 1 && strcmp(argv[1], "--real") == 0;
    opts.virtual_clock = !dd.real_clock;
    if (hello_world_main(&opts) < 0)
        return 1;
    if (display_date_main(&opts, &dd) < 0)
        return 1;
    return failed;
}
