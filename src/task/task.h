/* SPDX-License-Identifier: MIT */
/*
 * The task layer's internal interface: what futures and tasks share (wait
 * queues of suspended tasks, completion with done-callbacks), and the
 * suspension protocol every blocking call of the layers above follows.
 *
 * The protocol of a suspending call, in a task t:
 *   1. rc = tulip__task_check(t): level-triggered cancellation first; a
 *      non-zero rc is returned as is.
 *   2. the fast path, if the call need not wait;
 *   3. register the wait: tulip__waitq_push(q, t) (t's own waiter node);
 *   4. rc = tulip__task_suspend(t, deadline): 0 when woken by the object
 *      (which removed the node and left its outcome in t->wake_value and
 *      t->wake_code), or -ECANCELED / -ETIMEDOUT (the node has been removed
 *      from q) or the own deadline passing (0 with no object wake: sleep).
 * Wait-queue nodes, timers and the ready-queue entry live in the task
 * object, never on its stack, which nothing but the task itself touches.
 */
#ifndef TULIP_TASK_H
#define TULIP_TASK_H

#include "../coro/coro.h"
#include "../loop/loop.h"

/* ---- wait queues --------------------------------------------------------- */

struct tulip_task;

/* A task's place in a wait queue. Each task has one in its object; a call
 * that waits for several objects at once allocates more. */
struct tulip__waiter {
    struct tulip__waiter *prev; /* in the queue */
    struct tulip__waiter *next;
    struct tulip__waitq *queue; /* the queue it is in, or NULL */
    struct tulip_task *task;    /* who waits */
};

struct tulip__waitq {
    struct tulip__waiter *head; /* longest waiting first */
    struct tulip__waiter *tail;
};

