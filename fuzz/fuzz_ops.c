// SPDX-License-Identifier: MIT
/*
 * fuzz_ops: a deterministic operation-sequence fuzzer for the task layer and
 * the sync primitives. The input bytes are a program for a little
 * interpreter that every task runs: each task, when it runs, reads its next
 * operation from the one shared input (scheduling is deterministic, so the
 * same bytes always give the same run). Operations spawn and cancel tasks,
 * sleep for fuzzed durations, enter and exit scopes with deadlines and
 * shields, hold Locks and a Semaphore, put and get on bounded Queues, send
 * and receive on Channels (with and without deadlines), open task groups,
 * gather, wait and wait_for. The loop runs on the virtual clock (no real
 * time, no threads); at a far virtual "horizon" a callback drains and shuts
 * down every queue and channel and cancels every task, so that every run
 * ends. Then the invariants are checked, and a violation abort()s:
 *   - no task lost: each finishes, its done-callback runs exactly once, each
 *     body that started returned, tulip_loop_close() returns 0;
 *   - every blocking call returned (in-flight count back to 0) with a code
 *     its documentation allows;
 *   - level-triggered cancellation: a call made by a task whose cancel was
 *     requested, outside shields, returns -ECANCELED; a call under a scope
 *     whose deadline has passed returns -ETIMEDOUT; -ECANCELED only ever
 *     reaches a cancelled task, -ETIMEDOUT only after a deadline, a sleep
 *     that returns 0 slept its time;
 *   - no permit leaked: locks have one owner at a time and are unlocked at
 *     the end, the semaphore's value is restored;
 *   - every item put in a queue or sent on a channel is received at most
 *     once, never when the put failed, and exactly once unless the queue
 *     was shut down with immediate=true;
 *   - no memory leaked (bytes counted through tulip_set_allocator()) and
 *     every coroutine stack given back (tulip_stack_stats().in_use).
 * OSS-Fuzz shaped: only LLVMFuzzerTestOneInput; fuzz/replay.c drives it
 * over the checked-in corpus in the ordinary build.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tulip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TASKS 48
#define MAX_SCOPES 4
#define N_LOCKS 2
#define N_QUEUES 2
#define N_CHANS 2
#define SEM_PERMITS 2
#define MAX_ITEMS 512
#define HORIZON_NS (100000 * TULIP_SEC)

/* Item states, as bits: a put/send that returned 0 or failed, a get/recv. */
#define IT_PUT_OK 1u
#define IT_PUT_FAIL 2u
#define IT_GOT 4u

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_ops: invariant failed at line %d: %s\n",     \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

struct rec {
    tulip_task *t; /* our reference */
    int done_cbs;  /* done-callbacks run */
    bool entered;  /* the body started */
    bool returned; /* the body returned */
    bool in_group; /* spawned into a group (its failure cancels others) */
};

struct fscope {
    struct tulip_scope s; /* the library's scope */
    int64_t deadline_ns;  /* its deadline */
    bool shield;          /* TULIP_SCOPE_SHIELD */
};

static struct {
    const uint8_t *p; /* the program */
    size_t n;         /* its length */
    size_t off;       /* next byte to read */
    tulip_loop *loop;
    struct rec tasks[MAX_TASKS];
    int ntasks;
    tulip_lock *locks[N_LOCKS];
    tulip_task *owner[N_LOCKS]; /* who holds each lock, per our record */
    tulip_sem *sem;
    int sem_held;
    tulip_queue *q[N_QUEUES];
    bool q_dropped[N_QUEUES]; /* shut down with immediate=true */
    tulip_chan *ch[N_CHANS];
    bool ch_send_closed[N_CHANS];
    tulip_event *ev;
    long ev_sets;               /* times the event was set */
    uint8_t item[MAX_ITEMS];    /* IT_* bits */
    int8_t item_obj[MAX_ITEMS]; /* queue index, or N_QUEUES + channel */
    int nitems;
    long inflight; /* blocking calls started and not returned */
    bool torn_down;
} F;

static size_t live_bytes;

