/* SPDX-License-Identifier: MIT */
/*
 * Signals: tasks waiting for a signal (one, or one of a set), signals that
 * arrive between two waits kept for the next one, deadlines and
 * cancellation, callback handlers set, replaced and removed, uncatchable
 * signals refused, the thread's signal mask given back at loop close, and
 * tulip_run()'s Ctrl-C: the first SIGINT cancels the main task (its cleanup
 * runs, tulip_run returns -EINTR), the second kills the process with
 * SIGINT (checked in forked children). Signals are raised with raise(), so
 * they go to the loop's thread whatever other threads the runner has.
 */
/* ctest: labels=unit;backends timeout=180 */
#define _GNU_SOURCE 1
#include "task_fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void sig_begin(void)
{
    fx_begin();
    cr_assert_eq(tulip_loop_close(loop), 0);
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0); /* the real clock */
    cr_assert_eq(tulip_loop_set_error_handler(loop, fx_on_error, NULL), 0);
}

static bool thread_blocks(int signo)
{
    sigset_t cur;

    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, signo) == 1;
}

static void sig_end(void)
{
    fx_end();
    cr_assert(!thread_blocks(SIGUSR1), "SIGUSR1 still blocked");
    cr_assert(!thread_blocks(SIGUSR2), "SIGUSR2 still blocked");
    cr_assert(!thread_blocks(SIGINT), "SIGINT still blocked");
}

static void raise_cb(void *arg)
{
    raise((int)(intptr_t)arg);
}

static int got[8];
static int ngot;

static int wait_one(void *arg)
{
    got[ngot++] = tulip_signal_wait((int)(intptr_t)arg);
    return 0;
}

Test(signal, wait_for_a_raised_signal)
{
    sig_begin();
    ngot = 0;
    cr_assert_eq(tulip_spawn(NULL, loop, wait_one, (void *)(intptr_t)SIGUSR1),
                 0);
    cr_assert_eq(tulip_call_later(loop, 20 * TULIP_MSEC, raise_cb,
                                  (void *)(intptr_t)SIGUSR1, NULL),
                 0);
    fx_run();
    cr_assert_eq(ngot, 1);
    cr_assert_eq(got[0], SIGUSR1);
    sig_end();
}

static int wait_twice(void *arg)
{
    (void)arg;
    /* times out: the loop now keeps SIGUSR2 for later waits */
    got[ngot++] = tulip_signal_wait_until(SIGUSR2, tulip_now() + TULIP_MSEC);
    raise(SIGUSR2); /* nobody waits now */
    got[ngot++] = tulip_sleep(20 * TULIP_MSEC);
    got[ngot++] = tulip_signal_wait_until(SIGUSR2, tulip_now() + TULIP_SEC);
    /* counted once, consumed once */
    got[ngot++] = tulip_signal_wait_until(SIGUSR2, tulip_now() + TULIP_MSEC);
    return 0;
}

Test(signal, kept_between_waits_and_deadline)
{
    sig_begin();
    ngot = 0;
    cr_assert_eq(tulip_spawn(NULL, loop, wait_twice, NULL), 0);
    fx_run();
    cr_assert_eq(ngot, 4);
    cr_assert_eq(got[0], -ETIMEDOUT);
    cr_assert_eq(got[1], 0);
    cr_assert_eq(got[2], SIGUSR2);
    cr_assert_eq(got[3], -ETIMEDOUT);
    sig_end();
}

static int wait_set(void *arg)
{
    static const int set[] = {SIGUSR1, SIGUSR2};

    (void)arg;
    got[ngot++] = tulip_signal_wait_any(set, 2, TULIP_FOREVER);
    return 0;
}

Test(signal, wait_for_one_of_a_set)
{
    sig_begin();
    ngot = 0;
    cr_assert_eq(tulip_spawn(NULL, loop, wait_set, NULL), 0);
    cr_assert_eq(tulip_call_later(loop, 20 * TULIP_MSEC, raise_cb,
                                  (void *)(intptr_t)SIGUSR2, NULL),
                 0);
    fx_run();
    cr_assert_eq(ngot, 1);
    cr_assert_eq(got[0], SIGUSR2);
    sig_end();
}

Test(signal, cancelled_wait)
{
    tulip_task *t;

    sig_begin();
    ngot = 0;
    t = fx_spawn(wait_one, (void *)(intptr_t)SIGUSR1);
    cr_assert_eq(tulip_loop_run_once(loop) >= 0, 1);
    cr_assert_eq(tulip_task_cancel(t), 0);
    fx_run();
    cr_assert_eq(ngot, 1);
    cr_assert_eq(got[0], -ECANCELED);
    tulip_task_release(t);
    sig_end();
}

static int handled[65];

static void on_signal(void *arg, int signo)
{
    handled[signo] += (int)(intptr_t)arg;
}

static void remove_cb(void *arg)
{
    (void)arg;
    got[ngot++] = tulip_remove_signal_handler(loop, SIGUSR1);
    got[ngot++] = tulip_remove_signal_handler(loop, SIGUSR1);
    got[ngot++] = thread_blocks(SIGUSR1);
}

