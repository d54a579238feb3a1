/* SPDX-License-Identifier: MIT */
/*
 * Sockets: TCP on 127.0.0.1 with an ephemeral port read back, connections
 * refused, timed out and cancelled (a listener whose accept queue is full
 * makes a connect hang, with no address outside the machine), accept timed
 * out and cancelled, a peer reset in the middle of a read and of a write
 * failing that connection only, bad arguments, names and ports, 1000
 * connections opened and dropped at once, running out of fds (-EMFILE),
 * UDP and Unix-domain stream and datagram round trips, and Happy Eyeballs
 * over a list where the first address hangs. Every test runs on the real
 * clock, closes its loop with 0 and leaks nothing.
 */
/* ctest: labels=unit;net;backends timeout=180 */
#define _GNU_SOURCE 1
#include "net_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void go(tulip_task_fn *fn, void *arg)
{
    cr_assert_eq(tulip_spawn(NULL, loop, fn, arg), 0);
}

static int lfd;        /* the test's listener */
static char lport[16]; /* its port, as a string */

static void listen_local(int backlog)
{
    struct tulip_listen_opts o = {.backlog = backlog};

    cr_assert_eq(tulip_tcp_listen(&lfd, "127.0.0.1", "0", &o), 0);
    cr_assert_geq(lfd, 0);
    int port = tulip_sock_port(lfd);
    cr_assert_gt(port, 0);
    snprintf(lport, sizeof(lport), "%d", port);
}

static bool nodelay(int fd)
{
    int v = 0;
    socklen_t l = sizeof(v);

    return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l) == 0 && v;
}

/* ---- TCP echo --------------------------------------------------------------
 */

#define MSGS 300

static int echo_server(void *arg)
{
    struct sockaddr_in peer;
    socklen_t pl = sizeof(peer);
    char buf[256];
    ssize_t n;
    int c;

    (void)arg;
    c = tulip_accept(lfd, (struct sockaddr *)&peer, &pl);
    if (c < 0)
        return c;
    cr_expect_eq(pl, sizeof(peer));
    cr_expect_eq(peer.sin_family, AF_INET);
    cr_expect_eq(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
    cr_expect(nodelay(c));
    cr_expect(fcntl(c, F_GETFL) & O_NONBLOCK);
    cr_expect(fcntl(c, F_GETFD) & FD_CLOEXEC);
    while ((n = tulip_recv(c, buf, sizeof(buf), 0)) > 0)
        if (tulip_send(c, buf, (size_t)n, 0) != n)
            break;
    tulip_fd_close(c);
    return (int)n;
}

static int echo_client(void *arg)
{
    char buf[64], back[64];
    int fd, rc;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "127.0.0.1", lport, NULL);
    if (rc)
        return rc;
    cr_expect(nodelay(fd));
    for (int i = 0; i < MSGS; i++) {
        int n = snprintf(buf, sizeof(buf), "message %d", i);
        size_t got = 0;
        cr_expect_eq(tulip_send(fd, buf, (size_t)n, 0), n);
        while (got < (size_t)n) {
            ssize_t r = tulip_recv(fd, back + got, sizeof(back) - got, 0);
            if (r <= 0)
                return -100;
            got += (size_t)r;
        }
        cr_expect_eq(memcmp(buf, back, (size_t)n), 0);
    }
    tulip_fd_close(fd);
    return 0;
}

Test(sock, tcp_echo)
{
    tulip_task *s, *c;

    net_begin();
    listen_local(0);
    s = fx_spawn(echo_server, NULL);
    c = fx_spawn(echo_client, NULL);
    fx_run();
    cr_assert_eq(fx_result(c), 0);
    cr_assert_eq(fx_result(s), 0); /* end of stream */
    tulip_task_release(s);
    tulip_task_release(c);
    tulip_fd_close(lfd);
    net_end();
}

/* Names resolve on the DNS pool ("localhost" is in /etc/hosts). */
static int localhost_client(void *arg)
{
    int fd, rc;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "localhost", lport, NULL);
    if (rc)
        return rc;
    cr_expect_eq(tulip_send(fd, "x", 1, 0), 1);
    tulip_fd_close(fd);
    return 0;
}

Test(sock, tcp_connect_by_name)
{
    tulip_task *s, *c;

    net_begin();
    listen_local(0);
    s = fx_spawn(echo_server, NULL);
    c = fx_spawn(localhost_client, NULL);
    fx_run();
    cr_assert_eq(fx_result(c), 0);
    cr_assert_eq(fx_result(s), 0);
    tulip_task_release(s);
    tulip_task_release(c);
    tulip_fd_close(lfd);
    net_end();
}

