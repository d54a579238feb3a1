/* SPDX-License-Identifier: MIT */
/*
 * The programs the fault sweep runs (scenarios.h). They use only the public
 * API, check every result, and give up after a deadline (so that a lost
 * wake-up shows as -ETIMEDOUT, which the sweep counts as a failure).
 */
#define _GNU_SOURCE 1
#include "scenarios.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tulip.h"

#define DEADLINE (5 * TULIP_SEC)

/* The first error of a and b (0 if none). */
static int first_err(int a, int b)
{
    return a < 0 ? a : b;
}

/* Run fn(arg) inside a scope with the scenario's deadline. */
static int with_deadline(int (*fn)(void *), void *arg)
{
    struct tulip_scope sc;
    int rc = tulip_scope_enter(&sc, tulip_now() + DEADLINE, 0);

    if (rc)
        return rc;
    rc = fn(arg);
    return first_err(tulip_scope_exit(&sc), rc);
}

/* ---- spawn, cancel, sleep in a group ------------------------------------ */

struct tasks_state {
    int got[5];
};

static int sleeper(void *arg)
{
    int *slot = arg;
    int want = *slot;
    int rc = tulip_sleep((int64_t)want * TULIP_MSEC);

    if (rc)
        return rc;
    *slot = want * 10;
    return 0;
}

static int victim(void *arg)
{
    int *slot = arg;
    int rc = tulip_sleep(3600 * TULIP_SEC);

    *slot = rc; /* -ECANCELED expected */
    return rc == -ECANCELED ? 0 : rc ? rc : 1;
}

static int tasks_body(void *arg)
{
    struct tasks_state *st = arg;
    tulip_group *g;
    tulip_task *v = NULL;
    int rc;

    for (int i = 0; i < 4; i++)
        st->got[i] = i + 1;
    st->got[4] = 0;
    rc = tulip_group_new(&g);
    if (rc)
        return rc;
    for (int i = 0; i < 4 && !rc; i++)
        rc = tulip_group_spawn(g, sleeper, &st->got[i], NULL, NULL);
    if (!rc)
        rc = tulip_group_spawn(g, victim, &st->got[4], NULL, &v);
    if (!rc)
        rc = tulip_sleep(2 * TULIP_MSEC);
    if (!rc && v)
        rc = tulip_task_cancel(v);
    tulip_task_release(v);
    if (rc)
        tulip_group_cancel(g);
    rc = first_err(rc, tulip_group_wait(g));
    if (rc)
        return rc;
    for (int i = 0; i < 4; i++)
        if (st->got[i] != (i + 1) * 10)
            return 1;
    return st->got[4] == -ECANCELED ? 0 : 2;
}

static int tasks_main(void *arg)
{
    struct tasks_state st;

    (void)arg;
    return with_deadline(tasks_body, &st);
}

/* ---- a queue pipeline ---------------------------------------------------- */

#define PIPE_ITEMS 20
#define PIPE_WORKERS 2

struct pipeline {
    tulip_queue *in, *out;
    long sum;
};

static int producer(void *arg)
{
    struct pipeline *p = arg;
    int rc = 0;

    for (intptr_t i = 1; i <= PIPE_ITEMS && !rc; i++)
        rc = tulip_queue_put(p->in, (void *)i);
    for (int i = 0; i < PIPE_WORKERS && !rc; i++)
        rc = tulip_queue_put(p->in, NULL);
    return rc;
}

static int worker(void *arg)
{
    struct pipeline *p = arg;
    void *item;
    int rc;

    while ((rc = tulip_queue_get(p->in, &item)) == 0) {
        intptr_t x = (intptr_t)item;
        rc = tulip_queue_put(p->out, (void *)(x * x));
        if (rc || !x)
            break;
    }
    return rc;
}

static int consumer(void *arg)
{
    struct pipeline *p = arg;
    int ends = 0;
    void *item;
    int rc;

    while (ends < PIPE_WORKERS && (rc = tulip_queue_get(p->out, &item)) == 0) {
        if (item)
            p->sum += (intptr_t)item;
        else
            ends++;
    }
    return ends == PIPE_WORKERS ? 0 : rc;
}

