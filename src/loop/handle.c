/* SPDX-License-Identifier: MIT */
/*
 * Public callbacks: tulip_call_soon/later/at and their handles (asyncio's
 * Handle and TimerHandle). A handle embeds the loop's intrusive ready entry
 * or timer, so scheduling costs no allocation beyond taking a handle from
 * the loop's free list; handles come in slabs (doubling from 32 to 8192)
 * that are freed when the loop closes.
 *
 * A handle has up to two references: the loop's while it is scheduled, and
 * the caller's if it asked for the handle. It returns to the free list when
 * both are gone. A cancelled call_soon handle stays queued and is skipped
 * (asyncio does the same); a cancelled timer leaves the heap at once.
 */
#include "../prefix.h"
#include "loop_int.h"

#include <errno.h>

#define SLAB_FIRST 32u
#define SLAB_MAX 8192u
#define SLAB_BYTES_MAX ((size_t)1 << 20) /* chunks: 1 MiB slabs at most */

/*
 * A call_soon whose caller did not ask for the handle can never be
 * cancelled or inspected, so it needs no handle: consecutive ones are packed
 * as 16-byte {fn, arg} records into a chunk, one ready entry that runs them
 * in order. A chunk takes records only while it is the last entry of the
 * ready queue, so FIFO order with every other entry holds, and a chunk that
 * is running (its batch was detached from the queue) never grows: records
 * added by its callbacks go to a new chunk, for the next pass. A batch of a
 * million callbacks thus touches 16 MB instead of 64 MB of fresh memory.
 */
#if TULIP_STRESS
#define SOON_CHUNK 2u
#else
#define SOON_CHUNK 62u
#endif

struct soon_chunk {
    struct tulip__cb cb; /* ready entry, then free-list link */
    uint32_t n;          /* records used */
    struct {
        tulip_callback_fn *fn; /* the callback */
        void *arg;             /* its argument */
    } rec[SOON_CHUNK];
};

#define SOON_CHUNK_STRIDE ((sizeof(struct soon_chunk) + 63) & ~(size_t)63)

const struct tulip__cbwrap *tulip__cbwrap;
TULIP_TLS void *tulip__cb_local;

_Static_assert(sizeof(tulip_handle) == 64, "a handle is one cache line");

struct tulip__handle_slab {
    struct tulip__handle_slab *next; /* all slabs of the loop */
    size_t bytes;                    /* size of this allocation */
};

/*
 * Allocate a slab of *count objects of size bytes (a multiple of 64), from
 * the first 64-byte boundary after the header, and chain
 * all but the first onto *free (linked through their leading tulip__cb).
 * Slabs double from SLAB_FIRST to SLAB_MAX objects; all are freed when the
 * loop closes. Returns the first object, or NULL.
 */
static void *handle_slab_grow(tulip_loop *loop, size_t size, size_t *count,
                              struct tulip__cb **free)
{
    size_t n = *count ? *count : SLAB_FIRST;
    if (n * size > SLAB_BYTES_MAX && n > 1)
        n = SLAB_BYTES_MAX / size;
    size_t bytes = sizeof(struct tulip__handle_slab) + 63 + n * size;
    struct tulip__handle_slab *s = tulip__alloc(bytes);
    if (!s)
        return NULL;
    s->next = loop->slabs;
    s->bytes = bytes;
    loop->slabs = s;
    *count = n < SLAB_MAX ? n * 2 : n;
    char *first = (char *)(((uintptr_t)(s + 1) + 63) & ~(uintptr_t)63);
    for (size_t i = n - 1; i > 0; i--) {
        struct tulip__cb *cb = (struct tulip__cb *)(void *)(first + i * size);
        cb->next = *free;
        *free = cb;
    }
    return first;
}

static tulip_handle *handle_alloc(tulip_loop *loop)
{
    struct tulip__cb *cb = loop->handle_free;
    if (tulip__likely(cb != NULL)) {
        loop->handle_free = cb->next;
        return (tulip_handle *)(void *)cb;
    }
    return handle_slab_grow(loop, sizeof(tulip_handle), &loop->slab_next,
                            &loop->handle_free);
}

/* Drop the reference `bit`; the last one returns h to the free list. */
static inline void handle_unref(tulip_handle *h, unsigned bit)
{
    h->state &= ~bit;
    if (h->state & (TULIP__H_LOOP | TULIP__H_USER))
        return;
    tulip_loop *loop = h->loop;
    h->state = 0;
    h->u.cb.next = loop->handle_free;
    loop->handle_free = &h->u.cb;
}

static void handle_soon_run(struct tulip__cb *cb)
{
    tulip_handle *h = tulip__container_of(cb, tulip_handle, u.cb);
    if (!(h->state & TULIP__H_CANCELLED)) {
        h->state |= TULIP__H_DONE; /* cancel from inside fn is a no-op */
        h->fn(h->arg);
        tulip__cb_returned();
    }
    handle_unref(h, TULIP__H_LOOP);
}

