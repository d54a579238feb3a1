/* SPDX-License-Identifier: MIT */
/*
 * Debug mode (TULIP_DEBUG=1 or tulip_debug_enable), asyncio's debug mode
 * for tulip (asyncio.md A.11): warns about task steps slower than a
 * threshold (100 ms unless TULIP_DEBUG_SLOW_MS or tulip_debug_set_slow
 * says otherwise), adds where a task was spawned to the reports of tasks
 * that end with an unread error or are destroyed while pending, reports
 * stacks more than 75% used (each stack is painted with a pattern when its
 * task is spawned and scanned when it finishes), and reports calls that
 * reach a loop from a thread other than the one running it.
 *
 * What it knows per task lives in a side table keyed by the task's address,
 * so that the task layer carries no debug fields: debug mode costs nothing
 * when off, and a few hundred nanoseconds per spawn when on.
 */
#include "../prefix.h"
#include "diag.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SITE_FRAMES 6
#define BUCKETS 4096u
#define PAINT 0x5aU
#define MAX_LOOPS 16
#define MAX_WRONG_THREAD_REPORTS 20 /* then quiet */

struct dbg_task {
    const struct tulip_task *t;
    struct dbg_task *next;
    void *site[SITE_FRAMES]; /* return addresses at the spawn */
    int nsite;
    bool painted; /* its stack carries the pattern */
};

static pthread_mutex_t dbg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dbg_task *buckets[BUCKETS];
static int64_t slow_ns = 100000000;
static TULIP_TLS int64_t step_start_ns;
/* The loops debug mode knows: the thread that runs each (from its passes),
 * and whether it was created with opts.debug. */
struct dbg_loop {
    const tulip_loop *loop;
    pthread_t thread;
    bool owned; /* thread is known */
    bool debug; /* created with opts.debug */
};
static struct dbg_loop loops[MAX_LOOPS];
static tulip_loop *last_loop;
static unsigned wrong_thread_reports;

static int64_t dbg_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned bucket_of(const void *t)
{
    return (unsigned)(((uintptr_t)t >> 6) % BUCKETS);
}

/* The entry of t; caller holds dbg_mu. */
static struct dbg_task **find(const struct tulip_task *t)
{
    struct dbg_task **p = &buckets[bucket_of(t)];

    while (*p && (*p)->t != t)
        p = &(*p)->next;
    return p;
}

void tulip__debug_configure(void)
{
    static bool done;
    const char *ms = getenv("TULIP_DEBUG_SLOW_MS");
    char *end;
    long v;

    if (done)
        return;
    done = true;
    if (ms && *ms) {
        /* a value that is not a positive whole number of ms is ignored */
        v = strtol(ms, &end, 10);
        if (*end == '\0' && v > 0 && v <= INT64_MAX / 1000000)
            slow_ns = (int64_t)v * 1000000;
    }
}

int tulip_debug_enable(bool on)
{
    tulip__debug_configure();
    tulip__debug_on = on;
    tulip__trace_update_hooks();
    if (on)
        tulip_dump_on_sigquit(true);
    return 0;
}

void tulip_debug_set_slow(int64_t threshold_ns)
{
    slow_ns = threshold_ns;
}

void tulip__debug_step_begin(struct tulip_task *t)
{
    (void)t;
    step_start_ns = dbg_now_ns();
}

static void print_site(FILE *f, void *const *site, int n)
{
    for (int i = 0; i < n; i++) {
        Dl_info info;
        if (dladdr(site[i], &info) && info.dli_sname) {
            fprintf(f, "    %s+0x%lx (%s)\n", info.dli_sname,
                    (unsigned long)((char *)site[i] - (char *)info.dli_saddr),
                    info.dli_fname);
        } else if (dladdr(site[i], &info) && info.dli_fname) {
            fprintf(f, "    %p (%s+0x%lx)\n", site[i], info.dli_fname,
                    (unsigned long)((char *)site[i] - (char *)info.dli_fbase));
        } else {
            fprintf(f, "    %p\n", site[i]);
        }
    }
}

