/* SPDX-License-Identifier: MIT */
/*
 * Servers: echo over many concurrent clients with every byte checked, two
 * SO_REUSEPORT listeners on one port, a failing handler that affects only
 * its connection, 1,000 connections opened and dropped at once, running out
 * of fds (a low RLIMIT_NOFILE: the server reports once, backs off without
 * spinning and recovers when fds are freed), graceful close with a grace
 * period after which handlers are cancelled, serve_forever cancelled, and a
 * client that trickles one byte at a time closed by the handler's deadline.
 * Real I/O on 127.0.0.1 port 0, so the real clock, with tolerances; every
 * test closes its loop with 0 and leaks nothing.
 */
/* ctest: labels=unit;net;backends timeout=180 */
#define _GNU_SOURCE 1
#include "net_fixture.h"
#include "tools.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static tulip_server *srv;
static char port[16];

static void start(tulip_server_fn *fn, void *arg, struct tulip_server_opts *o)
{
    struct tulip_server_opts d = {0};

    if (!o)
        o = &d;
    if (!o->fds) {
        o->host = "127.0.0.1";
        o->port = "0";
    }
    o->loop = loop;
    cr_assert_eq(tulip_server_start(&srv, fn, arg, o), 0);
    int p = tulip_server_port(srv);
    cr_assert_gt(p, 0);
    snprintf(port, sizeof(port), "%d", p);
}

/* ---- echo ---------------------------------------------------------------- */

static int handled;

static int echo_handler(tulip_stream *s, void *arg)
{
    char buf[512];
    ssize_t n;

    (void)arg;
    handled++;
    while ((n = tulip_stream_read_line(s, buf, sizeof(buf))) > 0) {
        if (n == 5 && memcmp(buf, "fail\n", 5) == 0)
            return -EIO;
        int rc = tulip_stream_write(s, buf, (size_t)n);
        if (rc == 0)
            rc = tulip_stream_drain(s);
        if (rc)
            return rc;
    }
    return (int)n;
}

#define LINES 100

