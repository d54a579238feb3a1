/* SPDX-License-Identifier: MIT */
/*
 * Child processes: exit codes and deaths by signal, pipes both ways with
 * more data than a pipe holds through communicate() with a deadline, stderr
 * into stdout, /dev/null, the shell form, terminate and kill, -EPIPE (never
 * SIGPIPE) writing to a child that is gone, cancelled and timed-out waits
 * and communicates that leave the child running and reapable, a process
 * freed while running, and the SIGCHLD fallback used without pidfds. Every
 * test checks that no child is left (waitpid(-1) gives ECHILD), that the
 * process has as many fds as before, and that the loop closes with 0 and
 * nothing leaked.
 */
/* ctest: labels=unit;backends timeout=180 */
#define _GNU_SOURCE 1
#include "task_fixture.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int fds0;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

static void proc_begin(void)
{
    fx_begin();
    cr_assert_eq(tulip_loop_close(loop), 0);
    fds0 = count_fds();
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0); /* the real clock */
    cr_assert_eq(tulip_loop_set_error_handler(loop, fx_on_error, NULL), 0);
}

static void proc_end(void)
{
    fx_end();
    errno = 0;
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left");
    cr_assert_eq(errno, ECHILD);
    cr_assert_eq(count_fds(), fds0, "fds: %d, not %d", count_fds(), fds0);
}

static void go(tulip_task_fn *fn, void *arg)
{
    cr_assert_eq(tulip_spawn(NULL, loop, fn, arg), 0);
}

/* What task bodies saw, asserted on the main stack. */
static int rcs[16];
static int nrc;
static int statuses[16];

static void rec(int rc)
{
    rcs[nrc++] = rc;
}

static int64_t in_secs(int s)
{
    return tulip_now() + s * TULIP_SEC;
}

/* ---- exit codes and signals ---------------------------------------------- */

static int exit_codes(void *arg)
{
    const char *ok[] = {"true", NULL};
    const char *three[] = {"sh", "-c", "exit 3", NULL};
    const char *missing[] = {"/nonexistent/tulip-nothing", NULL};
    tulip_process *p;

    (void)arg;
    rec(tulip_process_spawn(&p, loop, ok, NULL));
    rec(tulip_process_wait(p, &statuses[0]));
    rec(tulip_process_wait(p, &statuses[1])); /* again: at once */
    tulip_process_free(p);
    rec(tulip_process_spawn(&p, loop, three, NULL));
    rec(tulip_process_wait_until(p, &statuses[2], in_secs(60)));
    rec(tulip_process_returncode(p, &statuses[3]));
    tulip_process_free(p);
    rec(tulip_process_spawn(&p, loop, missing, NULL));
    return 0;
}

static void check_exit_codes(void)
{
    go(exit_codes, NULL);
    fx_run();
    cr_assert_eq(nrc, 7);
    cr_assert_eq(rcs[0], 0);
    cr_assert_eq(rcs[1], 0);
    cr_assert_eq(rcs[2], 0);
    cr_assert_eq(statuses[0], 0);
    cr_assert_eq(statuses[1], 0);
    cr_assert_eq(rcs[3], 0);
    cr_assert_eq(rcs[4], 0);
    cr_assert_eq(statuses[2], 3);
    cr_assert_eq(rcs[5], 1);
    cr_assert_eq(statuses[3], 3);
    cr_assert_eq(rcs[6], -ENOENT);
}

Test(process, exit_codes)
{
    proc_begin();
    nrc = 0;
    check_exit_codes();
    proc_end();
}

Test(process, exit_codes_without_pidfd)
{
    setenv("TULIP_NO_PIDFD", "1", 1);
    proc_begin();
    nrc = 0;
    check_exit_codes();
    proc_end();
    unsetenv("TULIP_NO_PIDFD");
}

static int killed(void *arg)
{
    const char *sleeper[] = {"sleep", "30", NULL};
    tulip_process *p;

    (void)arg;
    rec(tulip_process_spawn(&p, loop, sleeper, NULL));
    rec(tulip_process_terminate(p));
    rec(tulip_process_wait(p, &statuses[0]));
    rec(tulip_process_kill(p)); /* reaped: nothing to do */
    tulip_process_free(p);
    rec(tulip_process_spawn(&p, loop, sleeper, NULL));
    rec(tulip_process_kill(p));
    rec(tulip_process_wait(p, &statuses[1]));
    tulip_process_free(p);
    return 0;
}

Test(process, terminate_and_kill)
{
    proc_begin();
    nrc = 0;
    go(killed, NULL);
    fx_run();
    cr_assert_eq(nrc, 7);
    for (int i = 0; i < nrc; i++)
        cr_assert_eq(rcs[i], 0, "call %d: %d", i, rcs[i]);
    cr_assert_eq(statuses[0], -SIGTERM);
    cr_assert_eq(statuses[1], -SIGKILL);
    proc_end();
}