static void handle_timer_run(struct tulip__timer *t)
{
    tulip_handle *h = tulip__container_of(t, tulip_handle, u.timer);
    h->state |= TULIP__H_DONE;
    h->fn(h->arg);
    tulip__cb_returned();
    handle_unref(h, TULIP__H_LOOP);
}

static tulip_handle *handle_new(tulip_loop *loop, tulip_callback_fn *fn,
                                void *arg, unsigned kind)
{
    tulip_handle *h = handle_alloc(loop);
    if (tulip__unlikely(!h))
        return NULL;
    h->loop = loop;
    h->fn = fn;
    h->arg = arg;
    h->state = TULIP__H_LOOP | kind;
    return h;
}

static void handle_give(tulip_handle *h, tulip_handle **out)
{
    if (out) {
        h->state |= TULIP__H_USER;
        h->loop->handles_held++;
        *out = h;
    }
}

/* After a chunk's records ran: recycle it. */
static inline void soon_chunk_done(tulip_loop *loop, struct soon_chunk *c)
{
    loop->dispatched += c->n - 1; /* the poll budget counts callbacks */
    if (loop->soon_chunk == c)
        loop->soon_chunk = NULL;
    c->cb.next = loop->soon_free;
    loop->soon_free = &c->cb;
}

/* Run the records of a chunk, then recycle it. The loop is the one running
 * on this thread: chunks run only from its pass. */
static void soon_chunk_run(struct tulip__cb *cb)
{
    struct soon_chunk *c = (struct soon_chunk *)(void *)cb;
    tulip_loop *loop = tulip__loop_running;
    uint32_t n = c->n;
    for (uint32_t i = 0; i < n; i++) {
        c->rec[i].fn(c->rec[i].arg);
        tulip__cb_returned();
    }
    soon_chunk_done(loop, c);
}

static int soon_push(tulip_loop *loop, tulip_callback_fn *fn, void *arg)
{
    struct soon_chunk *c = loop->soon_chunk;
    if (tulip__likely(c && loop->ready_tail == &c->cb.next &&
                      c->n < SOON_CHUNK)) {
        c->rec[c->n].fn = fn;
        c->rec[c->n++].arg = arg;
        return 0;
    }
    struct tulip__cb *cb = loop->soon_free;
    if (tulip__likely(cb != NULL))
        loop->soon_free = cb->next;
    else
        cb = handle_slab_grow(loop, SOON_CHUNK_STRIDE, &loop->soon_slab_next,
                              &loop->soon_free);
    if (tulip__unlikely(!cb))
        return -ENOMEM;
    c = (struct soon_chunk *)(void *)cb;
    cb->fn = soon_chunk_run;
    c->n = 1;
    c->rec[0].fn = fn;
    c->rec[0].arg = arg;
    tulip__loop_ready_push(loop, cb);
    loop->soon_chunk = c;
    return 0;
}

static inline int call_soon_plain(tulip_loop *loop, tulip_callback_fn *fn,
                                  void *arg, tulip_handle **out)
{
    if (!out)
        return soon_push(loop, fn, arg);
    tulip_handle *h = handle_new(loop, fn, arg, 0);
    if (tulip__unlikely(!h))
        return -ENOMEM;
    h->u.cb.fn = handle_soon_run;
    tulip__loop_ready_push(loop, &h->u.cb);
    handle_give(h, out);
    return 0;
}

/* Once contexts are in use: schedule fn with the current context. */
static __attribute__((noinline)) int call_soon_wrapped(tulip_loop *loop,
                                                       tulip_callback_fn *fn,
                                                       void *arg,
                                                       tulip_handle **out)
{
    const struct tulip__cbwrap *w = tulip__cbwrap_get();
    int rc = w->wrap(&fn, &arg);
    if (rc < 0)
        return rc;
    rc = call_soon_plain(loop, fn, arg, out);
    if (rc < 0 && fn == w->run)
        w->discard(arg);
    return rc;
}

int tulip_call_soon(tulip_loop *loop, tulip_callback_fn *fn, void *arg,
                    tulip_handle **out)
{
    if (tulip__unlikely(!loop || !fn))
        return -EINVAL;
    if (tulip__unlikely(tulip__cbwrap_get() != NULL))
        return call_soon_wrapped(loop, fn, arg, out);
    return call_soon_plain(loop, fn, arg, out);
}

