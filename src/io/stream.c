/* SPDX-License-Identifier: MIT */
/*
 * Streams: asyncio's StreamReader and StreamWriter over one stream fd (a
 * socket or a pipe), for tasks.
 *
 * Reading is pull-based: a read call that finds the buffer short reads from
 * the fd in the calling task. Two habits keep the syscalls per message at
 * the floor: a read that came back short of the space it was given means
 * the kernel's queue was emptied, so the next fill waits for readiness
 * first instead of issuing a read that would only return EAGAIN; and a
 * large read with nothing buffered goes straight into the caller's buffer.
 * Calls that can be cancelled leave the buffer as it was (read_exactly
 * pushes back what it had read directly), so no byte is lost or duplicated.
 *
 * Writing follows asyncio's transport: write() sends at once when nothing is
 * buffered, and buffers the rest; a loop watcher (weak: it does not keep
 * the loop alive) flushes the buffer in the background and is active only
 * while bytes wait, so a connection that keeps up costs no epoll_ctl. drain()
 * waits, in any number of tasks at once (gh-74116), while the buffer went
 * above the high-water mark until it is at or below the low-water mark. A
 * lost connection wakes every drainer with its error and makes it sticky.
 *
 * close() flushes in the background and then closes the fd; wait_closed()
 * waits for that, and if it is cancelled or its deadline passes, aborts the
 * stream, so that it never returns with the fd still open (bpo-39758).
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* A read of at least this many bytes with nothing buffered goes directly
 * into the caller's buffer; smaller ones fill the stream's buffer. */
#define DIRECT_MIN 4096
/* The first size of the read buffer. */
#define RBUF_MIN 4096
/* A write buffer larger than this is freed once it has emptied. */
#define WBUF_KEEP ((size_t)256 * 1024)

enum { KIND_UNKNOWN, KIND_SOCKET, KIND_OTHER };

struct tulip_stream {
    tulip_loop *loop; /* the loop whose tasks use it */
    int fd;           /* -1 once closed */
    bool own_fd;      /* close fd when the stream closes */
    int kind;         /* KIND_*: send(MSG_NOSIGNAL) or write()? */

    /* read side */
    char *rbuf;   /* buffered bytes are rbuf[rpos, rpos + rlen) */
    size_t rcap;  /* size of rbuf */
    size_t rpos;  /* offset of the first buffered byte */
    size_t rlen;  /* bytes buffered */
    size_t limit; /* most bytes before a separator */
    int rerr;     /* sticky read error, or 0 */
    bool eof;     /* the fd reported end of file */
    bool drained; /* the last read was short: wait before reading again */
    bool reading; /* a task is in a read call */

    /* write side */
    char *wbuf;                   /* pending bytes: wbuf[wpos, wpos + wlen) */
    size_t wcap;                  /* size of wbuf */
    size_t wpos;                  /* offset of the first pending byte */
    size_t wlen;                  /* bytes pending */
    size_t high;                  /* high-water mark */
    size_t low;                   /* low-water mark */
    int werr;                     /* sticky connection error, or 0 */
    bool paused;                  /* above high, not yet at or below low */
    bool eof_asked;               /* write_eof() called */
    bool eof_sent;                /* shutdown(SHUT_WR) done */
    bool closing;                 /* close() or abort() called */
    bool closed;                  /* fd closed (or released) */
    struct tulip__io wio;         /* background flusher, active while wlen */
    struct tulip__waitq drainers; /* tasks in drain() */
    struct tulip__waitq closers;  /* tasks in wait_closed() */
};

/* ---- helpers ------------------------------------------------------------- */

/* Begin a suspending call: the running task, with cancellation checked. */
static int stream_enter(struct tulip_task **t)
{
    *t = tulip__task_running();
    if (!*t)
        return -EPERM;
    return tulip__task_check(*t);
}

static void wake_queue(struct tulip__waitq *q, int code)
{
    while (q->head)
        tulip__task_wake_waiter(q->head, NULL, code);
}

