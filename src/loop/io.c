/* SPDX-License-Identifier: MIT */
/*
 * fd readiness watchers for the I/O layer: any number of watchers per fd (a
 * reader and a writer, typically), merged into one backend registration that
 * asks for the union of their events. The poll phase of a pass only records
 * which watchers are ready (loop->pending[]); their callbacks run later in
 * the same pass, after the callbacks that were queued before the poll, as
 * asyncio's _process_events appends to _ready. A watcher stopped in between
 * leaves a NULL slot, so a callback never runs for a stopped watcher.
 */
#include "../prefix.h"
#include "loop_int.h"

#include <errno.h>

#define IO_EVENTS (TULIP__IO_READ | TULIP__IO_WRITE)

static int io_reserve(tulip_loop *loop, int fd)
{
    if ((size_t)fd >= loop->fds_cap) {
        size_t cap = loop->fds_cap ? loop->fds_cap * 2 : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        struct tulip__loop_fd *f = tulip__realloc(
            loop->fds, loop->fds_cap * sizeof(*f), cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        for (size_t i = loop->fds_cap; i < cap; i++)
            f[i] = (struct tulip__loop_fd){NULL, 0};
        loop->fds = f;
        loop->fds_cap = cap;
    }
    if (loop->io_active == loop->pending_cap) {
        size_t cap = loop->pending_cap ? loop->pending_cap * 2 : 16;
        /* NOLINTBEGIN(bugprone-sizeof-expression): an array of pointers */
        struct tulip__io **p = tulip__realloc(
            loop->pending, loop->pending_cap * sizeof(*p), cap * sizeof(*p));
        /* NOLINTEND(bugprone-sizeof-expression) */
        if (!p)
            return -ENOMEM;
        loop->pending = p;
        loop->pending_cap = cap;
    }
    return 0;
}

/* Bring the backend's registration of fd in line with its watchers. */
static int io_sync(tulip_loop *loop, int fd)
{
    struct tulip__loop_fd *f = &loop->fds[fd];
    unsigned want = 0;
    for (struct tulip__io *w = f->watchers; w; w = w->fd_next)
        want |= w->events;
    if (want == f->registered)
        return 0;
    if (want == 0) {
        tulip__backend_del(&loop->backend, fd);
        loop->io_fds--;
    } else {
        int rc = f->registered ? tulip__backend_mod(&loop->backend, fd, want)
                               : tulip__backend_add(&loop->backend, fd, want);
        if (rc < 0)
            return rc;
        if (!f->registered)
            loop->io_fds++;
    }
    f->registered = want;
    return 0;
}

static void io_unlink(tulip_loop *loop, struct tulip__io *io)
{
    struct tulip__io **pp = &loop->fds[io->fd].watchers;
    while (*pp != io)
        pp = &(*pp)->fd_next;
    *pp = io->fd_next;
    io->fd_next = NULL;
}

int tulip__loop_io_start(tulip_loop *loop, struct tulip__io *io, int fd,
                         unsigned events)
{
    if (fd < 0 || (events & ~IO_EVENTS) || !io->fn || io->active)
        return -EINVAL;
    int rc = io_reserve(loop, fd);
    if (rc < 0)
        return rc;
    io->fd = fd;
    io->events = events;
    io->revents = 0;
    io->pending_index = (size_t)-1;
    /* Append, so that watchers of one fd run in the order they started. */
    struct tulip__io **pp = &loop->fds[fd].watchers;
    while (*pp)
        pp = &(*pp)->fd_next;
    io->fd_next = NULL;
    *pp = io;
    rc = io_sync(loop, fd);
    if (rc < 0) {
        io_unlink(loop, io);
        return rc;
    }
    io->active = true;
    loop->io_active++;
    loop->io_weak += io->weak;
    return 0;
}

int tulip__loop_io_update(tulip_loop *loop, struct tulip__io *io,
                          unsigned events)
{
    if ((events & ~IO_EVENTS) || !io->active)
        return -EINVAL;
    unsigned old = io->events;
    io->events = events;
    int rc = io_sync(loop, io->fd);
    if (rc < 0)
        io->events = old;
    return rc;
}

void tulip__loop_io_stop(tulip_loop *loop, struct tulip__io *io)
{
    if (!io->active)
        return;
    io_unlink(loop, io);
    if (io->pending_index != (size_t)-1) {
        loop->pending[io->pending_index] = NULL;
        io->pending_index = (size_t)-1;
    }
    io->active = false;
    loop->io_active--;
    loop->io_weak -= io->weak;
    /* Only a narrowing MOD can fail here (the fd was closed and reused
     * behind our back); the registration is then simply forgotten. */
    if (io_sync(loop, io->fd) < 0) {
        tulip__backend_del(&loop->backend, io->fd);
        if (loop->fds[io->fd].registered)
            loop->io_fds--;
        loop->fds[io->fd].registered = 0;
    }
}

/* The poll found fd ready with revents: mark its interested watchers
 * pending. pending[] has a slot for every active watcher. */
void tulip__io_dispatch(tulip_loop *loop, int fd, unsigned revents)
{
    if ((size_t)fd >= loop->fds_cap)
        return;
    for (struct tulip__io *w = loop->fds[fd].watchers; w; w = w->fd_next) {
        unsigned r = revents & (w->events | TULIP__IO_ERR);
        if (!w->events || !r)
            continue;
        if (r & TULIP__IO_ERR)
            r |= w->events;
        if (w->pending_index != (size_t)-1) {
            w->revents |= r;
            continue;
        }
        w->revents = r;
        w->pending_index = loop->pending_count;
        loop->pending[loop->pending_count++] = w;
    }
}

void tulip__io_free_all(tulip_loop *loop)
{
    tulip__free(loop->fds, loop->fds_cap * sizeof(*loop->fds));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    tulip__free(loop->pending, loop->pending_cap * sizeof(*loop->pending));
    loop->fds = NULL;
    loop->pending = NULL;
    loop->fds_cap = loop->pending_cap = 0;
}
