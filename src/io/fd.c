/* SPDX-License-Identifier: MIT */
/*
 * Waiting for fds: the base of every I/O operation of a task.
 *
 * A loop keeps, per fd it has been asked about, a record: the tasks waiting
 * to read, those waiting to write, the watcher that asks the poller for what
 * they wait for, and the callbacks of tulip_add_reader()/tulip_add_writer().
 * Readiness wakes every waiter of its direction; each retries its system
 * call and waits again on EAGAIN, so a spurious wake-up costs a syscall,
 * never a wrong result. Interest is dropped lazily, when the poller reports
 * readiness that nobody waits for any more: a connection served by one task
 * that reads, waits and reads again keeps its registration and makes no
 * epoll_ctl call per message.
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

/* A callback watcher of tulip_add_reader()/tulip_add_writer(). */
struct fd_cb {
    struct tulip__io io;   /* its own loop watcher */
    tulip_callback_fn *fn; /* the callback */
    void *arg;
};

enum { KIND_UNKNOWN, KIND_SOCKET, KIND_OTHER };

struct fd_rec {
    struct tulip__io io;         /* watcher for the waiting tasks */
    tulip_loop *loop;            /* its loop */
    struct tulip__waitq readers; /* tasks waiting to read */
    struct tulip__waitq writers; /* tasks waiting to write */
    struct fd_cb *cb[2];         /* reader and writer callbacks, or NULL */
    unsigned want;               /* events asked of the poller */
    int kind;                    /* KIND_*: write with send(MSG_NOSIGNAL)? */
};

struct io_state {
    struct fd_rec **fds; /* indexed by fd */
    size_t cap;
    void *pool;   /* the thread pools' completion channel (pool.c) */
    void *signal; /* the loop's signalfd and waiters (signal.c) */
};

static void io_state_close(tulip_loop *loop);

static struct io_state *io_state_of(tulip_loop *loop)
{
    struct tulip__tasks *ts = tulip__tasks_of(loop);
    struct io_state *st;

    if (!ts)
        return NULL;
    if (tulip__likely(ts->io != NULL))
        return ts->io;
    st = tulip__calloc(sizeof(*st));
    if (!st)
        return NULL;
    ts->io = st;
    ts->io_close = io_state_close;
    return st;
}

static void fd_ready(struct tulip__io *io, unsigned revents);

/* The record of fd in loop, created if `create` and missing. */
static struct fd_rec *rec_get(tulip_loop *loop, int fd, int create)
{
    struct io_state *st = io_state_of(loop);
    struct fd_rec *r;

    if (!st)
        return NULL;
    if ((size_t)fd < st->cap && st->fds[fd])
        return st->fds[fd];
    if (!create)
        return NULL;
    if ((size_t)fd >= st->cap) {
        size_t cap = st->cap ? st->cap : 64;
        struct fd_rec **p;
        while (cap <= (size_t)fd)
            cap *= 2;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        p = tulip__realloc(st->fds, st->cap * sizeof(*p), cap * sizeof(*p));
        if (!p)
            return NULL;
        for (size_t i = st->cap; i < cap; i++)
            p[i] = NULL;
        st->fds = p;
        st->cap = cap;
    }
    r = tulip__calloc(sizeof(*r));
    if (!r)
        return NULL;
    r->io.fn = fd_ready;
    r->io.fd = fd;
    /* Interest outlives its waiters (it is dropped lazily), so the watcher
     * must not keep the loop running: the waiting tasks do (fd_wait). */
    r->io.weak = true;
    r->loop = loop;
    st->fds[fd] = r;
    return r;
}

/* Ask the poller for exactly `want` on r's fd. */
static int set_interest(struct fd_rec *r, unsigned want)
{
    int rc = 0;

    if (want == r->want)
        return 0;
    if (want == 0)
        tulip__loop_io_stop(r->loop, &r->io);
    else if (r->want == 0)
        rc = tulip__loop_io_start(r->loop, &r->io, r->io.fd, want);
    else
        rc = tulip__loop_io_update(r->loop, &r->io, want);
    if (rc == 0)
        r->want = want;
    return rc;
}

static void wake_all(struct tulip__waitq *q, int code)
{
    while (q->head)
        tulip__task_wake_waiter(q->head, NULL, code);
}

