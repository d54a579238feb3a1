/* SPDX-License-Identifier: MIT */
/*
 * TCP echo over loopback, 64-byte messages, with tulip's streams and server,
 * and the load generator that drives every echo peer of bench/peers/ alike.
 *
 * The server is a forked child running a tulip server whose handler is
 * asyncio's read / write / drain loop, or with --server PROG a peer program
 * (bench/peers/echo_<peer>.*, started as `PROG PORT`, see netbench.h). The
 * load generator is this process: single-threaded, level-triggered epoll,
 * exactly one 64-byte message in flight per connection. The server runs on
 * one CPU and the load generator on another ($BENCH_NET_CPUS, default 0,1).
 *
 *   echo.server_cpu_100  us of server CPU (user + system of the whole server
 *                        process, from /proc/PID/stat over the measured
 *                        window) per message, 100 connections: the figure
 *                        that ranks servers (the load generator saturates
 *                        its core first, so throughput hardly does)
 *   echo.server_user_100 the user-mode part of it: the server's own work,
 *                        where the kernel's (the same system calls for
 *                        every server) is left out
 *   echo.rate_100        messages per second, 100 connections
 *   echo.server_cpu_1    us of server CPU per message, 1 connection
 *   echo.rate_1          messages per second, 1 connection
 *   echo.rtt_1           us, median round trip over 1 connection
 *
 * Each run warms up for 0.5 s, then measures for --secs S (default 2).
 * --smoke: 0.05 s of warm-up, 0.2 s measured, the same names.
 */
#define _GNU_SOURCE 1
#include "bench.h"
#include "netbench.h"
#include "tulip.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG 64
#define MAXC 1000

/* ---- the server (child) -------------------------------------------------- */

static char echo_buf[65536]; /* used between a read and its write only */

static int echo_handler(tulip_stream *s, void *arg)
{
    ssize_t n;
    int rc = 0;

    (void)arg;
    while ((n = tulip_stream_read(s, echo_buf, sizeof(echo_buf))) > 0) {
        rc = tulip_stream_write(s, echo_buf, (size_t)n);
        if (rc == 0)
            rc = tulip_stream_drain(s);
        if (rc)
            break;
    }
    return 0;
}

/* ---- the load client ----------------------------------------------------- */

struct conn {
    int fd;
    size_t got; /* bytes of the echo received */
    int64_t t0; /* when the message was sent */
};

static struct conn conns[MAXC];
static double *rtts; /* round trips of the measured window, us */
static size_t nrtt, caprtt;

static void send_msg(struct conn *c)
{
    static const char msg[MSG] = "0123456789abcdef0123456789abcdef"
                                 "0123456789abcdef0123456789abcde";

    c->got = 0;
    c->t0 = bench_now_ns();
    if (send(c->fd, msg, MSG, MSG_NOSIGNAL) != MSG) {
        perror("bench_echo: send");
        exit(1);
    }
}

static int connect_one(int port)
{
    int fd = nb_connect(port), one = 1;

    if (fd < 0) {
        perror("bench_echo: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Run n connections for warm-up then secs; returns messages measured and
 * sets *cpu_us to the server's CPU per message, *user_us to the user-mode
 * part of it, *rate to messages per second. */
static long run(pid_t pid, int port, int n, double warm, double secs,
                double *cpu_us, double *user_us, double *rate)
{
    struct epoll_event evs[256];
    int ep = epoll_create1(0);
    int64_t start, warm_end, end;
    long msgs = 0;
    struct nb_times t0 = {0, 0}, t1;
    double per_msg;
    bool measuring = false;

    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        conns[i].fd = connect_one(port);
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    for (int i = 0; i < n; i++)
        send_msg(&conns[i]);
    start = bench_now_ns();
    warm_end = start + (int64_t)(warm * 1e9);
    end = warm_end + (int64_t)(secs * 1e9);
    nrtt = 0;
    for (;;) {
        int k = epoll_wait(ep, evs, 256, 100);
        int64_t now = bench_now_ns();
        if (!measuring && now >= warm_end) {
            measuring = true;
            t0 = nb_proc_times(pid);
            warm_end = now;
        }
        if (measuring && now >= end)
            break;
        for (int e = 0; e < k; e++) {
            struct conn *c = &conns[evs[e].data.u32];
            char buf[MSG];
            ssize_t r = recv(c->fd, buf, MSG - c->got, 0);
            if (r <= 0) {
                fprintf(stderr, "bench_echo: connection lost\n");
                exit(1);
            }
            c->got += (size_t)r;
            if (c->got < MSG)
                continue;
            if (measuring) {
                msgs++;
                if (nrtt < caprtt)
                    rtts[nrtt++] = (double)(now - c->t0) / 1e3;
            }
            send_msg(c);
        }
    }
    t1 = nb_proc_times(pid);
    per_msg = 1e6 / (double)(msgs ? msgs : 1);
    *cpu_us = (t1.user + t1.sys - t0.user - t0.sys) * per_msg;
    *user_us = (t1.user - t0.user) * per_msg;
    *rate = (double)msgs / ((double)(bench_now_ns() - warm_end) / 1e9);
    if (msgs == 0) {
        fprintf(stderr, "bench_echo: no message echoed in %.1f s\n", secs);
        exit(1);
    }
    for (int i = 0; i < n; i++)
        close(conns[i].fd);
    close(ep);
    return msgs;
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    double secs = smoke ? 0.2 : 2.0, warm = smoke ? 0.05 : 0.5, cpu, user;
    double rate;
    const char *peer = NULL;
    char scratch[256] = "";
    int port, ccpu, scpu;
    pid_t pid;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--secs") == 0 && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            peer = argv[++i];
    }
    caprtt = 4u << 20;
    rtts = malloc(caprtt * sizeof(*rtts));
    if (!rtts || secs <= 0)
        return 1;
    nb_cpus(&ccpu, &scpu);
    pid = nb_start_server(peer, echo_handler, "bench_echo", scratch,
                          sizeof(scratch), &port, scpu);
    if (pid < 0)
        return pid == -77 ? 77 : 1;
    nb_pin(0, ccpu);

    run(pid, port, 100, warm, secs, &cpu, &user, &rate);
    bench_report("echo.server_cpu_100", cpu, "us/msg");
    bench_report("echo.server_user_100", user, "us/msg");
    bench_report("echo.rate_100", rate, "msg/s");
    run(pid, port, 1, warm, secs, &cpu, &user, &rate);
    qsort(rtts, nrtt, sizeof(*rtts), bench_cmp_double);
    bench_report("echo.server_cpu_1", cpu, "us/msg");
    bench_report("echo.rate_1", rate, "msg/s");
    bench_report("echo.rtt_1", nrtt ? rtts[nrtt / 2] : 0, "us");

    nb_stop(pid);
    nb_scratch_remove(scratch);
    free(rtts);
    return 0;
}
