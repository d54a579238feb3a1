/* SPDX-License-Identifier: MIT */
/*
 * The tracer: TULIP_TRACE=path (or tulip_trace_start) writes a Chrome
 * trace-event JSON file (trace_json.c says what is in it), which Perfetto
 * and chrome://tracing load.
 *
 * Recording is cheap because the loop never formats anything: a hook
 * appends a fixed 32-byte binary record (trace_fmt.h: a CLOCK_MONOTONIC
 * read, the task id, two words) to a thread-local 1 MiB buffer. Names are
 * interned: a task's name is written once (a NAME record) and every other
 * record carries its id. A suspension is a flag on the step's END record,
 * a resumption is implied by the BEGIN, so an echoed message costs about
 * four records. A full buffer, or one older than 50 ms at the start of a
 * pass, is handed to a writer thread under a mutex; the writer write(2)s
 * it as it is into the trace file and gives the buffer back. The loop
 * never waits for the disk: if the writer falls MAX_QUEUED buffers behind,
 * buffers are dropped and counted (reported at stop).
 *
 * The JSON is made at tulip_trace_stop (at exit at the latest): the binary
 * file is converted into a temporary next to it, renamed over it. A path
 * that is not a regular file (a device, a pipe) gets the JSON and the
 * binary goes to an unlinked temporary file meanwhile. A program that dies
 * without stopping leaves the binary trace at path: tulip-trace renders it
 * (every complete record) and converts it (--json).
 *
 * A write error (a full disk) stops the recording with one message; the
 * program runs on. This file also owns the hook table and dispatches to
 * debug mode.
 */
#include "../prefix.h"
#include "diag.h"
#include "trace_fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_RECS 32768u       /* records per buffer (1 MiB) */
#define MAX_QUEUED 32u        /* buffers waiting for the writer before drops */
#define MAX_SPARE 4u          /* written buffers kept for reuse */
#define FLUSH_AGE_NS 50000000 /* hand over a buffer at least this often */
#define NAME_CACHE 512u       /* rows whose name this thread has written */

/* A row whose name this buffer has: its tid + 1 and the name's first
 * bytes (a generator's row is its address, which a later generator may
 * reuse). Each buffer names its rows again, so that any part of a trace
 * carries the names it needs. */
struct named {
    uint64_t tid;
    uint64_t head;
};

struct tbuf {
    struct trec *rec;  /* BUF_RECS records */
    unsigned n;        /* used */
    unsigned gen;      /* the tracing session it belongs to */
    struct tbuf *next; /* in the writer's queue, or the spares */
    struct named named[NAME_CACHE];
};

const struct tulip__hooks *tulip__hooks_on;
bool tulip__debug_on;
static int debug_loops; /* loops created with opts.debug, alive */

static bool trace_on;
static unsigned trace_gen = 1; /* bumped at each start */
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trace_cv = PTHREAD_COND_INITIALIZER;
static struct tbuf *queue_head, **queue_tail = &queue_head;
static struct tbuf *spares;
static unsigned queued, nspares;
static unsigned long long dropped;
static bool writer_quit;
static bool writer_running;
static pthread_t writer;
static int spool_fd = -1; /* the binary trace being written */
static FILE *json_out;    /* the JSON's file when not the spool's */
static bool spool_failed; /* a write failed: the recording stopped */
static int spool_err;
static char *out_path; /* for the conversion and a forked child */

static TULIP_TLS struct tbuf *tls_buf;
static TULIP_TLS uint64_t tls_io_fd;     /* fd + 1 of the watcher running */
static TULIP_TLS uint64_t tls_suspended; /* task id + 1 that suspended */
static TULIP_TLS size_t tls_last_ready;

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the writer thread ---------------------------------------------------
 */

/* All of n bytes, or the errno. */
static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void write_buf(struct tbuf *b)
{
    int err;

    if (spool_failed)
        return;
    err = write_all(spool_fd, b->rec, sizeof(struct trec) * b->n);
    if (err) {
        spool_failed = true;
        spool_err = err;
        fprintf(stderr,
                "tulip: trace: write failed (%s); tracing stopped, the "
                "program goes on\n",
                strerror(err));
    }
}