static int pipeline_body(void *arg)
{
    struct pipeline *p = arg;
    struct tulip_queue_opts o = {.maxsize = 2};
    tulip_group *g;
    int rc;

    p->sum = 0;
    rc = tulip_queue_new(&p->in, &o);
    if (rc)
        return rc;
    rc = tulip_queue_new(&p->out, NULL);
    if (rc)
        goto out_in;
    rc = tulip_group_new(&g);
    if (rc)
        goto out_out;
    rc = tulip_group_spawn(g, producer, p, NULL, NULL);
    for (int i = 0; i < PIPE_WORKERS && !rc; i++)
        rc = tulip_group_spawn(g, worker, p, NULL, NULL);
    if (!rc)
        rc = tulip_group_spawn(g, consumer, p, NULL, NULL);
    if (rc)
        tulip_group_cancel(g);
    rc = first_err(rc, tulip_group_wait(g));
    if (!rc && p->sum != 2870) /* 1^2 + ... + 20^2 */
        rc = 1;
out_out:
    tulip_queue_free(p->out);
out_in:
    tulip_queue_free(p->in);
    return rc;
}

static int pipeline_main(void *arg)
{
    struct pipeline p;

    (void)arg;
    return with_deadline(pipeline_body, &p);
}

/* ---- the echo server with clients ---------------------------------------- */

#define ECHO_CLIENTS 3
#define ECHO_ROUNDS 3
#define ECHO_LEN 3000
#define ECHO_BIG (200 * 1024) /* above the high-water mark: drain waits */

static int echo_handler(tulip_stream *s, void *arg)
{
    char buf[4096];
    ssize_t n;
    int rc = 0;

    (void)arg;
    while ((n = tulip_stream_read(s, buf, sizeof(buf))) > 0) {
        rc = tulip_stream_write(s, buf, (size_t)n);
        if (!rc)
            rc = tulip_stream_drain(s);
        if (rc)
            return rc;
    }
    return n < 0 ? (int)n : 0;
}

struct echo {
    int port;
    int next_id;
    bool idle_connected;
};

/* A connected stream to the echo server. */
static int echo_connect(struct echo *e, tulip_stream **s)
{
    char port[16];
    int fd = -1;
    int rc;

    (void)snprintf(port, sizeof(port), "%d", e->port);
    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    rc = tulip_stream_new(s, fd, NULL);
    if (rc)
        close(fd);
    return rc;
}

/* Client 0 sends one big message, the others a few small ones. */
static int echo_client(void *arg)
{
    struct echo *e = arg;
    static char out[ECHO_BIG], in[ECHO_CLIENTS][ECHO_BIG];
    tulip_stream *s = NULL;
    size_t partial;
    int id = e->next_id++ % ECHO_CLIENTS;
    size_t len = id == 0 ? ECHO_BIG : ECHO_LEN;
    int rounds = id == 0 ? 1 : ECHO_ROUNDS;
    int rc;

    for (size_t i = 0; i < len; i++)
        out[i] = (char)('a' + i % 26 + i / 4096 % 7);
    rc = echo_connect(e, &s);
    if (rc)
        return rc;
    for (int r = 0; r < rounds && !rc; r++) {
        ssize_t n;
        rc = tulip_stream_write(s, out, len);
        if (!rc)
            rc = tulip_stream_drain(s);
        if (rc)
            break;
        n = tulip_stream_read_exactly(s, in[id], len, &partial);
        if (n < 0)
            rc = (int)n;
        else if (memcmp(in[id], out, len) != 0)
            rc = 3;
    }
    rc = first_err(rc, tulip_stream_wait_closed(s));
    tulip_stream_free(s);
    return rc;
}

/* Connects and waits until the server closes it (cancelling its handler):
 * end of file then. */
static int echo_idle_client(void *arg)
{
    struct echo *e = arg;
    tulip_stream *s = NULL;
    char b;
    ssize_t n;
    int rc = echo_connect(e, &s);

    if (rc)
        return rc;
    e->idle_connected = true;
    n = tulip_stream_read(s, &b, 1);
    rc = first_err(n < 0   ? (int)n
                   : n > 0 ? 10
                           : 0,
                   tulip_stream_wait_closed(s));
    tulip_stream_free(s);
    return rc;
}

static int echo_body(void *arg)
{
    struct echo *e = arg;
    struct tulip_server_opts o = {.host = "127.0.0.1", .port = "0"};
    tulip_server *srv;
    tulip_task *idle = NULL;
    tulip_group *g;
    int rc, idle_rc = 0, cancelled;

    rc = tulip_server_start(&srv, echo_handler, NULL, &o);
    if (rc)
        return rc;
    e->port = tulip_server_port(srv);
    rc = e->port < 0 ? e->port : tulip_spawn(&idle, NULL, echo_idle_client, e);
    if (!rc)
        rc = tulip_group_new(&g);
    if (rc)
        goto out;
    for (int i = 0; i < ECHO_CLIENTS && !rc; i++)
        rc = tulip_group_spawn(g, echo_client, e, NULL, NULL);
    if (rc)
        tulip_group_cancel(g);
    rc = first_err(rc, tulip_group_wait(g));
    /* the idle client's handler runs before the server closes */
    for (int i = 0; i < 1000 && !rc && !tulip_task_done(idle) &&
                    !(e->idle_connected && tulip_server_connections(srv) == 1);
         i++)
        rc = tulip_sleep(TULIP_MSEC);
out:
    cancelled = tulip_server_close(srv, 0);
    tulip_server_free(srv);
    if (idle) {
        if (rc)
            tulip_task_cancel(idle);
        int jr = tulip_task_join(idle, &idle_rc);
        if (jr)
            idle_rc = jr;
        tulip_task_release(idle);
    }
    rc = first_err(rc, cancelled < 0 ? cancelled : 0);
    return first_err(rc, idle_rc == -ECANCELED && rc ? 0 : idle_rc);
}

