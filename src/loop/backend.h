/* SPDX-License-Identifier: MIT */
/*
 * The I/O poller interface (Redis's aeApi*, libuv's uv__io_poll): a backend
 * watches fds for readiness and reports them in batches. There is one file
 * per backend (backend_epoll.c, backend_poll.c); the loop picks one at run
 * time (TULIP_BACKEND or the loop option), so the calls go through a small
 * table of functions. Backends deal in fds and TULIP__IO_* bits only; which
 * watchers sit behind an fd is the loop's business (io.c).
 */
#ifndef TULIP_LOOP_BACKEND_H
#define TULIP_LOOP_BACKEND_H

#include "loop.h"

/* One ready fd, as reported by a poll. */
struct tulip__backend_event {
    int fd;           /* the ready fd */
    unsigned revents; /* TULIP__IO_READ|WRITE|ERR; a hang-up reports both
                         READ and WRITE, so that the next read or write
                         finds out */
};

struct tulip__backend;

struct tulip__backend_ops {
    const char *name; /* "epoll", "poll" */
    /* Create the poller state in b->priv; 0 or a negative errno. */
    int (*init)(struct tulip__backend *b);
    /* Free everything init made. */
    void (*close)(struct tulip__backend *b);
    /* Watch fd (not watched yet) for events (non-zero); 0 or -errno. */
    int (*add)(struct tulip__backend *b, int fd, unsigned events);
    /* Change the events (non-zero) of a watched fd; 0 or -errno. */
    int (*mod)(struct tulip__backend *b, int fd, unsigned events);
    /* Stop watching fd; cannot fail (a closed fd is already gone). */
    void (*del)(struct tulip__backend *b, int fd);
    /* Wait up to timeout_ns (-1: forever, 0: do not wait) and store at most
     * max ready fds in ev. Returns their number, 0 on timeout or EINTR, or a
     * negative errno. */
    int (*poll)(struct tulip__backend *b, int64_t timeout_ns,
                struct tulip__backend_event *ev, int max);
};

struct tulip__backend {
    const struct tulip__backend_ops *ops; /* the chosen backend */
    void *priv;                           /* its state */
};

TULIP_PRIVATE extern const struct tulip__backend_ops tulip__backend_epoll_ops;
TULIP_PRIVATE extern const struct tulip__backend_ops tulip__backend_poll_ops;

/* The backend called name, or NULL if there is none. */
TULIP_PRIVATE const struct tulip__backend_ops *
tulip__backend_find(const char *name);

static inline int tulip__backend_init(struct tulip__backend *b,
                                      const struct tulip__backend_ops *ops)
{
    b->ops = ops;
    b->priv = NULL;
    return ops->init(b);
}

static inline void tulip__backend_close(struct tulip__backend *b)
{
    b->ops->close(b);
}

static inline int tulip__backend_add(struct tulip__backend *b, int fd,
                                     unsigned events)
{
    return b->ops->add(b, fd, events);
}

static inline int tulip__backend_mod(struct tulip__backend *b, int fd,
                                     unsigned events)
{
    return b->ops->mod(b, fd, events);
}

static inline void tulip__backend_del(struct tulip__backend *b, int fd)
{
    b->ops->del(b, fd);
}

static inline int tulip__backend_poll(struct tulip__backend *b,
                                      int64_t timeout_ns,
                                      struct tulip__backend_event *ev, int max)
{
    return b->ops->poll(b, timeout_ns, ev, max);
}

#endif /* TULIP_LOOP_BACKEND_H */
