/* SPDX-License-Identifier: MIT */
/*
 * The loop's private state, shared by the files of src/loop/ only (loop.c,
 * timer.c, io.c, handle.c, async.c). Layers above use loop.h; nothing
 * outside src/loop/ may include this header.
 */
#ifndef TULIP_LOOP_INT_H
#define TULIP_LOOP_INT_H

#include "loop.h"
#include "backend.h"

#include <stdatomic.h>

/*
 * When callbacks are ready and user fds are watched, asyncio polls with
 * timeout 0 on every pass. An epoll_wait costs about 90 ns here, more than
 * a whole task switch, so the loop polls only once this many ready entries
 * and due timers have run since the last poll (and always when it is idle
 * or stopping). The watchers a poll found do not count: the tasks they wake
 * run before the next poll. I/O readiness is therefore noticed after at most
 * this many callbacks plus the batch during which the budget ran out.
 */
#if TULIP_STRESS
#define TULIP__LOOP_POLL_BUDGET 1u
#define TULIP__LOOP_EVENTS 1
#else
#define TULIP__LOOP_POLL_BUDGET 64u
#define TULIP__LOOP_EVENTS 256 /* fds reported by one poll */
#endif

/* heap_index of a timer that is due and waits in loop->due[] for its turn:
 * the top bit plus the slot. */
#define TULIP__TIMER_DUE ((size_t)1 << (sizeof(size_t) * 8 - 1))
#define TULIP__TIMER_IDLE ((size_t)-1)

/* An entry of the timer heap: the deadline sits next to the pointer so that
 * comparisons touch only the heap array (the sequence number is read through
 * the pointer on equal deadlines only). */
struct tulip__heap_entry {
    int64_t deadline_ns;    /* copy of t->deadline_ns */
    struct tulip__timer *t; /* the timer */
};

/* Per-fd record of io.c: the watchers of the fd and what the backend was
 * asked for. */
struct tulip__loop_fd {
    struct tulip__io *watchers; /* singly linked through fd_next */
    unsigned registered;        /* events given to the backend; 0: none */
};

/* Handle state bits. */
#define TULIP__H_LOOP 1u      /* the loop holds a reference */
#define TULIP__H_USER 2u      /* the caller holds a reference */
#define TULIP__H_TIMER 4u     /* from call_later/call_at */
#define TULIP__H_CANCELLED 8u /* tulip_handle_cancel() was called */
#define TULIP__H_DONE 16u     /* the callback started */

struct tulip_handle {
    union {
        struct tulip__cb cb;       /* call_soon: ready entry */
        struct tulip__timer timer; /* call_later/at: timer */
    } u;
    tulip_loop *loop;      /* the owning loop */
    tulip_callback_fn *fn; /* the callback */
    void *arg;             /* its argument */
    unsigned state;        /* TULIP__H_* */
};

struct tulip__handle_slab; /* handle.c */
struct async_node;         /* async.c */
struct soon_chunk;         /* handle.c */

struct tulip_loop {
    /* ready queue: FIFO, singly linked through tulip__cb.next */
    struct tulip__cb *ready_head;  /* first entry, or NULL */
    struct tulip__cb **ready_tail; /* where the next entry is linked */
    struct tulip__cb *batch;       /* the running pass's entries not yet
                                      run (its batch, from ready_head) */
    struct tulip__cb *ahead;       /* look-ahead cursor in the batch
                                      (tulip__loop_batch_ahead), or NULL */
    unsigned ahead_at;             /* dispatched when it is taken */
    unsigned dispatched;           /* entries run since the last poll */
    bool running;                  /* inside tulip_loop_run*() */
    bool run_once;                 /* inside tulip_loop_run_once() */
    bool stopping;                 /* tulip_loop_stop() was called */
    bool virtual_clock;            /* time is virtual_now */

