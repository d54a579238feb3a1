/* SPDX-License-Identifier: MIT */
/*
 * Sockets for tasks: TCP, UDP and Unix-domain sockets that are always
 * non-blocking and close-on-exec (SOCK_NONBLOCK | SOCK_CLOEXEC, accept4),
 * whose writes never raise SIGPIPE (MSG_NOSIGNAL), and whose every blocking
 * call waits in the calling task through the fd core (fd.c), with a
 * deadline twin (_until).
 *
 * tulip_tcp_connect() resolves a name on the DNS pool and tries each
 * address in turn, or, with Happy Eyeballs (RFC 8305), starts the attempts
 * staggered by a delay, alternating address families, in child tasks: the
 * first connection wins and the others are cancelled and closed. TCP
 * connections get TCP_NODELAY, as asyncio's transports do.
 */
#include "../prefix.h"
#include "io.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Begin a suspending call: the running task, with cancellation checked. */
static int enter(struct tulip_task **t)
{
    *t = tulip__task_running();
    if (!*t)
        return -EPERM;
    return tulip__task_check(*t);
}

static void set_nodelay(int fd)
{
    int one = 1;

    /* best effort: fails harmlessly on non-TCP sockets */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static bool is_inet(int family)
{
    return family == AF_INET || family == AF_INET6;
}

int tulip_socket(int *fd, int domain, int type, int protocol)
{
    int s;

    if (!fd)
        return -EINVAL;
    *fd = -1;
    s = TULIP_SYS(socket)(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          protocol);
    if (s < 0)
        return -errno;
    *fd = s;
    return 0;
}

/* ---- connect, accept ------------------------------------------------------
 */

static int connect_in(struct tulip_task *t, int fd, const struct sockaddr *addr,
                      socklen_t len, int64_t deadline_ns)
{
    int err = 0;
    socklen_t elen = sizeof(err);
    int rc;

    if (TULIP_SYS(connect)(fd, addr, len) == 0)
        return 0;
    /* EINTR: the connection goes on asynchronously, as for EINPROGRESS */
    if (errno != EINPROGRESS && errno != EINTR)
        return errno == EAGAIN ? -EAGAIN : -errno;
    rc = tulip__fd_wait(t, fd, TULIP_WRITE, deadline_ns);
    if (rc)
        return rc;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        return -errno;
    return -err;
}

int tulip_connect_until(int fd, const struct sockaddr *addr, socklen_t len,
                        int64_t deadline_ns)
{
    struct tulip_task *t;
    int rc;

    if (fd < 0 || !addr || len == 0)
        return -EINVAL;
    rc = enter(&t);
    return rc ? rc : connect_in(t, fd, addr, len, deadline_ns);
}

int tulip_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return tulip_connect_until(fd, addr, len, TULIP_FOREVER);
}

int tulip_accept_until(int lfd, struct sockaddr *addr, socklen_t *addrlen,
                       int64_t deadline_ns)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct tulip_task *t;
    int rc, fd;

    if (lfd < 0 || (addr && !addrlen))
        return -EINVAL;
    rc = enter(&t);
    if (rc)
        return rc;
    for (;;) {
        sl = sizeof(ss);
        ss.ss_family = AF_UNSPEC; /* if the kernel reports no address */
        fd = TULIP_SYS(accept4)(lfd, (struct sockaddr *)&ss, &sl,
                                SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            break;
        /* a connection reset before it was accepted is not the
         * listener's error: take the next one */
        if (errno == ECONNABORTED)
            continue;
        rc = tulip__fd_retry(t, lfd, TULIP_READ, deadline_ns);
        if (rc)
            return rc;
    }
    if (is_inet(ss.ss_family))
        set_nodelay(fd);
    if (addr) {
        memcpy(addr, &ss, sl < *addrlen ? sl : *addrlen);
        *addrlen = sl;
    }
    return fd;
}

int tulip_accept(int lfd, struct sockaddr *addr, socklen_t *addrlen)
{
    return tulip_accept_until(lfd, addr, addrlen, TULIP_FOREVER);
}

