/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 hello-world under wrk (Debian's), keep-alive, over loopback:
 * tulip's streams and server, and the driver of every HTTP peer of
 * bench/peers/ alike.
 *
 * The server is a forked child running a tulip server whose handler reads
 * a request head with tulip_stream_read_sep("\r\n\r\n") and writes a fixed
 * 13-byte "Hello, world!" response, or with --server PROG a peer program
 * (bench/peers/http_<peer>.*, started as `PROG PORT`, see netbench.h). Like
 * the other minimal servers, it ignores request bodies (wrk sends GETs).
 * Before measuring, one request is sent by hand and the response checked
 * (status 200, the body); wrk's own count of non-2xx responses and socket
 * errors must be zero, or the run fails.
 *
 * wrk runs with one thread and 100 connections on one CPU, the server on
 * another ($BENCH_NET_CPUS, default 0,1): a 1 s warm-up run, then a run of
 * --secs S (default 2) whose requests are counted.
 *
 *   http.server_cpu_100  us of server CPU (user + system of the whole
 *                        server process, /proc/PID/stat, from just before
 *                        the measured wrk run starts to its end) per
 *                        request: the figure that ranks servers
 *   http.server_user_100 the user-mode part of it: the server's own work
 *   http.rate_100        requests per second, as wrk reports them
 *
 * --smoke: no warm-up, a 1 s run (wrk's shortest), 10 connections.
 * Exits 77 when wrk is not installed.
 */
#define _GNU_SOURCE 1
#include "bench.h"
#include "netbench.h"
#include "tulip.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY "Hello, world!"
static const char resp[] = "HTTP/1.1 200 OK\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Length: 13\r\n"
                           "\r\n" BODY;

/* ---- the server (child) -------------------------------------------------- */

static int http_handler(tulip_stream *s, void *arg)
{
    char head[8192];
    size_t partial;

    (void)arg;
    while (tulip_stream_read_sep(s, "\r\n\r\n", 4, head, sizeof(head),
                                 &partial) > 0) {
        if (tulip_stream_write(s, resp, sizeof(resp) - 1) != 0 ||
            tulip_stream_drain(s) != 0)
            break;
    }
    return 0;
}

/* ---- the load ------------------------------------------------------------ */

/* One GET by hand: 0 when the response is a 200 with the body. */
static int check_response(int port)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char buf[4096];
    size_t got = 0;
    int fd = nb_connect(port);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    if (fd < 0 || write(fd, req, sizeof(req) - 1) != sizeof(req) - 1)
        goto bad;
    while (got < sizeof(buf) - 1 && poll(&pfd, 1, 5000) == 1) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        if (strstr(buf, BODY))
            break;
    }
    buf[got] = '\0';
    close(fd);
    if (strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, BODY))
        return 0;
bad:
    fprintf(stderr, "bench_http: bad response to a GET: \"%.80s\"\n",
            got ? buf : "");
    return -1;
}

/* Run wrk on cpu for secs with conns connections; its output in out. */
static int run_wrk(int port, int conns, int secs, int cpu, char *out,
                   size_t cap)
{
    char c[16], d[16], url[64];
    char *argv[] = {
        (char *)"wrk",       (char *)"-t1", (char *)"-c", c,   (char *)"-d", d,
        (char *)"--timeout", (char *)"5s",  url,          NULL};
    size_t got = 0;
    int p[2], st;
    pid_t pid;

    snprintf(c, sizeof(c), "%d", conns);
    snprintf(d, sizeof(d), "%ds", secs);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    if (pipe(p) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        nb_child_setup(cpu);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    for (;;) {
        ssize_t r = read(p[0], out + got, cap - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == cap - 1)
            break;
    }
    out[got] = '\0';
    close(p[0]);
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_http: wrk failed:\n%s", out);
        return -1;
    }
    return 0;
}

/* A number following key in wrk's output, or -1. */
static double wrk_field(const char *out, const char *key)
{
    const char *p = strstr(out, key);

    return p ? atof(p + strlen(key)) : -1;
}

int main(int argc, char **argv)
{
    int smoke = bench_is_smoke(argc, argv);
    int secs = smoke ? 1 : 2, conns = smoke ? 10 : 100, port, ccpu, scpu;
    const char *peer = NULL;
    char scratch[256] = "";
    static char out[16384];
    struct nb_times t0, t1;
    double cpu, user, reqs, rate;
    char *line;
    pid_t pid;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--secs") == 0 && i + 1 < argc)
            secs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            peer = argv[++i];
    }
    if (secs < 1)
        return 2;
    if (system("wrk --version >/dev/null 2>&1") == 127 << 8) {
        fprintf(stderr, "bench_http: wrk is not installed: skipped\n");
        return 77;
    }
    nb_cpus(&ccpu, &scpu);
    pid = nb_start_server(peer, http_handler, "bench_http", scratch,
                          sizeof(scratch), &port, scpu);
    if (pid < 0)
        return pid == -77 ? 77 : 1;
    nb_pin(0, ccpu);
    if (check_response(port) != 0 ||
        (!smoke && run_wrk(port, conns, 1, ccpu, out, sizeof(out)) != 0))
        goto fail;

    t0 = nb_proc_times(pid);
    if (run_wrk(port, conns, secs, ccpu, out, sizeof(out)) != 0)
        goto fail;
    t1 = nb_proc_times(pid);
    cpu = t1.user + t1.sys - t0.user - t0.sys;
    user = t1.user - t0.user;
    line = strstr(out, " requests in ");
    while (line && line > out && line[-1] != '\n')
        line--;
    reqs = line ? atof(line) : -1;
    rate = wrk_field(out, "Requests/sec:");
    if (reqs <= 0 || rate <= 0 || strstr(out, "Non-2xx") ||
        strstr(out, "Socket errors")) {
        fprintf(stderr, "bench_http: wrk saw errors or no requests:\n%s", out);
        goto fail;
    }
    bench_report("http.server_cpu_100", cpu * 1e6 / reqs, "us/req");
    bench_report("http.server_user_100", user * 1e6 / reqs, "us/req");
    bench_report("http.rate_100", rate, "req/s");
    nb_stop(pid);
    nb_scratch_remove(scratch);
    return 0;
fail:
    nb_stop(pid);
    nb_scratch_remove(scratch);
    return 1;
}
