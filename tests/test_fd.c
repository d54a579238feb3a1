/* SPDX-License-Identifier: MIT */
/*
 * The fd core (tulip_fd_wait, tulip_read, tulip_write, tulip_fd_close,
 * tulip_fd_forget, tulip_add_reader/writer): bad arguments, traffic between
 * tasks over socketpairs and pipes, deadlines and cancellation before and
 * while waiting, closing or forgetting an fd under waiting tasks (-EBADF),
 * readiness callbacks, a write larger than the socket buffer, -EPIPE with
 * no SIGPIPE, fd numbers reused after tulip_fd_close(), and allocation
 * failures. Every test closes its loop with 0, leaks no byte and no stack,
 * and the loop must end by itself once no task waits any more (a lingering
 * registration does not keep it running).
 */
/* ctest: labels=unit;backends timeout=120 */
#define _GNU_SOURCE 1 /* pipe2, accept4 */
#include "task_fixture.h"

#include <stdlib.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static int sp[2]; /* a socketpair of the test */

static void make_sp(int *p)
{
    cr_assert_eq(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p),
        0);
}

/* Spawn a task nobody holds a reference to. */
static void go(tulip_task_fn *fn, void *arg)
{
    cr_assert_eq(tulip_spawn(NULL, loop, fn, arg), 0);
}

static void make_pipe(int *p)
{
    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

/* ---- bad input ----------------------------------------------------------- */

static int bad_body(void *arg)
{
    char b;

    (void)arg;
    cr_expect_eq(tulip_fd_wait(-1, TULIP_READ), -EINVAL);
    cr_expect_eq(tulip_fd_wait(sp[0], 0), -EINVAL);
    cr_expect_eq(tulip_fd_wait(sp[0], TULIP_READ | TULIP_WRITE), -EINVAL);
    cr_expect_eq(tulip_fd_wait_until(sp[0], 8, TULIP_FOREVER), -EINVAL);
    cr_expect_eq(tulip_read(-1, &b, 1), -EINVAL);
    cr_expect_eq(tulip_read(sp[0], NULL, 1), -EINVAL);
    cr_expect_eq(tulip_write(-1, &b, 1), -EINVAL);
    cr_expect_eq(tulip_write(sp[0], NULL, 1), -EINVAL);
    cr_expect_eq(tulip_write(sp[0], NULL, 0), 0);
    cr_expect_eq(tulip_read(sp[0], NULL, 0), 0);
    /* a number that is not an open fd */
    cr_expect_eq(tulip_read(1000, &b, 1), -EBADF);
    return 0;
}

static void nop_cb(void *arg)
{
    (void)arg;
}

Test(fd, bad_input)
{
    char b = 0;

    fx_begin();
    make_sp(sp);
    cr_assert_eq(tulip_fd_wait(sp[0], TULIP_READ), -EPERM);
    cr_assert_eq(tulip_read(sp[0], &b, 1), -EPERM);
    cr_assert_eq(tulip_write(sp[0], &b, 1), -EPERM);
    cr_assert_eq(tulip_fd_close(-1), -EBADF);
    cr_assert_eq(tulip_add_reader(NULL, sp[0], nop_cb, NULL), -EINVAL);
    cr_assert_eq(tulip_add_reader(loop, -1, nop_cb, NULL), -EINVAL);
    cr_assert_eq(tulip_add_writer(loop, sp[0], NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_remove_reader(NULL, sp[0]), -EINVAL);
    cr_assert_eq(tulip_remove_reader(loop, sp[0]), 0);
    cr_assert_eq(tulip_remove_writer(loop, -1), -EINVAL);
    tulip_fd_forget(-1);
    tulip_fd_forget(sp[0]); /* outside a running loop: nothing happens */
    go(bad_body, NULL);
    fx_run();
    cr_assert_eq(tulip_fd_close(sp[0]), 0);
    cr_assert_eq(tulip_fd_close(sp[1]), 0);
    fx_end();
}

/* ---- traffic between tasks ----------------------------------------------- */

#define ROUNDS 200

static int ping_body(void *arg)
{
    int fd = *(int *)arg;
    char buf[16];

    for (int i = 0; i < ROUNDS; i++) {
        int n = snprintf(buf, sizeof(buf), "ping %d", i);
        if (tulip_write(fd, buf, (size_t)n) != n)
            return -1;
        if (tulip_read(fd, buf, sizeof(buf)) != n)
            return -2;
        if (memcmp(buf, "pong", 4) != 0)
            return -3;
    }
    return 0;
}

static int pong_body(void *arg)
{
    int fd = *(int *)arg;
    char buf[16];
    ssize_t n;
    int count = 0;

    while ((n = tulip_read(fd, buf, sizeof(buf))) > 0) {
        memcpy(buf, "pong", 4);
        if (tulip_write(fd, buf, (size_t)n) != n)
            return -1;
        count++;
    }
    return n == 0 ? count : (int)n;
}

static int ping_then_close(void *arg)
{
    int rc = ping_body(arg);

    tulip_fd_close(*(int *)arg);
    return rc;
}

Test(fd, socketpair_ping_pong)
{
    tulip_task *a, *b;

    fx_begin();
    make_sp(sp);
    a = fx_spawn(ping_then_close, &sp[0]);
    b = fx_spawn(pong_body, &sp[1]);
    fx_run();
    cr_assert_eq(fx_result(a), 0);
    cr_assert_eq(fx_result(b), ROUNDS); /* then end of file */
    tulip_task_release(a);
    tulip_task_release(b);
    cr_assert_eq(tulip_fd_close(sp[1]), 0);
    fx_end();
}

static int pipe_fds[2];

static int pipe_reader(void *arg)
{
    char buf[64];
    size_t got = 0;
    ssize_t n;

    (void)arg;
    while ((n = tulip_read(pipe_fds[0], buf + got, sizeof(buf) - got)) > 0)
        got += (size_t)n;
    if (n < 0)
        return (int)n;
    log_add("read:%.*s", (int)got, buf);
    return (int)got;
}

static int pipe_writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(tulip_sleep(10 * TULIP_MSEC), 0);
        cr_expect_eq(tulip_write(pipe_fds[1], "abc", 3), 3);
    }
    log_add("closing");
    return tulip_fd_close(pipe_fds[1]);
}