/* Inline, as every wait and wake goes through them. */
static inline void tulip__waitq_push(struct tulip__waitq *q,
                                     struct tulip__waiter *w)
{
    w->next = NULL;
    w->prev = q->tail;
    w->queue = q;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

static inline void tulip__waitq_remove(struct tulip__waiter *w)
{
    struct tulip__waitq *q = w->queue;

    if (!q)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    w->queue = NULL;
}
static inline int tulip__waitq_empty(const struct tulip__waitq *q)
{
    return q->head == NULL;
}

/* ---- completion: the done state of futures and tasks --------------------- */

struct tulip__donecb;

struct tulip__done {
    int done;                    /* 0 pending, 1 done */
    struct tulip__waitq waiters; /* tasks suspended until done */
    struct tulip__donecb *cbs;   /* callbacks not yet scheduled, in the
                                    order added */
};

/* What a done-callback needs from the type of its object: keeping it alive
 * until the callback has run, and calling the callback with its own type. */
typedef void tulip__fn(void);
struct tulip__done_ops {
    void (*retain)(void *obj);
    void (*release)(void *obj);
    void (*call)(void *obj, tulip__fn *fn, void *arg);
};

TULIP_PRIVATE void tulip__done_init(struct tulip__done *d);
/* Add a callback (fn, arg) of obj; scheduled at once if d is done.
 * Returns 0 or -ENOMEM. */
TULIP_PRIVATE int tulip__done_add(struct tulip__done *d, tulip_loop *loop,
                                  const struct tulip__done_ops *ops, void *obj,
                                  tulip__fn *fn, void *arg);
/* Remove callbacks equal to (fn, arg) not yet scheduled; returns count. */
TULIP_PRIVATE int tulip__done_remove(struct tulip__done *d, tulip__fn *fn,
                                     const void *arg);
/* Mark done: wake every waiter with (value, code) and schedule callbacks. */
TULIP_PRIVATE void tulip__done_fire(struct tulip__done *d, tulip_loop *loop,
                                    void *value, int code);
/* At loop close: if cb is a scheduled done-callback, free it without
 * running it and return true. */
TULIP_PRIVATE bool tulip__done_discard(struct tulip__cb *cb);
/* Free callbacks never scheduled (object destroyed while pending). */
TULIP_PRIVATE void tulip__done_drop(struct tulip__done *d);

/* ---- tasks ----------------------------------------------------------------
 */

enum {
    TULIP__TASK_NEW,     /* spawned, first step not run */
    TULIP__TASK_READY,   /* in the ready queue */
    TULIP__TASK_RUNNING, /* on the CPU */
    TULIP__TASK_WAITING, /* suspended in tulip__task_suspend */
    TULIP__TASK_DONE     /* returned; stack given back */
};

/* tulip__task_suspend(): the wait's own deadline passed. */
#define TULIP__DEADLINE 1

/* Why a wait ended. */
enum {
    TULIP__WAKE_NONE,
    TULIP__WAKE_OBJECT, /* what it waited for happened */
    TULIP__WAKE_TIMER,  /* its timer fired (own or scope deadline) */
    TULIP__WAKE_CANCEL  /* it was cancelled */
};

struct tulip_group;

struct tulip_task {
    struct tulip__coro co;         /* stack and registers */
    struct tulip__cb step;         /* ready-queue entry: run a step */
    struct tulip__timer timer;     /* deadline of the current wait */
    struct tulip__waiter waiter;   /* its node in a wait queue */
    struct tulip__done done;       /* joiners and done-callbacks */
    tulip_loop *loop;              /* the loop that runs it */
    tulip_task_fn *fn;             /* body */
    void *arg;                     /* its argument */
    struct tulip__coro *resumer;   /* context that ran the current step */
    struct tulip__coro *active;    /* what a step resumes: the task's own
                                      coroutine, or a generator body it
                                      drives that suspended */
    tulip_gen *gen;                /* running generator while suspended */
    struct tulip_scope *scopes;    /* innermost scope (read by t only) */
    struct tulip_group *groups;    /* innermost open group of t */
    struct tulip_group *group;     /* group t is a child of, or NULL */
    struct tulip_task *group_prev; /* sibling links in that group */
    struct tulip_task *group_next;
    struct tulip_task *all_prev; /* in the loop's list of live tasks */
    struct tulip_task *all_next; /* (or the link of the object cache) */
    void *wake_value;            /* outcome handed over by a wake */
    struct tulip__held *held;    /* heap blocks its waits hold */
    struct tulip_task *wait_ref; /* task retained by its current join */
    unsigned long long id;       /* for the default name "Task-N", traces */
    int scope_depth;             /* number of scopes entered */
    int outer_shield_depth;      /* depth of the outermost shield, or 0 */
    int shield_depth;            /* innermost shield seen by the current
                                    wait, or 0 (cancel does not wake it) */
    int wake_code;               /* outcome handed over by a wake */
    int result;                  /* the body's return value */
    unsigned refs;               /* references; the loop's while alive */
    unsigned char state;         /* TULIP__TASK_* */
    unsigned char wake;          /* TULIP__WAKE_* of the last wait */
    unsigned char cancelled;     /* cancel requested (level) */
    unsigned char retrieved;     /* result read by someone */
    unsigned char batched;       /* the current step was started by the
                                    loop's pass, not by an eager spawn */
    unsigned ctx : 24;           /* its context: an entry of the loop's
                                    table (context.c); 0: empty. In the
                                    padding: the object has no room left */
};

/* The object lives at the top of the task's stack (task.c), and a sleeping
 * task's frames just below it: keep it within six cache lines, so that both
 * fit the stack's top page (1M sleeping tasks at about 4 KiB each). */
#if !TULIP_HAVE_ASAN && !TULIP_HAVE_TSAN
_Static_assert(sizeof(struct tulip_task) <= 384,
               "struct tulip_task outgrew its six cache lines");
#endif

/* The task layer's per-loop state (in the loop's upper slot). */
struct tulip__agen;

struct tulip__tasks {
    struct tulip_task *all; /* unfinished tasks */
    size_t count;
    unsigned long long next_id;
    struct tulip__agen *agens;          /* generators first resumed in a task */
    void *io;                           /* the I/O layer's per-loop state */
    void (*io_close)(tulip_loop *loop); /* frees it at loop close */
    struct tulip_task *until; /* task of tulip_loop_run_until(), or NULL */
    void *contexts;           /* the task contexts (context.c), or NULL */
};

/* Generators registered for tulip_shutdown_gens() (agen.c). */
TULIP_PRIVATE void tulip__agen_init(void);
TULIP_PRIVATE void tulip__agen_close_loop(struct tulip__tasks *ts);

/* Task-local storage (context.c). Until a context variable is first set,
 * tulip__context_active() is false and tasks have the empty context. */
static inline bool tulip__context_active(void)
{
    return tulip__cbwrap_get() != NULL;
}
/* t->ctx: a copy of the current context for t, spawned into loop (0 if
 * empty). Returns 0 or -ENOMEM. */
TULIP_PRIVATE int tulip__context_inherit(struct tulip_task *t,
                                         tulip_loop *loop);
/* t will not run again: give its context back (t->ctx != 0). */
TULIP_PRIVATE void tulip__context_task_done(struct tulip_task *t);
TULIP_PRIVATE void tulip__context_loop_close(struct tulip__tasks *ts);
/* Done-callbacks (done.c): *ctx, a copy of the current context to run one
 * in (NULL if empty); 0 or -ENOMEM. Enter makes ctx current and returns
 * what leave restores; release gives the copy back. */
TULIP_PRIVATE int tulip__context_capture(void **ctx);
TULIP_PRIVATE void *tulip__context_enter(void *ctx);
TULIP_PRIVATE void tulip__context_leave(void *prev);
TULIP_PRIVATE void tulip__context_release(void *ctx);

TULIP_PRIVATE struct tulip__tasks *tulip__tasks_of(tulip_loop *loop);
/* The task whose step is running on this thread (task.c), read inline:
 * every suspending call asks. */
TULIP_PRIVATE extern TULIP_TLS struct tulip_task *tulip__task_cur;

static inline struct tulip_task *tulip__task_running(void)
{
    /* Whatever runs during a task's step runs for the task: its own body,
     * or the body of a generator it drives, which may then suspend the
     * task (an async generator). */
    return tulip__task_cur;
}

TULIP_PRIVATE int tulip__scope_check(struct tulip_task *t);

/* The stress build's yield of the turn at every suspension point, before
 * its fast path, so that the suite meets the interleavings a real wait
 * would make there; as sleep(0), when t is the running task and
 * TULIP_STRESS_YIELD=1 (config.h). */
TULIP_PRIVATE void tulip__task_stress_yield(struct tulip_task *t);

/* What a suspending call of t returns before it waits: -ECANCELED,
 * -ETIMEDOUT or 0. Every suspending call starts here, so the common case
 * (no scope entered) is answered inline, without the walk in scope.c. */
static inline int tulip__task_check(struct tulip_task *t)
{
    if (TULIP_STRESS)
        tulip__task_stress_yield(t);
    if (tulip__likely(t->scopes == NULL))
        return t->cancelled ? -ECANCELED : 0;
    return tulip__scope_check(t);
}
TULIP_PRIVATE int tulip__task_suspend(struct tulip_task *t,
                                      int64_t deadline_ns);
TULIP_PRIVATE void tulip__task_wake(struct tulip_task *t, int why);
TULIP_PRIVATE void tulip__task_wake_waiter(struct tulip__waiter *w, void *value,
                                           int code);
TULIP_PRIVATE int64_t tulip__scope_deadline(struct tulip_task *t,
                                            int *shield_depth);
/* What a suspending call of t would return now: 0, -ECANCELED or
 * -ETIMEDOUT (tulip__scope_check), or the same from scope `from` outwards. */
TULIP_PRIVATE int tulip__scope_check_from(struct tulip_task *t,
                                          struct tulip_scope *from);

/* Heap memory that a wait on several objects holds across suspensions
 * (waiter nodes queued in other tasks, as_completed's state), linked into
 * its task so that a task destroyed at loop close, its stack abandoned,
 * still gives it back. The caller's block follows the header. */
struct tulip__held {
    struct tulip__held *next;   /* in the task's list */
    struct tulip__held **pprev; /* the link that points here */
    size_t bytes;               /* the whole block, header included */
    size_t n;                   /* waiter nodes at the start of the block */
};

/* A zeroed block of n waiter nodes followed by extra bytes, held by t;
 * NULL if out of memory. */
TULIP_PRIVATE void *tulip__task_hold(struct tulip_task *t, size_t n,
                                     size_t extra);
/* Take the block's nodes out of their queues and free it (NULL: no-op). */
TULIP_PRIVATE void tulip__task_unhold(void *block);

/* Spawn, as a child of group g if not NULL (tulip_spawn_ex otherwise). */
TULIP_PRIVATE int tulip__task_spawn(tulip_task **out, tulip_loop *loop,
                                    tulip_task_fn *fn, void *arg,
                                    const struct tulip_task_opts *opts,
                                    struct tulip_group *g);
TULIP_PRIVATE void tulip__group_link(struct tulip_group *g,
                                     struct tulip_task *child);
TULIP_PRIVATE void tulip__group_parent_cancelled(struct tulip_task *t);
TULIP_PRIVATE void tulip__group_child_done(struct tulip_task *t);
/* Free the groups t has open (t is destroyed at loop close). */
TULIP_PRIVATE void tulip__group_destroy_all(struct tulip_task *t);

/* tulip_run()'s Ctrl-C behaviour, implemented by the I/O layer (signal.c)
 * that owns the signals; declared here so that run.c includes no I/O
 * header. begin: while the run lasts, the first SIGINT cancels main_task
 * and the second kills the process (only on the main thread, with SIGINT's
 * default disposition in place). end: undo it; true if a SIGINT came. */
TULIP_PRIVATE void tulip__signal_run_begin(tulip_loop *loop,
                                           struct tulip_task *main_task);
TULIP_PRIVATE bool tulip__signal_run_end(tulip_loop *loop);

/* deadline_ns = now + delay_ns, saturating at TULIP_FOREVER - 1. */
static inline int64_t tulip__deadline_after(int64_t now, int64_t delay_ns)
{
    if (delay_ns <= 0)
        return now;
    if (delay_ns >= TULIP_FOREVER - 1 - now)
        return TULIP_FOREVER - 1;
    return now + delay_ns;
}

#endif /* TULIP_TASK_H */