static void *count_alloc(void *ud, void *ptr, size_t old_size, size_t n)
{
    (void)ud;
    if (ptr)
        live_bytes -= old_size;
    if (n == 0) {
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, n);
    if (p)
        live_bytes += n;
    else if (ptr)
        live_bytes += old_size;
    return p;
}

static void quiet_errors(tulip_loop *loop, const struct tulip_error_context *c,
                         void *ud)
{
    (void)loop;
    (void)c;
    (void)ud;
}

/* The next byte of the program, or -1 once it is exhausted. */
static int next(void)
{
    return F.off < F.n ? F.p[F.off++] : -1;
}

static int arg8(void)
{
    int b = next();
    return b < 0 ? 0 : b;
}

/* The current task's forced outcome for a suspending call made now:
 * -ECANCELED if it is cancelled outside any shield, -ETIMEDOUT if a scope
 * deadline up to the innermost shield has passed, 0 if the call may do
 * anything. *unsure is set when a deadline equals the time (either way is
 * fine) or the task sits in a group body (a failing child cancels it
 * without tulip_task_cancel()). */
static int forced(const struct fscope *sc, int depth, bool *unsure)
{
    int64_t now = tulip_now();
    bool timed = false, hidden = false;
    for (int i = depth - 1; i >= 0; i--) {
        if (sc[i].deadline_ns < now)
            timed = true;
        else if (sc[i].deadline_ns == now)
            *unsure = true;
        if (sc[i].shield) {
            hidden = true;
            break;
        }
    }
    if (!hidden && tulip_task_cancelling(tulip_task_current()))
        return -ECANCELED;
    return timed ? -ETIMEDOUT : 0;
}

/* Whether a deadline that applies to the current call has passed. */
static bool some_deadline_passed(const struct fscope *sc, int depth,
                                 int64_t own_ns)
{
    int64_t now = tulip_now();
    if (own_ns <= now)
        return true;
    for (int i = depth - 1; i >= 0; i--)
        if (sc[i].deadline_ns <= now)
            return true;
    return false;
}

struct call {
    int want;       /* forced outcome, or 0 */
    bool unsure;    /* the forced outcome may not hold exactly */
    int64_t own_ns; /* the call's own deadline, or TULIP_FOREVER */
    int64_t start;  /* the time it began */
    bool at_end;    /* sleep(0): checks after its yield, not before */
};

static void call_begin(struct call *c, const struct fscope *sc, int depth,
                       bool in_group_body, int64_t own_ns)
{
    c->unsure = in_group_body;
    c->want = forced(sc, depth, &c->unsure);
    c->own_ns = own_ns;
    c->start = tulip_now();
    c->at_end = false;
    F.inflight++;
}

/* Check the generic part of a suspending call's outcome. */
static void call_end(const struct call *c, const struct fscope *sc, int depth,
                     int rc)
{
    F.inflight--;
    struct call e = *c;
    if (c->at_end) {
        /* tulip_sleep(0) yields the turn even when cancelled (so that a
         * loop on it cannot starve the loop), then checks: what holds is
         * the state when it returns (a cancel that came meanwhile wins). */
        e.want = forced(sc, depth, &e.unsure);
        c = &e;
    }
    if (c->want && !c->unsure)
        CHECK(rc == c->want);
    if (rc == -ECANCELED && !c->unsure)
        CHECK(tulip_task_cancelling(tulip_task_current()));
    if (rc == -ETIMEDOUT)
        CHECK(some_deadline_passed(sc, depth, c->own_ns));
}

static int64_t fuzz_delay(void)
{
    int b = arg8();
    return b < 16 ? 0 : (int64_t)(b - 16) * TULIP_MSEC;
}

/* A deadline of the call's own: none, or some milliseconds from now. */
static int64_t own_deadline(int b)
{
    return (b & 1) ? tulip_now() + (int64_t)(b >> 1) * TULIP_MSEC
                   : TULIP_FOREVER;
}

static int new_item(int obj)
{
    if (F.nitems >= MAX_ITEMS)
        return 0;
    int id = ++F.nitems; /* 1-based: 0 is never an item */
    if (id >= MAX_ITEMS)
        return 0;
    F.item_obj[id] = (int8_t)obj;
    return id;
}

