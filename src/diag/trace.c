/* SPDX-License-Identifier: MIT */
/*
 * The tracer: TULIP_TRACE=path (or tulip_trace_start) writes a Chrome
 * trace-event JSON file, the format Panopticon writes (asyncio.md B.3),
 * which Perfetto and chrome://tracing load. Each task is a row (tid = its
 * id, named by a thread_name record); each step is a B/E slice named by the
 * task; a wait is a flow arrow (s at the suspension, f at the resumption,
 * id = task id) with an instant event on the task's row at the moment it
 * was woken, saying by what (a timer, a cancel, another task, an fd);
 * generators resumed get B/E slices on a row of their own; the loop row
 * (tid 0) has instant events for ready fds, and a "ready" counter.
 *
 * The loop never formats or writes: a hook appends a fixed 64-byte binary
 * record to a thread-local buffer (a clock read and a few stores); a full
 * buffer, or one older than 50 ms at the start of a pass, is handed to a
 * writer thread under a mutex, and the writer formats JSON and writes it.
 * If the writer falls behind by more than MAX_QUEUED buffers, new buffers
 * are dropped (and counted) rather than blocking the loop. A write error
 * (full disk) stops the tracer with one message; the program runs on.
 *
 * The file is a JSON array, one event per line, closed with "]" when
 * tracing stops (at exit at the latest). A file cut by a crash lacks the
 * "]" and its last line may be partial; chrome://tracing accepts the
 * unterminated array, and tulip-trace repairs it.
 *
 * This file also owns the hook table and dispatches to debug mode.
 */
#include "../prefix.h"
#include "diag.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF_EVENTS 4096u      /* records per buffer (256 KiB) */
#define MAX_QUEUED 64u        /* buffers waiting for the writer before drops */
#define FLUSH_AGE_NS 50000000 /* hand over a buffer at least this often */
#define GEN_TID_BASE 1000000000ull /* generator rows */
#define WAKE_YIELD 100u            /* EV_WAKE's aux for sleep(0) */
#define FLOW_BUCKETS 4096u

enum {
    EV_BEGIN,  /* step of task tid begins; name */
    EV_END,    /* it ends */
    EV_SUSP,   /* task tid suspends: flow start */
    EV_RESUME, /* flow end (right after the BEGIN of the next step) */
    EV_WAKE,   /* woken: aux = why, arg = waker task id or fd + 1 << 32 */
    EV_SPAWN,  /* task tid spawned; name; arg = spawner task id */
    EV_CANCEL, /* cancel requested; arg = requester task id */
    EV_IO,     /* fd ready: arg = fd, aux = revents (loop row) */
    EV_READY,  /* counter: arg = entries ready at the start of a batch */
    EV_GBEGIN, /* generator resumed; tid = its row; name */
    EV_GEND
};

struct ev {
    int64_t ts_ns;
    uint64_t tid;
    uint64_t arg;
    uint32_t kind;
    uint32_t aux;
    char name[32];
};
_Static_assert(sizeof(struct ev) == 64, "one cache line per record");

struct tbuf {
    struct ev *ev;      /* BUF_EVENTS records */
    unsigned n;         /* used */
    int64_t started_ns; /* time of the first record */
    struct tbuf *next;  /* in the writer's queue */
};

const struct tulip__hooks *tulip__hooks_on;
bool tulip__debug_on;

static bool trace_on;
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trace_cv = PTHREAD_COND_INITIALIZER;
static struct tbuf *queue_head, **queue_tail = &queue_head;
static unsigned queued;
static unsigned long long dropped;
static bool writer_quit;
static bool writer_running;
static pthread_t writer;
static FILE *out;
static bool out_failed;
static bool first_event;
static char *out_path; /* for a forked child's own file */
static TULIP_TLS struct tbuf *tls_buf;
static TULIP_TLS uint64_t tls_io_fd; /* fd + 1 of the watcher running */
static TULIP_TLS size_t tls_last_ready;

/* The writer's set of flows started and not ended, so that every f it
 * writes has its s (a step after sleep(0), a task spawned before tracing
 * began and the first step of a task have none). */