/* Bytes of t's stack ever used: the pattern is gone below them. The scan
 * reads the whole stack, dead frames included, whose redzones ASan keeps
 * poisoned: it is not instrumented (the memory is ours and mapped). */
__attribute__((no_sanitize("address"))) static size_t
stack_used(const struct tulip_task *t)
{
    const unsigned char *lo = (const unsigned char *)t->co.stack.lo;
    size_t i = 0;

    while (i < t->co.stack.size && lo[i] == PAINT)
        i++;
    return t->co.stack.size - i;
}

static void check_stack(const struct tulip_task *t)
{
    struct dbg_task *d;
    bool painted;

    pthread_mutex_lock(&dbg_mu);
    d = *find(t);
    painted = d && d->painted;
    pthread_mutex_unlock(&dbg_mu);
    if (!painted || !t->co.stack.lo)
        return;
    size_t used = stack_used(t);
    if (used * 4 > t->co.stack.size * 3) {
        fprintf(stderr,
                "tulip: debug: task %s used %zu of its %zu stack bytes "
                "(%zu%%): near overflow; give it a bigger stack_size\n",
                t->co.name, used, t->co.stack.size,
                used * 100 / t->co.stack.size);
    }
}

void tulip__debug_step_end(struct tulip_task *t)
{
    int64_t took = dbg_now_ns() - step_start_ns;

    if (took >= slow_ns)
        fprintf(stderr, "tulip: debug: executing task %s took %.3f seconds\n",
                t->co.name, (double)took / 1e9);
    if (t->state == TULIP__TASK_DONE)
        check_stack(t); /* before the stack can be given back */
}

void tulip__debug_spawn(struct tulip_task *t, void *site)
{
    struct dbg_task *d = calloc(1, sizeof(*d));
    void *frames[SITE_FRAMES + 2];
    int n;

    tulip__debug_check_thread(t->loop, "tulip_spawn");
    if (!d)
        return;
    d->t = t;
    /* backtrace() from here: frame 0 is this function, then the hook
     * dispatcher; the spawn's own caller chain follows. */
    n = backtrace(frames, SITE_FRAMES + 2);
    if (n > 2) {
        d->nsite = n - 2;
        memcpy(d->site, frames + 2, sizeof(void *) * (size_t)d->nsite);
    } else {
        d->site[0] = site;
        d->nsite = 1;
    }
    if (t->state == TULIP__TASK_NEW && t->co.stack.lo) {
        /* Paint all but the top page, where the first frame sits. */
        size_t len = t->co.stack.size > 4096 ? t->co.stack.size - 4096 : 0;
        memset(t->co.stack.lo, PAINT, len);
        d->painted = true;
    }
    pthread_mutex_lock(&dbg_mu);
    struct dbg_task **p = find(t);
    if (*p) { /* a stale entry: the object was reused */
        struct dbg_task *old = *p;
        *p = old->next;
        free(old);
    }
    d->next = buckets[bucket_of(t)];
    buckets[bucket_of(t)] = d;
    pthread_mutex_unlock(&dbg_mu);
}

void tulip__debug_release(struct tulip_task *t)
{
    struct dbg_task *d;
    struct dbg_task **p;

    pthread_mutex_lock(&dbg_mu);
    p = find(t);
    d = *p;
    if (d)
        *p = d->next;
    pthread_mutex_unlock(&dbg_mu);
    bool pending = t->state != TULIP__TASK_DONE;
    bool unread = t->result < 0 && t->result != -ECANCELED && !t->retrieved;
    if (pending) {
        fprintf(stderr,
                "tulip: debug: Task was destroyed but it is pending: "
                "%s\n",
                t->co.name);
    }
    if ((pending || unread) && d) {
        fprintf(stderr, "tulip: debug: task %s (%s) was spawned at:\n",
                t->co.name, pending ? "pending" : tulip_strerror(t->result));
        print_site(stderr, d->site, d->nsite);
    }
    free(d);
}

void *const *tulip__debug_spawn_site(const struct tulip_task *t, int *n)
{
    struct dbg_task *d;

    pthread_mutex_lock(&dbg_mu);
    d = *find(t);
    pthread_mutex_unlock(&dbg_mu);
    *n = d ? d->nsite : 0;
    return d ? d->site : NULL;
}