static int echo_main(void *arg)
{
    struct echo e = {0};

    (void)arg;
    return with_deadline(echo_body, &e);
}

/* ---- readline / readexactly over pipes ----------------------------------- */

#define XCH_LINES 5
#define XCH_BLOCK 5000

struct exchange {
    tulip_stream *a_out, *a_in, *b_in, *b_out;
    char block[XCH_BLOCK];
};

static int xch_a(void *arg)
{
    struct exchange *x = arg;
    char line[64], back[XCH_BLOCK];
    size_t partial;
    ssize_t n;
    int rc = 0;

    for (int i = 0; i < XCH_LINES && !rc; i++) {
        int len = snprintf(line, sizeof(line), "line %d\n", i);
        rc = tulip_stream_write(x->a_out, line, (size_t)len);
    }
    if (!rc)
        rc = tulip_stream_write(x->a_out, "BLOCK\n", 6);
    if (!rc)
        rc = tulip_stream_write(x->a_out, x->block, sizeof(x->block));
    if (!rc)
        rc = tulip_stream_drain(x->a_out);
    if (rc)
        return rc;
    n = tulip_stream_read_line(x->a_in, line, sizeof(line));
    if (n < 0)
        return (int)n;
    if (n != 7 || memcmp(line, "ok 0+4\n", 7) != 0)
        return 4;
    n = tulip_stream_read_exactly(x->a_in, back, sizeof(back), &partial);
    if (n < 0)
        return (int)n;
    return memcmp(back, x->block, sizeof(back)) ? 5 : 0;
}

static int xch_b(void *arg)
{
    struct exchange *x = arg;
    char line[64], got[XCH_BLOCK];
    size_t partial;
    int sum = 0;
    ssize_t n;
    int rc;

    for (int i = 0; i < XCH_LINES; i++) {
        n = tulip_stream_read_line(x->b_in, line, sizeof(line));
        if (n < 0)
            return (int)n;
        if (n != 7 || line[5] != '0' + i)
            return 6;
        sum += line[5] - '0';
    }
    n = tulip_stream_read_line(x->b_in, line, sizeof(line));
    if (n < 0)
        return (int)n;
    if (n != 6 || memcmp(line, "BLOCK\n", 6) != 0)
        return 7;
    n = tulip_stream_read_exactly(x->b_in, got, sizeof(got), &partial);
    if (n < 0)
        return (int)n;
    rc = tulip_stream_write(x->b_out, sum == 10 ? "ok 0+4\n" : "bad\n",
                            sum == 10 ? 7 : 4);
    if (!rc)
        rc = tulip_stream_write(x->b_out, got, sizeof(got));
    if (!rc)
        rc = tulip_stream_drain(x->b_out);
    return rc;
}

/* A stream over fd, or an error (fd closed then). */
static int xch_stream(tulip_stream **s, int fd)
{
    int rc = tulip_stream_new(s, fd, NULL);

    if (rc) {
        *s = NULL;
        close(fd);
    }
    return rc;
}

static int xch_body(void *arg)
{
    struct exchange *x = arg;
    tulip_stream **ends[4] = {&x->b_in, &x->a_out, &x->a_in, &x->b_out};
    int p[4] = {-1, -1, -1, -1};
    tulip_group *g;
    int rc = 0;

    for (size_t i = 0; i < sizeof(x->block); i++)
        x->block[i] = (char)(i * 7 + i / 251);
    if (pipe2(p, O_CLOEXEC) < 0 || pipe2(p + 2, O_CLOEXEC) < 0) {
        for (int i = 0; i < 4; i++)
            if (p[i] >= 0)
                close(p[i]);
        return -errno;
    }
    for (int i = 0; i < 4; i++) {
        if (rc)
            close(p[i]);
        else
            rc = xch_stream(ends[i], p[i]);
    }
    if (rc)
        goto out;
    rc = tulip_group_new(&g);
    if (rc)
        goto out;
    rc = tulip_group_spawn(g, xch_a, x, NULL, NULL);
    if (!rc)
        rc = tulip_group_spawn(g, xch_b, x, NULL, NULL);
    if (rc)
        tulip_group_cancel(g);
    rc = first_err(rc, tulip_group_wait(g));
out:
    for (int i = 0; i < 4; i++) {
        if (*ends[i]) {
            int c = tulip_stream_wait_closed(*ends[i]);
            rc = first_err(rc, c == TULIP_ECLOSED ? 0 : c);
            tulip_stream_free(*ends[i]);
        }
    }
    return rc;
}

