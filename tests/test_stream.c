/* SPDX-License-Identifier: MIT */
/*
 * Streams: every read form (read, read_exactly, read_line, read_sep) over
 * input that a writer task feeds in random pieces of 1 byte to 64 KiB,
 * every byte checked; the read limit (the bytes stay buffered), end of file
 * and partial data, reads interrupted by deadlines that lose and duplicate
 * nothing, drain with watermarks and several drainers, a peer that resets
 * in the middle of a read and of a write, half-closed peers (write_eof),
 * wait_closed that never hangs when the peer vanishes or stalls, and pipes.
 * Real I/O over socketpairs and 127.0.0.1, so the loop runs on the real
 * clock; every test closes its loop with 0 and leaks nothing.
 */
/* ctest: labels=unit;net;backends timeout=180 */
#define _GNU_SOURCE 1
#include "net_fixture.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int sp[2]; /* the test's socketpair: sp[0] read side, sp[1] peer */

static void pair(void)
{
    cr_assert_eq(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp),
        0);
}

/* A deterministic generator (xorshift), so runs are repeatable. */
static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* ---- the input: lines of random length, fed in random pieces ------------ */

#define DATA_MAX (1024 * 1024)
static char data[DATA_MAX]; /* what the writer sends */
static size_t data_len;
static char got[DATA_MAX + 65536]; /* what the reader received */
static size_t got_len;

/* Lines of 0..300 bytes ending in sep (seplen bytes); sep never appears
 * inside a line. */
static void make_data(size_t total, const char *sep, size_t seplen)
{
    data_len = 0;
    while (data_len + 300 + seplen < total) {
        size_t n = rnd() % 301;
        for (size_t i = 0; i < n; i++)
            data[data_len++] = (char)('a' + rnd() % 26);
        memcpy(data + data_len, sep, seplen);
        data_len += seplen;
    }
    got_len = 0;
}

/* Feed data through fd in pieces of 1 byte to 64 KiB, then close it. */
static int feeder(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t off = 0;

    while (off < data_len) {
        size_t n = 1 + rnd() % 65536;
        if (rnd() % 4 == 0)
            n = 1 + rnd() % 16; /* many small pieces too */
        if (n > data_len - off)
            n = data_len - off;
        ssize_t w = tulip_write(fd, data + off, n);
        if (w != (ssize_t)n)
            return -100;
        off += n;
        if (rnd() % 8 == 0)
            tulip_sleep(0);
    }
    tulip_fd_close(fd);
    return 0;
}

enum { MODE_READ, MODE_EXACTLY, MODE_LINE, MODE_SEP };

static int reader(void *arg)
{
    int mode = (int)(intptr_t)arg;
    tulip_stream *s;
    size_t partial;
    ssize_t r;
    int rc;

    rc = tulip_stream_new(&s, sp[0], NULL);
    if (rc)
        return rc;
    for (;;) {
        size_t n = 1 + rnd() % 70000;
        switch (mode) {
        case MODE_READ:
            r = tulip_stream_read(s, got + got_len, n);
            break;
        case MODE_EXACTLY:
            r = tulip_stream_read_exactly(s, got + got_len, n, &partial);
            if (r == TULIP_EINCOMPLETE) {
                got_len += partial;
                r = 0;
            }
            break;
        case MODE_LINE:
            r = tulip_stream_read_line(s, got + got_len, 65536);
            if (r > 0)
                cr_expect_eq(got[got_len + (size_t)r - 1], '\n');
            break;
        default:
            r = tulip_stream_read_sep(s, "\r\n", 2, got + got_len, 65536,
                                      &partial);
            if (r == TULIP_EINCOMPLETE) {
                cr_expect_eq(partial, 0);
                r = 0;
            } else if (r > 0) {
                cr_expect_eq(memcmp(got + got_len + r - 2, "\r\n", 2), 0);
            }
            break;
        }
        if (r <= 0)
            break;
        got_len += (size_t)r;
    }
    cr_expect(tulip_stream_at_eof(s));
    tulip_stream_free(s);
    return (int)r;
}

