/* SPDX-License-Identifier: MIT */
/*
 * Servers: asyncio's start_server over tasks. A server owns one task, the
 * supervisor, which opens a task group and spawns into it one acceptor per
 * listening socket; each acceptor accepts connections and spawns a handler
 * task per connection into the same group, with a stream over the socket.
 *
 * The group is not fail-fast for a server: each handler runs inside a
 * trampoline that reports the handler's error to the loop's error handler,
 * closes that connection and returns 0, so one failing connection never
 * cancels its siblings. The supervisor stays in the group's body until the
 * server is stopped (a group stops taking children once it is waited for),
 * then waits for every child.
 *
 * Accept errors that mean "out of resources" (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM) leave the connection queued in the kernel; the acceptor reports
 * the first of an episode, sleeps a back-off that doubles up to a cap, and
 * tries again, so a server out of fds neither spins nor dies, and recovers
 * when fds are freed.
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <unistd.h>

#define DEFAULT_LINGER (30 * TULIP_SEC)
#define DEFAULT_BACKOFF_MIN (100 * TULIP_MSEC)
#define DEFAULT_BACKOFF_MAX (3200 * TULIP_MSEC)

struct srv_conn {
    struct srv_conn *prev; /* in the server's list */
    struct srv_conn *next;
    struct tulip_server *srv;
    tulip_stream *s; /* the connection */
};

struct srv_listener {
    struct tulip_server *srv;
    int fd;           /* -1 once closed */
    tulip_task *task; /* its acceptor, referenced, or NULL */
};

struct tulip_server {
    tulip_loop *loop;
    tulip_server_fn *fn; /* the handler */
    void *arg;
    struct tulip_stream_opts sopts;
    struct tulip_task_opts topts; /* of handler tasks */
    int64_t linger_ns;
    int64_t backoff_min_ns;
    int64_t backoff_max_ns;
    struct srv_listener *ls; /* the listeners */
    size_t nls;
    tulip_task *main;          /* the supervisor, referenced */
    tulip_group *group;        /* its group, while open */
    struct tulip__waitq stopq; /* the supervisor, until stopped */
    struct srv_conn *conns;    /* running handlers */
    size_t nconns;
    bool stopped; /* stop() called */
    bool orphan;  /* free() called while the supervisor ran */
};

static void report(tulip_server *srv, const char *msg, int err)
{
    struct tulip_error_context ctx = {
        .message = msg, .err = err, .source = "server", .object = srv};

    tulip_loop_report_error(srv->loop, &ctx);
}

static void srv_release(tulip_server *srv)
{
    tulip_task_release(srv->main);
    tulip__free(srv->ls, srv->nls * sizeof(*srv->ls));
    tulip__free(srv, sizeof(*srv));
}

/* ---- connections --------------------------------------------------------- */

static void conn_unlink(struct srv_conn *c)
{
    tulip_server *srv = c->srv;

    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
}

static int conn_main(void *arg)
{
    struct srv_conn *c = arg;
    tulip_server *srv = c->srv;
    int rc = srv->fn(c->s, srv->arg);

    if (rc < 0 && rc != -ECANCELED)
        report(srv, "connection handler failed", rc);
    tulip_stream_wait_closed_until(
        c->s, tulip__deadline_after(tulip_now(), srv->linger_ns));
    conn_unlink(c);
    tulip_stream_free(c->s);
    tulip__free(c, sizeof(*c));
    return 0; /* never fail the group: siblings go on */
}

static void conn_start(tulip_server *srv, int fd)
{
    struct srv_conn *c = tulip__calloc(sizeof(*c));
    int rc = -ENOMEM;

    if (!c)
        goto out_close;
    rc = tulip_stream_new(&c->s, fd, &srv->sopts);
    if (rc)
        goto out_free;
    c->srv = srv;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    rc = tulip_group_spawn(srv->group, conn_main, c, &srv->topts, NULL);
    if (rc == 0)
        return;
    conn_unlink(c);
    tulip_stream_free(c->s); /* closes fd */
    tulip__free(c, sizeof(*c));
    if (rc != -ECANCELED && rc != -EPIPE)
        report(srv, "cannot start a connection handler", rc);
    return;
out_free:
    tulip__free(c, sizeof(*c));
out_close:
    tulip_fd_close(fd);
    report(srv, "cannot set up a connection", rc);
}

/* ---- accepting ----------------------------------------------------------- */

static bool accept_out_of_resources(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM;
}