static void got_item(void *v, int obj)
{
    intptr_t id = (intptr_t)v;
    CHECK(id > 0 && id < MAX_ITEMS && id <= F.nitems);
    CHECK(F.item_obj[id] == obj);
    CHECK(!(F.item[id] & IT_GOT));
    F.item[id] |= IT_GOT;
}

static void put_done(int id, int rc)
{
    CHECK(!(F.item[id] & (IT_PUT_OK | IT_PUT_FAIL)));
    F.item[id] |= rc == 0 ? IT_PUT_OK : IT_PUT_FAIL;
}

static bool is_wait_err(int rc)
{
    return rc == -ECANCELED || rc == -ETIMEDOUT;
}

static int body(void *arg);

static void on_done(tulip_task *t, void *arg)
{
    struct rec *r = arg;
    CHECK(r->t == t);
    CHECK(tulip_task_done(t));
    r->done_cbs++;
}

/* Spawn an interpreter task, into group g if not NULL. */
static void spawn_one(tulip_group *g, bool eager)
{
    if (F.ntasks >= MAX_TASKS)
        return;
    /* The slot is taken first: an eager child runs (and may spawn) before
     * the spawn returns; its body records its own task pointer. */
    struct rec *r = &F.tasks[F.ntasks++];
    struct tulip_task_opts o = {.eager = eager};
    tulip_task *t = NULL;
    int rc = g ? tulip_group_spawn(g, body, r, &o, &t)
               : tulip_spawn_ex(&t, F.loop, body, r, &o);
    if (g)
        CHECK(rc == 0 || rc == -ECANCELED || rc == -EPIPE);
    else
        CHECK(rc == 0);
    if (rc < 0) {
        CHECK(!r->entered && r == &F.tasks[F.ntasks - 1]);
        F.ntasks--;
        return;
    }
    CHECK(r->t == NULL || r->t == t);
    r->t = t;
    r->in_group = g != NULL;
    CHECK(tulip_task_add_done_callback(t, on_done, r) == 0);
}

/* A task index above self (waits only go up: no cycles of waits). */
static int later_task(int self)
{
    int b = arg8();
    if (self + 1 >= F.ntasks)
        return -1;
    return self + 1 + b % (F.ntasks - self - 1);
}

static void cancel_cb(void *arg)
{
    struct rec *r = arg;
    int rc = tulip_task_cancel(r->t);
    CHECK(rc == 0 || (rc == -EALREADY && tulip_task_done(r->t)));
}

static void op_lock(const struct fscope *sc, int depth, bool gb)
{
    int i = arg8(), b = arg8();
    int64_t hold = fuzz_delay();
    tulip_lock *l = F.locks[i % N_LOCKS];
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_lock_acquire_until(l, c.own_ns);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || is_wait_err(rc));
    if (rc < 0)
        return;
    CHECK(F.owner[i % N_LOCKS] == NULL);
    CHECK(tulip_lock_locked(l));
    F.owner[i % N_LOCKS] = tulip_task_current();
    call_begin(&c, sc, depth, gb, TULIP_FOREVER);
    c.at_end = hold == 0;
    rc = tulip_sleep(hold);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || is_wait_err(rc));
    F.owner[i % N_LOCKS] = NULL;
    CHECK(tulip_lock_release(l) == 0);
}

static void op_sem(const struct fscope *sc, int depth, bool gb)
{
    int b = arg8();
    int64_t hold = fuzz_delay();
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_sem_acquire_until(F.sem, c.own_ns);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || is_wait_err(rc));
    if (rc < 0)
        return;
    CHECK(++F.sem_held <= SEM_PERMITS);
    /* below, when a release handed a permit to a waiter not yet resumed */
    CHECK(tulip_sem_value(F.sem) <= SEM_PERMITS - F.sem_held);
    call_begin(&c, sc, depth, gb, TULIP_FOREVER);
    c.at_end = hold == 0;
    rc = tulip_sleep(hold);
    call_end(&c, sc, depth, rc);
    F.sem_held--;
    CHECK(tulip_sem_release(F.sem) == 0);
}