static void chunked(int mode, const char *sep, size_t seplen)
{
    tulip_task *w, *r;

    net_begin();
    pair();
    make_data(DATA_MAX, sep, seplen);
    w = fx_spawn(feeder, (void *)(intptr_t)sp[1]);
    r = fx_spawn(reader, (void *)(intptr_t)mode);
    fx_run();
    cr_assert_eq(fx_result(w), 0);
    cr_assert_eq(fx_result(r), 0);
    cr_assert_eq(got_len, data_len);
    cr_assert_eq(memcmp(got, data, data_len), 0);
    tulip_task_release(w);
    tulip_task_release(r);
    net_end();
}

Test(stream, read_random_chunks)
{
    chunked(MODE_READ, "\n", 1);
}

Test(stream, read_exactly_random_chunks)
{
    chunked(MODE_EXACTLY, "\n", 1);
}

Test(stream, read_line_random_chunks)
{
    chunked(MODE_LINE, "\n", 1);
}

Test(stream, read_sep_random_chunks)
{
    chunked(MODE_SEP, "\r\n", 2);
}

/* ---- limits, end of file, partial data ---------------------------------- */

static int limit_body(void *arg)
{
    struct tulip_stream_opts o = {.limit = 16};
    tulip_stream *s;
    char buf[128];
    size_t partial;
    ssize_t r;

    (void)arg;
    cr_expect_eq(tulip_stream_new(&s, sp[0], &o), 0);
    /* a 40-byte line is over the limit of 16: the error keeps the bytes */
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, TULIP_ELIMIT, "got %zd", r);
    cr_expect_geq(tulip_stream_read_buffer_size(s), 17);
    r = tulip_stream_read_sep(s, "\n", 1, buf, sizeof(buf), &partial);
    cr_expect_eq(r, TULIP_ELIMIT);
    /* read_exactly still gets them, in order */
    r = tulip_stream_read_exactly(s, buf, 41, &partial);
    cr_expect_eq(r, 41);
    cr_expect_eq(memcmp(buf, "0123456789012345678901234567890123456789\n", 41),
                 0);
    /* a short line fits; a line that fits the limit but not cap too */
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, 6);
    cr_expect_eq(memcmp(buf, "short\n", 6), 0);
    r = tulip_stream_read_line(s, buf, 4); /* "sixteen\n" > cap 4 */
    cr_expect_eq(r, TULIP_ELIMIT);
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, 8);
    /* end of file before the separator: the partial data */
    r = tulip_stream_read_sep(s, "\n", 1, buf, sizeof(buf), &partial);
    cr_expect_eq(r, TULIP_EINCOMPLETE);
    cr_expect_eq(partial, 4);
    cr_expect_eq(memcmp(buf, "tail", 4), 0);
    cr_expect(tulip_stream_at_eof(s));
    r = tulip_stream_read(s, buf, sizeof(buf));
    cr_expect_eq(r, 0);
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, 0);
    r = tulip_stream_read_exactly(s, buf, 1, &partial);
    cr_expect_eq(r, TULIP_EINCOMPLETE);
    cr_expect_eq(partial, 0);
    tulip_stream_free(s);
    return 0;
}

Test(stream, limit_keeps_buffer_and_eof_partial)
{
    static const char in[] = "0123456789012345678901234567890123456789\n"
                             "short\nsixteen\ntail";
    tulip_task *t;

    net_begin();
    pair();
    cr_assert_eq(write(sp[1], in, sizeof(in) - 1), (ssize_t)sizeof(in) - 1);
    shutdown(sp[1], SHUT_WR);
    t = fx_spawn(limit_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    close(sp[1]);
    net_end();
}

static int eof_partial_exactly(void *arg)
{
    tulip_stream *s;
    char buf[64];
    size_t partial = 99;
    ssize_t r;

    (void)arg;
    cr_expect_eq(tulip_stream_new(&s, sp[0], NULL), 0);
    r = tulip_stream_read_exactly(s, buf, 10, &partial);
    cr_expect_eq(r, TULIP_EINCOMPLETE);
    cr_expect_eq(partial, 3);
    cr_expect_eq(memcmp(buf, "abc", 3), 0);
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, 0);
    tulip_stream_free(s);
    return 0;
}