/* ---- pipes and communicate ----------------------------------------------- */

#define BIG (3 * 1024 * 1024 + 17) /* far more than a pipe holds */

static char *big;
static struct tulip_bytes outs[4], errs[4];

static int cat_big(void *arg)
{
    const char *cat[] = {"sh", "-c", "cat; echo done >&2", NULL};
    struct tulip_process_opts o = {.stdin_mode = TULIP_STDIO_PIPE,
                                   .stdout_mode = TULIP_STDIO_PIPE,
                                   .stderr_mode = TULIP_STDIO_PIPE};
    tulip_process *p;

    (void)arg;
    rec(tulip_process_spawn(&p, loop, cat, &o));
    rec(tulip_process_communicate(p, big, BIG, &outs[0], &errs[0], &statuses[0],
                                  in_secs(120)));
    tulip_process_free(p);
    return 0;
}

Test(process, communicate_large_both_ways)
{
    proc_begin();
    nrc = 0;
    big = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)('a' + i % 23);
    go(cat_big, NULL);
    fx_run();
    cr_assert_eq(nrc, 2);
    cr_assert_eq(rcs[0], 0);
    cr_assert_eq(rcs[1], 0);
    cr_assert_eq(statuses[0], 0);
    cr_assert_eq(outs[0].len, BIG);
    cr_assert(memcmp(outs[0].data, big, BIG) == 0);
    cr_assert_str_eq(errs[0].data, "done\n");
    tulip_bytes_free(&outs[0]);
    tulip_bytes_free(&errs[0]);
    free(big);
    proc_end();
}

static int shells(void *arg)
{
    struct tulip_process_opts o = {.stdout_mode = TULIP_STDIO_PIPE,
                                   .stderr_mode = TULIP_STDIO_STDOUT};
    struct tulip_process_opts n = {.stdin_mode = TULIP_STDIO_DEVNULL,
                                   .stdout_mode = TULIP_STDIO_PIPE,
                                   .stderr_mode = TULIP_STDIO_DEVNULL};
    tulip_process *p;

    (void)arg;
    rec(tulip_process_shell(&p, loop, "echo hello $((1 + 2))", &o));
    rec(tulip_process_communicate(p, NULL, 0, &outs[0], NULL, &statuses[0],
                                  in_secs(60)));
    tulip_process_free(p);
    rec(tulip_process_shell(&p, loop, "echo a; echo b >&2; exit 4", &o));
    rec(tulip_process_communicate(p, NULL, 0, &outs[1], &errs[1], &statuses[1],
                                  in_secs(60)));
    tulip_process_free(p);
    rec(tulip_process_shell(&p, loop, "cat; echo gone >&2", &n));
    rec(tulip_process_communicate(p, NULL, 0, &outs[2], &errs[2], &statuses[2],
                                  in_secs(60)));
    tulip_process_free(p);
    return 0;
}

Test(process, shell_stderr_to_stdout_devnull)
{
    proc_begin();
    nrc = 0;
    go(shells, NULL);
    fx_run();
    cr_assert_eq(nrc, 6);
    for (int i = 0; i < nrc; i++)
        cr_assert_eq(rcs[i], 0, "call %d: %d", i, rcs[i]);
    cr_assert_str_eq(outs[0].data, "hello 3\n");
    cr_assert_eq(statuses[0], 0);
    cr_assert_str_eq(outs[1].data, "a\nb\n");
    cr_assert_null(errs[1].data); /* not a pipe */
    cr_assert_eq(statuses[1], 4);
    cr_assert_eq(outs[2].len, 0);
    cr_assert_eq(errs[2].len, 0);
    cr_assert_eq(statuses[2], 0);
    for (int i = 0; i < 3; i++) {
        tulip_bytes_free(&outs[i]);
        tulip_bytes_free(&errs[i]);
    }
    proc_end();
}

static int broken_pipe(void *arg)
{
    const char *quit[] = {"true", NULL};
    struct tulip_process_opts o = {.stdin_mode = TULIP_STDIO_PIPE};
    tulip_process *p;

    (void)arg;
    rec(tulip_process_spawn(&p, loop, quit, &o));
    rec(tulip_process_wait(p, &statuses[0]));
    rec((int)tulip_write(tulip_process_fd(p, 0), "x", 1));
    tulip_process_free(p);
    /* communicate: a child that never reads its input is no error */
    rec(tulip_process_spawn(&p, loop, quit, &o));
    rec(tulip_process_communicate(p, big, BIG, NULL, NULL, &statuses[1],
                                  in_secs(60)));
    tulip_process_free(p);
    return 0;
}

