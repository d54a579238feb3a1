/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the network benchmarks (bench_echo, bench_http): start a server
 * (tulip's own, in a forked child, or a peer program of bench/peers/), pin
 * the server and the load generator to different CPUs, and read a process's
 * CPU time, the figure that ranks servers on a 2-vCPU machine where the load
 * generator saturates its core before a fast server does.
 *
 * A peer server is a program started as `PROG PORT` (PROG.py under Debian's
 * /usr/bin/python3 or $BENCH_PYTHON, PROG.sh under /bin/sh) that listens on
 * 127.0.0.1:PORT until it is killed. The port is found by binding port 0 and
 * closing it again just before the start (a wrapper such as the nginx one
 * cannot report a port of its own choosing). Every child gets
 * PR_SET_PDEATHSIG, so a driver killed by a time limit leaves no server
 * running. $BENCH_TMP is a scratch directory of the driver's, removed after
 * the run, for peers that need files (nginx's configuration).
 *
 * Everything is static inline, as in bench.h.
 */
#ifndef TULIP_NETBENCH_H
#define TULIP_NETBENCH_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tulip.h"

/* Pin pid (0: the caller) to one CPU; cpu < 0 leaves it alone. */
static inline void nb_pin(pid_t pid, int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET((size_t)cpu, &set);
    if (sched_setaffinity(pid, sizeof(set), &set) != 0)
        perror("netbench: sched_setaffinity");
}

/*
 * The CPUs of the load generator and of the server: $BENCH_NET_CPUS as
 * "CLIENT,SERVER" (default "0,1"; empty: no pinning). With a single online
 * CPU both share CPU 0.
 */
static inline void nb_cpus(int *client, int *server)
{
    const char *e = getenv("BENCH_NET_CPUS");
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    *client = 0;
    *server = n > 1 ? 1 : 0;
    if (e && !*e) {
        *client = *server = -1;
        return;
    }
    if (e && sscanf(e, "%d,%d", client, server) != 2) {
        fprintf(stderr, "netbench: BENCH_NET_CPUS is CLIENT,SERVER\n");
        exit(2);
    }
}

/* CPU time of pid, all its threads, in seconds (/proc/PID/stat): in user
 * mode (utime) and in the kernel on its behalf (stime). The kernel makes
 * the split at its tick, so a small part (a server's user time, a tenth of
 * its CPU) is good to about a tenth over a 2 s run (bench/README.md). */
struct nb_times {
    double user, sys;
};

static inline struct nb_times nb_proc_times(pid_t pid)
{
    struct nb_times t = {0, 0};
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    FILE *f;
    char *p;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return t;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    p = strrchr(buf, ')'); /* after the command name */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        return t;
    t.user = (double)ut / (double)sysconf(_SC_CLK_TCK);
    t.sys = (double)st / (double)sysconf(_SC_CLK_TCK);
    return t;
}

/* A TCP port of 127.0.0.1 that is free right now, or -1. */
static inline int nb_free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* A blocking connection to 127.0.0.1:port, or -1. */
static inline int nb_connect(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Wait until pid accepts connections on port: 0, or -1 if it did not
 * listen within secs, or -77 if it exited with 77 (a tool is missing), or
 * -2 if it exited otherwise. */
static inline int nb_wait_listening(pid_t pid, int port, double secs)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    int tries = (int)(secs * 50), fd, st;

    for (int i = 0; i < tries; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
                return -77;
            fprintf(stderr, "netbench: the server exited (status %d)\n", st);
            return -2;
        }
        fd = nb_connect(port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "netbench: nothing listens on port %d\n", port);
    return -1;
}

/* The child's side of a fork: die with the parent, run on cpu. */
static inline void nb_child_setup(int cpu)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) /* the parent is already gone */
        _exit(1);
    nb_pin(0, cpu);
}