/* ---- refused, timed out, cancelled ------------------------------------------
 */

static int refused_body(void *arg)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd, rc;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "127.0.0.1", lport, NULL);
    cr_expect_eq(fd, -1);
    cr_expect_eq(rc, -ECONNREFUSED, "got %s", tulip_err_name(rc));
    /* the low-level way */
    cr_expect_eq(tulip_socket(&fd, AF_INET, SOCK_STREAM, 0), 0);
    sin.sin_port = htons((uint16_t)atoi(lport));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = tulip_connect(fd, (struct sockaddr *)&sin, sizeof(sin));
    tulip_fd_close(fd);
    return rc;
}

Test(sock, connect_refused)
{
    tulip_task *t;

    net_begin();
    listen_local(0);
    tulip_fd_close(lfd); /* nobody listens on that port now */
    t = fx_spawn(refused_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), -ECONNREFUSED);
    tulip_task_release(t);
    net_end();
}

/*
 * A connect that hangs, on loopback only: a listener with backlog 1 that
 * never accepts. Once its accept queue is full, the kernel drops further
 * SYNs, and a connect waits for the retransmission (1 s and more). Fill it
 * with connects that complete, up to the first one that times out.
 */
#define FILL_MAX 64

static int filler[FILL_MAX];
static int nfill;

static int fill_backlog(void *arg)
{
    int64_t wait_ns = (int64_t)(intptr_t)arg;
    int rc = 0;

    for (nfill = 0; nfill < FILL_MAX; nfill++) {
        rc = tulip_tcp_connect_until(&filler[nfill], "127.0.0.1", lport, NULL,
                                     tulip_now() + slow_ns(wait_ns));
        if (rc)
            break;
    }
    return rc;
}

static void close_fillers(void)
{
    for (int i = 0; i < nfill; i++)
        tulip_fd_close(filler[i]);
    nfill = 0;
}

Test(sock, connect_timeout)
{
    tulip_task *t;

    net_begin();
    listen_local(1);
    t = fx_spawn(fill_backlog, (void *)(intptr_t)(500 * TULIP_MSEC));
    fx_run();
    cr_assert_eq(fx_result(t), -ETIMEDOUT);
    cr_assert_lt(nfill, FILL_MAX);
    tulip_task_release(t);
    close_fillers();
    tulip_fd_close(lfd);
    net_end();
}

static int hanging_connect(void *arg)
{
    int *fd = arg;

    return tulip_tcp_connect(fd, "127.0.0.1", lport, NULL);
}

static int cancel_after(void *arg)
{
    tulip_task *t = arg;

    cr_expect_eq(tulip_sleep(100 * TULIP_MSEC), 0);
    return tulip_task_cancel(t);
}

Test(sock, connect_cancelled)
{
    tulip_task *f, *t;
    int fd = 12345;

    net_begin();
    listen_local(1);
    f = fx_spawn(fill_backlog, (void *)(intptr_t)(500 * TULIP_MSEC));
    fx_run();
    cr_assert_eq(fx_result(f), -ETIMEDOUT);
    t = fx_spawn(hanging_connect, &fd);
    go(cancel_after, t);
    fx_run();
    cr_assert_eq(fx_result(t), -ECANCELED);
    cr_assert_eq(fd, -1);
    tulip_task_release(f);
    tulip_task_release(t);
    close_fillers();
    tulip_fd_close(lfd);
    net_end();
}

static int accept_until_body(void *arg)
{
    (void)arg;
    return tulip_accept_until(lfd, NULL, NULL, tulip_now() + 50 * TULIP_MSEC);
}

static int accept_body(void *arg)
{
    (void)arg;
    return tulip_accept(lfd, NULL, NULL);
}

Test(sock, accept_timeout_and_cancel)
{
    tulip_task *a, *b, *s, *c;

    net_begin();
    listen_local(0);
    a = fx_spawn(accept_until_body, NULL);
    b = fx_spawn(accept_body, NULL);
    go(cancel_after, b);
    fx_run();
    cr_assert_eq(fx_result(a), -ETIMEDOUT);
    cr_assert_eq(fx_result(b), -ECANCELED);
    /* the listener still works */
    s = fx_spawn(echo_server, NULL);
    c = fx_spawn(echo_client, NULL);
    fx_run();
    cr_assert_eq(fx_result(c), 0);
    cr_assert_eq(fx_result(s), 0);
    tulip_task_release(a);
    tulip_task_release(b);
    tulip_task_release(s);
    tulip_task_release(c);
    tulip_fd_close(lfd);
    net_end();
}