Test(process, epipe_not_sigpipe)
{
    proc_begin();
    nrc = 0;
    big = calloc(1, BIG);
    go(broken_pipe, NULL);
    fx_run();
    free(big);
    cr_assert_eq(nrc, 5);
    cr_assert_eq(rcs[0], 0);
    cr_assert_eq(rcs[1], 0);
    cr_assert_eq(rcs[2], -EPIPE);
    cr_assert_eq(rcs[3], 0);
    cr_assert_eq(rcs[4], 0);
    cr_assert_eq(statuses[1], 0);
    proc_end();
}

/* ---- cancellation -------------------------------------------------------- */

static tulip_process *shared;

static int wait_shared(void *arg)
{
    (void)arg;
    rec(tulip_process_wait(shared, NULL));
    return 0;
}

static int communicate_shared(void *arg)
{
    (void)arg;
    rec(tulip_process_communicate(shared, NULL, 0, &outs[0], NULL, NULL,
                                  tulip_now() + 200 * TULIP_MSEC));
    return 0;
}

static int kill_and_reap(void *arg)
{
    (void)arg;
    rec(tulip_process_kill(shared));
    rec(tulip_process_wait(shared, &statuses[0]));
    return 0;
}

Test(process, cancelled_wait_leaves_it_reapable)
{
    const char *sleeper[] = {"sleep", "30", NULL};
    tulip_task *t;

    proc_begin();
    nrc = 0;
    cr_assert_eq(tulip_process_spawn(&shared, loop, sleeper, NULL), 0);
    t = fx_spawn(wait_shared, NULL);
    cr_assert_geq(tulip_loop_run_once(loop), 0);
    cr_assert_eq(tulip_task_cancel(t), 0);
    fx_run();
    tulip_task_release(t);
    cr_assert_eq(nrc, 1);
    cr_assert_eq(rcs[0], -ECANCELED);
    cr_assert_not(tulip_process_returncode(shared, NULL));
    cr_assert_eq(kill(tulip_process_pid(shared), 0), 0, "still running");
    go(kill_and_reap, NULL);
    fx_run();
    cr_assert_eq(rcs[1], 0);
    cr_assert_eq(rcs[2], 0);
    cr_assert_eq(statuses[0], -SIGKILL);
    tulip_process_free(shared);
    proc_end();
}

Test(process, communicate_deadline_leaves_it_reapable)
{
    struct tulip_process_opts o = {.stdout_mode = TULIP_STDIO_PIPE};
    tulip_process *p;

    proc_begin();
    nrc = 0;
    cr_assert_eq(tulip_process_shell(&p, loop, "echo early; exec sleep 30", &o),
                 0);
    shared = p;
    go(communicate_shared, NULL);
    fx_run();
    cr_assert_eq(nrc, 1);
    cr_assert_eq(rcs[0], -ETIMEDOUT);
    cr_assert_str_eq(outs[0].data, "early\n");
    tulip_bytes_free(&outs[0]);
    cr_assert_eq(kill(tulip_process_pid(p), 0), 0, "still running");
    go(kill_and_reap, NULL);
    fx_run();
    cr_assert_eq(statuses[0], -SIGKILL);
    tulip_process_free(p);
    proc_end();
}

Test(process, freed_while_running_is_reaped)
{
    const char *sleeper[] = {"sleep", "30", NULL};
    struct tulip_process_opts o = {.stdin_mode = TULIP_STDIO_PIPE,
                                   .stdout_mode = TULIP_STDIO_PIPE};
    tulip_process *p;

    proc_begin();
    cr_assert_eq(tulip_process_spawn(&p, loop, sleeper, &o), 0);
    cr_assert_geq(tulip_process_fd(p, 0), 3);
    cr_assert_geq(tulip_process_fd(p, 1), 3);
    cr_assert_eq(tulip_process_fd(p, 2), -1);
    tulip_process_free(p);
    proc_end();
}

Test(process, bad_arguments)
{
    const char *none[] = {NULL};
    const char *ok[] = {"true", NULL};
    struct tulip_process_opts bad = {.stdout_mode = TULIP_STDIO_STDOUT};
    tulip_process *p = NULL;

    proc_begin();
    cr_assert_eq(tulip_process_spawn(&p, loop, none, NULL), -EINVAL);
    cr_assert_eq(tulip_process_spawn(&p, NULL, ok, NULL), -EINVAL);
    cr_assert_eq(tulip_process_spawn(&p, loop, ok, &bad), -EINVAL);
    cr_assert_eq(tulip_process_shell(&p, loop, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_process_wait(NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_process_spawn(&p, loop, ok, NULL), 0);
    cr_assert_eq(tulip_process_wait(p, NULL), -EPERM);
    tulip_process_free(p);
    tulip_process_free(NULL);
    proc_end();
}