static void buf_free(struct tbuf *b)
{
    free(b->rec);
    free(b);
}

static void *writer_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&trace_mu);
    for (;;) {
        while (!queue_head && !writer_quit)
            pthread_cond_wait(&trace_cv, &trace_mu);
        struct tbuf *b = queue_head;
        if (!b)
            break; /* quit, and nothing left */
        queue_head = b->next;
        if (!queue_head)
            queue_tail = &queue_head;
        queued--;
        pthread_mutex_unlock(&trace_mu);
        write_buf(b);
        pthread_mutex_lock(&trace_mu);
        if (nspares < MAX_SPARE) {
            b->next = spares;
            spares = b;
            nspares++;
        } else {
            buf_free(b);
        }
    }
    pthread_mutex_unlock(&trace_mu);
    return NULL;
}

/* ---- recording (the loops' threads) --------------------------------------
 */

/* Give the thread's buffer to the writer (or drop it if it lags). */
static void buf_handoff(void)
{
    struct tbuf *b = tls_buf;

    if (!b)
        return;
    tls_buf = NULL;
    pthread_mutex_lock(&trace_mu);
    if (b->n == 0 || b->gen != trace_gen || queued >= MAX_QUEUED ||
        !writer_running || spool_failed) {
        if (b->n && b->gen == trace_gen && queued >= MAX_QUEUED)
            dropped += b->n;
        if (nspares < MAX_SPARE) {
            b->next = spares;
            spares = b;
            nspares++;
            b = NULL;
        }
        pthread_mutex_unlock(&trace_mu);
        if (b)
            buf_free(b);
        return;
    }
    *queue_tail = b;
    queue_tail = &b->next;
    b->next = NULL;
    queued++;
    pthread_cond_signal(&trace_cv);
    pthread_mutex_unlock(&trace_mu);
}

/* A thread that exits hands its last events over (or they, and the
 * buffer, would be lost): the key's destructor runs while its TLS is
 * still there. */
static pthread_key_t buf_key;
static pthread_once_t buf_key_once = PTHREAD_ONCE_INIT;
static bool buf_key_ok;

static void buf_thread_exit(void *unused)
{
    (void)unused;
    buf_handoff();
}

static void buf_key_init(void)
{
    buf_key_ok = pthread_key_create(&buf_key, buf_thread_exit) == 0;
}

/* A buffer for this thread: a spare, else a new one. */
__attribute__((noinline, cold)) static struct tbuf *buf_fresh(void)
{
    struct tbuf *b;

    buf_handoff();
    pthread_mutex_lock(&trace_mu);
    b = spares;
    if (b) {
        spares = b->next;
        nspares--;
    }
    pthread_mutex_unlock(&trace_mu);
    if (!b) {
        b = malloc(sizeof(*b));
        if (!b)
            return NULL;
        b->rec = malloc(sizeof(struct trec) * BUF_RECS);
        if (!b->rec) {
            free(b);
            return NULL;
        }
    }
    b->n = 0;
    b->next = NULL;
    b->gen = __atomic_load_n(&trace_gen, __ATOMIC_RELAXED);
    memset(b->named, 0, sizeof(b->named));
    tls_buf = b;
    pthread_once(&buf_key_once, buf_key_init);
    if (buf_key_ok)
        pthread_setspecific(buf_key, b);
    return b;
}

/* A record of kind for row tid, timestamped now; NULL if out of memory. */
static inline struct trec *record(uint32_t kind, uint64_t tid)
{
    struct tbuf *b = tls_buf;
    struct trec *e;

    if (tulip__unlikely(!b || b->n >= BUF_RECS - 1 ||
                        b->gen !=
                            __atomic_load_n(&trace_gen, __ATOMIC_RELAXED))) {
        b = buf_fresh();
        if (!b)
            return NULL;
    }
    e = &b->rec[b->n++];
    e->ts = now_ns();
    e->kind = kind;
    e->tid = tid;
    e->arg = 0;
    e->aux = 0;
    return e;
}