Test(stream, read_exactly_eof_partial)
{
    tulip_task *t;

    net_begin();
    pair();
    cr_assert_eq(write(sp[1], "abc", 3), 3);
    close(sp[1]);
    t = fx_spawn(eof_partial_exactly, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    cr_assert_str_eq(tulip_strerror(TULIP_EINCOMPLETE),
                     "end of file before the expected bytes");
    cr_assert_str_eq(tulip_err_name(TULIP_ELIMIT), "TULIP_ELIMIT");
    net_end();
}

/* ---- interrupted reads lose and duplicate nothing ----------------------- */

static int trickle(void *arg)
{
    (void)arg;
    /* 50 bytes now, 50 more after the reader's deadline passed */
    for (int half = 0; half < 2; half++) {
        char b[50];
        memset(b, half ? 'B' : 'A', sizeof(b));
        if (tulip_write(sp[1], b, sizeof(b)) != 50)
            return -1;
        tulip_sleep(slow_ns(150 * TULIP_MSEC));
    }
    if (tulip_write(sp[1], "xy\nend", 6) != 6)
        return -1;
    tulip_sleep(slow_ns(150 * TULIP_MSEC));
    return tulip_write(sp[1], "\n", 1) == 1 ? 0 : -1;
}

static int interrupted_body(void *arg)
{
    tulip_stream *s;
    char buf[256];
    size_t partial;
    ssize_t r;

    (void)arg;
    cr_expect_eq(tulip_stream_new(&s, sp[0], NULL), 0);
    r = tulip_stream_read_exactly_until(s, buf, 100, &partial,
                                        tulip_now() + slow_ns(50 * TULIP_MSEC));
    cr_expect_eq(r, -ETIMEDOUT, "got %zd", r);
    cr_expect_eq(partial, 0);
    cr_expect_eq(tulip_stream_read_buffer_size(s), 50);
    r = tulip_stream_read_exactly(s, buf, 100, &partial);
    cr_expect_eq(r, 100);
    for (int i = 0; i < 100; i++)
        cr_expect_eq(buf[i], i < 50 ? 'A' : 'B');
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, 3);
    /* "end" is there, its '\n' is not yet: the deadline keeps the bytes */
    r = tulip_stream_read_sep_until(s, "\n", 1, buf, sizeof(buf), &partial,
                                    tulip_now() + slow_ns(50 * TULIP_MSEC));
    cr_expect_eq(r, -ETIMEDOUT);
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, 4);
    cr_expect_eq(memcmp(buf, "end\n", 4), 0);
    tulip_stream_free(s);
    return 0;
}

Test(stream, deadline_loses_nothing)
{
    tulip_task *w, *r;

    net_begin();
    pair();
    w = fx_spawn(trickle, NULL);
    r = fx_spawn(interrupted_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(w), 0);
    cr_assert_eq(fx_result(r), 0);
    tulip_task_release(w);
    tulip_task_release(r);
    close(sp[1]);
    net_end();
}

/* A large read_exactly (above the limit, read straight into the caller's
 * buffer) that is cancelled pushes its bytes back. */
static char big[300000];
static char big_in[300000];
static tulip_stream *big_s;

static int big_reader(void *arg)
{
    tulip_stream *s;
    size_t partial;
    ssize_t r;

    (void)arg;
    cr_expect_eq(tulip_stream_new(&s, sp[0], NULL), 0);
    r = tulip_stream_read_exactly(s, big_in, sizeof(big_in), &partial);
    cr_expect_eq(r, -ECANCELED);
    cr_expect_gt(tulip_stream_read_buffer_size(s), 0);
    big_s = s; /* a new call that is not cancelled goes on */
    return 0;
}

static int big_reader2(void *arg)
{
    tulip_stream *s = big_s;
    size_t partial;
    ssize_t r;

    (void)arg;
    r = tulip_stream_read_exactly(s, big_in, sizeof(big_in), &partial);

    cr_expect_eq(r, (ssize_t)sizeof(big_in));
    tulip_stream_free(s);
    return 0;
}

static int big_writer(void *arg)
{
    tulip_task *victim = arg;

    if (tulip_write(sp[1], big, 100000) != 100000)
        return -1;
    tulip_sleep(slow_ns(50 * TULIP_MSEC));
    tulip_task_cancel(victim);
    tulip_sleep(slow_ns(50 * TULIP_MSEC));
    if (tulip_write(sp[1], big + 100000, sizeof(big) - 100000) !=
        (ssize_t)(sizeof(big) - 100000))
        return -1;
    return 0;
}