struct flow {
    uint64_t id;
    struct flow *next;
};
static struct flow *flows[FLOW_BUCKETS];

/* Whether id was open; open (true) or close (false) it. */
static bool flow_toggle(uint64_t id, bool open)
{
    struct flow **p = &flows[id % FLOW_BUCKETS];

    while (*p && (*p)->id != id)
        p = &(*p)->next;
    if (*p && !open) {
        struct flow *f = *p;
        *p = f->next;
        free(f);
        return true;
    }
    if (!*p && open) {
        struct flow *f = malloc(sizeof(*f));
        if (f) {
            f->id = id;
            f->next = NULL;
            *p = f;
        }
        return false;
    }
    return *p != NULL;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the writer thread ---------------------------------------------------
 */

static void put_str(const char *s)
{
    putc_unlocked('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            putc_unlocked(c, out);
    }
    putc_unlocked('"', out);
}

static int out_pid;

/* Decimal digits of v at p, zero-padded to width; returns the end. */
static char *put_u(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || n < width);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* The fields every event has. By hand rather than fprintf: the writer
 * formats millions of these, and its CPU counts against the program. */
static void put_head(const struct ev *e, const char *ph, uint64_t tid)
{
    char buf[160], *p = buf;
    int64_t ts = e->ts_ns < 0 ? 0 : e->ts_ns;

    if (!first_event)
        *p++ = ',';
    first_event = false;
    memcpy(p, "\n{\"ph\":\"", 8);
    p += 8;
    *p++ = ph[0];
    memcpy(p, "\",\"pid\":", 8);
    p = put_u(p + 8, (uint64_t)out_pid, 1);
    memcpy(p, ",\"tid\":", 7);
    p = put_u(p + 7, tid, 1);
    memcpy(p, ",\"ts\":", 6);
    p = put_u(p + 6, (uint64_t)ts / 1000, 1);
    *p++ = '.';
    p = put_u(p, (uint64_t)ts % 1000, 3);
    fwrite_unlocked(buf, 1, (size_t)(p - buf), out);
}

/* The rest of an s or f event: the writer's most frequent line. */
static void put_wait_tail(const struct ev *e)
{
    char buf[96], *p = buf;
    static const char head[] = ",\"cat\":\"wait\",\"name\":\"wait\",\"id\":";

    memcpy(p, head, sizeof(head) - 1);
    p = put_u(p + sizeof(head) - 1, e->tid, 1);
    if (e->kind == EV_RESUME) {
        memcpy(p, ",\"bp\":\"e\"", 9);
        p += 9;
    }
    *p++ = '}';
    fwrite_unlocked(buf, 1, (size_t)(p - buf), out);
}

static const char *why_name(uint32_t why)
{
    switch (why) {
    case TULIP__WAKE_TIMER:
        return "timer";
    case TULIP__WAKE_CANCEL:
        return "cancel";
    case WAKE_YIELD:
        return "yield";
    default:
        return "object";
    }
}

static void put_name_meta(uint64_t tid, const char *name)
{
    struct ev e = {0};

    put_head(&e, "M", tid);
    fputs_unlocked(",\"name\":\"thread_name\",\"args\":{\"name\":", out);
    put_str(name);
    fprintf(out, "}}");
    put_head(&e, "M", tid);
    fprintf(out,
            ",\"name\":\"thread_sort_index\",\"args\":{"
            "\"sort_index\":%llu}}",
            (unsigned long long)tid);
}

/* "by": the waking task, fd, or the loop; then the closing braces. */
static void put_by(const struct ev *e)
{
    char buf[48], *p = buf;

    if (e->arg >> 32) {
        memcpy(p, "\"fd ", 4);
        p = put_u(p + 4, e->arg & 0xffffffffu, 1);
        *p++ = '"';
    } else if (e->arg) {
        memcpy(p, "\"Task ", 6);
        p = put_u(p + 6, e->arg, 1);
        *p++ = '"';
    } else {
        memcpy(p, "\"loop\"", 6);
        p += 6;
    }
    memcpy(p, "}}", 2);
    fwrite_unlocked(buf, 1, (size_t)(p + 2 - buf), out);
}

static void put_event(const struct ev *e)
{
    char nm[33];

    memcpy(nm, e->name, 32);
    nm[32] = '\0';
    switch (e->kind) {
    case EV_BEGIN:
    case EV_GBEGIN:
        put_head(e, "B", e->tid);
        fputs_unlocked(e->kind == EV_BEGIN ? ",\"cat\":\"task\",\"name\":"
                                           : ",\"cat\":\"generator\",\"name\":",
                       out);
        put_str(nm);
        fputs_unlocked("}", out);
        break;
    case EV_END:
    case EV_GEND:
        put_head(e, "E", e->tid);
        fputs_unlocked("}", out);
        break;
    case EV_SUSP:
    case EV_RESUME:
        if (flow_toggle(e->tid, e->kind == EV_SUSP) != (e->kind == EV_RESUME))
            break; /* an s already open, or an f without its s */
        put_head(e, e->kind == EV_SUSP ? "s" : "f", e->tid);
        put_wait_tail(e);
        break;
    case EV_WAKE:
        put_head(e, "i", e->tid);
        fputs_unlocked(",\"s\":\"t\",\"cat\":\"wake\",\"name\":\"woken: ", out);
        fputs_unlocked(why_name(e->aux), out);
        fputs_unlocked("\",\"args\":{\"why\":\"", out);
        fputs_unlocked(why_name(e->aux), out);
        fputs_unlocked("\",\"by\":", out);
        put_by(e);
        break;
    case EV_SPAWN:
        put_name_meta(e->tid, nm);
        break;
    case EV_CANCEL:
        put_head(e, "i", e->tid);
        fputs_unlocked(",\"s\":\"t\",\"cat\":\"cancel\",\"name\":\"cancel\","
                       "\"args\":{\"by\":",
                       out);
        put_by(e);
        break;
    case EV_IO:
        put_head(e, "i", 0);
        fprintf(out,
                ",\"s\":\"t\",\"cat\":\"io\",\"name\":\"fd %llu ready\","
                "\"args\":{\"fd\":%llu,\"revents\":%u}}",
                (unsigned long long)e->arg, (unsigned long long)e->arg, e->aux);
        break;
    case EV_READY:
        put_head(e, "C", 0);
        fprintf(out, ",\"name\":\"ready\",\"args\":{\"ready\":%llu}}",
                (unsigned long long)e->arg);
        break;
    default:
        break;
    }
}

static void write_buf(struct tbuf *b)
{
    if (out_failed)
        return;
    for (unsigned i = 0; i < b->n; i++)
        put_event(&b->ev[i]);
    if (fflush(out) != 0 || ferror(out)) {
        int err = errno;
        out_failed = true;
        fprintf(stderr,
                "tulip: trace: write failed (%s); tracing stopped, the "
                "program goes on\n",
                strerror(err));
    }
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
        free(b->ev);
        free(b);
        pthread_mutex_lock(&trace_mu);
    }
    pthread_mutex_unlock(&trace_mu);
    return NULL;
}