/* Write row tid's name into the thread's buffer (the slow path). */
__attribute__((noinline)) static void name_write(uint64_t tid, const char *name,
                                                 uint64_t head)
{
    struct tbuf *b;
    struct named *c;

    if (!record(TREC_NAME, tid))
        return;
    b = tls_buf; /* record() left room for the payload */
    c = &b->named[tid % NAME_CACHE];
    memcpy(&b->rec[b->n], name, TREC_NAME_MAX);
    ((char *)&b->rec[b->n])[TREC_NAME_MAX - 1] = '\0';
    b->n++;
    c->tid = tid + 1;
    c->head = head;
}

/* Write row tid's name unless the thread's buffer has it already. */
static inline void name_row(uint64_t tid, const char *name)
{
    struct tbuf *b = tls_buf;
    uint64_t head;

    memcpy(&head, name, sizeof(head)); /* names are 32-byte arrays */
    if (tulip__likely(b && b->n < BUF_RECS - 1 &&
                      b->gen ==
                          __atomic_load_n(&trace_gen, __ATOMIC_RELAXED))) {
        const struct named *c = &b->named[tid % NAME_CACHE];
        if (c->tid == tid + 1 && c->head == head)
            return;
    }
    name_write(tid, name, head);
}

static uint64_t current_task_id(void)
{
    struct tulip_task *cur = tulip__task_running();

    return cur ? cur->id : 0;
}

static uint64_t gen_tid(void *g)
{
    /* A row per generator object; an address reused later reuses it. */
    return TREC_GEN_TID_BASE + (((uintptr_t)g >> 4) & 0x3fffffff);
}

/* ---- the hook tables ------------------------------------------------------
 * Tracing alone installs trace_hooks (no debug checks on the way); debug
 * mode, for every loop or for loops created with opts.debug, installs
 * diag_hooks, which dispatch to both.
 */

static void tr_step_begin(void *p)
{
    struct tulip_task *t = p;

    if (!trace_on)
        return;
    name_row(t->id, t->co.name);
    record(TREC_BEGIN, t->id);
    tls_io_fd = 0;
    tls_suspended = 0;
}

static void tr_step_end(void *p)
{
    struct tulip_task *t = p;
    struct trec *e;

    if (!trace_on)
        return;
    e = record(TREC_END, t->id);
    if (e && tls_suspended == t->id + 1)
        e->aux = 1;
    tls_suspended = 0;
}

static void tr_suspend(void *p)
{
    tls_suspended = ((struct tulip_task *)p)->id + 1;
}

static void tr_yield(void *p)
{
    if (trace_on)
        record(TREC_YIELD, ((struct tulip_task *)p)->id);
}

static void tr_wake(void *p, int why)
{
    struct tulip_task *t = p;
    struct trec *e;
    uint64_t by;

    if (!trace_on || !(e = record(TREC_WAKE, t->id)))
        return;
    by = current_task_id();
    e->aux = (uint32_t)why;
    if (!by && tls_io_fd && why != TULIP__WAKE_TIMER)
        by = tls_io_fd - 1 + (1ull << 32); /* in an fd's callback */
    e->arg = by;
}

static void tr_spawn(void *p, void *site)
{
    struct tulip_task *t = p;
    struct trec *e;

    (void)site;
    if (!trace_on)
        return;
    name_row(t->id, t->co.name);
    e = record(TREC_SPAWN, t->id);
    if (e)
        e->arg = current_task_id();
}

static void tr_cancel(void *p)
{
    struct tulip_task *t = p;
    struct trec *e;

    if (trace_on && (e = record(TREC_CANCEL, t->id)))
        e->arg = current_task_id();
}

static void tr_gen_begin(void *g)
{
    uint64_t tid = gen_tid(g);
    char name[TREC_NAME_MAX] = {0};

    if (!trace_on)
        return;
    strncpy(name, tulip_gen_name(g), sizeof(name) - 1);
    name_row(tid, name);
    record(TREC_GBEGIN, tid);
}

