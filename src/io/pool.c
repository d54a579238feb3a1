/* SPDX-License-Identifier: MIT */
/*
 * Thread pools for blocking work: tulip_to_thread() (asyncio.to_thread,
 * run_in_executor) and, separately, DNS lookups (dns.c), so that slow
 * blocking jobs can never starve name resolution (libuv issue 28, where one
 * shared pool of 4 threads did).
 *
 * A pool is process-wide and starts lazily: a thread is created when a job
 * is queued and fewer threads are idle than jobs wait, up to the pool's
 * size. Idle workers sleep on a condition variable; nothing ever spins.
 * tulip_pool_shutdown() lets the workers finish the queue and joins them;
 * the next job starts the pool again.
 *
 * A job crosses back to its loop without allocating on the worker thread
 * (the allocation hook need not be thread-safe): each loop that uses a pool
 * has a completion channel, a mutex-protected list of finished jobs and an
 * eventfd that the worker writes when the list becomes non-empty. The
 * channel's watcher is active, and so keeps the loop running, while jobs
 * of that loop are outstanding.
 *
 * Ownership of a job: the awaiting task (loop thread) until queued; the
 * pool while queued (the task may take it back under the pool's mutex, and
 * then the job never runs); the worker while fn runs; the loop once it is
 * in the done list. The task frees it after a normal completion. A task
 * that stops waiting (cancelled, timed out) marks the job abandoned, and
 * the loop frees it when it arrives, after calling its abandon callback
 * (which frees whatever the job's argument owns). No job memory is touched
 * by two threads at once, so no reference count is needed: the hand-offs
 * happen under the mutexes.
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define POOL_MAX_THREADS                                                       \
    1024u /* the largest size tulip_pool_set_size takes                        \
           */

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct tulip__job {
    struct tulip__job *next; /* in the pool queue or the done list */
    struct tulip__job *prev; /* in the pool queue */
    int (*fn)(void *arg);    /* the blocking function */
    void *arg;               /* its argument */
    void (*abandon)(void *arg, int result); /* loop thread, if abandoned */
    struct pool_chan *chan;                 /* where it goes when done */
    struct tulip__waitq waiter;             /* the awaiting task, if any */
    int result;                             /* fn's return value */
    int state;                              /* JOB_*, under the pool's mutex */
    bool abandoned;                         /* nobody awaits it any more */
};

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work;     /* a job was queued, or stop */
    struct tulip__job *head; /* queued jobs, oldest first */
    struct tulip__job *tail;
    size_t queued;   /* jobs in the queue */
    size_t idle;     /* workers waiting for work */
    size_t nthreads; /* workers started */
    size_t size;     /* most workers allowed */
    bool stopping;   /* shutdown asked: drain and exit */
    pthread_t threads[POOL_MAX_THREADS];
};

static struct pool pools[2] = {
    {PTHREAD_MUTEX_INITIALIZER,
     PTHREAD_COND_INITIALIZER,
     NULL,
     NULL,
     0,
     0,
     0,
     0,
     false,
     {0}},
    {PTHREAD_MUTEX_INITIALIZER,
     PTHREAD_COND_INITIALIZER,
     NULL,
     NULL,
     0,
     0,
     0,
     0,
     false,
     {0}},
};

/* Serialises tulip_pool_shutdown() with itself. */
static pthread_mutex_t shutdown_mu = PTHREAD_MUTEX_INITIALIZER;

/* A loop's completion channel. */
struct pool_chan {
    pthread_mutex_t mu;
    pthread_cond_t idle;     /* running jobs of this loop reached 0 */
    struct tulip__job *done; /* finished jobs, newest first */
    size_t running;          /* jobs of this loop taken by a worker and
                                not yet in done (under mu) */
    struct tulip__io io;     /* the eventfd's watcher */
    tulip_loop *loop;        /* its loop */
    size_t outstanding;      /* jobs queued and not yet collected
                                (loop thread only) */
    int efd;                 /* eventfd */
};

/* The default size of the blocking pool: asyncio's min(32, cpus + 4). */
static size_t default_size(int pool)
{
    long cpus;

    if (pool == TULIP_POOL_DNS)
        return 4;
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    return cpus + 4 < 32 ? (size_t)cpus + 4 : 32;
}