static inline int call_at_plain(tulip_loop *loop, int64_t when_ns,
                                tulip_callback_fn *fn, void *arg,
                                tulip_handle **out)
{
    tulip_handle *h = handle_new(loop, fn, arg, TULIP__H_TIMER);
    if (tulip__unlikely(!h))
        return -ENOMEM;
    tulip__timer_init(&h->u.timer, handle_timer_run);
    int rc = tulip__loop_timer_start(loop, &h->u.timer, when_ns);
    if (tulip__unlikely(rc < 0)) {
        handle_unref(h, TULIP__H_LOOP);
        return rc;
    }
    handle_give(h, out);
    return 0;
}

static __attribute__((noinline)) int
call_at_wrapped(tulip_loop *loop, int64_t when_ns, tulip_callback_fn *fn,
                void *arg, tulip_handle **out, const struct tulip__cbwrap *w)
{
    int rc = w->wrap(&fn, &arg);
    if (rc < 0)
        return rc;
    rc = call_at_plain(loop, when_ns, fn, arg, out);
    if (rc < 0 && fn == w->run)
        w->discard(arg);
    return rc;
}

int tulip_call_at(tulip_loop *loop, int64_t when_ns, tulip_callback_fn *fn,
                  void *arg, tulip_handle **out)
{
    if (tulip__unlikely(!loop || !fn))
        return -EINVAL;
    const struct tulip__cbwrap *w = tulip__cbwrap_get();
    if (tulip__unlikely(w != NULL))
        return call_at_wrapped(loop, when_ns, fn, arg, out, w);
    return call_at_plain(loop, when_ns, fn, arg, out);
}

int tulip_call_later(tulip_loop *loop, int64_t delay_ns, tulip_callback_fn *fn,
                     void *arg, tulip_handle **out)
{
    if (tulip__unlikely(!loop || !fn))
        return -EINVAL;
    int64_t when;
    if (delay_ns < 0)
        delay_ns = 0;
    if (__builtin_add_overflow(tulip__loop_now(loop), delay_ns, &when))
        when = TULIP_FOREVER;
    return tulip_call_at(loop, when, fn, arg, out);
}

void tulip_handle_cancel(tulip_handle *h)
{
    if (!h || (h->state & (TULIP__H_CANCELLED | TULIP__H_DONE)) ||
        !(h->state & TULIP__H_LOOP))
        return;
    h->state |= TULIP__H_CANCELLED;
    const struct tulip__cbwrap *w = tulip__cbwrap_get();
    if (w && h->fn == w->run)
        w->discard(h->arg); /* it will never run */
    if (h->state & TULIP__H_TIMER) {
        tulip__loop_timer_stop(h->loop, &h->u.timer);
        handle_unref(h, TULIP__H_LOOP);
    }
}

bool tulip_handle_cancelled(const tulip_handle *h)
{
    return h && (h->state & TULIP__H_CANCELLED);
}

int64_t tulip_handle_when_ns(const tulip_handle *h)
{
    if (!h || !(h->state & TULIP__H_TIMER))
        return INT64_MIN;
    return h->u.timer.deadline_ns;
}

void tulip_handle_release(tulip_handle *h)
{
    /* A handle without the caller's reference is either released already
     * or free: ignore the double release rather than corrupt the list. */
    if (!h || !(h->state & TULIP__H_USER))
        return;
    h->loop->handles_held--;
    handle_unref(h, TULIP__H_USER);
}

/* At loop close: free what wrapped callbacks that will never run carry. */
void tulip__handle_discard_wrapped(tulip_loop *loop)
{
    const struct tulip__cbwrap *w = tulip__cbwrap_get();
    if (!w)
        return;
    for (struct tulip__cb *cb = loop->ready_head; cb; cb = cb->next) {
        if (cb->fn == soon_chunk_run) {
            struct soon_chunk *c = (struct soon_chunk *)(void *)cb;
            for (uint32_t i = 0; i < c->n; i++)
                if (c->rec[i].fn == w->run)
                    w->discard(c->rec[i].arg);
        } else if (cb->fn == handle_soon_run) {
            tulip_handle *h = tulip__container_of(cb, tulip_handle, u.cb);
            if (h->fn == w->run && !(h->state & TULIP__H_CANCELLED))
                w->discard(h->arg);
        }
    }
    for (size_t i = 0; i < loop->heap_size; i++) {
        struct tulip__timer *t = loop->heap[3 + i].t;
        if (t->fn != handle_timer_run)
            continue;
        tulip_handle *h = tulip__container_of(t, tulip_handle, u.timer);
        if (h->fn == w->run)
            w->discard(h->arg);
    }
}

void tulip__handle_free_all(tulip_loop *loop)
{
    struct tulip__handle_slab *s = loop->slabs;
    while (s) {
        struct tulip__handle_slab *next = s->next;
        tulip__free(s, s->bytes);
        s = next;
    }
    loop->slabs = NULL;
    loop->handle_free = NULL;
    loop->soon_free = NULL;
    loop->soon_chunk = NULL;
}