Test(fd, pipe_until_eof)
{
    tulip_task *r, *w;

    fx_begin();
    make_pipe(pipe_fds);
    r = fx_spawn(pipe_reader, NULL);
    w = fx_spawn(pipe_writer, NULL);
    fx_run();
    cr_assert_eq(fx_result(r), 9);
    cr_assert_eq(fx_result(w), 0);
    FX_LOG_IS("closing read:abcabcabc");
    tulip_task_release(r);
    tulip_task_release(w);
    cr_assert_eq(tulip_fd_close(pipe_fds[0]), 0);
    fx_end();
}

/* ---- deadlines and cancellation ------------------------------------------ */

struct waiter {
    int fd;
    unsigned event;
    int64_t delay_ns; /* deadline after now; 0: none */
    bool cancel_first;
    int rc;
    int64_t waited_ns;
};

static int waiter_body(void *arg)
{
    struct waiter *w = arg;
    int64_t t0 = tulip_now();
    char b;

    if (w->cancel_first)
        tulip_task_cancel(tulip_task_current());
    if (w->event == 0) /* a read */
        w->rc = (int)tulip_read_until(
            w->fd, &b, 1, w->delay_ns ? t0 + w->delay_ns : TULIP_FOREVER);
    else
        w->rc = tulip_fd_wait_until(
            w->fd, w->event, w->delay_ns ? t0 + w->delay_ns : TULIP_FOREVER);
    w->waited_ns = tulip_now() - t0;
    return 0;
}