Test(stream, cancelled_large_read_exactly_pushes_back)
{
    tulip_task *r, *w, *r2;
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)rnd();
    net_begin();
    pair();
    r = fx_spawn(big_reader, NULL);
    w = fx_spawn(big_writer, r);
    cr_assert_eq(fx_run_until(r), 0);
    r2 = fx_spawn(big_reader2, NULL);
    fx_run();
    cr_assert_eq(fx_result(w), 0);
    cr_assert_eq(fx_result(r2), 0);
    cr_assert_eq(memcmp(big, big_in, sizeof(big)), 0);
    tulip_task_release(r);
    tulip_task_release(w);
    tulip_task_release(r2);
    close(sp[1]);
    net_end();
}

/* ---- drain: watermarks and several drainers ----------------------------- */

static tulip_stream *ws;
static int drained_ok;
static size_t drained_at_max;

static int drainer(void *arg)
{
    (void)arg;
    int rc = tulip_stream_drain(ws);
    size_t left = tulip_stream_write_buffer_size(ws);

    if (left > drained_at_max)
        drained_at_max = left;
    if (rc == 0)
        drained_ok++;
    return rc;
}

static int slow_sink(void *arg)
{
    char buf[4096];
    size_t total = 0, want = (size_t)(intptr_t)arg;

    tulip_sleep(slow_ns(100 * TULIP_MSEC)); /* let the drainers queue up */
    cr_expect_eq(drained_ok, 0);
    while (total < want) {
        ssize_t r = tulip_read(sp[1], buf, sizeof(buf));
        if (r <= 0)
            return -1;
        total += (size_t)r;
    }
    return 0;
}

Test(stream, drain_watermarks_several_drainers)
{
    struct tulip_stream_opts o = {.high_water = 32768, .low_water = 4096};
    static char chunk[200000];
    tulip_task *d[4], *sink;
    int snd = 4096;

    net_begin();
    pair();
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
    o.loop = loop;
    cr_assert_eq(tulip_stream_new(&ws, sp[0], &o), 0);
    cr_assert_eq(tulip_stream_write(ws, chunk, sizeof(chunk)), 0);
    cr_assert_gt(tulip_stream_write_buffer_size(ws), 32768);
    drained_ok = 0;
    drained_at_max = 0;
    for (int i = 0; i < 4; i++)
        d[i] = fx_spawn(drainer, NULL);
    sink = fx_spawn(slow_sink, (void *)(intptr_t)sizeof(chunk));
    fx_run();
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(fx_result(d[i]), 0);
        tulip_task_release(d[i]);
    }
    cr_assert_eq(fx_result(sink), 0);
    cr_assert_eq(drained_ok, 4);
    cr_assert_leq(drained_at_max, 4096);
    cr_assert_eq(tulip_stream_write_buffer_size(ws), 0);
    tulip_task_release(sink);
    tulip_stream_free(ws);
    close(sp[1]);
    net_end();
}

/* ---- peers that reset, half-close, vanish or stall ---------------------- */

static int lfd;