static void fd_ready(struct tulip__io *io, unsigned revents)
{
    struct fd_rec *r = tulip__container_of(io, struct fd_rec, io);
    unsigned drop = 0;

    if (revents & (TULIP__IO_READ | TULIP__IO_ERR)) {
        if (tulip__waitq_empty(&r->readers))
            drop |= TULIP__IO_READ;
        wake_all(&r->readers, 0);
    }
    if (revents & (TULIP__IO_WRITE | TULIP__IO_ERR)) {
        if (tulip__waitq_empty(&r->writers))
            drop |= TULIP__IO_WRITE;
        wake_all(&r->writers, 0);
    }
    if (drop & r->want)
        set_interest(r, r->want & ~drop);
}

int tulip__fd_wait(struct tulip_task *t, int fd, unsigned event,
                   int64_t deadline_ns)
{
    struct fd_rec *r;
    int rc;

    if (fd < 0)
        return -EBADF;
    if (event != TULIP_READ && event != TULIP_WRITE)
        return -EINVAL;
    r = rec_get(t->loop, fd, 1);
    if (!r)
        return -ENOMEM;
    rc = set_interest(r, r->want | event);
    if (rc)
        return rc;
    tulip__waitq_push(event == TULIP_READ ? &r->readers : &r->writers,
                      &t->waiter);
    tulip__loop_ref(t->loop);
    rc = tulip__task_suspend(t, deadline_ns);
    tulip__loop_unref(t->loop);
    if (rc == TULIP__DEADLINE)
        return -ETIMEDOUT;
    return rc ? rc : t->wake_code;
}

int tulip__fd_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* Free r after waking its waiters with `code` and stopping its watchers. */
static void rec_free(struct io_state *st, struct fd_rec *r, int code)
{
    int i;

    wake_all(&r->readers, code);
    wake_all(&r->writers, code);
    set_interest(r, 0);
    for (i = 0; i < 2; i++) {
        if (r->cb[i]) {
            tulip__loop_io_stop(r->loop, &r->cb[i]->io);
            tulip__free(r->cb[i], sizeof(*r->cb[i]));
        }
    }
    st->fds[r->io.fd] = NULL;
    tulip__free(r, sizeof(*r));
}

static void io_state_close(tulip_loop *loop)
{
    struct tulip__tasks *ts = tulip__tasks_of(loop);
    struct io_state *st = ts->io;
    size_t i;

    /* first: finished jobs may still reference fds or wake nothing */
    tulip__pool_loop_close(st->pool);
    tulip__signal_loop_close(st->signal);
    for (i = 0; i < st->cap; i++)
        if (st->fds[i])
            rec_free(st, st->fds[i], -EBADF);
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    tulip__free(st->fds, st->cap * sizeof(*st->fds));
    tulip__free(st, sizeof(*st));
    ts->io = NULL;
    ts->io_close = NULL;
}

void **tulip__io_pool_slot(tulip_loop *loop)
{
    struct io_state *st = io_state_of(loop);

    return st ? &st->pool : NULL;
}

void **tulip__io_signal_slot(tulip_loop *loop)
{
    struct io_state *st = io_state_of(loop);

    return st ? &st->signal : NULL;
}

/* The loop of the calling task, else the loop running on this thread. */
static tulip_loop *this_loop(void)
{
    struct tulip_task *t = tulip__task_running();

    return t ? t->loop : tulip_loop_current();
}

/* ---- public API ---------------------------------------------------------- */

int tulip_fd_wait_until(int fd, unsigned event, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (fd < 0 || (event != TULIP_READ && event != TULIP_WRITE))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    return rc ? rc : tulip__fd_wait(t, fd, event, deadline_ns);
}

int tulip_fd_wait(int fd, unsigned event)
{
    return tulip_fd_wait_until(fd, event, TULIP_FOREVER);
}

void tulip_fd_forget(int fd)
{
    tulip_loop *loop = this_loop();
    struct fd_rec *r;

    if (fd < 0 || !loop)
        return;
    r = rec_get(loop, fd, 0);
    if (r)
        rec_free(io_state_of(loop), r, -EBADF);
}