/* ---- recording (the loop's threads) -------------------------------------
 */

static struct tbuf *buf_new(void)
{
    struct tbuf *b = malloc(sizeof(*b));

    if (!b)
        return NULL;
    b->ev = malloc(sizeof(struct ev) * BUF_EVENTS);
    if (!b->ev) {
        free(b);
        return NULL;
    }
    b->n = 0;
    b->next = NULL;
    b->started_ns = 0;
    return b;
}

/* Give the thread's buffer to the writer (or drop it if it lags). */
static void buf_handoff(void)
{
    struct tbuf *b = tls_buf;

    if (!b || b->n == 0)
        return;
    tls_buf = NULL;
    pthread_mutex_lock(&trace_mu);
    if (queued >= MAX_QUEUED || !writer_running) {
        dropped += b->n;
        pthread_mutex_unlock(&trace_mu);
        free(b->ev);
        free(b);
        return;
    }
    *queue_tail = b;
    queue_tail = &b->next;
    queued++;
    pthread_cond_signal(&trace_cv);
    pthread_mutex_unlock(&trace_mu);
}

static struct ev *record(uint32_t kind, uint64_t tid)
{
    struct tbuf *b = tls_buf;
    struct ev *e;

    if (tulip__unlikely(!b || b->n == BUF_EVENTS)) {
        buf_handoff();
        b = tls_buf = buf_new();
        if (!b)
            return NULL;
    }
    e = &b->ev[b->n++];
    e->ts_ns = now_ns();
    if (b->n == 1)
        b->started_ns = e->ts_ns;
    e->kind = kind;
    e->tid = tid;
    e->arg = 0;
    e->aux = 0;
    return e;
}