/* Suspend t in q until woken (its wake code), or an error of the wait. */
static int wait_in(struct tulip_task *t, tulip_loop *loop,
                   struct tulip__waitq *q, int64_t deadline_ns)
{
    int rc;

    tulip__waitq_push(q, &t->waiter);
    tulip__loop_ref(loop);
    rc = tulip__task_suspend(t, deadline_ns);
    tulip__loop_unref(loop);
    if (rc == TULIP__DEADLINE)
        return -ETIMEDOUT;
    return rc ? rc : t->wake_code;
}

/* Write iov without SIGPIPE: sendmsg(MSG_NOSIGNAL) on sockets. Returns the
 * bytes written or -errno (-EAGAIN when full). */
static ssize_t out_iov(struct tulip_stream *s, struct iovec *iov, int n)
{
    ssize_t w;

    for (;;) {
        if (s->kind != KIND_OTHER) {
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
            w = TULIP_SYS(sendmsg)(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && errno == ENOTSOCK) {
                s->kind = KIND_OTHER;
                continue;
            }
            /* only a write tells: an error (EINTR ...) may come first */
            if (w >= 0)
                s->kind = KIND_SOCKET;
        } else {
            w = tulip__writev_nosigpipe(s->fd, iov, n);
        }
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* One buffer: send(2) on a socket, cheaper in the kernel than sendmsg. */
static ssize_t out_buf(struct tulip_stream *s, const void *buf, size_t n)
{
    struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = n};
    ssize_t w;

    if (s->kind != KIND_SOCKET)
        return out_iov(s, &iov, 1);
    do
        w = TULIP_SYS(send)(s->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w >= 0)
        return w;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* Room for n more pending bytes at the end of wbuf. */
static int wbuf_reserve(struct tulip_stream *s, size_t n)
{
    size_t cap;
    char *p;

    if (s->wpos + s->wlen + n <= s->wcap)
        return 0;
    if (s->wlen + n <= s->wcap) {
        memmove(s->wbuf, s->wbuf + s->wpos, s->wlen);
        s->wpos = 0;
        return 0;
    }
    cap = s->wcap ? s->wcap : 4096;
    while (cap < s->wlen + n)
        cap *= 2;
    p = tulip__alloc(cap);
    if (!p)
        return -ENOMEM;
    if (s->wlen)
        memcpy(p, s->wbuf + s->wpos, s->wlen);
    tulip__free(s->wbuf, s->wcap);
    s->wbuf = p;
    s->wcap = cap;
    s->wpos = 0;
    return 0;
}

static void stream_finish_close(struct tulip_stream *s);

/* The buffer has emptied: stop the flusher, then a pending half-close or
 * close happens. */
static void write_idle(struct tulip_stream *s)
{
    tulip__loop_io_stop(s->loop, &s->wio);
    s->wpos = 0;
    if (s->wcap > WBUF_KEEP) {
        tulip__free(s->wbuf, s->wcap);
        s->wbuf = NULL;
        s->wcap = 0;
    }
    if (s->eof_asked && !s->eof_sent && !s->closed) {
        s->eof_sent = true;
        if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN)
            s->werr = -errno;
    }
    if (s->closing && !s->closed)
        stream_finish_close(s);
}

/* The connection is lost for writing: the error sticks, pending bytes go,
 * and every drainer learns it. */
static void write_lost(struct tulip_stream *s, int err)
{
    if (!s->werr)
        s->werr = err;
    s->wlen = 0;
    s->paused = false;
    wake_queue(&s->drainers, s->werr);
    write_idle(s);
}

/* After the pending bytes shrank: resume drainers at the low-water mark. */
static void write_progress(struct tulip_stream *s)
{
    if (s->paused && s->wlen <= s->low) {
        s->paused = false;
        wake_queue(&s->drainers, 0);
    }
    if (s->wlen == 0)
        write_idle(s);
}

/* Write pending bytes once. A short write means the kernel's buffer is
 * full: writing again would only return EAGAIN. */
static void flush_once(struct tulip_stream *s)
{
    ssize_t w = out_buf(s, s->wbuf + s->wpos, s->wlen);

    if (w == -EAGAIN)
        return;
    if (w < 0) {
        write_lost(s, (int)w);
        return;
    }
    s->wpos += (size_t)w;
    s->wlen -= (size_t)w;
    write_progress(s);
}

static void stream_writable(struct tulip__io *io, unsigned revents)
{
    struct tulip_stream *s = tulip__container_of(io, struct tulip_stream, wio);

    (void)revents;
    if (s->wlen)
        flush_once(s);
    else
        write_idle(s);
}

/* Bytes now pending: start the flusher, and pause writers above high. */
static int write_pending(struct tulip_stream *s)
{
    int rc = 0;

    if (!s->wio.active)
        rc = tulip__loop_io_start(s->loop, &s->wio, s->fd, TULIP__IO_WRITE);
    if (rc) {
        write_lost(s, rc);
        return rc;
    }
    if (s->wlen > s->high)
        s->paused = true;
    return 0;
}

static void stream_finish_close(struct tulip_stream *s)
{
    tulip__loop_io_stop(s->loop, &s->wio);
    if (s->own_fd)
        tulip_fd_close(s->fd);
    else
        tulip_fd_forget(s->fd);
    s->closed = true;
    s->wlen = 0;
    s->paused = false;
    wake_queue(&s->drainers, s->werr ? s->werr : TULIP_ECLOSED);
    wake_queue(&s->closers, 0);
}

/* ---- construction -------------------------------------------------------- */

int tulip_stream_new(tulip_stream **out, int fd,
                     const struct tulip_stream_opts *opts)
{
    struct tulip_task *t = tulip__task_running();
    struct tulip_stream *s;
    tulip_loop *loop;
    int rc;

    if (!out || fd < 0)
        return -EINVAL;
    *out = NULL;
    loop = opts && opts->loop ? opts->loop : t ? t->loop : tulip_loop_current();
    if (!loop)
        return -EPERM;
    if (opts && opts->low_water && opts->high_water &&
        opts->low_water > opts->high_water)
        return -EINVAL;
    rc = tulip__fd_nonblock(fd);
    if (rc)
        return rc;
    s = tulip__calloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->fd = fd;
    s->own_fd = !(opts && opts->borrow_fd);
    s->limit = opts && opts->limit ? opts->limit : TULIP_STREAM_LIMIT;
    s->high =
        opts && opts->high_water ? opts->high_water : TULIP_STREAM_HIGH_WATER;
    if (opts && opts->low_water)
        s->low = opts->low_water;
    else
        s->low = s->high / 4;
    s->wio.fn = stream_writable;
    s->wio.weak = true;
    *out = s;
    return 0;
}

int tulip_stream_fd(const tulip_stream *s)
{
    if (!s)
        return -EINVAL;
    return s->closed ? TULIP_ECLOSED : s->fd;
}

/* ---- reading ------------------------------------------------------------- */

/* Why a read cannot go on, or 0. */
static int read_state(struct tulip_stream *s)
{
    if (s->closing)
        return TULIP_ECLOSED;
    return s->rerr;
}

/*
 * Read once into [p, p + n), waiting for readiness first if the last read
 * was short. Returns the bytes read (> 0), 0 at end of file (s->eof set), or
 * a negative error (sticky if it came from read(2)).
 */
static ssize_t read_some(struct tulip_stream *s, struct tulip_task *t, void *p,
                         size_t n, int64_t deadline_ns)
{
    ssize_t r;
    int rc;

    for (;;) {
        if (s->drained) {
            rc = tulip__fd_wait(t, s->fd, TULIP_READ, deadline_ns);
            if (rc)
                return rc == -EBADF && s->closing ? TULIP_ECLOSED : rc;
            if (s->closed) /* closed by another task meanwhile */
                return TULIP_ECLOSED;
        }
        r = TULIP_SYS(read)(s->fd, p, n);
        if (r > 0) {
            s->drained = (size_t)r < n;
            return r;
        }
        if (r == 0) {
            s->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->drained = true;
            continue;
        }
        s->rerr = -errno;
        return s->rerr;
    }
}

/* Make rbuf able to hold `want` buffered bytes with free space after them.
 */
static int rbuf_reserve(struct tulip_stream *s, size_t want)
{
    size_t cap;
    char *p;

    if (want < RBUF_MIN)
        want = RBUF_MIN;
    if (s->rcap >= want && s->rpos + s->rlen < s->rcap &&
        s->rcap - s->rpos >= want)
        return 0;
    if (s->rcap >= want && s->rlen < s->rcap) {
        memmove(s->rbuf, s->rbuf + s->rpos, s->rlen);
        s->rpos = 0;
        return 0;
    }
    cap = s->rcap ? s->rcap : RBUF_MIN;
    while (cap < want || cap <= s->rlen)
        cap *= 2;
    p = tulip__alloc(cap);
    if (!p)
        return -ENOMEM;
    if (s->rlen)
        memcpy(p, s->rbuf + s->rpos, s->rlen);
    tulip__free(s->rbuf, s->rcap);
    s->rbuf = p;
    s->rcap = cap;
    s->rpos = 0;
    return 0;
}

/* Read more into rbuf, which can then hold at least `want` bytes. Returns
 * bytes added, 0 at EOF, or an error. */
static ssize_t fill(struct tulip_stream *s, struct tulip_task *t, size_t want,
                    int64_t deadline_ns)
{
    size_t end;
    int rc;

    if (s->eof)
        return 0;
    rc = rbuf_reserve(s, want > s->rlen ? want : s->rlen + 1);
    if (rc)
        return rc;
    end = s->rpos + s->rlen;
    ssize_t r = read_some(s, t, s->rbuf + end, s->rcap - end, deadline_ns);
    if (r > 0)
        s->rlen += (size_t)r;
    return r;
}

/* Hand out n buffered bytes. */
static void take(struct tulip_stream *s, void *buf, size_t n)
{
    if (n == 0) /* rbuf may be NULL */
        return;
    memcpy(buf, s->rbuf + s->rpos, n);
    s->rpos += n;
    s->rlen -= n;
    if (s->rlen == 0)
        s->rpos = 0;
}

/* Begin a read call: task, cancellation, exclusive use, state. */
static int read_enter(struct tulip_stream *s, struct tulip_task **t)
{
    int rc = stream_enter(t);

    if (rc)
        return rc;
    if (s->reading)
        return -EBUSY;
    if (s->closed)
        return TULIP_ECLOSED;
    return 0;
}

ssize_t tulip_stream_read_until(tulip_stream *s, void *buf, size_t n,
                                int64_t deadline_ns)
{
    struct tulip_task *t;
    ssize_t r;
    int rc;

    if (!s || (!buf && n))
        return -EINVAL;
    rc = read_enter(s, &t);
    if (rc)
        return rc;
    if (n == 0)
        return 0;
    if (s->rlen) {
        r = (ssize_t)(s->rlen < n ? s->rlen : n);
        take(s, buf, (size_t)r);
        return r;
    }
    if (s->eof)
        return 0;
    rc = read_state(s);
    if (rc)
        return rc;
    s->reading = true;
    if (n >= DIRECT_MIN) {
        r = read_some(s, t, buf, n, deadline_ns);
    } else {
        r = fill(s, t, RBUF_MIN, deadline_ns);
        if (r > 0) {
            r = (ssize_t)(s->rlen < n ? s->rlen : n);
            take(s, buf, (size_t)r);
        }
    }
    s->reading = false;
    return r;
}

ssize_t tulip_stream_read(tulip_stream *s, void *buf, size_t n)
{
    return tulip_stream_read_until(s, buf, n, TULIP_FOREVER);
}

/* Put back n bytes read directly into buf (rbuf is empty then). */
static int push_back(struct tulip_stream *s, const void *buf, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    rc = rbuf_reserve(s, n);
    if (rc)
        return rc;
    memcpy(s->rbuf, buf, n);
    s->rpos = 0;
    s->rlen = n;
    return 0;
}

/* read_exactly of a large n: what is buffered, then straight into buf. */
static ssize_t exactly_direct(struct tulip_stream *s, struct tulip_task *t,
                              char *buf, size_t n, size_t *partial,
                              int64_t deadline_ns)
{
    size_t got = s->rlen;
    ssize_t r = 0;

    take(s, buf, got);
    while (got < n) {
        r = s->eof ? 0 : read_state(s);
        if (r == 0 && !s->eof)
            r = read_some(s, t, buf + got, n - got, deadline_ns);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == n)
        return (ssize_t)n;
    if (r == 0) {
        *partial = got;
        return TULIP_EINCOMPLETE;
    }
    if (push_back(s, buf, got) < 0)
        *partial = got; /* out of memory: the caller keeps them */
    return r;
}

ssize_t tulip_stream_read_exactly_until(tulip_stream *s, void *buf, size_t n,
                                        size_t *partial, int64_t deadline_ns)
{
    struct tulip_task *t;
    ssize_t r = 0;
    int rc;

    if (partial)
        *partial = 0;
    if (!s || (!buf && n) || !partial)
        return -EINVAL;
    rc = read_enter(s, &t);
    if (rc)
        return rc;
    s->reading = true;
    if (n > s->limit && n > s->rlen) {
        r = exactly_direct(s, t, buf, n, partial, deadline_ns);
        s->reading = false;
        return r;
    }
    /* Small: gather it all in rbuf first, so nothing is consumed before
     * success and an interrupted call leaves the stream as it was. */
    while (s->rlen < n) {
        r = s->eof ? 0 : read_state(s);
        if (r == 0 && !s->eof)
            r = fill(s, t, n, deadline_ns);
        if (r <= 0)
            break;
    }
    s->reading = false;
    if (s->rlen >= n) {
        take(s, buf, n);
        return (ssize_t)n;
    }
    if (r < 0)
        return r;
    *partial = s->rlen;
    take(s, buf, s->rlen);
    return TULIP_EINCOMPLETE;
}

ssize_t tulip_stream_read_exactly(tulip_stream *s, void *buf, size_t n,
                                  size_t *partial)
{
    return tulip_stream_read_exactly_until(s, buf, n, partial, TULIP_FOREVER);
}

/*
 * The first sep in h[0..n), or NULL. Separators are short ("\n", "\r\n\r\n"),
 * so candidates are found with memchr on the first byte and checked in
 * place: a header of a few lines costs a few memchr calls, where glibc's
 * memmem clears a 256-byte shift table on every call (a third of the user
 * instructions of the HTTP benchmark's server). Long separators go to
 * memmem, whose time is linear whatever the input; for short ones the
 * check costs at most SEP_SHORT compares per byte.
 */
#define SEP_SHORT 8

static const char *sep_in(const char *h, size_t n, const char *sep,
                          size_t seplen)
{
    const char *end, *p;

    if (seplen > SEP_SHORT)
        return memmem(h, n, sep, seplen);
    end = h + (n - seplen) + 1; /* the last place sep can start, plus one */
    while (h < end && (p = memchr(h, sep[0], (size_t)(end - h))) != NULL) {
        size_t i = 1;
        while (i < seplen && p[i] == sep[i])
            i++;
        if (i == seplen)
            return p;
        h = p + 1;
    }
    return NULL;
}

/* Offset of sep in the buffered bytes from `from` on, or -1. */
static ssize_t find_sep(struct tulip_stream *s, size_t from, const void *sep,
                        size_t seplen)
{
    const char *b, *p;

    /* Check the length first: before the first read rbuf is NULL, and
     * NULL + 0 is undefined behaviour (UBSan, found by fuzz_stream). */
    if (s->rlen < from + seplen)
        return -1;
    b = s->rbuf + s->rpos;
    p = sep_in(b + from, s->rlen - from, sep, seplen);
    return p ? p - b : -1;
}

/*
 * asyncio's readuntil: the chunk up to and including sep, at most
 * min(cap, limit + seplen) bytes. line_mode: EOF returns the partial chunk
 * as a count (readline) instead of TULIP_EINCOMPLETE.
 */
static ssize_t read_sep(tulip_stream *s, const void *sep, size_t seplen,
                        void *buf, size_t cap, size_t *partial, bool line_mode,
                        int64_t deadline_ns)
{
    struct tulip_task *t;
    size_t max, from = 0;
    ssize_t at, r = 0;
    int rc;

    if (partial)
        *partial = 0;
    if (!s || !sep || seplen == 0 || (!buf && cap))
        return -EINVAL;
    rc = read_enter(s, &t);
    if (rc)
        return rc;
    max = s->limit < cap && cap - s->limit > seplen ? s->limit + seplen : cap;
    s->reading = true;
    for (;;) {
        at = find_sep(s, from, sep, seplen);
        if (at >= 0 || s->rlen >= max || s->eof)
            break;
        from = s->rlen >= seplen ? s->rlen - seplen + 1 : 0;
        r = read_state(s);
        if (r == 0)
            r = fill(s, t, max, deadline_ns);
        if (r < 0)
            break;
    }
    s->reading = false;
    if (at >= 0 && (size_t)at + seplen <= max) {
        take(s, buf, (size_t)at + seplen);
        return at + (ssize_t)seplen;
    }
    if (at >= 0 || s->rlen >= max)
        return TULIP_ELIMIT; /* the bytes stay buffered */
    if (r < 0)
        return r;
    r = (ssize_t)s->rlen;
    take(s, buf, s->rlen);
    if (line_mode)
        return r;
    if (partial)
        *partial = (size_t)r;
    return TULIP_EINCOMPLETE;
}

ssize_t tulip_stream_read_sep_until(tulip_stream *s, const void *sep,
                                    size_t seplen, void *buf, size_t cap,
                                    size_t *partial, int64_t deadline_ns)
{
    if (!partial)
        return -EINVAL;
    return read_sep(s, sep, seplen, buf, cap, partial, false, deadline_ns);
}

ssize_t tulip_stream_read_sep(tulip_stream *s, const void *sep, size_t seplen,
                              void *buf, size_t cap, size_t *partial)
{
    return tulip_stream_read_sep_until(s, sep, seplen, buf, cap, partial,
                                       TULIP_FOREVER);
}

ssize_t tulip_stream_read_line_until(tulip_stream *s, void *buf, size_t cap,
                                     int64_t deadline_ns)
{
    return read_sep(s, "\n", 1, buf, cap, NULL, true, deadline_ns);
}

ssize_t tulip_stream_read_line(tulip_stream *s, void *buf, size_t cap)
{
    return tulip_stream_read_line_until(s, buf, cap, TULIP_FOREVER);
}

bool tulip_stream_at_eof(const tulip_stream *s)
{
    return s && s->eof && s->rlen == 0;
}

size_t tulip_stream_read_buffer_size(const tulip_stream *s)
{
    return s ? s->rlen : 0;
}

/* ---- writing ------------------------------------------------------------- */

/* Why a write cannot be accepted, or 0. */
static int write_state(const struct tulip_stream *s)
{
    if (s->werr)
        return s->werr;
    if (s->closing || s->eof_asked)
        return TULIP_ECLOSED;
    return 0;
}

int tulip_stream_writev(tulip_stream *s, const struct iovec *iov, int iovcnt)
{
    size_t total = 0, skip = 0;
    int i, rc;

    if (!s || iovcnt < 0 || (!iov && iovcnt) || iovcnt > IOV_MAX)
        return -EINVAL;
    rc = write_state(s);
    if (rc)
        return rc;
    for (i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return 0;
    if (s->wlen == 0) { /* asyncio: try at once when nothing waits */
        ssize_t w = iovcnt == 1
                        ? out_buf(s, iov[0].iov_base, iov[0].iov_len)
                        : out_iov(s, (struct iovec *)(uintptr_t)iov, iovcnt);
        if (w < 0 && w != -EAGAIN) {
            write_lost(s, (int)w);
            return (int)w;
        }
        if (w > 0)
            skip = (size_t)w;
        if (skip == total)
            return 0;
    }
    rc = wbuf_reserve(s, total - skip);
    if (rc)
        return rc; /* what was written is gone; the rest is not queued */
    for (i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        const char *p = iov[i].iov_base;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(s->wbuf + s->wpos + s->wlen, p + skip, len - skip);
        s->wlen += len - skip;
        skip = 0;
    }
    return write_pending(s);
}

int tulip_stream_write(tulip_stream *s, const void *buf, size_t n)
{
    struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = n};

    if (!buf && n)
        return -EINVAL;
    return tulip_stream_writev(s, &iov, 1);
}

size_t tulip_stream_write_buffer_size(const tulip_stream *s)
{
    return s ? s->wlen : 0;
}

int tulip_stream_drain_until(tulip_stream *s, int64_t deadline_ns)
{
    struct tulip_task *t;
    int rc;

    if (!s)
        return -EINVAL;
    rc = stream_enter(&t);
    if (rc)
        return rc;
    if (s->werr)
        return s->werr;
    if (s->closed)
        return TULIP_ECLOSED;
    if (!s->paused)
        return 0;
    return wait_in(t, s->loop, &s->drainers, deadline_ns);
}

int tulip_stream_drain(tulip_stream *s)
{
    return tulip_stream_drain_until(s, TULIP_FOREVER);
}

int tulip_stream_write_eof(tulip_stream *s)
{
    int rc;

    if (!s)
        return -EINVAL;
    if (s->eof_asked)
        return s->werr;
    rc = write_state(s);
    if (rc)
        return rc;
    if (s->kind == KIND_UNKNOWN) {
        int type;
        socklen_t len = sizeof(type);
        bool sock = getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
        s->kind = sock ? KIND_SOCKET : KIND_OTHER;
    }
    if (s->kind == KIND_OTHER)
        return -ENOTSOCK; /* a pipe has no half-close */
    s->eof_asked = true;
    if (s->wlen == 0) {
        s->eof_sent = true;
        if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN)
            return -errno;
    }
    return 0;
}

