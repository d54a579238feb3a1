/* SPDX-License-Identifier: MIT */
/*
 * The loop layer's internal interface, for the layers above it (tasks, I/O):
 * intrusive ready-queue entries and timers that the owner embeds in its own
 * objects (no allocation per operation), fd readiness watchers, the loop's
 * clock, a keep-alive count, and two hooks for the task layer. The public
 * loop API (tulip_loop_*, tulip_call_*) is in tulip.h.
 *
 * Nothing here is thread-safe: every function must be called on the thread
 * that runs the loop (tulip_call_soon_threadsafe() is the only door).
 */
#ifndef TULIP_LOOP_H
#define TULIP_LOOP_H

#include "../internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- ready queue (loop.c) ------------------------------------------------ */

/* An intrusive ready-queue entry, embedded in its owner. */
struct tulip__cb {
    struct tulip__cb *next;           /* private to the loop */
    void (*fn)(struct tulip__cb *cb); /* called with the entry itself; the
                                         owner uses tulip__container_of */
};

/*
 * Append cb to the ready queue: it runs in the next pass (or in this one if
 * the pass has not yet started running callbacks). O(1), no allocation,
 * never fails. cb must not be queued already, and must stay valid until its
 * fn has been called: there is no way to take an entry back (the owner
 * marks itself and ignores the call instead). fn may push cb again.
 */
TULIP_PRIVATE void tulip__loop_ready_push(tulip_loop *loop,
                                          struct tulip__cb *cb);

/*
 * Direct hand-off between task steps (task.c): the entry the running pass
 * runs next, so that a task that suspends can switch straight to the next
 * task instead of through the loop. When the pass has nothing left and the
 * boundary to the next one would do nothing (no I/O poll due, nothing from
 * other threads, no timer due, not stopping, not a single-pass run), the
 * next pass starts here, inline, exactly as loop_pass would start it.
 * Returns NULL when the entry must wait for the loop. An entry returned is
 * either run by the loop as usual or, after tulip__loop_batch_take(), by
 * the caller.
 */
TULIP_PRIVATE struct tulip__cb *tulip__loop_batch_next(tulip_loop *loop);

/* Take cb, which tulip__loop_batch_next() just returned, off the pass: the
 * caller runs it. */
TULIP_PRIVATE void tulip__loop_batch_take(tulip_loop *loop,
                                          struct tulip__cb *cb);

/*
 * Prefetching ahead of the running pass (task.c): move a look-ahead cursor
 * one entry on and return the entry it reaches, TULIP__LOOP_AHEAD entries
 * after the next one to run (fewer at the end of the pass), or NULL if the
 * pass has no entry left. Called once per entry run, it stays that far
 * ahead, walking lines its caller fetched a few entries before. The entry
 * returned has not run yet, so it is valid: the cursor is never followed
 * once its entry has been taken.
 */
#define TULIP__LOOP_AHEAD 4
TULIP_PRIVATE struct tulip__cb *tulip__loop_batch_ahead(tulip_loop *loop);

/*
 * Detach every entry of the ready queue and return the first (linked
 * through next), leaving the queue empty. For close hooks: an upper layer
 * frees or forgets its own entries and pushes the others back with
 * tulip__loop_ready_push() for tulip_loop_close() to discard.
 */
TULIP_PRIVATE struct tulip__cb *tulip__loop_ready_take(tulip_loop *loop);

/* ---- timers (timer.c) ---------------------------------------------------- */

/* An intrusive timer, embedded in its owner. */
struct tulip__timer {
    int64_t deadline_ns;                /* read-only for the owner */
    uint64_t seq;                       /* private: insertion order */
    size_t heap_index;                  /* private; (size_t)-1: not armed */
    void (*fn)(struct tulip__timer *t); /* runs as a ready callback when due */
};

/* Make t an unarmed timer that calls fn when it fires. */
TULIP_PRIVATE void tulip__timer_init(struct tulip__timer *t,
                                     void (*fn)(struct tulip__timer *));

/*
 * Arm t to fire at deadline_ns of the loop's clock (a deadline in the past
 * fires on the next pass). Re-arming an armed timer moves it. When due, t
 * is disarmed and t->fn(t) runs as one of the pass's ready callbacks, after
 * the callbacks that were queued before it was due (asyncio's order); fn
 * may re-arm t. Timers with equal deadlines fire in the order they were
 * armed. Returns 0, or -ENOMEM if the heap could not grow (t is then
 * unarmed).
 */
TULIP_PRIVATE int tulip__loop_timer_start(tulip_loop *loop,
                                          struct tulip__timer *t,
                                          int64_t deadline_ns);

/* Disarm t, also if it is due but its fn has not run yet: fn will not run
 * and the loop holds no reference to t afterwards. O(log n); a no-op if t
 * is not armed, answered inline (most waits end with no timer armed). */
TULIP_PRIVATE void tulip__loop_timer_disarm(tulip_loop *loop,
                                            struct tulip__timer *t);
static inline void tulip__loop_timer_stop(tulip_loop *lp,
                                          struct tulip__timer *t)
{
    if (t->heap_index != (size_t)-1)
        tulip__loop_timer_disarm(lp, t);
}

/* Whether t is armed (in the heap, or due and waiting for its turn). */
TULIP_PRIVATE bool tulip__timer_armed(const struct tulip__timer *t);