static void set_name(struct ev *e, const char *name)
{
    size_t n = strnlen(name, sizeof(e->name));

    memcpy(e->name, name, n);
    if (n < sizeof(e->name))
        e->name[n] = '\0';
}

static uint64_t current_task_id(void)
{
    struct tulip_task *cur = tulip__task_running();

    return cur ? cur->id : 0;
}

static void trace_step_begin(struct tulip_task *t)
{
    struct ev *e = record(EV_BEGIN, t->id);

    if (!e)
        return;
    set_name(e, t->co.name);
    tls_io_fd = 0;
    record(EV_RESUME, t->id); /* dropped by the writer after no wait */
}

static void trace_wake(struct tulip_task *t, int why)
{
    struct ev *e = record(EV_WAKE, t->id);
    uint64_t by = current_task_id();

    if (!e)
        return;
    e->aux = (uint32_t)why;
    e->arg = by ? by : (tls_io_fd ? tls_io_fd - 1 + (1ull << 32) : 0);
}

static uint64_t gen_tid(void *g)
{
    /* A row per generator object; an address reused later reuses it. */
    return GEN_TID_BASE + (((uintptr_t)g >> 4) & 0x3fffffff);
}

/* ---- the hook table -------------------------------------------------------
 */

static void hook_step_begin(void *p)
{
    if (tulip__debug_on)
        tulip__debug_step_begin(p);
    if (trace_on)
        trace_step_begin(p);
}

static void hook_step_end(void *p)
{
    struct tulip_task *t = p;

    if (trace_on)
        record(EV_END, t->id);
    if (tulip__debug_on)
        tulip__debug_step_end(t);
}

static void hook_suspend(void *p)
{
    if (trace_on)
        record(EV_SUSP, ((struct tulip_task *)p)->id);
}

static void hook_yield(void *p)
{
    struct tulip_task *t = p;

    if (trace_on) {
        record(EV_SUSP, t->id);
        struct ev *e = record(EV_WAKE, t->id);
        if (e)
            e->aux = WAKE_YIELD;
    }
}

static void hook_wake(void *p, int why)
{
    if (trace_on)
        trace_wake(p, why);
}

static void hook_spawn(void *p, void *site)
{
    struct tulip_task *t = p;

    if (tulip__debug_on)
        tulip__debug_spawn(t, site);
    if (trace_on) {
        struct ev *e = record(EV_SPAWN, t->id);
        if (e) {
            set_name(e, t->co.name);
            e->arg = current_task_id();
        }
    }
}

static void hook_cancel(void *p)
{
    struct tulip_task *t = p;

    if (tulip__debug_on)
        tulip__debug_check_thread(t->loop, "tulip_task_cancel");
    if (trace_on) {
        struct ev *e = record(EV_CANCEL, t->id);
        if (e)
            e->arg = current_task_id();
    }
}

static void hook_release(void *p)
{
    if (tulip__debug_on)
        tulip__debug_release(p);
}

static void hook_gen_begin(void *g)
{
    if (trace_on) {
        struct ev *e = record(EV_GBEGIN, gen_tid(g));
        if (e)
            set_name(e, tulip_gen_name(g));
    }
}

static void hook_gen_end(void *g)
{
    if (trace_on)
        record(EV_GEND, gen_tid(g));
}