Test(fd, deadline)
{
    struct waiter a = {.event = TULIP_READ, .delay_ns = 50 * TULIP_MSEC};
    struct waiter b = {.event = 0, .delay_ns = 80 * TULIP_MSEC};
    struct waiter c = {.event = TULIP_WRITE, .delay_ns = 50 * TULIP_MSEC};

    fx_begin();
    make_sp(sp);
    a.fd = b.fd = sp[0];
    c.fd = sp[1];
    go(waiter_body, &a);
    go(waiter_body, &b);
    go(waiter_body, &c);
    fx_run();
    cr_assert_eq(a.rc, -ETIMEDOUT);
    cr_assert_eq(a.waited_ns, 50 * TULIP_MSEC);
    cr_assert_eq(b.rc, -ETIMEDOUT);
    cr_assert_eq(b.waited_ns, 80 * TULIP_MSEC);
    cr_assert_eq(c.rc, 0); /* writable at once */
    cr_assert_eq(c.waited_ns, 0);
    cr_assert_eq(tulip_fd_close(sp[0]), 0);
    cr_assert_eq(tulip_fd_close(sp[1]), 0);
    fx_end();
}

/* A scope's deadline applies to fd waits too. */
static int scoped_read(void *arg)
{
    struct tulip_scope s;
    char b;
    ssize_t n;

    (void)arg;
    tulip_scope_enter(&s, tulip_now() + 30 * TULIP_MSEC, 0);
    n = tulip_read(sp[0], &b, 1);
    cr_expect_eq(tulip_scope_exit(&s), -ETIMEDOUT);
    return (int)n;
}

Test(fd, scope_deadline)
{
    tulip_task *t;

    fx_begin();
    make_sp(sp);
    t = fx_spawn(scoped_read, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), -ETIMEDOUT);
    tulip_task_release(t);
    tulip_fd_close(sp[0]);
    tulip_fd_close(sp[1]);
    fx_end();
}

Test(fd, cancel_before_wait)
{
    struct waiter a = {.event = TULIP_READ, .cancel_first = true};
    struct waiter b = {.event = 0, .cancel_first = true};
    struct waiter c = {.event = TULIP_WRITE, .cancel_first = true};

    fx_begin();
    make_sp(sp);
    cr_assert_eq(write(sp[1], "x", 1), 1); /* data there: still cancelled */
    a.fd = b.fd = sp[0];
    c.fd = sp[1];
    go(waiter_body, &a);
    go(waiter_body, &b);
    go(waiter_body, &c);
    fx_run();
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, -ECANCELED);
    cr_assert_eq(c.rc, -ECANCELED);
    cr_assert_eq(read(sp[0], (char[1]){0}, 1), 1); /* nothing was read */
    tulip_fd_close(sp[0]);
    tulip_fd_close(sp[1]);
    fx_end();
}

static void cancel_cb(void *arg)
{
    tulip_task_cancel(arg);
}

static int late_read(void *arg)
{
    char b = 0;
    ssize_t n;

    (void)arg;
    cr_expect_eq(tulip_sleep(20 * TULIP_MSEC), 0);
    cr_expect_eq(write(sp[1], "y", 1), 1);
    n = tulip_read(sp[0], &b, 1);
    return n == 1 ? b : (int)n;
}