/* ---- a peer that resets ----------------------------------------------------
 */

static void reset_close(int fd)
{
    struct linger lg = {1, 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    tulip_fd_close(fd);
}

/* Accept two connections; reset the first after a while, echo the second. */
static int reset_server(void *arg)
{
    int a, b;
    char buf[64];
    ssize_t n;

    (void)arg;
    a = tulip_accept(lfd, NULL, NULL);
    b = tulip_accept(lfd, NULL, NULL);
    if (a < 0 || b < 0)
        return -1;
    cr_expect_eq(tulip_sleep(50 * TULIP_MSEC), 0);
    reset_close(a);
    while ((n = tulip_recv(b, buf, sizeof(buf), 0)) > 0)
        tulip_send(b, buf, (size_t)n, 0);
    tulip_fd_close(b);
    return 0;
}

static int reader_of_reset(void *arg)
{
    char buf[64];
    int fd, rc;
    ssize_t n;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "127.0.0.1", lport, NULL);
    if (rc)
        return rc;
    n = tulip_recv(fd, buf, sizeof(buf), 0); /* waits, then the reset */
    tulip_fd_close(fd);
    return (int)n;
}

static int healthy_client(void *arg)
{
    char buf[8];
    int fd, rc;

    (void)arg;
    cr_expect_eq(tulip_sleep(10 * TULIP_MSEC), 0); /* connect second */
    rc = tulip_tcp_connect(&fd, "127.0.0.1", lport, NULL);
    if (rc)
        return rc;
    for (int i = 0; i < 20; i++) {
        cr_expect_eq(tulip_sleep(5 * TULIP_MSEC), 0);
        cr_expect_eq(tulip_send(fd, "ok", 2, 0), 2);
        if (tulip_recv(fd, buf, sizeof(buf), 0) != 2)
            return -1;
    }
    tulip_fd_close(fd);
    return 0;
}

Test(sock, reset_mid_read)
{
    tulip_task *s, *r, *h;

    net_begin();
    listen_local(0);
    s = fx_spawn(reset_server, NULL);
    r = fx_spawn(reader_of_reset, NULL);
    h = fx_spawn(healthy_client, NULL);
    fx_run();
    cr_assert_eq(fx_result(r), -ECONNRESET);
    cr_assert_eq(fx_result(h), 0);
    cr_assert_eq(fx_result(s), 0);
    tulip_task_release(s);
    tulip_task_release(r);
    tulip_task_release(h);
    tulip_fd_close(lfd);
    net_end();
}

static int writer_of_reset(void *arg)
{
    static char big[1 << 16];
    int fd, rc;
    ssize_t n = 0;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "127.0.0.1", lport, NULL);
    if (rc)
        return rc;
    for (int i = 0; i < 100000 && n >= 0; i++) /* until the reset */
        n = tulip_send(fd, big, sizeof(big), 0);
    tulip_fd_close(fd);
    return (int)n;
}

Test(sock, reset_mid_write)
{
    tulip_task *s, *w, *h;

    net_begin();
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
    listen_local(0);
    s = fx_spawn(reset_server, NULL);
    w = fx_spawn(writer_of_reset, NULL);
    h = fx_spawn(healthy_client, NULL);
    fx_run();
    cr_assert(fx_result(w) == -ECONNRESET || fx_result(w) == -EPIPE, "got %s",
              tulip_err_name(fx_result(w)));
    cr_assert_eq(fx_result(h), 0);
    cr_assert_eq(fx_result(s), 0);
    tulip_task_release(s);
    tulip_task_release(w);
    tulip_task_release(h);
    tulip_fd_close(lfd);
    net_end();
}

/* ---- bad input -------------------------------------------------------------
 */