static void op_put(const struct fscope *sc, int depth, bool gb)
{
    int qi = arg8() % N_QUEUES, b = arg8();
    int id = new_item(qi);
    if (!id)
        return;
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_queue_put_until(F.q[qi], (void *)(intptr_t)id, c.own_ns);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || rc == TULIP_ESHUTDOWN || is_wait_err(rc));
    put_done(id, rc);
}

static void op_get(const struct fscope *sc, int depth, bool gb)
{
    int qi = arg8() % N_QUEUES, b = arg8();
    void *v = (void *)1;
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_queue_get_until(F.q[qi], &v, c.own_ns);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || rc == TULIP_ESHUTDOWN || is_wait_err(rc));
    if (rc == 0)
        got_item(v, qi);
    else
        CHECK(v == NULL);
}

static void op_send(const struct fscope *sc, int depth, bool gb)
{
    int ci = arg8() % N_CHANS, b = arg8();
    int id = new_item(N_QUEUES + ci);
    if (!id)
        return;
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_chan_send_until(F.ch[ci], (void *)(intptr_t)id, c.own_ns);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || rc == TULIP_ECLOSED || rc == -EPIPE || is_wait_err(rc));
    put_done(id, rc);
}

static void op_recv(const struct fscope *sc, int depth, bool gb)
{
    int ci = arg8() % N_CHANS, b = arg8();
    void *v = (void *)1;
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_chan_recv_until(F.ch[ci], &v, c.own_ns);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || rc == TULIP_EOF || rc == TULIP_ECLOSED || is_wait_err(rc));
    if (rc == 0)
        got_item(v, N_QUEUES + ci);
}

/* A select over a send on one channel and a receive on the other: exactly
 * one of them completes, or none. */
static void op_select(const struct fscope *sc, int depth, bool gb, int b)
{
    int d = arg8();
    int cs = b % N_CHANS, cr = (b >> 1) % N_CHANS;
    int id = new_item(N_QUEUES + cs);
    if (!id)
        return;
    struct tulip_chan_op ops[2] = {
        {.chan = F.ch[cs], .dir = TULIP_CHAN_SEND, .msg = (void *)(intptr_t)id},
        {.chan = F.ch[cr], .dir = TULIP_CHAN_RECV},
    };
    size_t index = 99;
    struct call c;
    if (b & 4) { /* the receive first */
        struct tulip_chan_op t = ops[0];
        ops[0] = ops[1];
        ops[1] = t;
    }
    call_begin(&c, sc, depth, gb, own_deadline(d));
    int rc = tulip_chan_select_until(ops, 2, c.own_ns, &index);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || rc == TULIP_EOF || rc == TULIP_ECLOSED || rc == -EPIPE ||
          is_wait_err(rc));
    if (rc == 0 || (rc != -ECANCELED && rc != -ETIMEDOUT))
        CHECK(index < 2);
    bool sent = rc == 0 && ops[index].dir == TULIP_CHAN_SEND;
    put_done(id, sent ? 0 : -1);
    if (rc == 0 && ops[index].dir == TULIP_CHAN_RECV)
        got_item(ops[index].msg, N_QUEUES + cr);
}

static void op_event(const struct fscope *sc, int depth, bool gb, int op, int b)
{
    if (op & 64) {
        if (b & 1) {
            F.ev_sets++;
            CHECK(tulip_event_set(F.ev) == 0 && tulip_event_is_set(F.ev));
        } else if (!F.torn_down) {
            /* after the teardown set it, a clear could strand a waiter */
            CHECK(tulip_event_clear(F.ev) == 0 && !tulip_event_is_set(F.ev));
        }
        return;
    }
    long sets = F.ev_sets;
    bool was_set = tulip_event_is_set(F.ev);
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_event_wait_until(F.ev, c.own_ns);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || is_wait_err(rc));
    if (rc == 0)
        CHECK(was_set || F.ev_sets > sets); /* woken by a set, only */
}

