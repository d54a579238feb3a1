/* SPDX-License-Identifier: MIT */
/*
 * Queue: asyncio.Queue, LifoQueue and PriorityQueue of void * items, with
 * join/task_done and Python 3.13's shutdown. Items are kept in one array:
 * a ring for FIFO and LIFO, a binary min-heap keyed by (cmp, insertion
 * sequence) for priority, so equal priorities come out first in, first out.
 *
 * Hand-off keeps the order strict without barging: a put while getters wait
 * (the queue is then empty) gives the item straight to the longest waiting
 * getter; a get from a full queue with waiting putters moves the item of
 * the longest waiting putter (parked in its t->wake_value, see sync.h) into
 * the space it freed and completes that put. So a newcomer never takes an
 * item or a slot that a waiter was owed.
 */
#include "../prefix.h"
#include "sync.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

struct queue_ent {
    void *item;   /* the user's */
    uint64_t seq; /* insertion order, the tie-break of priorities */
};

struct tulip_queue {
    struct queue_ent *buf;       /* ring (FIFO, LIFO) or heap (priority) */
    size_t cap;                  /* entries allocated */
    size_t head;                 /* ring: index of the oldest entry */
    size_t len;                  /* entries queued */
    size_t maxsize;              /* 0: unbounded */
    size_t unfinished;           /* put and not yet task_done */
    uint64_t seq;                /* next insertion sequence */
    tulip_queue_cmp *cmp;        /* priority order */
    enum tulip_queue_kind kind;  /* item order */
    bool shutdown;               /* shut down (puts fail) */
    struct tulip__waitq getters; /* tasks in get (queue empty) */
    struct tulip__waitq putters; /* tasks in put (queue full) */
    struct tulip__waitq joiners; /* tasks in join */
};

