/* SPDX-License-Identifier: MIT */
/*
 * Stack overflow: a coroutine that runs into the guard below its stack is
 * reported by name and stack size and the process aborts (DESIGN.md
 * decision 2: never silent corruption), with either guard kind, in a
 * nested generator and on another thread. A SIGSEGV that is not a guard
 * hit must still kill the process by SIGSEGV, or reach the handler that
 * was installed before tulip's, i.e. the handler chains correctly.
 *
 * The message text is checked by running the overflow in a forked child
 * whose stderr goes into a pipe. Expected-signal tests (.signal) let
 * Criterion check how its own test process died.
 */
/* ctest: labels=unit timeout=120 */
#define _POSIX_C_SOURCE 200809L /* setenv, sigaction */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tulip.h"

#define KIB ((size_t)1024)

/* A low address that no process maps: a write there faults. Not NULL, so
 * that UBSan's null check leaves the fault to the kernel; read from a
 * volatile, so that the compiler cannot see it. */
static volatile int *volatile unmapped = (volatile int *)64;

/* Under ASan (or TSan) the handler tulip chains to for faults that are not
 * overflows is the sanitizer's, which reports and exits instead of dying by
 * SIGSEGV: the tests that expect SIGSEGV are then disabled (SEGV_DEATH),
 * and the message test checks for a sanitizer's exit instead. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#if SANITIZED
#define SEGV_DEATH .disabled = true
#else
#define SEGV_DEATH .signal = SIGSEGV
#endif

static volatile int never; /* keeps the recursion unbounded but legal */

/* Recurse without bound, 512 bytes a frame, touching each frame. */
static int down(int n)
{
    volatile char buf[512];

    buf[0] = (char)n;
    buf[sizeof(buf) - 1] = (char)n;
    if (never)
        return buf[0];
    return down(n + 1) + buf[sizeof(buf) - 1];
}

static int overflow_body(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    return down(0);
}

/* Create a generator with this name and stack size, and run it. */
static void overflow_in(const char *name, size_t size)
{
    struct tulip_coro_opts o = {size, name};
    tulip_gen *g;

    if (tulip_gen_new_ex(&g, overflow_body, NULL, &o) != 0)
        _exit(90);
    tulip_gen_next(g, NULL);
    _exit(91); /* not reached */
}

/* ---- expected signals ---------------------------------------------------- */

Test(overflow, recursion, .signal = SIGABRT)
{
    overflow_in("deep", tulip_stack_size_min());
}

Test(overflow, recursion_mprotect_guard, .signal = SIGABRT)
{
    setenv("TULIP_GUARD", "mprotect", 1);
    overflow_in("deep", tulip_stack_size_min());
}

/* Write to `unmapped`: a fault that is not an overflow. */
static int bad_write_body(void *arg, void **ret)
{
    (void)arg;
    (void)ret;
    *unmapped = 1;
    return 0;
}

Test(not_overflow, bad_write_in_generator, SEGV_DEATH)
{
    tulip_gen *g;

    cr_assert_eq(tulip_gen_new(&g, bad_write_body, NULL), 0);
    tulip_gen_next(g, NULL);
}

Test(not_overflow, bad_write_in_main, SEGV_DEATH)
{
    tulip_gen *g;

    /* Creating a generator installs tulip's handler. */
    cr_assert_eq(tulip_gen_new(&g, bad_write_body, NULL), 0);
    *unmapped = 1;
}

/* A fault just below a suspended coroutine's stack is not the running
 * coroutine's overflow. */
static int report_local(void *arg, void **ret)
{
    volatile char local = 0;

    (void)ret;
    *(volatile char **)arg = &local;
    return tulip_yield(NULL, NULL);
}

static int touch_body(void *arg, void **ret)
{
    (void)ret;
    return *(volatile char *)arg;
}

Test(not_overflow, fault_in_other_coroutines_guard, SEGV_DEATH)
{
    struct tulip_coro_opts o = {tulip_stack_size_min(), "victim"};
    volatile char *local = NULL;
    tulip_gen *victim, *g;
    char *guard;

    cr_assert_eq(tulip_gen_new_ex(&victim, report_local, (void *)&local, &o),
                 0);
    cr_assert_eq(tulip_gen_next(victim, NULL), 0);
    /* The victim's frames sit in the top page or so of its stack; one
     * stack size below that page's end lies its lowest byte, and just
     * below it the guard (16 KiB, so a page or three of slack is fine). */
    guard = (char *)(((uintptr_t)local + 4095) & ~(uintptr_t)4095) -
            tulip_stack_size_min() - 1;
    cr_assert_eq(tulip_gen_new(&g, touch_body, guard), 0);
    tulip_gen_next(g, NULL);
}

/* ---- chaining to the handler installed before tulip's -------------------- */

static void old_siginfo_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    _exit(si->si_addr == (void *)unmapped ? 42 : 43);
}

static void old_plain_handler(int sig)
{
    _exit(sig == SIGSEGV ? 44 : 45);
}

static void install_old(int siginfo)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    if (siginfo) {
        sa.sa_sigaction = old_siginfo_handler;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = old_plain_handler;
    }
    cr_assert_eq(sigaction(SIGSEGV, &sa, NULL), 0);
}

Test(chain, siginfo_handler_sees_the_fault, .exit_code = 42)
{
    tulip_gen *g;

    install_old(1);
    cr_assert_eq(tulip_gen_new(&g, bad_write_body, NULL), 0);
    tulip_gen_next(g, NULL);
}