static int acceptor_main(void *arg)
{
    struct srv_listener *l = arg;
    tulip_server *srv = l->srv;
    int64_t backoff = 0;
    bool reported = false;
    int fd, rc;

    while (!srv->stopped && l->fd >= 0) {
        fd = tulip_accept(l->fd, NULL, NULL);
        if (fd >= 0) {
            backoff = 0;
            reported = false;
            conn_start(srv, fd);
            continue;
        }
        /* cppcheck-suppress knownConditionTrueFalse ; set while we waited */
        if (srv->stopped || fd == -ECANCELED || fd == -ETIMEDOUT ||
            fd == -EBADF)
            break;
        if (fd == -EAGAIN || fd == -ECONNABORTED || fd == -EINTR ||
            fd == -EPROTO)
            continue;
        if (!reported) {
            report(srv,
                   accept_out_of_resources(fd)
                       ? "accept: out of resources, backing off"
                       : "accept failed, backing off",
                   fd);
            reported = true;
        }
        backoff = backoff ? backoff * 2 : srv->backoff_min_ns;
        if (backoff > srv->backoff_max_ns)
            backoff = srv->backoff_max_ns;
        rc = tulip_sleep(backoff);
        if (rc == -ENOMEM) /* no memory for the timer: yield, try again */
            rc = tulip_sleep(0);
        if (rc < 0)
            break;
    }
    return 0;
}

/* ---- the supervisor ------------------------------------------------------ */

static int wait_stopped(tulip_server *srv)
{
    struct tulip_task *t = tulip__task_running();
    int rc = tulip__task_check(t);

    if (rc || srv->stopped)
        return rc;
    tulip__waitq_push(&srv->stopq, &t->waiter);
    tulip__loop_ref(t->loop);
    rc = tulip__task_suspend(t, TULIP_FOREVER);
    tulip__loop_unref(t->loop);
    return rc;
}

static void close_listeners(tulip_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++) {
        struct srv_listener *l = &srv->ls[i];
        if (l->task) {
            tulip_task_cancel(l->task);
            tulip_task_release(l->task);
            l->task = NULL;
        }
        if (l->fd >= 0) {
            tulip_fd_close(l->fd);
            l->fd = -1;
        }
    }
}

static int server_main(void *arg)
{
    tulip_server *srv = arg;
    struct tulip_task_opts ao = {.name = "tulip-acceptor"};
    tulip_group *g;
    int rc;

    rc = tulip_group_new(&g);
    if (rc) {
        report(srv, "cannot open the server's task group", rc);
        srv->stopped = true;
        goto out;
    }
    srv->group = g;
    for (size_t i = 0; i < srv->nls && rc == 0; i++)
        rc = tulip_group_spawn(g, acceptor_main, &srv->ls[i], &ao,
                               &srv->ls[i].task);
    if (rc)
        report(srv, "cannot start accepting", rc);
    else
        wait_stopped(srv);
    srv->stopped = true;
    close_listeners(srv);
    tulip_group_wait(g);
    srv->group = NULL;
    /* Handlers cancelled before their first step never ran conn_main,
     * which unlinks and frees its connection: the ones still listed. */
    while (srv->conns) {
        struct srv_conn *c = srv->conns;
        conn_unlink(c);
        tulip_stream_free(c->s); /* closes fd */
        tulip__free(c, sizeof(*c));
    }
out:
    close_listeners(srv);
    if (srv->orphan)
        srv_release(srv);
    return 0;
}

/* ---- public API ---------------------------------------------------------- */

static int make_listeners(tulip_server *srv,
                          const struct tulip_server_opts *opts)
{
    size_t n = opts->fds ? opts->nfds : 1;
    int rc = 0;

    srv->ls = tulip__calloc(n * sizeof(*srv->ls));
    if (!srv->ls)
        return -ENOMEM;
    srv->nls = n;
    for (size_t i = 0; i < n; i++) {
        srv->ls[i].srv = srv;
        srv->ls[i].fd = opts->fds ? opts->fds[i] : -1;
    }
    if (!opts->fds)
        rc = tulip_tcp_listen(&srv->ls[0].fd, opts->host, opts->port,
                              &opts->listen);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tulip__fd_nonblock(srv->ls[i].fd);
    return rc;
}

