/* SPDX-License-Identifier: MIT */
/*
 * Channels: trio's memory channels (bounded, unbounded, rendezvous; a send
 * side and a receive side, each closed when its last user closes it) with
 * Go's select over several operations.
 *
 * A channel keeps a ring buffer and two wait queues. The invariants that
 * make hand-off safe: live senders wait only while the buffer is full (a
 * rendezvous channel is always full), live receivers only while it is
 * empty; so a send first hands its message to the longest waiting
 * receiver, and a receive that frees a slot refills it at once from the
 * longest waiting sender (whose message is parked in its t->wake_value, see
 * sync.h). No message is ever buffered while a receiver waits, and no slot
 * stays free while a sender waits.
 *
 * select parks one heap node per operation (never on the task's stack),
 * all sharing one `struct sel`. The first channel to complete one of them
 * sets sel->done, which makes the other nodes stale: a channel skips (and
 * unlinks) a stale node when it meets one at the head of a queue, so a
 * select completes exactly one operation. A node is also stale once its
 * task stopped waiting: woken by its timer or a cancel, which unlink only
 * the task's own node, or destroyed by tulip_loop_close(). To see that
 * without ever reading the task (which may be freed by then), the select
 * parks the task's own node in sel->anchor, a queue of its own: whatever
 * ends the wait other than a channel unlinks it, so an empty anchor means
 * the select is gone. The select unlinks and frees all its nodes when it
 * resumes (a task destroyed while selecting never resumes: its record
 * stays allocated, and its nodes are unlinked as channels meet them).
 */
#include "../prefix.h"
#include "sync.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

struct sel;

struct sel_node {
    struct tulip__waiter w; /* in a channel's queue; w.task: the selector */
    struct sel *sel;        /* the select it belongs to */
    size_t index;           /* of its operation */
    void *msg;              /* send: the message; recv: the one received */
};

struct sel {
    bool done;                  /* an operation completed: the rest is stale */
    size_t n;                   /* nodes */
    struct tulip__waitq anchor; /* holds the task's own node while it waits */
    struct sel_node node[];     /* one per operation with a channel */
};

struct tulip_chan {
    void **buf;                /* ring of buffered messages */
    size_t cap;                /* slots allocated */
    size_t head;               /* oldest message */
    size_t len;                /* messages buffered */
    size_t capacity;           /* the user's limit; 0: rendezvous */
    unsigned senders;          /* open users of the send side; 0: closed */
    unsigned receivers;        /* open users of the recv side; 0: closed */
    struct tulip__waitq sendq; /* senders waiting (buffer full) */
    struct tulip__waitq recvq; /* receivers waiting (buffer empty) */
};

int tulip_chan_new(tulip_chan **out, size_t capacity)
{
    tulip_chan *ch;

    if (!out)
        return -EINVAL;
    *out = ch = tulip__calloc(sizeof(*ch));
    if (!ch)
        return -ENOMEM;
    ch->capacity = capacity;
    ch->senders = 1;
    ch->receivers = 1;
    return 0;
}

/* ---- waiters: plain (a task's own node) or select nodes ----------------- */

static bool is_sel(const struct tulip__waiter *w)
{
    return w != &w->task->waiter;
}

static struct sel_node *sel_node_of(struct tulip__waiter *w)
{
    return tulip__container_of(w, struct sel_node, w);
}

/* The longest waiting live waiter of q, unlinking stale select nodes. */
static struct tulip__waiter *live_head(struct tulip__waitq *q)
{
    struct tulip__waiter *w;

    while ((w = q->head) != NULL) {
        if (!is_sel(w))
            return w; /* a plain waiter in a queue is always waiting */
        struct sel *sel = sel_node_of(w)->sel;
        if (!sel->done && sel->anchor.head)
            return w; /* never read w->task: it may be freed */
        tulip__waitq_remove(w);
    }
    return NULL;
}

/* The message a waiting sender parked. */
static void *parked_msg(struct tulip__waiter *w)
{
    return is_sel(w) ? sel_node_of(w)->msg : w->task->wake_value;
}

/* Complete the operation of waiter w with (msg, code). */
static void complete(struct tulip__waiter *w, void *msg, int code)
{
    struct sel_node *n;

    if (!is_sel(w)) {
        tulip__task_wake_waiter(w, msg, code);
        return;
    }
    n = sel_node_of(w);
    n->sel->done = true;
    n->msg = msg;
    tulip__task_wake_waiter(w, n, code);
}

static void fail_all(struct tulip__waitq *q, int code)
{
    struct tulip__waiter *w;

    while ((w = live_head(q)) != NULL)
        complete(w, NULL, code);
}

void tulip_chan_free(tulip_chan *ch)
{
    if (!ch)
        return;
    fail_all(&ch->sendq, TULIP_ECLOSED);
    fail_all(&ch->recvq, TULIP_ECLOSED);
    tulip__free(ch->buf, ch->cap * sizeof(*ch->buf));
    tulip__free(ch, sizeof(*ch));
}