static size_t pool_size(struct pool *p, int which)
{
    if (!p->size)
        p->size = default_size(which);
    return p->size;
}

/* ---- the workers ----------------------------------------------------------
 */

/* Hand a finished job to its loop (worker thread). */
static void deliver(struct tulip__job *j)
{
    struct pool_chan *c = j->chan;
    bool wake;

    pthread_mutex_lock(&c->mu);
    wake = c->done == NULL;
    j->next = c->done;
    c->done = j;
    if (wake) {
        uint64_t one = 1;
        /* EAGAIN (counter full) still leaves the fd readable: ignore. */
        ssize_t w = write(c->efd, &one, sizeof(one));
        (void)w;
    }
    if (--c->running == 0)
        pthread_cond_signal(&c->idle);
    pthread_mutex_unlock(&c->mu);
}

static void *worker(void *arg)
{
    struct pool *p = arg;
    struct tulip__job *j;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->idle--;
        }
        j = p->head;
        if (!j)
            break; /* stopping, and the queue is drained */
        p->head = j->next;
        if (p->head)
            p->head->prev = NULL;
        else
            p->tail = NULL;
        p->queued--;
        j->state = JOB_RUNNING;
        /* count it as running for its loop before the pool lets go, so
         * that a loop closing meanwhile waits for it */
        pthread_mutex_lock(&j->chan->mu);
        j->chan->running++;
        pthread_mutex_unlock(&j->chan->mu);
        pthread_mutex_unlock(&p->mu);
        j->result = j->fn(j->arg);
        deliver(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/*
 * At process exit, join the workers of a pool whose threads are all idle,
 * so that leak checkers see nothing left; a pool with a job still running
 * is left alone (joining could wait forever). In a child after fork(), the
 * workers do not exist: forget them and the queued jobs (their loops stay
 * in the parent).
 */
static void pool_atexit(void)
{
    for (int which = 0; which < 2; which++) {
        struct pool *p = &pools[which];
        size_t n;

        pthread_mutex_lock(&p->mu);
        if (p->head || p->idle != p->nthreads) {
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        p->stopping = true;
        n = p->nthreads;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < n; i++)
            pthread_join(p->threads[i], NULL);
        pthread_mutex_lock(&p->mu);
        p->nthreads = 0;
        p->stopping = false;
        pthread_mutex_unlock(&p->mu);
    }
}

static void pool_atfork_child(void)
{
    for (int which = 0; which < 2; which++) {
        struct pool *p = &pools[which];
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->work, NULL);
        p->head = p->tail = NULL;
        p->queued = p->idle = p->nthreads = 0;
        p->stopping = false;
    }
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void)
{
    (void)atexit(pool_atexit); /* fails only past 32 handlers */
    pthread_atfork(NULL, NULL, pool_atfork_child);
}

/* Start a worker (p->mu held). Signals are blocked in workers, so that a
 * process signal is always delivered to a thread that runs a loop. */
static int start_worker(struct pool *p)
{
    sigset_t all, old;
    int rc;

    pthread_once(&hooks_once, install_hooks);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return -rc;
    p->nthreads++;
    return 0;
}

/* Queue j on pool `which`, starting a worker if the queue outgrows the
 * idle ones. Returns 0, or -EAGAIN if no worker exists and none could be
 * started. */
