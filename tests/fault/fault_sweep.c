/* SPDX-License-Identifier: MIT */
/*
 * The fault sweep (SQLite's fault simulation loop): each program of
 * scenarios.c runs once to count the calls of every failure site
 * (src/fault.h), then once per call, failing the nth call of a site with one
 * of the errors that site meets in the field. Every run is a child process
 * with a watchdog, and must end with the correct result or a clear error;
 * with nothing leaked (bytes through the allocator hook, open fds); with
 * its loop closed and no task left; and with the correct result when the
 * injected errors were transient (EINTR, EAGAIN), which the library must
 * absorb. -ETIMEDOUT (the programs' deadline) counts as a hang, except
 * under a persistent fault, which may starve a peer until its deadline.
 * Each site is also failed persistently (every call from the nth on), and
 * each program runs under random faults at every site (errors meeting
 * errors in clean-up paths).
 *
 *   fault_sweep                     the whole sweep: every call of every
 *                                   site with every error of the site
 *   fault_sweep --quick             the errors in turn (all of them at the
 *                                   first call), 50 random runs
 *   fault_sweep --only echo         one scenario
 *   fault_sweep --stride K          every Kth call only (a quick look)
 *   fault_sweep --random N          N runs per scenario with random faults
 *                                   at every site (default 400)
 *   TULIP_FAULT=... fault_sweep --run echo
 *                                   one run in this process, for a debugger
 *
 * Exit status 0 when every run ended cleanly; the failures are printed with
 * the TULIP_FAULT string that reproduces them.
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <execinfo.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc_hook.h"
#include "fault.h"
#include "scenarios.h"
#include "tulip.h"

#define WATCHDOG_S 20 /* a run longer than this is hung */
#define WORKERS 2

enum verdict { V_CORRECT, V_ERROR, V_FAIL };

/* What a child reports, in memory shared with the parent. */
struct report {
    int verdict;
    int result;      /* the scenario's result */
    long fired;      /* faults injected */
    long fired_hard; /* of which not EINTR or EAGAIN */
    long long bytes; /* live bytes through the hook at the end */
    unsigned long calls[TULIP__FAULT_NSITES];
    char msg[200];
};

static long long ref_bytes = -1;        /* of the counting run */
static unsigned long random_runs = 400; /* random runs per scenario */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Run sc under plan p in this process, and judge it into *r. */
static void run_one(const struct fault_scenario *sc,
                    const struct tulip__fault_plan *p, struct report *r)
{
    struct tulip_run_opts o = {.loop.virtual_clock = sc->virtual_clock};
    struct test_alloc a;
    int fds0, fds1, rc, result = 0;

    memset(r, 0, sizeof(*r));
    test_alloc_install(&a);
    fds0 = count_fds();
    tulip__fault_set(p);
    rc = tulip_run(sc->main, NULL, &result, &o);
    r->fired = (long)tulip__fault_failed();
    r->fired_hard = (long)tulip__fault_failed_hard();
    for (int i = 0; i < TULIP__FAULT_NSITES; i++)
        r->calls[i] = tulip__fault_calls(i);
    tulip__fault_set(NULL);
    tulip_pool_shutdown();
    tulip_stack_trim();
    fds1 = count_fds();
    r->bytes = a.live_bytes;
    r->result = rc ? rc : result;
    r->verdict = r->result == 0 ? V_CORRECT : r->result < 0 ? V_ERROR : V_FAIL;
    if (r->verdict == V_FAIL)
        snprintf(r->msg, sizeof(r->msg), "wrong result %d", r->result);
    else if (r->result == -EDEADLK ||
             (r->result == -ETIMEDOUT && !(p && p->every)))
        snprintf(r->msg, sizeof(r->msg), "hung: %s", tulip_err_name(r->result));
    else if (r->verdict == V_ERROR && r->fired == 0)
        snprintf(r->msg, sizeof(r->msg), "error %s with no fault injected",
                 tulip_err_name(r->result));
    else if (r->verdict == V_ERROR && r->fired_hard == 0)
        snprintf(r->msg, sizeof(r->msg), "transient faults surfaced as %s",
                 tulip_err_name(r->result));
    else if (fds1 != fds0)
        snprintf(r->msg, sizeof(r->msg), "fds: %d open, %d before", fds1, fds0);
    else if (ref_bytes >= 0 && r->bytes > ref_bytes)
        snprintf(r->msg, sizeof(r->msg), "leaked %lld bytes",
                 r->bytes - ref_bytes);
    if (r->msg[0])
        r->verdict = V_FAIL;
    test_alloc_remove();
}