Test(fd, cancel_while_waiting)
{
    struct waiter a = {.event = TULIP_READ};
    struct waiter b = {.event = 0};
    tulip_task *ta, *tb, *tc;

    fx_begin();
    make_sp(sp);
    a.fd = b.fd = sp[0];
    ta = fx_spawn(waiter_body, &a);
    tb = fx_spawn(waiter_body, &b);
    cr_assert_eq(tulip_call_later(loop, 10 * TULIP_MSEC, cancel_cb, ta, NULL),
                 0);
    cr_assert_eq(tulip_call_later(loop, 10 * TULIP_MSEC, cancel_cb, tb, NULL),
                 0);
    /* the fd serves a later reader after the cancelled waits */
    tc = fx_spawn(late_read, NULL);
    fx_run(); /* returns: the lingering registration keeps nothing alive */
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(a.waited_ns, 10 * TULIP_MSEC);
    cr_assert_eq(b.rc, -ECANCELED);
    cr_assert_eq(fx_result(tc), 'y');
    tulip_task_release(ta);
    tulip_task_release(tb);
    tulip_task_release(tc);
    tulip_fd_close(sp[0]);
    tulip_fd_close(sp[1]);
    fx_end();
}

/* A task that read once and returned leaves a registration behind; the
 * loop still ends, and a second loop run can wait on the same fd again. */
static int read_one(void *arg)
{
    char b;

    (void)arg;
    return (int)tulip_read(sp[0], &b, 1);
}

static void write_cb(void *arg)
{
    (void)arg;
    cr_expect_eq(write(sp[1], "z", 1), 1);
}

Test(fd, loop_ends_after_last_waiter)
{
    tulip_task *t;

    fx_begin();
    make_sp(sp);
    for (int i = 0; i < 3; i++) {
        t = fx_spawn(read_one, NULL);
        cr_assert_eq(tulip_call_later(loop, TULIP_MSEC, write_cb, NULL, NULL),
                     0);
        fx_run();
        cr_assert_eq(fx_result(t), 1);
        tulip_task_release(t);
    }
    tulip_fd_close(sp[0]);
    tulip_fd_close(sp[1]);
    fx_end();
}

/* ---- closing and forgetting fds under waiters ---------------------------- */

static int closer_body(void *arg)
{
    int fd = *(int *)arg;

    cr_expect_eq(tulip_sleep(5 * TULIP_MSEC), 0);
    return tulip_fd_close(fd);
}

static int fill_then_write(void *arg)
{
    int fd = *(int *)arg;
    static char big[1 << 16];
    ssize_t n;

    /* fill the buffer, then block in tulip_write */
    while (send(fd, big, sizeof(big), MSG_DONTWAIT) > 0)
        ;
    n = tulip_write(fd, big, sizeof(big));
    return (int)n;
}

Test(fd, close_wakes_waiters)
{
    struct waiter a = {.event = TULIP_READ};
    struct waiter b = {.event = 0};
    tulip_task *closer, *w;
    int sp2[2];

    fx_begin();
    make_sp(sp);
    make_sp(sp2);
    a.fd = b.fd = sp[0];
    go(waiter_body, &a);
    go(waiter_body, &b);
    closer = fx_spawn(closer_body, &sp[0]);
    /* a writer blocked on a full buffer */
    w = fx_spawn(fill_then_write, &sp2[0]);
    go(closer_body, &sp2[0]);
    fx_run();
    cr_assert_eq(a.rc, -EBADF);
    cr_assert_eq(a.waited_ns, 5 * TULIP_MSEC);
    cr_assert_eq(b.rc, -EBADF);
    cr_assert_eq(fx_result(closer), 0);
    cr_assert_eq(fx_result(w), -EBADF);
    tulip_task_release(closer);
    tulip_task_release(w);
    tulip_fd_close(sp[1]);
    tulip_fd_close(sp2[1]);
    fx_end();
}

static int forget_body(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_sleep(5 * TULIP_MSEC), 0);
    tulip_fd_forget(sp[0]);
    return 0;
}

Test(fd, forget_wakes_waiters)
{
    struct waiter a = {.event = TULIP_READ};

    fx_begin();
    make_sp(sp);
    a.fd = sp[0];
    go(waiter_body, &a);
    go(forget_body, NULL);
    fx_run();
    cr_assert_eq(a.rc, -EBADF);
    /* the fd itself is still open */
    cr_assert_eq(write(sp[1], "q", 1), 1);
    cr_assert_eq(read(sp[0], (char[1]){0}, 1), 1);
    close(sp[0]);
    close(sp[1]);
    fx_end();
}