static inline int nb_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Start argv[0] on cpu with stdin from /dev/null; its pid, or exit. */
static inline pid_t nb_spawn(char *const argv[], int cpu)
{
    pid_t pid = fork();

    if (pid < 0) {
        perror("netbench: fork");
        exit(1);
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        nb_child_setup(cpu);
        if (null >= 0)
            dup2(null, 0);
        execvp(argv[0], argv);
        fprintf(stderr, "netbench: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Start the peer server prog on 127.0.0.1:port and cpu; wait until it
 * listens. Its pid, or -77 if it reported a missing tool (exit 77), or -1. */
static inline pid_t nb_spawn_peer(const char *prog, int port, int cpu)
{
    char portstr[16], *argv[4];
    const char *py = getenv("BENCH_PYTHON");
    int i = 0;
    pid_t pid;

    snprintf(portstr, sizeof(portstr), "%d", port);
    if (nb_ends_with(prog, ".py"))
        argv[i++] = (char *)(py && *py ? py : "/usr/bin/python3");
    else if (nb_ends_with(prog, ".sh"))
        argv[i++] = (char *)"/bin/sh";
    argv[i++] = (char *)prog;
    argv[i++] = portstr;
    argv[i] = NULL;
    pid = nb_spawn(argv, cpu);
    switch (nb_wait_listening(pid, port, 20)) {
    case 0:
        return pid;
    case -1:
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    case -77:
        return -77;
    default:
        return -1;
    }
}

/* Stop a server: SIGTERM, then SIGKILL after a second. */
static inline void nb_stop(pid_t pid)
{
    struct timespec pause = {0, 10 * 1000 * 1000};

    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        nanosleep(&pause, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A scratch directory for peers, exported as $BENCH_TMP; NULL on failure. */
static inline char *nb_scratch(char *path, size_t cap)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(path, cap, "%s/tulip-netbench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(path))
        return NULL;
    setenv("BENCH_TMP", path, 1);
    return path;
}

/* Remove the scratch directory and what the peer left in it. */
static inline void nb_scratch_remove(const char *path)
{
    char *argv[] = {(char *)"rm", (char *)"-rf", (char *)path, NULL};
    pid_t pid;

    if (!path || !*path)
        return;
    pid = nb_spawn(argv, -1);
    waitpid(pid, NULL, 0);
}

/* ---- tulip's own server, in a child process ------------------------------ */

struct nb_tulip {
    tulip_server_fn *fn; /* the connection handler */
    int pipe_w;          /* where the port goes once listening */
};

static inline int nb_tulip_serve(void *arg)
{
    struct nb_tulip *t = arg;
    struct tulip_server_opts o = {.host = "127.0.0.1", .port = "0"};
    tulip_server *srv;
    int port;

    o.listen.backlog = 1024;
    if (tulip_server_start(&srv, t->fn, NULL, &o) != 0)
        return 1;
    port = tulip_server_port(srv);
    if (write(t->pipe_w, &port, sizeof(port)) != sizeof(port))
        return 1;
    close(t->pipe_w);
    tulip_server_serve_forever(srv);
    tulip_server_free(srv);
    return 0;
}

/* Fork a tulip server running fn per connection onto cpu; its pid, and its
 * port in *port. who names the driver in messages. */
static inline pid_t nb_start_tulip(tulip_server_fn *fn, const char *who,
                                   int *port, int cpu)
{
    struct nb_tulip t = {fn, -1};
    int p[2];
    pid_t pid;

    if (pipe(p) != 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        int r = 1;
        close(p[0]);
        t.pipe_w = p[1];
        nb_child_setup(cpu);
        tulip_run(nb_tulip_serve, &t, &r, NULL);
        _exit(r);
    }
    close(p[1]);
    if (read(p[0], port, sizeof(*port)) != sizeof(*port)) {
        fprintf(stderr, "%s: the server did not start\n", who);
        exit(1);
    }
    close(p[0]);
    return pid;
}

/* The server under test: the peer program if one is named (in a scratch
 * directory of its own, kept in scratch[cap]), else tulip's own running fn
 * per connection; pinned to cpu. Its pid and its port in *port, or -77
 * when the peer cannot run here, or -1. */
static inline pid_t nb_start_server(const char *peer, tulip_server_fn *fn,
                                    const char *who, char *scratch, size_t cap,
                                    int *port, int cpu)
{
    pid_t pid;

    if (!peer)
        return nb_start_tulip(fn, who, port, cpu);
    if (!nb_scratch(scratch, cap))
        return -1;
    *port = nb_free_port();
    pid = *port > 0 ? nb_spawn_peer(peer, *port, cpu) : -1;
    if (pid < 0)
        nb_scratch_remove(scratch);
    return pid;
}

#endif /* TULIP_NETBENCH_H */