static int pool_submit(int which, struct tulip__job *j)
{
    struct pool *p = &pools[which];
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    j->state = JOB_QUEUED;
    j->next = NULL;
    j->prev = p->tail;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    if (p->queued > p->idle && p->nthreads < pool_size(p, which)) {
        rc = start_worker(p);
        if (rc && p->nthreads > 0)
            rc = 0; /* the workers there are will get to it */
    }
    if (rc) { /* no worker at all: unqueue j (it is the last) */
        p->tail = j->prev;
        if (p->tail)
            p->tail->next = NULL;
        else
            p->head = NULL;
        p->queued--;
    } else {
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Take j back if no worker has started it. Returns true if taken. */
static bool pool_withdraw(int which, struct tulip__job *j)
{
    struct pool *p = &pools[which];
    bool taken = false;

    pthread_mutex_lock(&p->mu);
    if (j->state == JOB_QUEUED) {
        if (j->prev)
            j->prev->next = j->next;
        else
            p->head = j->next;
        if (j->next)
            j->next->prev = j->prev;
        else
            p->tail = j->prev;
        p->queued--;
        j->state = JOB_DONE;
        taken = true;
    }
    pthread_mutex_unlock(&p->mu);
    return taken;
}

/* ---- the loop side ---------------------------------------------------------
 */

static void job_free(struct tulip__job *j)
{
    tulip__free(j, sizeof(*j));
}

static void chan_unref_job(struct pool_chan *c)
{
    if (--c->outstanding == 0)
        tulip__loop_io_stop(c->loop, &c->io);
}

/* Collect finished jobs: wake their tasks, or free abandoned ones. */
static void chan_ready(struct tulip__io *io, unsigned revents)
{
    struct pool_chan *c = tulip__container_of(io, struct pool_chan, io);
    struct tulip__job *j, *next, *fifo = NULL;
    uint64_t count;
    ssize_t r;

    (void)revents;
    r = TULIP_SYS(read)(c->efd, &count, sizeof(count));
    (void)r;
    pthread_mutex_lock(&c->mu);
    j = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    for (; j; j = next) { /* reverse into completion order */
        next = j->next;
        j->next = fifo;
        fifo = j;
    }
    for (j = fifo; j; j = next) {
        next = j->next;
        j->state = JOB_DONE;
        chan_unref_job(c);
        if (j->abandoned) {
            if (j->abandon)
                j->abandon(j->arg, j->result);
            job_free(j);
        } else if (j->waiter.head) {
            tulip__task_wake_waiter(j->waiter.head, NULL, 0);
        }
    }
}

/* The loop's completion channel, made on first use. Returns 0, -ENOMEM,
 * or -EMFILE / -ENFILE for the eventfd. */
static int chan_get(tulip_loop *loop, struct pool_chan **out)
{
    void **slot = tulip__io_pool_slot(loop);
    struct pool_chan *c;
    int rc;

    if (!slot)
        return -ENOMEM;
    if (*slot) {
        *out = *slot;
        return 0;
    }
    c = tulip__calloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->efd = TULIP_SYS(eventfd)(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->efd < 0) {
        rc = -errno;
        tulip__free(c, sizeof(*c));
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->idle, NULL);
    c->io.fn = chan_ready;
    c->loop = loop;
    *slot = c;
    *out = c;
    return 0;
}

/* At loop close (tasks are gone): jobs still queued are taken back, running
 * ones are waited for, and every job is freed, abandoned callbacks first. */
void tulip__pool_loop_close(void *state)
{
    struct pool_chan *c = state;
    struct tulip__job *j, *next;
    int which;

    if (!c)
        return;
    for (which = 0; which < 2; which++) {
        struct pool *p = &pools[which];
        pthread_mutex_lock(&p->mu);
        for (j = p->head; j; j = next) {
            next = j->next;
            if (j->chan != c)
                continue;
            pthread_mutex_unlock(&p->mu);
            if (pool_withdraw(which, j)) {
                if (j->abandon)
                    j->abandon(j->arg, -ECANCELED);
                job_free(j);
            }
            pthread_mutex_lock(&p->mu);
            next = p->head; /* the queue changed: rescan */
        }
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_lock(&c->mu);
    while (c->running > 0)
        pthread_cond_wait(&c->idle, &c->mu);
    j = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    for (; j; j = next) {
        next = j->next;
        if (j->abandon)
            j->abandon(j->arg, j->result);
        job_free(j);
    }
    tulip__loop_io_stop(c->loop, &c->io);
    close(c->efd);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->mu);
    tulip__free(c, sizeof(*c));
}

int tulip__pool_run(struct tulip_task *t, int which, int (*fn)(void *),
                    void *arg, void (*abandon)(void *arg, int result),
                    int64_t deadline_ns, int *result)
{
    struct pool_chan *c = NULL;
    struct tulip__job *j;
    bool delivered;
    int rc;

    rc = chan_get(t->loop, &c);
    if (rc)
        return rc;
    j = tulip__calloc(sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->fn = fn;
    j->arg = arg;
    j->abandon = abandon;
    j->chan = c;
    /* chan_get sets c when it returns 0 (the analyzer supposes that a
     * failed eventfd may leave errno at 0): */
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
    if (c->outstanding == 0) {
        rc = tulip__loop_io_start(t->loop, &c->io, c->efd, TULIP__IO_READ);
        if (rc) {
            job_free(j);
            return rc;
        }
    }
    c->outstanding++;
    rc = pool_submit(which, j);
    if (rc) {
        chan_unref_job(c);
        job_free(j);
        return rc;
    }
    tulip__waitq_push(&j->waiter, &t->waiter);
    rc = tulip__task_suspend(t, deadline_ns);
    if (rc == 0 && j->state == JOB_DONE) {
        if (result)
            *result = j->result;
        job_free(j);
        return 0;
    }
    /* Cancelled or timed out: take the job back if it has not started,
     * else leave it to the loop to free once it is done. The loop may
     * have delivered it already, in the pass of the cancel: free it.
     * (Under the pool's lock: a worker sets JOB_RUNNING under it.) */
    pthread_mutex_lock(&pools[which].mu);
    delivered = j->state == JOB_DONE;
    pthread_mutex_unlock(&pools[which].mu);
    if (delivered) {
        if (abandon)
            abandon(arg, j->result);
        job_free(j);
        return rc == TULIP__DEADLINE ? -ETIMEDOUT : rc;
    }
    if (j->waiter.head)
        tulip__waitq_remove(j->waiter.head);
    if (pool_withdraw(which, j)) {
        chan_unref_job(c);
        if (abandon)
            abandon(arg, -ECANCELED);
        job_free(j);
    } else {
        j->abandoned = true;
    }
    return rc == TULIP__DEADLINE ? -ETIMEDOUT : (rc ? rc : -ECANCELED);
}

/* ---- public API ------------------------------------------------------------
 */

int tulip_to_thread_ex(tulip_thread_fn *fn, void *arg, int *result,
                       tulip_thread_abandon_fn *abandon, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!fn)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc) {
        /* the same contract as an abandoned job: -ECANCELED or -ETIMEDOUT
         * always hand arg to abandon */
        if (abandon)
            abandon(arg, -ECANCELED);
        return rc;
    }
    return tulip__pool_run(t, TULIP_POOL_BLOCKING, fn, arg, abandon,
                           deadline_ns, result);
}

int tulip_to_thread(tulip_thread_fn *fn, void *arg, int *result)
{
    return tulip_to_thread_ex(fn, arg, result, NULL, TULIP_FOREVER);
}

int tulip_to_thread_until(tulip_thread_fn *fn, void *arg, int *result,
                          int64_t deadline_ns)
{
    return tulip_to_thread_ex(fn, arg, result, NULL, deadline_ns);
}

int tulip_pool_set_size(int pool, unsigned threads)
{
    struct pool *p;

    if ((pool != TULIP_POOL_BLOCKING && pool != TULIP_POOL_DNS) ||
        threads == 0 || threads > POOL_MAX_THREADS)
        return -EINVAL;
    p = &pools[pool];
    pthread_mutex_lock(&p->mu);
    p->size = threads; /* started workers above it stay until shutdown */
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int tulip_pool_size(int pool)
{
    struct pool *p;
    size_t n;

    if (pool != TULIP_POOL_BLOCKING && pool != TULIP_POOL_DNS)
        return -EINVAL;
    p = &pools[pool];
    pthread_mutex_lock(&p->mu);
    n = pool_size(p, pool);
    pthread_mutex_unlock(&p->mu);
    return (int)n;
}

int tulip_pool_threads(int pool)
{
    struct pool *p;
    size_t n;

    if (pool != TULIP_POOL_BLOCKING && pool != TULIP_POOL_DNS)
        return -EINVAL;
    p = &pools[pool];
    pthread_mutex_lock(&p->mu);
    n = p->nthreads;
    pthread_mutex_unlock(&p->mu);
    return (int)n;
}

void tulip_pool_shutdown(void)
{
    pthread_mutex_lock(&shutdown_mu);
    for (int which = 0; which < 2; which++) {
        struct pool *p = &pools[which];
        size_t n;

        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        n = p->nthreads;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < n; i++)
            pthread_join(p->threads[i], NULL);
        pthread_mutex_lock(&p->mu);
        p->nthreads = 0;
        p->stopping = false;
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&shutdown_mu);
}
