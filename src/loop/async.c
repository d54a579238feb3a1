/* SPDX-License-Identifier: MIT */
/*
 * call_soon_threadsafe: the one door into a loop from other threads.
 *
 * A caller pushes a node onto a lock-free stack (a CAS loop, newest first)
 * and raises async_pending; only the caller that raises it from 0 to 1
 * writes the eventfd, so a burst of calls costs one wake-up. The loop
 * checks async_pending with a plain atomic load on every pass (no syscall),
 * and when it is set, clears it, takes the whole stack with one exchange,
 * reverses it into arrival order and appends it to the ready queue. The
 * eventfd is read only when a waiting poll reports it: a loop that never
 * waits never touches it, and a stale count costs one spurious wake-up.
 *
 * Clearing the flag before taking the stack closes the race with a caller
 * that pushes meanwhile: it finds the flag clear and wakes the loop again.
 */
#include "../prefix.h"
#include "loop_int.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct async_node {
    struct tulip__cb cb;   /* stack link, then ready entry */
    tulip_callback_fn *fn; /* the callback */
    void *arg;             /* its argument */
};

static void async_run(struct tulip__cb *cb)
{
    struct async_node *n = tulip__container_of(cb, struct async_node, cb);
    tulip_callback_fn *fn = n->fn;
    void *arg = n->arg;
    tulip__free(n, sizeof(*n));
    fn(arg);
}

int tulip__async_init(tulip_loop *loop)
{
    atomic_init(&loop->async_head, NULL);
    atomic_init(&loop->async_pending, 0);
    loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->wakefd < 0)
        return -errno;
    int rc = tulip__backend_add(&loop->backend, loop->wakefd, TULIP__IO_READ);
    if (rc < 0) {
        close(loop->wakefd);
        loop->wakefd = -1;
    }
    return rc;
}

int tulip_call_soon_threadsafe(tulip_loop *loop, tulip_callback_fn *fn,
                               void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    struct async_node *n = tulip__alloc(sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->cb.fn = async_run;
    n->fn = fn;
    n->arg = arg;
    struct tulip__cb *head =
        atomic_load_explicit(&loop->async_head, memory_order_relaxed);
    do
        n->cb.next = head;
    while (!atomic_compare_exchange_weak_explicit(&loop->async_head, &head,
                                                  &n->cb, memory_order_release,
                                                  memory_order_relaxed));
    if (atomic_exchange_explicit(&loop->async_pending, 1,
                                 memory_order_acq_rel) == 0) {
        uint64_t one = 1;
        /* EAGAIN (counter full) still leaves the fd readable: ignore. */
        ssize_t w = write(loop->wakefd, &one, sizeof(one));
        (void)w;
    }
    return 0;
}

/* Move what other threads queued to the ready queue, oldest first. */
void tulip__async_drain(tulip_loop *loop)
{
    atomic_store_explicit(&loop->async_pending, 0, memory_order_seq_cst);
    struct tulip__cb *cb =
        atomic_exchange_explicit(&loop->async_head, NULL, memory_order_acquire);
    struct tulip__cb *fifo = NULL;
    while (cb) {
        struct tulip__cb *next = cb->next;
        cb->next = fifo;
        fifo = cb;
        cb = next;
    }
    while (fifo) {
        struct tulip__cb *next = fifo->next;
        tulip__loop_ready_push(loop, fifo);
        fifo = next;
    }
}

/* A waiting poll reported the eventfd: consume its count. */
void tulip__async_clear_wakefd(tulip_loop *loop)
{
    uint64_t count;
    ssize_t r = read(loop->wakefd, &count, sizeof(count));
    (void)r; /* EAGAIN: someone read it already; nothing to do */
}

bool tulip__async_is(const struct tulip__cb *cb)
{
    return cb->fn == async_run;
}

void tulip__async_discard(struct tulip__cb *cb)
{
    tulip__free(tulip__container_of(cb, struct async_node, cb),
                sizeof(struct async_node));
}

/* Free the nodes nobody drained, and the eventfd. */
void tulip__async_close(tulip_loop *loop)
{
    struct tulip__cb *cb =
        atomic_exchange_explicit(&loop->async_head, NULL, memory_order_acquire);
    while (cb) {
        struct tulip__cb *next = cb->next;
        tulip__async_discard(cb);
        cb = next;
    }
    if (loop->wakefd >= 0) {
        tulip__backend_del(&loop->backend, loop->wakefd);
        close(loop->wakefd);
    }
}
