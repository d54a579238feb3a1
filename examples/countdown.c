/* SPDX-License-Identifier: MIT */
/*
 * The end-to-end example of Brett Cannon's "How the heck does async/await
 * work in Python 3.5?": three rocket countdowns on one loop, the first
 * starting at once, the others after a delay.
 *
 *   @types.coroutine
 *   def sleep(seconds):
 *       now = datetime.datetime.now()
 *       wait_until = now + datetime.timedelta(seconds=seconds)
 *       actual = yield wait_until
 *       return actual - now
 *
 *   async def countdown(label, length, *, delay=0):
 *       print(label, 'waiting', delay, 'seconds before starting countdown')
 *       delta = await sleep(delay)
 *       print(label, 'starting after waiting', delta)
 *       while length:
 *           print(label, 'T-minus', length)
 *           waited = await sleep(1)
 *           length -= 1
 *       print(label, 'lift-off!')
 *
 *   def main():
 *       loop = SleepingLoop(countdown('A', 5), countdown('B', 3, delay=2),
 *                           countdown('C', 4, delay=1))
 *       start = datetime.datetime.now()
 *       loop.run_until_complete()
 *       print('Total elapsed time is', datetime.datetime.now() - start)
 *
 * SleepingLoop, the article's own loop of under 40 lines, sends None into
 * each coroutine to start it, keeps them in a heap keyed by the time each
 * asked to wake at, and repeatedly pops the earliest, sleeps until its time
 * and sends it the current time. Here the loop is tulip's, whose timer heap
 * plays the same part, and sleep() becomes tulip_sleep_until() at the
 * deadline it computes, measuring what it actually waited the same way.
 *
 * The order of the lines. The three "waiting" lines come first, in argument
 * order: the tasks start in spawn order on the loop's first pass. From then
 * on, several countdowns wake at each whole second. On the real clock the
 * article's heap orders them by deadline, and each deadline is the time the
 * countdown last resumed plus its delay, so whoever resumed first a second
 * earlier wakes first: B, C, A. Here the virtual clock stands still while
 * tasks run, so the deadlines of one second are exactly equal, and tulip
 * breaks the tie by the order the timers were set (asyncio's rule, DESIGN.md
 * decision 6). That gives the same order: at 1 s, C's timer (set on the
 * first pass) before A's (set when A came back from its 0 s sleep); at 2 s,
 * B's timer, set at 0 s, before C's and A's, set at 1 s in that order; and
 * each second the three set their next timers in the order they woke. The
 * measured waits are exact: 0:00:00, 0:00:01, 0:00:02 and 0:00:05 in all,
 * where Python prints 0:00:01.000166 and the like.
 *
 * What differs: the countdowns are tasks, spawned in argument order, and a
 * main task gathers them (SleepingLoop ran until its heap was empty);
 * timedeltas are nanosecond durations, printed as Python's str(timedelta)
 * does. `--real` runs on the real clock, where the printed waits carry the
 * microseconds the loop took, as in the article.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tulip.h"

struct countdown_args {
    const char *label; /* the rocket */
    int length;        /* where the countdown starts */
    int delay;         /* seconds to wait before starting */
};

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, tulip_strerror(rc));
    return rc;
}

/*
 * Format a duration as Python's str(timedelta) does: "H:MM:SS", then
 * ".ffffff" if there are microseconds, after "N day(s), " if there are days
 * (negative durations have negative days and a positive rest, as in
 * "-1 day, 23:59:59"). The nanoseconds are rounded to the nearest
 * microsecond, ties to even, as timedelta rounds.
 */
static const char *format_timedelta(char *buf, size_t size, int64_t ns)
{
    const int64_t us_per_day = 86400 * INT64_C(1000000);
    int64_t us = ns / 1000;
    int64_t rest = ns % 1000;
    int64_t days;
    int64_t secs;
    int64_t micros;
    int n = 0;

    if (rest < 0) { /* floor division */
        us--;
        rest += 1000;
    }
    if (rest > 500 || (rest == 500 && us % 2 != 0))
        us++;
    days = us / us_per_day;
    us %= us_per_day;
    if (us < 0) {
        days--;
        us += us_per_day;
    }
    secs = us / 1000000;
    micros = us % 1000000;
    if (days != 0)
        n = snprintf(buf, size, "%" PRId64 " day%s, ", days,
                     days == 1 || days == -1 ? "" : "s");
    if (n < 0 || (size_t)n >= size)
        return buf;
    n += snprintf(buf + n, size - (size_t)n,
                  "%" PRId64 ":%02" PRId64 ":%02" PRId64, secs / 3600,
                  secs / 60 % 60, secs % 60);
    if (micros != 0 && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ".%06" PRId64, micros);
    return buf;
}

/* The article's sleep(): wake at now + seconds, report how long it took. */
static int sleep_s(int seconds, int64_t *delta_ns)
{
    int64_t now = tulip_now();
    int rc = tulip_sleep_until(now + seconds * TULIP_SEC);

    *delta_ns = tulip_now() - now;
    return rc;
}

static int countdown(void *arg)
{
    const struct countdown_args *a = arg;
    char buf[64];
    int64_t delta;
    int rc;

    printf("%s waiting %d seconds before starting countdown\n", a->label,
           a->delay);
    rc = sleep_s(a->delay, &delta);
    if (rc < 0)
        return fail("tulip_sleep_until", rc);
    printf("%s starting after waiting %s\n", a->label,
           format_timedelta(buf, sizeof(buf), delta));
    for (int length = a->length; length > 0; length--) {
        printf("%s T-minus %d\n", a->label, length);
        rc = sleep_s(1, &delta);
        if (rc < 0)
            return fail("tulip_sleep_until", rc);
    }
    printf("%s lift-off!\n", a->label);
    return 0;
}

static int main_task(void *arg)
{
    static const struct countdown_args args[3] = {
        {"A", 5, 0},
        {"B", 3, 2},
        {"C", 4, 1},
    };
    tulip_loop *loop = tulip_task_loop(tulip_task_current());
    tulip_task *tasks[3] = {NULL, NULL, NULL};
    int64_t start = tulip_now();
    char buf[64];
    int rc = 0;

    (void)arg;
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = tulip_spawn(&tasks[i], loop, countdown, (void *)&args[i]);
        if (rc < 0)
            fail("tulip_spawn", rc);
    }
    if (rc == 0) {
        rc = tulip_gather(tasks, 3, NULL, 0);
        if (rc < 0)
            fail("tulip_gather", rc);
    }
    if (rc == 0)
        printf("Total elapsed time is %s\n",
               format_timedelta(buf, sizeof(buf), tulip_now() - start));
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
