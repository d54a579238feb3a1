/* SPDX-License-Identifier: MIT */
/*
 * The event loop: creation and teardown, the ready queue, and the pass that
 * runs callbacks, polls for I/O and fires timers in exactly the order of
 * asyncio's BaseEventLoop._run_once (see loop_pass below), so programs
 * ported from asyncio print the same lines in the same order.
 *
 * The pass is built to cost almost nothing when there is nothing to do: it
 * reads the clock only when a timer is armed, makes no poll syscall when no
 * fd is watched (other threads' callbacks are found through an atomic flag
 * instead of the eventfd), and allocates nothing.
 */
#include "../prefix.h"
#include "loop_int.h"
#include "../hooks.h"
#include "../coro/coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum loop_mode {
    LOOP_RUN,     /* until no work is left or stopped */
    LOOP_FOREVER, /* until stopped */
    LOOP_ONCE,    /* one pass */
};

/* The loop running on this thread: tulip_loop_current(), and the guard
 * against running two loops at once on one thread. */
TULIP_TLS tulip_loop *tulip__loop_running;

static const struct tulip__backend_ops *const loop_backends[] = {
    &tulip__backend_epoll_ops,
    &tulip__backend_poll_ops,
};

const struct tulip__backend_ops *tulip__backend_find(const char *name)
{
    for (size_t i = 0; i < TULIP_ARRAY_SIZE(loop_backends); i++)
        if (strcmp(loop_backends[i]->name, name) == 0)
            return loop_backends[i];
    return NULL;
}

/* The backend from the option, else $TULIP_BACKEND if it names one, else
 * epoll. An unknown name in the option is an error; in the environment it
 * is ignored, so a future TULIP_BACKEND=uring still gets a working loop. */
static const struct tulip__backend_ops *
loop_pick_backend(const struct tulip_loop_opts *opts)
{
    if (opts && opts->backend)
        return tulip__backend_find(opts->backend);
    const char *env = getenv("TULIP_BACKEND");
    const struct tulip__backend_ops *ops = env ? tulip__backend_find(env) : 0;
    return ops ? ops : &tulip__backend_epoll_ops;
}

int tulip_loop_new(tulip_loop **out, const struct tulip_loop_opts *opts)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    const struct tulip__backend_ops *ops = loop_pick_backend(opts);
    if (!ops)
        return -EINVAL;
    tulip_loop *loop = tulip__calloc(sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    loop->ready_tail = &loop->ready_head;
    loop->virtual_clock = opts && opts->virtual_clock;
    loop->wakefd = -1;
    loop->dispatched = TULIP__LOOP_POLL_BUDGET; /* the first pass polls */
    int rc = tulip__backend_init(&loop->backend, ops);
    if (rc < 0)
        goto out_free_loop;
    rc = tulip__async_init(loop);
    if (rc < 0)
        goto out_close_backend;
    *out = loop;
    if (opts && opts->debug && tulip__hooks_table)
        tulip__hooks_table->loop_debug(loop, true);
    return 0;

out_close_backend:
    tulip__backend_close(&loop->backend);
out_free_loop:
    tulip__free(loop, sizeof(*loop));
    return rc;
}

int tulip_loop_close(tulip_loop *loop)
{
    if (!loop)
        return 0;
    if (loop->running || loop->handles_held)
        return -EBUSY;
    if (loop->close_hook) {
        int rc = loop->close_hook(loop);
        if (rc < 0)
            return rc;
    }
    TULIP__HOOK(loop_debug, loop, false); /* if it was created with debug */
    /* Discard what is still queued, as asyncio's close() does. Handles and
     * timers live in memory freed below; only cross-thread nodes are
     * allocated one by one. */
    for (struct tulip__cb *cb = loop->ready_head, *next; cb; cb = next) {
        next = cb->next;
        if (tulip__async_is(cb))
            tulip__async_discard(cb);
    }
    tulip__async_close(loop);
    tulip__handle_discard_wrapped(loop);
    tulip__timer_free_all(loop);
    tulip__io_free_all(loop);
    tulip__handle_free_all(loop);
    tulip__backend_close(&loop->backend);
    tulip__free(loop, sizeof(*loop));
    return 0;
}

void tulip__loop_ready_push(tulip_loop *loop, struct tulip__cb *cb)
{
    cb->next = NULL;
    *loop->ready_tail = cb;
    loop->ready_tail = &cb->next;
    /* last, so that it is a tail call (no frame when hooks are off) */
    TULIP__HOOK(check_thread, loop, "a callback or task step scheduled");
}