/* ---- data ------------------------------------------------------------------
 */

ssize_t tulip_recvfrom_until(int fd, void *buf, size_t n, int flags,
                             struct sockaddr *addr, socklen_t *addrlen,
                             int64_t deadline_ns)
{
    struct tulip_task *t;
    ssize_t r;
    int rc;

    if (fd < 0 || (!buf && n) || (addr && !addrlen))
        return -EINVAL;
    rc = enter(&t);
    if (rc)
        return rc;
    for (;;) {
        r = TULIP_SYS(recvfrom)(fd, buf, n, flags | MSG_DONTWAIT, addr,
                                addrlen);
        if (r >= 0)
            return r;
        rc = tulip__fd_retry(t, fd, TULIP_READ, deadline_ns);
        if (rc)
            return rc;
    }
}

ssize_t tulip_recvfrom(int fd, void *buf, size_t n, int flags,
                       struct sockaddr *addr, socklen_t *addrlen)
{
    return tulip_recvfrom_until(fd, buf, n, flags, addr, addrlen,
                                TULIP_FOREVER);
}

ssize_t tulip_recv_until(int fd, void *buf, size_t n, int flags,
                         int64_t deadline_ns)
{
    return tulip_recvfrom_until(fd, buf, n, flags, NULL, NULL, deadline_ns);
}

ssize_t tulip_recv(int fd, void *buf, size_t n, int flags)
{
    return tulip_recvfrom_until(fd, buf, n, flags, NULL, NULL, TULIP_FOREVER);
}

/* Send all n bytes (stream), or one datagram (to addr). */
static ssize_t send_in(int fd, const void *buf, size_t n, int flags,
                       const struct sockaddr *addr, socklen_t addrlen,
                       int64_t deadline_ns)
{
    const char *p = buf;
    struct tulip_task *t;
    size_t done = 0;
    ssize_t w;
    int rc;

    if (fd < 0 || (!buf && n))
        return -EINVAL;
    rc = enter(&t);
    if (rc)
        return rc;
    flags |= MSG_NOSIGNAL | MSG_DONTWAIT;
    do {
        w = TULIP_SYS(sendto)(fd, p + done, n - done, flags, addr, addrlen);
        if (w >= 0) {
            done += (size_t)w;
            if (addr)
                break; /* a datagram goes whole or not at all */
            continue;
        }
        rc = tulip__fd_retry(t, fd, TULIP_WRITE, deadline_ns);
        if (rc)
            return rc;
    } while (done < n);
    return (ssize_t)done;
}

ssize_t tulip_send_until(int fd, const void *buf, size_t n, int flags,
                         int64_t deadline_ns)
{
    return send_in(fd, buf, n, flags, NULL, 0, deadline_ns);
}

ssize_t tulip_send(int fd, const void *buf, size_t n, int flags)
{
    return send_in(fd, buf, n, flags, NULL, 0, TULIP_FOREVER);
}

ssize_t tulip_sendto_until(int fd, const void *buf, size_t n, int flags,
                           const struct sockaddr *addr, socklen_t addrlen,
                           int64_t deadline_ns)
{
    if (!addr || !addrlen)
        return -EINVAL;
    return send_in(fd, buf, n, flags, addr, addrlen, deadline_ns);
}

ssize_t tulip_sendto(int fd, const void *buf, size_t n, int flags,
                     const struct sockaddr *addr, socklen_t addrlen)
{
    return tulip_sendto_until(fd, buf, n, flags, addr, addrlen, TULIP_FOREVER);
}

/* ---- addresses -------------------------------------------------------------
 */

int tulip_sock_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (fd < 0)
        return -EINVAL;
    ss.ss_family = AF_UNSPEC; /* if the kernel reports no address */
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

/* The running task, or NULL outside tasks (numeric names still work). */
static int resolve(const char *host, const char *port, int family, int type,
                   int flags, struct addrinfo **res, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    struct addrinfo hints = {0};
    int rc;

    if (t) {
        rc = tulip__task_check(t);
        if (rc)
            return rc;
    }
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_flags = flags;
    return tulip__dns_resolve(t, host, port, &hints, res, deadline_ns);
}