Test(signal, handlers)
{
    sig_begin();
    ngot = 0;
    memset(handled, 0, sizeof(handled));
    cr_assert_eq(tulip_add_signal_handler(loop, SIGUSR1, on_signal, (void *)1),
                 0);
    /* replaced: counts 10 per signal now */
    cr_assert_eq(tulip_add_signal_handler(loop, SIGUSR1, on_signal, (void *)10),
                 0);
    cr_assert(thread_blocks(SIGUSR1));
    cr_assert_eq(tulip_call_later(loop, 10 * TULIP_MSEC, raise_cb,
                                  (void *)(intptr_t)SIGUSR1, NULL),
                 0);
    cr_assert_eq(tulip_call_later(loop, 40 * TULIP_MSEC, raise_cb,
                                  (void *)(intptr_t)SIGUSR1, NULL),
                 0);
    cr_assert_eq(tulip_call_later(loop, 80 * TULIP_MSEC, remove_cb, NULL, NULL),
                 0);
    fx_run();
    cr_assert_eq(handled[SIGUSR1], 20);
    cr_assert_eq(ngot, 3);
    cr_assert_eq(got[0], 1);
    cr_assert_eq(got[1], 0);
    cr_assert_eq(got[2], 0, "unblocked once the handler is gone");
    sig_end();
}

static int bad_waits(void *arg)
{
    static const int s[] = {SIGUSR1, SIGKILL};

    (void)arg;
    got[ngot++] = tulip_signal_wait(SIGKILL);
    got[ngot++] = tulip_signal_wait(SIGSTOP);
    got[ngot++] = tulip_signal_wait(0);
    got[ngot++] = tulip_signal_wait(65);
    got[ngot++] = tulip_signal_wait(-1);
    got[ngot++] = tulip_signal_wait_any(s, 0, TULIP_FOREVER);
    got[ngot++] = tulip_signal_wait_any(s, 2, TULIP_FOREVER);
    got[ngot++] = tulip_signal_wait_any(NULL, 1, TULIP_FOREVER);
    return 0;
}

Test(signal, invalid_signals)
{
    sig_begin();
    ngot = 0;
    cr_assert_eq(tulip_add_signal_handler(loop, SIGKILL, on_signal, NULL),
                 -EINVAL);
    cr_assert_eq(tulip_add_signal_handler(loop, SIGSTOP, on_signal, NULL),
                 -EINVAL);
    cr_assert_eq(tulip_add_signal_handler(loop, 99, on_signal, NULL), -EINVAL);
    cr_assert_eq(tulip_add_signal_handler(loop, SIGUSR1, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_add_signal_handler(NULL, SIGUSR1, on_signal, NULL),
                 -EINVAL);
    cr_assert_eq(tulip_remove_signal_handler(loop, SIGKILL), -EINVAL);
    cr_assert_eq(tulip_remove_signal_handler(loop, SIGUSR1), 0);
    cr_assert_eq(tulip_signal_wait(SIGUSR1), -EPERM);
    cr_assert_eq(tulip_spawn(NULL, loop, bad_waits, NULL), 0);
    fx_run();
    cr_assert_eq(ngot, 8);
    for (int i = 0; i < ngot; i++)
        cr_assert_eq(got[i], -EINVAL, "call %d: %d", i, got[i]);
    sig_end();
}

/* ---- tulip_run and SIGINT ------------------------------------------------ */

static int main_once(void *arg)
{
    int *cleanup = arg;
    int rc;

    kill(getpid(), SIGINT);
    rc = tulip_sleep(30 * TULIP_SEC); /* cancelled by the SIGINT */
    if (rc == -ECANCELED)
        *cleanup = 1; /* main's cleanup runs */
    return 7;
}

/* In a forked child: exit 0 if all went as asyncio's Runner does. */
static int child_once(void)
{
    int cleanup = 0, result = 0, rc;

    rc = tulip_run(main_once, &cleanup, &result, NULL);
    if (rc != -EINTR)
        return 10;
    if (!cleanup)
        return 11;
    if (result != 7)
        return 12;
    if (thread_blocks(SIGINT))
        return 13;
    /* the default disposition is back: SIGINT kills now */
    signal(SIGINT, SIG_DFL);
    return 0;
}

static int main_twice(void *arg)
{
    struct tulip_scope s;

    (void)arg;
    kill(getpid(), SIGINT);
    tulip_sleep(30 * TULIP_SEC); /* cancelled */
    tulip_scope_enter(&s, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    kill(getpid(), SIGINT);
    tulip_sleep(30 * TULIP_SEC); /* the second SIGINT kills us here */
    tulip_scope_exit(&s);
    return 0;
}

static int fork_and_wait(int (*body)(void))
{
    int ws = 0;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(body());
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    return ws;
}

Test(signal, run_first_sigint_cancels_main)
{
    int ws = fork_and_wait(child_once);

    cr_assert(WIFEXITED(ws), "status %#x", ws);
    cr_assert_eq(WEXITSTATUS(ws), 0);
}

static int child_twice(void)
{
    tulip_run(main_twice, NULL, NULL, NULL);
    return 20; /* not reached */
}

Test(signal, run_second_sigint_kills)
{
    int ws = fork_and_wait(child_twice);

    cr_assert(WIFSIGNALED(ws), "status %#x", ws);
    cr_assert_eq(WTERMSIG(ws), SIGINT);
}

static int main_quiet(void *arg)
{
    (void)arg;
    return tulip_sleep(TULIP_MSEC);
}

Test(signal, run_restores_sigint)
{
    struct sigaction sa;

    cr_assert_eq(tulip_run(main_quiet, NULL, NULL, NULL), 0);
    cr_assert(!thread_blocks(SIGINT));
    cr_assert_eq(sigaction(SIGINT, NULL, &sa), 0);
    cr_assert(sa.sa_handler == SIG_DFL);
}