static void hook_io(void *loop, int fd, unsigned revents)
{
    (void)loop;
    tls_io_fd = (uint64_t)fd + 1;
    if (trace_on) {
        struct ev *e = record(EV_IO, 0);
        if (e) {
            e->arg = (uint64_t)fd;
            e->aux = revents;
        }
    }
}

static void hook_pass(void *loop, void *ready_head, size_t more)
{
    size_t n = more;

    tls_io_fd = 0;
    if (tulip__debug_on)
        tulip__debug_pass(loop);
    if (!trace_on)
        return;
    for (struct tulip__cb *cb = ready_head; cb; cb = cb->next)
        n++;
    if (n != tls_last_ready) {
        struct ev *e = record(EV_READY, 0);
        if (e)
            e->arg = n;
        tls_last_ready = n;
    }
    if (tls_buf && tls_buf->n &&
        tls_buf->ev[0].ts_ns + FLUSH_AGE_NS < tls_buf->ev[tls_buf->n - 1].ts_ns)
        buf_handoff();
}

static const struct tulip__hooks diag_hooks = {
    hook_step_begin, hook_step_end, hook_suspend, hook_wake,
    hook_yield,      hook_spawn,    hook_cancel,  hook_release,
    hook_gen_begin,  hook_gen_end,  hook_io,      hook_pass,
};

void tulip__trace_update_hooks(void)
{
    __atomic_store_n(&tulip__hooks_on,
                     trace_on || tulip__debug_on ? &diag_hooks : NULL,
                     __ATOMIC_RELEASE);
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
    if (tls_buf)
        tls_buf->n = 0; /* the parent's events, the parent's to write */
    queue_head = NULL;  /* the parent's buffers: the parent writes them */
    queue_tail = &queue_head;
    queued = 0;
    trace_on = false;
    writer_running = false;
    if (out)
        close(fileno_unlocked(out)); /* not fclose (the parent flushes its
                                         data), nor fileno (the writer may
                                         have held the lock at the fork) */
    out = NULL;
    snprintf(path, sizeof(path), "%s.%d", out_path, (int)getpid());
    if (tulip_trace_start(path) != 0)
        fprintf(stderr, "tulip: trace: %s: cannot trace the child\n", path);
}

int tulip_trace_start(const char *path)
{
    static bool atfork_done;
    FILE *f;
    int rc;

    if (!path)
        return -EINVAL;
    if (trace_on)
        return -EBUSY;
    f = fopen(path, "w");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    if (!atfork_done) {
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        atfork_done = true;
    }
    if (path != out_path) {
        free(out_path);
        out_path = strdup(path);
    }
    out = f;
    out_pid = (int)getpid();
    out_failed = false;
    first_event = true;
    dropped = 0;
    writer_quit = false;
    if (fputs("[", out) == EOF) {
        fclose(out);
        out = NULL;
        return -EIO;
    }
    rc = pthread_create(&writer, NULL, writer_main, NULL);
    if (rc) {
        fclose(out);
        out = NULL;
        return -rc;
    }
    writer_running = true;
    {
        struct ev e = {0};
        put_name_meta(0, "loop");
        (void)e;
    }
    trace_on = true;
    tulip__trace_update_hooks();
    return 0;
}

int tulip_trace_stop(void)
{
    int rc = 0;

    if (!trace_on)
        return -EALREADY;
    trace_on = false;
    tulip__trace_update_hooks();
    buf_handoff(); /* this thread's; other loops must be idle by now */
    pthread_mutex_lock(&trace_mu);
    writer_quit = true;
    pthread_cond_signal(&trace_cv);
    pthread_mutex_unlock(&trace_mu);
    pthread_join(writer, NULL);
    for (unsigned i = 0; i < FLOW_BUCKETS; i++)
        while (flows[i]) {
            struct flow *f = flows[i];
            flows[i] = f->next;
            free(f);
        }
    writer_running = false;
    if (!out_failed)
        fputs("\n]\n", out);
    if (fclose(out) != 0 || out_failed)
        rc = -EIO;
    out = NULL;
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
            atexit(trace_atexit);
    }
}