/* A connected TCP pair over 127.0.0.1 (in a task). */
static int connect_pair(int *cli, int *srv)
{
    char port[16];
    int rc;

    snprintf(port, sizeof(port), "%d", tulip_sock_port(lfd));
    rc = tulip_tcp_connect(cli, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    *srv = tulip_accept(lfd, NULL, NULL);
    return *srv < 0 ? *srv : 0;
}

/* Small kernel buffers, so that a megabyte really stays pending. */
static void small_buffers(int snd_fd, int rcv_fd)
{
    int v = 4096;

    setsockopt(snd_fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    setsockopt(rcv_fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static void reset_close(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    tulip_fd_close(fd);
}

static int reset_read_body(void *arg)
{
    tulip_stream *s;
    int cli, srv;
    char buf[64];
    ssize_t r;

    (void)arg;
    cr_expect_eq(connect_pair(&cli, &srv), 0);
    cr_expect_eq(tulip_stream_new(&s, srv, NULL), 0);
    cr_expect_eq(tulip_write(cli, "hello", 5), 5);
    r = tulip_stream_read_exactly(s, buf, 5, &(size_t){0});
    cr_expect_eq(r, 5);
    reset_close(cli);
    r = tulip_stream_read(s, buf, sizeof(buf));
    cr_expect_eq(r, -ECONNRESET, "got %s", tulip_err_name((int)r));
    r = tulip_stream_read(s, buf, sizeof(buf)); /* sticky */
    cr_expect_eq(r, -ECONNRESET);
    cr_expect_eq(tulip_stream_wait_closed(s), 0);
    tulip_stream_free(s);
    return 0;
}

Test(stream, peer_reset_mid_read)
{
    tulip_task *t;

    net_begin();
    cr_assert_eq(tulip_tcp_listen(&lfd, "127.0.0.1", "0", NULL), 0);
    t = fx_spawn(reset_read_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_fd_close(lfd);
    net_end();
}

static tulip_stream *rs_stream;
static int rs_errs;

static int reset_drainer(void *arg)
{
    (void)arg;
    int rc = tulip_stream_drain(rs_stream);
    if (rc == -ECONNRESET || rc == -EPIPE)
        rs_errs++;
    return 0;
}

static int reset_write_body(void *arg)
{
    static char chunk[1 << 20];
    tulip_task *d[3];
    int cli, srv, rc;

    (void)arg;
    cr_expect_eq(connect_pair(&cli, &srv), 0);
    small_buffers(srv, cli);
    cr_expect_eq(tulip_stream_new(&rs_stream, srv, NULL), 0);
    cr_expect_eq(tulip_stream_write(rs_stream, chunk, sizeof(chunk)), 0);
    for (int i = 0; i < 3; i++)
        tulip_spawn(&d[i], loop, reset_drainer, NULL);
    tulip_sleep(slow_ns(20 * TULIP_MSEC));
    reset_close(cli);
    for (int i = 0; i < 3; i++) {
        tulip_task_join(d[i], NULL);
        tulip_task_release(d[i]);
    }
    cr_expect_eq(rs_errs, 3);
    rc = tulip_stream_write(rs_stream, "x", 1);
    cr_expect(rc == -ECONNRESET || rc == -EPIPE, "got %s", tulip_err_name(rc));
    cr_expect_eq(tulip_stream_wait_closed(rs_stream), 0);
    tulip_stream_free(rs_stream);
    return 0;
}

Test(stream, peer_reset_mid_write)
{
    tulip_task *t;

    net_begin();
    cr_assert_eq(tulip_tcp_listen(&lfd, "127.0.0.1", "0", NULL), 0);
    rs_errs = 0;
    t = fx_spawn(reset_write_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_fd_close(lfd);
    net_end();
}

/* write_eof: the client half-closes, the server reads to end of file and
 * answers on the half that is still open. */
static int half_server(void *arg)
{
    tulip_stream *s;
    char buf[256];
    size_t total = 0;
    ssize_t r;

    cr_expect_eq(tulip_stream_new(&s, (int)(intptr_t)arg, NULL), 0);
    while ((r = tulip_stream_read(s, buf, sizeof(buf))) > 0)
        total += (size_t)r;
    cr_expect_eq(r, 0);
    r = snprintf(buf, sizeof(buf), "got %zu\n", total);
    cr_expect_eq(tulip_stream_write(s, buf, (size_t)r), 0);
    cr_expect_eq(tulip_stream_wait_closed(s), 0);
    tulip_stream_free(s);
    return 0;
}

static int half_body(void *arg)
{
    static char payload[100000];
    tulip_stream *c;
    tulip_task *st;
    int cli, srv;
    char buf[64];
    ssize_t r;

    (void)arg;
    cr_expect_eq(connect_pair(&cli, &srv), 0);
    cr_expect_eq(tulip_spawn(&st, loop, half_server, (void *)(intptr_t)srv), 0);
    cr_expect_eq(tulip_stream_new(&c, cli, NULL), 0);
    cr_expect_eq(tulip_stream_write(c, payload, sizeof(payload)), 0);
    cr_expect_eq(tulip_stream_write_eof(c), 0); /* after the flush */
    cr_expect_eq(tulip_stream_write(c, "x", 1), TULIP_ECLOSED);
    r = tulip_stream_read_line(c, buf, sizeof(buf));
    cr_expect_eq(r, 11);
    cr_expect_eq(memcmp(buf, "got 100000\n", 11), 0);
    cr_expect_eq(tulip_stream_read(c, buf, sizeof(buf)), 0);
    tulip_task_join(st, NULL);
    tulip_task_release(st);
    cr_expect_eq(tulip_stream_wait_closed(c), 0);
    tulip_stream_free(c);
    return 0;
}

Test(stream, half_close_write_eof)
{
    tulip_task *t;

    net_begin();
    cr_assert_eq(tulip_tcp_listen(&lfd, "127.0.0.1", "0", NULL), 0);
    t = fx_spawn(half_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_fd_close(lfd);
    net_end();
}

/* wait_closed with a megabyte pending: a peer that resets ends it at once;
 * a peer that stays but never reads meets the deadline, and the stream is
 * aborted (its fd closed) all the same. */
static int vanish_body(void *arg)
{
    static char chunk[1 << 20];
    tulip_stream *s;
    int cli, srv, rc;
    int64_t t0;

    (void)arg;
    cr_expect_eq(connect_pair(&cli, &srv), 0);
    small_buffers(srv, cli);
    cr_expect_eq(tulip_stream_new(&s, srv, NULL), 0);
    cr_expect_eq(tulip_stream_write(s, chunk, sizeof(chunk)), 0);
    cr_expect_gt(tulip_stream_write_buffer_size(s), 0);
    reset_close(cli);
    t0 = tulip_now();
    rc = tulip_stream_wait_closed_until(s, t0 + slow_ns(5 * TULIP_SEC));
    cr_expect_eq(rc, 0);
    cr_expect_lt(tulip_now() - t0, slow_ns(2 * TULIP_SEC));
    cr_expect_eq(tulip_stream_fd(s), TULIP_ECLOSED);
    tulip_stream_free(s);

    cr_expect_eq(connect_pair(&cli, &srv), 0);
    small_buffers(srv, cli);
    cr_expect_eq(tulip_stream_new(&s, srv, NULL), 0);
    cr_expect_eq(tulip_stream_write(s, chunk, sizeof(chunk)), 0);
    cr_expect_gt(tulip_stream_write_buffer_size(s), 0);
    t0 = tulip_now();
    rc = tulip_stream_wait_closed_until(s, t0 + 200 * TULIP_MSEC);
    cr_expect_eq(rc, -ETIMEDOUT, "got %s", tulip_err_name(rc));
    cr_expect_eq(tulip_stream_fd(s), TULIP_ECLOSED);
    cr_expect_eq(tulip_stream_drain(s), TULIP_ECLOSED);
    tulip_stream_free(s);
    tulip_fd_close(cli);
    return 0;
}

Test(stream, wait_closed_never_hangs)
{
    tulip_task *t;

    net_begin();
    cr_assert_eq(tulip_tcp_listen(&lfd, "127.0.0.1", "0", NULL), 0);
    t = fx_spawn(vanish_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_fd_close(lfd);
    net_end();
}

/* close() while another task reads: the reader wakes with TULIP_ECLOSED. */
static tulip_stream *cr_s;

static int blocked_reader(void *arg)
{
    char b[16];

    (void)arg;
    return (int)tulip_stream_read(cr_s, b, sizeof(b));
}

static int closer(void *arg)
{
    tulip_task *r;

    (void)arg;
    cr_expect_eq(tulip_stream_new(&cr_s, sp[0], NULL), 0);
    tulip_spawn(&r, loop, blocked_reader, NULL);
    tulip_sleep(slow_ns(20 * TULIP_MSEC));
    cr_expect_eq(tulip_stream_read(cr_s, NULL, 0), -EBUSY);
    cr_expect_eq(tulip_stream_close(cr_s), 0);
    tulip_task_join(r, NULL);
    cr_expect_eq(tulip_task_result(r, &(int){0}), 0);
    int res = 0;
    tulip_task_result(r, &res);
    cr_expect_eq(res, TULIP_ECLOSED, "got %s", tulip_err_name(res));
    tulip_task_release(r);
    cr_expect_eq(tulip_stream_wait_closed(cr_s), 0);
    tulip_stream_free(cr_s);
    return 0;
}

Test(stream, close_wakes_reader)
{
    tulip_task *t;

    net_begin();
    pair();
    t = fx_spawn(closer, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    close(sp[1]);
    net_end();
}

/* Pipes: writev, a borrowed fd, and no SIGPIPE when the reader is gone. */
static int pipe_body(void *arg)
{
    int *p = arg;
    tulip_stream *w, *r;
    struct tulip_stream_opts bo = {.borrow_fd = true};
    static char s1[] = "ab", s2[] = "cd\n", s3[] = "ef\n";
    struct iovec iov[3] = {{s1, 2}, {s2, 3}, {s3, 3}};
    char buf[16];

    cr_expect_eq(tulip_stream_new(&w, p[1], NULL), 0);
    cr_expect_eq(tulip_stream_new(&r, p[0], &bo), 0);
    cr_expect_eq(tulip_stream_writev(w, iov, 3), 0);
    cr_expect_eq(tulip_stream_read_line(r, buf, sizeof(buf)), 5);
    cr_expect_eq(tulip_stream_read_line(r, buf, sizeof(buf)), 3);
    cr_expect_eq(tulip_stream_write_eof(w), -ENOTSOCK);
    tulip_stream_free(r); /* borrowed: p[0] stays open */
    cr_expect_eq(fcntl(p[0], F_GETFD) >= 0, 1);
    tulip_fd_close(p[0]);
    int rc = tulip_stream_write(w, "x", 1);
    cr_expect_eq(rc, -EPIPE, "got %s", tulip_err_name(rc));
    tulip_stream_free(w);
    return 0;
}

Test(stream, pipes)
{
    static int p[2];
    tulip_task *t;

    net_begin();
    cr_assert_eq(pipe(p), 0);
    t = fx_spawn(pipe_body, p);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    net_end();
}

Test(stream, bad_arguments)
{
    tulip_stream *s;
    struct tulip_stream_opts o = {.high_water = 10, .low_water = 20};

    net_begin();
    cr_assert_eq(tulip_stream_new(NULL, 0, NULL), -EINVAL);
    cr_assert_eq(tulip_stream_new(&s, -1, NULL), -EINVAL);
    o.loop = loop;
    cr_assert_eq(tulip_stream_new(&s, 0, &o), -EINVAL);
    cr_assert_eq(tulip_stream_new(&s, 0, NULL), -EPERM); /* no loop */
    pair();
    o.high_water = 0;
    o.low_water = 0;
    cr_assert_eq(tulip_stream_new(&s, sp[0], &o), 0);
    cr_assert_eq(tulip_stream_read(s, NULL, 0), -EPERM); /* not a task */
    cr_assert_eq(tulip_stream_drain(s), -EPERM);
    cr_assert_eq(tulip_stream_write(s, NULL, 1), -EINVAL);
    cr_assert_eq(tulip_stream_write(s, "hi", 2), 0);
    tulip_stream_free(s);
    tulip_stream_free(NULL);
    close(sp[1]);
    net_end();
}

/* Out of memory: -ENOMEM, nothing consumed, nothing leaked, and the stream
 * works again once memory is back. */
static int oom_body(void *arg)
{
    static char chunk[200000];
    tulip_stream *s;
    char buf[64];
    int snd = 4096, rc;
    ssize_t r;

    (void)arg;
    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
    test_alloc_fail_nth(&alloc_c, 1, true);
    cr_expect_eq(tulip_stream_new(&s, sp[0], NULL), -ENOMEM);
    test_alloc_fail_nth(&alloc_c, 0, false);
    cr_expect_eq(tulip_stream_new(&s, sp[0], NULL), 0);
    /* the read buffer cannot be made: the line stays in the kernel */
    test_alloc_fail_nth(&alloc_c, 1, true);
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, -ENOMEM, "got %zd", r);
    test_alloc_fail_nth(&alloc_c, 0, false);
    r = tulip_stream_read_line(s, buf, sizeof(buf));
    cr_expect_eq(r, 4);
    cr_expect_eq(memcmp(buf, "abc\n", 4), 0);
    /* the write buffer cannot be made */
    test_alloc_fail_nth(&alloc_c, 1, true);
    rc = tulip_stream_write(s, chunk, sizeof(chunk));
    cr_expect_eq(rc, -ENOMEM);
    cr_expect_eq(tulip_stream_write_buffer_size(s), 0);
    test_alloc_fail_nth(&alloc_c, 0, false);
    rc = tulip_stream_write(s, chunk, sizeof(chunk));
    cr_expect_eq(rc, 0);
    cr_expect_gt(tulip_stream_write_buffer_size(s), 0);
    tulip_stream_abort(s);
    tulip_stream_free(s);
    return 0;
}

Test(stream, out_of_memory)
{
    tulip_task *t;

    net_begin();
    pair();
    cr_assert_eq(write(sp[1], "abc\n", 4), 4);
    t = fx_spawn(oom_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    close(sp[1]);
    net_end();
}
