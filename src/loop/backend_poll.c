/* SPDX-License-Identifier: MIT */
/*
 * The poll(2) backend: the portable fallback, and the second backend that
 * the tests run everything on (TULIP_BACKEND=poll) to prove that the loop
 * does not depend on epoll's behaviour. It keeps a dense pollfd array and an
 * fd -> slot map, so add and del are O(1) and a poll costs O(watched fds).
 * ppoll takes the timeout in nanoseconds.
 */
#include "../prefix.h"
#include "backend.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

struct poll_state {
    struct pollfd *pfds; /* the watched fds, densely packed */
    size_t n;            /* used entries of pfds */
    size_t cap;          /* allocated entries of pfds */
    int *slot;           /* slot[fd]: index into pfds, or -1 */
    size_t slot_cap;     /* entries of slot */
    size_t next;         /* where the next scan of results starts, so that
                            a full batch does not starve later fds */
};

static short poll_mask(unsigned events)
{
    short m = 0;
    if (events & TULIP__IO_READ)
        m |= POLLIN;
    if (events & TULIP__IO_WRITE)
        m |= POLLOUT;
    return m;
}

static int poll_init(struct tulip__backend *b)
{
    struct poll_state *st = tulip__calloc(sizeof(*st));
    if (!st)
        return -ENOMEM;
    b->priv = st;
    return 0;
}

static void poll_close(struct tulip__backend *b)
{
    struct poll_state *st = b->priv;
    tulip__free(st->pfds, st->cap * sizeof(*st->pfds));
    tulip__free(st->slot, st->slot_cap * sizeof(*st->slot));
    tulip__free(st, sizeof(*st));
    b->priv = NULL;
}

static int poll_reserve(struct poll_state *st, int fd)
{
    if ((size_t)fd >= st->slot_cap) {
        size_t cap = st->slot_cap ? st->slot_cap * 2 : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        int *s = tulip__realloc(st->slot, st->slot_cap * sizeof(*s),
                                cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        for (size_t i = st->slot_cap; i < cap; i++)
            s[i] = -1;
        st->slot = s;
        st->slot_cap = cap;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        struct pollfd *p =
            tulip__realloc(st->pfds, st->cap * sizeof(*p), cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        st->pfds = p;
        st->cap = cap;
    }
    return 0;
}

static int poll_add(struct tulip__backend *b, int fd, unsigned events)
{
    struct poll_state *st = b->priv;
    if (fd < 0)
        return -EBADF;
    int rc = poll_reserve(st, fd);
    if (rc < 0)
        return rc;
    if (st->slot[fd] >= 0) {
        st->pfds[st->slot[fd]].events = poll_mask(events);
        return 0;
    }
    st->slot[fd] = (int)st->n;
    st->pfds[st->n++] = (struct pollfd){.fd = fd, .events = poll_mask(events)};
    return 0;
}

static int poll_mod(struct tulip__backend *b, int fd, unsigned events)
{
    struct poll_state *st = b->priv;
    if (fd < 0 || (size_t)fd >= st->slot_cap || st->slot[fd] < 0)
        return poll_add(b, fd, events);
    st->pfds[st->slot[fd]].events = poll_mask(events);
    return 0;
}

static void poll_del(struct tulip__backend *b, int fd)
{
    struct poll_state *st = b->priv;
    if (fd < 0 || (size_t)fd >= st->slot_cap || st->slot[fd] < 0)
        return;
    size_t i = (size_t)st->slot[fd];
    st->pfds[i] = st->pfds[--st->n];
    st->slot[st->pfds[i].fd] = (int)i;
    st->slot[fd] = -1;
}

static int poll_poll(struct tulip__backend *b, int64_t timeout_ns,
                     struct tulip__backend_event *ev, int max)
{
    struct poll_state *st = b->priv;
    struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000),
                          .tv_nsec = (long)(timeout_ns % 1000000000)};
    int n = TULIP_SYS(ppoll)(st->pfds, (nfds_t)st->n,
                             timeout_ns < 0 ? NULL : &ts, NULL);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int out = 0;
    for (size_t k = 0; k < st->n && n > 0 && out < max; k++) {
        size_t i = (st->next + k) % st->n;
        short e = st->pfds[i].revents;
        if (!e)
            continue;
        n--;
        unsigned r = 0;
        if (e & POLLIN)
            r |= TULIP__IO_READ;
        if (e & POLLOUT)
            r |= TULIP__IO_WRITE;
        if (e & POLLHUP)
            r |= TULIP__IO_READ | TULIP__IO_WRITE;
        if (e & (POLLERR | POLLNVAL))
            r |= TULIP__IO_READ | TULIP__IO_WRITE | TULIP__IO_ERR;
        ev[out].fd = st->pfds[i].fd;
        ev[out++].revents = r;
    }
    if (st->n)
        st->next = (st->next + 1) % st->n;
    return out;
}

const struct tulip__backend_ops tulip__backend_poll_ops = {
    .name = "poll",
    .init = poll_init,
    .close = poll_close,
    .add = poll_add,
    .mod = poll_mod,
    .del = poll_del,
    .poll = poll_poll,
};