/* A socket of ai's kind, bound to it, listening if backlog >= 0. */
static int bind_one(const struct addrinfo *ai, int type,
                    const struct tulip_listen_opts *o, int *out)
{
    int one = 1, fd, rc;

    rc = tulip_socket(&fd, ai->ai_family, type, ai->ai_protocol);
    if (rc)
        return rc;
    if (!(o && o->no_reuse_addr) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto out_errno;
    if (o && o->reuse_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto out_errno;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        goto out_errno;
    if (type == SOCK_STREAM &&
        listen(fd, o && o->backlog > 0 ? o->backlog : TULIP_BACKLOG) < 0)
        goto out_errno;
    *out = fd;
    return 0;
out_errno:
    rc = -errno;
    close(fd);
    return rc;
}

static int bind_name(int *fd, const char *host, const char *port, int type,
                     const struct tulip_listen_opts *opts)
{
    struct addrinfo *res, *ai;
    int rc;

    if (!fd || !port)
        return -EINVAL;
    *fd = -1;
    rc = resolve(host, port, opts ? opts->family : AF_UNSPEC, type, AI_PASSIVE,
                 &res, TULIP_FOREVER);
    if (rc)
        return rc;
    rc = TULIP_EAI_NONAME;
    for (ai = res; ai; ai = ai->ai_next) {
        rc = bind_one(ai, type, opts, fd);
        if (rc == 0)
            break;
    }
    tulip_freeaddrinfo(res);
    return rc;
}

int tulip_tcp_listen(int *fd, const char *host, const char *port,
                     const struct tulip_listen_opts *opts)
{
    return bind_name(fd, host, port, SOCK_STREAM, opts);
}

int tulip_udp_bind(int *fd, const char *host, const char *port,
                   const struct tulip_listen_opts *opts)
{
    return bind_name(fd, host, port, SOCK_DGRAM, opts);
}

/* ---- tcp_connect -----------------------------------------------------------
 */

/* One attempt: a socket connected to ai, or an error (the socket closed). */
static int attempt(struct tulip_task *t, const struct addrinfo *ai,
                   int64_t deadline_ns, int *out)
{
    int fd, rc;

    rc = tulip_socket(&fd, ai->ai_family, SOCK_STREAM, ai->ai_protocol);
    if (rc)
        return rc;
    rc = connect_in(t, fd, ai->ai_addr, ai->ai_addrlen, deadline_ns);
    if (rc) {
        tulip_fd_close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

/* Whether an attempt's error ends the whole connect at once. */
static bool fatal(int rc)
{
    return rc == -ECANCELED || rc == -ETIMEDOUT || rc == -EMFILE ||
           rc == -ENFILE || rc == -ENOMEM;
}

static int connect_serial(struct tulip_task *t, const struct addrinfo *res,
                          int64_t deadline_ns, int *fd)
{
    int rc = TULIP_EAI_NONAME;

    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        rc = attempt(t, ai, deadline_ns, fd);
        if (rc == 0 || fatal(rc))
            break;
    }
    return rc;
}

/* Happy Eyeballs (RFC 8305): the shared state of the attempts. */
struct he {
    tulip_event *changed; /* an attempt finished */
    int64_t deadline_ns;  /* of the whole connect */
    int winner;           /* the connected fd, or -1 */
    int last_error;       /* of the latest failed attempt */
    size_t running;       /* attempts not finished */
};

struct he_attempt {
    struct he *he;
    const struct addrinfo *ai;
};

static int he_body(void *arg)
{
    struct he_attempt *a = arg;
    struct he *he = a->he;
    int fd = -1, rc;

    rc = attempt(tulip__task_running(), a->ai, he->deadline_ns, &fd);
    if (rc == 0 && he->winner < 0)
        he->winner = fd;
    else if (rc == 0)
        tulip_fd_close(fd); /* a later winner: drop it */
    else if (rc != -ECANCELED)
        he->last_error = rc;
    he->running--;
    tulip_event_set(he->changed);
    return 0;
}

#define HE_MAX 32 /* addresses tried by Happy Eyeballs, at most */

/* Order addresses alternating families, the first family first (RFC 8305
 * section 4, "First Address Family Count" 1). */
static size_t he_order(const struct addrinfo *res, const struct addrinfo **v)
{
    const struct addrinfo *same[HE_MAX], *other[HE_MAX];
    size_t ns = 0, no = 0, k = 0;

    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == res->ai_family && ns < HE_MAX)
            same[ns++] = ai;
        else if (ai->ai_family != res->ai_family && no < HE_MAX)
            other[no++] = ai;
    }
    for (size_t i = 0; (i < ns || i < no) && k < HE_MAX; i++) {
        if (i < ns)
            v[k++] = same[i];
        if (i < no && k < HE_MAX)
            v[k++] = other[i];
    }
    return k;
}

static int connect_he(const struct addrinfo *res, int64_t delay_ns,
                      int64_t deadline_ns, int *fd)
{
    const struct addrinfo *v[HE_MAX];
    struct he_attempt at[HE_MAX];
    tulip_task *tasks[HE_MAX];
    struct he he = {NULL, deadline_ns, -1, TULIP_EAI_NONAME, 0};
    struct tulip_scope shield;
    size_t n, started = 0;
    int rc = 0;

    n = he_order(res, v);
    rc = tulip_event_new(&he.changed);
    if (rc)
        return rc;
    while (he.winner < 0 && (started < n || he.running > 0)) {
        int64_t until = deadline_ns;
        if (started < n) {
            at[started].he = &he;
            at[started].ai = v[started];
            rc = tulip_spawn(&tasks[started], NULL, he_body, &at[started]);
            if (rc)
                break;
            started++;
            he.running++;
            if (started < n) {
                int64_t next = tulip__deadline_after(tulip_now(), delay_ns);
                until = next < deadline_ns ? next : deadline_ns;
            }
        }
        tulip_event_clear(he.changed);
        rc = tulip_event_wait_until(he.changed, until);
        if (rc == -ETIMEDOUT && until != deadline_ns)
            rc = 0; /* the stagger delay passed: start the next attempt */
        if (rc)
            break;
    }
    /* cancel the losers and wait for them, even if cancelled ourselves:
     * each closes its own socket */
    for (size_t i = 0; i < started; i++)
        tulip_task_cancel(tasks[i]);
    tulip_scope_enter(&shield, TULIP_FOREVER, TULIP_SCOPE_SHIELD);
    for (size_t i = 0; i < started; i++) {
        tulip_task_join(tasks[i], NULL);
        tulip_task_release(tasks[i]);
    }
    tulip_scope_exit(&shield);
    tulip_event_free(he.changed);
    if (he.winner >= 0) {
        if (rc == 0) {
            *fd = he.winner;
            return 0;
        }
        tulip_fd_close(he.winner); /* we were cancelled meanwhile */
        return rc;
    }
    return rc ? rc : he.last_error;
}

/* Connect to one of the addresses of res (the task's cancellation has
 * been checked). */
static int connect_list(struct tulip_task *t, int *fd,
                        const struct addrinfo *res,
                        const struct tulip_connect_opts *opts,
                        int64_t deadline_ns)
{
    int64_t delay = opts ? opts->happy_eyeballs_delay_ns : 0;
    int rc;

    if (delay > 0 && res->ai_next)
        rc = connect_he(res, delay, deadline_ns, fd);
    else
        rc = connect_serial(t, res, deadline_ns, fd);
    if (rc == 0 && !(opts && opts->nagle))
        set_nodelay(*fd);
    return rc;
}

int tulip_tcp_connect_ai(int *fd, const struct addrinfo *ai,
                         const struct tulip_connect_opts *opts,
                         int64_t deadline_ns)
{
    struct tulip_task *t;
    int rc;

    if (fd)
        *fd = -1;
    if (!fd || !ai || (opts && opts->happy_eyeballs_delay_ns < 0))
        return -EINVAL;
    rc = enter(&t);
    return rc ? rc : connect_list(t, fd, ai, opts, deadline_ns);
}

int tulip_tcp_connect_until(int *fd, const char *host, const char *port,
                            const struct tulip_connect_opts *opts,
                            int64_t deadline_ns)
{
    struct tulip_task *t;
    struct addrinfo *res;
    int rc;

    if (fd)
        *fd = -1;
    if (!fd || !host || !port || (opts && opts->happy_eyeballs_delay_ns < 0))
        return -EINVAL;
    rc = enter(&t);
    if (rc)
        return rc;
    rc = resolve(host, port, opts ? opts->family : AF_UNSPEC, SOCK_STREAM, 0,
                 &res, deadline_ns);
    if (rc)
        return rc;
    rc = connect_list(t, fd, res, opts, deadline_ns);
    tulip_freeaddrinfo(res);
    return rc;
}

int tulip_tcp_connect(int *fd, const char *host, const char *port,
                      const struct tulip_connect_opts *opts)
{
    return tulip_tcp_connect_until(fd, host, port, opts, TULIP_FOREVER);
}

/* ---- Unix-domain sockets
 * ----------------------------------------------------- */

static int unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
    size_t l;

    if (!path)
        return -EINVAL;
    l = strlen(path);
    if (l == 0 || l >= sizeof(sun->sun_path))
        return l ? -ENAMETOOLONG : -EINVAL;
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, l);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + 1);
    return 0;
}