struct tulip__cb *tulip__loop_ready_take(tulip_loop *loop)
{
    struct tulip__cb *head = loop->ready_head;

    loop->ahead = NULL;
    loop->ready_head = NULL;
    loop->ready_tail = &loop->ready_head;
    return head;
}

int64_t tulip__loop_now(tulip_loop *loop)
{
    return loop->virtual_clock ? loop->virtual_now : tulip__clock_now_ns();
}

void tulip__loop_ref(tulip_loop *loop)
{
    loop->refs++;
}

void tulip__loop_unref(tulip_loop *loop)
{
    loop->refs--;
}

void **tulip__loop_upper(tulip_loop *loop)
{
    return &loop->upper;
}

void tulip__loop_set_close_hook(tulip_loop *loop, int (*hook)(tulip_loop *loop))
{
    loop->close_hook = hook;
}

/* Whether tulip_loop_run() has anything left to wait for. */
static bool loop_alive(tulip_loop *loop)
{
    return loop->ready_head || loop->heap_size ||
           loop->io_active > loop->io_weak || loop->refs > 0 ||
           atomic_load_explicit(&loop->async_pending, memory_order_relaxed);
}

/* Phase 1: how long the poll may wait, in ns (-1: until an fd or another
 * thread wakes it). asyncio: 0 if callbacks are ready or the loop is
 * stopping, else until the first timer, else forever. */
static int64_t loop_timeout(tulip_loop *loop, bool may_wait)
{
    if (!may_wait || loop->ready_head || loop->stopping ||
        atomic_load_explicit(&loop->async_pending, memory_order_relaxed))
        return 0;
    if (!loop->heap_size)
        return -1;
    if (loop->virtual_clock)
        return 0; /* the clock jumps instead (phase 4) */
    int64_t first = loop->heap[3].deadline_ns, now = tulip__clock_now_ns();
    return first <= now ? 0 : first - now; /* no overflow: now >= 0 */
}

/* Phase 2: poll the backend and mark the ready watchers pending. Skipped
 * when it cannot find anything or waiting is not needed: with no fd
 * watched, a poll that would not wait is pointless (other threads are
 * noticed through async_pending); with callbacks ready, the zero-timeout
 * poll is rate-limited by TULIP__LOOP_POLL_BUDGET. */
static int loop_poll(tulip_loop *loop, int64_t timeout_ns)
{
    if (timeout_ns == 0) {
        if (!loop->io_fds)
            return 0;
        if (loop->ready_head && !loop->stopping &&
            loop->dispatched < TULIP__LOOP_POLL_BUDGET)
            return 0;
    }
    loop->dispatched = 0;
    loop->ahead = NULL; /* its count restarts (tulip__loop_batch_ahead) */
    if (timeout_ns != 0)
        tulip__stack_idle(); /* nothing to run: a good time to give back */
    int n = tulip__backend_poll(&loop->backend, timeout_ns, loop->events,
                                TULIP__LOOP_EVENTS);
    if (tulip__unlikely(n < 0)) {
        struct tulip_error_context ctx = {
            .message = "polling for I/O failed", .err = n, .source = "loop"};
        tulip__loop_report(loop, &ctx);
        return n;
    }
    for (int i = 0; i < n; i++) {
        if (loop->events[i].fd == loop->wakefd)
            tulip__async_clear_wakefd(loop);
        else
            tulip__io_dispatch(loop, loop->events[i].fd,
                               loop->events[i].revents);
    }
    return 0;
}

/* Phase 6: run the batch: the entries queued before this point (earlier
 * passes, other threads), then the ready watchers, then the due timers.
 * Anything they schedule waits for the next pass. The pending and due
 * arrays may be reallocated by the callbacks (watchers and timers started),
 * so they are indexed afresh each time; their counts cannot grow. */