/* ---- the buffer ---------------------------------------------------------- */

static int buf_grow(tulip_chan *ch)
{
    size_t cap = ch->cap ? ch->cap * 2 : 8;
    size_t first;
    void **buf;

    if (cap > ch->capacity)
        cap = ch->capacity;
    if (cap > SIZE_MAX / sizeof(*buf))
        return -ENOMEM;
    buf = tulip__alloc(cap * sizeof(*buf));
    if (!buf)
        return -ENOMEM;
    first = ch->cap - ch->head < ch->len ? ch->cap - ch->head : ch->len;
    if (ch->len) {
        memcpy(buf, ch->buf + ch->head, first * sizeof(*buf));
        memcpy(buf + first, ch->buf, (ch->len - first) * sizeof(*buf));
    }
    tulip__free(ch->buf, ch->cap * sizeof(*ch->buf));
    ch->buf = buf;
    ch->cap = cap;
    ch->head = 0;
    return 0;
}

static int buf_push(tulip_chan *ch, void *msg)
{
    size_t i;

    if (ch->len == ch->cap && buf_grow(ch) != 0)
        return -ENOMEM;
    i = ch->head + ch->len++;
    ch->buf[i < ch->cap ? i : i - ch->cap] = msg;
    return 0;
}

static void *buf_pop(tulip_chan *ch)
{
    void *msg = ch->buf[ch->head];

    ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
    ch->len--;
    return msg;
}

/* ---- sides --------------------------------------------------------------- */

int tulip_chan_open(tulip_chan *ch, int side)
{
    unsigned *count;

    if (!ch || (side != TULIP_CHAN_SEND && side != TULIP_CHAN_RECV))
        return -EINVAL;
    count = side == TULIP_CHAN_SEND ? &ch->senders : &ch->receivers;
    if (*count == 0)
        return TULIP_ECLOSED;
    if (*count == UINT32_MAX)
        return -EOVERFLOW;
    ++*count;
    return 0;
}

int tulip_chan_close(tulip_chan *ch, int side)
{
    if (!ch || (side != TULIP_CHAN_SEND && side != TULIP_CHAN_RECV))
        return -EINVAL;
    if (side == TULIP_CHAN_SEND) {
        if (ch->senders == 0)
            return TULIP_ECLOSED;
        if (--ch->senders > 0)
            return 0;
        /* Receivers wait only on an empty buffer: end of stream. */
        fail_all(&ch->sendq, TULIP_ECLOSED);
        fail_all(&ch->recvq, TULIP_EOF);
        return 0;
    }
    if (ch->receivers == 0)
        return TULIP_ECLOSED;
    if (--ch->receivers > 0)
        return 0;
    ch->len = 0; /* nobody can take them any more */
    ch->head = 0;
    fail_all(&ch->sendq, -EPIPE);
    fail_all(&ch->recvq, TULIP_ECLOSED);
    return 0;
}

long tulip_chan_size(const tulip_chan *ch)
{
    return ch ? (long)ch->len : -EINVAL;
}

/* ---- send and receive ---------------------------------------------------- */

int tulip_chan_try_send(tulip_chan *ch, void *msg)
{
    struct tulip__waiter *w;

    if (!ch)
        return -EINVAL;
    if (ch->senders == 0)
        return TULIP_ECLOSED;
    if (ch->receivers == 0)
        return -EPIPE;
    w = live_head(&ch->recvq);
    if (w) {
        complete(w, msg, 0);
        return 0;
    }
    if (ch->len < ch->capacity)
        return buf_push(ch, msg);
    return -EAGAIN;
}

int tulip_chan_send_until(tulip_chan *ch, void *msg, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    int rc;

    if (!ch)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    rc = tulip_chan_try_send(ch, msg);
    if (rc != -EAGAIN)
        return rc;
    t->wake_value = msg; /* parked for the receiver that takes it */
    return tulip__sync_wait(&ch->sendq, t, deadline_ns);
}

int tulip_chan_send(tulip_chan *ch, void *msg)
{
    return tulip_chan_send_until(ch, msg, TULIP_FOREVER);
}

static int chan_try_recv(tulip_chan *ch, void **msg)
{
    struct tulip__waiter *w;

    if (ch->receivers == 0)
        return TULIP_ECLOSED;
    if (ch->len) {
        *msg = buf_pop(ch);
        w = live_head(&ch->sendq);
        if (w) {
            /* The slot just freed is the longest waiting sender's. */
            buf_push(ch, parked_msg(w));
            complete(w, NULL, 0);
        }
        return 0;
    }
    w = live_head(&ch->sendq);
    if (w) {
        *msg = parked_msg(w); /* rendezvous */
        complete(w, NULL, 0);
        return 0;
    }
    return ch->senders == 0 ? TULIP_EOF : -EAGAIN;
}