/* Remove a stale socket file at path (never another kind of file). */
static void unlink_stale(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
}

static int unix_bind(int *fd, const char *path, int type,
                     const struct tulip_listen_opts *opts)
{
    struct sockaddr_un sun;
    socklen_t len;
    int s, rc;

    if (!fd)
        return -EINVAL;
    *fd = -1;
    if (path) {
        rc = unix_addr(path, &sun, &len);
        if (rc)
            return rc;
    }
    rc = tulip_socket(&s, AF_UNIX, type, 0);
    if (rc)
        return rc;
    if (path) {
        unlink_stale(path);
        if (bind(s, (struct sockaddr *)&sun, len) < 0)
            goto out_errno;
    }
    if (type == SOCK_STREAM &&
        listen(s, opts && opts->backlog > 0 ? opts->backlog : TULIP_BACKLOG) <
            0)
        goto out_errno;
    *fd = s;
    return 0;
out_errno:
    rc = -errno;
    close(s);
    return rc;
}

int tulip_unix_listen(int *fd, const char *path,
                      const struct tulip_listen_opts *opts)
{
    if (!path)
        return -EINVAL;
    return unix_bind(fd, path, SOCK_STREAM, opts);
}

int tulip_unix_dgram(int *fd, const char *path)
{
    return unix_bind(fd, path, SOCK_DGRAM, NULL);
}

