/* SPDX-License-Identifier: MIT */
/*
 * call_soon_threadsafe: the one door into a loop from other threads (and
 * from signal handlers).
 *
 * A caller takes a node from the loop's lock-free pool (or, if all are in
 * flight, allocates one), pushes it onto a lock-free stack (a CAS loop, newest
 * first) and raises async_pending; only the caller that raises it from 0 to 1
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

/* Nodes kept per loop for call_soon_threadsafe, so that the common case
 * allocates nothing and is async-signal-safe. */
#if TULIP_STRESS
#define ASYNC_POOL 2u
#else
#define ASYNC_POOL 64u
#endif
#define ASYNC_SLOT_MASK 0xffffffffu

struct async_node {
    struct tulip__cb cb;        /* stack link, then ready entry */
    tulip_callback_fn *fn;      /* the callback */
    void *arg;                  /* its argument */
    _Atomic uint32_t free_next; /* pool free list: slot + 1, 0: end */
    uint32_t slot;              /* pool slot + 1; 0: allocated */
};

/*
 * The pool's free list is a lock-free stack of slot numbers, popped by any
 * thread (or signal handler) and pushed by the loop's thread. Its head packs
 * the top slot + 1 (low 32 bits) with a counter bumped by every change (high
 * 32 bits), so a pop that raced with a pop and a push of the same slot (ABA)
 * fails its compare-and-swap instead of corrupting the list.
 */
static struct async_node *async_pool_pop(tulip_loop *loop)
{
    struct async_node *pool = loop->async_pool;
    uint64_t old =
        atomic_load_explicit(&loop->async_free, memory_order_acquire);
    for (;;) {
        uint32_t top = (uint32_t)(old & ASYNC_SLOT_MASK);
        if (!top)
            return NULL;
        uint32_t next = atomic_load_explicit(&pool[top - 1].free_next,
                                             memory_order_relaxed);
        uint64_t new = ((old >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&loop->async_free, &old, new,
                                                  memory_order_acquire,
                                                  memory_order_acquire))
            return &pool[top - 1];
    }
}

static void async_pool_push(tulip_loop *loop, struct async_node *n)
{
    uint64_t old =
        atomic_load_explicit(&loop->async_free, memory_order_relaxed);
    uint64_t new;
    do {
        atomic_store_explicit(&n->free_next, (uint32_t)(old & ASYNC_SLOT_MASK),
                              memory_order_relaxed);
        new = ((old >> 32) + 1) << 32 | n->slot;
    } while (!atomic_compare_exchange_weak_explicit(&loop->async_free, &old,
                                                    new, memory_order_release,
                                                    memory_order_relaxed));
}

static void async_node_free(tulip_loop *loop, struct async_node *n)
{
    if (n->slot)
        async_pool_push(loop, n);
    else
        tulip__free(n, sizeof(*n));
}

/* Runs on the loop's thread, from the pass of tulip__loop_running. */
static void async_run(struct tulip__cb *cb)
{
    struct async_node *n = tulip__container_of(cb, struct async_node, cb);
    tulip_callback_fn *fn = n->fn;
    void *arg = n->arg;
    async_node_free(tulip__loop_running, n);
    fn(arg);
}

int tulip__async_init(tulip_loop *loop)
{
    atomic_init(&loop->async_head, NULL);
    atomic_init(&loop->async_pending, 0);
    struct async_node *pool = tulip__calloc(ASYNC_POOL * sizeof(*pool));
    if (!pool)
        return -ENOMEM;
    for (uint32_t i = 0; i < ASYNC_POOL; i++) {
        pool[i].slot = i + 1;
        atomic_init(&pool[i].free_next, i + 1 < ASYNC_POOL ? i + 2 : 0);
    }
    loop->async_pool = pool;
    atomic_init(&loop->async_free, 1);
    int rc;
    loop->wakefd = TULIP_SYS(eventfd)(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->wakefd < 0) {
        rc = -errno;
        goto out_free_pool;
    }
    rc = tulip__backend_add(&loop->backend, loop->wakefd, TULIP__IO_READ);
    if (rc < 0)
        goto out_close_fd;
    return 0;

out_close_fd:
    close(loop->wakefd);
    loop->wakefd = -1;
out_free_pool:
    tulip__free(pool, ASYNC_POOL * sizeof(*pool));
    loop->async_pool = NULL;
    return rc;
}

/*
 * Async-signal-safe as long as a pool node is free (fewer than ASYNC_POOL
 * calls waiting to run): a lock-free pop, a lock-free push, an atomic
 * exchange and write(2), with errno preserved. Beyond that it allocates.
 */
int tulip_call_soon_threadsafe(tulip_loop *loop, tulip_callback_fn *fn,
                               void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    struct async_node *n = async_pool_pop(loop);
    if (!n) {
        n = tulip__alloc(sizeof(*n));
        if (!n)
            return -ENOMEM;
        n->slot = 0;
    }
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
        int saved = errno;
        uint64_t one = 1;
        /* EAGAIN (counter full) still leaves the fd readable: ignore. */
        ssize_t w = write(loop->wakefd, &one, sizeof(one));
        (void)w;
        errno = saved;
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
    ssize_t r = TULIP_SYS(read)(loop->wakefd, &count, sizeof(count));
    (void)r; /* EAGAIN: someone read it already; nothing to do */
}

bool tulip__async_is(const struct tulip__cb *cb)
{
    return cb->fn == async_run;
}

/* Close: free a node that will not run (pool nodes go with the pool). */
void tulip__async_discard(struct tulip__cb *cb)
{
    struct async_node *n = tulip__container_of(cb, struct async_node, cb);
    if (!n->slot)
        tulip__free(n, sizeof(*n));
}

/* Free the nodes nobody drained, the pool and the eventfd. */
void tulip__async_close(tulip_loop *loop)
{
    struct tulip__cb *cb =
        atomic_exchange_explicit(&loop->async_head, NULL, memory_order_acquire);
    while (cb) {
        struct tulip__cb *next = cb->next;
        tulip__async_discard(cb);
        cb = next;
    }
    tulip__free(loop->async_pool, ASYNC_POOL * sizeof(struct async_node));
    loop->async_pool = NULL;
    if (loop->wakefd >= 0) {
        tulip__backend_del(&loop->backend, loop->wakefd);
        close(loop->wakefd);
    }
}
