/* SPDX-License-Identifier: MIT */
/*
 * TCP echo over loopback with tulip's streams and server, the workload of
 * the reference measurements (perf.md section 4): a forked child runs a
 * tulip server whose handler is asyncio's read / write / drain loop; this
 * process is the load client, single-threaded on level-triggered epoll,
 * keeping exactly one 64-byte message in flight per connection.
 *
 *   echo.server_cpu_100  us of server CPU (user + system, from
 *                        /proc/PID/stat over the measured window) per
 *                        message, 100 connections: the figure that ranks
 *                        servers on a loaded machine (wall time does not)
 *   echo.rtt_1           us, median round trip over 1 connection
 *   echo.server_cpu_1    us of server CPU per message, 1 connection
 *
 * Each run warms up for 0.5 s, then measures for --secs S (default 3).
 * --smoke: 10 connections, 0.2 s. --ref measures, under the same names, a
 * minimal epoll echo server instead (the floor, in the same sitting, as the
 * machine's load moves every figure). Messages per second are printed on stderr
 * for information only (they depend on the client and on the machine's
 * load).
 */
#define _GNU_SOURCE 1
#include "bench.h"
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

static int serve(void *arg)
{
    int *pipe_w = arg;
    struct tulip_server_opts o = {.host = "127.0.0.1", .port = "0"};
    tulip_server *srv;
    int port;

    o.listen.backlog = 1024;
    if (tulip_server_start(&srv, echo_handler, NULL, &o) != 0)
        return 1;
    port = tulip_server_port(srv);
    if (write(*pipe_w, &port, sizeof(port)) != sizeof(port))
        return 1;
    close(*pipe_w);
    tulip_server_serve_forever(srv);
    tulip_server_free(srv);
    return 0;
}

/* The floor, for comparison in the same sitting (--ref): a minimal
 * level-triggered epoll echo server with no library, one read and one
 * write per message. */
static void serve_epoll_ref(int pipe_w)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    struct epoll_event evs[256];
    static char buf[65536];
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int ep = epoll_create1(0), one = 1, port;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(lfd, 1024) != 0)
        _exit(1);
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    port = ntohs(sin.sin_port);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    if (write(pipe_w, &port, sizeof(port)) != sizeof(port))
        _exit(1);
    for (;;) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int e = 0; e < k; e++) {
            int fd = evs[e].data.fd;
            if (fd == lfd) {
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0)
                    continue;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                continue;
            }
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0 || write(fd, buf, (size_t)r) != r)
                close(fd);
        }
    }
}

static int use_ref;

static pid_t start_server(int *port)
{
    int p[2];
    pid_t pid;

    if (pipe(p) != 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        int r = 1;
        if (use_ref)
            serve_epoll_ref(p[1]);
        tulip_run(serve, &p[1], &r, NULL);
        _exit(r);
    }
    close(p[1]);
    if (read(p[0], port, sizeof(*port)) != sizeof(*port)) {
        fprintf(stderr, "bench_echo: the server did not start\n");
        exit(1);
    }
    close(p[0]);
    return pid;
}

/* utime + stime of pid, in seconds. */
static double proc_cpu(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    FILE *f;
    char *p;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    p = strrchr(buf, ')'); /* after the command name */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
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
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        perror("bench_echo: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Run n connections for warm-up then secs; returns messages measured and
 * sets *cpu_us to the server's CPU per message. */
static long run(pid_t pid, int port, int n, double secs, double *cpu_us)
{
    struct epoll_event evs[256];
    int ep = epoll_create1(0);
    int64_t start, warm_end, end;
    long msgs = 0;
    double cpu0 = 0;
    bool measuring = false;

    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        conns[i].fd = connect_one(port);
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    for (int i = 0; i < n; i++)
        send_msg(&conns[i]);
    start = bench_now_ns();
    warm_end = start + 500 * TULIP_MSEC;
    end = warm_end + (int64_t)(secs * 1e9);
    nrtt = 0;
    for (;;) {
        int k = epoll_wait(ep, evs, 256, 100);
        int64_t now = bench_now_ns();
        if (!measuring && now >= warm_end) {
            measuring = true;
            cpu0 = proc_cpu(pid);
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
    *cpu_us = (proc_cpu(pid) - cpu0) * 1e6 / (double)(msgs ? msgs : 1);
    fprintf(stderr, "bench_echo: %d connections: %.0f msg/s\n", n,
            (double)msgs / ((double)(end - warm_end) / 1e9));
    for (int i = 0; i < n; i++)
        close(conns[i].fd);
    close(ep);
    return msgs;
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    double secs = smoke ? 0.2 : 3.0, cpu;
    int many = smoke ? 10 : 100, port;
    pid_t pid;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--secs") == 0 && i + 1 < argc)
            secs = atof(argv[i + 1]);
        if (strcmp(argv[i], "--ref") == 0)
            use_ref = 1; /* the same metrics for the epoll floor */
    }
    caprtt = 4u << 20;
    rtts = malloc(caprtt * sizeof(*rtts));
    if (!rtts)
        return 1;
    pid = start_server(&port);

    run(pid, port, many, secs, &cpu);
    bench_report(smoke ? "echo.server_cpu_10" : "echo.server_cpu_100", cpu,
                 "us/msg");
    run(pid, port, 1, secs, &cpu);
    qsort(rtts, nrtt, sizeof(*rtts), bench_cmp_double);
    bench_report("echo.rtt_1", nrtt ? rtts[nrtt / 2] : 0, "us");
    bench_report("echo.server_cpu_1", cpu, "us/msg");

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    free(rtts);
    return 0;
}