int tulip_chan_try_recv(tulip_chan *ch, void **msg)
{
    void *m = NULL;
    int rc;

    if (!ch) {
        if (msg)
            *msg = NULL;
        return -EINVAL;
    }
    rc = chan_try_recv(ch, &m);
    if (msg)
        *msg = m;
    return rc;
}

int tulip_chan_recv_until(tulip_chan *ch, void **msg, int64_t deadline_ns)
{
    struct tulip_task *t = tulip__task_running();
    void *m = NULL;
    int rc;

    if (msg)
        *msg = NULL;
    if (!ch)
        return -EINVAL;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    rc = chan_try_recv(ch, &m);
    if (rc == -EAGAIN) {
        rc = tulip__sync_wait(&ch->recvq, t, deadline_ns);
        if (rc == 0)
            m = t->wake_value;
    }
    if (msg)
        *msg = m;
    return rc;
}

int tulip_chan_recv(tulip_chan *ch, void **msg)
{
    return tulip_chan_recv_until(ch, msg, TULIP_FOREVER);
}

/* ---- select -------------------------------------------------------------- */

/* -EINVAL unless ops is a valid list with at least one channel. */
static int select_check(const struct tulip_chan_op *ops, size_t n,
                        size_t *count)
{
    size_t i;

    *count = 0;
    if (!ops || n == 0)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        if (!ops[i].chan)
            continue;
        if (ops[i].dir != TULIP_CHAN_SEND && ops[i].dir != TULIP_CHAN_RECV)
            return -EINVAL;
        ++*count;
    }
    return *count ? 0 : -EINVAL;
}

static int select_try(struct tulip_chan_op *ops, size_t n, size_t *index)
{
    void *m;
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        if (!ops[i].chan)
            continue;
        if (ops[i].dir == TULIP_CHAN_SEND) {
            rc = tulip_chan_try_send(ops[i].chan, ops[i].msg);
        } else {
            m = NULL;
            rc = chan_try_recv(ops[i].chan, &m);
            if (rc == 0)
                ops[i].msg = m;
        }
        if (rc != -EAGAIN) {
            if (index)
                *index = i;
            return rc;
        }
    }
    return -EAGAIN;
}

int tulip_chan_try_select(struct tulip_chan_op *ops, size_t n, size_t *index)
{
    size_t count;
    int rc = select_check(ops, n, &count);

    return rc ? rc : select_try(ops, n, index);
}

/* Park one node per operation, suspend, take the outcome, unpark. */
static int select_wait(struct tulip_task *t, struct tulip_chan_op *ops,
                       size_t n, size_t count, int64_t deadline_ns,
                       size_t *index)
{
    size_t size = sizeof(struct sel) + count * sizeof(struct sel_node);
    struct sel *s = tulip__alloc(size);
    struct sel_node *won;
    size_t i, k = 0;
    int rc;

    if (!s)
        return -ENOMEM;
    s->done = false;
    s->n = count;
    s->anchor.head = s->anchor.tail = NULL;
    for (i = 0; i < n; i++) {
        struct sel_node *node = &s->node[k];
        if (!ops[i].chan)
            continue;
        node->w.task = t;
        node->sel = s;
        node->index = i;
        node->msg = ops[i].dir == TULIP_CHAN_SEND ? ops[i].msg : NULL;
        tulip__waitq_push(ops[i].dir == TULIP_CHAN_SEND ? &ops[i].chan->sendq
                                                        : &ops[i].chan->recvq,
                          &node->w);
        k++;
    }
    tulip__waitq_push(&s->anchor, &t->waiter);
    rc = tulip__task_suspend(t, deadline_ns);
    tulip__waitq_remove(&t->waiter); /* gone already unless -ENOMEM */
    if (rc == 0) {
        won = t->wake_value;
        rc = t->wake_code;
        if (ops[won->index].dir == TULIP_CHAN_RECV && rc == 0)
            ops[won->index].msg = won->msg;
        if (index)
            *index = won->index;
    } else if (rc == TULIP__DEADLINE) {
        rc = -ETIMEDOUT;
    }
    for (k = 0; k < count; k++)
        tulip__waitq_remove(&s->node[k].w);
    tulip__free(s, size);
    return rc;
}

int tulip_chan_select_until(struct tulip_chan_op *ops, size_t n,
                            int64_t deadline_ns, size_t *index)
{
    struct tulip_task *t = tulip__task_running();
    size_t count;
    int rc = select_check(ops, n, &count);

    if (rc)
        return rc;
    if (!t)
        return -EPERM;
    rc = tulip__task_check(t);
    if (rc)
        return rc;
    rc = select_try(ops, n, index);
    if (rc != -EAGAIN)
        return rc;
    return select_wait(t, ops, n, count, deadline_ns, index);
}

int tulip_chan_select(struct tulip_chan_op *ops, size_t n, size_t *index)
{
    return tulip_chan_select_until(ops, n, TULIP_FOREVER, index);
}