Test(chain, plain_handler_sees_the_fault, .exit_code = 44)
{
    tulip_gen *g;

    install_old(0);
    cr_assert_eq(tulip_gen_new(&g, bad_write_body, NULL), 0);
    tulip_gen_next(g, NULL);
}

/* ---- the message, from a child's stderr ---------------------------------- */

struct died {
    int signal;     /* the signal that killed the child, or 0 */
    int status;     /* its exit status if it exited */
    char err[2048]; /* what it wrote to stderr */
};

/* Run fn(arg) in a child with stderr into a pipe; see how it ended. */
static struct died run_child(void (*fn)(void *), void *arg)
{
    struct died d;
    size_t len = 0;
    ssize_t n;
    int fd[2], status;
    pid_t pid;

    memset(&d, 0, sizeof(d));
    cr_assert_eq(pipe(fd), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fd[1], STDERR_FILENO);
        close(fd[0]);
        fn(arg);
        _exit(0);
    }
    close(fd[1]);
    while ((n = read(fd[0], d.err + len, sizeof(d.err) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    d.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    d.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return d;
}

static void assert_overflow_message(const struct died *d, const char *name,
                                    size_t size)
{
    char want[64];

    cr_assert_eq(d->signal, SIGABRT, "died by %d, exit %d, stderr: %s",
                 d->signal, d->status, d->err);
    cr_assert_not_null(strstr(d->err, "stack overflow"), "stderr: %s", d->err);
    cr_assert_not_null(strstr(d->err, name), "no %s in: %s", name, d->err);
    snprintf(want, sizeof(want), " %zu bytes", size);
    cr_assert_not_null(strstr(d->err, want), "no%s in: %s", want, d->err);
}

struct job {
    const char *name; /* generator name */
    size_t size;      /* its stack size */
    int mprotect;     /* force the mprotect guard */
};

static void overflow_job(void *arg)
{
    struct job *j = arg;

    if (j->mprotect)
        setenv("TULIP_GUARD", "mprotect", 1);
    overflow_in(j->name, j->size);
}

Test(message, names_coroutine_and_size)
{
    struct job j = {"deep", 64 * KIB, 0};
    struct died d = run_child(overflow_job, &j);

    assert_overflow_message(&d, "'deep'", 64 * KIB);
}

Test(message, with_mprotect_guard)
{
    struct job j = {"deep", 32 * KIB, 1};
    struct died d = run_child(overflow_job, &j);

    assert_overflow_message(&d, "'deep'", 32 * KIB);
}

Test(message, unnamed_coroutine)
{
    struct job j = {NULL, 64 * KIB, 0};
    struct died d = run_child(overflow_job, &j);

    assert_overflow_message(&d, "(unnamed)", 64 * KIB);
}

/* An outer generator resumes an inner one, which overflows. */
static int outer_body(void *arg, void **ret)
{
    struct tulip_coro_opts o = {48 * KIB, "inner"};
    tulip_gen *g;

    (void)arg;
    (void)ret;
    if (tulip_gen_new_ex(&g, overflow_body, NULL, &o) != 0)
        return -ENOMEM;
    return tulip_gen_next(g, NULL);
}

static void nested_job(void *arg)
{
    struct tulip_coro_opts o = {0, "outer"};
    tulip_gen *g;

    (void)arg;
    if (tulip_gen_new_ex(&g, outer_body, NULL, &o) != 0)
        _exit(90);
    tulip_gen_next(g, NULL);
    _exit(91);
}

Test(message, names_the_inner_generator)
{
    struct died d = run_child(nested_job, NULL);

    assert_overflow_message(&d, "'inner'", 48 * KIB);
    cr_assert_null(strstr(d.err, "outer"), "stderr: %s", d.err);
}

static void *thread_overflow(void *arg)
{
    overflow_in(arg, 64 * KIB);
    return NULL;
}

/*
 * Each thread that runs coroutines gets its own alternate signal stack:
 * without one, the handler could not run on the overflowed stack and the
 * thread would die by SIGSEGV. (Not checked in a forked child: qemu-user,
 * which runs this suite for aarch64, fails to start a thread after fork.)
 */
Test(overflow, on_another_thread, .signal = SIGABRT)
{
    static char name[] = "threaded";
    pthread_t th;
    tulip_gen *g;

    /* Main runs coroutines too, so both threads have been prepared. */
    cr_assert_eq(tulip_gen_new(&g, bad_write_body, NULL), 0);
    cr_assert_eq(pthread_create(&th, NULL, thread_overflow, name), 0);
    pthread_join(th, NULL);
}

/* A stray write is not reported as an overflow. */
static void bad_write_job(void *arg)
{
    tulip_gen *g;

    (void)arg;
    if (tulip_gen_new(&g, bad_write_body, NULL) != 0)
        _exit(90);
    tulip_gen_next(g, NULL);
    _exit(91);
}

Test(message, none_for_other_faults)
{
    struct died d;

    d = run_child(bad_write_job, NULL);
    /* ASan reports the fault itself: it exits non-zero, or aborts when
     * run with abort_on_error=1 (as `make asan` does). */
    if (SANITIZED)
        cr_assert((d.signal == 0 && d.status != 0 && d.status != 91) ||
                      d.signal == SIGABRT,
                  "died by %d, exit %d", d.signal, d.status);
    else
        cr_assert_eq(d.signal, SIGSEGV, "died by %d, exit %d", d.signal,
                     d.status);
    cr_assert_null(strstr(d.err, "tulip: stack overflow"), "stderr: %s", d.err);
}