static void loop_run_batch(tulip_loop *loop)
{
    struct tulip__cb *cb;
    unsigned n = 0;
    /* The cursor lives in the loop: a task that suspends may take the next
     * entry itself (tulip__loop_batch_next), or even start the next pass. */
    loop->batch = loop->ready_head;
    loop->ready_head = NULL;
    loop->ready_tail = &loop->ready_head;
    while ((cb = loop->batch) != NULL) {
        loop->batch = cb->next; /* cb->fn may queue cb again */
        loop->dispatched++;
        cb->fn(cb);
    }
    for (size_t i = 0; i < loop->pending_count; i++) {
        struct tulip__io *io = loop->pending[i];
        if (!io)
            continue; /* stopped meanwhile */
        loop->pending[i] = NULL;
        io->pending_index = (size_t)-1;
        TULIP__HOOK(io, loop, io->fd, io->revents);
        /* Not counted against the poll budget: a poll right after this
         * pass, before the tasks these watchers woke have read, would
         * report the same unread fds again (level-triggered) and wake each
         * task a second time for a read that finds nothing. */
        io->fn(io, io->revents);
    }
    loop->pending_count = 0;
    for (size_t i = 0; i < loop->due_count; i++) {
        /* due[] is in deadline order, the timers are anywhere in memory:
         * fetch a few ahead (a mass expiry otherwise waits on each). */
        if (i + 8 < loop->due_count && loop->due[i + 8])
            __builtin_prefetch(loop->due[i + 8]);
        struct tulip__timer *t = loop->due[i];
        if (!t)
            continue; /* stopped meanwhile */
        loop->due[i] = NULL;
        t->heap_index = TULIP__TIMER_IDLE;
        t->fn(t);
        n++;
    }
    loop->due_count = 0;
    loop->dispatched += n;
}

/* Whether the boundary between the running pass and the next would do
 * nothing but start the next batch, given that entries are ready: the
 * phases of loop_pass below, and loop_run's reasons to stop after a pass. */
static bool loop_boundary_idle(tulip_loop *loop)
{
    if (loop->stopping || loop->run_once)
        return false;
    if (loop->io_fds && loop->dispatched >= TULIP__LOOP_POLL_BUDGET)
        return false; /* phase 2 would poll */
    if (atomic_load_explicit(&loop->async_pending, memory_order_relaxed))
        return false; /* phase 3 would take entries */
    if (loop->heap_size && loop->heap[3].deadline_ns <= tulip__loop_now(loop))
        return false; /* phase 5 would move a due timer */
    return true;
}

struct tulip__cb *tulip__loop_batch_next(tulip_loop *loop)
{
    if (loop->batch)
        return loop->batch;
    /* The pass's watchers and timers still to run come first. */
    if (!loop->ready_head || loop->pending_count || loop->due_count ||
        !loop_boundary_idle(loop))
        return NULL;
    TULIP__HOOK(pass, loop, loop->ready_head, 0);
    loop->batch = loop->ready_head;
    loop->ready_head = NULL;
    loop->ready_tail = &loop->ready_head;
    return loop->batch;
}

void tulip__loop_batch_take(tulip_loop *loop, struct tulip__cb *cb)
{
    loop->batch = cb->next;
    loop->dispatched++;
}

/*
 * The cursor is valid while its entry has not been taken. Taking an entry
 * counts one in loop->dispatched (entries run since the last poll; other
 * additions only make the cursor look closer, and the poll, which restarts
 * the count, drops the cursor), so the cursor records the count at which
 * its entry will be taken, and the unsigned distance to it wraps to a huge
 * value once it has been: no bookkeeping when entries are taken, nor when
 * a pass starts (every entry of the pass before has been taken).
 */
struct tulip__cb *tulip__loop_batch_ahead(tulip_loop *loop)
{
    struct tulip__cb *cb = loop->ahead;
    unsigned lead;

    if (cb && loop->ahead_at - loop->dispatched <= 4 * TULIP__LOOP_AHEAD) {
        if (cb->next) { /* one on; at the end of the pass, stay */
            cb = cb->next;
            loop->ahead_at++;
        }
    } else {
        cb = loop->batch;
        if (!cb) {
            loop->ahead = NULL;
            return NULL;
        }
        for (lead = 0; lead < TULIP__LOOP_AHEAD && cb->next; lead++)
            cb = cb->next;
        loop->ahead_at = loop->dispatched + lead;
    }
    loop->ahead = cb;
    return cb;
}

/*
 * One pass, asyncio's _run_once, phase by phase:
 *   1. timeout: 0 if anything is ready or the loop is stopping, else the
 *      time to the first timer, else forever;
 *   2. poll for I/O with that timeout (ready watchers become pending);
 *   3. take the callbacks of other threads onto the ready queue;
 *   4. virtual clock only: if nothing at all is ready, jump to the first
 *      timer's deadline (trio's MockClock autojump, threshold 0);
 *   5. move the due timers (deadline <= now) behind the ready entries;
 *   6. run exactly what is ready now: queued callbacks, then I/O watchers,
 *      then due timers.
 * (asyncio also drops cancelled timers from the heap at the start of a
 * pass; tulip removes them when they are cancelled.)
 */