static void tr_gen_end(void *g)
{
    if (trace_on)
        record(TREC_GEND, gen_tid(g));
}

static void tr_io(void *loop, int fd, unsigned revents)
{
    struct trec *e;

    (void)loop;
    tls_io_fd = (uint64_t)fd + 1;
    if (trace_on && (e = record(TREC_IO, 0))) {
        e->arg = (uint64_t)fd;
        e->aux = revents;
    }
}

static void tr_pass(void *loop, void *ready_head, size_t more)
{
    size_t n = more;
    struct tbuf *b;

    (void)loop;
    tls_io_fd = 0;
    if (!trace_on)
        return;
    for (struct tulip__cb *cb = ready_head; cb; cb = cb->next)
        n++;
    if (n != tls_last_ready) {
        struct trec *e = record(TREC_READY, 0);
        if (e)
            e->arg = n;
        tls_last_ready = n;
    }
    b = tls_buf;
    if (b && b->n && b->rec[0].ts + FLUSH_AGE_NS < b->rec[b->n - 1].ts)
        buf_handoff();
}

static const struct tulip__hooks trace_hooks = {
    .step_begin = tr_step_begin,
    .step_end = tr_step_end,
    .suspend = tr_suspend,
    .wake = tr_wake,
    .yield = tr_yield,
    .spawn = tr_spawn,
    .cancel = tr_cancel,
    .gen_begin = tr_gen_begin,
    .gen_end = tr_gen_end,
    .io = tr_io,
    .pass = tr_pass,
};

static inline bool debug_for(void *loop)
{
    return tulip__debug_on ||
           (__atomic_load_n(&debug_loops, __ATOMIC_RELAXED) > 0 &&
            tulip__debug_loop_is(loop));
}

static void hook_step_begin(void *p)
{
    struct tulip_task *t = p;

    if (debug_for(t->loop))
        tulip__debug_step_begin(t);
    tr_step_begin(p);
}

static void hook_step_end(void *p)
{
    struct tulip_task *t = p;

    tr_step_end(p);
    if (debug_for(t->loop))
        tulip__debug_step_end(t);
}

static void hook_spawn(void *p, void *site)
{
    struct tulip_task *t = p;

    if (debug_for(t->loop))
        tulip__debug_spawn(t, site);
    tr_spawn(p, site);
}

static void hook_cancel(void *p)
{
    struct tulip_task *t = p;

    if (debug_for(t->loop))
        tulip__debug_check_thread(t->loop, "tulip_task_cancel");
    tr_cancel(p);
}

static void hook_release(void *p)
{
    struct tulip_task *t = p;

    if (debug_for(t->loop))
        tulip__debug_release(t);
}

static void hook_pass(void *loop, void *ready_head, size_t more)
{
    if (debug_for(loop))
        tulip__debug_pass(loop);
    tr_pass(loop, ready_head, more);
}

static void hook_check_thread(void *loop, const char *what)
{
    if (debug_for(loop))
        tulip__debug_check_thread(loop, what);
}

/* A loop created (on) or closed (off) with opts.debug. */
static void hook_loop_debug(void *loop, bool on)
{
    if (on) {
        tulip__debug_configure();
        tulip__debug_loop_set(loop, true);
        __atomic_add_fetch(&debug_loops, 1, __ATOMIC_ACQ_REL);
    } else if (tulip__debug_loop_set(loop, false)) {
        __atomic_sub_fetch(&debug_loops, 1, __ATOMIC_ACQ_REL);
    } else {
        return; /* not a debug loop */
    }
    tulip__trace_update_hooks();
}

static const struct tulip__hooks diag_hooks = {
    .step_begin = hook_step_begin,
    .step_end = hook_step_end,
    .suspend = tr_suspend,
    .wake = tr_wake,
    .yield = tr_yield,
    .spawn = hook_spawn,
    .cancel = hook_cancel,
    .release = hook_release,
    .gen_begin = tr_gen_begin,
    .gen_end = tr_gen_end,
    .io = tr_io,
    .pass = hook_pass,
    .loop_debug = hook_loop_debug,
    .check_thread = hook_check_thread,
};