/* ---- clock, liveness, errors (loop.c, clock.c) --------------------------- */

/* The loop's clock in ns: CLOCK_MONOTONIC, or the virtual clock. */
TULIP_PRIVATE int64_t tulip__loop_now(tulip_loop *loop);

/* Outstanding work (a pending task ...) that keeps tulip_loop_run() from
 * returning although nothing is ready, armed or watched. */
TULIP_PRIVATE void tulip__loop_ref(tulip_loop *loop);
TULIP_PRIVATE void tulip__loop_unref(tulip_loop *loop);

/* Report an error to the loop's handler: the same as
 * tulip_loop_report_error(). */
TULIP_PRIVATE void tulip__loop_report(tulip_loop *loop,
                                      const struct tulip_error_context *ctx);

/* ---- fd readiness watchers (io.c) ---------------------------------------- */

#define TULIP__IO_READ 1u  /* readable (or hung up, or at end of file) */
#define TULIP__IO_WRITE 2u /* writable */
#define TULIP__IO_ERR 4u   /* error condition; only ever in revents */

/* A readiness watcher of one fd, embedded in its owner. Several watchers may
 * watch one fd (a reader and a writer, say); the poller is asked for the
 * union of their events. Level-triggered: fn runs on every pass in which the
 * fd is ready for some of its events. */
struct tulip__io {
    int fd;                                             /* read-only */
    unsigned events;                                    /* read-only */
    void (*fn)(struct tulip__io *io, unsigned revents); /* set by the owner */
    bool weak; /* set by the owner before starting: an active weak watcher
                  does not keep tulip_loop_run() going (libuv's uv_unref) */
    /* private */
    struct tulip__io *fd_next; /* next watcher of the same fd */
    size_t pending_index;      /* slot in the pass's pending list, or -1 */
    unsigned revents;          /* events found by the last poll */
    bool active;               /* started and not stopped */
};

/*
 * Start watching fd for events (TULIP__IO_READ|TULIP__IO_WRITE; 0 is allowed
 * and watches nothing yet). io->fn must be set. When the poll of a pass finds
 * fd ready, io->fn(io, revents) runs as a ready callback of that pass, after
 * the callbacks queued before the poll and before the due timers (asyncio's
 * order); revents holds the ready events among io->events, plus
 * TULIP__IO_ERR on an error, in which case all of io->events are reported.
 * Returns 0, -EINVAL (negative fd, unknown event bits, io already active),
 * -ENOMEM, or a negative errno from the poller (-EPERM for a regular file
 * with epoll ...).
 */
TULIP_PRIVATE int tulip__loop_io_start(tulip_loop *loop, struct tulip__io *io,
                                       int fd, unsigned events);

/* Change the events of an active watcher. Returns 0, -EINVAL, or a negative
 * errno from the poller (the old events then stay). */
TULIP_PRIVATE int tulip__loop_io_update(tulip_loop *loop, struct tulip__io *io,
                                        unsigned events);

/* Stop watching: io->fn will not run again, including for readiness already
 * found in this pass. A no-op if io is not active. Stop a watcher before
 * closing its fd. */
TULIP_PRIVATE void tulip__loop_io_stop(tulip_loop *loop, struct tulip__io *io);

/* ---- hooks for the task layer (loop.c) ----------------------------------- */

/* One void * slot that the task layer owns (its per-loop state); NULL
 * initially. */
TULIP_PRIVATE void **tulip__loop_upper(tulip_loop *loop);

/* Set the hook that tulip_loop_close() calls first; a negative return makes
 * close fail with that code and leaves the loop intact. */
TULIP_PRIVATE void tulip__loop_set_close_hook(tulip_loop *loop,
                                              int (*hook)(tulip_loop *loop));

/* ---- callback wrapping for task-local storage (handle.c) ----------------- */

/*
 * The task layer's contexts (src/task/context.c) ride on public callbacks
 * through this table, which stays NULL until a context variable is first
 * set in the process: until then scheduling and running a callback costs
 * one predicted branch more. Once set, tulip_call_soon/call_at ask wrap()
 * to replace (fn, arg) by a trampoline `run` carrying the current context
 * (or to leave them, for an empty one), discard() frees what a wrapped
 * callback carries when it will never run (cancelled, loop closed), and
 * after() is called when a callback returns leaving tulip__cb_local set.
 */
struct tulip__cbwrap {
    int (*wrap)(tulip_callback_fn **fn, void **arg); /* 0 or -ENOMEM */
    tulip_callback_fn *run;                          /* the trampoline */
    void (*discard)(void *arg);                      /* arg of run */
    void (*after)(void);                             /* a callback returned */
};

TULIP_PRIVATE extern const struct tulip__cbwrap *tulip__cbwrap;

static inline const struct tulip__cbwrap *tulip__cbwrap_get(void)
{
    return __atomic_load_n(&tulip__cbwrap, __ATOMIC_RELAXED);
}

/* What a callback left behind on this thread for after(): context.c's
 * context of a callback that ran without one and set a variable. NULL
 * otherwise, so that telling the end of a callback is one compare. */
TULIP_PRIVATE extern TULIP_TLS void *tulip__cb_local;

/* A callback returned. */
static inline void tulip__cb_returned(void)
{
    if (tulip__unlikely(tulip__cb_local != NULL))
        tulip__cbwrap->after();
}

#endif /* TULIP_LOOP_H */