static void plan_string(const struct tulip__fault_plan *p, char *buf, size_t n)
{
    if (p->p > 0)
        snprintf(buf, n, "site=%s,p=%g,seed=%llu",
                 tulip__fault_site_name(p->site), p->p,
                 (unsigned long long)p->seed);
    else
        snprintf(buf, n, "site=%s,nth=%lu,err=%s%s",
                 tulip__fault_site_name(p->site), p->nth,
                 tulip__fault_errno_name(p->err), p->every ? ",every=1" : "");
}

/* A run in a child process; false if it could not start. */
static pid_t spawn_run(const struct fault_scenario *sc,
                       const struct tulip__fault_plan *p, struct report *r)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    alarm(WATCHDOG_S);
    if (!getenv("FAULT_SWEEP_VERBOSE") && !freopen("/dev/null", "w", stderr))
        _exit(3);
    run_one(sc, p, r);
    _exit(0);
}

/* The child's end, folded into its report. */
static void judge_exit(int status, struct report *r)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    r->verdict = V_FAIL;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(r->msg, sizeof(r->msg), "hung: watchdog after %d s",
                 WATCHDOG_S);
    else if (WIFSIGNALED(status))
        snprintf(r->msg, sizeof(r->msg), "crashed: %s",
                 strsignal(WTERMSIG(status)));
    else
        snprintf(r->msg, sizeof(r->msg), "exit status %d", WEXITSTATUS(status));
}

struct job {
    const struct fault_scenario *sc;
    struct tulip__fault_plan plan;
};

struct tally {
    long runs, correct, errors, failures, unreached;
};

static void account(const struct job *j, const struct report *r,
                    struct tally *t)
{
    char ps[128];

    t->runs++;
    if (r->verdict == V_FAIL) {
        t->failures++;
        plan_string(&j->plan, ps, sizeof(ps));
        printf("FAIL %s TULIP_FAULT=\"%s\": %s\n", j->sc->name, ps, r->msg);
        fflush(stdout);
    } else if (r->fired == 0) {
        t->unreached++; /* fewer calls this time (timing) */
    } else if (r->verdict == V_CORRECT) {
        t->correct++;
    } else {
        t->errors++;
    }
}

/* Run the jobs, WORKERS at a time. */
static void run_jobs(const struct job *jobs, long n, struct report *slots,
                     struct tally *t)
{
    pid_t pids[WORKERS] = {0};
    long which[WORKERS];
    long next = 0, live = 0;

    while (next < n || live) {
        for (int w = 0; w < WORKERS && next < n; w++) {
            if (pids[w])
                continue;
            memset(&slots[w], 0, sizeof(slots[w]));
            pids[w] = spawn_run(jobs[next].sc, &jobs[next].plan, &slots[w]);
            if (pids[w] < 0) {
                perror("fork");
                exit(2);
            }
            which[w] = next++;
            live++;
        }
        int status;
        pid_t pid = wait(&status);
        for (int w = 0; w < WORKERS; w++) {
            if (pids[w] != pid)
                continue;
            judge_exit(status, &slots[w]);
            account(&jobs[which[w]], &slots[w], t);
            pids[w] = 0;
            live--;
        }
    }
}