static int bad_body(void *arg)
{
    struct tulip_connect_opts neg = {.happy_eyeballs_delay_ns = -1};
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = (void *)1;
    char buf[4];
    int fd = 5, rc;

    (void)arg;
    cr_expect_eq(tulip_tcp_connect(NULL, "127.0.0.1", "1", NULL), -EINVAL);
    cr_expect_eq(tulip_tcp_connect(&fd, NULL, "1", NULL), -EINVAL);
    cr_expect_eq(fd, -1);
    cr_expect_eq(tulip_tcp_connect(&fd, "127.0.0.1", NULL, NULL), -EINVAL);
    cr_expect_eq(tulip_tcp_connect(&fd, "127.0.0.1", "1", &neg), -EINVAL);
    cr_expect_eq(tulip_tcp_connect_ai(&fd, NULL, NULL, TULIP_FOREVER), -EINVAL);
    cr_expect_eq(tulip_connect(-1, (struct sockaddr *)buf, 4), -EINVAL);
    cr_expect_eq(tulip_connect(0, NULL, 4), -EINVAL);
    cr_expect_eq(tulip_accept(-1, NULL, NULL), -EINVAL);
    cr_expect_eq(tulip_accept(0, (struct sockaddr *)buf, NULL), -EINVAL);
    cr_expect_eq(tulip_recv(-1, buf, 1, 0), -EINVAL);
    cr_expect_eq(tulip_send(-1, buf, 1, 0), -EINVAL);
    cr_expect_eq(tulip_sendto(0, buf, 1, 0, NULL, 0), -EINVAL);
    cr_expect_eq(tulip_recvfrom(0, buf, 1, 0, (struct sockaddr *)buf, NULL),
                 -EINVAL);
    cr_expect_eq(tulip_sock_port(-1), -EINVAL);
    cr_expect_eq(tulip_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
    cr_expect_null(res);
    cr_expect_eq(tulip_getaddrinfo("x", NULL, NULL, NULL), -EINVAL);
    /* a host that is not an address, with lookups forbidden */
    cr_expect_eq(tulip_getaddrinfo("not-an-address", "80", &hints, &res),
                 TULIP_EAI_NONAME);
    cr_expect_eq(tulip_getaddrinfo("300.1.2.3", "80", &hints, &res),
                 TULIP_EAI_NONAME);
    /* a service name that does not exist */
    rc = tulip_tcp_connect(&fd, "127.0.0.1", "no-such-service-x", NULL);
    cr_expect(rc == TULIP_EAI_SERVICE || rc == TULIP_EAI_NONAME, "got %s",
              tulip_err_name(rc));
    /* accept on a socket that does not listen */
    cr_expect_eq(tulip_socket(&fd, AF_INET, SOCK_STREAM, 0), 0);
    cr_expect_eq(tulip_accept(fd, NULL, NULL), -EINVAL);
    tulip_fd_close(fd);
    /* a Unix path too long, or empty */
    {
        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[sizeof(longp) - 1] = '\0';
        cr_expect_eq(tulip_unix_connect(&fd, longp), -ENAMETOOLONG);
        cr_expect_eq(tulip_unix_listen(&fd, longp, NULL), -ENAMETOOLONG);
        cr_expect_eq(tulip_unix_connect(&fd, ""), -EINVAL);
        cr_expect_eq(tulip_unix_connect(&fd, "/nonexistent/tulip.sock"),
                     -ENOENT);
    }
    return 0;
}

Test(sock, bad_input)
{
    tulip_task *t;
    int fd;
    char buf[4];

    net_begin();
    /* outside a task: numeric listens work, waits do not */
    cr_assert_eq(tulip_tcp_listen(NULL, "127.0.0.1", "0", NULL), -EINVAL);
    cr_assert_eq(tulip_tcp_listen(&fd, "127.0.0.1", NULL, NULL), -EINVAL);
    cr_assert_eq(tulip_tcp_listen(&fd, "localhost", "0", NULL), -EPERM);
    cr_assert_eq(tulip_tcp_listen(&fd, "127.0.0.1", "99999", NULL),
                 TULIP_EAI_SERVICE);
    cr_assert_eq(tulip_tcp_connect(&fd, "127.0.0.1", "1", NULL), -EPERM);
    cr_assert_eq(tulip_recv(0, buf, 1, 0), -EPERM);
    cr_assert_eq(tulip_socket(NULL, AF_INET, SOCK_STREAM, 0), -EINVAL);
    cr_assert_eq(tulip_socket(&fd, 12345, SOCK_STREAM, 0), -EAFNOSUPPORT);
    t = fx_spawn(bad_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    net_end();
}

/* ---- many connections ------------------------------------------------------
 */

#define CONNS 1000

static int accepted;

static int accept_n(void *arg)
{
    int n = (int)(intptr_t)arg;

    for (accepted = 0; accepted < n; accepted++) {
        int c = tulip_accept(lfd, NULL, NULL);
        if (c < 0)
            return c;
        tulip_fd_close(c);
    }
    return 0;
}

static int connect_drop(void *arg)
{
    int fd, rc;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "127.0.0.1", lport, NULL);
    if (rc == 0)
        tulip_fd_close(fd);
    return rc;
}

static int conn_errors;

static void count_errors(tulip_task *t, void *arg)
{
    int r = 0;

    (void)arg;
    tulip_task_result(t, &r);
    conn_errors += r != 0;
}

static int sleep_a_bit(void *arg)
{
    (void)arg;
    return tulip_sleep(TULIP_MSEC);
}

Test(sock, thousand_connections)
{
    struct rlimit rl;
    tulip_task *srv;
    int n = CONNS;

    net_begin();
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * CONNS + 64 && rl.rlim_max >= 2 * CONNS + 64) {
        rl.rlim_cur = 2 * CONNS + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 2 * CONNS + 64)
        n = (int)(rl.rlim_cur - 64) / 2;
    /* the stack pool keeps the bookkeeping of its slabs for good: grow it
     * to n + 1 live tasks before counting bytes */
    for (int i = 0; i <= n; i++)
        go(sleep_a_bit, NULL);
    fx_run();
    cr_assert_eq(tulip_loop_close(loop), 0);
    fx_bytes0 = alloc_c.live_bytes;
    cr_assert_eq(tulip_loop_new(&loop, NULL), 0);
    listen_local(4096);
    conn_errors = 0;
    srv = fx_spawn(accept_n, (void *)(intptr_t)n);
    for (int i = 0; i < n; i++) {
        tulip_task *t;
        cr_assert_eq(tulip_spawn(&t, loop, connect_drop, NULL), 0);
        cr_assert_eq(tulip_task_add_done_callback(t, count_errors, NULL), 0);
        tulip_task_release(t);
    }
    fx_run();
    cr_assert_eq(fx_result(srv), 0);
    cr_assert_eq(accepted, n);
    cr_assert_eq(conn_errors, 0);
    tulip_task_release(srv);
    tulip_fd_close(lfd);
    net_end();
}