static int echo_client(void *arg)
{
    int id = (int)(intptr_t)arg;
    tulip_stream *s;
    char line[128], back[128];
    int fd, rc;

    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    rc = tulip_stream_new(&s, fd, NULL);
    if (rc)
        return rc;
    for (int i = 0; i < LINES && rc == 0; i++) {
        int n = snprintf(line, sizeof(line), "client %d line %d %.*s\n", id, i,
                         (id * 7 + i) % 60,
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        rc = tulip_stream_write(s, line, (size_t)n);
        if (rc == 0 && tulip_stream_read_line(s, back, sizeof(back)) != n)
            rc = -100;
        if (rc == 0 && memcmp(line, back, (size_t)n) != 0)
            rc = -101;
    }
    tulip_stream_wait_closed(s);
    tulip_stream_free(s);
    return rc;
}

#define CLIENTS 50

static int echo_main(void *arg)
{
    tulip_task *c[CLIENTS];
    int bad = 0;

    (void)arg;
    for (int i = 0; i < CLIENTS; i++)
        tulip_spawn(&c[i], loop, echo_client, (void *)(intptr_t)i);
    for (int i = 0; i < CLIENTS; i++) {
        int r = -1;
        tulip_task_join(c[i], &r);
        bad += r != 0;
        tulip_task_release(c[i]);
    }
    cr_expect_eq(tulip_server_close(srv, slow_ns(TULIP_SEC)), 0);
    cr_expect_eq(tulip_server_connections(srv), 0);
    return bad;
}

Test(server, echo_many_clients)
{
    tulip_task *t;

    net_begin();
    handled = 0;
    start(echo_handler, NULL, NULL);
    cr_assert(tulip_server_is_serving(srv));
    t = fx_spawn(echo_main, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(handled, CLIENTS);
    cr_assert_eq(fx_reports, 0, "%s", fx_report_msg);
    cr_assert_not(tulip_server_is_serving(srv));
    tulip_task_release(t);
    tulip_server_free(srv);
    net_end();
}

/* Two SO_REUSEPORT listeners on one port, given as fds. */
Test(server, several_listeners_reuseport)
{
    struct tulip_listen_opts lo = {.reuse_port = true};
    struct tulip_server_opts o = {0};
    int fds[2];
    char p0[16];
    tulip_task *t;

    net_begin();
    cr_assert_eq(tulip_tcp_listen(&fds[0], "127.0.0.1", "0", &lo), 0);
    snprintf(p0, sizeof(p0), "%d", tulip_sock_port(fds[0]));
    cr_assert_eq(tulip_tcp_listen(&fds[1], "127.0.0.1", p0, &lo), 0);
    o.fds = fds;
    o.nfds = 2;
    handled = 0;
    start(echo_handler, NULL, &o);
    cr_assert_str_eq(port, p0);
    t = fx_spawn(echo_main, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(handled, CLIENTS);
    tulip_task_release(t);
    tulip_server_free(srv);
    net_end();
}

/* ---- a failing handler affects only its connection ---------------------- */

static int failing_client(void *arg)
{
    tulip_stream *s;
    char buf[64];
    int fd, rc;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    tulip_stream_new(&s, fd, NULL);
    tulip_stream_write(s, "ok\nfail\n", 8);
    cr_expect_eq(tulip_stream_read_line(s, buf, sizeof(buf)), 3);
    /* the server closes this connection only */
    cr_expect_eq(tulip_stream_read_line(s, buf, sizeof(buf)), 0);
    tulip_stream_wait_closed(s);
    tulip_stream_free(s);
    return 0;
}

static int isolation_main(void *arg)
{
    tulip_task *c[10], *f;
    int bad = 0;

    (void)arg;
    tulip_spawn(&f, loop, failing_client, NULL);
    for (int i = 0; i < 10; i++)
        tulip_spawn(&c[i], loop, echo_client, (void *)(intptr_t)i);
    for (int i = 0; i < 10; i++) {
        int r = -1;
        tulip_task_join(c[i], &r);
        bad += r != 0;
        tulip_task_release(c[i]);
    }
    tulip_task_join(f, NULL);
    tulip_task_release(f);
    cr_expect(tulip_server_is_serving(srv));
    cr_expect_eq(tulip_server_close(srv, slow_ns(TULIP_SEC)), 0);
    return bad;
}

Test(server, failing_handler_is_isolated)
{
    tulip_task *t;

    net_begin();
    start(echo_handler, NULL, NULL);
    t = fx_spawn(isolation_main, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(fx_reports, 1);
    cr_assert_eq(fx_report_err, -EIO);
    cr_assert_str_eq(fx_report_msg, "connection handler failed");
    tulip_task_release(t);
    tulip_server_free(srv);
    net_end();
}

/* ---- 1,000 connections opened and dropped at once ----------------------- */

#define CONNS 1000 /* test_scaled() under valgrind */

static int drop_client(void *arg)
{
    int fd, rc;

    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    if ((intptr_t)arg % 2)
        tulip_write(fd, "half a line", 11);
    tulip_fd_close(fd);
    return 0;
}

static int drop_main(void *arg)
{
    int n = (int)(intptr_t)arg, bad = 0;
    tulip_task **c = calloc((size_t)n, sizeof(*c));

    for (int i = 0; i < n; i++)
        tulip_spawn(&c[i], loop, drop_client, (void *)(intptr_t)i);
    for (int i = 0; i < n; i++) {
        int r = -1;
        tulip_task_join(c[i], &r);
        bad += r != 0;
        tulip_task_release(c[i]);
    }
    free(c);
    /* every handler sees end of file and returns */
    for (int i = 0; i < 500 && tulip_server_connections(srv) > 0; i++)
        tulip_sleep(10 * TULIP_MSEC);
    cr_expect_eq(tulip_server_connections(srv), 0);
    cr_expect_eq(tulip_server_close(srv, slow_ns(TULIP_SEC)), 0);
    return bad;
}

static int sleep_a_bit(void *arg)
{
    (void)arg;
    return tulip_sleep(TULIP_MSEC);
}

Test(server, thousand_connections_dropped)
{
    struct tulip_server_opts o = {.listen = {.backlog = 4096}};
    struct rlimit rl;
    tulip_task *t;
    int n = test_scaled(CONNS, 10);

    net_begin();
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * CONNS + 64 && rl.rlim_max >= 2 * CONNS + 64) {
        rl.rlim_cur = 2 * CONNS + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 2 * CONNS + 64)
        n = (int)(rl.rlim_cur - 64) / 2;
    /* the stack pool keeps the bookkeeping of its slabs: warm it to the
     * number of live tasks before counting bytes */
    for (int i = 0; i < 2 * n + 8; i++)
        cr_assert_eq(tulip_spawn(NULL, loop, sleep_a_bit, NULL), 0);
    fx_run();
    cr_assert_eq(tulip_loop_close(loop), 0);
    fx_bytes0 = alloc_c.live_bytes;
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    cr_assert_eq(tulip_loop_set_error_handler(loop, fx_on_error, NULL), 0);
    handled = 0;
    start(echo_handler, NULL, &o);
    t = fx_spawn(drop_main, (void *)(intptr_t)n);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(handled, n);
    cr_assert_eq(fx_reports, 0, "%s: %s", fx_report_msg,
                 tulip_err_name(fx_report_err));
    tulip_task_release(t);
    tulip_server_free(srv);
    net_end();
}

/* ---- out of fds: report once, back off, recover ------------------------- */

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int hog[64];
static int nhog;

/* Take every fd left but one, for the client: the server cannot accept. */
static void hog_all_but_one(void)
{
    while (nhog < 64 && (hog[nhog] = dup(0)) >= 0)
        nhog++;
    cr_expect_lt(nhog, 64);
    close(hog[--nhog]);
}

/* The server reported running out of fds, once: give the fds back, expect
 * the client's line on s echoed within 5 s and no other report, close. */
static void fds_back_expect_echo(tulip_stream *s)
{
    char buf[16];
    int rc;

    cr_expect_eq(fx_reports, 1, "%d reports, last %s", fx_reports,
                 fx_report_msg);
    cr_expect_eq(fx_report_err, -EMFILE, "got %s",
                 tulip_err_name(fx_report_err));
    while (nhog > 0)
        close(hog[--nhog]);
    rc = (int)tulip_stream_read_line_until(
        s, buf, sizeof(buf), tulip_now() + slow_ns(5 * TULIP_SEC));
    cr_expect_eq(rc, 5, "got %s", tulip_err_name(rc));
    cr_expect_eq(fx_reports, 1, "%d reports, last %s: %s", fx_reports,
                 fx_report_msg, tulip_err_name(fx_report_err));
    tulip_stream_wait_closed(s);
    tulip_stream_free(s);
    cr_expect_eq(tulip_server_close(srv, slow_ns(TULIP_SEC)), 0);
}

/* Run main_fn on a server with o whose process is allowed 16 fds more than
 * it has open (a low RLIMIT_NOFILE). */
static void run_short_of_fds(tulip_task_fn *main_fn,
                             struct tulip_server_opts *o)
{
    struct rlimit rl;
    tulip_task *t;
    int probe;

    /* Valgrind emulates RLIMIT_NOFILE and does not apply it to accept4 */
    if (test_under_valgrind())
        cr_skip_test("valgrind does not limit the fds accept4 returns");
    net_begin();
    start(echo_handler, NULL, o);
    probe = dup(0);
    cr_assert_geq(probe, 0);
    close(probe);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)probe + 16;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    nhog = 0;
    t = fx_spawn(main_fn, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_server_free(srv);
    net_end();
}

static int emfile_main(void *arg)
{
    tulip_stream *s;
    char buf[16];
    int fd, rc;
    double cpu0;

    (void)arg;
    hog_all_but_one();
    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    cr_expect_eq(rc, 0, "connect: %s", tulip_err_name(rc));
    cr_expect_eq(tulip_stream_new(&s, fd, NULL), 0);
    cr_expect_eq(tulip_stream_write(s, "ping\n", 5), 0);
    cpu0 = cpu_seconds();
    rc = (int)tulip_stream_read_line_until(s, buf, sizeof(buf),
                                           tulip_now() + 600 * TULIP_MSEC);
    cr_expect_eq(rc, -ETIMEDOUT);
    /* 600 ms of back-off, not of spinning */
    cr_expect_lt(cpu_seconds() - cpu0, 0.2 * (double)slow_ns(1));
    /* fds come back: the server accepts within its back-off */
    fds_back_expect_echo(s);
    return 0;
}

Test(server, out_of_fds_backs_off_and_recovers)
{
    struct tulip_server_opts o = {.backoff_min_ns = 50 * TULIP_MSEC,
                                  .backoff_max_ns = 200 * TULIP_MSEC};

    run_short_of_fds(emfile_main, &o);
}

/* ---- no memory for the back-off's timer: the acceptor yields, lives on --- */

static int nomem_backoff_main(void *arg)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    tulip_stream *s;
    int fd;

    (void)arg;
    hog_all_but_one();
    /* a plain blocking connect: tulip_tcp_connect may arm a timer */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_expect_geq(fd, 0);
    sa.sin_port = htons((uint16_t)atoi(port));
    cr_expect_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_expect_eq(tulip_stream_new(&s, fd, NULL), 0);
    cr_expect_eq(tulip_stream_write(s, "ping\n", 5), 0);
    /* No timer was ever armed on this loop, so the back-off's needs the
     * heap's first allocation: fail all of them until it was tried. */
    test_alloc_fail_nth(&alloc_c, 1, true);
    for (int i = 0; i < 100000 && alloc_c.failures == 0; i++)
        cr_expect_eq(tulip_sleep(0), 0);
    /* the acceptor's retries, a turn each, while memory stays short */
    for (int i = 0; i < 1000; i++)
        cr_expect_eq(tulip_sleep(0), 0);
    test_alloc_fail_nth(&alloc_c, 0, false);
    cr_expect_gt(alloc_c.failures, 1, "the back-off was tried %lu times",
                 alloc_c.failures);
    /* fds and memory come back: the acceptor, still there, accepts */
    fds_back_expect_echo(s);
    return 0;
}

Test(server, backoff_without_memory_keeps_accepting)
{
    struct tulip_server_opts o = {.backoff_min_ns = 50 * TULIP_MSEC};

    run_short_of_fds(nomem_backoff_main, &o);
}

/* ---- graceful close: handlers get a grace period, then are cancelled ----- */

static int stubborn_handler(tulip_stream *s, void *arg)
{
    char buf[64];
    ssize_t n;

    (void)arg;
    n = tulip_stream_read_line(s, buf, sizeof(buf));
    if (n > 0 && buf[0] == 'q')
        return 0; /* a quick one */
    /* waits for a line that never comes */
    n = tulip_stream_read_line(s, buf, sizeof(buf));
    return n < 0 ? (int)n : 0;
}

static int idle_client(void *arg)
{
    int fd, rc;

    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    tulip_write(fd, arg, 2);
    char b[8];
    rc = (int)tulip_read(fd, b, sizeof(b)); /* end of file at close */
    tulip_fd_close(fd);
    return rc;
}

static int graceful_main(void *arg)
{
    tulip_task *c[7];
    int64_t t0;
    int rc;

    (void)arg;
    for (int i = 0; i < 7; i++)
        tulip_spawn(&c[i], loop, idle_client, L(i < 2 ? "q\n" : "s\n"));
    while (tulip_server_connections(srv) < 5)
        tulip_sleep(5 * TULIP_MSEC);
    tulip_sleep(50 * TULIP_MSEC);
    t0 = tulip_now();
    rc = tulip_server_close(srv, 200 * TULIP_MSEC);
    cr_expect_eq(rc, 5, "got %d", rc);
    cr_expect_geq(tulip_now() - t0, 190 * TULIP_MSEC);
    cr_expect_lt(tulip_now() - t0, slow_ns(2 * TULIP_SEC));
    cr_expect_eq(tulip_server_connections(srv), 0);
    for (int i = 0; i < 7; i++) {
        int r = -1;
        tulip_task_join(c[i], &r);
        cr_expect_eq(r, 0, "client %d: %s", i, tulip_err_name(r));
        tulip_task_release(c[i]);
    }
    return 0;
}

Test(server, graceful_close_with_grace_period)
{
    tulip_task *t;

    net_begin();
    start(stubborn_handler, NULL, NULL);
    t = fx_spawn(graceful_main, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(fx_reports, 0, "%s", fx_report_msg);
    tulip_task_release(t);
    tulip_server_free(srv);
    net_end();
}

/* serve_forever, cancelled: the server is closed, its handlers cancelled. */
static int forever_main(void *arg)
{
    (void)arg;
    return tulip_server_serve_forever(srv);
}

static int forever_canceller(void *arg)
{
    tulip_task *f = arg;

    tulip_spawn(NULL, loop, idle_client, L("s\n"));
    while (tulip_server_connections(srv) < 1)
        tulip_sleep(5 * TULIP_MSEC);
    tulip_task_cancel(f);
    return 0;
}

Test(server, serve_forever_cancelled)
{
    tulip_task *f, *c;

    net_begin();
    start(stubborn_handler, NULL, NULL);
    f = fx_spawn(forever_main, NULL);
    c = fx_spawn(forever_canceller, f);
    fx_run();
    cr_assert_eq(fx_result(f), -ECANCELED);
    cr_assert_eq(fx_result(c), 0);
    cr_assert_not(tulip_server_is_serving(srv));
    cr_assert_eq(tulip_server_connections(srv), 0);
    tulip_task_release(f);
    tulip_task_release(c);
    tulip_server_free(srv);
    net_end();
}

/* ---- a client that trickles one byte at a time meets a deadline -------- */

static int deadline_result;

static int request_deadline_handler(tulip_stream *s, void *arg)
{
    char buf[256];
    int64_t deadline = tulip_now() + slow_ns(300 * TULIP_MSEC);
    ssize_t n;

    (void)arg;
    /* the whole request line must come within 300 ms */
    n = tulip_stream_read_line_until(s, buf, sizeof(buf), deadline);
    deadline_result = (int)n;
    return 0;
}

static int trickle_client(void *arg)
{
    int fd, rc, sent = 0;
    char b[8];

    (void)arg;
    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    /* one byte per 50 ms (a second in the real attack), never a '\n' */
    for (;;) {
        if (tulip_write(fd, "x", 1) != 1)
            break;
        sent++;
        ssize_t r = tulip_read_until(fd, b, sizeof(b),
                                     tulip_now() + slow_ns(50 * TULIP_MSEC));
        if (r == 0 || (r < 0 && r != -ETIMEDOUT))
            break; /* closed by the server */
    }
    tulip_fd_close(fd);
    cr_expect_geq(sent, 3);
    cr_expect_leq(sent, 20);
    return 0;
}

static int trickle_main(void *arg)
{
    tulip_task *c;
    int r = -1;

    (void)arg;
    tulip_spawn(&c, loop, trickle_client, NULL);
    tulip_task_join(c, &r);
    tulip_task_release(c);
    cr_expect_eq(tulip_server_close(srv, slow_ns(TULIP_SEC)), 0);
    return r;
}

Test(server, trickling_client_meets_deadline)
{
    tulip_task *t;

    net_begin();
    start(request_deadline_handler, NULL, NULL);
    t = fx_spawn(trickle_main, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(deadline_result, -ETIMEDOUT);
    tulip_task_release(t);
    tulip_server_free(srv);
    net_end();
}

Test(server, bad_arguments)
{
    struct tulip_server_opts o = {0};

    net_begin();
    cr_assert_eq(tulip_server_start(NULL, echo_handler, NULL, &o), -EINVAL);
    cr_assert_eq(tulip_server_start(&srv, NULL, NULL, &o), -EINVAL);
    cr_assert_eq(tulip_server_start(&srv, echo_handler, NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_server_start(&srv, echo_handler, NULL, &o), -EINVAL);
    o.port = "0";
    cr_assert_eq(tulip_server_start(&srv, echo_handler, NULL, &o), -EPERM);
    cr_assert_eq(tulip_server_port(NULL), -EINVAL);
    cr_assert_eq(tulip_server_close(NULL, 0), -EINVAL);
    tulip_server_free(NULL);
    tulip_server_stop(NULL);
    net_end();
}