/* ---- closing ------------------------------------------------------------- */

int tulip_stream_close(tulip_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->closing)
        return 0;
    s->closing = true;
    /* A reader waiting in another task wakes and sees TULIP_ECLOSED. */
    if (s->reading)
        tulip_fd_forget(s->fd);
    if (s->wlen == 0 || s->werr)
        stream_finish_close(s);
    return 0;
}

void tulip_stream_abort(tulip_stream *s)
{
    if (!s || s->closed)
        return;
    s->closing = true;
    s->wlen = 0;
    stream_finish_close(s);
}

bool tulip_stream_is_closing(const tulip_stream *s)
{
    return s && s->closing;
}

int tulip_stream_wait_closed_until(tulip_stream *s, int64_t deadline_ns)
{
    struct tulip_task *t;
    int rc;

    if (!s)
        return -EINVAL;
    tulip_stream_close(s);
    if (s->closed)
        return 0;
    rc = stream_enter(&t);
    if (rc == 0)
        rc = wait_in(t, s->loop, &s->closers, deadline_ns);
    if (rc)
        tulip_stream_abort(s); /* never leave with the fd open */
    return rc;
}

int tulip_stream_wait_closed(tulip_stream *s)
{
    return tulip_stream_wait_closed_until(s, TULIP_FOREVER);
}

void tulip_stream_free(tulip_stream *s)
{
    if (!s)
        return;
    tulip_stream_abort(s);
    tulip__free(s->rbuf, s->rcap);
    tulip__free(s->wbuf, s->wcap);
    tulip__free(s, sizeof(*s));
}