static int exchange_main(void *arg)
{
    struct exchange x = {0};

    (void)arg;
    return with_deadline(xch_body, &x);
}

/* ---- raw sockets: accept, send, recv, a cancelled receiver --------------- */

#define SOCK_BIG (256 * 1024) /* more than the socket buffers take at once */

struct socks {
    int lfd;
    int port;
    int victim_rc;
    unsigned char *out, *in;
};

static ssize_t recv_all(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = tulip_recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return r < 0 ? r : TULIP_EOF;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int sock_server(void *arg)
{
    struct socks *k = arg;
    static unsigned char buf[SOCK_BIG];
    ssize_t r;
    int fd = tulip_accept(k->lfd, NULL, NULL);

    if (fd < 0)
        return fd;
    r = recv_all(fd, buf, sizeof(buf));
    if (r >= 0)
        r = tulip_send(fd, buf, sizeof(buf), 0);
    tulip_fd_close(fd);
    return r < 0 ? (int)r : 0;
}

static int sock_client(void *arg)
{
    struct socks *k = arg;
    char port[16];
    ssize_t r;
    int fd;

    (void)snprintf(port, sizeof(port), "%d", k->port);
    r = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (r)
        return (int)r;
    r = tulip_send(fd, k->out, SOCK_BIG, 0);
    if (r >= 0)
        r = recv_all(fd, k->in, SOCK_BIG);
    tulip_fd_close(fd);
    if (r < 0)
        return (int)r;
    return memcmp(k->in, k->out, SOCK_BIG) ? 8 : 0;
}

/* Connects (the listener's backlog takes it) and waits for bytes that never
 * come, until cancelled. */
static int sock_victim(void *arg)
{
    struct socks *k = arg;
    char port[16], b;
    int fd, rc;

    (void)snprintf(port, sizeof(port), "%d", k->port);
    rc = tulip_tcp_connect(&fd, "127.0.0.1", port, NULL);
    if (rc)
        return rc;
    k->victim_rc = (int)tulip_recv(fd, &b, 1, 0);
    tulip_fd_close(fd);
    return k->victim_rc == -ECANCELED ? 0 : k->victim_rc ? k->victim_rc : 9;
}

static int sock_body(void *arg)
{
    struct socks *k = arg;
    tulip_task *v = NULL;
    tulip_group *g;
    int rc;

    rc = tulip_tcp_listen(&k->lfd, "127.0.0.1", "0", NULL);
    if (rc)
        return rc;
    k->port = tulip_sock_port(k->lfd);
    rc = k->port < 0 ? k->port : tulip_group_new(&g);
    if (rc)
        goto out;
    rc = tulip_group_spawn(g, sock_server, k, NULL, NULL);
    if (!rc)
        rc = tulip_group_spawn(g, sock_client, k, NULL, NULL);
    if (!rc)
        rc = tulip_group_spawn(g, sock_victim, k, NULL, &v);
    for (int i = 0; i < 20 && !rc && k->victim_rc == 0; i++)
        rc = tulip_sleep(TULIP_MSEC); /* the victim gets to its recv */
    if (v)
        tulip_task_cancel(v);
    tulip_task_release(v);
    if (rc)
        tulip_group_cancel(g);
    rc = first_err(rc, tulip_group_wait(g));
out:
    tulip_fd_close(k->lfd);
    return rc;
}

static int sockets_main(void *arg)
{
    static unsigned char out[SOCK_BIG], in[SOCK_BIG];
    struct socks k = {.lfd = -1, .out = out, .in = in};

    (void)arg;
    for (size_t i = 0; i < SOCK_BIG; i++)
        out[i] = (unsigned char)(i * 131 + (i >> 9));
    return with_deadline(sock_body, &k);
}

const struct fault_scenario fault_scenarios[] = {
    {"tasks", tasks_main, true},      {"pipeline", pipeline_main, true},
    {"echo", echo_main, false},       {"exchange", exchange_main, false},
    {"sockets", sockets_main, false},
};
const int fault_nscenarios =
    (int)(sizeof(fault_scenarios) / sizeof(fault_scenarios[0]));
