/* SPDX-License-Identifier: MIT */
/*
 * The epoll backend, the default on Linux: one epoll instance, level-
 * triggered, so a watcher that does not drain its fd is simply called again
 * on the next pass (asyncio's selectors behave the same). Timeouts are
 * rounded up to whole milliseconds, so a timer never wakes the loop early
 * and spins; it may wake up to 1 ms late.
 */
#include "../prefix.h"
#include "backend.h"

#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <unistd.h>

#if TULIP_STRESS
#define EPOLL_BATCH 1 /* one event per epoll_wait: give bugs a chance */
#else
#define EPOLL_BATCH 256
#endif

struct epoll_state {
    int epfd;                            /* the epoll instance */
    struct epoll_event evs[EPOLL_BATCH]; /* epoll_wait's output */
};

static uint32_t epoll_mask(unsigned events)
{
    uint32_t m = 0;
    if (events & TULIP__IO_READ)
        m |= EPOLLIN;
    if (events & TULIP__IO_WRITE)
        m |= EPOLLOUT;
    return m;
}

static int epoll_init(struct tulip__backend *b)
{
    struct epoll_state *st = tulip__alloc(sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->epfd = TULIP_SYS(epoll_create1)(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int err = -errno;
        tulip__free(st, sizeof(*st));
        return err;
    }
    b->priv = st;
    return 0;
}

static void epoll_close(struct tulip__backend *b)
{
    struct epoll_state *st = b->priv;
    close(st->epfd);
    tulip__free(st, sizeof(*st));
    b->priv = NULL;
}

static int epoll_ctl_fd(struct tulip__backend *b, int op, int fd,
                        unsigned events)
{
    struct epoll_state *st = b->priv;
    struct epoll_event ev = {.events = epoll_mask(events), .data.fd = fd};
    if (TULIP_SYS(epoll_ctl)(st->epfd, op, fd, &ev) == 0)
        return 0;
    return -errno;
}

/* ADD and MOD fall back on each other: an fd closed and reopened under the
 * same number behind the loop's back left (or dropped) a registration. */
static int epoll_add(struct tulip__backend *b, int fd, unsigned events)
{
    int rc = epoll_ctl_fd(b, EPOLL_CTL_ADD, fd, events);
    if (rc == -EEXIST)
        rc = epoll_ctl_fd(b, EPOLL_CTL_MOD, fd, events);
    return rc;
}

static int epoll_mod(struct tulip__backend *b, int fd, unsigned events)
{
    int rc = epoll_ctl_fd(b, EPOLL_CTL_MOD, fd, events);
    if (rc == -ENOENT)
        rc = epoll_ctl_fd(b, EPOLL_CTL_ADD, fd, events);
    return rc;
}

static void epoll_del(struct tulip__backend *b, int fd)
{
    struct epoll_state *st = b->priv;
    struct epoll_event ev = {0};
    /* Fails harmlessly (EBADF, ENOENT) if fd was closed already. */
    (void)epoll_ctl(st->epfd, EPOLL_CTL_DEL, fd, &ev);
}

static int epoll_timeout_ms(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return -1;
    int64_t ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int epoll_poll(struct tulip__backend *b, int64_t timeout_ns,
                      struct tulip__backend_event *ev, int max)
{
    struct epoll_state *st = b->priv;
    if (max > EPOLL_BATCH)
        max = EPOLL_BATCH;
    int n = TULIP_SYS(epoll_wait)(st->epfd, st->evs, max,
                                  epoll_timeout_ms(timeout_ns));
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = st->evs[i].events;
        unsigned r = 0;
        if (e & EPOLLIN)
            r |= TULIP__IO_READ;
        if (e & EPOLLOUT)
            r |= TULIP__IO_WRITE;
        if (e & EPOLLHUP)
            r |= TULIP__IO_READ | TULIP__IO_WRITE;
        if (e & EPOLLERR)
            r |= TULIP__IO_READ | TULIP__IO_WRITE | TULIP__IO_ERR;
        ev[i].fd = st->evs[i].data.fd;
        ev[i].revents = r;
    }
    return n;
}

const struct tulip__backend_ops tulip__backend_epoll_ops = {
    .name = "epoll",
    .init = epoll_init,
    .close = epoll_close,
    .add = epoll_add,
    .mod = epoll_mod,
    .del = epoll_del,
    .poll = epoll_poll,
};