static void op_group(int self, const struct fscope *sc, int depth)
{
    int k = 1 + arg8() % 3, b = arg8();
    tulip_group *g;
    struct call c;
    CHECK(tulip_group_new(&g) == 0);
    for (int i = 0; i < k; i++)
        spawn_one(g, b & (1 << i));
    if (b & 8) {
        int64_t d = fuzz_delay();
        call_begin(&c, sc, depth, true, TULIP_FOREVER);
        c.at_end = d == 0;
        int rc = tulip_sleep(d);
        call_end(&c, sc, depth, rc);
        CHECK(rc == 0 || is_wait_err(rc));
    }
    if (b & 16) {
        CHECK(tulip_group_cancel(g) == 0);
    }
    F.inflight++;
    int rc = tulip_group_wait(g);
    F.inflight--;
    CHECK(rc == 0 || rc == -EIO || is_wait_err(rc));
    (void)self;
}

static void op_gather(int self, const struct fscope *sc, int depth, bool gb)
{
    int n = 1 + arg8() % 3, flags = arg8();
    tulip_task *ts[3];
    int res[3];
    bool done[3];
    struct call c;
    for (int i = 0; i < n; i++) {
        int j = later_task(self);
        if (j < 0)
            return;
        ts[i] = F.tasks[j].t;
    }
    call_begin(&c, sc, depth, gb, TULIP_FOREVER);
    int rc;
    switch (flags % 4) {
    case 0:
        rc = tulip_gather(ts, (size_t)n, res, 0);
        CHECK(rc == 0 || rc == -EIO || is_wait_err(rc));
        break;
    case 1:
        rc = tulip_gather(ts, (size_t)n, res, TULIP_RETURN_ERRORS);
        CHECK(rc == 0 || is_wait_err(rc));
        break;
    case 2: {
        int64_t to =
            (flags & 4) ? TULIP_FOREVER : (int64_t)(flags >> 3) * TULIP_MSEC;
        rc = tulip_wait(ts, (size_t)n, (enum tulip_wait_mode)((flags >> 3) % 3),
                        to, done);
        if (rc >= 0) {
            for (int i = 0; i < n; i++)
                CHECK(done[i] == tulip_task_done(ts[i]));
            CHECK(rc <= n);
            rc = 0;
        } else {
            CHECK(is_wait_err(rc));
        }
        break;
    }
    default: {
        int r = 0;
        rc = tulip_wait_for(ts[0], (int64_t)(flags >> 2) * TULIP_MSEC, &r);
        if (rc == 0 || rc == -ETIMEDOUT)
            CHECK(tulip_task_done(ts[0]));
        /* wait_for's own timeout is not a scope deadline: don't check it */
        if (rc == -ETIMEDOUT && c.want != -ETIMEDOUT)
            rc = 0;
        CHECK(rc == 0 || is_wait_err(rc));
        break;
    }
    }
    /* gather's -ECANCELED may be a child's result, not the caller's */
    call_end(&c, sc, depth, rc == -ECANCELED && !c.want ? 0 : rc);
}

static void op_join(int self, const struct fscope *sc, int depth, bool gb)
{
    int j = later_task(self), b = arg8();
    if (j < 0)
        return;
    int r = 1;
    struct call c;
    call_begin(&c, sc, depth, gb, own_deadline(b));
    int rc = tulip_task_join_until(F.tasks[j].t, c.own_ns, &r);
    call_end(&c, sc, depth, rc);
    CHECK(rc == 0 || is_wait_err(rc));
    if (rc == 0)
        CHECK(tulip_task_done(F.tasks[j].t));
}

