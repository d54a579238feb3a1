/* SPDX-License-Identifier: MIT */
/*
 * fd readiness watchers (src/loop/loop.h) with pipes and socketpairs, on
 * both backends: read and write readiness, a reader and a writer on one fd,
 * changing events, end of file, a watcher stopped after the poll found it
 * ready, asyncio's order of I/O callbacks within a pass, watchers keeping
 * tulip_loop_run() going, the documented bound of the zero-timeout poll
 * budget, and bad arguments.
 */
/* ctest: labels=unit;backends timeout=120 */
#define _GNU_SOURCE 1 /* pipe2 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop/loop.h"

TestSuite(io, .timeout = 20);

struct watch {
    struct tulip__io io;
    int calls;
    unsigned last;
    char log_id;
};

static char order[64];
static tulip_loop *cur;

static void watch_fn(struct tulip__io *io, unsigned revents)
{
    struct watch *w = tulip__container_of(io, struct watch, io);
    w->calls++;
    w->last = revents;
    size_t n = strlen(order);
    if (n + 1 < sizeof(order)) { /* long runs only count calls */
        order[n] = w->log_id;
        order[n + 1] = 0;
    }
}

static tulip_loop *new_loop(bool virtual_clock)
{
    tulip_loop *loop;
    struct tulip_loop_opts o = {.virtual_clock = virtual_clock};
    cr_assert_eq(tulip_loop_new(&loop, &o), 0);
    order[0] = 0;
    return cur = loop;
}

/* One pass that polls without waiting: a stopping loop polls with timeout 0
 * (asyncio's rule), whatever the poll budget says. */
static int pass_nowait(tulip_loop *loop)
{
    tulip_loop_stop(loop);
    return tulip_loop_run_once(loop);
}

static void mkpipe(int p[2])
{
    cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void mksocks(int s[2])
{
    cr_assert_eq(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s),
        0);
}

Test(io, pipe_readable)
{
    tulip_loop *loop = new_loop(false);
    int p[2];
    mkpipe(p);
    struct watch w = {.io.fn = watch_fn, .log_id = 'r'};
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, p[0], TULIP__IO_READ), 0);
    cr_assert_eq(w.io.fd, p[0]);
    cr_assert_eq(pass_nowait(loop), 1); /* nothing yet */
    cr_assert_eq(w.calls, 0);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(w.calls, 1);
    cr_assert_eq(w.last, TULIP__IO_READ);
    /* level-triggered: still readable, called again */
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(w.calls, 2);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1);
    tulip__loop_io_stop(loop, &w.io);
    tulip__loop_io_stop(loop, &w.io); /* no-op */
    cr_assert_eq(pass_nowait(loop), 0);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