const struct tulip__hooks *const tulip__hooks_table = &diag_hooks;

void tulip__trace_update_hooks(void)
{
    const struct tulip__hooks *h = NULL;

    if (tulip__debug_on || __atomic_load_n(&debug_loops, __ATOMIC_ACQUIRE))
        h = &diag_hooks;
    else if (trace_on)
        h = &trace_hooks;
    __atomic_store_n(&tulip__hooks_on, h, __ATOMIC_RELEASE);
}

/* ---- start, stop ----------------------------------------------------------
 */

/* fork(2): the child has no writer thread and shares the parent's file,
 * so it traces on into a file of its own, path.PID (an echo server that
 * forks, bench_echo's child). The mutex is held across the fork so that the
 * child's copy is not locked by a writer caught mid-queue. */
static void atfork_prepare(void)
{
    pthread_mutex_lock(&trace_mu);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&trace_mu);
}

static void atfork_child(void)
{
    char path[4096];

    /* Fresh ones: the parent's writer may be a waiter recorded in the
     * condition variable, a thread the child does not have. */
    pthread_mutex_init(&trace_mu, NULL);
    pthread_cond_init(&trace_cv, NULL);
    if (!trace_on)
        return;
    tls_buf = NULL;    /* the parent's events, the parent's to write */
    queue_head = NULL; /* (its buffers stay allocated in the child) */
    queue_tail = &queue_head;
    queued = 0;
    trace_on = false;
    writer_running = false;
    close(spool_fd); /* the parent's */
    spool_fd = -1;
    if (json_out)
        close(fileno_unlocked(json_out)); /* not fclose: the parent's data */
    json_out = NULL;
    if (snprintf(path, sizeof(path), "%s.%d", out_path, (int)getpid()) >=
            (int)sizeof(path) ||
        tulip_trace_start(path) != 0)
        fprintf(stderr, "tulip: trace: %s: cannot trace the child\n", path);
}

int tulip_trace_start(const char *path)
{
    static bool atfork_done;
    struct trec hdr = {0};
    struct stat sb;
    int rc, fd;

    if (!path)
        return -EINVAL;
    if (trace_on)
        return -EBUSY;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        /* a device or a pipe: the JSON goes there at the end, the binary
         * to a temporary file meanwhile */
        json_out = fopen(path, "w");
        if (!json_out)
            return -errno;
        FILE *tmp = tmpfile();
        if (!tmp) {
            rc = -errno;
            (void)fclose(json_out); /* nothing written yet */
            json_out = NULL;
            return rc;
        }
        fd = dup(fileno(tmp));
        (void)fclose(tmp); /* read-only use: the dup carries on */
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    }
    if (fd < 0) {
        rc = -errno;
        if (json_out)
            (void)fclose(json_out); /* already failing */
        json_out = NULL;
        return rc;
    }
    if (!atfork_done) {
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        atfork_done = true;
    }
    if (path != out_path) {
        free(out_path);
        out_path = strdup(path);
    }
    spool_fd = fd;
    spool_failed = false;
    spool_err = 0;
    dropped = 0;
    writer_quit = false;
    memcpy(&hdr, TREC_MAGIC, 8);
    hdr.kind = TREC_HEADER;
    hdr.arg = (uint64_t)getpid();
    hdr.aux = 1;
    hdr.tid = (uint64_t)now_ns();
    rc = write_all(fd, &hdr, sizeof(hdr));
    if (rc == 0)
        rc = pthread_create(&writer, NULL, writer_main, NULL);
    if (rc) {
        close(fd);
        spool_fd = -1;
        if (json_out)
            (void)fclose(json_out); /* already failing */
        json_out = NULL;
        return -rc;
    }
    writer_running = true;
    __atomic_add_fetch(&trace_gen, 1, __ATOMIC_RELEASE);
    tls_last_ready = (size_t)-1;
    trace_on = true;
    tulip__trace_update_hooks();
    return 0;
}