    /* timers (timer.c): a 4-ary min-heap, see there */
    struct tulip__heap_entry *heap; /* heap[3 .. 3 + heap_size) */
    size_t heap_size;               /* armed timers in the heap */
    size_t heap_cap;                /* capacity, in timers */
    void *heap_mem;                 /* the allocation behind heap */
    struct tulip__timer **due;      /* due timers of the running pass; a
                                       stopped one leaves NULL */
    size_t due_count;               /* used slots of due */
    size_t due_cap;                 /* slots of due, 2 * heap_cap */
    uint64_t timer_seq;             /* insertion order of timers */
    int64_t heap_max_ns;            /* >= every deadline in the heap */
    int64_t virtual_now;            /* the virtual clock, ns */

    /* fd watchers (io.c) */
    struct tulip__loop_fd *fds; /* indexed by fd */
    size_t fds_cap;             /* entries of fds */
    struct tulip__io **pending; /* watchers found ready by the pass's poll;
                                   a stopped one leaves NULL */
    size_t pending_count;       /* used slots of pending */
    size_t pending_cap;         /* capacity: one slot per active watcher */
    size_t io_active;           /* active watchers */
    size_t io_weak;             /* of which weak (no keep-alive) */
    size_t io_fds;              /* fds registered for watchers */

    /* the poller */
    struct tulip__backend backend;                          /* epoll or poll */
    struct tulip__backend_event events[TULIP__LOOP_EVENTS]; /* poll output */

    /* call_soon_threadsafe (async.c) */
    _Atomic(struct tulip__cb *) async_head; /* Treiber stack, newest first */
    atomic_int async_pending;               /* 1: async_head may be non-empty */
    int wakefd;                    /* eventfd that wakes a waiting poll */
    struct async_node *async_pool; /* preallocated nodes */
    _Atomic uint64_t async_free;   /* their free list: ABA tag | slot + 1 */

    /* handles (handle.c) */
    struct tulip__cb *handle_free;    /* free handles, through u.cb */
    struct tulip__cb *soon_free;      /* free call_soon record chunks */
    struct soon_chunk *soon_chunk;    /* the chunk taking records, if it is
                                         still the queue's last entry */
    struct tulip__handle_slab *slabs; /* all handle and entry memory */
    size_t slab_next;                 /* handles in the next slab */
    size_t soon_slab_next;            /* chunks in the next slab */
    size_t handles_held;              /* handles the caller still holds */

    /* liveness, errors, hooks */
    long refs;                       /* tulip__loop_ref() count */
    tulip_error_handler_fn *err_fn;  /* NULL: the default */
    void *err_ud;                    /* its user data */
    void *upper;                     /* the task layer's slot */
    int (*close_hook)(tulip_loop *); /* called first by close */
};

/* loop.c: the loop running on this thread, or NULL. */
TULIP_PRIVATE extern TULIP_TLS tulip_loop *tulip__loop_running;

/* clock.c: CLOCK_MONOTONIC in ns. */
TULIP_PRIVATE int64_t tulip__clock_now_ns(void);

/* timer.c */
TULIP_PRIVATE void tulip__timer_move_due(tulip_loop *loop, int64_t now_ns);
TULIP_PRIVATE void tulip__timer_free_all(tulip_loop *loop);

/* io.c */
TULIP_PRIVATE void tulip__io_dispatch(tulip_loop *loop, int fd,
                                      unsigned revents);
TULIP_PRIVATE void tulip__io_free_all(tulip_loop *loop);

/* handle.c */
TULIP_PRIVATE void tulip__handle_free_all(tulip_loop *loop);
TULIP_PRIVATE void tulip__handle_discard_wrapped(tulip_loop *loop);

/* async.c */
TULIP_PRIVATE int tulip__async_init(tulip_loop *loop);
TULIP_PRIVATE void tulip__async_drain(tulip_loop *loop);
TULIP_PRIVATE void tulip__async_clear_wakefd(tulip_loop *loop);
TULIP_PRIVATE bool tulip__async_is(const struct tulip__cb *cb);
TULIP_PRIVATE void tulip__async_discard(struct tulip__cb *cb);
TULIP_PRIVATE void tulip__async_close(tulip_loop *loop);

#endif /* TULIP_LOOP_INT_H */