int tulip_queue_new(tulip_queue **out, const struct tulip_queue_opts *opts)
{
    static const struct tulip_queue_opts defaults = {TULIP_QUEUE_FIFO, 0, NULL};
    tulip_queue *q;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    if (opts->kind != TULIP_QUEUE_FIFO && opts->kind != TULIP_QUEUE_LIFO &&
        opts->kind != TULIP_QUEUE_PRIORITY)
        return -EINVAL;
    if (opts->kind == TULIP_QUEUE_PRIORITY && !opts->cmp)
        return -EINVAL;
    q = tulip__calloc(sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->kind = opts->kind;
    q->maxsize = opts->maxsize;
    q->cmp = opts->cmp;
    *out = q;
    return 0;
}

void tulip_queue_free(tulip_queue *q)
{
    if (!q)
        return;
    tulip__sync_wake_all(&q->getters, TULIP_ECLOSED);
    tulip__sync_wake_all(&q->putters, TULIP_ECLOSED);
    tulip__sync_wake_all(&q->joiners, TULIP_ECLOSED);
    tulip__free(q->buf, q->cap * sizeof(*q->buf));
    tulip__free(q, sizeof(*q));
}

/* ---- storage ------------------------------------------------------------- */

static int queue_grow(tulip_queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 8;
    struct queue_ent *buf;
    size_t first;

    if (q->maxsize && cap > q->maxsize)
        cap = q->maxsize;
    if (cap > SIZE_MAX / sizeof(*buf))
        return -ENOMEM;
    buf = tulip__alloc(cap * sizeof(*buf));
    if (!buf)
        return -ENOMEM;
    /* Unwrap the ring (a heap has head 0, so this is a plain copy). */
    first = q->cap - q->head < q->len ? q->cap - q->head : q->len;
    if (q->len) {
        memcpy(buf, q->buf + q->head, first * sizeof(*buf));
        memcpy(buf + first, q->buf, (q->len - first) * sizeof(*buf));
    }
    tulip__free(q->buf, q->cap * sizeof(*q->buf));
    q->buf = buf;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static bool ent_less(const tulip_queue *q, const struct queue_ent *a,
                     const struct queue_ent *b)
{
    int c = q->cmp(a->item, b->item);

    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void heap_push(tulip_queue *q, struct queue_ent e)
{
    size_t i = q->len++;

    while (i > 0 && ent_less(q, &e, &q->buf[(i - 1) / 2])) {
        q->buf[i] = q->buf[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->buf[i] = e;
}

static void *heap_pop(tulip_queue *q)
{
    void *top = q->buf[0].item;
    struct queue_ent last = q->buf[--q->len];
    size_t i = 0, c;

    while ((c = 2 * i + 1) < q->len) {
        if (c + 1 < q->len && ent_less(q, &q->buf[c + 1], &q->buf[c]))
            c++;
        if (!ent_less(q, &q->buf[c], &last))
            break;
        q->buf[i] = q->buf[c];
        i = c;
    }
    q->buf[i] = last;
    return top;
}

/* Store item (there is room in a bounded queue, or the array may grow). */
static int queue_push(tulip_queue *q, void *item)
{
    struct queue_ent e;

    if (q->len == q->cap && queue_grow(q) != 0)
        return -ENOMEM;
    e.item = item;
    e.seq = q->seq++;
    if (q->kind == TULIP_QUEUE_PRIORITY) {
        heap_push(q, e);
    } else {
        size_t i = q->head + q->len;
        q->buf[i < q->cap ? i : i - q->cap] = e;
        q->len++;
    }
    q->unfinished++;
    return 0;
}

static void *queue_pop(tulip_queue *q)
{
    void *item;

    if (q->kind == TULIP_QUEUE_PRIORITY)
        return heap_pop(q);
    if (q->kind == TULIP_QUEUE_LIFO) {
        size_t i = q->head + --q->len;
        return q->buf[i < q->cap ? i : i - q->cap].item;
    }
    item = q->buf[q->head].item;
    q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
    q->len--;
    return item;
}

/* ---- put and get --------------------------------------------------------- */

int tulip_queue_try_put(tulip_queue *q, void *item)
{
    if (!q)
        return -EINVAL;
    if (q->shutdown)
        return TULIP_ESHUTDOWN;
    if (q->getters.head) {
        /* Getters wait only while the queue is empty: hand it over. */
        q->unfinished++;
        tulip__task_wake_waiter(q->getters.head, item, 0);
        return 0;
    }
    if (q->maxsize && q->len >= q->maxsize)
        return -EAGAIN;
    return queue_push(q, item);
}

int tulip_queue_put_until(tulip_queue *q, void *item, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!q)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    rc = tulip_queue_try_put(q, item);
    if (rc != -EAGAIN)
        return rc;
    t->wake_value = item; /* parked for the getter that frees a slot */
    return tulip__sync_wait(&q->putters, t, deadline_ns);
}

int tulip_queue_put(tulip_queue *q, void *item)
{
    return tulip_queue_put_until(q, item, TULIP_FOREVER);
}

int tulip_queue_try_get(tulip_queue *q, void **item)
{
    struct tulip__waiter *w;

    if (item)
        *item = NULL;
    if (!q || !item)
        return -EINVAL;
    if (q->len == 0)
        return q->shutdown ? TULIP_ESHUTDOWN : -EAGAIN;
    *item = queue_pop(q);
    w = q->putters.head;
    if (w) {
        /* Putters wait only while the queue is full, so the slot just
         * freed is theirs: the push cannot need to grow. */
        queue_push(q, w->task->wake_value);
        tulip__task_wake_waiter(w, NULL, 0);
    }
    return 0;
}

int tulip_queue_get_until(tulip_queue *q, void **item, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (item)
        *item = NULL;
    if (!q || !item)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    rc = tulip_queue_try_get(q, item);
    if (rc != -EAGAIN)
        return rc;
    rc = tulip__sync_wait(&q->getters, t, deadline_ns);
    if (rc == 0)
        *item = t->wake_value;
    return rc;
}

int tulip_queue_get(tulip_queue *q, void **item)
{
    return tulip_queue_get_until(q, item, TULIP_FOREVER);
}

/* ---- join and shutdown --------------------------------------------------- */

int tulip_queue_task_done(tulip_queue *q)
{
    if (!q)
        return -EINVAL;
    if (q->unfinished == 0)
        return -EOVERFLOW;
    if (--q->unfinished == 0)
        tulip__sync_wake_all(&q->joiners, 0);
    return 0;
}

int tulip_queue_join_until(tulip_queue *q, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!q)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc || q->unfinished == 0)
        return rc;
    return tulip__sync_wait(&q->joiners, t, deadline_ns);
}

int tulip_queue_join(tulip_queue *q)
{
    return tulip_queue_join_until(q, TULIP_FOREVER);
}

int tulip_queue_shutdown(tulip_queue *q, bool immediate)
{
    if (!q)
        return -EINVAL;
    q->shutdown = true;
    if (immediate && q->len) {
        while (q->len) {
            queue_pop(q);
            if (q->unfinished)
                q->unfinished--;
        }
        if (q->unfinished == 0)
            tulip__sync_wake_all(&q->joiners, 0);
    }
    tulip__sync_wake_all(&q->putters, TULIP_ESHUTDOWN);
    tulip__sync_wake_all(&q->getters, TULIP_ESHUTDOWN);
    return 0;
}

long tulip_queue_size(const tulip_queue *q)
{
    return q ? (long)q->len : -EINVAL;
}

bool tulip_queue_empty(const tulip_queue *q)
{
    return !q || q->len == 0;
}

bool tulip_queue_full(const tulip_queue *q)
{
    return q && q->maxsize && q->len >= q->maxsize;
}