/* Numbers reused after tulip_fd_close() (and after forget + close()) do not
 * inherit the old registration. */
static int reuse_body(void *arg)
{
    int p[2], q[2];
    char b = 0;

    (void)arg;
    for (int i = 0; i < 4; i++) {
        make_sp(p);
        /* register interest in both directions, then close */
        cr_expect_eq(tulip_fd_wait(p[0], TULIP_WRITE), 0);
        cr_expect_eq(tulip_fd_wait_until(p[0], TULIP_READ, tulip_now() + 1),
                     -ETIMEDOUT);
        if (i % 2) {
            tulip_fd_forget(p[0]);
            close(p[0]);
        } else {
            cr_expect_eq(tulip_fd_close(p[0]), 0);
        }
        cr_expect_eq(tulip_fd_close(p[1]), 0);
        make_sp(q); /* the lowest numbers: the same as p's */
        cr_expect_eq(q[0], p[0]);
        cr_expect_eq(write(q[1], "r", 1), 1);
        cr_expect_eq(tulip_read(q[0], &b, 1), 1);
        cr_expect_eq(b, 'r');
        cr_expect_eq(tulip_fd_wait_until(q[0], TULIP_READ, tulip_now() + 1),
                     -ETIMEDOUT);
        tulip_fd_close(q[0]);
        tulip_fd_close(q[1]);
    }
    return 0;
}