int tulip_fd_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    tulip_fd_forget(fd);
    /* Linux closes the fd even when close() fails with EINTR. */
    if (close(fd) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

ssize_t tulip_read_until(int fd, void *buf, size_t n, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    ssize_t r;
    int rc;

    if (fd < 0 || (!buf && n))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    for (;;) {
        r = TULIP_SYS(read)(fd, buf, n);
        if (r >= 0)
            return r;
        rc = tulip__fd_retry(t, fd, TULIP_READ, deadline_ns);
        if (rc)
            return rc;
    }
}

ssize_t tulip_read(int fd, void *buf, size_t n)
{
    return tulip_read_until(fd, buf, n, TULIP_FOREVER);
}

/*
 * writev(2) to a pipe or another non-socket without SIGPIPE: block the signal
 * in this thread around the write, and if the write raised it (EPIPE) while
 * none was pending before, take it back with a zero-timeout sigtimedwait.
 * Two extra syscalls per write; sockets use send(MSG_NOSIGNAL) instead. The
 * same trick as curl's sigpipe_ignore and OpenSSL's apps.
 */
ssize_t tulip__writev_nosigpipe(int fd, const struct iovec *iov, int n)
{
    static const struct timespec zero = {0, 0};
    sigset_t pipe_set, old, pending;
    bool was_pending;
    ssize_t w;
    int err;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    w = TULIP_SYS(writev)(fd, iov, n);
    err = errno;
    if (w < 0 && err == EPIPE && !was_pending) {
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return w;
}

/* write(2), but never SIGPIPE: send(MSG_NOSIGNAL) on a socket. */
static ssize_t write_nosig(struct fd_rec *r, int fd, const void *buf, size_t n)
{
    ssize_t w;

    if (!r || r->kind != KIND_OTHER) {
        w = TULIP_SYS(send)(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0 || errno != ENOTSOCK) {
            if (r && w >= 0) /* an error (EINTR ...) does not tell */
                r->kind = KIND_SOCKET;
            return w;
        }
        if (r)
            r->kind = KIND_OTHER;
    }
    struct iovec iov = {(void *)(uintptr_t)buf, n};

    return tulip__writev_nosigpipe(fd, &iov, 1);
}

ssize_t tulip_write_until(int fd, const void *buf, size_t n,
                          int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    struct fd_rec *r;
    const char *p = buf;
    size_t done = 0;
    ssize_t w;
    int rc;

    if (fd < 0 || (!buf && n))
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    r = rec_get(t->loop, fd, 1);
    while (done < n) {
        w = write_nosig(r, fd, p + done, n - done);
        if (w >= 0) {
            done += (size_t)w;
            continue;
        }
        rc = tulip__fd_retry(t, fd, TULIP_WRITE, deadline_ns);
        if (rc)
            return rc;
    }
    return (ssize_t)done;
}

ssize_t tulip_write(int fd, const void *buf, size_t n)
{
    return tulip_write_until(fd, buf, n, TULIP_FOREVER);
}

/* ---- callbacks on readiness (asyncio's add_reader/add_writer) ------------ */

static void fd_cb_ready(struct tulip__io *io, unsigned revents)
{
    struct fd_cb *c = tulip__container_of(io, struct fd_cb, io);

    (void)revents;
    c->fn(c->arg);
}

static int add_cb(tulip_loop *loop, int fd, int dir, tulip_callback_fn *fn,
                  void *arg)
{
    struct fd_rec *r;
    struct fd_cb *c;
    int rc;

    if (!loop || fd < 0 || !fn)
        return -EINVAL;
    r = rec_get(loop, fd, 1);
    if (!r)
        return -ENOMEM;
    c = r->cb[dir];
    if (c) { /* asyncio: adding again replaces the callback */
        c->fn = fn;
        c->arg = arg;
        return 0;
    }
    c = tulip__calloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->io.fn = fd_cb_ready;
    c->fn = fn;
    c->arg = arg;
    rc = tulip__loop_io_start(loop, &c->io, fd,
                              dir ? TULIP__IO_WRITE : TULIP__IO_READ);
    if (rc) {
        tulip__free(c, sizeof(*c));
        return rc;
    }
    r->cb[dir] = c;
    return 0;
}

static int remove_cb(tulip_loop *loop, int fd, int dir)
{
    struct fd_rec *r;

    if (!loop || fd < 0)
        return -EINVAL;
    r = rec_get(loop, fd, 0);
    if (!r || !r->cb[dir])
        return 0;
    tulip__loop_io_stop(loop, &r->cb[dir]->io);
    tulip__free(r->cb[dir], sizeof(*r->cb[dir]));
    r->cb[dir] = NULL;
    return 1;
}

int tulip_add_reader(tulip_loop *loop, int fd, tulip_callback_fn *fn, void *arg)
{
    return add_cb(loop, fd, 0, fn, arg);
}

int tulip_add_writer(tulip_loop *loop, int fd, tulip_callback_fn *fn, void *arg)
{
    return add_cb(loop, fd, 1, fn, arg);
}

int tulip_remove_reader(tulip_loop *loop, int fd)
{
    return remove_cb(loop, fd, 0);
}

int tulip_remove_writer(tulip_loop *loop, int fd)
{
    return remove_cb(loop, fd, 1);
}