int tulip_server_start(tulip_server **out, tulip_server_fn *fn, void *arg,
                       const struct tulip_server_opts *opts)
{
    struct tulip_task *t = tulip__task_running();
    struct tulip_task_opts mo = {.name = "tulip-server"};
    tulip_server *srv;
    tulip_loop *loop;
    int rc;

    if (out)
        *out = NULL;
    if (!out || !fn || !opts || (opts->fds ? !opts->nfds : !opts->port)) {
        rc = -EINVAL;
        goto out_fds;
    }
    loop = opts->loop ? opts->loop : t ? t->loop : tulip_loop_current();
    rc = -EPERM;
    if (!loop)
        goto out_fds;
    rc = -ENOMEM;
    srv = tulip__calloc(sizeof(*srv));
    if (!srv)
        goto out_fds;
    srv->loop = loop;
    srv->fn = fn;
    srv->arg = arg;
    srv->sopts = opts->stream;
    srv->sopts.borrow_fd = false;
    srv->sopts.loop = loop;
    srv->topts.stack_size = opts->stack_size;
    srv->linger_ns = opts->linger_ns > 0 ? opts->linger_ns : DEFAULT_LINGER;
    srv->backoff_min_ns =
        opts->backoff_min_ns > 0 ? opts->backoff_min_ns : DEFAULT_BACKOFF_MIN;
    srv->backoff_max_ns =
        opts->backoff_max_ns > 0 ? opts->backoff_max_ns : DEFAULT_BACKOFF_MAX;
    if (srv->backoff_max_ns < srv->backoff_min_ns)
        srv->backoff_max_ns = srv->backoff_min_ns;
    rc = make_listeners(srv, opts);
    if (rc)
        goto out_srv;
    rc = tulip_spawn_ex(&srv->main, loop, server_main, srv, &mo);
    if (rc)
        goto out_srv;
    *out = srv;
    return 0;
out_srv:
    if (srv->ls) {
        close_listeners(srv);
        tulip__free(srv->ls, srv->nls * sizeof(*srv->ls));
    }
    tulip__free(srv, sizeof(*srv));
    return rc;
out_fds:
    for (size_t i = 0; opts && opts->fds && i < opts->nfds; i++)
        tulip_fd_close(opts->fds[i]);
    return rc;
}

int tulip_server_port(const tulip_server *srv)
{
    if (!srv || srv->stopped || srv->ls[0].fd < 0)
        return -EINVAL;
    return tulip_sock_port(srv->ls[0].fd);
}

size_t tulip_server_connections(const tulip_server *srv)
{
    return srv ? srv->nconns : 0;
}

bool tulip_server_is_serving(const tulip_server *srv)
{
    return srv && !srv->stopped;
}

void tulip_server_stop(tulip_server *srv)
{
    if (!srv || srv->stopped)
        return;
    srv->stopped = true;
    close_listeners(srv);
    while (srv->stopq.head)
        tulip__task_wake_waiter(srv->stopq.head, NULL, 0);
}

void tulip_server_close_clients(tulip_server *srv)
{
    for (struct srv_conn *c = srv ? srv->conns : NULL; c; c = c->next)
        tulip_stream_close(c->s);
}

void tulip_server_abort_clients(tulip_server *srv)
{
    for (struct srv_conn *c = srv ? srv->conns : NULL; c; c = c->next)
        tulip_stream_abort(c->s);
}

int tulip_server_wait(tulip_server *srv)
{
    if (!srv)
        return -EINVAL;
    return tulip_task_join(srv->main, NULL);
}

int tulip_server_serve_forever(tulip_server *srv)
{
    int rc = tulip_server_wait(srv);

    if (rc == -ECANCELED || rc == -ETIMEDOUT) {
        tulip_server_stop(srv);
        tulip_task_cancel(srv->main);
    }
    return rc;
}

int tulip_server_close(tulip_server *srv, int64_t grace_ns)
{
    int64_t deadline;
    size_t left;
    int rc;

    if (!srv)
        return -EINVAL;
    if (!tulip_task_current())
        return -EPERM;
    tulip_server_stop(srv);
    deadline = tulip__deadline_after(tulip_now(), grace_ns);
    rc = tulip_task_join_until(srv->main, deadline, NULL);
    if (rc == 0)
        return 0;
    left = srv->nconns;
    tulip_task_cancel(srv->main);
    if (rc == -ETIMEDOUT && tulip_now() >= deadline)
        rc = tulip_task_join(srv->main, NULL);
    return rc ? rc : (int)left;
}

void tulip_server_free(tulip_server *srv)
{
    if (!srv)
        return;
    /* A supervisor that has not started never runs server_main, which
     * closes the listeners and frees an orphan: do both here. */
    if (srv->main->state == TULIP__TASK_NEW)
        tulip_task_cancel(srv->main);
    if (tulip_task_done(srv->main) || srv->main->state == TULIP__TASK_NEW) {
        close_listeners(srv);
        srv_release(srv);
        return;
    }
    tulip_server_stop(srv);
    tulip_task_cancel(srv->main);
    srv->orphan = true;
}