/* ---- out of fds
 * -------------------------------------------------------------- */

static int emfile_body(void *arg)
{
    int *hog = arg, nh = 0, fd, rc, c;

    /* a connection waits in the backlog */
    rc = tulip_tcp_connect(&c, "127.0.0.1", lport, NULL);
    if (rc)
        return rc;
    /* use up the fds */
    while (nh < 256 &&
           (rc = tulip_socket(&hog[nh], AF_INET, SOCK_DGRAM, 0)) == 0)
        nh++;
    cr_expect_eq(rc, -EMFILE);
    cr_expect_eq(tulip_tcp_connect(&fd, "127.0.0.1", lport, NULL), -EMFILE);
    cr_expect_eq(fd, -1);
    cr_expect_eq(tulip_accept(lfd, NULL, NULL), -EMFILE);
    cr_expect_eq(tulip_tcp_listen(&fd, "127.0.0.1", "0", NULL), -EMFILE);
    /* give one back: the queued connection is still there */
    tulip_fd_close(hog[--nh]);
    fd = tulip_accept(lfd, NULL, NULL);
    cr_expect_geq(fd, 0);
    if (fd >= 0)
        tulip_fd_close(fd);
    while (nh > 0)
        tulip_fd_close(hog[--nh]);
    tulip_fd_close(c);
    return 0;
}

Test(sock, out_of_fds)
{
    static int hog[256];
    struct rlimit rl;
    tulip_task *t;
    int probe;

    net_begin();
    listen_local(0);
    /* a limit a little above the fds open now */
    probe = dup(0);
    cr_assert_geq(probe, 0);
    close(probe);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)probe + 24;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    t = fx_spawn(emfile_body, hog);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_fd_close(lfd);
    net_end();
}

/* ---- UDP
 * --------------------------------------------------------------------- */