/* The slot of loop in loops[], or of a free one (NULL: none left);
 * caller holds dbg_mu. */
static struct dbg_loop *loop_slot(const tulip_loop *loop, bool add)
{
    struct dbg_loop *free_slot = NULL;

    for (int i = 0; i < MAX_LOOPS; i++) {
        if (loops[i].loop == loop)
            return &loops[i];
        if (!loops[i].loop && !free_slot)
            free_slot = &loops[i];
    }
    if (add && free_slot) {
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->loop = loop;
    }
    return add ? free_slot : NULL;
}

void tulip__debug_pass(tulip_loop *loop)
{
    pthread_t self = pthread_self();
    struct dbg_loop *l;

    __atomic_store_n(&last_loop, loop, __ATOMIC_RELAXED);
    /* Under the lock (debug mode only): loops of other threads register,
     * check and forget their slots meanwhile (TSan, tests/tsan/loops.c). */
    pthread_mutex_lock(&dbg_mu);
    l = loop_slot(loop, true);
    if (l) {
        l->thread = self;
        l->owned = true;
    }
    pthread_mutex_unlock(&dbg_mu);
}

bool tulip__debug_loop_set(tulip_loop *loop, bool on)
{
    struct dbg_loop *l;
    bool was;

    pthread_mutex_lock(&dbg_mu);
    l = loop_slot(loop, on);
    was = l && l->debug;
    if (l && on) {
        l->debug = true;
        l->thread = pthread_self(); /* its creator's, until it runs */
        l->owned = true;
    } else if (l) {
        memset(l, 0, sizeof(*l)); /* closed: forget it */
    }
    pthread_mutex_unlock(&dbg_mu);
    if (on && !l) {
        fprintf(stderr,
                "tulip: debug: more than %d loops with debug on; this one "
                "runs without\n",
                MAX_LOOPS);
    }
    if (!on) {
        tulip_loop *expected = loop;
        __atomic_compare_exchange_n(&last_loop, &expected, NULL, false,
                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    return was;
}

bool tulip__debug_loop_is(const tulip_loop *loop)
{
    bool on = false;

    pthread_mutex_lock(&dbg_mu);
    for (int i = 0; i < MAX_LOOPS; i++) {
        if (loops[i].loop == loop) {
            on = loops[i].debug;
            break;
        }
    }
    pthread_mutex_unlock(&dbg_mu);
    return on;
}

void tulip__debug_check_thread(tulip_loop *loop, const char *what)
{
    pthread_t owner;
    bool found = false;
    void *frames[SITE_FRAMES + 3];
    int n;

    if (!loop)
        return;
    pthread_mutex_lock(&dbg_mu);
    for (int i = 0; i < MAX_LOOPS; i++) {
        if (loops[i].loop == loop && loops[i].owned) {
            owner = loops[i].thread;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&dbg_mu);
    if (!found || pthread_equal(owner, pthread_self()))
        return;
    if (__atomic_fetch_add(&wrong_thread_reports, 1, __ATOMIC_RELAXED) >=
        MAX_WRONG_THREAD_REPORTS)
        return;
    fprintf(stderr,
            "tulip: debug: wrong thread: %s on loop %p from thread %#lx, "
            "but the loop runs on thread %#lx; a loop and its tasks are "
            "not thread-safe (only tulip_call_soon_threadsafe crosses "
            "threads). Called from:\n",
            what, (void *)loop, (unsigned long)pthread_self(),
            (unsigned long)owner);
    /* frames 0-2: this function, the hook dispatcher, the loop's
     * internal entry; then the API function called and its callers */
    n = backtrace(frames, SITE_FRAMES + 3);
    if (n > 2)
        print_site(stderr, frames + 2, n - 2);
}

tulip_loop *tulip__debug_last_loop(void)
{
    return __atomic_load_n(&last_loop, __ATOMIC_RELAXED);
}

void tulip__debug_print_site(FILE *f, const struct tulip_task *t)
{
    int n;
    void *const *site = tulip__debug_spawn_site(t, &n);

    if (site)
        print_site(f, site, n);
}