Test(io, reader_and_writer_on_one_fd)
{
    tulip_loop *loop = new_loop(false);
    int s[2];
    mksocks(s);
    struct watch r = {.io.fn = watch_fn, .log_id = 'r'};
    struct watch w = {.io.fn = watch_fn, .log_id = 'w'};
    cr_assert_eq(tulip__loop_io_start(loop, &r.io, s[0], TULIP__IO_READ), 0);
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, s[0], TULIP__IO_WRITE), 0);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(w.calls, 1);
    cr_assert_eq(w.last, TULIP__IO_WRITE);
    cr_assert_eq(r.calls, 0);
    cr_assert_eq(write(s[1], "hi", 2), 2);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.last, TULIP__IO_READ);
    cr_assert_eq(w.calls, 2);
    cr_assert_str_eq(order, "wrw");
    /* the writer stops; the reader keeps working */
    tulip__loop_io_stop(loop, &w.io);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(r.calls, 2);
    cr_assert_eq(w.calls, 2);
    tulip__loop_io_stop(loop, &r.io);
    close(s[0]);
    close(s[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

Test(io, update_events)
{
    tulip_loop *loop = new_loop(false);
    int s[2];
    mksocks(s);
    struct watch w = {.io.fn = watch_fn, .log_id = 'w'};
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, s[0], 0), 0);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(w.calls, 0);
    cr_assert_eq(tulip__loop_io_update(loop, &w.io, TULIP__IO_WRITE), 0);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(w.calls, 1);
    cr_assert_eq(tulip__loop_io_update(loop, &w.io, TULIP__IO_READ), 0);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(w.calls, 1);
    cr_assert_eq(tulip__loop_io_update(loop, &w.io, 8), -EINVAL);
    tulip__loop_io_stop(loop, &w.io);
    cr_assert_eq(tulip__loop_io_update(loop, &w.io, TULIP__IO_READ), -EINVAL);
    close(s[0]);
    close(s[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

Test(io, end_of_file_is_readable)
{
    tulip_loop *loop = new_loop(false);
    int p[2];
    mkpipe(p);
    struct watch w = {.io.fn = watch_fn, .log_id = 'r'};
    tulip__loop_io_start(loop, &w.io, p[0], TULIP__IO_READ);
    close(p[1]);
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(w.calls, 1);
    cr_assert(w.last & TULIP__IO_READ);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 0);
    tulip__loop_io_stop(loop, &w.io);
    close(p[0]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static struct watch *to_stop;

static void stopper_fn(struct tulip__io *io, unsigned revents)
{
    watch_fn(io, revents);
    tulip__loop_io_stop(cur, &to_stop->io);
}

/* Both fds are ready in one poll; the first callback stops the second
 * watcher, whose callback then must not run. */
Test(io, stop_after_poll_found_it_ready)
{
    tulip_loop *loop = new_loop(false);
    int p[2], q[2];
    mkpipe(p);
    mkpipe(q);
    struct watch a = {.io.fn = stopper_fn, .log_id = 'a'};
    struct watch b = {.io.fn = watch_fn, .log_id = 'b'};
    to_stop = &b;
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(write(q[1], "x", 1), 1);
    tulip__loop_io_start(loop, &a.io, p[0], TULIP__IO_READ);
    tulip__loop_io_start(loop, &b.io, q[0], TULIP__IO_READ);
    /* the same, whichever of the two the backend reports first */
    to_stop = &b;
    cr_assert_eq(pass_nowait(loop), 1);
    cr_assert_eq(a.calls + b.calls, 1);
    tulip__loop_io_stop(loop, &a.io);
    tulip__loop_io_stop(loop, &b.io);
    for (int i = 0; i < 2; i++) {
        close(p[i]);
        close(q[i]);
    }
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static void log_a(void *arg)
{
    (void)arg;
    strcat(order, "A");
}

static void log_t(void *arg)
{
    (void)arg;
    strcat(order, "T");
}

/* asyncio: callbacks queued before the poll, then I/O callbacks, then due
 * timers, all in one pass. */
Test(io, order_within_a_pass)
{
    tulip_loop *loop = new_loop(true);
    int p[2];
    mkpipe(p);
    struct watch w = {.io.fn = watch_fn, .log_id = 'i'};
    tulip__loop_io_start(loop, &w.io, p[0], TULIP__IO_READ);
    cr_assert_eq(write(p[1], "x", 1), 1);
    tulip_call_at(loop, 0, log_t, NULL, NULL);
    tulip_call_soon(loop, log_a, NULL, NULL);
    /* a fresh loop polls on its first pass although a callback is ready */
    cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_str_eq(order, "AiT");
    tulip__loop_io_stop(loop, &w.io);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static int wfd;

static void write_later(void *arg)
{
    (void)arg;
    cr_expect_eq(write(wfd, "x", 1), 1);
}

static void read_and_stop(struct tulip__io *io, unsigned revents)
{
    watch_fn(io, revents);
    char c;
    cr_expect_eq(read(io->fd, &c, 1), 1);
    tulip__loop_io_stop(cur, io);
}

/* An active watcher is work: run waits (really) for the fd. */
Test(io, watcher_keeps_run_going)
{
    tulip_loop *loop = new_loop(false);
    int p[2];
    mkpipe(p);
    wfd = p[1];
    struct watch w = {.io.fn = read_and_stop, .log_id = 'r'};
    tulip__loop_io_start(loop, &w.io, p[0], TULIP__IO_READ);
    int64_t t0 = tulip_loop_time_ns(loop);
    tulip_call_later(loop, 10 * TULIP_MSEC, write_later, NULL, NULL);
    cr_assert_eq(tulip_loop_run(loop), 0);
    cr_assert_eq(w.calls, 1);
    cr_assert_geq(tulip_loop_time_ns(loop) - t0, 10 * TULIP_MSEC);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static int chain_left, chain_pass;
static int last_io_pass, max_gap;

static void chain(void *arg)
{
    (void)arg;
    chain_pass++;
    if (--chain_left > 0)
        tulip_call_soon(cur, chain, NULL, NULL);
}

static void io_gap(struct tulip__io *io, unsigned revents)
{
    watch_fn(io, revents);
    int gap = chain_pass - last_io_pass;
    if (gap > max_gap)
        max_gap = gap;
    last_io_pass = chain_pass;
}

/* A watcher that is always ready beside a busy chain of callbacks: the
 * zero-timeout poll is rate-limited, but its callback still runs at least
 * once every TULIP__LOOP_POLL_BUDGET + 1 passes (64 + 1). */
Test(io, poll_budget_bounds_io_latency)
{
    tulip_loop *loop = new_loop(false);
    int s[2];
    mksocks(s);
    struct watch w = {.io.fn = io_gap, .log_id = 'w'};
    tulip__loop_io_start(loop, &w.io, s[0], TULIP__IO_WRITE);
    chain_left = 10000;
    chain_pass = last_io_pass = max_gap = 0;
    tulip_call_soon(loop, chain, NULL, NULL);
    while (chain_left > 0)
        cr_assert_eq(tulip_loop_run_once(loop), 1);
    cr_assert_leq(max_gap, 65);
    cr_assert_geq(w.io.fd, 0);
    cr_assert_geq(w.calls, 10000 / 65);
    tulip__loop_io_stop(loop, &w.io);
    close(s[0]);
    close(s[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}

Test(io, many_fds)
{
    enum { N = 100 };
    tulip_loop *loop = new_loop(false);
    static int p[N][2];
    static struct watch w[N];
    for (int i = 0; i < N; i++) {
        mkpipe(p[i]);
        w[i] = (struct watch){.io.fn = read_and_stop, .log_id = 'x'};
        cr_assert_eq(
            tulip__loop_io_start(loop, &w[i].io, p[i][0], TULIP__IO_READ), 0);
    }
    order[0] = 0;
    for (int i = N - 1; i >= 0; i--)
        cr_assert_eq(write(p[i][1], "x", 1), 1);
    strcpy(order, "");
    cr_assert_eq(tulip_loop_run(loop), 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(w[i].calls, 1);
        close(p[i][0]);
        close(p[i][1]);
    }
    cr_assert_eq(tulip_loop_close(loop), 0);
}

static void ignore_fn(struct tulip__io *io, unsigned revents)
{
    (void)io;
    (void)revents;
}

Test(io, errors)
{
    tulip_loop *loop = new_loop(false);
    int p[2];
    mkpipe(p);
    struct watch w = {.io.fn = watch_fn};
    struct tulip__io nofn = {.fn = NULL};
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, -1, TULIP__IO_READ),
                 -EINVAL);
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, p[0], 16), -EINVAL);
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, p[0], TULIP__IO_ERR),
                 -EINVAL);
    cr_assert_eq(tulip__loop_io_start(loop, &nofn, p[0], TULIP__IO_READ),
                 -EINVAL);
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, p[0], TULIP__IO_READ), 0);
    cr_assert_eq(tulip__loop_io_start(loop, &w.io, p[0], TULIP__IO_READ),
                 -EINVAL, "already active");
    tulip__loop_io_stop(loop, &w.io);

    /* epoll refuses regular files; poll accepts them (always ready) */
    char path[] = "/tmp/tulip-io-XXXXXX";
    int f = mkstemp(path);
    cr_assert_geq(f, 0);
    unlink(path);
    struct tulip__io fio = {.fn = ignore_fn};
    int rc = tulip__loop_io_start(loop, &fio, f, TULIP__IO_READ);
    if (strcmp(tulip_loop_backend(loop), "epoll") == 0) {
        cr_assert_eq(rc, -EPERM);
        cr_assert_not(fio.active);
    } else {
        cr_assert_eq(rc, 0);
        tulip__loop_io_stop(loop, &fio);
    }
    close(f);
    close(p[0]);
    close(p[1]);
    cr_assert_eq(tulip_loop_close(loop), 0);
}