/* Append a job; the array grows. */
static void add_job(struct job **jobs, long *n, long *cap,
                    const struct fault_scenario *sc, int site,
                    unsigned long nth, int err, bool every)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *jobs = realloc(*jobs, (size_t)*cap * sizeof(**jobs));
        if (!*jobs)
            abort();
    }
    (*jobs)[(*n)++] = (struct job){
        .sc = sc,
        .plan = {.site = site, .nth = nth, .err = err, .every = every}};
}

static int sweep(const struct fault_scenario *sc, bool full,
                 unsigned long stride, struct report *slots, struct tally *t)
{
    struct report *r = &slots[0];
    struct job *jobs = NULL;
    long n = 0, cap = 0, total = 0;
    int status;
    pid_t pid;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* the counting run: no fault, the reference bytes */
    ref_bytes = -1;
    pid = spawn_run(sc, NULL, r);
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    judge_exit(status, r);
    if (r->verdict != V_CORRECT) {
        printf("FAIL %s: without faults: %s (result %d)\n", sc->name, r->msg,
               r->result);
        t->failures++;
        return -1;
    }
    ref_bytes = r->bytes;
    struct report count = *r;
    for (int s = 0; s < TULIP__FAULT_NSITES; s++) {
        int ne;
        const int *errs = tulip__fault_site_errors(s, &ne);
        unsigned long c = count.calls[s];

        total += (long)c;
        /* the nth call, for every n, with every error of the site (with
         * --quick: every error at the first call, then the errors in turn) */
        for (unsigned long k = 1; k <= c; k += stride)
            for (int e = 0; e < ne; e++)
                if (full || k == 1 ||
                    (unsigned long)e == (k - 1) % (unsigned long)ne)
                    add_job(&jobs, &n, &cap, sc, s, k, errs[e], false);
        /* persistent: every call from the nth on, at the first call and at
         * every eighth. Not the errors that mean "try again": EINTR and
         * EAGAIN forever would only spin, and so would ECONNABORTED, which
         * takes a connection off the queue each time it happens for real. */
        for (unsigned long k = 1; c && k <= c; k += 8)
            for (int e = 0; e < ne; e++)
                if (errs[e] != EINTR && errs[e] != EAGAIN &&
                    errs[e] != ECONNABORTED &&
                    (full || k == 1 || s == TULIP__FAULT_alloc))
                    add_job(&jobs, &n, &cap, sc, s, k, errs[e], true);
    }
    /* random: any site, each call failing with probability p, with one of
     * its own errors, so that faults meet faults (errors in clean-up) */
    for (unsigned long seed = 1; seed <= random_runs; seed++) {
        static const double ps[] = {0.02, 0.05, 0.1, 0.2};
        add_job(&jobs, &n, &cap, sc, -1, 0, 0, false);
        jobs[n - 1].plan.p = ps[seed % 4];
        jobs[n - 1].plan.seed = seed;
    }
    struct tally before = *t;
    run_jobs(jobs, n, slots, t);
    free(jobs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%-9s %5ld calls:", sc->name, total);
    for (int s = 0; s < TULIP__FAULT_NSITES; s++)
        if (count.calls[s])
            printf(" %s=%lu", tulip__fault_site_name(s), count.calls[s]);
    printf("\n          %5ld runs: %ld correct, %ld clear errors, %ld "
           "not reached, %ld FAILED (%.1f s)\n",
           t->runs - before.runs, t->correct - before.correct,
           t->errors - before.errors, t->unreached - before.unreached,
           t->failures - before.failures,
           (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
    return 0;
}

static const struct fault_scenario *find(const char *name)
{
    for (int i = 0; i < fault_nscenarios; i++)
        if (strcmp(fault_scenarios[i].name, name) == 0)
            return &fault_scenarios[i];
    fprintf(stderr, "fault_sweep: no scenario %s\n", name);
    exit(2);
}

/* --run with $FAULT_SWEEP_BLOCKS: an allocator that remembers where each
 * live block came from, to name what a run leaked. */
#define BLOCKS 8192
static struct block {
    void *p;
    size_t size;
    void *pcs[12];
    int npcs;
} blocks[BLOCKS];

static void *tracking_alloc(void *ud, void *ptr, size_t old_size,
                            size_t new_size)
{
    void *np = NULL;

    (void)ud;
    (void)old_size;
    if (new_size)
        np = realloc(ptr, new_size);
    else
        free(ptr);
    if (new_size && !np)
        return NULL;
    for (int i = 0; ptr && i < BLOCKS; i++)
        if (blocks[i].p == ptr) {
            blocks[i].p = NULL;
            break;
        }
    for (int i = 0; np && i < BLOCKS; i++)
        if (!blocks[i].p) {
            blocks[i].p = np;
            blocks[i].size = new_size;
            blocks[i].npcs = backtrace(blocks[i].pcs, 12);
            break;
        }
    return np;
}

static void print_blocks(void)
{
    for (int i = 0; i < BLOCKS; i++) {
        if (!blocks[i].p)
            continue;
        fprintf(stderr, "live block of %zu bytes from:\n", blocks[i].size);
        backtrace_symbols_fd(blocks[i].pcs, blocks[i].npcs, 2);
    }
}

/* --run: one run here, under $TULIP_FAULT (already parsed). */
static int run_here(const struct fault_scenario *sc)
{
    struct tulip__fault_plan p;
    const char *env = getenv("TULIP_FAULT");
    struct report r;

    if (env && tulip__fault_parse(env, &p) < 0) {
        fprintf(stderr, "fault_sweep: bad TULIP_FAULT\n");
        return 2;
    }
    if (getenv("FAULT_SWEEP_BLOCKS")) {
        struct tulip_run_opts o = {.loop.virtual_clock = sc->virtual_clock};
        int result;

        tulip_set_allocator(tracking_alloc, NULL);
        tulip__fault_set(env ? &p : NULL);
        tulip_run(sc->main, NULL, &result, &o);
        tulip__fault_set(NULL);
        tulip_pool_shutdown();
        tulip_stack_trim();
        print_blocks();
        return 0;
    }
    run_one(sc, env ? &p : NULL, &r);
    printf("%s: result %d (%s), %ld fault(s) injected, %lld bytes live%s%s\n",
           sc->name, r.result, tulip_err_name(r.result), r.fired, r.bytes,
           r.msg[0] ? ": " : "", r.msg);
    return r.verdict == V_FAIL;
}

int main(int argc, char **argv)
{
    const struct fault_scenario *only = NULL;
    unsigned long stride = 1;
    bool full = true;
    struct tally t = {0};
    struct report *slots;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            full = false;
            random_runs = 50;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = find(argv[++i]);
        else if (strcmp(argv[i], "--random") == 0 && i + 1 < argc)
            random_runs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--stride") == 0 && i + 1 < argc)
            stride = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--run") == 0 && i + 1 < argc)
            return run_here(find(argv[++i]));
        else {
            fprintf(
                stderr,
                "usage: %s [--quick] [--only NAME] [--stride K] [--random N] | "
                "[--run NAME]\n",
                argv[0]);
            return 2;
        }
    }
    if (stride == 0)
        stride = 1;
    /* the plan of the environment is for --run only */
    tulip__fault_set(NULL);
    signal(SIGPIPE, SIG_IGN);
    slots = mmap(NULL, WORKERS * sizeof(*slots), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED)
        return 2;
    for (int i = 0; i < fault_nscenarios; i++)
        if (!only || only == &fault_scenarios[i])
            sweep(&fault_scenarios[i], full, stride, slots, &t);
    printf("fault sweep: %ld runs, %ld correct, %ld clear errors, %ld not "
           "reached, %ld failed\n",
           t.runs, t.correct, t.errors, t.unreached, t.failures);
    return t.failures ? 1 : 0;
}