static int udp_body(void *arg)
{
    struct sockaddr_in from, to = {.sin_family = AF_INET};
    socklen_t fl = sizeof(from);
    char buf[32];
    int a, b, rc;
    ssize_t n;

    (void)arg;
    rc = tulip_udp_bind(&a, "127.0.0.1", "0", NULL);
    if (rc)
        return rc;
    rc = tulip_udp_bind(&b, "127.0.0.1", "0", NULL);
    if (rc)
        return rc;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons((uint16_t)tulip_sock_port(b));
    cr_expect_eq(
        tulip_sendto(a, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
    n = tulip_recvfrom(b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    cr_expect_eq(n, 4);
    cr_expect_eq(memcmp(buf, "ping", 4), 0);
    cr_expect_eq(ntohs(from.sin_port), tulip_sock_port(a));
    /* reply to the sender's address */
    cr_expect_eq(tulip_sendto(b, "pong!", 5, 0, (struct sockaddr *)&from, fl),
                 5);
    n = tulip_recvfrom(a, buf, sizeof(buf), 0, NULL, NULL);
    cr_expect_eq(n, 5);
    /* nothing more: a deadline */
    n = tulip_recvfrom_until(a, buf, sizeof(buf), 0, NULL, NULL,
                             tulip_now() + 20 * TULIP_MSEC);
    cr_expect_eq(n, -ETIMEDOUT);
    tulip_fd_close(a);
    tulip_fd_close(b);
    return 0;
}

Test(sock, udp_round_trip)
{
    tulip_task *t;

    net_begin();
    t = fx_spawn(udp_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    net_end();
}

/* ---- Unix-domain sockets
 * ------------------------------------------------------ */

static char upath[108];
static char upath2[108];

static void make_paths(void)
{
    snprintf(upath, sizeof(upath), "/tmp/tulip_sock_%d.a", (int)getpid());
    snprintf(upath2, sizeof(upath2), "/tmp/tulip_sock_%d.b", (int)getpid());
    unlink(upath);
    unlink(upath2);
}

static int unix_server(void *arg)
{
    char buf[32];
    ssize_t n;
    int c;

    (void)arg;
    c = tulip_accept(lfd, NULL, NULL);
    if (c < 0)
        return c;
    while ((n = tulip_recv(c, buf, sizeof(buf), 0)) > 0)
        tulip_send(c, buf, (size_t)n, 0);
    tulip_fd_close(c);
    return (int)n;
}

static int unix_client(void *arg)
{
    char buf[8];
    int fd, rc;

    (void)arg;
    rc = tulip_unix_connect(&fd, upath);
    if (rc)
        return rc;
    cr_expect_eq(tulip_send(fd, "hello", 5, 0), 5);
    cr_expect_eq(tulip_recv(fd, buf, sizeof(buf), 0), 5);
    tulip_fd_close(fd);
    return 0;
}

static int unix_refused(void *arg)
{
    int fd;

    (void)arg;
    return tulip_unix_connect(&fd, upath);
}

Test(sock, unix_stream)
{
    struct stat st;
    tulip_task *s, *c;
    int fd;

    net_begin();
    make_paths();
    cr_assert_eq(tulip_unix_listen(&lfd, upath, NULL), 0);
    s = fx_spawn(unix_server, NULL);
    c = fx_spawn(unix_client, NULL);
    fx_run();
    cr_assert_eq(fx_result(c), 0);
    cr_assert_eq(fx_result(s), 0);
    tulip_task_release(s);
    tulip_task_release(c);
    /* closed without cleanup: the file stays, nobody listens */
    cr_assert_eq(tulip_fd_close(lfd), 0);
    cr_assert_eq(lstat(upath, &st), 0);
    c = fx_spawn(unix_refused, NULL);
    fx_run();
    cr_assert_eq(fx_result(c), -ECONNREFUSED);
    tulip_task_release(c);
    /* a stale socket file is replaced; tulip_unix_close removes it */
    cr_assert_eq(tulip_unix_listen(&lfd, upath, NULL), 0);
    cr_assert_eq(tulip_unix_close(lfd), 0);
    cr_assert_eq(lstat(upath, &st), -1);
    /* never a file of another kind */
    fd = open(upath, O_CREAT | O_WRONLY, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(tulip_unix_listen(&lfd, upath, NULL), -EADDRINUSE);
    cr_assert_eq(lstat(upath, &st), 0);
    unlink(upath);
    net_end();
}

static int unix_dgram_body(void *arg)
{
    struct sockaddr_un to = {.sun_family = AF_UNIX}, from;
    socklen_t fl = sizeof(from);
    char buf[16];
    int a, b, rc;
    ssize_t n;

    (void)arg;
    rc = tulip_unix_dgram(&a, upath);
    if (rc)
        return rc;
    rc = tulip_unix_dgram(&b, upath2);
    if (rc)
        return rc;
    strcpy(to.sun_path, upath2);
    cr_expect_eq(
        tulip_sendto(a, "dg", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
    n = tulip_recvfrom(b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    cr_expect_eq(n, 2);
    cr_expect_str_eq(from.sun_path, upath);
    cr_expect_eq(tulip_sendto(b, "back", 4, 0, (struct sockaddr *)&from, fl),
                 4);
    cr_expect_eq(tulip_recv(a, buf, sizeof(buf), 0), 4);
    tulip_unix_close(a);
    tulip_unix_close(b);
    return 0;
}

Test(sock, unix_dgram)
{
    struct stat st;
    tulip_task *t;

    net_begin();
    make_paths();
    t = fx_spawn(unix_dgram_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_eq(lstat(upath, &st), -1);
    cr_assert_eq(lstat(upath2, &st), -1);
    tulip_task_release(t);
    net_end();
}

/* ---- Happy Eyeballs
 * ------------------------------------------------------------ */

/*
 * Two addresses: the first is a listener whose backlog is full (a connect
 * to it hangs), the second a listener that accepts. Tried in turn, the
 * connect hangs until its deadline; with Happy Eyeballs, the second attempt
 * starts after the delay and wins, and the hanging one is cancelled.
 */
static int good_lfd;
static struct sockaddr_in he_addrs[2];
static struct addrinfo he_ai[2];
static int64_t he_took_ns;

static void he_list(void)
{
    for (int i = 0; i < 2; i++) {
        int port = tulip_sock_port(i == 0 ? lfd : good_lfd);
        he_addrs[i].sin_family = AF_INET;
        he_addrs[i].sin_port = htons((uint16_t)port);
        he_addrs[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        memset(&he_ai[i], 0, sizeof(he_ai[i]));
        he_ai[i].ai_family = AF_INET;
        he_ai[i].ai_socktype = SOCK_STREAM;
        he_ai[i].ai_addr = (struct sockaddr *)&he_addrs[i];
        he_ai[i].ai_addrlen = sizeof(he_addrs[i]);
        he_ai[i].ai_next = i == 0 ? &he_ai[1] : NULL;
    }
}

static int he_connect(void *arg)
{
    struct tulip_connect_opts o = {.happy_eyeballs_delay_ns =
                                       (int64_t)(intptr_t)arg};
    int64_t t0 = tulip_now();
    int fd, rc, c;

    rc = tulip_tcp_connect_ai(&fd, he_ai, &o, t0 + 2 * TULIP_SEC);
    he_took_ns = tulip_now() - t0;
    if (rc)
        return rc;
    cr_expect(nodelay(fd));
    c = tulip_accept_until(good_lfd, NULL, NULL, tulip_now() + TULIP_SEC);
    cr_expect_geq(c, 0);
    if (c >= 0)
        tulip_fd_close(c);
    tulip_fd_close(fd);
    return 0;
}

Test(sock, happy_eyeballs)
{
    tulip_task *f, *t;

    net_begin();
    listen_local(1);
    cr_assert_eq(tulip_tcp_listen(&good_lfd, "127.0.0.1", "0", NULL), 0);
    f = fx_spawn(fill_backlog, (void *)(intptr_t)(500 * TULIP_MSEC));
    fx_run();
    cr_assert_eq(fx_result(f), -ETIMEDOUT);
    tulip_task_release(f);
    he_list();
    /* with Happy Eyeballs: the second address wins after ~100 ms */
    t = fx_spawn(he_connect, (void *)(intptr_t)(100 * TULIP_MSEC));
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    cr_assert_geq(he_took_ns, 100 * TULIP_MSEC);
    cr_assert_lt(he_took_ns, 2 * TULIP_SEC);
    tulip_task_release(t);
    /* in turn: stuck on the first until the deadline */
    t = fx_spawn(he_connect, (void *)0);
    fx_run();
    cr_assert_eq(fx_result(t), -ETIMEDOUT);
    tulip_task_release(t);
    close_fillers();
    tulip_fd_close(lfd);
    tulip_fd_close(good_lfd);
    net_end();
}

/* Happy Eyeballs over a name: "localhost" (both families where /etc/hosts
 * maps it to ::1 and 127.0.0.1, else one address: then a plain connect). */
static int he_localhost(void *arg)
{
    struct tulip_connect_opts o = {.happy_eyeballs_delay_ns =
                                       TULIP_HAPPY_EYEBALLS_DELAY};
    int fd, rc, c;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "localhost", lport, &o);
    if (rc)
        return rc;
    c = tulip_accept(lfd, NULL, NULL);
    if (c >= 0)
        tulip_fd_close(c);
    tulip_fd_close(fd);
    return c >= 0 ? 0 : c;
}

Test(sock, happy_eyeballs_localhost)
{
    tulip_task *t;

    net_begin();
    listen_local(0);
    t = fx_spawn(he_localhost, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_fd_close(lfd);
    net_end();
}

/* The fds open in the process. */
static int open_fds(void)
{
    int n = 0;

    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* Both addresses hang; the task is cancelled while the attempts run: every
 * attempt's socket is closed. */
static int he_cancelled_body(void *arg)
{
    struct tulip_connect_opts o = {.happy_eyeballs_delay_ns = 50 * TULIP_MSEC};
    int fd = 7;
    int rc;

    (void)arg;
    rc = tulip_tcp_connect_ai(&fd, he_ai, &o, TULIP_FOREVER);
    cr_expect_eq(fd, -1);
    return rc;
}

Test(sock, happy_eyeballs_cancelled)
{
    tulip_task *f, *t;
    int before;

    net_begin();
    listen_local(1);
    good_lfd = lfd; /* both addresses: the full listener */
    f = fx_spawn(fill_backlog, (void *)(intptr_t)(500 * TULIP_MSEC));
    fx_run();
    cr_assert_eq(fx_result(f), -ETIMEDOUT);
    tulip_task_release(f);
    he_list();
    before = open_fds();
    t = fx_spawn(he_cancelled_body, NULL);
    go(cancel_after, t); /* at 100 ms: both attempts started */
    fx_run();
    cr_assert_eq(fx_result(t), -ECANCELED);
    cr_assert_eq(open_fds(), before);
    tulip_task_release(t);
    close_fillers();
    tulip_fd_close(lfd);
    net_end();
}

/* Both addresses refuse: each failure starts the next attempt at once,
 * without waiting for the delay, and the error is the last attempt's. */
static int he_refused_body(void *arg)
{
    struct tulip_connect_opts o = {.happy_eyeballs_delay_ns = 5 * TULIP_SEC};
    int64_t t0 = tulip_now();
    int fd, rc;

    (void)arg;
    rc = tulip_tcp_connect_ai(&fd, he_ai, &o, TULIP_FOREVER);
    he_took_ns = tulip_now() - t0;
    return rc;
}

Test(sock, happy_eyeballs_all_refused)
{
    tulip_task *t;
    int before;

    net_begin();
    listen_local(0);
    cr_assert_eq(tulip_tcp_listen(&good_lfd, "127.0.0.1", "0", NULL), 0);
    he_list();
    tulip_fd_close(lfd); /* nobody listens on either port now */
    tulip_fd_close(good_lfd);
    before = open_fds();
    t = fx_spawn(he_refused_body, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), -ECONNREFUSED);
    cr_assert_lt(he_took_ns, 5 * TULIP_SEC);
    cr_assert_eq(open_fds(), before);
    tulip_task_release(t);
    net_end();
}

/* IPv6 loopback, where the machine has it: listen on ::1, connect by the
 * numeric name, and by the family option. */
static int v6_client(void *arg)
{
    struct tulip_connect_opts o = {.family = AF_INET6};
    struct sockaddr_in6 peer;
    socklen_t pl = sizeof(peer);
    int fd, c, rc;

    (void)arg;
    rc = tulip_tcp_connect(&fd, "::1", lport, &o);
    if (rc)
        return rc;
    c = tulip_accept(lfd, (struct sockaddr *)&peer, &pl);
    cr_expect_geq(c, 0);
    cr_expect_eq(peer.sin6_family, AF_INET6);
    cr_expect(nodelay(c));
    cr_expect_eq(tulip_send(fd, "6", 1, 0), 1);
    cr_expect_eq(tulip_recv(c, (char[2]){0}, 2, 0), 1);
    tulip_fd_close(c);
    tulip_fd_close(fd);
    /* an IPv4-only connect to an IPv6 literal does not resolve */
    o.family = AF_INET;
    rc = tulip_tcp_connect(&fd, "::1", lport, &o);
    cr_expect(rc == TULIP_EAI_NONAME || rc == -EAFNOSUPPORT, "got %s",
              tulip_err_name(rc));
    return 0;
}

Test(sock, tcp_ipv6_loopback)
{
    struct tulip_listen_opts lo = {.family = AF_INET6};
    tulip_task *t;
    int rc;

    net_begin();
    rc = tulip_tcp_listen(&lfd, "::1", "0", &lo);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT) {
        net_end();
        cr_skip_test("no IPv6 loopback here");
    }
    cr_assert_eq(rc, 0, "got %s", tulip_err_name(rc));
    snprintf(lport, sizeof(lport), "%d", tulip_sock_port(lfd));
    t = fx_spawn(v6_client, NULL);
    fx_run();
    cr_assert_eq(fx_result(t), 0);
    tulip_task_release(t);
    tulip_fd_close(lfd);
    net_end();
}