/* The binary in spool_fd to JSON: into json_out, or into a temporary
 * renamed over out_path. Returns 0 or a negative errno (with a message). */
static int convert(void)
{
    struct trec_stats st;
    char tmp[4200];
    FILE *in, *out = json_out;
    int fd = dup(spool_fd), rc;

    if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0 || !(in = fdopen(fd, "r"))) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "tulip: trace: %s: cannot read it back (%s)\n",
                out_path, strerror(-rc));
        return rc;
    }
    if (!out) {
        /* cut only past PATH_MAX, which fopen refuses (reported) */
        (void)snprintf(tmp, sizeof(tmp), "%s.%d.tmp", out_path, (int)getpid());
        out = fopen(tmp, "w");
        if (!out) {
            rc = -errno;
            (void)fclose(in); /* read only */
            fprintf(stderr,
                    "tulip: trace: %s: %s; the binary trace is left in %s "
                    "(tulip-trace --json converts it)\n",
                    tmp, strerror(-rc), out_path);
            return rc;
        }
    }
    (void)setvbuf(in, NULL, _IOFBF, 1 << 20); /* else stdio's own buffer */
    (void)setvbuf(out, NULL, _IOFBF, 1 << 20);
    rc = tulip__trec_to_json(in, out, &st);
    (void)fclose(in); /* read only */
    if (fclose(out) != 0 && rc == 0)
        rc = -errno;
    if (json_out) {
        json_out = NULL;
        if (rc)
            fprintf(stderr, "tulip: trace: writing %s failed (%s)\n", out_path,
                    strerror(-rc));
        return rc;
    }
    if (rc == 0 && rename(tmp, out_path) != 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        fprintf(stderr,
                "tulip: trace: converting %s to JSON failed (%s); the "
                "binary trace is left there (tulip-trace --json converts "
                "it)\n",
                out_path, strerror(-rc));
    }
    return rc;
}

int tulip_trace_stop(void)
{
    int rc = 0;
    struct trec *e;

    if (!trace_on)
        return -EALREADY;
    e = record(TREC_STOP, 0); /* this thread's; other loops are idle */
    trace_on = false;
    tulip__trace_update_hooks();
    buf_handoff();
    pthread_mutex_lock(&trace_mu);
    writer_quit = true;
    pthread_cond_signal(&trace_cv);
    pthread_mutex_unlock(&trace_mu);
    pthread_join(writer, NULL);
    pthread_mutex_lock(&trace_mu);
    writer_running = false;
    while (spares) { /* keep no 1 MiB buffers while tracing is off */
        struct tbuf *b = spares;
        spares = b->next;
        buf_free(b);
    }
    nspares = 0;
    pthread_mutex_unlock(&trace_mu);
    if (!e && !spool_failed)
        fprintf(stderr, "tulip: trace: out of memory for the last events\n");
    if (spool_failed) {
        rc = -EIO;
        if (json_out)
            (void)fclose(json_out); /* already failing */
        json_out = NULL;
    } else {
        rc = convert() ? -EIO : 0;
    }
    close(spool_fd);
    spool_fd = -1;
    if (dropped)
        fprintf(stderr, "tulip: trace: %llu events dropped (writer behind)\n",
                dropped);
    return rc;
}

static void trace_atexit(void)
{
    if (trace_on)
        tulip_trace_stop();
}

__attribute__((constructor)) static void trace_from_env(void)
{
    const char *path = getenv("TULIP_TRACE");
    const char *dbg = getenv("TULIP_DEBUG");

    if (dbg && *dbg && strcmp(dbg, "0") != 0)
        tulip_debug_enable(true);
    if (path && *path) {
        int rc = tulip_trace_start(path);
        if (rc)
            fprintf(stderr, "tulip: TULIP_TRACE=%s: %s; not tracing\n", path,
                    strerror(-rc));
        else
            (void)atexit(trace_atexit); /* fails only past 32 handlers */
    }
}