/* The interpreter: every task runs it over the shared program. */
static int body(void *arg)
{
    struct rec *r = arg;
    int self = (int)(r - F.tasks);
    struct fscope sc[MAX_SCOPES];
    int depth = 0, ret = 0, b;
    struct call c;
    r->entered = true;
    if (!r->t)
        r->t = tulip_task_current(); /* eager: before the spawn returned */
    for (bool stop = false; !stop;) {
        int op = next();
        if (op < 0)
            break;
        switch (op & 15) {
        case 0:
            spawn_one(NULL, op & 16);
            break;
        case 1: {
            b = arg8();
            struct rec *v = &F.tasks[b % F.ntasks];
            int rc = tulip_task_cancel(v->t);
            CHECK(rc == 0 || (rc == -EALREADY && tulip_task_done(v->t)));
            CHECK(rc == -EALREADY || tulip_task_cancelling(v->t));
            break;
        }
        case 2: {
            int64_t d = fuzz_delay();
            call_begin(&c, sc, depth, false, TULIP_FOREVER);
            c.at_end = d == 0;
            int rc = tulip_sleep(d);
            call_end(&c, sc, depth, rc);
            CHECK(rc == 0 || is_wait_err(rc));
            if (rc == 0)
                CHECK(tulip_now() >= c.start + d);
            break;
        }
        case 3:
            b = arg8();
            if (depth == MAX_SCOPES)
                break;
            sc[depth].deadline_ns =
                (b >> 1) == 127 ? TULIP_FOREVER
                                : tulip_now() + (int64_t)(b >> 1) * TULIP_MSEC;
            sc[depth].shield = b & 1;
            CHECK(tulip_scope_enter(&sc[depth].s, sc[depth].deadline_ns,
                                    (b & 1) ? TULIP_SCOPE_SHIELD : 0) == 0);
            depth++;
            break;
        case 4:
            if (depth == 0)
                break;
            depth--;
            b = tulip_scope_exit(&sc[depth].s);
            CHECK(b == 0 || b == -ETIMEDOUT);
            if (b == -ETIMEDOUT)
                CHECK(tulip_now() >= sc[depth].deadline_ns);
            break;
        case 5:
            op_lock(sc, depth, false);
            break;
        case 6:
            op_sem(sc, depth, false);
            break;
        case 7:
            op_put(sc, depth, false);
            break;
        case 8:
            op_get(sc, depth, false);
            break;
        case 9:
            op_send(sc, depth, false);
            break;
        case 10:
            op_recv(sc, depth, false);
            break;
        case 11:
            op_group(self, sc, depth);
            break;
        case 12:
            op_gather(self, sc, depth, false);
            break;
        case 13:
            op_join(self, sc, depth, false);
            break;
        case 14: {
            b = arg8();
            struct rec *v = &F.tasks[b % F.ntasks];
            CHECK(tulip_call_later(F.loop, fuzz_delay(), cancel_cb, v, NULL) ==
                  0);
            break;
        }
        default:
            b = arg8();
            if (op & 16) {
                int qi = b % N_QUEUES;
                F.q_dropped[qi] |= (b & 2) != 0;
                CHECK(tulip_queue_shutdown(F.q[qi], b & 2) == 0);
            } else if (op & 128) {
                op_event(sc, depth, false, op, b);
            } else if (op & 64) {
                op_select(sc, depth, false, b);
            } else if (op & 32) {
                int ci = b % N_CHANS;
                if (!F.ch_send_closed[ci]) {
                    F.ch_send_closed[ci] = true;
                    CHECK(tulip_chan_close(F.ch[ci], TULIP_CHAN_SEND) == 0);
                }
            } else {
                ret = (b & 1) ? -EIO : 0;
                stop = true;
            }
            break;
        }
    }
    while (depth > 0) {
        depth--;
        b = tulip_scope_exit(&sc[depth].s);
        CHECK(b == 0 || b == -ETIMEDOUT);
    }
    r->returned = true;
    return ret;
}

/* At the horizon: drain what is left, close everything, cancel everyone. */
static void teardown(void *arg)
{
    (void)arg;
    void *v;
    F.torn_down = true;
    for (int i = 0; i < N_QUEUES; i++) {
        while (tulip_queue_try_get(F.q[i], &v) == 0)
            got_item(v, i);
        CHECK(tulip_queue_shutdown(F.q[i], true) == 0);
    }
    for (int i = 0; i < N_CHANS; i++) {
        while (tulip_chan_try_recv(F.ch[i], &v) == 0)
            got_item(v, N_QUEUES + i);
        if (!F.ch_send_closed[i]) {
            F.ch_send_closed[i] = true;
            CHECK(tulip_chan_close(F.ch[i], TULIP_CHAN_SEND) == 0);
        }
        CHECK(tulip_chan_close(F.ch[i], TULIP_CHAN_RECV) == 0);
    }
    F.ev_sets++;
    CHECK(tulip_event_set(F.ev) == 0);
    for (int i = 0; i < F.ntasks; i++)
        if (!tulip_task_done(F.tasks[i].t))
            CHECK(tulip_task_cancel(F.tasks[i].t) == 0);
}