Test(fd, reuse_after_close)
{
    tulip_task *t;

    fx_begin();
    t = fx_spawn(reuse_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    fx_end();
}

/* ---- readiness callbacks ------------------------------------------------- */

static int reads_seen, writes_seen;

static void on_readable(void *arg)
{
    char buf[8];
    ssize_t n = read(sp[0], buf, sizeof(buf));

    (void)arg;
    if (n > 0)
        reads_seen++;
    if (reads_seen == 3)
        cr_expect_eq(tulip_remove_reader(loop, sp[0]), 1);
}

static void on_writable(void *arg)
{
    writes_seen += (int)(intptr_t)arg;
    cr_expect_eq(tulip_remove_writer(loop, sp[0]), 1);
    cr_expect_eq(tulip_remove_writer(loop, sp[0]), 0);
}

static void send_cb(void *arg)
{
    (void)arg;
    cr_expect_eq(write(sp[1], "m", 1), 1);
}

Test(fd, add_reader_writer)
{
    fx_begin();
    make_sp(sp);
    reads_seen = writes_seen = 0;
    cr_assert_eq(tulip_add_reader(loop, sp[0], on_readable, NULL), 0);
    cr_assert_eq(tulip_add_writer(loop, sp[0], on_writable, (void *)1), 0);
    /* adding again replaces the callback */
    cr_assert_eq(tulip_add_writer(loop, sp[0], on_writable, (void *)10), 0);
    for (int i = 1; i <= 3; i++)
        cr_assert_eq(
            tulip_call_later(loop, i * TULIP_MSEC, send_cb, NULL, NULL), 0);
    fx_run(); /* ends once both callbacks are removed */
    cr_assert_eq(reads_seen, 3);
    cr_assert_eq(writes_seen, 10);
    cr_assert_eq(tulip_remove_reader(loop, sp[0]), 0);
    cr_assert_eq(tulip_fd_close(sp[0]), 0);
    cr_assert_eq(tulip_fd_close(sp[1]), 0);
    fx_end();
}

/* A reader callback and a waiting task on the same fd both see it. */
static int count_cb_calls;

static void count_cb(void *arg)
{
    (void)arg;
    count_cb_calls++;
    tulip_remove_reader(loop, sp[0]);
}

static int add_then_close(void *arg)
{
    (void)arg;
    cr_expect_eq(tulip_add_reader(loop, sp[0], count_cb, NULL), 0);
    cr_expect_eq(tulip_add_writer(loop, sp[0], count_cb, NULL), 0);
    return tulip_fd_close(sp[0]);
}

Test(fd, callback_and_task_share_fd)
{
    tulip_task *t;

    fx_begin();
    make_sp(sp);
    count_cb_calls = 0;
    cr_assert_eq(tulip_add_reader(loop, sp[0], count_cb, NULL), 0);
    t = fx_spawn(read_one, NULL);
    cr_assert_eq(tulip_call_later(loop, TULIP_MSEC, write_cb, NULL, NULL), 0);
    fx_run();
    cr_assert_eq(fx_result(t), 1);
    cr_assert_eq(count_cb_calls, 1);
    tulip_task_release(t);
    /* closing, in a task, removes the callbacks too */
    t = fx_spawn(add_then_close, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(tulip_remove_reader(loop, sp[0]), 0);
    cr_assert_eq(tulip_remove_writer(loop, sp[0]), 0);
    tulip_task_release(t);
    tulip_fd_close(sp[1]);
    fx_end();
}

/* ---- big writes, a closed peer ------------------------------------------- */

#define BIG (4u << 20)

static unsigned char *big_src;

static int big_writer(void *arg)
{
    (void)arg;
    return (int)tulip_write(sp[0], big_src, BIG);
}

static int big_reader(void *arg)
{
    unsigned char *dst = arg;
    size_t got = 0;
    ssize_t n;

    cr_expect_eq(tulip_sleep(20 * TULIP_MSEC), 0); /* let the writer block */
    while (got < BIG) {
        n = tulip_read(sp[1], dst + got, BIG - got < 4096 ? BIG - got : 4096);
        if (n <= 0)
            return (int)n;
        got += (size_t)n;
    }
    return 0;
}

Test(fd, write_larger_than_buffer)
{
    unsigned char *dst;
    int small = 4096;
    tulip_task *w, *r;

    fx_begin();
    make_sp(sp);
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    big_src = malloc(BIG);
    dst = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big_src[i] = (unsigned char)(i * 7 + (i >> 12));
    w = fx_spawn(big_writer, NULL);
    r = fx_spawn(big_reader, dst);
    fx_run();
    cr_assert_eq(fx_result(w), (int)BIG);
    cr_assert_eq(fx_result(r), 0);
    cr_assert_eq(memcmp(big_src, dst, BIG), 0);
    free(big_src);
    free(dst);
    tulip_task_release(w);
    tulip_task_release(r);
    tulip_fd_close(sp[0]);
    tulip_fd_close(sp[1]);
    fx_end();
}

static int epipe_body(void *arg)
{
    int *p = arg;
    static char buf[1 << 16];

    (void)buf;
    tulip_fd_close(p[1]);
    return (int)tulip_write(p[0], "data", 4);
}

static int epipe_blocked_body(void *arg)
{
    int *p = arg;
    static char buf[1 << 16];

    /* fill, block, then the peer goes away */
    while (send(p[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    return (int)tulip_write(p[0], buf, sizeof(buf));
}

static int epipe_pipe_body(void *arg)
{
    int *p = arg;

    tulip_fd_close(p[0]); /* the read end */
    return (int)tulip_write(p[1], "data", 4);
}

static int close_later(void *arg)
{
    cr_expect_eq(tulip_sleep(5 * TULIP_MSEC), 0);
    return tulip_fd_close(*(int *)arg);
}

Test(fd, epipe_without_sigpipe)
{
    int p1[2], p2[2], p3[2];
    tulip_task *a, *b, *c;

    fx_begin();
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
    make_sp(p1);
    make_sp(p2);
    make_pipe(p3);
    a = fx_spawn(epipe_body, p1);
    b = fx_spawn(epipe_blocked_body, p2);
    go(close_later, &p2[1]);
    c = fx_spawn(epipe_pipe_body, p3); /* a pipe, not a socket */
    fx_run();
    cr_assert_eq(fx_result(a), -EPIPE);
    cr_assert(fx_result(b) == -EPIPE || fx_result(b) == -ECONNRESET, "got %s",
              tulip_err_name(fx_result(b)));
    cr_assert_eq(fx_result(c), -EPIPE);
    tulip_task_release(a);
    tulip_task_release(b);
    tulip_task_release(c);
    tulip_fd_close(p1[0]);
    tulip_fd_close(p2[0]);
    tulip_fd_close(p3[1]);
    fx_end();
}

/* ---- allocation failures ------------------------------------------------- */

static int nomem_body(void *arg)
{
    int *rcs = arg;
    char b;

    /* Fail the next allocation, then the one after, ... until a wait goes
     * through: each failure is -ENOMEM and leaves the fd usable. */
    for (int i = 1; i <= 8; i++) {
        int p[2];
        make_sp(p);
        cr_expect_eq(write(p[1], "k", 1), 1);
        test_alloc_fail_nth(&alloc_c, (unsigned long)i, false);
        rcs[i] = tulip_fd_wait(p[0], TULIP_READ);
        test_alloc_fail_nth(&alloc_c, 0, false);
        cr_expect_eq(tulip_read(p[0], &b, 1), 1);
        tulip_fd_close(p[0]);
        tulip_fd_close(p[1]);
    }
    return 0;
}

Test(fd, allocation_failure)
{
    int rcs[9] = {0};
    tulip_task *t;
    int nomem = 0;

    fx_begin();
    t = fx_spawn(nomem_body, rcs);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    for (int i = 1; i <= 8; i++) {
        cr_assert(rcs[i] == 0 || rcs[i] == -ENOMEM, "rc %d", rcs[i]);
        nomem += rcs[i] == -ENOMEM;
    }
    cr_assert_geq(nomem, 1); /* the first allocation at least */
    cr_assert_eq(rcs[8], 0);
    tulip_task_release(t);
    fx_end();
}

/* Persistent failure: every allocation from the first wait on fails. */
static int nomem_persistent_body(void *arg)
{
    int p[2];
    char b;

    (void)arg;
    make_sp(p);
    test_alloc_fail_nth(&alloc_c, 1, true);
    cr_expect_eq(tulip_fd_wait(p[0], TULIP_READ), -ENOMEM);
    cr_expect_eq(tulip_read(p[0], &b, 1), -ENOMEM);
    cr_expect_eq(tulip_add_reader(loop, p[0], nop_cb, NULL), -ENOMEM);
    test_alloc_fail_nth(&alloc_c, 0, false);
    tulip_fd_close(p[0]);
    tulip_fd_close(p[1]);
    return 0;
}

Test(fd, allocation_failure_persistent)
{
    tulip_task *t;

    fx_begin();
    t = fx_spawn(nomem_persistent_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    fx_end();
}

/* ---- regular files ------------------------------------------------------- */

static int file_body(void *arg)
{
    int fd = *(int *)arg;
    char buf[8];

    /* epoll refuses regular files (-EPERM); poll reports them ready */
    int rc = tulip_fd_wait(fd, TULIP_READ);
    cr_expect(rc == 0 || rc == -EPERM, "rc %d", rc);
    /* reads never wait on a regular file */
    return (int)tulip_read(fd, buf, sizeof(buf));
}

Test(fd, regular_file)
{
    char path[] = "/tmp/tulip_fd_XXXXXX";
    int fd = mkstemp(path);
    tulip_task *t;

    fx_begin();
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(write(fd, "12345", 5), 5);
    lseek(fd, 0, SEEK_SET);
    t = fx_spawn(file_body, &fd);
    fx_run();
    cr_assert_eq(fx_result(t), 5);
    tulip_task_release(t);
    tulip_fd_close(fd);
    fx_end();
}