static int loop_pass(tulip_loop *loop, bool may_wait)
{
    /* 1 and 2: timeout, poll */
    int rc = loop_poll(loop, loop_timeout(loop, may_wait));
    if (tulip__unlikely(rc < 0))
        return rc;
    /* 3: other threads' callbacks (an atomic load when there are none) */
    if (atomic_load_explicit(&loop->async_pending, memory_order_relaxed))
        tulip__async_drain(loop);
    /* 4 and 5: timers; the clock is read only when one is armed */
    if (loop->heap_size) {
        if (loop->virtual_clock && !loop->ready_head && !loop->pending_count &&
            loop->heap[3].deadline_ns > loop->virtual_now)
            loop->virtual_now = loop->heap[3].deadline_ns;
        tulip__timer_move_due(loop, tulip__loop_now(loop));
    }
    /* 6: run the batch */
    TULIP__HOOK(pass, loop, loop->ready_head,
                loop->pending_count + loop->due_count);
    loop_run_batch(loop);
    return 0;
}

static int loop_run(tulip_loop *loop, enum loop_mode mode)
{
    if (!loop)
        return -EINVAL;
    if (loop->running || tulip__loop_running)
        return -EBUSY;
    loop->running = true;
    loop->run_once = mode == LOOP_ONCE;
    tulip__loop_running = loop;
    int rc = 0;
    for (;;) {
        bool alive = loop_alive(loop);
        if (mode == LOOP_RUN && !alive && !loop->stopping)
            break;
        rc = loop_pass(loop, alive || mode == LOOP_FOREVER);
        if (rc < 0 || loop->stopping || mode == LOOP_ONCE)
            break;
    }
    /* A stop() applies to the run it happened in (libuv's uv_run resets
     * stop_flag too). */
    loop->stopping = false;
    loop->running = false;
    tulip__loop_running = NULL;
    if (rc == 0 && mode == LOOP_ONCE)
        rc = loop_alive(loop);
    return rc;
}

int tulip_loop_run(tulip_loop *loop)
{
    return loop_run(loop, LOOP_RUN);
}

int tulip_loop_run_forever(tulip_loop *loop)
{
    return loop_run(loop, LOOP_FOREVER);
}

int tulip_loop_run_once(tulip_loop *loop)
{
    return loop_run(loop, LOOP_ONCE);
}

int tulip_loop_stop(tulip_loop *loop)
{
    if (!loop)
        return -EINVAL;
    loop->stopping = true;
    return 0;
}

bool tulip_loop_is_running(const tulip_loop *loop)
{
    return loop && loop->running;
}

int64_t tulip_loop_time_ns(tulip_loop *loop)
{
    return loop ? tulip__loop_now(loop) : 0;
}

tulip_loop *tulip_loop_current(void)
{
    return tulip__loop_running;
}

const char *tulip_loop_backend(const tulip_loop *loop)
{
    return loop ? loop->backend.ops->name : "";
}

static void loop_default_error_handler(tulip_loop *loop,
                                       const struct tulip_error_context *ctx,
                                       void *ud)
{
    (void)loop;
    (void)ud;
    fprintf(stderr, "tulip: %s%s%s%s%s\n", ctx->source ? ctx->source : "",
            ctx->source ? ": " : "", ctx->message ? ctx->message : "error",
            ctx->err ? ": " : "", ctx->err ? tulip_strerror(ctx->err) : "");
}

int tulip_loop_set_error_handler(tulip_loop *loop, tulip_error_handler_fn *fn,
                                 void *ud)
{
    if (!loop)
        return -EINVAL;
    loop->err_fn = fn;
    loop->err_ud = fn ? ud : NULL;
    return 0;
}

void tulip__loop_report(tulip_loop *loop, const struct tulip_error_context *ctx)
{
    if (loop->err_fn)
        loop->err_fn(loop, ctx, loop->err_ud);
    else
        loop_default_error_handler(loop, ctx, NULL);
}

int tulip_loop_report_error(tulip_loop *loop,
                            const struct tulip_error_context *ctx)
{
    if (!loop || !ctx)
        return -EINVAL;
    tulip__loop_report(loop, ctx);
    return 0;
}