static void run(const uint8_t *data, size_t size)
{
    struct tulip_stack_stats st;
    struct tulip_loop_opts lo = {.virtual_clock = true};

    memset(&F, 0, sizeof(F));
    F.p = data;
    F.n = size;
    CHECK(tulip_loop_new(&F.loop, &lo) == 0);
    CHECK(tulip_loop_set_error_handler(F.loop, quiet_errors, NULL) == 0);
    for (int i = 0; i < N_LOCKS; i++)
        CHECK(tulip_lock_new(&F.locks[i]) == 0);
    CHECK(tulip_sem_new_bounded(&F.sem, SEM_PERMITS) == 0);
    CHECK(tulip_event_new(&F.ev) == 0);
    for (int i = 0; i < N_QUEUES; i++) {
        struct tulip_queue_opts qo = {.kind = (enum tulip_queue_kind)i,
                                      .maxsize = (size_t)(i + 1)};
        CHECK(tulip_queue_new(&F.q[i], &qo) == 0);
    }
    for (int i = 0; i < N_CHANS; i++)
        CHECK(tulip_chan_new(&F.ch[i], (size_t)i) == 0); /* 0: rendezvous */
    CHECK(tulip_call_at(F.loop, HORIZON_NS, teardown, NULL, NULL) == 0);
    spawn_one(NULL, false);

    /* A step budget: the program is finite, so is the run. */
    long budget = 20000 + 200 * (long)size, passes = 0;
    int rc;
    while ((rc = tulip_loop_run_once(F.loop)) == 1)
        CHECK(++passes < budget);
    CHECK(rc == 0);
    CHECK(F.torn_down);

    /* No task lost, every call returned. */
    CHECK(F.inflight == 0);
    for (int i = 0; i < F.ntasks; i++) {
        struct rec *r = &F.tasks[i];
        CHECK(tulip_task_done(r->t));
        CHECK(r->done_cbs == 1);
        CHECK(r->entered == r->returned);
        tulip_task_release(r->t);
    }
    /* No permit leaked. */
    for (int i = 0; i < N_LOCKS; i++) {
        CHECK(!tulip_lock_locked(F.locks[i]) && F.owner[i] == NULL);
        tulip_lock_free(F.locks[i]);
    }
    CHECK(F.sem_held == 0 && tulip_sem_value(F.sem) == SEM_PERMITS);
    tulip_sem_free(F.sem);
    tulip_event_free(F.ev);
    /* Every item delivered once if put, never if not. */
    for (int id = 1; id <= F.nitems && id < MAX_ITEMS; id++) {
        unsigned s = F.item[id];
        int obj = F.item_obj[id];
        CHECK((s & (IT_PUT_OK | IT_PUT_FAIL)) != 0);
        if (s & IT_PUT_FAIL)
            CHECK(!(s & IT_GOT));
        else if (!(obj < N_QUEUES && F.q_dropped[obj]))
            CHECK(s & IT_GOT);
    }
    for (int i = 0; i < N_QUEUES; i++)
        tulip_queue_free(F.q[i]);
    for (int i = 0; i < N_CHANS; i++)
        tulip_chan_free(F.ch[i]);
    int64_t end_ns = tulip_loop_time_ns(F.loop);
    CHECK(tulip_loop_close(F.loop) == 0);
    tulip_stack_trim();
    tulip_stack_stats(&st);
    CHECK(st.in_use == 0);
    if (getenv("FUZZ_OPS_DEBUG"))
        fprintf(stderr, "tasks %d items %d passes %ld time %lld ms\n", F.ntasks,
                F.nitems, passes, (long long)(end_ns / TULIP_MSEC));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t base;
    static bool warm;
    if (!warm) {
        /* The first loop of a thread leaves per-thread state behind for
         * good (about 1.4 KiB): measure from after a first empty run. */
        tulip_set_allocator(count_alloc, NULL);
        run(NULL, 0);
        base = live_bytes;
        warm = true;
    }
    if (size > 4096)
        return 0;
    run(data, size);
    CHECK(live_bytes == base);
    return 0;
}