int tulip_unix_connect_until(int *fd, const char *path, int64_t deadline_ns)
{
    struct sockaddr_un sun;
    struct tulip_task *t;
    socklen_t len;
    int s, rc;

    if (!fd)
        return -EINVAL;
    *fd = -1;
    rc = unix_addr(path, &sun, &len);
    if (rc)
        return rc;
    rc = enter(&t);
    if (rc)
        return rc;
    rc = tulip_socket(&s, AF_UNIX, SOCK_STREAM, 0);
    if (rc)
        return rc;
    rc = connect_in(t, s, (struct sockaddr *)&sun, len, deadline_ns);
    if (rc) {
        tulip_fd_close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

int tulip_unix_connect(int *fd, const char *path)
{
    return tulip_unix_connect_until(fd, path, TULIP_FOREVER);
}

int tulip_unix_close(int fd)
{
    struct sockaddr_un sun;
    socklen_t len = sizeof(sun);

    if (fd < 0)
        return -EBADF;
    sun.sun_family = AF_UNSPEC; /* if the kernel reports no address */
    if (getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
        sun.sun_family == AF_UNIX &&
        len > offsetof(struct sockaddr_un, sun_path) + 1 &&
        sun.sun_path[0] != '\0') {
        sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
        unlink(sun.sun_path);
    }
    return tulip_fd_close(fd);
}
